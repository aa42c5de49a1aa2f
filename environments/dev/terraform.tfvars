# dev: small, SnapStart instead of provisioned concurrency (cold starts resume from a
# snapshot, no warm environments are billed while idle), function URL behind IAM for
# manual tests, a small budget as a safety net.
aws_region          = "eu-west-1"
environment         = "dev"
name                = "ml-inference-dev"
ecr_repository_name = "ml-inference/dev"
architecture        = "arm64"

memory_size        = 1769 # one full vCPU
timeout            = 30
log_retention_days = 7

# SnapStart excludes provisioned concurrency, EFS and /tmp above 512 MB (refused at plan).
snap_start                     = true
enable_provisioned_concurrency = false
enable_function_url            = true

enable_budget = true
budget = {
  monthly_usd         = 20
  notification_emails = []
}
