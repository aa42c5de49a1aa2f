"""Plans through the fixtures: real Terraform, the offline hashicorp/aws, tftest's parser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tftest

from tfoffline.harness import Session, use_real_provider
from tfoffline.pytest_plugin import PlanFn

CONFIGS = Path(__file__).parent / "configs"
# With TFOFFLINE_REAL_PROVIDER=1 these run against a real account and real apply.
offline_only = pytest.mark.skipif(
    use_real_provider(), reason="checks the offline provider's fixed test account or apply refusal"
)


@pytest.fixture(scope="module")
def small_plan(tfoffline_session: Session) -> tftest.TerraformPlanOutput:
    return tfoffline_session.plan(CONFIGS / "small", tf_vars={"name": "embedder-dev"})


@offline_only
def test_plan_creates_resources_with_configured_values(
    small_plan: tftest.TerraformPlanOutput,
) -> None:
    fn = small_plan.resource_changes["aws_lambda_function.fn"]["change"]
    assert fn["actions"] == ["create"]
    assert fn["after"]["function_name"] == "embedder-dev"
    assert fn["after"]["architectures"] == ["arm64"]
    assert fn["after"]["ephemeral_storage"] == [{"size": 1024}]
    assert fn["after"]["image_uri"].startswith(
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/embedder-dev@sha256:"
    )
    assert small_plan.resources["aws_sns_topic.alerts"]["values"]["name"] == "embedder-dev-alerts"


def test_computed_values_are_unknown_until_apply(small_plan: tftest.TerraformPlanOutput) -> None:
    fn = small_plan.resource_changes["aws_lambda_function.fn"]["change"]
    for computed in ("arn", "invoke_arn", "qualified_arn", "version", "last_modified"):
        assert fn["after_unknown"][computed] is True, computed
        assert computed not in fn["after"]
    # A reference to a computed attribute is unknown too, as with the real provider.
    assert fn["after_unknown"]["role"] is True
    # Optional arguments that are not computed stay null: defaults are the provider's.
    assert fn["after"]["kms_key_arn"] is None
    assert small_plan["output_changes"]["topic_arn"]["after_unknown"] is True


def test_region_and_tags_all_are_known_at_plan_time(
    small_plan: tftest.TerraformPlanOutput,
) -> None:
    topic = small_plan.resource_changes["aws_sns_topic.alerts"]["change"]["after"]
    assert topic["region"] == "eu-west-1"
    assert topic["tags_all"] == {"owner": "ml", "project": "tfoffline"}
    # Provider default_tags alone are enough for tags_all to be known.
    fn = small_plan.resource_changes["aws_lambda_function.fn"]["change"]["after"]
    assert fn["tags_all"] == {"project": "tfoffline"}


@offline_only
def test_policy_document_is_rendered(small_plan: tftest.TerraformPlanOutput) -> None:
    policy = json.loads(small_plan.outputs["assume_role_policy"])
    assert policy == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "LambdaAssume",
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}},
            }
        ],
    }
    role = small_plan.resource_changes["aws_iam_role.fn"]["change"]["after"]
    assert json.loads(role["assume_role_policy"]) == policy


def test_failing_variable_validation_reports_terraform_message(
    tf_plan: PlanFn, tmp_path: Path
) -> None:
    with pytest.raises(tftest.TerraformTestError) as excinfo:
        tf_plan(CONFIGS / "small", tf_vars={"name": "No"})
    message = str(excinfo.value)
    assert "Error: Invalid value for variable" in message
    # The whole message, unwrapped, as the variable's validation block states it.
    assert (
        "The name must start with a letter and hold at least 4 lowercase letters, "
        "digits or dashes." in message
    )


@offline_only
def test_apply_is_refused(tfoffline_session: Session, tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('resource "aws_sns_topic" "t" {\n  name = "t"\n}\n')
    test = tfoffline_session.setup(tmp_path)
    with pytest.raises(tftest.TerraformTestError) as excinfo:
        test.apply(tf_vars={})
    assert "only plans: apply is refused" in str(excinfo.value)


def test_provider_functions(small_plan: tftest.TerraformPlanOutput) -> None:
    assert small_plan.outputs["trimmed_role_arn"] == "arn:aws:iam::123456789012:role/embedder"
    assert small_plan.outputs["arn_parts"] == {
        "partition": "aws",
        "service": "lambda",
        "region": "eu-west-1",
        "account_id": "123456789012",
        "resource": "function:embedder",
    }
