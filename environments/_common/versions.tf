terraform {
  # 1.11: use_lockfile (S3-native state locking) is generally available from 1.11, and the
  # modules' validations compare variables with each other (1.9 and later).
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }

  # Partial configuration: bucket, key, region and use_lockfile = true come from
  # `terraform init -backend-config=backend.hcl` (see backend.hcl.example), so no
  # account-specific name is committed. use_lockfile locks the state with an S3
  # conditional write; no DynamoDB table is needed.
  backend "s3" {}
}
