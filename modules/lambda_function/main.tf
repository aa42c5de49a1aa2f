data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region
  account_id = data.aws_caller_identity.current.account_id

  # The Region in the ECR host of image_uri (<account>.dkr.ecr.<region>.amazonaws.com).
  image_region = try(split(".", var.image_uri)[3], "")

  alias_name     = "live"
  log_group_name = "/aws/lambda/${var.function_name}"
  # Built from known parts (not the resource's computed arn) so the role policy renders at plan time.
  log_group_arn = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.log_group_name}"

  model_s3_bucket = var.model_s3_uri == null ? null : split("/", trimprefix(var.model_s3_uri, "s3://"))[0]
  model_s3_prefix = var.model_s3_uri == null ? null : join("/", slice(split("/", trimprefix(var.model_s3_uri, "s3://")), 1, length(split("/", trimprefix(var.model_s3_uri, "s3://")))))

  # The runtime contract (see the project README): only what the enabled features need.
  contract_environment = merge(
    var.efs == null ? {} : { MODEL_EFS_DIR = var.efs.local_mount_path },
    var.model_s3_uri == null ? {} : { MODEL_S3_URI = var.model_s3_uri },
    var.s3_batch == null ? {} : {
      INPUT_PREFIX  = var.s3_batch.input_prefix
      OUTPUT_BUCKET = var.s3_batch.output_bucket
      OUTPUT_PREFIX = var.s3_batch.output_prefix
      # A large object resumes over the invocations Lambda makes of one event (the first
      # plus its retries); after the last it must end as a permanent failure, not retry.
      S3_MAX_INVOCATIONS = tostring(var.async_maximum_retry_attempts + 1)
    },
  )
  environment = merge(var.environment_variables, local.contract_environment)

  # The S3 flow stops taking records once less than this is left of an invocation, so a
  # timeout at or under it can never finish an object (ml_runtime's S3_STOP_MARGIN_MS).
  s3_stop_margin_ms = try(tonumber(var.environment_variables["S3_STOP_MARGIN_MS"]), 10000)

  # IAM role names are at most 64 characters: "<function_name>-exec" would be 69 for a
  # 64-character function name, so long names are cut and keep a hash to stay unique.
  role_name = length(var.function_name) <= 59 ? "${var.function_name}-exec" : "${substr(var.function_name, 0, 50)}-${substr(sha256(var.function_name), 0, 8)}-exec"

  # A public URL needs resource-policy statements that let anyone call it (see below).
  public_function_url = try(var.function_url.authorization_type, null) == "NONE"

  # The event invoke configuration exists only when it differs from Lambda's defaults
  # (2 retries, 6 hours) or routes failures somewhere.
  async_configured = var.on_failure_destination_arn != null || var.async_maximum_retry_attempts != 2 || var.async_maximum_event_age_seconds != 21600

  # Objects an S3 Batch Operations job hands to the function, when they lie outside the
  # S3 flow's input prefix (which the role may read already).
  batch_input = try(var.batch_operations.input_bucket, null) == null ? null : {
    bucket = var.batch_operations.input_bucket
    prefix = var.batch_operations.input_prefix
  }

  failure_targets = compact([var.dead_letter_target_arn, var.on_failure_destination_arn])
  sqs_targets     = [for a in local.failure_targets : a if can(regex("^arn:[^:]+:sqs:", a))]
  sns_targets     = [for a in local.failure_targets : a if can(regex("^arn:[^:]+:sns:", a))]
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:KMS is optional (log_kms_key_arn); CloudWatch Logs encrypts at rest by default and a CMK needs a key policy the caller owns.
  #checkov:skip=CKV_AWS_338:Retention is an input (log_retention_days, validated); inference logs rarely need a year and storage is billed.
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = local.role_name
  description        = "Execution role of ${var.function_name}: only what its enabled features need."
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

# One document, one statement per enabled feature. Resources are the narrowest ARNs that
# exist; the only "*" are actions IAM cannot scope (EC2 ENI management for VPC access,
# X-Ray segment upload), each present only when that feature is on.
data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "WriteOwnLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${local.log_group_arn}:*"]
  }

  dynamic "statement" {
    for_each = var.s3_batch == null ? [] : [var.s3_batch]
    content {
      sid    = "ReadBatchInput"
      effect = "Allow"
      # Versioned reads let a result name the exact input version it came from.
      actions   = ["s3:GetObject", "s3:GetObjectVersion"]
      resources = ["arn:${local.partition}:s3:::${statement.value.input_bucket}/${statement.value.input_prefix}*"]
    }
  }

  dynamic "statement" {
    for_each = var.s3_batch == null ? [] : [var.s3_batch]
    content {
      sid    = "WriteBatchOutput"
      effect = "Allow"
      # Large results go up as multipart uploads that are aborted when a line fails;
      # reading its own results back lets a stale event leave a newer result alone.
      # Deleting retires an older error object and the progress document of a finished
      # object (under <output_prefix>.progress/).
      actions   = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
      resources = ["arn:${local.partition}:s3:::${statement.value.output_bucket}/${statement.value.output_prefix}*"]
    }
  }

  dynamic "statement" {
    for_each = var.s3_batch == null ? [] : [var.s3_batch]
    content {
      sid    = "ListBatchBuckets"
      effect = "Allow"
      # Without s3:ListBucket, S3 answers a HEAD of a missing key (a result not yet
      # written, an input deleted since its event) with 403 instead of 404, and the flow
      # cannot tell "absent" from "refused" (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html).
      # ListBucketMultipartUploads finds an unfinished upload to resume or abort.
      actions = ["s3:ListBucket", "s3:ListBucketMultipartUploads"]
      resources = distinct([
        "arn:${local.partition}:s3:::${statement.value.input_bucket}",
        "arn:${local.partition}:s3:::${statement.value.output_bucket}",
      ])
    }
  }

  dynamic "statement" {
    for_each = local.batch_input == null ? [] : [local.batch_input]
    content {
      sid       = "ReadBatchOperationsInput"
      effect    = "Allow"
      actions   = ["s3:GetObject", "s3:GetObjectVersion"]
      resources = ["arn:${local.partition}:s3:::${statement.value.bucket}/${statement.value.prefix}*"]
    }
  }

  dynamic "statement" {
    for_each = var.model_s3_uri == null ? [] : [1]
    content {
      sid       = "ReadModelArtefact"
      effect    = "Allow"
      actions   = ["s3:GetObject"]
      resources = ["arn:${local.partition}:s3:::${local.model_s3_bucket}/${local.model_s3_prefix}*"]
    }
  }

  dynamic "statement" {
    for_each = var.model_s3_uri == null ? [] : [1]
    content {
      sid       = "ListModelArtefact"
      effect    = "Allow"
      actions   = ["s3:ListBucket"]
      resources = ["arn:${local.partition}:s3:::${local.model_s3_bucket}"]

      condition {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = ["${local.model_s3_prefix}*"]
      }
    }
  }

  dynamic "statement" {
    for_each = var.efs == null ? [] : [var.efs]
    content {
      sid       = "MountModelStore"
      effect    = "Allow"
      actions   = statement.value.read_only ? ["elasticfilesystem:ClientMount"] : ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
      resources = [statement.value.file_system_arn]

      condition {
        test     = "StringEquals"
        variable = "elasticfilesystem:AccessPointArn"
        values   = [statement.value.access_point_arn]
      }
    }
  }

  dynamic "statement" {
    for_each = var.vpc_config == null ? [] : [1]
    content {
      sid    = "ManageVpcNetworkInterfaces"
      effect = "Allow"
      actions = [
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
      ]
      # These EC2 actions support no resource-level scoping for this use (AWS's own
      # AWSLambdaVPCAccessExecutionRole grants them on "*").
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = var.tracing_mode == "Active" ? [1] : []
    content {
      sid     = "WriteTraces"
      effect  = "Allow"
      actions = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      # X-Ray segment upload has no resource-level permissions.
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = length(local.sqs_targets) == 0 ? [] : [1]
    content {
      sid       = "SendFailedEventsToQueue"
      effect    = "Allow"
      actions   = ["sqs:SendMessage"]
      resources = local.sqs_targets
    }
  }

  dynamic "statement" {
    for_each = length(local.sns_targets) == 0 ? [] : [1]
    content {
      sid       = "PublishFailedEventsToTopic"
      effect    = "Allow"
      actions   = ["sns:Publish"]
      resources = local.sns_targets
    }
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "DecryptEnvironment"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = local.role_name
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.execution.json
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_272:Code signing applies to .zip packages only; container images are pinned by digest instead.
  #checkov:skip=CKV_AWS_117:VPC is needed only for EFS (vpc_config); outside a VPC the function needs no NAT or endpoints to reach S3.
  #checkov:skip=CKV_AWS_116:The dead-letter queue is an input (dead_letter_target_arn); synchronous HTTP calls have no use for one.
  #checkov:skip=CKV_AWS_173:Environment variables hold no secrets (paths and bucket names); kms_key_arn encrypts them with a CMK when wanted.
  #checkov:skip=CKV_AWS_115:Reserved concurrency is an input (reserved_concurrent_executions); reserving by default would take capacity from the account pool.
  #checkov:skip=CKV_AWS_50:X-Ray tracing is an input (tracing_mode); Active tracing costs per trace and needs an extra role permission.
  function_name = var.function_name
  description   = var.description
  role          = aws_iam_role.this.arn
  package_type  = "Image"
  image_uri     = var.image_uri
  architectures = [var.architecture]
  memory_size   = var.memory_size
  timeout       = var.timeout
  kms_key_arn   = var.kms_key_arn
  # Provisioned concurrency needs a published version: every change publishes one and
  # the alias `live` moves to it.
  publish                        = true
  reserved_concurrent_executions = var.reserved_concurrent_executions

  ephemeral_storage {
    size = var.ephemeral_storage_size
  }

  tracing_config {
    mode = var.tracing_mode
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.this.name
    # Set explicitly: left out, Lambda stores its defaults (INFO, INFO) for JSON logs, the
    # provider then sees a change on every plan and every apply publishes a new version
    # (https://github.com/hashicorp/terraform-provider-aws/issues/42181).
    application_log_level = var.application_log_level
    system_log_level      = var.system_log_level
  }

  # SnapStart snapshots the initialised environment of each published version; the
  # alias `live` always points at one (https://docs.aws.amazon.com/lambda/latest/dg/snapstart.html).
  dynamic "snap_start" {
    for_each = var.snap_start ? [1] : []
    content {
      apply_on = "PublishedVersions"
    }
  }

  dynamic "environment" {
    for_each = length(local.environment) == 0 ? [] : [1]
    content {
      variables = local.environment
    }
  }

  dynamic "dead_letter_config" {
    for_each = var.dead_letter_target_arn == null ? [] : [var.dead_letter_target_arn]
    content {
      target_arn = dead_letter_config.value
    }
  }

  dynamic "vpc_config" {
    for_each = var.vpc_config == null ? [] : [var.vpc_config]
    content {
      subnet_ids         = vpc_config.value.subnet_ids
      security_group_ids = vpc_config.value.security_group_ids
    }
  }

  dynamic "file_system_config" {
    for_each = var.efs == null ? [] : [var.efs]
    content {
      arn              = file_system_config.value.access_point_arn
      local_mount_path = file_system_config.value.local_mount_path
    }
  }

  tags = var.tags

  # The role policy must exist before the first version runs (logs, EFS mount, S3).
  depends_on = [aws_iam_role_policy.execution, aws_cloudwatch_log_group.this]

  lifecycle {
    # Lambda pulls only from an ECR repository in the function's own Region (another
    # account's is fine): https://docs.aws.amazon.com/lambda/latest/dg/lambda-images.html
    precondition {
      condition     = local.image_region == local.region
      error_message = "image_uri is in ECR in ${local.image_region}, but the function is in ${local.region}: Lambda pulls images only from an ECR repository in the function's Region. Push the image to that Region's repository (python build/push_image.py --env ENV uses the environment's aws_region)."
    }

    precondition {
      condition     = var.image_architecture == null || var.image_architecture == var.architecture
      error_message = "The image's architecture (image_architecture) does not match the function's architecture: rebuild with `python build/push_image.py --env ENV` for the function's architecture, or change architecture to the image's."
    }

    precondition {
      condition     = var.efs == null || var.vpc_config != null
      error_message = "efs needs vpc_config: Lambda reaches EFS mount targets only from inside the VPC (pass the subnets and the function security group)."
    }

    precondition {
      condition     = var.s3_batch == null || var.timeout * 1000 > local.s3_stop_margin_ms
      error_message = "The S3 flow needs a timeout longer than its stop margin (S3_STOP_MARGIN_MS, 10,000 ms unless set in environment_variables): each invocation stops taking records once less than that is left, so this timeout could never finish an object. Batch work suits minutes (the S3 flow uses the whole timeout and resumes large objects); raise timeout, or lower S3_STOP_MARGIN_MS."
    }

    precondition {
      condition     = var.batch_operations == null || var.s3_batch != null
      error_message = "batch_operations needs s3_batch: a Batch Operations job's results are written where the S3 flow writes them (OUTPUT_BUCKET, OUTPUT_PREFIX)."
    }
  }
}

resource "aws_lambda_alias" "live" {
  name             = local.alias_name
  description      = "Points at the latest published version; provisioned concurrency and triggers attach here, never to $LATEST."
  function_name    = aws_lambda_function.this.function_name
  function_version = aws_lambda_function.this.version
  # No routing_config on purpose: weighted alias routing and provisioned concurrency do not mix.
}

# Asynchronous invocations (S3 events) of the alias: how often Lambda retries a failed
# event, how old an event may get, and where the record of one that failed every retry
# goes (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html).
resource "aws_lambda_function_event_invoke_config" "this" {
  count = local.async_configured ? 1 : 0

  function_name                = aws_lambda_function.this.function_name
  qualifier                    = aws_lambda_alias.live.name
  maximum_retry_attempts       = var.async_maximum_retry_attempts
  maximum_event_age_in_seconds = var.async_maximum_event_age_seconds

  dynamic "destination_config" {
    for_each = var.on_failure_destination_arn == null ? [] : [var.on_failure_destination_arn]
    content {
      on_failure {
        destination = destination_config.value
      }
    }
  }

  # The role must be allowed to send to the destination before Lambda checks it.
  depends_on = [aws_iam_role_policy.execution]
}

resource "aws_lambda_function_url" "this" {
  count = var.function_url == null ? 0 : 1

  function_name      = aws_lambda_function.this.function_name
  qualifier          = aws_lambda_alias.live.name
  authorization_type = var.function_url.authorization_type
  invoke_mode        = "BUFFERED"
}

# A public URL (authorization NONE) answers 403 to everyone unless the resource policy
# lets them in. Since October 2025 a new function URL needs two statements for that:
# lambda:InvokeFunctionUrl limited to URL calls of auth type NONE, and
# lambda:InvokeFunction limited to calls that come through a function URL
# (https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html). Both on the alias, the
# URL's qualifier; neither exists for an AWS_IAM URL.
resource "aws_lambda_permission" "public_url" {
  #checkov:skip=CKV_AWS_301:Public on purpose and only when function_url.authorization_type = "NONE" is asked for; scoped to function URL calls of auth type NONE.
  count = local.public_function_url ? 1 : 0

  statement_id           = "AllowPublicFunctionUrl"
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = aws_lambda_function.this.function_name
  qualifier              = aws_lambda_alias.live.name
  principal              = "*"
  function_url_auth_type = "NONE"
}

resource "aws_lambda_permission" "public_url_invoke" {
  #checkov:skip=CKV_AWS_301:Public on purpose and only when function_url.authorization_type = "NONE" is asked for; limited to invocations that come through the function URL.
  count = local.public_function_url ? 1 : 0

  statement_id             = "AllowPublicInvokeThroughFunctionUrl"
  action                   = "lambda:InvokeFunction"
  function_name            = aws_lambda_function.this.function_name
  qualifier                = aws_lambda_alias.live.name
  principal                = "*"
  invoked_via_function_url = true
}

resource "aws_lambda_permission" "s3_invoke" {
  count = var.s3_batch == null ? 0 : 1

  statement_id   = "AllowS3InvokeFromInputBucket"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.this.function_name
  qualifier      = aws_lambda_alias.live.name
  principal      = "s3.amazonaws.com"
  source_arn     = "arn:${local.partition}:s3:::${var.s3_batch.input_bucket}"
  source_account = local.account_id
}

# S3 keeps one notification configuration per bucket: this resource owns the input
# bucket's notifications, so the input bucket should be dedicated to this flow.
resource "aws_s3_bucket_notification" "input" {
  count = var.s3_batch == null ? 0 : 1

  bucket = var.s3_batch.input_bucket

  lambda_function {
    id                  = "${var.function_name}-batch-input"
    lambda_function_arn = aws_lambda_alias.live.arn
    events              = ["s3:ObjectCreated:*"]
    filter_prefix       = var.s3_batch.input_prefix
    filter_suffix       = var.s3_batch.input_suffix
  }

  depends_on = [aws_lambda_permission.s3_invoke]
}
