# Read by `python build/push_image.py --env ENV` as well as by Terraform:
# aws_region, name, ecr_repository_name, architecture and model_s3_uri.

variable "aws_region" {
  description = "AWS region of this environment, e.g. eu-west-1."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.aws_region))
    error_message = "aws_region must be a region code such as eu-west-1 or us-east-1."
  }
}

variable "environment" {
  description = "Environment name: dev, staging or prod."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be \"dev\", \"staging\" or \"prod\"."
  }
}

variable "name" {
  description = "Name of the function and prefix of its resources."
  type        = string
}

variable "ecr_repository_name" {
  description = "ECR repository the image is pushed to."
  type        = string
}

variable "architecture" {
  description = "Function architecture, \"arm64\" or \"x86_64\"; the build produces an image for it."
  type        = string
}

variable "model_s3_uri" {
  description = "Optional s3://bucket/prefix/ of the model artefact (runtime fall-back). null: none."
  type        = string
  default     = null
}

# ---- Written by `python build/push_image.py --env ENV` into image.auto.tfvars.json ----

variable "image_uri" {
  description = "Image pinned by digest (from image.auto.tfvars.json)."
  type        = string
}

variable "image_architecture" {
  description = "Architecture the image was built for (from image.auto.tfvars.json); must equal architecture."
  type        = string
}

variable "model_sha256" {
  description = "sha256 of the model file baked into the image (from image.auto.tfvars.json), reported as an output."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.model_sha256))
    error_message = "model_sha256 must be 64 lowercase hex characters (written by build/push_image.py)."
  }
}

# ---- This environment's choices (terraform.tfvars) -------------------------------------

# memory_size, timeout, enable_provisioned_concurrency and provisioned_concurrency may
# also come from capacity.auto.tfvars.json (written by `capacity plan`), which Terraform
# loads after terraform.tfvars: a variable set in both takes the capacity file's whole
# value (objects are replaced, not merged). See environments/README.md.

variable "memory_size" {
  description = "Memory in MB (128-10240)."
  type        = number
  default     = 2048

  # Checked here too, so a bad capacity file fails with a message naming the root variable.
  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "memory_size must be a whole number of MB from 128 to 10240 (check terraform.tfvars and capacity.auto.tfvars.json)."
  }
}

variable "timeout" {
  description = "Timeout in seconds (1-900)."
  type        = number
  default     = 30

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900 && floor(var.timeout) == var.timeout
    error_message = "timeout must be a whole number of seconds from 1 to 900 (check terraform.tfvars and capacity.auto.tfvars.json)."
  }
}

variable "ephemeral_storage_size" {
  description = "Size of /tmp in MB (512-10240)."
  type        = number
  default     = 512
}

variable "snap_start" {
  description = "Lambda SnapStart on published versions. Not with provisioned concurrency, EFS or ephemeral storage above 512 MB (refused at plan); see environments/README.md for when to choose it."
  type        = bool
  default     = false
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

variable "log_retention_days" {
  description = "Log retention in days."
  type        = number
  default     = 30
}

variable "tracing_mode" {
  description = "X-Ray tracing mode: \"Active\" or \"PassThrough\"."
  type        = string
  default     = "PassThrough"
}

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency (-1 = unreserved)."
  type        = number
  default     = -1
}

variable "enable_provisioned_concurrency" {
  description = "Provisioned concurrency on the alias `live`."
  type        = bool
  default     = false
}

variable "provisioned_concurrency" {
  description = "Provisioned concurrency: initial value, autoscaling range, target tracking, schedules."
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
  description = "Function URL auth: \"AWS_IAM\" or \"NONE\"."
  type        = string
  default     = "AWS_IAM"
}

variable "enable_s3_batch" {
  description = "S3 batch flow (input prefix triggers, output prefix receives results)."
  type        = bool
  default     = false
}

variable "s3_batch" {
  description = "S3 batch flow settings."
  type = object({
    input_bucket  = optional(string)
    input_prefix  = optional(string, "input/")
    output_bucket = optional(string)
    output_prefix = optional(string, "output/")
    input_suffix  = optional(string, ".jsonl")
  })
  default = {}
}

variable "on_failure_destination_arn" {
  description = "SQS queue or SNS topic ARN that receives S3 events that failed every retry. null: none."
  type        = string
  default     = null
}

variable "async_invocation" {
  description = "Retries (0-2) and maximum event age (60-21600 s) of asynchronous invocations (S3 events)."
  type = object({
    maximum_retry_attempts    = optional(number, 2)
    maximum_event_age_seconds = optional(number, 21600)
  })
  default = {}
}

variable "batch_operations" {
  description = "Role for S3 Batch Operations jobs that invoke the function: manifest_bucket, manifest_prefix, report_bucket, report_prefix, optional input_bucket and input_prefix. Needs enable_s3_batch. null: none."
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

variable "enable_efs" {
  description = "Mount an EFS model store (puts the function in a VPC)."
  type        = bool
  default     = false
}

variable "efs" {
  description = "EFS settings: vpc_id, subnet_ids (mount targets, one per zone), function_subnet_ids (default subnet_ids), throughput_mode, local_mount_path."
  type = object({
    vpc_id              = optional(string)
    subnet_ids          = optional(list(string), [])
    function_subnet_ids = optional(list(string), [])
    throughput_mode     = optional(string, "elastic")
    local_mount_path    = optional(string, "/mnt/models")
  })
  default = {}
}

variable "enable_alarms" {
  description = "CloudWatch alarms to the alerts SNS topic."
  type        = bool
  default     = false
}

variable "enable_budget" {
  description = "AWS Budgets cost budget with notifications."
  type        = bool
  default     = false
}

variable "budget" {
  description = "Budget: monthly_usd (budget_monthly_usd wins when set), notification_emails, cost_filter_tag (defaults to Project = name), activate_cost_allocation_tag (default true), actual and forecast thresholds."
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
  description = "Who receives the alarms: emails, https_endpoints (subscribed to the alerts topic), topic_arns (existing topics). enable_alarms needs at least one."
  type = object({
    emails          = optional(list(string), [])
    https_endpoints = optional(list(string), [])
    topic_arns      = optional(list(string), [])
  })
  default = {}
}

# ---- Written by `capacity plan` into capacity.auto.tfvars.json --------------------------

variable "budget_monthly_usd" {
  description = "The budget's monthly amount in USD from the capacity plan's forecast; when set it wins over budget.monthly_usd. null: budget.monthly_usd."
  type        = number
  default     = null

  validation {
    condition     = var.budget_monthly_usd == null || try(var.budget_monthly_usd > 0, false)
    error_message = "budget_monthly_usd must be null or an amount in USD greater than 0 (check capacity.auto.tfvars.json)."
  }
}

variable "capacity_sources" {
  description = "Where each capacity value came from (tune report, traffic profile, objective), as the capacity plan recorded it. Informational: reported as the output capacity_sources, never applied to a resource."
  type        = map(string)
  default     = {}
}

variable "alarm_settings" {
  description = "Alarm thresholds."
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
