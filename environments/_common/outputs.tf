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
