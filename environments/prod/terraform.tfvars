# prod: schedules for the known weekday peak plus target tracking on the Maximum of
# provisioned concurrency utilization for bursts, budgets and alarms to the alerts topic.
aws_region          = "eu-west-1"
environment         = "prod"
name                = "ml-inference-prod"
ecr_repository_name = "ml-inference/prod"
architecture        = "arm64"

memory_size        = 3008
timeout            = 15
log_retention_days = 90
tracing_mode       = "Active"

enable_provisioned_concurrency = true
provisioned_concurrency = {
  initial     = 2
  autoscaling = { min_capacity = 2, max_capacity = 20 }
  target_tracking = {
    target_utilization = 0.7
    statistic          = "Maximum"
  }
  schedules = [
    {
      name         = "weekday-peak"
      schedule     = "cron(30 7 ? * MON-FRI *)"
      timezone     = "Europe/Dublin"
      min_capacity = 6
      max_capacity = 20
    },
    {
      name         = "weekday-evening"
      schedule     = "cron(0 20 ? * MON-FRI *)"
      timezone     = "Europe/Dublin"
      min_capacity = 2
      max_capacity = 10
    },
  ]
}

enable_alarms = true
# Subscribed to the alerts topic: on-call e-mail and the incident tool's webhook (both
# confirm their subscription once).
alerts = {
  emails          = ["ml-platform-oncall@example.com"]
  https_endpoints = ["https://alerts.example.com/hooks/ml-inference-prod"]
}
alarm_settings = {
  period_seconds     = 60
  evaluation_periods = 3
  errors_threshold   = 5
}

enable_budget = true
budget = {
  monthly_usd         = 400
  notification_emails = ["ml-platform-oncall@example.com"]
}
