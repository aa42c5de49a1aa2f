output "function_name" {
  description = "Name of the function."
  value       = module.inference.function_name
}

output "alias_arn" {
  description = "ARN of the alias `live` to invoke."
  value       = module.inference.alias_arn
}

output "function_url" {
  description = "Function URL, or null."
  value       = module.inference.function_url
}

output "ecr_repository_url" {
  description = "Repository the build pushes to."
  value       = module.inference.ecr_repository_url
}

output "alerts_topic_arn" {
  description = "SNS topic of budget notifications and alarms, or null."
  value       = module.inference.alerts_topic_arn
}

output "image_uri" {
  description = "Deployed image, pinned by digest."
  value       = var.image_uri
}

output "model_sha256" {
  description = "sha256 of the deployed model file."
  value       = var.model_sha256
}

output "batch_operations_role_arn" {
  description = "Role for S3 Batch Operations jobs that invoke the function (--role-arn of aws s3control create-job), or null."
  value       = module.inference.batch_operations_role_arn
}

output "alarm_subscriptions" {
  description = "Endpoints subscribed to the alerts topic."
  value       = module.inference.alarm_subscriptions
}

output "capacity_sources" {
  description = "Where the capacity values came from, as capacity.auto.tfvars.json recorded it (empty without one)."
  value       = var.capacity_sources
}
