provider "aws" {
  region = "eu-west-1"
}

# Business hours in Paris: 5 warm environments on weekdays, 1 otherwise; target tracking
# on the Maximum utilization handles bursts within the range.
module "provisioned_concurrency" {
  source = "../.."

  function_name                     = "ml-inference-example"
  alias_name                        = "live"
  provisioned_concurrent_executions = 1

  autoscaling = {
    min_capacity = 1
    max_capacity = 10
  }

  target_tracking = {
    target_utilization = 0.7
  }

  schedules = [
    {
      name         = "business-hours-start"
      schedule     = "cron(0 8 ? * MON-FRI *)"
      timezone     = "Europe/Paris"
      min_capacity = 5
      max_capacity = 10
    },
    {
      name         = "business-hours-end"
      schedule     = "cron(0 19 ? * MON-FRI *)"
      timezone     = "Europe/Paris"
      min_capacity = 1
      max_capacity = 2
    },
  ]
}

output "scheduled_action_names" {
  value = module.provisioned_concurrency.scheduled_action_names
}
