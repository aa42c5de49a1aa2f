output "budget_name" {
  description = "Name of the cost budget, or null when create_budget is false."
  value       = try(aws_budgets_budget.cost[0].name, null)
}

output "sns_topic_arn" {
  description = "ARN of the topic that receives budget notifications and alarms; subscribe on-call tooling to it."
  value       = aws_sns_topic.alerts.arn
}

output "alarm_names" {
  description = "Names of the CloudWatch alarms."
  value       = [for alarm in aws_cloudwatch_metric_alarm.lambda : alarm.alarm_name]
}

output "topic_policy_json" {
  description = "Policy of the alerts topic (Budgets and CloudWatch may publish)."
  value       = data.aws_iam_policy_document.alerts.json
}

output "alarm_subscriptions" {
  description = "Endpoints subscribed to the alerts topic (protocol:endpoint)."
  value       = keys(local.subscriptions)
}

output "cost_allocation_tag_key" {
  description = "Tag key this module activates for cost allocation, or null."
  value       = try(aws_ce_cost_allocation_tag.filter[0].tag_key, null)
}
