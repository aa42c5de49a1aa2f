provider "aws" {
  region = "eu-west-1"
}

module "ecr" {
  source = "../.."

  name             = "ml-inference/example"
  keep_last_images = 5

  tags = {
    Project = "ml-inference-example"
  }
}

output "repository_url" {
  value = module.ecr.repository_url
}
