"""What a real apply or a month in production would hit, checked at plan time.

Each test names the defect or risk it guards against (issue 12): a plan of one root that
calls several modules, the environments' own plans, and second plans over the state an
apply of the first plan would leave, changed where AWS changes it behind Terraform.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# A plan's read-only views (PlanView in conftest.py).
PlanView = Any

ZERO = "0" * 64
IMAGE_URI = f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/ml-inference@sha256:{ZERO}"
MRK = "arn:aws:kms:eu-west-1:123456789012:key/mrk-0123456789abcdef0123456789abcdef"
# 64 characters, the longest function name Lambda accepts.
LONG_NAME = "ml-inference-" + "x" * 51
BATCH = {
    "input_bucket": "in-bucket",
    "input_prefix": "input/",
    "output_bucket": "out-bucket",
    "output_prefix": "output/",
}
FAILED_EVENTS_TOPIC = "arn:aws:sns:eu-west-1:123456789012:failed-events"

Plan = Callable[[Path], PlanView]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _in(view: PlanView, call: str, rtype: str) -> dict[str, dict[str, Any]]:
    return {a: v for a, v in view.of_type(rtype).items() if a.startswith(f"module.{call}.")}


def _sids(statements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in statements}


@pytest.fixture
def mixed(tf_sandbox: Any, planned: Plan) -> PlanView:
    """One plan for the module-level cases: a public and an IAM function, KMS multi-Region
    keys in every module that takes a key, cost-allocation tags on and off."""
    root = tf_sandbox.mixed_root(
        "apply-safety",
        {
            "public": (
                "lambda_function",
                {
                    "function_name": LONG_NAME,
                    "image_uri": IMAGE_URI,
                    "kms_key_arn": MRK,
                    "log_kms_key_arn": MRK,
                    "function_url": {"authorization_type": "NONE"},
                    "s3_batch": BATCH,
                    "on_failure_destination_arn": FAILED_EVENTS_TOPIC,
                    "async_maximum_retry_attempts": 0,
                    "async_maximum_event_age_seconds": 600,
                    "batch_operations": {
                        "manifest_bucket": "jobs-bucket",
                        "manifest_prefix": "manifests/",
                        "report_bucket": "jobs-bucket",
                        "report_prefix": "reports/",
                        "input_bucket": "archive-bucket",
                        "input_prefix": "2024/",
                    },
                },
            ),
            "private": (
                "lambda_function",
                {"function_name": "fn-iam", "image_uri": IMAGE_URI, "function_url": {}},
            ),
            "ecr": ("ecr_repository", {"name": "ml-inference/mrk", "kms_key_arn": MRK}),
            "efs": (
                "efs_model_store",
                {
                    "name": "store",
                    "vpc_id": "vpc-0123456789abcdef0",
                    "subnet_ids": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
                    "kms_key_arn": MRK,
                },
            ),
            "budget_on": (
                "budget_alarms",
                {
                    "name": "on",
                    "monthly_budget_usd": 10,
                    "cost_filter_tag": {"key": "Project", "value": "on"},
                },
            ),
            "budget_off": (
                "budget_alarms",
                {
                    "name": "off",
                    "monthly_budget_usd": 10,
                    "cost_filter_tag": {"key": "Project", "value": "off"},
                    "activate_cost_allocation_tag": False,
                },
            ),
        },
    )
    return planned(root)


# ---- defects --------------------------------------------------------------------------


def test_public_function_url_gets_both_permissions_on_the_alias(mixed: PlanView) -> None:
    permissions = {
        v["action"]: v
        for v in _in(mixed, "public", "aws_lambda_permission").values()
        if v["principal"] == "*"
    }
    assert len(permissions) == 2
    url, invoke = permissions["lambda:InvokeFunctionUrl"], permissions["lambda:InvokeFunction"]
    assert url["principal"] == "*" and url["function_url_auth_type"] == "NONE"
    assert invoke["principal"] == "*" and invoke["invoked_via_function_url"] is True
    for permission in (url, invoke):
        assert permission["qualifier"] == "live", "the URL serves the alias, not $LATEST"
        assert permission["function_name"] == LONG_NAME
    (function_url,) = _in(mixed, "public", "aws_lambda_function_url").values()
    assert function_url["authorization_type"] == "NONE"
    # An IAM-authorised URL gets no public statement at all.
    assert _in(mixed, "private", "aws_lambda_function_url")
    assert not _in(mixed, "private", "aws_lambda_permission")


def test_role_names_fit_iam_for_the_longest_function_name(mixed: PlanView) -> None:
    roles = {v["name"] for v in _in(mixed, "public", "aws_iam_role").values()}
    assert len(roles) == 2  # execution role and Batch Operations role
    for name in roles:
        assert len(name) <= 64, f"{name} ({len(name)} characters): IAM refuses it"
        assert name.startswith(LONG_NAME[:46])
    assert any(name.endswith("-exec") for name in roles)
    (private_role,) = _in(mixed, "private", "aws_iam_role").values()
    assert private_role["name"] == "fn-iam-exec", "short names stay readable"


def test_multi_region_kms_keys_are_accepted(mixed: PlanView) -> None:
    (function,) = _in(mixed, "public", "aws_lambda_function").values()
    assert function["kms_key_arn"] == MRK
    (log_group,) = _in(mixed, "public", "aws_cloudwatch_log_group").values()
    assert log_group["kms_key_id"] == MRK
    (repository,) = _in(mixed, "ecr", "aws_ecr_repository").values()
    assert repository["encryption_configuration"][0]["kms_key"] == MRK
    (file_system,) = _in(mixed, "efs", "aws_efs_file_system").values()
    assert file_system["kms_key_id"] == MRK


def test_schedules_own_the_target_bounds_after_they_ran(
    tf_sandbox: Any, planned: Plan, plan_over_state: Any, applied: Any
) -> None:
    """prod's weekday-peak schedule set the range to 6-20; the next apply leaves it."""
    prod = tf_sandbox.environment("prod")
    first = planned(prod)
    pc = "module.inference.module.provisioned_concurrency[0]"
    target = f"{pc}.aws_appautoscaling_target.this[0]"
    config = f"{pc}.aws_lambda_provisioned_concurrency_config.autoscaled[0]"
    bounds = f"{pc}.terraform_data.terraform_owned_bounds[0]"

    def schedule_ran(attributes: dict[str, Any]) -> None:
        attributes.update(min_capacity=6, max_capacity=20)

    def tracking_scaled(attributes: dict[str, Any]) -> None:
        attributes["provisioned_concurrent_executions"] = 9

    state = applied(
        first, [bounds, config, target], {target: schedule_ran, config: tracking_scaled}
    )
    second = plan_over_state(prod, state)
    for address in (bounds, config, target):
        assert second.changes[address]["change"]["actions"] == ["no-op"], (
            f"{address} would be reset: {second.changes[address]['change']}"
        )


def test_terraform_owns_the_bounds_without_schedules(
    tf_sandbox: Any, planned: Plan, plan_over_state: Any, applied: Any
) -> None:
    """No schedule moves the range, so a changed range in the configuration is applied."""
    inputs: dict[str, Any] = {
        "function_name": "fn",
        "provisioned_concurrent_executions": 2,
        "autoscaling": {"min_capacity": 1, "max_capacity": 4},
        "target_tracking": {},
    }
    root = tf_sandbox.case_root("bounds-owned", "provisioned_concurrency", {"pc": inputs})
    first = planned(root)
    addresses = [
        a
        for a in first.changes
        if first.changes[a]["mode"] == "managed" and "scheduled_action" not in a
    ]
    state = applied(first, addresses)
    wider = {**inputs, "autoscaling": {"min_capacity": 2, "max_capacity": 6}}
    config = tf_sandbox.root_config({"pc": ("provisioned_concurrency", wider)})
    second = plan_over_state(root, state, config)
    target = second.changes["module.pc.aws_appautoscaling_target.this[0]"]
    assert target["change"]["actions"] == ["delete", "create"]
    assert target["change"]["after"]["min_capacity"] == 2
    # Deregistering the target deletes its policy: it is recreated with it.
    policy = second.changes["module.pc.aws_appautoscaling_policy.utilization[0]"]
    assert policy["change"]["actions"] == ["delete", "create"]


# ---- risks ----------------------------------------------------------------------------


def test_unchanged_configuration_planned_twice_leaves_the_function_alone(
    tf_sandbox: Any, planned: Plan, plan_over_state: Any, applied: Any
) -> None:
    """A perpetual diff would publish a new version on every apply."""
    dev = tf_sandbox.environment("dev")
    first = planned(dev)
    function = "module.inference.module.function.aws_lambda_function.this"
    role = "module.inference.module.function.aws_iam_role.this"
    role_arn = "tfoffline-applied:role-arn"

    def as_lambda_stores_it(attributes: dict[str, Any]) -> None:
        # Lambda stores INFO for both levels of JSON logs when none is given.
        logging = attributes["logging_config"][0]
        logging["application_log_level"] = logging["application_log_level"] or "INFO"
        logging["system_log_level"] = logging["system_log_level"] or "INFO"
        attributes["role"] = role_arn

    def role_created(attributes: dict[str, Any]) -> None:
        attributes["arn"] = role_arn

    state = applied(first, [role, function], {function: as_lambda_stores_it, role: role_created})
    second = plan_over_state(dev, state)
    change = second.changes[function]["change"]
    assert change["actions"] == ["no-op"], {
        k: (change["before"].get(k), change["after"].get(k))
        for k in change["after"]
        if change["before"].get(k) != change["after"].get(k)
    }


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            "prod",
            {
                "email:ml-platform-oncall@example.com",
                "https:https://alerts.example.com/hooks/ml-inference-prod",
            },
        ),
        ("staging", {"email:ml-platform-staging@example.com"}),
    ],
)
def test_alarms_reach_people(env: str, expected: set[str], tf_sandbox: Any, planned: Plan) -> None:
    view = planned(tf_sandbox.environment(env))
    subscriptions = view.of_type("aws_sns_topic_subscription")
    assert {f"{s['protocol']}:{s['endpoint']}" for s in subscriptions.values()} == expected
    for address in subscriptions:
        # Subscribed to the module's alerts topic, whose ARN is known after apply.
        assert view.unknown_after_apply(address).get("topic_arn") is True
    outputs = view.plan["planned_values"]["outputs"]
    assert sorted(outputs["alarm_subscriptions"]["value"]) == sorted(expected)


def test_budget_tag_is_activated_for_cost_allocation(
    tf_sandbox: Any, planned: Plan, mixed: PlanView
) -> None:
    (tag,) = planned(tf_sandbox.environment("prod")).of_type("aws_ce_cost_allocation_tag").values()
    assert (tag["tag_key"], tag["status"]) == ("Project", "Active")
    assert _in(mixed, "budget_on", "aws_ce_cost_allocation_tag")
    assert not _in(mixed, "budget_off", "aws_ce_cost_allocation_tag"), "switched off"


def test_images_of_release_tags_outlive_the_rolling_window(tf_sandbox: Any, planned: Plan) -> None:
    """An older version can be rolled back to only while its image exists."""
    policy = planned(tf_sandbox.environment("prod")).one("aws_ecr_lifecycle_policy")["policy"]
    rules = sorted(json.loads(policy)["rules"], key=lambda r: r["rulePriority"])
    untagged, protected, rolling = rules
    assert untagged["selection"]["tagStatus"] == "untagged"
    assert protected["selection"] == {
        "tagStatus": "tagged",
        "tagPrefixList": ["release-"],
        "countType": "imageCountMoreThan",
        "countNumber": 1000,
    }
    # ECR never lets a lower-priority rule expire an image a higher one selected; the
    # rule on "any" must come last.
    assert rolling["selection"]["tagStatus"] == "any"
    assert rolling["selection"]["countNumber"] == 10
    assert rolling["rulePriority"] > protected["rulePriority"]


def test_scheduled_actions_are_created_one_after_another(tf_sandbox: Any, planned: Plan) -> None:
    """Parallel calls on one scalable target fail with ConcurrentUpdateException."""
    view = planned(tf_sandbox.environment("prod"))
    calls = view.plan["configuration"]["root_module"]["module_calls"]["inference"]["module"]
    pc = calls["module_calls"]["provisioned_concurrency"]["module"]["module_calls"]
    assert pc["schedule_0"]["depends_on"] == ["aws_appautoscaling_policy.utilization"]
    for position in range(1, 8):
        assert pc[f"schedule_{position}"]["depends_on"] == [f"module.schedule_{position - 1}"]
    planned_actions = [
        a for a in view.changes if a.endswith("aws_appautoscaling_scheduled_action.this")
    ]
    assert sorted(planned_actions) == [
        "module.inference.module.provisioned_concurrency[0].module.schedule_0[0]"
        ".aws_appautoscaling_scheduled_action.this",
        "module.inference.module.provisioned_concurrency[0].module.schedule_1[0]"
        ".aws_appautoscaling_scheduled_action.this",
    ]


# ---- SnapStart -----------------------------------------------------------------------


def test_dev_resumes_published_versions_from_snapshots(tf_sandbox: Any, planned: Plan) -> None:
    dev = planned(tf_sandbox.environment("dev"))
    function = dev.one("aws_lambda_function")
    assert function["snap_start"] == [{"apply_on": "PublishedVersions"}]
    assert function["publish"] is True, "SnapStart applies to published versions only"
    assert function["ephemeral_storage"] == [{"size": 512}]
    assert not function.get("file_system_config")
    assert not dev.of_type("aws_lambda_provisioned_concurrency_config")
    for env in ("staging", "prod"):
        assert not planned(tf_sandbox.environment(env)).one("aws_lambda_function")["snap_start"]


# ---- asynchronous invocations and S3 Batch Operations (issue 13) ----------------------


def test_asynchronous_invocations_retry_and_record_failures(mixed: PlanView) -> None:
    (config,) = _in(mixed, "public", "aws_lambda_function_event_invoke_config").values()
    assert config["qualifier"] == "live", "S3 events invoke the alias"
    assert (config["maximum_retry_attempts"], config["maximum_event_age_in_seconds"]) == (0, 600)
    (destination,) = config["destination_config"]
    assert destination["on_failure"] == [{"destination": FAILED_EVENTS_TOPIC}]
    execution = _sids(mixed.policy("module.public.data.aws_iam_policy_document.execution"))
    assert execution["PublishFailedEventsToTopic"]["Resource"] == FAILED_EVENTS_TOPIC
    # Lambda's own defaults need no configuration at all.
    assert not _in(mixed, "private", "aws_lambda_function_event_invoke_config")


def test_batch_operations_role_invokes_the_alias_and_reads_manifests(mixed: PlanView) -> None:
    prefix = "module.public.data.aws_iam_policy_document"
    (trust,) = mixed.policy(f"{prefix}.batch_operations_assume[0]")
    assert trust["Principal"] == {"Service": "batchoperations.s3.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    policy = _sids(mixed.policy(f"{prefix}.batch_operations[0]"))
    assert set(policy) == {"InvokeAlias", "ReadManifest", "WriteCompletionReport", "LocateBuckets"}
    assert policy["InvokeAlias"]["Action"] == "lambda:InvokeFunction"
    assert policy["InvokeAlias"]["Resource"] == (
        f"arn:aws:lambda:eu-west-1:123456789012:function:{LONG_NAME}:live"
    )
    assert policy["ReadManifest"]["Resource"] == "arn:aws:s3:::jobs-bucket/manifests/*"
    assert policy["WriteCompletionReport"]["Action"] == "s3:PutObject"
    assert policy["WriteCompletionReport"]["Resource"] == "arn:aws:s3:::jobs-bucket/reports/*"
    # The function reads the job's objects with its own role.
    execution = _sids(mixed.policy("module.public.data.aws_iam_policy_document.execution"))
    assert execution["ReadBatchOperationsInput"]["Resource"] == "arn:aws:s3:::archive-bucket/2024/*"
    assert not _in(mixed, "private", "aws_iam_role_policy").keys() - {
        "module.private.aws_iam_role_policy.execution"
    }
