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

# Who owns the scalable target's bounds. A scheduled action rewrites MinCapacity and
# MaxCapacity when it runs (https://docs.aws.amazon.com/autoscaling/application/userguide/application-auto-scaling-scheduled-scaling.html),
# so with schedules Terraform registers the target once with autoscaling's range and then
# leaves the bounds alone: otherwise an apply during the weekday peak would put the floor
# back to autoscaling.min_capacity. Without schedules nothing else moves them and Terraform
# owns them: a changed range re-registers the target (through this value) and recreates the
# target-tracking policy, which deregistering deletes.
resource "terraform_data" "terraform_owned_bounds" {
  count = local.autoscaling_enabled ? 1 : 0

  # One string in both modes, so only a real change of owner or range shows as a change.
  input = length(var.schedules) == 0 ? "terraform:${var.autoscaling.min_capacity}-${var.autoscaling.max_capacity}" : "scheduled actions"
}

resource "aws_appautoscaling_target" "this" {
  count = local.autoscaling_enabled ? 1 : 0

  service_namespace  = "lambda"
  resource_id        = local.resource_id
  scalable_dimension = local.scalable_dimension
  min_capacity       = var.autoscaling.min_capacity
  max_capacity       = var.autoscaling.max_capacity

  lifecycle {
    ignore_changes       = [min_capacity, max_capacity]
    replace_triggered_by = [terraform_data.terraform_owned_bounds]
  }

  depends_on = [aws_lambda_provisioned_concurrency_config.autoscaled]
}

resource "aws_appautoscaling_policy" "utilization" {
  count = local.autoscaling_enabled && var.target_tracking != null ? 1 : 0

  name               = "${var.function_name}-${var.alias_name}-pc-utilization"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[0].service_namespace
  resource_id        = aws_appautoscaling_target.this[0].resource_id
  scalable_dimension = aws_appautoscaling_target.this[0].scalable_dimension

  lifecycle {
    # Deregistering the target (a changed Terraform-owned range) deletes its policies.
    replace_triggered_by = [terraform_data.terraform_owned_bounds]
  }

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
        # No unit: CloudWatch returns no data when a unit is given that the metric was not
        # published with, and target tracking then never scales. It is optional.

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

# One scheduled action after another, the first after the target-tracking policy: calls
# on one scalable target that run at the same time can fail with
# ConcurrentUpdateException. A resource's own instances cannot wait for each other, hence
# one module call per position (at most 8, validated).
locals {
  schedule_target = local.autoscaling_enabled ? {
    service_namespace  = aws_appautoscaling_target.this[0].service_namespace
    resource_id        = aws_appautoscaling_target.this[0].resource_id
    scalable_dimension = aws_appautoscaling_target.this[0].scalable_dimension
  } : null
  schedules = local.autoscaling_enabled ? var.schedules : []
  # Function and alias in the name: the names differ from the module's earlier ones, so
  # upgrading never deletes an action after its successor of the same name was written.
  schedule_names = [for s in local.schedules : "${var.function_name}-${var.alias_name}-${s.name}"]
}

module "schedule_0" {
  source     = "./modules/scheduled_action"
  count      = length(local.schedules) > 0 ? 1 : 0
  name       = local.schedule_names[0]
  target     = local.schedule_target
  schedule   = local.schedules[0]
  depends_on = [aws_appautoscaling_policy.utilization]
}

module "schedule_1" {
  source     = "./modules/scheduled_action"
  count      = length(local.schedules) > 1 ? 1 : 0
  name       = local.schedule_names[1]
  target     = local.schedule_target
  schedule   = local.schedules[1]
  depends_on = [module.schedule_0]
}

module "schedule_2" {
  source     = "./modules/scheduled_action"
  count      = length(local.schedules) > 2 ? 1 : 0
  name       = local.schedule_names[2]
  target     = local.schedule_target
  schedule   = local.schedules[2]
  depends_on = [module.schedule_1]
}

module "schedule_3" {
  source     = "./modules/scheduled_action"
  count      = length(local.schedules) > 3 ? 1 : 0
  name       = local.schedule_names[3]
  target     = local.schedule_target
  schedule   = local.schedules[3]
  depends_on = [module.schedule_2]
}

module "schedule_4" {
  source     = "./modules/scheduled_action"
  count      = length(local.schedules) > 4 ? 1 : 0
  name       = local.schedule_names[4]
  target     = local.schedule_target
  schedule   = local.schedules[4]
  depends_on = [module.schedule_3]
}

module "schedule_5" {
  source     = "./modules/scheduled_action"
  count      = length(local.schedules) > 5 ? 1 : 0
  name       = local.schedule_names[5]
  target     = local.schedule_target
  schedule   = local.schedules[5]
  depends_on = [module.schedule_4]
}

module "schedule_6" {
  source     = "./modules/scheduled_action"
  count      = length(local.schedules) > 6 ? 1 : 0
  name       = local.schedule_names[6]
  target     = local.schedule_target
  schedule   = local.schedules[6]
  depends_on = [module.schedule_5]
}

module "schedule_7" {
  source     = "./modules/scheduled_action"
  count      = length(local.schedules) > 7 ? 1 : 0
  name       = local.schedule_names[7]
  target     = local.schedule_target
  schedule   = local.schedules[7]
  depends_on = [module.schedule_6]
}
