terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 6.0" }
  }
}

provider "aws" {
  region = "eu-west-1"
  default_tags {
    tags = { project = "tfoffline" }
  }
}

variable "name" {
  type = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{3,}$", var.name))
    error_message = "The name must start with a letter and hold at least 4 lowercase letters, digits or dashes."
  }
}

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

data "aws_iam_policy_document" "assume" {
  statement {
    sid     = "LambdaAssume"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "fn" {
  name               = var.name
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

resource "aws_sns_topic" "alerts" {
  name = "${var.name}-alerts"
  tags = { owner = "ml" }
}

resource "aws_lambda_function" "fn" {
  function_name = var.name
  role          = aws_iam_role.fn.arn
  package_type  = "Image"
  image_uri     = "${data.aws_caller_identity.current.account_id}.dkr.ecr.${data.aws_region.current.region}.${data.aws_partition.current.dns_suffix}/${var.name}@sha256:0000000000000000000000000000000000000000000000000000000000000000"
  architectures = ["arm64"]
  memory_size   = 2048
  timeout       = 30
  ephemeral_storage {
    size = 1024
  }
}

output "topic_arn" {
  value = aws_sns_topic.alerts.arn
}

output "assume_role_policy" {
  value = data.aws_iam_policy_document.assume.json
}

output "trimmed_role_arn" {
  value = provider::aws::trim_iam_role_path("arn:aws:iam::123456789012:role/ml/serving/embedder")
}

output "arn_parts" {
  value = provider::aws::arn_parse("arn:aws:lambda:eu-west-1:123456789012:function:embedder")
}
