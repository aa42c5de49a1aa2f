locals {
  autoscaling_enabled = var.autoscaling != null
  resource_id         = "function:${var.function_name}:${var.alias_name}"
  scalable_dimension  = "lambda:function:ProvisionedConcurrency"
}

# Fixed provisioned concurrency, owned by Terraform (no autoscaling).
resource "aws_lambda_provisioned_concurrency_config" "fixed" {
  count = local.autoscaling_enabled ? 0 : 1

  function_name                     = var.function_name
  qualifier                         = var.alias_name
  provisioned_concurrent_executions = var.provisioned_concurrent_executions

  lifecycle {
    precondition {
      condition     = var.target_tracking == null && length(var.schedules) == 0
      error_message = "target_tracking and schedules need autoscaling = { min_capacity, max_capacity }: without it provisioned concurrency is fixed."
    }
  }
}

# With autoscaling, Terraform creates the configuration once (so the alias is warm from
# the first apply, before any schedule fires) and then leaves the value to Application
# Auto Scaling: without ignore_changes every apply would reset what the schedules and
# target tracking set.
resource "aws_lambda_provisioned_concurrency_config" "autoscaled" {
  count = local.autoscaling_enabled ? 1 : 0

  function_name                     = var.function_name
  qualifier                         = var.alias_name
  provisioned_concurrent_executions = var.provisioned_concurrent_executions

  lifecycle {
    ignore_changes = [provisioned_concurrent_executions]

    precondition {
      condition     = var.provisioned_concurrent_executions >= try(var.autoscaling.min_capacity, 1) && var.provisioned_concurrent_executions <= try(var.autoscaling.max_capacity, 1)
      error_message = "provisioned_concurrent_executions must lie within [autoscaling.min_capacity, autoscaling.max_capacity]."
    }
  }
}

resource "aws_appautoscaling_target" "this" {
  count = local.autoscaling_enabled ? 1 : 0

  service_namespace  = "lambda"
  resource_id        = local.resource_id
  scalable_dimension = local.scalable_dimension
  min_capacity       = var.autoscaling.min_capacity
  max_capacity       = var.autoscaling.max_capacity

  depends_on = [aws_lambda_provisioned_concurrency_config.autoscaled]
}

resource "aws_appautoscaling_policy" "utilization" {
  count = local.autoscaling_enabled && var.target_tracking != null ? 1 : 0

  name               = "${var.function_name}-${var.alias_name}-pc-utilization"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[0].service_namespace
  resource_id        = aws_appautoscaling_target.this[0].resource_id
  scalable_dimension = aws_appautoscaling_target.this[0].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.target_tracking.target_utilization
    scale_in_cooldown  = var.target_tracking.scale_in_cooldown
    scale_out_cooldown = var.target_tracking.scale_out_cooldown

    # AWS's predefined metric is the Average over the alias: bursts vanish in it.
    dynamic "predefined_metric_specification" {
      for_each = var.target_tracking.statistic == "Average" ? [1] : []
      content {
        predefined_metric_type = "LambdaProvisionedConcurrencyUtilization"
      }
    }

    # Same metric with the Maximum statistic: scales out on the busiest minute.
    dynamic "customized_metric_specification" {
      for_each = var.target_tracking.statistic == "Maximum" ? [1] : []
      content {
        namespace   = "AWS/Lambda"
        metric_name = "ProvisionedConcurrencyUtilization"
        statistic   = "Maximum"
        unit        = "None"

        dimensions {
          name  = "FunctionName"
          value = var.function_name
        }

        dimensions {
          name  = "Resource"
          value = "${var.function_name}:${var.alias_name}"
        }
      }
    }
  }
}

resource "aws_appautoscaling_scheduled_action" "this" {
  for_each = local.autoscaling_enabled ? { for s in var.schedules : s.name => s } : {}

  name               = "${var.function_name}-${each.key}"
  service_namespace  = aws_appautoscaling_target.this[0].service_namespace
  resource_id        = aws_appautoscaling_target.this[0].resource_id
  scalable_dimension = aws_appautoscaling_target.this[0].scalable_dimension
  schedule           = each.value.schedule
  timezone           = each.value.timezone
  start_time         = each.value.start_time
  end_time           = each.value.end_time

  scalable_target_action {
    min_capacity = each.value.min_capacity
    max_capacity = each.value.max_capacity
  }
}
