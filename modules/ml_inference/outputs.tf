output "function_name" {
  description = "Name of the function."
  value       = module.function.function_name

  precondition {
    condition     = !var.enable_efs || (try(var.efs.vpc_id, null) != null && length(try(var.efs.subnet_ids, [])) >= 1)
    error_message = "enable_efs needs efs = { vpc_id = \"vpc-...\", subnet_ids = [\"subnet-...\"] }: Lambda reaches EFS only from inside a VPC."
  }

  precondition {
    condition     = !var.enable_s3_batch || try(var.s3_batch.input_bucket, null) != null
    error_message = "enable_s3_batch needs s3_batch.input_bucket (and optionally output_bucket, which defaults to the input bucket)."
  }

  precondition {
    condition     = !var.enable_alarms || length(var.alerts.emails) + length(var.alerts.https_endpoints) + length(var.alerts.topic_arns) > 0
    error_message = "enable_alarms needs someone to tell: set alerts.emails, alerts.https_endpoints or alerts.topic_arns (an existing on-call topic); otherwise the alarms fire into a topic nobody reads."
  }
}

output "alias_arn" {
  description = "ARN of the alias `live` (invoke this)."
  value       = module.function.alias_arn
}

output "function_url" {
  description = "Function URL, or null."
  value       = module.function.function_url
}

output "role_arn" {
  description = "Execution role ARN."
  value       = module.function.role_arn
}

output "execution_policy_json" {
  description = "Execution role policy, rendered at plan time."
  value       = module.function.execution_policy_json
}

output "ecr_repository_url" {
  description = "Repository URL the build pushes to, or null when the repository is managed elsewhere."
  value       = try(module.ecr[0].repository_url, null)
}

output "alerts_topic_arn" {
  description = "SNS topic of budget notifications and alarms, or null."
  value       = try(module.budget_alarms[0].sns_topic_arn, null)
}

output "efs_access_point_arn" {
  description = "EFS access point ARN, or null."
  value       = try(module.efs[0].access_point_arn, null)
}

output "batch_operations_role_arn" {
  description = "Role for S3 Batch Operations jobs that invoke the alias, or null."
  value       = module.function.batch_operations_role_arn
}

output "alarm_subscriptions" {
  description = "Endpoints subscribed to the alerts topic (protocol:endpoint), or an empty list."
  value       = try(module.budget_alarms[0].alarm_subscriptions, [])
}
