provider "aws" {
  region = "eu-west-1"
}

module "budget_alarms" {
  source = "../.."

  name                = "ml-inference-example"
  monthly_budget_usd  = 50
  notification_emails = ["ops@example.com"]

  cost_filter_tag = {
    key   = "Project"
    value = "ml-inference-example"
  }

  function_name                  = "ml-inference-example"
  function_timeout_seconds       = 30
  provisioned_concurrency_alarms = true
}

output "sns_topic_arn" {
  value = module.budget_alarms.sns_topic_arn
}
