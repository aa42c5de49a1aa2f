"""End-to-end: a small configuration planned through the fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
import tftest

MAIN_TF = """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 6.0" }
  }
}
provider "aws" {
  region = "eu-west-1"
}
variable "name" {
  type = string
  validation {
    condition     = length(var.name) > 3
    error_message = "The name must be longer than 3 characters."
  }
}
resource "aws_sns_topic" "alerts" {
  name = var.name
}
output "topic_arn" {
  value = aws_sns_topic.alerts.arn
}
"""


def test_plan_of_small_configuration(tmp_path: Path, tf_plan) -> None:
    (tmp_path / "main.tf").write_text(MAIN_TF)
    plan = tf_plan(tmp_path, tf_vars={"name": "alerts-dev"})
    topic = plan.resource_changes["aws_sns_topic.alerts"]
    assert topic["change"]["actions"] == ["create"]
    assert topic["change"]["after"]["name"] == "alerts-dev"
    assert topic["change"]["after_unknown"]["arn"] is True
    assert plan.resources["aws_sns_topic.alerts"]["values"]["region"] == "eu-west-1"


def test_variable_validation_message_is_reported(tmp_path: Path, tf_plan) -> None:
    (tmp_path / "main.tf").write_text(MAIN_TF)
    with pytest.raises(tftest.TerraformTestError) as excinfo:
        tf_plan(tmp_path, tf_vars={"name": "ab"})
    assert "The name must be longer than 3 characters." in str(excinfo.value)
