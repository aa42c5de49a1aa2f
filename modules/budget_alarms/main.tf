data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  topic_name = "${var.name}-alerts"
  # Built from known parts so the topic policy renders at plan time for review.
  topic_arn      = "arn:${data.aws_partition.current.partition}:sns:${data.aws_region.current.region}:${local.account_id}:${local.topic_name}"
  alarms_enabled = var.function_name != null
  alias_resource = "${coalesce(var.function_name, "none")}:${var.alias_name}"

  # Alarms notify the module's topic and any existing topics the caller names.
  alarm_action_arns = concat([aws_sns_topic.alerts.arn], var.alarm_topic_arns)
  subscriptions = merge(
    { for e in var.alarm_emails : "email:${e}" => { protocol = "email", endpoint = e } },
    { for u in var.alarm_https_endpoints : "https:${u}" => { protocol = "https", endpoint = u } },
  )

  notifications = concat(
    [for t in var.actual_thresholds_percent : { type = "ACTUAL", threshold = t }],
    [for t in var.forecast_thresholds_percent : { type = "FORECASTED", threshold = t }],
  )
}

resource "aws_sns_topic" "alerts" {
  #checkov:skip=CKV_AWS_26:Encryption needs a customer managed key whose policy admits Budgets and CloudWatch (sns_kms_key_id); the AWS managed SNS key does not, so it cannot be the default.
  name              = local.topic_name
  kms_master_key_id = var.sns_kms_key_id
  tags              = var.tags
}

# Budgets and CloudWatch alarms publish as services; limit both to this account.
data "aws_iam_policy_document" "alerts" {
  statement {
    sid       = "AllowBudgetsPublish"
    effect    = "Allow"
    actions   = ["SNS:Publish"]
    resources = [local.topic_arn]

    principals {
      type        = "Service"
      identifiers = ["budgets.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${data.aws_partition.current.partition}:budgets::${local.account_id}:*"]
    }
  }

  statement {
    sid       = "AllowCloudWatchAlarmsPublish"
    effect    = "Allow"
    actions   = ["SNS:Publish"]
    resources = [local.topic_arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# People and tools that receive what reaches the topic (alarms and budget notifications).
# E-mail and HTTPS subscriptions stay "pending confirmation" until the endpoint confirms
# the message SNS sends it.
resource "aws_sns_topic_subscription" "alerts" {
  for_each = local.subscriptions

  topic_arn = aws_sns_topic.alerts.arn
  protocol  = each.value.protocol
  endpoint  = each.value.endpoint
}

resource "aws_sns_topic_policy" "alerts" {
  arn    = aws_sns_topic.alerts.arn
  policy = data.aws_iam_policy_document.alerts.json
}

# A budget filtered on a user-defined tag reads $0 until that tag key is activated for
# cost allocation (https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/activating-tags.html).
# The key is account-wide: destroying this resource deactivates it for every root that
# relies on it, and only the management account of an organization may activate it.
resource "aws_ce_cost_allocation_tag" "filter" {
  count = var.create_budget && var.cost_filter_tag != null && var.activate_cost_allocation_tag ? 1 : 0

  tag_key = var.cost_filter_tag.key
  status  = "Active"
}

resource "aws_budgets_budget" "cost" {
  count = var.create_budget ? 1 : 0

  name         = "${var.name}-monthly"
  budget_type  = "COST"
  limit_amount = format("%.2f", var.monthly_budget_usd)
  limit_unit   = "USD"
  time_unit    = "MONTHLY"

  dynamic "cost_filter" {
    for_each = var.cost_filter_tag == null ? [] : [var.cost_filter_tag]
    content {
      name   = "TagKeyValue"
      values = [format("user:%s$%s", cost_filter.value.key, cost_filter.value.value)]
    }
  }

  dynamic "cost_filter" {
    for_each = var.cost_filter_tag == null ? [1] : []
    content {
      name   = "Service"
      values = var.cost_filter_services
    }
  }

  dynamic "notification" {
    for_each = local.notifications
    content {
      comparison_operator        = "GREATER_THAN"
      threshold                  = notification.value.threshold
      threshold_type             = "PERCENTAGE"
      notification_type          = notification.value.type
      subscriber_email_addresses = var.notification_emails
      subscriber_sns_topic_arns  = [aws_sns_topic.alerts.arn]
    }
  }

  tags = var.tags

  depends_on = [aws_sns_topic_policy.alerts]
}

locals {
  # One definition per alarm; the shared settings (period, actions, missing data) are
  # written once in the resource below. Provisioned-concurrency alarms watch the alias.
  alarm_definitions = {
    errors = {
      description = "Invocation errors of ${coalesce(var.function_name, "-")} above ${var.errors_threshold} per ${var.alarm_period_seconds}s."
      metric_name = "Errors"
      dimensions  = tomap({ FunctionName = var.function_name })
      on_alias    = false
      statistic   = "Sum"
      threshold   = var.errors_threshold
    }
    throttles = {
      description = "Throttled invocations of ${coalesce(var.function_name, "-")}: concurrency limit reached."
      metric_name = "Throttles"
      dimensions  = tomap({ FunctionName = var.function_name })
      on_alias    = false
      statistic   = "Sum"
      threshold   = var.throttles_threshold
    }
    duration-p99 = {
      description = "p99 duration of ${coalesce(var.function_name, "-")} above ${var.duration_alarm_ratio * 100}% of its ${var.function_timeout_seconds}s timeout."
      metric_name = "Duration"
      dimensions  = tomap({ FunctionName = var.function_name })
      on_alias    = false
      statistic   = "p99"
      threshold   = floor(var.function_timeout_seconds * 1000 * var.duration_alarm_ratio)
    }
    pc-spillover = {
      description = "Invocations of ${local.alias_resource} served beyond provisioned concurrency (cold starts)."
      metric_name = "ProvisionedConcurrencySpilloverInvocations"
      dimensions  = tomap({ FunctionName = var.function_name, Resource = local.alias_resource })
      on_alias    = true
      statistic   = "Sum"
      threshold   = var.spillover_threshold
    }
    pc-utilization = {
      description = "Maximum provisioned concurrency utilization of ${local.alias_resource} above ${var.utilization_threshold * 100}%."
      metric_name = "ProvisionedConcurrencyUtilization"
      dimensions  = tomap({ FunctionName = var.function_name, Resource = local.alias_resource })
      on_alias    = true
      statistic   = "Maximum"
      threshold   = var.utilization_threshold
    }
  }
  alarms = {
    for key, alarm in local.alarm_definitions : key => alarm
    if local.alarms_enabled && (var.provisioned_concurrency_alarms || !alarm.on_alias)
  }
}

resource "aws_cloudwatch_metric_alarm" "lambda" {
  for_each = local.alarms

  alarm_name        = "${var.name}-${each.key}"
  alarm_description = each.value.description
  namespace         = "AWS/Lambda"
  metric_name       = each.value.metric_name
  dimensions        = each.value.dimensions
  # Percentiles are extended statistics; Sum, Maximum, … are plain ones.
  statistic           = startswith(each.value.statistic, "p") ? null : each.value.statistic
  extended_statistic  = startswith(each.value.statistic, "p") ? each.value.statistic : null
  period              = var.alarm_period_seconds
  evaluation_periods  = var.evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_action_arns
  ok_actions          = local.alarm_action_arns
  tags                = var.tags
}
