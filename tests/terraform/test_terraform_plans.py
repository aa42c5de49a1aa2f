"""validate + plan of every module example and every environment, with assertions on the plans."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
MODULES = (
    "ecr_repository",
    "lambda_function",
    "efs_model_store",
    "provisioned_concurrency",
    "budget_alarms",
    "ml_inference",
)
ENVIRONMENTS = ("dev", "staging", "prod")

# Actions that IAM cannot scope to a resource: ENI management for VPC access and X-Ray
# segment upload. Anything else on "*" is a least-privilege failure.
STAR_ONLY_ACTIONS = {
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
}

FUNCTION = "aws_lambda_function"
Plan = Callable[[Path], Any]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements_by_sid(statements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in statements}


def _assert_no_needless_star(statements: list[dict[str, Any]]) -> None:
    for statement in statements:
        if statement["Effect"] != "Allow":
            continue
        if "*" in _as_list(statement.get("Resource", [])):
            extra = set(_as_list(statement["Action"])) - STAR_ONLY_ACTIONS
            assert not extra, f"{statement.get('Sid')}: {sorted(extra)} granted on '*'"
        assert "*" not in _as_list(statement["Action"]), f"{statement.get('Sid')}: wildcard action"


# ---- every example and environment plans ------------------------------------------------


@pytest.mark.parametrize("module", MODULES)
def test_module_example_plans(module: str, tf_sandbox: Any, planned: Plan) -> None:
    example = tf_sandbox.module_example(module)
    # tf_plan runs `terraform validate` before planning and fails on any error.
    view = planned(example)
    assert view.resources, f"the {module} example plans no resources"
    managed = [c for c in view.changes.values() if c["mode"] == "managed"]
    assert all(c["change"]["actions"] == ["create"] for c in managed)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_environment_plans_pinned_image(env: str, tf_sandbox: Any, planned: Plan) -> None:
    directory = tf_sandbox.environment(env)
    view = planned(directory)
    pin = json.loads((directory / "image.auto.tfvars.json").read_text())
    function = view.one(FUNCTION)
    assert function["image_uri"] == pin["image_uri"]
    assert function["package_type"] == "Image"
    assert function["architectures"] == [pin["image_architecture"]]
    assert function["publish"] is True
    assert function["function_name"] == f"ml-inference-{env}"
    assert pin["model_sha256"] in function["description"]
    alias = view.one("aws_lambda_alias")
    assert alias["name"] == "live"
    assert not alias.get("routing_config"), (
        "alias routing weights do not mix with provisioned concurrency"
    )
    # The environment's default tags reach every resource.
    tags_all = view.one("aws_ecr_repository")["tags_all"]
    assert tags_all["Environment"] == env
    assert tags_all["Project"] == f"ml-inference-{env}"


def test_offline_plan_command_shows_failing_checks_beside_the_changes(tmp_path: Path) -> None:
    """``python -m tfoffline plan`` on the committed placeholder pin: its check fails."""
    command = [sys.executable, "-m", "tfoffline", "plan", str(REPO_ROOT / "environments" / "prod")]
    human = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, check=False)
    assert human.returncode == 0, human.stderr
    changes = human.stdout.splitlines()
    assert "module.inference.module.function.aws_lambda_function.this" in human.stdout
    assert all(line.split()[0] == "create" for line in changes)  # stdout: one line per change
    assert "Warning: Check block assertion failed\n  on main.tf line" in human.stderr
    assert 'in check "image_is_built"' in human.stderr
    assert (
        "image_uri is the committed placeholder: run `python build/push_image.py --env prod` "
        "before applying." in human.stderr
    )
    assert "Provider development overrides" not in human.stderr  # the harness's own, not news

    machine = subprocess.run(
        [*command, "--json"], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert machine.returncode == 0, machine.stderr
    checks = {c["address"]["to_display"]: c for c in json.loads(machine.stdout)["checks"]}
    assert checks["check.image_is_built"]["status"] == "fail"
    assert "Warning:" not in machine.stderr  # --json prints the plan JSON, as before


def test_shared_environment_configuration_validates(tf_validate: Any) -> None:
    result = tf_validate(str(REPO_ROOT / "environments" / "_common"))
    assert result["valid"], result["diagnostics"]
    assert result["error_count"] == 0


# ---- provisioned concurrency and Application Auto Scaling -------------------------------


def test_dev_has_no_provisioned_concurrency(tf_sandbox: Any, planned: Plan) -> None:
    view = planned(tf_sandbox.environment("dev"))
    for rtype in (
        "aws_lambda_provisioned_concurrency_config",
        "aws_appautoscaling_target",
        "aws_appautoscaling_policy",
        "aws_appautoscaling_scheduled_action",
        "aws_cloudwatch_metric_alarm",
    ):
        assert not view.of_type(rtype), f"dev should not plan {rtype}"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            "staging",
            {
                "business-hours-start": ("cron(0 8 ? * MON-FRI *)", 2, 2),
                "business-hours-end": ("cron(0 18 ? * MON-FRI *)", 1, 1),
            },
        ),
        (
            "prod",
            {
                "weekday-peak": ("cron(30 7 ? * MON-FRI *)", 6, 20),
                "weekday-evening": ("cron(0 20 ? * MON-FRI *)", 2, 10),
            },
        ),
    ],
)
def test_alias_carries_autoscaled_provisioned_concurrency(
    env: str, expected: dict[str, tuple[str, int, int]], tf_sandbox: Any, planned: Plan
) -> None:
    view = planned(tf_sandbox.environment(env))
    name = f"ml-inference-{env}"
    configs = view.of_type("aws_lambda_provisioned_concurrency_config")
    assert len(configs) == 1
    ((address, config),) = configs.items()
    assert config["qualifier"] == "live", "provisioned concurrency belongs on the alias"
    assert config["function_name"] == name
    # Application Auto Scaling owns the value: the Terraform-managed variant is the
    # one created once and then ignored (lifecycle ignore_changes).
    assert ".autoscaled[0]" in address

    target = view.one("aws_appautoscaling_target")
    assert target["resource_id"] == f"function:{name}:live"
    assert target["scalable_dimension"] == "lambda:function:ProvisionedConcurrency"
    assert target["min_capacity"] >= 1

    actions = {a["name"]: a for a in view.of_type("aws_appautoscaling_scheduled_action").values()}
    assert set(actions) == {f"{name}-live-{key}" for key in expected}
    for key, (schedule, low, high) in expected.items():
        action = actions[f"{name}-live-{key}"]
        assert action["schedule"] == schedule
        assert action["timezone"] == "Europe/Dublin"
        assert action["resource_id"] == f"function:{name}:live"
        # The provider types these two as strings.
        assert action["scalable_target_action"] == [
            {"min_capacity": str(low), "max_capacity": str(high)}
        ]


def test_staging_schedule_only_prod_tracks_utilization(tf_sandbox: Any, planned: Plan) -> None:
    assert not planned(tf_sandbox.environment("staging")).of_type("aws_appautoscaling_policy")
    policy = planned(tf_sandbox.environment("prod")).one("aws_appautoscaling_policy")
    assert policy["policy_type"] == "TargetTrackingScaling"
    (config,) = policy["target_tracking_scaling_policy_configuration"]
    assert config["target_value"] == 0.7
    assert not config.get("predefined_metric_specification")
    (metric,) = config["customized_metric_specification"]
    # The Maximum statistic: the Average of the predefined metric hides bursts.
    assert metric["metric_name"] == "ProvisionedConcurrencyUtilization"
    assert metric["statistic"] == "Maximum"
    # No unit: a unit the metric was not published with makes CloudWatch return no data,
    # and target tracking would never scale.
    assert metric.get("unit") is None
    dimensions = {d["name"]: d["value"] for d in metric["dimensions"]}
    assert dimensions == {"FunctionName": "ml-inference-prod", "Resource": "ml-inference-prod:live"}


def test_fixed_provisioned_concurrency_without_autoscaling(tf_sandbox: Any, planned: Plan) -> None:
    root = tf_sandbox.case_root(
        "fixed-pc",
        "provisioned_concurrency",
        {"pc": {"function_name": "fn", "provisioned_concurrent_executions": 3}},
    )
    view = planned(root)
    ((address, config),) = view.of_type("aws_lambda_provisioned_concurrency_config").items()
    assert address.endswith(".fixed[0]")
    assert config["provisioned_concurrent_executions"] == 3
    assert config["qualifier"] == "live"
    assert not view.of_type("aws_appautoscaling_target")


# ---- budgets and alarms -------------------------------------------------------------------


def test_prod_budget_has_four_notifications_to_email_and_topic(
    tf_sandbox: Any, planned: Plan
) -> None:
    view = planned(tf_sandbox.environment("prod"))
    budget = view.one("aws_budgets_budget")
    assert budget["budget_type"] == "COST"
    assert budget["limit_amount"] == "400.00"
    assert budget["time_unit"] == "MONTHLY"
    assert budget["cost_filter"] == [
        {"name": "TagKeyValue", "values": ["user:Project$ml-inference-prod"]}
    ]
    notifications = budget["notification"]
    assert sorted((n["notification_type"], n["threshold"]) for n in notifications) == [
        ("ACTUAL", 50),
        ("ACTUAL", 80),
        ("ACTUAL", 100),
        ("FORECASTED", 100),
    ]
    for n in notifications:
        assert n["threshold_type"] == "PERCENTAGE"
        assert n["subscriber_email_addresses"] == ["ml-platform-oncall@example.com"]
    # The topic ARN is known only after apply; every notification is wired to it.
    (budget_address,) = view.of_type("aws_budgets_budget")
    unknown = view.unknown_after_apply(budget_address)
    assert all(n.get("subscriber_sns_topic_arns") for n in unknown["notification"])


def test_budgets_may_publish_to_the_alerts_topic(tf_sandbox: Any, planned: Plan) -> None:
    view = planned(tf_sandbox.environment("prod"))
    statements = _statements_by_sid(view.policy(".aws_iam_policy_document.alerts"))
    budgets = statements["AllowBudgetsPublish"]
    assert budgets["Principal"] == {"Service": "budgets.amazonaws.com"}
    assert budgets["Action"] == "SNS:Publish"
    assert budgets["Resource"].endswith(":ml-inference-prod-alerts")
    assert statements["AllowCloudWatchAlarmsPublish"]["Principal"] == {
        "Service": "cloudwatch.amazonaws.com"
    }


def test_prod_alarms(tf_sandbox: Any, planned: Plan) -> None:
    view = planned(tf_sandbox.environment("prod"))
    alarms = {a["metric_name"]: a for a in view.of_type("aws_cloudwatch_metric_alarm").values()}
    assert set(alarms) == {
        "Errors",
        "Throttles",
        "Duration",
        "ProvisionedConcurrencySpilloverInvocations",
        "ProvisionedConcurrencyUtilization",
    }
    assert alarms["Duration"]["extended_statistic"] == "p99"
    assert alarms["Duration"]["threshold"] == 12000  # 80% of the 15 s timeout
    assert alarms["Errors"]["threshold"] == 5
    assert alarms["ProvisionedConcurrencySpilloverInvocations"]["dimensions"] == {
        "FunctionName": "ml-inference-prod",
        "Resource": "ml-inference-prod:live",
    }
    assert alarms["ProvisionedConcurrencyUtilization"]["statistic"] == "Maximum"
    for address in view.of_type("aws_cloudwatch_metric_alarm"):
        assert view.unknown_after_apply(address).get("alarm_actions"), (
            f"{address} notifies no topic"
        )


# ---- EFS, S3 batch, runtime contract -------------------------------------------------------


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_environments_have_no_efs(env: str, tf_sandbox: Any, planned: Plan) -> None:
    view = planned(tf_sandbox.environment(env))
    assert not [a for a in view.resources if ".aws_efs_" in a]
    function = view.one(FUNCTION)
    assert not function.get("file_system_config")
    assert not function.get("vpc_config")
    assert "MODEL_EFS_DIR" not in (function.get("environment") or [{}])[0].get("variables", {})


def test_efs_parts_exist_when_enabled(tf_sandbox: Any, planned: Plan) -> None:
    view = planned(tf_sandbox.module_example("ml_inference"))
    file_system = view.one("aws_efs_file_system")
    assert file_system["encrypted"] is True
    assert file_system["throughput_mode"] == "elastic"
    access_point = view.one("aws_efs_access_point")
    assert access_point["posix_user"] == [{"uid": 1000, "gid": 1000, "secondary_gids": None}] or (
        access_point["posix_user"][0]["uid"] == 1000
        and access_point["posix_user"][0]["gid"] == 1000
    )
    (root_dir,) = access_point["root_directory"]
    assert root_dir["path"] == "/models"
    assert root_dir["creation_info"] == [
        {"owner_uid": 1000, "owner_gid": 1000, "permissions": "0755"}
    ]
    # One mount target per zone; the function runs in more subnets than that.
    mount_subnets = sorted(m["subnet_id"] for m in view.of_type("aws_efs_mount_target").values())
    assert mount_subnets == ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
    nfs = view.one("aws_vpc_security_group_ingress_rule")
    assert (nfs["from_port"], nfs["to_port"], nfs["ip_protocol"]) == (2049, 2049, "tcp")
    assert not nfs.get("cidr_ipv4"), "NFS is open only to the function's security group"

    function = view.one(FUNCTION)
    assert function["file_system_config"][0]["local_mount_path"] == "/mnt/models"
    assert function["vpc_config"][0]["subnet_ids"] == [
        "subnet-0123456789abcdef0",
        "subnet-0123456789abcdef1",
        "subnet-0123456789abcdef3",
        "subnet-0123456789abcdef4",
    ]


def test_efs_permission_is_mount_only_through_the_access_point(
    tf_sandbox: Any, planned: Plan
) -> None:
    # With known ARNs (the ml_inference example's are computed) the policy renders at plan.
    arn = "arn:aws:elasticfilesystem:eu-west-1:123456789012"
    root = tf_sandbox.case_root(
        "efs-policy",
        "lambda_function",
        {
            "fn": {
                "function_name": "fn",
                "image_uri": f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/r@sha256:{'0' * 64}",
                "vpc_config": {"subnet_ids": ["subnet-1"], "security_group_ids": ["sg-1"]},
                "efs": {
                    "file_system_arn": f"{arn}:file-system/fs-1",
                    "access_point_arn": f"{arn}:access-point/fsap-1",
                },
            }
        },
    )
    statements = planned(root).policy(".execution")
    _assert_no_needless_star(statements)
    policy = _statements_by_sid(statements)
    assert set(policy) == {"WriteOwnLogs", "MountModelStore", "ManageVpcNetworkInterfaces"}
    mount = policy["MountModelStore"]
    assert mount["Action"] == "elasticfilesystem:ClientMount", "read-only: no ClientWrite"
    assert mount["Resource"] == f"{arn}:file-system/fs-1"
    assert mount["Condition"] == {
        "StringEquals": {"elasticfilesystem:AccessPointArn": f"{arn}:access-point/fsap-1"}
    }


def test_runtime_contract_environment_and_s3_trigger(tf_sandbox: Any, planned: Plan) -> None:
    view = planned(tf_sandbox.module_example("ml_inference"))
    variables = view.one(FUNCTION)["environment"][0]["variables"]
    assert variables == {
        "MODEL_EFS_DIR": "/mnt/models",
        "MODEL_S3_URI": "s3://example-models/all-minilm-l6-v2/",
        "INPUT_PREFIX": "input/",
        "OUTPUT_BUCKET": "example-batch",
        "OUTPUT_PREFIX": "output/",
        # Lambda's default of 2 asynchronous retries: three invocations per event.
        "S3_MAX_INVOCATIONS": "3",
    }
    notification = view.one("aws_s3_bucket_notification")
    assert notification["bucket"] == "example-batch"
    (trigger,) = notification["lambda_function"]
    assert trigger["filter_prefix"] == "input/"
    assert trigger["filter_suffix"] == ".jsonl"
    assert trigger["events"] == ["s3:ObjectCreated:*"]
    permission = view.one("aws_lambda_permission")
    assert permission["principal"] == "s3.amazonaws.com"
    assert permission["qualifier"] == "live"
    assert view.one("aws_lambda_function_url")["authorization_type"] == "AWS_IAM"


# ---- least privilege ------------------------------------------------------------------------


def _rendered_policies(view: Any) -> dict[str, list[dict[str, Any]]]:
    docs: dict[str, list[dict[str, Any]]] = view.policy_documents()
    assert docs, "no aws_iam_policy_document was rendered at plan time"
    return docs


@pytest.mark.parametrize("example", ["lambda_function", "ml_inference"])
def test_example_policies_grant_no_needless_star(
    example: str, tf_sandbox: Any, planned: Plan
) -> None:
    for statements in _rendered_policies(planned(tf_sandbox.module_example(example))).values():
        _assert_no_needless_star(statements)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_environment_policies_grant_no_needless_star(
    env: str, tf_sandbox: Any, planned: Plan
) -> None:
    for statements in _rendered_policies(planned(tf_sandbox.environment(env))).values():
        _assert_no_needless_star(statements)


def test_execution_role_holds_only_what_features_need(tf_sandbox: Any, planned: Plan) -> None:
    dev = _statements_by_sid(planned(tf_sandbox.environment("dev")).policy(".execution"))
    # dev: no S3 batch, no EFS, no VPC, no tracing, no DLQ: logs only.
    assert set(dev) == {"WriteOwnLogs"}
    (logs,) = _as_list(dev["WriteOwnLogs"]["Resource"])
    assert logs.endswith(":log-group:/aws/lambda/ml-inference-dev:*")

    staging = _statements_by_sid(planned(tf_sandbox.environment("staging")).policy(".execution"))
    assert set(staging) == {"WriteOwnLogs", "WriteTraces"}  # tracing_mode = Active

    full = _statements_by_sid(
        planned(tf_sandbox.module_example("lambda_function")).policy(".execution")
    )
    assert set(_as_list(full["ReadBatchInput"]["Action"])) == {
        "s3:GetObject",
        "s3:GetObjectVersion",
    }
    assert full["ReadBatchInput"]["Resource"] == "arn:aws:s3:::example-batch-input/input/*"
    # Results (multipart for large ones), reading them back and retiring stale error and
    # progress objects, on the output prefix only.
    assert set(_as_list(full["WriteBatchOutput"]["Action"])) == {
        "s3:PutObject",
        "s3:GetObject",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
    }
    assert full["WriteBatchOutput"]["Resource"] == "arn:aws:s3:::example-batch-output/output/*"
    # Listing, so a missing key is a 404 the flow can act on (not a 403), on both buckets.
    assert set(_as_list(full["ListBatchBuckets"]["Action"])) == {
        "s3:ListBucket",
        "s3:ListBucketMultipartUploads",
    }
    assert set(_as_list(full["ListBatchBuckets"]["Resource"])) == {
        "arn:aws:s3:::example-batch-input",
        "arn:aws:s3:::example-batch-output",
    }
    assert full["ReadModelArtefact"]["Resource"] == "arn:aws:s3:::example-models/all-minilm-l6-v2/*"
    assert "MountModelStore" not in full
    assert "ManageVpcNetworkInterfaces" not in full
