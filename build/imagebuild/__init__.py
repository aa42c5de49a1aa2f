"""Build the Lambda container image (daemonless or with Docker buildx) and push it to ECR."""
