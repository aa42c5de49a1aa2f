terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

# Unknown argument.
resource "aws_sns_topic" "unknown_argument" {
  name          = "t"
  no_such_field = "x"
}

# Missing required argument (role).
resource "aws_lambda_function" "missing_required" {
  function_name = "f"
  package_type  = "Image"
  image_uri     = "x"
}

# Block written as an attribute.
resource "aws_lambda_alias" "block_as_attribute" {
  name             = "live"
  function_name    = "f"
  function_version = "1"
  routing_config   = { additional_version_weights = { "2" = 0.5 } }
}

# Attribute written as a block.
resource "aws_ecr_repository" "attribute_as_block" {
  name = "r"
  image_tag_mutability {
    value = "IMMUTABLE"
  }
}

# Wrong type.
resource "aws_lambda_provisioned_concurrency_config" "wrong_type" {
  function_name                     = "f"
  qualifier                         = "live"
  provisioned_concurrent_executions = ["two"]
}

# Reference to something undeclared.
resource "aws_sns_topic" "undeclared_reference" {
  name = aws_sqs_queue.nowhere.name
}

# Required block missing (scalable_target_action: min_items = 1).
resource "aws_appautoscaling_scheduled_action" "missing_block" {
  name               = "peak"
  service_namespace  = "lambda"
  resource_id        = "function:f:live"
  scalable_dimension = "lambda:function:ProvisionedConcurrency"
  schedule           = "cron(0 8 * * ? *)"
}

# Too many blocks (image_scanning_configuration: max_items = 1).
resource "aws_ecr_repository" "too_many_blocks" {
  name = "r2"
  image_scanning_configuration {
    scan_on_push = true
  }
  image_scanning_configuration { # the second one
    scan_on_push = false
  }
}
