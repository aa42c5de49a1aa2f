terraform {
  required_version = ">= 1.5"

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
