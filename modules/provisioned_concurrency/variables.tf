variable "function_name" {
  description = "Name of the Lambda function."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.function_name))
    error_message = "function_name must be 1-64 characters of letters, digits, '-' or '_'."
  }
}

variable "alias_name" {
  description = "Alias that carries the provisioned concurrency. It must point at a published version; $LATEST and bare version numbers are refused."
  type        = string
  default     = "live"

  validation {
    condition     = can(regex("^[A-Za-z_-][A-Za-z0-9_-]{0,127}$", var.alias_name)) && var.alias_name != "$LATEST"
    error_message = "alias_name must be an alias name such as \"live\" (letters, digits, '-', '_', not starting with a digit); provisioned concurrency is never configured on $LATEST or on a bare version number."
  }
}

variable "provisioned_concurrent_executions" {
  description = "Provisioned concurrency created with the alias. With autoscaling on it is only the starting value (Application Auto Scaling owns it afterwards) and it must lie within [min_capacity, max_capacity]."
  type        = number
  default     = 1

  validation {
    condition     = var.provisioned_concurrent_executions >= 1 && floor(var.provisioned_concurrent_executions) == var.provisioned_concurrent_executions
    error_message = "provisioned_concurrent_executions must be a whole number >= 1 (to have none, do not use this module)."
  }
}

variable "autoscaling" {
  description = "Application Auto Scaling of the alias's provisioned concurrency. null keeps a fixed value (provisioned_concurrent_executions) managed by Terraform."
  type = object({
    min_capacity = number
    max_capacity = number
  })
  default = null

  validation {
    condition     = var.autoscaling == null || try(var.autoscaling.min_capacity >= 1 && floor(var.autoscaling.min_capacity) == var.autoscaling.min_capacity, false)
    error_message = "autoscaling.min_capacity must be a whole number >= 1: scaling provisioned concurrency to 0 has broken later deploys."
  }

  validation {
    condition     = var.autoscaling == null || try(var.autoscaling.max_capacity >= var.autoscaling.min_capacity && floor(var.autoscaling.max_capacity) == var.autoscaling.max_capacity, false)
    error_message = "autoscaling.max_capacity must be a whole number >= autoscaling.min_capacity."
  }
}

variable "target_tracking" {
  description = "Target tracking on provisioned concurrency utilization (needs autoscaling). statistic \"Maximum\" (default) reacts to bursts that the \"Average\" of AWS's predefined metric smooths away."
  type = object({
    target_utilization = optional(number, 0.7)
    statistic          = optional(string, "Maximum")
    scale_in_cooldown  = optional(number, 300)
    scale_out_cooldown = optional(number, 60)
  })
  default = null

  validation {
    condition     = var.target_tracking == null || try(var.target_tracking.target_utilization > 0.1 && var.target_tracking.target_utilization <= 0.9, false)
    error_message = "target_tracking.target_utilization must be a fraction above 0.1 and at most 0.9 (e.g. 0.7 for 70%)."
  }

  validation {
    condition     = var.target_tracking == null || contains(["Average", "Maximum"], try(var.target_tracking.statistic, ""))
    error_message = "target_tracking.statistic must be \"Maximum\" (recommended for bursty traffic) or \"Average\" (AWS's predefined metric)."
  }

  validation {
    condition     = var.target_tracking == null || try(var.target_tracking.scale_in_cooldown >= 0 && var.target_tracking.scale_out_cooldown >= 0 && var.target_tracking.scale_in_cooldown <= 3600 && var.target_tracking.scale_out_cooldown <= 3600, false)
    error_message = "target_tracking cooldowns must be from 0 to 3600 seconds."
  }
}

variable "schedules" {
  description = <<-EOT
    Scheduled actions that set the autoscaling range (needs autoscaling). Each: name, schedule
    (cron(...), at(yyyy-mm-ddThh:mm:ss) or rate(N unit)), timezone (IANA name, default UTC),
    min_capacity >= 1 and max_capacity >= min_capacity, optional start_time / end_time (RFC 3339).
  EOT
  type = list(object({
    name         = string
    schedule     = string
    timezone     = optional(string, "UTC")
    min_capacity = number
    max_capacity = number
    start_time   = optional(string)
    end_time     = optional(string)
  }))
  default = []

  validation {
    condition     = length(var.schedules) <= 8
    error_message = "At most 8 schedules: they are applied one after another (Application Auto Scaling refuses concurrent changes to one target); merge schedules or raise the limit in the module."
  }

  validation {
    condition     = alltrue([for s in var.schedules : can(regex("^[A-Za-z0-9_-]{1,100}$", s.name))]) && length(distinct([for s in var.schedules : s.name])) == length(var.schedules)
    error_message = "Each schedule needs a unique name of 1-100 letters, digits, '-' or '_'."
  }

  validation {
    condition = alltrue([for s in var.schedules : can(regex(
      "^(cron\\(\\S+ \\S+ \\S+ \\S+ \\S+ \\S+\\)|at\\([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\)|rate\\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\\))$",
      s.schedule
    ))])
    error_message = "Each schedule must be cron(Minutes Hours Day-of-month Month Day-of-week Year) with six fields, e.g. cron(0 8 ? * MON-FRI *), at(2030-01-31T08:00:00), or rate(N minutes|hours|days)."
  }

  validation {
    condition     = alltrue([for s in var.schedules : can(regex("^(UTC|[A-Z][A-Za-z_]+(/[A-Za-z0-9_+-]+){1,2}|Etc/[A-Za-z0-9+-]+)$", s.timezone))])
    error_message = "Each schedule's timezone must be an IANA time zone name such as UTC, Europe/Paris or America/New_York."
  }

  validation {
    condition     = alltrue([for s in var.schedules : s.min_capacity >= 1 && floor(s.min_capacity) == s.min_capacity])
    error_message = "Each schedule's min_capacity must be a whole number >= 1: scaling provisioned concurrency to 0 has broken later deploys."
  }

  validation {
    condition     = alltrue([for s in var.schedules : s.max_capacity >= s.min_capacity && floor(s.max_capacity) == s.max_capacity])
    error_message = "Each schedule's max_capacity must be a whole number >= its min_capacity."
  }

  validation {
    condition = alltrue([for s in var.schedules : alltrue([
      for t in compact([s.start_time, s.end_time]) : can(formatdate("YYYY", t))
    ])])
    error_message = "Each schedule's start_time and end_time must be RFC 3339 timestamps such as 2030-01-31T08:00:00Z."
  }
}
