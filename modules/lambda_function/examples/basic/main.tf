provider "aws" {
  region = "eu-west-1"
}

module "function" {
  source = "../.."

  function_name      = "ml-inference-example"
  image_uri          = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/ml-inference@sha256:0000000000000000000000000000000000000000000000000000000000000000"
  image_architecture = "arm64"
  architecture       = "arm64"
  memory_size        = 2048
  timeout            = 30
  tracing_mode       = "Active"
  model_s3_uri       = "s3://example-models/all-minilm-l6-v2/"

  # Cold starts resume from a snapshot of the initialised version (no EFS, /tmp <= 512 MB).
  snap_start = true

  s3_batch = {
    input_bucket  = "example-batch-input"
    input_prefix  = "input/"
    output_bucket = "example-batch-output"
    output_prefix = "output/"
  }

  function_url = {}

  tags = {
    Project = "ml-inference-example"
  }
}

output "alias_arn" {
  value = module.function.alias_arn
}
