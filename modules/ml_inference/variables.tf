# ---- Function --------------------------------------------------------------------------

variable "name" {
  description = "Name of the function; also prefixes the role, alarms, budget and EFS resources (letters, digits, '-' and '_', at most 48 characters)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,48}$", var.name))
    error_message = "name must be 1-48 characters of letters, digits, '-' or '_'."
  }
}

variable "description" {
  description = "Description of the function (e.g. which model it serves)."
  type        = string
  default     = "ML inference function (container image)"

  validation {
    condition     = length(var.description) <= 256
    error_message = "description must be at most 256 characters."
  }
}

variable "image_uri" {
  description = "Container image pinned by digest in the function's Region's ECR (<account>.dkr.ecr.<region>.amazonaws.com/REPOSITORY@sha256:<64 hex>), from image.auto.tfvars.json."
  type        = string
}

variable "image_architecture" {
  description = "Architecture the image was built for (from image.auto.tfvars.json); must equal architecture. null skips the check."
  type        = string
  default     = null
}

variable "architecture" {
  description = "Function architecture: \"arm64\" (default) or \"x86_64\"."
  type        = string
  default     = "arm64"
}

variable "memory_size" {
  description = "Memory in MB (128-10240); CPU scales with it."
  type        = number
  default     = 2048
}

variable "timeout" {
  description = "Timeout in seconds (1-900)."
  type        = number
  default     = 30
}

variable "ephemeral_storage_size" {
  description = "Size of /tmp in MB (512-10240)."
  type        = number
  default     = 512
}

variable "environment_variables" {
  description = "Extra environment variables (the runtime contract's variables are set from the feature inputs)."
  type        = map(string)
  default     = {}
}

variable "model_s3_uri" {
  description = "s3://bucket/prefix/ of the model artefact, the runtime's last fall-back. null disables it."
  type        = string
  default     = null
}

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency (-1 = unreserved). With provisioned concurrency it must be at least the largest provisioned value (initial, autoscaling and schedule maximums): reserved concurrency caps the function."
  type        = number
  default     = -1

  # Reserved concurrency is an upper bound for the function's environments, provisioned
  # ones included (https://docs.aws.amazon.com/lambda/latest/dg/provisioned-concurrency.html).
  validation {
    condition = var.reserved_concurrent_executions < 0 || !var.enable_provisioned_concurrency || var.reserved_concurrent_executions >= max(concat(
      [var.provisioned_concurrency.initial, try(var.provisioned_concurrency.autoscaling.max_capacity, 0)],
      [for s in var.provisioned_concurrency.schedules : s.max_capacity],
    )...)
    error_message = "reserved_concurrent_executions (${var.reserved_concurrent_executions}) is below the provisioned concurrency maximum (${max(concat([var.provisioned_concurrency.initial, try(var.provisioned_concurrency.autoscaling.max_capacity, 0)], [for s in var.provisioned_concurrency.schedules : s.max_capacity])...)}): reserved concurrency caps every environment of the function, provisioned ones included, so Lambda could never provision that many. Raise it, lower the provisioned maximum, or set -1 (unreserved)."
  }
}

variable "tracing_mode" {
  description = "X-Ray tracing mode: \"Active\" or \"PassThrough\"."
  type        = string
  default     = "PassThrough"
}

variable "log_retention_days" {
  description = "Log retention in days (a CloudWatch Logs allowed value)."
  type        = number
  default     = 30
}

variable "dead_letter_target_arn" {
  description = "SQS or SNS ARN for asynchronous events that failed every retry. null: none."
  type        = string
  default     = null
}

variable "on_failure_destination_arn" {
  description = "SQS or SNS ARN that receives the record of an asynchronous invocation (S3 event) that failed every retry; the role may send only to it. null: none."
  type        = string
  default     = null
}

variable "async_invocation" {
  description = "Asynchronous invocations (S3 events): maximum_retry_attempts (0-2, default 2) and maximum_event_age_seconds (60-21600, default 21600), Lambda's own defaults."
  type = object({
    maximum_retry_attempts    = optional(number, 2)
    maximum_event_age_seconds = optional(number, 21600)
  })
  default = {}
}

variable "batch_operations" {
  description = "Role for S3 Batch Operations jobs that run the function on a manifest's objects (see the lambda_function module): manifest_bucket, manifest_prefix, report_bucket, report_prefix, optional input_bucket and input_prefix. Needs enable_s3_batch. null: none."
  type = object({
    manifest_bucket = string
    manifest_prefix = optional(string, "")
    report_bucket   = string
    report_prefix   = optional(string, "")
    input_bucket    = optional(string)
    input_prefix    = optional(string, "")
  })
  default = null
}

variable "application_log_level" {
  description = "Lowest level of the function's JSON log lines that Lambda keeps (TRACE, DEBUG, INFO, WARN, ERROR, FATAL)."
  type        = string
  default     = "INFO"
}

variable "system_log_level" {
  description = "Lowest level of Lambda's platform log lines that are kept (DEBUG, INFO, WARN)."
  type        = string
  default     = "INFO"
}

variable "snap_start" {
  description = "Lambda SnapStart on published versions (see the lambda_function module): a snapshot restore instead of an init on each cold start, no warm environments billed while idle. Cannot be combined with provisioned concurrency, EFS or ephemeral storage above 512 MB (refused at plan)."
  type        = bool
  default     = false

  # https://docs.aws.amazon.com/lambda/latest/dg/snapstart.html, "Supported features and limitations".
  # EFS and ephemeral storage are checked by the lambda_function module.
  validation {
    condition     = !var.snap_start || !var.enable_provisioned_concurrency
    error_message = "snap_start cannot be combined with enable_provisioned_concurrency: Lambda SnapStart does not support provisioned concurrency. Choose one: SnapStart (a snapshot restore on each cold start, no warm environments to pay for) or provisioned concurrency (warm environments, billed while idle); environments/README.md compares them."
  }
}

# ---- ECR ---------------------------------------------------------------------------------

variable "create_ecr_repository" {
  description = "Create the ECR repository here (apply it first with -target, push, then apply the rest). false when the repository is managed elsewhere."
  type        = bool
  default     = true
}

variable "ecr_repository_name" {
  description = "Name of the ECR repository the build pushes to (the build tool reads it from terraform.tfvars)."
  type        = string
  default     = null
}

variable "ecr_keep_last_images" {
  description = "Images without a protected tag prefix that the repository's lifecycle policy keeps (one per deploy)."
  type        = number
  default     = 10
}

variable "ecr_protected_tag_prefixes" {
  description = "Tag prefixes whose images the lifecycle policy keeps, so versions deployed from them can be rolled back to (push with --tag release-N)."
  type        = list(string)
  default     = ["release-"]
}

# ---- Switches ----------------------------------------------------------------------------

variable "enable_efs" {
  description = "Mount an EFS model store (fall-back after the image). Needs efs.vpc_id and efs.subnet_ids; puts the function in that VPC."
  type        = bool
  default     = false
}

variable "efs" {
  description = "EFS settings used when enable_efs is true: vpc_id; subnet_ids get the mount targets (one per Availability Zone, checked at plan); function_subnet_ids are the function's subnets (default: subnet_ids), which may hold several per zone."
  type = object({
    vpc_id              = optional(string)
    subnet_ids          = optional(list(string), [])
    function_subnet_ids = optional(list(string), [])
    throughput_mode     = optional(string, "elastic")
    local_mount_path    = optional(string, "/mnt/models")
  })
  default = {}
}

variable "enable_provisioned_concurrency" {
  description = "Keep execution environments warm on the alias `live` with provisioned concurrency."
  type        = bool
  default     = false
}

variable "provisioned_concurrency" {
  description = "Provisioned concurrency settings used when enable_provisioned_concurrency is true: initial value, optional autoscaling range, target tracking and schedules (see the provisioned_concurrency module)."
  type = object({
    initial = optional(number, 1)
    autoscaling = optional(object({
      min_capacity = number
      max_capacity = number
    }))
    target_tracking = optional(object({
      target_utilization = optional(number, 0.7)
      statistic          = optional(string, "Maximum")
      scale_in_cooldown  = optional(number, 300)
      scale_out_cooldown = optional(number, 60)
    }))
    schedules = optional(list(object({
      name         = string
      schedule     = string
      timezone     = optional(string, "UTC")
      min_capacity = number
      max_capacity = number
      start_time   = optional(string)
      end_time     = optional(string)
    })), [])
  })
  default = {}
}

variable "enable_function_url" {
  description = "Expose the alias through a function URL."
  type        = bool
  default     = false
}

variable "function_url_authorization_type" {
  description = "Function URL auth: \"AWS_IAM\" (default, signed calls only) or \"NONE\" (public)."
  type        = string
  default     = "AWS_IAM"
}

variable "enable_s3_batch" {
  description = "Trigger the function from .jsonl objects under an input prefix and let it write results under an output prefix."
  type        = bool
  default     = false
}

variable "s3_batch" {
  description = "S3 batch flow settings used when enable_s3_batch is true."
  type = object({
    input_bucket  = optional(string)
    input_prefix  = optional(string, "input/")
    output_bucket = optional(string)
    output_prefix = optional(string, "output/")
    input_suffix  = optional(string, ".jsonl")
  })
  default = {}
}

variable "enable_alarms" {
  description = "Create CloudWatch alarms (errors, throttles, p99 duration near the timeout, and provisioned concurrency spill-over and utilization when it is on) that notify the alerts topic."
  type        = bool
  default     = false
}

variable "enable_budget" {
  description = "Create an AWS Budgets cost budget with notifications at 50/80/100% actual and 100% forecast."
  type        = bool
  default     = false
}

variable "budget" {
  description = "Budget settings used when enable_budget is true. cost_filter_tag defaults to { key = \"Project\", value = name }; activate_cost_allocation_tag (default true) activates that key for cost allocation, without which the budget reads $0. Thresholds: at most 10 actual and forecast together."
  type = object({
    monthly_usd                  = optional(number, 10)
    notification_emails          = optional(list(string), [])
    activate_cost_allocation_tag = optional(bool, true)
    actual_thresholds_percent    = optional(list(number), [50, 80, 100])
    forecast_thresholds_percent  = optional(list(number), [100])
    cost_filter_tag = optional(object({
      key   = string
      value = string
    }))
  })
  default = {}
}

variable "alerts" {
  description = "Who receives the alarms (and the budget's SNS notifications): emails and https_endpoints subscribed to the alerts topic, topic_arns of existing topics the alarms also notify. enable_alarms needs at least one."
  type = object({
    emails          = optional(list(string), [])
    https_endpoints = optional(list(string), [])
    topic_arns      = optional(list(string), [])
  })
  default = {}
}

variable "alarm_settings" {
  description = "Alarm thresholds (see the budget_alarms module)."
  type = object({
    period_seconds        = optional(number, 300)
    evaluation_periods    = optional(number, 1)
    errors_threshold      = optional(number, 0)
    throttles_threshold   = optional(number, 0)
    duration_ratio        = optional(number, 0.8)
    spillover_threshold   = optional(number, 0)
    utilization_threshold = optional(number, 0.9)
  })
  default = {}
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
