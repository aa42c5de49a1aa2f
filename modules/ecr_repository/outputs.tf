output "repository_name" {
  description = "Name of the repository."
  value       = aws_ecr_repository.this.name
}

output "repository_arn" {
  description = "ARN of the repository."
  value       = aws_ecr_repository.this.arn
}

output "repository_url" {
  description = "Repository URL (registry/name), to which the build pushes and from which image URIs are formed."
  value       = aws_ecr_repository.this.repository_url
}

output "repository_policy_json" {
  description = "The repository policy that lets Lambda pull."
  value       = data.aws_iam_policy_document.lambda_pull.json
}
