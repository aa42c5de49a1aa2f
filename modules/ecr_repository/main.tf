data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  lambda_source_arns = length(var.lambda_source_arns) > 0 ? var.lambda_source_arns : [
    "arn:${data.aws_partition.current.partition}:lambda:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:function:*",
  ]
}

resource "aws_ecr_repository" "this" {
  #checkov:skip=CKV_AWS_136:KMS is optional (kms_key_arn); the AES256 default avoids a customer managed key per repository and still encrypts at rest.
  name = var.name
  # Deploys pin digests; immutable tags make a tag mean one image forever.
  image_tag_mutability = "IMMUTABLE"
  force_delete         = var.force_delete

  image_scanning_configuration {
    scan_on_push = var.scan_on_push
  }

  encryption_configuration {
    encryption_type = var.kms_key_arn == null ? "AES256" : "KMS"
    kms_key         = var.kms_key_arn
  }

  tags = var.tags
}

# Which images expire. Lambda versions reference their image by digest, and an older
# version can only be rolled back to while its image exists. ECR never lets a rule expire
# an image that a higher-priority rule selected
# (https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html), so:
# 1. untagged images (never a deploy: every push is tagged ENV-<digest>) expire after days;
# 2. images with a protected tag prefix (release-… by default: push with --tag release-N
#    what you may roll back to) are kept, up to protected_images_kept of them;
# 3. of all other images the newest keep_last_images stay.
locals {
  untagged_rule = {
    rulePriority = 1
    description  = "Expire untagged images after ${var.untagged_expire_days} day(s)"
    selection = {
      tagStatus   = "untagged"
      countType   = "sinceImagePushed"
      countUnit   = "days"
      countNumber = var.untagged_expire_days
    }
    action = { type = "expire" }
  }
  protected_rules = [
    for index, prefix in var.protected_tag_prefixes : {
      rulePriority = 2 + index
      description  = "Keep up to ${var.protected_images_kept} images tagged ${prefix}* (rollback targets)"
      selection = {
        tagStatus     = "tagged"
        tagPrefixList = [prefix]
        countType     = "imageCountMoreThan"
        countNumber   = var.protected_images_kept
      }
      action = { type = "expire" }
    }
  ]
  # A rule on tagStatus "any" must have the highest priority (evaluated last).
  any_rule = {
    rulePriority = 2 + length(var.protected_tag_prefixes)
    description  = "Keep the last ${var.keep_last_images} images that no earlier rule selected"
    selection = {
      tagStatus   = "any"
      countType   = "imageCountMoreThan"
      countNumber = var.keep_last_images
    }
    action = { type = "expire" }
  }
}

resource "aws_ecr_lifecycle_policy" "this" {
  repository = aws_ecr_repository.this.name

  policy = jsonencode({
    rules = concat([local.untagged_rule], local.protected_rules, [local.any_rule])
  })
}

# Lambda pulls the image with the service principal; limit it to our functions.
data "aws_iam_policy_document" "lambda_pull" {
  statement {
    sid     = "LambdaECRImageRetrievalPolicy"
    effect  = "Allow"
    actions = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    condition {
      test     = "StringLike"
      variable = "aws:sourceArn"
      values   = local.lambda_source_arns
    }
  }
}

resource "aws_ecr_repository_policy" "this" {
  repository = aws_ecr_repository.this.name
  policy     = data.aws_iam_policy_document.lambda_pull.json
}
