output "function_name" {
  description = "Name of the function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "Unqualified ARN of the function."
  value       = aws_lambda_function.this.arn
}

output "version" {
  description = "Version published by the last change."
  value       = aws_lambda_function.this.version
}

output "alias_name" {
  description = "Name of the alias that serves traffic (\"live\")."
  value       = aws_lambda_alias.live.name
}

output "alias_arn" {
  description = "ARN of the alias `live`: invoke this, not the unqualified function."
  value       = aws_lambda_alias.live.arn
}

output "alias_invoke_arn" {
  description = "Invoke ARN of the alias, for API Gateway integrations."
  value       = aws_lambda_alias.live.invoke_arn
}

output "function_url" {
  description = "Function URL of the alias, or null when disabled."
  value       = try(aws_lambda_function_url.this[0].function_url, null)
}

output "role_arn" {
  description = "ARN of the execution role."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "Name of the execution role."
  value       = aws_iam_role.this.name
}

output "execution_policy_json" {
  description = "The execution role's policy document, rendered at plan time for review."
  value       = data.aws_iam_policy_document.execution.json
}

output "log_group_name" {
  description = "Name of the function's log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "timeout" {
  description = "Timeout of the function in seconds (alarms compare p99 duration with it)."
  value       = var.timeout
}

output "environment_variables" {
  description = "Environment variables set on the function."
  value       = local.environment
}

output "batch_operations_role_arn" {
  description = "ARN of the role S3 Batch Operations jobs assume to invoke the alias (pass it as --role-arn to aws s3control create-job), or null without batch_operations."
  value       = try(aws_iam_role.batch_operations[0].arn, null)
}

output "batch_operations_policy_json" {
  description = "The Batch Operations role's policy, rendered at plan time for review, or null."
  value       = try(data.aws_iam_policy_document.batch_operations[0].json, null)
}

output "snap_start" {
  description = "Whether SnapStart is on for published versions."
  value       = var.snap_start
}
