# The role an S3 Batch Operations job assumes to run the function on every object of a
# manifest (operation LambdaInvoke, invocation schema 2.0, FunctionArn = the alias): invoke
# the alias, read the manifest, write the completion report. The function itself reads
# the objects and writes the results with its own execution role.
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-iam-role-policies.html

locals {
  batch_role_name = length(var.function_name) <= 55 ? "${var.function_name}-batchops" : "${substr(var.function_name, 0, 46)}-${substr(sha256(var.function_name), 0, 8)}-batchops"
  # Built from known parts so the policy renders at plan time.
  alias_arn = "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${var.function_name}:${local.alias_name}"
}

data "aws_iam_policy_document" "batch_operations_assume" {
  count = var.batch_operations == null ? 0 : 1

  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["batchoperations.s3.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

data "aws_iam_policy_document" "batch_operations" {
  count = var.batch_operations == null ? 0 : 1

  statement {
    sid       = "InvokeAlias"
    effect    = "Allow"
    actions   = ["lambda:InvokeFunction"]
    resources = [local.alias_arn]
  }

  statement {
    sid       = "ReadManifest"
    effect    = "Allow"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["arn:${local.partition}:s3:::${var.batch_operations.manifest_bucket}/${var.batch_operations.manifest_prefix}*"]
  }

  statement {
    sid       = "WriteCompletionReport"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = ["arn:${local.partition}:s3:::${var.batch_operations.report_bucket}/${var.batch_operations.report_prefix}*"]
  }

  statement {
    sid     = "LocateBuckets"
    effect  = "Allow"
    actions = ["s3:GetBucketLocation"]
    resources = distinct([
      "arn:${local.partition}:s3:::${var.batch_operations.manifest_bucket}",
      "arn:${local.partition}:s3:::${var.batch_operations.report_bucket}",
    ])
  }
}

resource "aws_iam_role" "batch_operations" {
  count = var.batch_operations == null ? 0 : 1

  name               = local.batch_role_name
  description        = "Assumed by S3 Batch Operations jobs that run ${var.function_name} (alias ${local.alias_name}) on the objects of a manifest."
  assume_role_policy = data.aws_iam_policy_document.batch_operations_assume[0].json
  tags               = var.tags
}

resource "aws_iam_role_policy" "batch_operations" {
  count = var.batch_operations == null ? 0 : 1

  name   = local.batch_role_name
  role   = aws_iam_role.batch_operations[0].id
  policy = data.aws_iam_policy_document.batch_operations[0].json
}
