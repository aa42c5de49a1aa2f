# staging: production-like, with a small business-hours schedule of provisioned
# concurrency (2 warm environments on weekdays, 1 otherwise, never 0).
aws_region          = "eu-west-1"
environment         = "staging"
name                = "ml-inference-staging"
ecr_repository_name = "ml-inference/staging"
architecture        = "arm64"

memory_size        = 2048
timeout            = 30
log_retention_days = 14
tracing_mode       = "Active"

enable_provisioned_concurrency = true
provisioned_concurrency = {
  initial     = 1
  autoscaling = { min_capacity = 1, max_capacity = 2 }
  schedules = [
    {
      name         = "business-hours-start"
      schedule     = "cron(0 8 ? * MON-FRI *)"
      timezone     = "Europe/Dublin"
      min_capacity = 2
      max_capacity = 2
    },
    {
      name         = "business-hours-end"
      schedule     = "cron(0 18 ? * MON-FRI *)"
      timezone     = "Europe/Dublin"
      min_capacity = 1
      max_capacity = 1
    },
  ]
}

enable_function_url = true

enable_alarms = true
alerts = {
  emails = ["ml-platform-staging@example.com"]
}

enable_budget = true
budget = {
  monthly_usd         = 60
  notification_emails = []
}
