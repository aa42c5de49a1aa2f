output "alias_name" {
  description = "Alias that carries the provisioned concurrency."
  value       = var.alias_name
}

output "autoscaling_enabled" {
  description = "Whether Application Auto Scaling owns the provisioned concurrency."
  value       = local.autoscaling_enabled
}

output "scalable_target_resource_id" {
  description = "Application Auto Scaling resource id (function:NAME:ALIAS), or null without autoscaling."
  value       = try(aws_appautoscaling_target.this[0].resource_id, null)
}

output "target_tracking_policy_arn" {
  description = "ARN of the target-tracking policy, or null."
  value       = try(aws_appautoscaling_policy.utilization[0].arn, null)
}

output "scheduled_action_names" {
  description = "Names of the scheduled actions."
  value       = local.schedule_names
}

output "terraform_owns_bounds" {
  description = "Whether Terraform keeps the scalable target's min and max capacity at autoscaling's range (no schedules), or the scheduled actions own them."
  value       = local.autoscaling_enabled && length(var.schedules) == 0
}
