variable "function_name" {
  description = "Name of the Lambda function (letters, digits, '-' and '_', at most 64 characters). The execution role is <function_name>-exec, shortened with a hash when that would exceed IAM's 64 characters."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.function_name))
    error_message = "function_name must be 1-64 characters of letters, digits, '-' or '_'."
  }
}

variable "description" {
  description = "Description of the function."
  type        = string
  default     = "ML inference function (container image)"

  validation {
    condition     = length(var.description) <= 256
    error_message = "description must be at most 256 characters."
  }
}

variable "image_uri" {
  description = "Container image URI pinned by digest in a private Amazon ECR repository: <account>.dkr.ecr.<region>.amazonaws.com/REPOSITORY@sha256:<64 hex>, in the function's Region. Written by `python build/push_image.py --env ENV`; a moving tag is refused because pushing the same tag again would not update the function."
  type        = string

  validation {
    condition     = can(regex("^[^@\\s]+@sha256:[0-9a-f]{64}$", var.image_uri))
    error_message = "image_uri must be pinned by digest, like 123456789012.dkr.ecr.eu-west-1.amazonaws.com/repo@sha256:<64 lowercase hex>; tags such as :latest are not accepted."
  }

  # Lambda pulls container images only from private ECR repositories, and not through
  # ECR's FIPS endpoints (https://docs.aws.amazon.com/lambda/latest/dg/lambda-images.html);
  # the registry host is https://<account>.dkr.ecr.<region>.amazonaws.com (.com.cn in
  # China, https://docs.aws.amazon.com/AmazonECR/latest/userguide/Registries.html).
  validation {
    condition     = can(regex("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?/[^@\\s]+@", var.image_uri))
    error_message = "image_uri must name a private Amazon ECR repository, <account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<digest>, not ${split("/", var.image_uri)[0]}: Lambda pulls images only from ECR (not from a mirror, a local registry or an ECR FIPS endpoint). Pin the ECR repository the image was pushed to, as `python build/push_image.py --env ENV` does."
  }
}

variable "image_architecture" {
  description = "Platform architecture of the image at image_uri (from image.auto.tfvars.json). When set, it must equal architecture: Lambda cannot run an arm64 image on x86_64 or the reverse. null skips the check."
  type        = string
  default     = null

  validation {
    condition     = var.image_architecture == null || contains(["arm64", "x86_64"], coalesce(var.image_architecture, "arm64"))
    error_message = "image_architecture must be null, \"arm64\" or \"x86_64\"."
  }
}

variable "architecture" {
  description = "Instruction set of the function: \"arm64\" (Graviton, cheaper per GB-second) or \"x86_64\"."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be \"arm64\" or \"x86_64\"."
  }
}

variable "memory_size" {
  description = "Memory in MB (128-10240). CPU scales with memory: 1769 MB is one vCPU, 10240 MB six."
  type        = number
  default     = 2048

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "memory_size must be a whole number of MB from 128 to 10240."
  }
}

variable "timeout" {
  description = "Timeout in seconds (1-900). Keep it short: a stuck invocation bills until it times out."
  type        = number
  default     = 30

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900 && floor(var.timeout) == var.timeout
    error_message = "timeout must be a whole number of seconds from 1 to 900."
  }
}

variable "ephemeral_storage_size" {
  description = "Size of /tmp in MB (512-10240). The S3 model fall-back caches the artefact there."
  type        = number
  default     = 512

  validation {
    condition     = var.ephemeral_storage_size >= 512 && var.ephemeral_storage_size <= 10240 && floor(var.ephemeral_storage_size) == var.ephemeral_storage_size
    error_message = "ephemeral_storage_size must be a whole number of MB from 512 to 10240."
  }
}

variable "environment_variables" {
  description = "Extra environment variables. The module sets the runtime contract's variables (MODEL_EFS_DIR, MODEL_S3_URI, OUTPUT_BUCKET, OUTPUT_PREFIX, INPUT_PREFIX) from its own inputs; do not repeat them here."
  type        = map(string)
  default     = {}

  validation {
    condition     = length(setintersection(keys(var.environment_variables), ["MODEL_EFS_DIR", "MODEL_S3_URI", "OUTPUT_BUCKET", "OUTPUT_PREFIX", "INPUT_PREFIX", "AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME"])) == 0
    error_message = "environment_variables must not set MODEL_EFS_DIR, MODEL_S3_URI, OUTPUT_BUCKET, OUTPUT_PREFIX or INPUT_PREFIX (use the efs, model_s3_uri and s3_batch inputs) nor reserved AWS_* names."
  }
}

variable "model_s3_uri" {
  description = "s3://bucket/prefix/ holding the model artefact, the runtime's third fall-back (after the image and EFS). null disables it; when set, the role may read only that prefix."
  type        = string
  default     = null

  validation {
    condition     = var.model_s3_uri == null || can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/([^\\s]*/)?$", coalesce(var.model_s3_uri, "s3://x")))
    error_message = "model_s3_uri must be null or s3://bucket/prefix/ (a valid bucket name, the prefix ending with '/')."
  }
}

variable "reserved_concurrent_executions" {
  description = "Concurrency reserved for (and capping) this function. -1 leaves it unreserved; 0 stops every invocation."
  type        = number
  default     = -1

  validation {
    condition     = var.reserved_concurrent_executions >= -1 && floor(var.reserved_concurrent_executions) == var.reserved_concurrent_executions
    error_message = "reserved_concurrent_executions must be -1 (unreserved) or a whole number >= 0."
  }
}

variable "tracing_mode" {
  description = "X-Ray tracing: \"Active\" samples and traces invocations (the role then gets X-Ray write access), \"PassThrough\" only propagates upstream decisions."
  type        = string
  default     = "PassThrough"

  validation {
    condition     = contains(["Active", "PassThrough"], var.tracing_mode)
    error_message = "tracing_mode must be \"Active\" or \"PassThrough\"."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's log group, in days (one of CloudWatch's allowed values)."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "log_kms_key_arn" {
  description = "KMS key ARN to encrypt the log group with (its key policy must admit CloudWatch Logs). null uses CloudWatch Logs' own encryption."
  type        = string
  default     = null

  validation {
    condition     = var.log_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/([0-9a-f-]{36}|mrk-[0-9a-f]{32})$", coalesce(var.log_kms_key_arn, "x")))
    error_message = "log_kms_key_arn must be null or a KMS key ARN like arn:aws:kms:eu-west-1:123456789012:key/<uuid> (or key/mrk-<32 hex> for a multi-Region key)."
  }
}

variable "kms_key_arn" {
  description = "KMS key ARN to encrypt environment variables with (the role gets kms:Decrypt on it). null uses the Lambda-managed key."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/([0-9a-f-]{36}|mrk-[0-9a-f]{32})$", coalesce(var.kms_key_arn, "x")))
    error_message = "kms_key_arn must be null or a KMS key ARN like arn:aws:kms:eu-west-1:123456789012:key/<uuid> (or key/mrk-<32 hex> for a multi-Region key)."
  }
}

variable "dead_letter_target_arn" {
  description = "SQS queue or SNS topic ARN that receives asynchronous events which failed every retry (dead-letter queue). The role may send only to it."
  type        = string
  default     = null

  validation {
    condition     = var.dead_letter_target_arn == null || can(regex("^arn:aws[a-z-]*:(sqs|sns):[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_.-]+$", coalesce(var.dead_letter_target_arn, "x")))
    error_message = "dead_letter_target_arn must be null or an SQS queue or SNS topic ARN (arn:aws:sqs:REGION:ACCOUNT:NAME or arn:aws:sns:REGION:ACCOUNT:NAME)."
  }
}

variable "on_failure_destination_arn" {
  description = "SQS queue or SNS topic ARN that receives the record of a failed asynchronous invocation (on-failure destination, richer than a DLQ). The role may send only to it."
  type        = string
  default     = null

  validation {
    condition     = var.on_failure_destination_arn == null || can(regex("^arn:aws[a-z-]*:(sqs|sns):[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_.-]+$", coalesce(var.on_failure_destination_arn, "x")))
    error_message = "on_failure_destination_arn must be null or an SQS queue or SNS topic ARN."
  }
}

variable "async_maximum_retry_attempts" {
  description = "Retries of a failed asynchronous invocation (S3 events), 0-2. Lambda's default is 2."
  type        = number
  default     = 2

  validation {
    condition     = contains([0, 1, 2], var.async_maximum_retry_attempts)
    error_message = "async_maximum_retry_attempts must be 0, 1 or 2."
  }
}

variable "async_maximum_event_age_seconds" {
  description = "How long Lambda keeps retrying an asynchronous event before it is dropped (or sent to on_failure_destination_arn), 60-21600 seconds. Lambda's default is 21600 (6 hours)."
  type        = number
  default     = 21600

  validation {
    condition     = var.async_maximum_event_age_seconds >= 60 && var.async_maximum_event_age_seconds <= 21600 && floor(var.async_maximum_event_age_seconds) == var.async_maximum_event_age_seconds
    error_message = "async_maximum_event_age_seconds must be a whole number of seconds from 60 to 21600 (6 hours)."
  }
}

variable "application_log_level" {
  description = "Lowest level of the function's own JSON log lines that Lambda keeps: TRACE, DEBUG, INFO, WARN, ERROR or FATAL. Set explicitly so the plan never shows a change (Lambda stores INFO when it is left out)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"], var.application_log_level)
    error_message = "application_log_level must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL."
  }
}

variable "system_log_level" {
  description = "Lowest level of Lambda's own log lines (START, END, REPORT, platform events) that are kept: DEBUG, INFO or WARN."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARN"], var.system_log_level)
    error_message = "system_log_level must be DEBUG, INFO or WARN."
  }
}

variable "vpc_config" {
  description = "Subnets and security groups to run the function in a VPC (required to mount EFS). null keeps it outside a VPC, which also keeps ENI permissions off the role."
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
  default = null

  validation {
    condition     = var.vpc_config == null || (length(try(var.vpc_config.subnet_ids, [])) >= 1 && length(try(var.vpc_config.security_group_ids, [])) >= 1)
    error_message = "vpc_config needs at least one subnet id and one security group id (or set vpc_config = null)."
  }
}

variable "efs" {
  description = "EFS access point to mount (the model fall-back after the image). local_mount_path must be under /mnt/; MODEL_EFS_DIR is set to it. Needs vpc_config. read_only = true grants only elasticfilesystem:ClientMount."
  type = object({
    file_system_arn  = string
    access_point_arn = string
    local_mount_path = optional(string, "/mnt/models")
    read_only        = optional(bool, true)
  })
  default = null

  validation {
    condition     = var.efs == null || can(regex("^/mnt/[A-Za-z0-9._-]+$", try(var.efs.local_mount_path, "")))
    error_message = "efs.local_mount_path must be a directory directly under /mnt/, e.g. /mnt/models (Lambda mounts file systems only there)."
  }
}

variable "s3_batch" {
  description = "S3 batch flow: objects under input_bucket/input_prefix ending in input_suffix trigger the function, which writes results under output_bucket/output_prefix. The role may read only the input prefix and write only the output prefix. null disables the trigger."
  type = object({
    input_bucket  = string
    input_prefix  = string
    output_bucket = string
    output_prefix = string
    input_suffix  = optional(string, ".jsonl")
  })
  default = null

  validation {
    condition = var.s3_batch == null || alltrue([
      for b in [try(var.s3_batch.input_bucket, ""), try(var.s3_batch.output_bucket, "")] : can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", b))
    ])
    error_message = "s3_batch.input_bucket and s3_batch.output_bucket must be S3 bucket names (3-63 lowercase letters, digits, '.' or '-'), not ARNs or URIs."
  }

  validation {
    condition = var.s3_batch == null || alltrue([
      for p in [try(var.s3_batch.input_prefix, ""), try(var.s3_batch.output_prefix, "")] : can(regex("^[^/\\s*][^\\s*]*/$", p))
    ])
    error_message = "s3_batch.input_prefix and s3_batch.output_prefix must be non-empty key prefixes ending with '/' and not starting with '/', e.g. \"input/\"."
  }

  validation {
    condition = var.s3_batch == null || !(
      try(var.s3_batch.input_bucket, "") == try(var.s3_batch.output_bucket, "") &&
      (startswith(try(var.s3_batch.output_prefix, ""), try(var.s3_batch.input_prefix, "")) || startswith(try(var.s3_batch.input_prefix, ""), try(var.s3_batch.output_prefix, "")))
    )
    error_message = "s3_batch output must not lie under the input prefix (or the reverse) in the same bucket: every result would trigger the function again."
  }
}

variable "function_url" {
  description = "Create a function URL on the alias. authorization_type \"AWS_IAM\" (default) requires SigV4-signed calls; \"NONE\" makes it public."
  type = object({
    authorization_type = optional(string, "AWS_IAM")
  })
  default = null

  validation {
    condition     = var.function_url == null || contains(["AWS_IAM", "NONE"], try(var.function_url.authorization_type, ""))
    error_message = "function_url.authorization_type must be \"AWS_IAM\" or \"NONE\"."
  }
}

variable "snap_start" {
  description = "Lambda SnapStart on published versions: init (model load and warm-up) runs once per version, and new execution environments resume from its snapshot. Needs an image on an AWS Lambda Python 3.12+ base image. Cannot be combined with EFS, ephemeral storage above 512 MB or provisioned concurrency (refused at plan)."
  type        = bool
  default     = false

  # https://docs.aws.amazon.com/lambda/latest/dg/snapstart.html, "Supported features and limitations".
  validation {
    condition     = !var.snap_start || var.efs == null
    error_message = "snap_start cannot be combined with efs: Lambda SnapStart does not support Amazon EFS. Serve the model from the image (or model_s3_uri) with SnapStart, or keep EFS and set snap_start = false."
  }

  validation {
    condition     = !var.snap_start || var.ephemeral_storage_size <= 512
    error_message = "snap_start cannot be combined with ephemeral_storage_size above 512 MB: the snapshot holds /tmp, and Lambda SnapStart supports at most 512 MB of it. Lower ephemeral_storage_size to 512 or set snap_start = false."
  }
}

variable "batch_operations" {
  description = <<-EOT
    Create a role that S3 Batch Operations jobs assume to run the function (alias `live`) on
    every object of a manifest: lambda:InvokeFunction on the alias, read the manifests under
    manifest_bucket/manifest_prefix, write completion reports under report_bucket/report_prefix.
    input_bucket/input_prefix: where the listed objects are, when not under the S3 flow's
    input prefix (the function's role may then read them too). Needs s3_batch (results are
    written where the S3 flow writes them). null creates nothing.
  EOT
  type = object({
    manifest_bucket = string
    manifest_prefix = optional(string, "")
    report_bucket   = string
    report_prefix   = optional(string, "")
    input_bucket    = optional(string)
    input_prefix    = optional(string, "")
  })
  default = null

  validation {
    condition = var.batch_operations == null || alltrue([
      for b in compact([try(var.batch_operations.manifest_bucket, ""), try(var.batch_operations.report_bucket, ""), try(var.batch_operations.input_bucket, "")]) : can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", b))
    ]) && try(var.batch_operations.manifest_bucket, "") != "" && try(var.batch_operations.report_bucket, "") != ""
    error_message = "batch_operations.manifest_bucket, report_bucket (and input_bucket when set) must be S3 bucket names (3-63 lowercase letters, digits, '.' or '-'), not ARNs or URIs."
  }

  validation {
    condition = var.batch_operations == null || alltrue([
      for p in [try(var.batch_operations.manifest_prefix, ""), try(var.batch_operations.report_prefix, ""), try(var.batch_operations.input_prefix, "")] : can(regex("^([^/\\s*][^\\s*]*/)?$", p))
    ])
    error_message = "batch_operations prefixes must be empty or key prefixes ending with '/' and not starting with '/', e.g. \"manifests/\"."
  }
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}
