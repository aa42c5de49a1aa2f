# One scheduled action on the scalable target. The parent module calls this once per
# schedule, each call after the previous one, so no two PutScheduledAction calls on the
# same target run at once (Application Auto Scaling answers ConcurrentUpdateException).
resource "aws_appautoscaling_scheduled_action" "this" {
  name               = var.name
  service_namespace  = var.target.service_namespace
  resource_id        = var.target.resource_id
  scalable_dimension = var.target.scalable_dimension
  schedule           = var.schedule.schedule
  timezone           = var.schedule.timezone
  start_time         = var.schedule.start_time
  end_time           = var.schedule.end_time

  scalable_target_action {
    min_capacity = var.schedule.min_capacity
    max_capacity = var.schedule.max_capacity
  }
}
