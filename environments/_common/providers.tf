provider "aws" {
  region = var.aws_region

  # Every resource carries these; budgets filter spend on Project (activate it as a
  # cost-allocation tag in Billing).
  default_tags {
    tags = {
      Project     = var.name
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}
