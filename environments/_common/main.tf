# The same root configuration in every environment; terraform.tfvars holds the
# environment's choices, capacity.auto.tfvars.json (when present) the capacity plan's
# and image.auto.tfvars.json the image to deploy.

locals {
  # The capacity plan's forecast wins over the hand-written amount.
  budget = merge(var.budget, var.budget_monthly_usd == null ? {} : { monthly_usd = var.budget_monthly_usd })
}

module "inference" {
  source = "../../modules/ml_inference"

  name                = var.name
  ecr_repository_name = var.ecr_repository_name
  image_uri           = var.image_uri
  image_architecture  = var.image_architecture
  architecture        = var.architecture
  model_s3_uri        = var.model_s3_uri

  memory_size                    = var.memory_size
  timeout                        = var.timeout
  ephemeral_storage_size         = var.ephemeral_storage_size
  log_retention_days             = var.log_retention_days
  tracing_mode                   = var.tracing_mode
  reserved_concurrent_executions = var.reserved_concurrent_executions
  snap_start                     = var.snap_start
  application_log_level          = var.application_log_level
  system_log_level               = var.system_log_level
  on_failure_destination_arn     = var.on_failure_destination_arn
  async_invocation               = var.async_invocation
  batch_operations               = var.batch_operations

  enable_provisioned_concurrency  = var.enable_provisioned_concurrency
  provisioned_concurrency         = var.provisioned_concurrency
  enable_function_url             = var.enable_function_url
  function_url_authorization_type = var.function_url_authorization_type
  enable_s3_batch                 = var.enable_s3_batch
  s3_batch                        = var.s3_batch
  enable_efs                      = var.enable_efs
  efs                             = var.efs
  enable_alarms                   = var.enable_alarms
  enable_budget                   = var.enable_budget
  budget                          = local.budget
  alerts                          = var.alerts
  alarm_settings                  = var.alarm_settings

  # Which model the published version serves, visible in the console and the API.
  description = "ML inference (${var.environment}); model sha256 ${var.model_sha256}"
}

# The committed image.auto.tfvars.json is a placeholder (account 000000000000, digest of
# zeros) that keeps a fresh clone plannable; warn before anyone applies it.
check "image_is_built" {
  assert {
    condition     = !startswith(var.image_uri, "000000000000.")
    error_message = "image_uri is the committed placeholder: run `python build/push_image.py --env ${var.environment}` before applying."
  }
}
