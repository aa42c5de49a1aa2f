provider "aws" {
  region = "eu-west-1"
}

module "model_store" {
  source = "../.."

  name       = "ml-inference-example-models"
  vpc_id     = "vpc-0123456789abcdef0"
  subnet_ids = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]

  tags = {
    Project = "ml-inference-example"
  }
}

output "access_point_arn" {
  value = module.model_store.access_point_arn
}
