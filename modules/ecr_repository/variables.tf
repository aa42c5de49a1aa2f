variable "name" {
  description = "Repository name (lowercase letters, digits, and . _ - / separators), e.g. \"ml-inference/dev\"."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", var.name)) && length(var.name) >= 2 && length(var.name) <= 256
    error_message = "name must be 2-256 characters of lowercase letters and digits, separated by single '.', '_', '-' or '/' (ECR repository naming rules)."
  }
}

variable "scan_on_push" {
  description = "Run ECR basic image scanning on every push."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "ARN of a customer managed KMS key to encrypt images with. null uses AES256 (ECR-managed keys)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/([0-9a-f-]{36}|mrk-[0-9a-f]{32})$", var.kms_key_arn))
    error_message = "kms_key_arn must be null or a KMS key ARN like arn:aws:kms:eu-west-1:123456789012:key/<uuid> (or key/mrk-<32 hex> for a multi-Region key)."
  }
}

variable "keep_last_images" {
  description = "How many images without a protected tag prefix the lifecycle policy keeps (older ones expire). Each deploy pushes one image, so this is also how many past versions can be rolled back to without a release tag."
  type        = number
  default     = 10

  validation {
    condition     = var.keep_last_images >= 1 && var.keep_last_images <= 1000 && floor(var.keep_last_images) == var.keep_last_images
    error_message = "keep_last_images must be a whole number from 1 to 1000."
  }
}

variable "protected_tag_prefixes" {
  description = "Tag prefixes whose images the lifecycle policy keeps (up to protected_images_kept each): tag what you may roll back to, e.g. `python build/push_image.py --env prod --tag release-42`."
  type        = list(string)
  default     = ["release-"]

  validation {
    condition     = length(var.protected_tag_prefixes) <= 10 && length(distinct(var.protected_tag_prefixes)) == length(var.protected_tag_prefixes) && alltrue([for p in var.protected_tag_prefixes : can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", p))])
    error_message = "protected_tag_prefixes must hold at most 10 distinct tag prefixes of letters, digits, '_', '.' and '-' (not starting with '.' or '-'), e.g. [\"release-\"]."
  }
}

variable "protected_images_kept" {
  description = "How many images of each protected tag prefix the lifecycle policy keeps (the newest)."
  type        = number
  default     = 1000

  validation {
    condition     = var.protected_images_kept >= 1 && var.protected_images_kept <= 10000 && floor(var.protected_images_kept) == var.protected_images_kept
    error_message = "protected_images_kept must be a whole number from 1 to 10000."
  }
}

variable "untagged_expire_days" {
  description = "Days after which untagged images (left behind by pushes) expire."
  type        = number
  default     = 1

  validation {
    condition     = var.untagged_expire_days >= 1 && var.untagged_expire_days <= 365 && floor(var.untagged_expire_days) == var.untagged_expire_days
    error_message = "untagged_expire_days must be a whole number from 1 to 365."
  }
}

variable "lambda_source_arns" {
  description = "Lambda function ARN patterns allowed to pull images through the repository policy (aws:sourceArn). Empty allows every function of this account and region."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.lambda_source_arns : can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-*]+:([0-9]{12}|\\*):function:.+$", a))])
    error_message = "Each lambda_source_arns entry must be a Lambda function ARN or pattern, e.g. arn:aws:lambda:eu-west-1:123456789012:function:my-fn*."
  }
}

variable "force_delete" {
  description = "Allow Terraform to delete the repository while it still holds images. Keep false outside throw-away environments."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags applied to the repository."
  type        = map(string)
  default     = {}
}
