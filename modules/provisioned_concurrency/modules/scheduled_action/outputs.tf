output "name" {
  description = "Name of the scheduled action."
  value       = aws_appautoscaling_scheduled_action.this.name
}
