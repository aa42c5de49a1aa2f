locals {
  alias_name = "live"
}

module "ecr" {
  source = "../ecr_repository"
  count  = var.create_ecr_repository ? 1 : 0

  name                   = coalesce(var.ecr_repository_name, var.name)
  keep_last_images       = var.ecr_keep_last_images
  protected_tag_prefixes = var.ecr_protected_tag_prefixes
  tags                   = var.tags
}

module "efs" {
  source = "../efs_model_store"
  count  = var.enable_efs ? 1 : 0

  name            = "${var.name}-models"
  vpc_id          = var.efs.vpc_id
  subnet_ids      = var.efs.subnet_ids
  throughput_mode = var.efs.throughput_mode
  tags            = var.tags
}

module "function" {
  source = "../lambda_function"

  function_name                   = var.name
  description                     = var.description
  image_uri                       = var.image_uri
  image_architecture              = var.image_architecture
  architecture                    = var.architecture
  memory_size                     = var.memory_size
  timeout                         = var.timeout
  ephemeral_storage_size          = var.ephemeral_storage_size
  environment_variables           = var.environment_variables
  model_s3_uri                    = var.model_s3_uri
  reserved_concurrent_executions  = var.reserved_concurrent_executions
  tracing_mode                    = var.tracing_mode
  log_retention_days              = var.log_retention_days
  application_log_level           = var.application_log_level
  system_log_level                = var.system_log_level
  dead_letter_target_arn          = var.dead_letter_target_arn
  on_failure_destination_arn      = var.on_failure_destination_arn
  async_maximum_retry_attempts    = var.async_invocation.maximum_retry_attempts
  async_maximum_event_age_seconds = var.async_invocation.maximum_event_age_seconds
  snap_start                      = var.snap_start
  batch_operations                = var.batch_operations

  # The function may run in more subnets than hold mount targets (one per zone).
  vpc_config = var.enable_efs ? {
    subnet_ids         = length(var.efs.function_subnet_ids) > 0 ? var.efs.function_subnet_ids : var.efs.subnet_ids
    security_group_ids = [module.efs[0].function_security_group_id]
  } : null

  efs = var.enable_efs ? {
    file_system_arn  = module.efs[0].file_system_arn
    access_point_arn = module.efs[0].access_point_arn
    local_mount_path = var.efs.local_mount_path
    read_only        = true
  } : null

  function_url = var.enable_function_url ? { authorization_type = var.function_url_authorization_type } : null

  s3_batch = var.enable_s3_batch ? {
    input_bucket  = var.s3_batch.input_bucket
    input_prefix  = var.s3_batch.input_prefix
    output_bucket = try(coalesce(var.s3_batch.output_bucket, var.s3_batch.input_bucket), null)
    output_prefix = var.s3_batch.output_prefix
    input_suffix  = var.s3_batch.input_suffix
  } : null

  tags = var.tags
}

module "provisioned_concurrency" {
  source = "../provisioned_concurrency"
  count  = var.enable_provisioned_concurrency ? 1 : 0

  # The alias output (not a literal) orders this after the alias exists.
  function_name                     = module.function.function_name
  alias_name                        = module.function.alias_name
  provisioned_concurrent_executions = var.provisioned_concurrency.initial
  autoscaling                       = var.provisioned_concurrency.autoscaling
  target_tracking                   = var.provisioned_concurrency.target_tracking
  schedules                         = var.provisioned_concurrency.schedules
}

module "budget_alarms" {
  source = "../budget_alarms"
  count  = var.enable_budget || var.enable_alarms ? 1 : 0

  name                         = var.name
  create_budget                = var.enable_budget
  monthly_budget_usd           = var.budget.monthly_usd
  notification_emails          = var.budget.notification_emails
  cost_filter_tag              = var.budget.cost_filter_tag != null ? var.budget.cost_filter_tag : { key = "Project", value = var.name }
  activate_cost_allocation_tag = var.budget.activate_cost_allocation_tag
  actual_thresholds_percent    = var.budget.actual_thresholds_percent
  forecast_thresholds_percent  = var.budget.forecast_thresholds_percent

  alarm_emails          = var.alerts.emails
  alarm_https_endpoints = var.alerts.https_endpoints
  alarm_topic_arns      = var.alerts.topic_arns

  function_name                  = var.enable_alarms ? module.function.function_name : null
  alias_name                     = local.alias_name
  function_timeout_seconds       = var.timeout
  provisioned_concurrency_alarms = var.enable_provisioned_concurrency

  alarm_period_seconds  = var.alarm_settings.period_seconds
  evaluation_periods    = var.alarm_settings.evaluation_periods
  errors_threshold      = var.alarm_settings.errors_threshold
  throttles_threshold   = var.alarm_settings.throttles_threshold
  duration_alarm_ratio  = var.alarm_settings.duration_ratio
  spillover_threshold   = var.alarm_settings.spillover_threshold
  utilization_threshold = var.alarm_settings.utilization_threshold

  tags = var.tags
}
