variable "name" {
  description = "Name of the budget, the SNS topic and the alarm prefix (letters, digits, '-' and '_')."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.name))
    error_message = "name must be 1-64 characters of letters, digits, '-' or '_'."
  }
}

variable "create_budget" {
  description = "Create the AWS Budgets cost budget. false keeps only the SNS topic and the alarms."
  type        = bool
  default     = true
}

variable "monthly_budget_usd" {
  description = "Expected monthly spend in USD; notifications fire at percentages of it."
  type        = number

  validation {
    condition     = var.monthly_budget_usd > 0 && var.monthly_budget_usd <= 1000000
    error_message = "monthly_budget_usd must be greater than 0 and at most 1,000,000."
  }
}

variable "cost_filter_tag" {
  description = "Count only costs carrying this cost-allocation tag (it must be activated in Billing), e.g. { key = \"Project\", value = \"ml-inference-prod\" }. null filters by cost_filter_services instead."
  type = object({
    key   = string
    value = string
  })
  default = null

  validation {
    condition     = var.cost_filter_tag == null || (length(try(var.cost_filter_tag.key, "")) >= 1 && length(try(var.cost_filter_tag.key, "")) <= 128 && length(try(var.cost_filter_tag.value, "")) <= 256)
    error_message = "cost_filter_tag.key must be 1-128 characters and cost_filter_tag.value at most 256."
  }
}

variable "cost_filter_services" {
  description = "Services counted when cost_filter_tag is null (Cost Explorer service names)."
  type        = list(string)
  default     = ["AWS Lambda"]

  validation {
    condition     = length(var.cost_filter_services) >= 1
    error_message = "cost_filter_services must name at least one service, e.g. [\"AWS Lambda\"]."
  }
}

variable "actual_thresholds_percent" {
  description = "Percentages of the budget at which ACTUAL spend notifies."
  type        = list(number)
  default     = [50, 80, 100]

  validation {
    condition     = length(var.actual_thresholds_percent) >= 1 && alltrue([for t in var.actual_thresholds_percent : t > 0 && t <= 1000]) && length(distinct(var.actual_thresholds_percent)) == length(var.actual_thresholds_percent)
    error_message = "actual_thresholds_percent must hold distinct percentages above 0 and at most 1000, e.g. [50, 80, 100]."
  }
}

variable "forecast_thresholds_percent" {
  description = "Percentages of the budget at which FORECASTED spend notifies."
  type        = list(number)
  default     = [100]

  validation {
    condition     = alltrue([for t in var.forecast_thresholds_percent : t > 0 && t <= 1000]) && length(distinct(var.forecast_thresholds_percent)) == length(var.forecast_thresholds_percent)
    error_message = "forecast_thresholds_percent must hold distinct percentages above 0 and at most 1000, e.g. [100]."
  }

  # "A budget can have up to ten notifications": https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_Notification.html
  validation {
    condition     = length(var.actual_thresholds_percent) + length(var.forecast_thresholds_percent) <= 10
    error_message = "A budget takes at most 10 notifications: actual_thresholds_percent and forecast_thresholds_percent together hold more. Drop some thresholds."
  }
}

variable "notification_emails" {
  description = "E-mail addresses that receive budget notifications (Budgets sends to them directly)."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.notification_emails) <= 10 && alltrue([for e in var.notification_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "notification_emails must hold at most 10 e-mail addresses like ops@example.com."
  }
}

variable "activate_cost_allocation_tag" {
  description = "Activate cost_filter_tag's key as a cost-allocation tag (aws_ce_cost_allocation_tag), without which the budget reads $0. Set false where tags are activated centrally (an organization's management account) or by another root: the key is account-wide and destroying the resource deactivates it. AWS may take up to 24 hours after a key first appears on a resource before it can be activated."
  type        = bool
  default     = true
}

variable "alarm_emails" {
  description = "E-mail addresses subscribed to the alerts topic (alarms and budget notifications). Each must confirm the subscription e-mail SNS sends."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alarm_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))]) && length(distinct(var.alarm_emails)) == length(var.alarm_emails)
    error_message = "alarm_emails must hold distinct e-mail addresses like oncall@example.com."
  }
}

variable "alarm_https_endpoints" {
  description = "HTTPS endpoints (incident tooling webhooks) subscribed to the alerts topic. Each must confirm the subscription (SNS posts a SubscriptionConfirmation message)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for u in var.alarm_https_endpoints : can(regex("^https://[^\\s/]+(/\\S*)?$", u))]) && length(distinct(var.alarm_https_endpoints)) == length(var.alarm_https_endpoints)
    error_message = "alarm_https_endpoints must hold distinct https:// URLs (plain http is refused: alerts would travel unencrypted)."
  }
}

variable "alarm_topic_arns" {
  description = "Existing SNS topics the alarms also notify (alarm and OK actions), e.g. an on-call team's topic. Budget notifications go to this module's topic and notification_emails only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.alarm_topic_arns : can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}(\\.fifo)?$", a))])
    error_message = "alarm_topic_arns must hold SNS topic ARNs like arn:aws:sns:eu-west-1:123456789012:oncall."
  }
}

variable "sns_kms_key_id" {
  description = "Customer managed KMS key (id, ARN or alias) for the SNS topic. Its key policy must let budgets.amazonaws.com and cloudwatch.amazonaws.com use it; the AWS managed alias/aws/sns does not, so null leaves the topic unencrypted."
  type        = string
  default     = null
}

variable "function_name" {
  description = "Function watched by the CloudWatch alarms. null creates no alarms (budget only)."
  type        = string
  default     = null

  validation {
    condition     = var.function_name == null || can(regex("^[A-Za-z0-9_-]{1,64}$", coalesce(var.function_name, "x")))
    error_message = "function_name must be null or 1-64 characters of letters, digits, '-' or '_'."
  }
}

variable "alias_name" {
  description = "Alias whose provisioned-concurrency metrics are watched."
  type        = string
  default     = "live"
}

variable "function_timeout_seconds" {
  description = "The function's timeout; the duration alarm fires when p99 exceeds duration_alarm_ratio of it."
  type        = number
  default     = 30

  validation {
    condition     = var.function_timeout_seconds >= 1 && var.function_timeout_seconds <= 900
    error_message = "function_timeout_seconds must be from 1 to 900."
  }
}

variable "provisioned_concurrency_alarms" {
  description = "Create the spill-over and utilization alarms (only meaningful with provisioned concurrency)."
  type        = bool
  default     = false
}

variable "alarm_period_seconds" {
  description = "Period of the alarms' metrics: 60 or a multiple of 60."
  type        = number
  default     = 300

  validation {
    condition     = var.alarm_period_seconds >= 60 && var.alarm_period_seconds % 60 == 0 && var.alarm_period_seconds <= 86400
    error_message = "alarm_period_seconds must be a multiple of 60 from 60 to 86400."
  }
}

variable "evaluation_periods" {
  description = "Consecutive periods that must breach before an alarm fires."
  type        = number
  default     = 1

  validation {
    condition     = var.evaluation_periods >= 1 && var.evaluation_periods <= 100 && floor(var.evaluation_periods) == var.evaluation_periods
    error_message = "evaluation_periods must be a whole number from 1 to 100."
  }
}

variable "errors_threshold" {
  description = "Errors per period above which the errors alarm fires."
  type        = number
  default     = 0

  validation {
    condition     = var.errors_threshold >= 0
    error_message = "errors_threshold must be >= 0."
  }
}

variable "throttles_threshold" {
  description = "Throttles per period above which the throttles alarm fires."
  type        = number
  default     = 0

  validation {
    condition     = var.throttles_threshold >= 0
    error_message = "throttles_threshold must be >= 0."
  }
}

variable "duration_alarm_ratio" {
  description = "Fraction of the timeout that p99 duration may reach before its alarm fires."
  type        = number
  default     = 0.8

  validation {
    condition     = var.duration_alarm_ratio > 0 && var.duration_alarm_ratio < 1
    error_message = "duration_alarm_ratio must be a fraction between 0 and 1 (exclusive), e.g. 0.8."
  }
}

variable "spillover_threshold" {
  description = "Invocations per period served beyond provisioned concurrency (cold starts) above which the spill-over alarm fires."
  type        = number
  default     = 0

  validation {
    condition     = var.spillover_threshold >= 0
    error_message = "spillover_threshold must be >= 0."
  }
}

variable "utilization_threshold" {
  description = "Maximum provisioned concurrency utilization (fraction) above which the utilization alarm fires."
  type        = number
  default     = 0.9

  validation {
    condition     = var.utilization_threshold > 0 && var.utilization_threshold <= 1
    error_message = "utilization_threshold must be a fraction above 0 and at most 1, e.g. 0.9."
  }
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}
