provider "aws" {
  region = "eu-west-1"
}

# Every optional part switched on, to show the inputs; environments/ holds realistic mixes.
module "inference" {
  source = "../.."

  name                = "ml-inference-example"
  ecr_repository_name = "ml-inference/example"
  image_uri           = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/ml-inference/example@sha256:0000000000000000000000000000000000000000000000000000000000000000"
  image_architecture  = "arm64"
  architecture        = "arm64"
  memory_size         = 2048
  timeout             = 30
  model_s3_uri        = "s3://example-models/all-minilm-l6-v2/"

  enable_efs = true
  efs = {
    vpc_id = "vpc-0123456789abcdef0"
    # One subnet per Availability Zone gets a mount target; the function may use more.
    subnet_ids          = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
    function_subnet_ids = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1", "subnet-0123456789abcdef3", "subnet-0123456789abcdef4"]
  }

  enable_provisioned_concurrency = true
  provisioned_concurrency = {
    initial     = 1
    autoscaling = { min_capacity = 1, max_capacity = 10 }
    target_tracking = {
      target_utilization = 0.7
    }
    schedules = [
      { name = "weekday-peak", schedule = "cron(0 8 ? * MON-FRI *)", timezone = "Europe/Paris", min_capacity = 4, max_capacity = 10 },
      { name = "weekday-night", schedule = "cron(0 20 ? * MON-FRI *)", timezone = "Europe/Paris", min_capacity = 1, max_capacity = 3 },
    ]
  }

  enable_function_url = true

  enable_s3_batch = true
  s3_batch = {
    input_bucket  = "example-batch"
    input_prefix  = "input/"
    output_prefix = "output/"
  }

  on_failure_destination_arn = "arn:aws:sqs:eu-west-1:123456789012:ml-inference-example-failed-events"
  async_invocation = {
    maximum_retry_attempts    = 2
    maximum_event_age_seconds = 3600
  }
  batch_operations = {
    manifest_bucket = "example-batch"
    manifest_prefix = "manifests/"
    report_bucket   = "example-batch"
    report_prefix   = "reports/"
  }

  enable_alarms = true
  alerts = {
    emails          = ["ops@example.com"]
    https_endpoints = ["https://events.pagerduty.example.com/integration/0123/enqueue"]
  }
  enable_budget = true
  budget = {
    monthly_usd         = 100
    notification_emails = ["ops@example.com"]
  }

  tags = {
    Project = "ml-inference-example"
  }
}

output "alias_arn" {
  value = module.inference.alias_arn
}
