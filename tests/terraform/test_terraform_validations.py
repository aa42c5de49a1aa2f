"""Every input validation and precondition, exercised with a bad value.

Variable validations are batched: one root configuration per module calls it once per
case (``module.case_N``) plus once with valid inputs, and a single plan reports every
case's diagnostic, which Terraform labels with the calling module. Preconditions do not
name the calling module in their diagnostics, so each runs in its own configuration.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import tftest

ZERO = "0" * 64
IMAGE_URI = f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/ml-inference@sha256:{ZERO}"
KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000"
EFS_ARN = "arn:aws:elasticfilesystem:eu-west-1:123456789012"
EFS = {
    "file_system_arn": f"{EFS_ARN}:file-system/fs-0123456789abcdef0",
    "access_point_arn": f"{EFS_ARN}:access-point/fsap-0123456789abcdef0",
}
VPC = {"subnet_ids": ["subnet-0123456789abcdef0"], "security_group_ids": ["sg-0123456789abcdef0"]}
BATCH = {
    "input_bucket": "in-bucket",
    "input_prefix": "input/",
    "output_bucket": "out-bucket",
    "output_prefix": "output/",
}
WORKDAY = {
    "name": "workday",
    "schedule": "cron(0 8 ? * MON-FRI *)",
    "min_capacity": 2,
    "max_capacity": 4,
}

BASELINES: dict[str, dict[str, Any]] = {
    "ecr_repository": {"name": "ml-inference/test"},
    "lambda_function": {"function_name": "fn", "image_uri": IMAGE_URI},
    "efs_model_store": {
        "name": "store",
        "vpc_id": "vpc-0123456789abcdef0",
        "subnet_ids": ["subnet-0123456789abcdef0"],
    },
    "provisioned_concurrency": {
        "function_name": "fn",
        "autoscaling": {"min_capacity": 1, "max_capacity": 4},
    },
    "budget_alarms": {"name": "budget", "monthly_budget_usd": 10, "function_name": "fn"},
    "ml_inference": {"name": "fn", "image_uri": IMAGE_URI},
}

# (module, bad inputs merged over the baseline, the module's message)
VALIDATIONS: list[tuple[str, dict[str, Any], str]] = [
    ("ecr_repository", {"name": "Upper/Case"}, "name must be 2-256 characters of lowercase"),
    ("ecr_repository", {"kms_key_arn": "alias/ecr"}, "kms_key_arn must be null or a KMS key ARN"),
    (
        "ecr_repository",
        {"keep_last_images": 0},
        "keep_last_images must be a whole number from 1 to 1000",
    ),
    (
        "ecr_repository",
        {"untagged_expire_days": 0},
        "untagged_expire_days must be a whole number from 1 to 365",
    ),
    (
        "ecr_repository",
        {"lambda_source_arns": ["my-function"]},
        "Each lambda_source_arns entry must be a Lambda",
    ),
    ("lambda_function", {"function_name": "bad name!"}, "function_name must be 1-64 characters"),
    ("lambda_function", {"description": "x" * 257}, "description must be at most 256 characters"),
    (
        "lambda_function",
        {"image_uri": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/repo:latest"},
        "image_uri must be pinned by digest",
    ),
    ("lambda_function", {"image_uri": "repo@sha256:abc123"}, "image_uri must be pinned by digest"),
    (
        # What a push through a local stand-in registry used to pin: Lambda cannot pull it.
        "lambda_function",
        {"image_uri": f"127.0.0.1:5001/ml-inference/dev@sha256:{ZERO}"},
        "image_uri must name a private Amazon ECR repository, "
        "<account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<digest>, not "
        "127.0.0.1:5001",
    ),
    (
        "lambda_function",
        {"image_uri": f"123456789012.dkr.ecr-fips.eu-west-1.amazonaws.com/r@sha256:{ZERO}"},
        "not 123456789012.dkr.ecr-fips.eu-west-1.amazonaws.com: Lambda pulls images only from "
        "ECR (not from a mirror, a local registry or an ECR FIPS endpoint)",
    ),
    (
        "lambda_function",
        {"image_architecture": "amd64"},
        'image_architecture must be null, "arm64" or "x86_64"',
    ),
    ("lambda_function", {"architecture": "amd64"}, 'architecture must be "arm64" or "x86_64"'),
    (
        "lambda_function",
        {"memory_size": 64},
        "memory_size must be a whole number of MB from 128 to 10240",
    ),
    (
        "lambda_function",
        {"memory_size": 10241},
        "memory_size must be a whole number of MB from 128 to 10240",
    ),
    ("lambda_function", {"timeout": 0}, "timeout must be a whole number of seconds from 1 to 900"),
    (
        "lambda_function",
        {"timeout": 901},
        "timeout must be a whole number of seconds from 1 to 900",
    ),
    (
        "lambda_function",
        {"ephemeral_storage_size": 256},
        "ephemeral_storage_size must be a whole number of MB from 512",
    ),
    (
        "lambda_function",
        {"environment_variables": {"MODEL_S3_URI": "s3://x/"}},
        "environment_variables must not set",
    ),
    (
        "lambda_function",
        {"model_s3_uri": "s3://bucket/no-trailing-slash"},
        "model_s3_uri must be null or s3://bucket/prefix/",
    ),
    (
        "lambda_function",
        {"reserved_concurrent_executions": -2},
        "reserved_concurrent_executions must be -1",
    ),
    ("lambda_function", {"tracing_mode": "On"}, 'tracing_mode must be "Active" or "PassThrough"'),
    ("lambda_function", {"log_retention_days": 10}, "log_retention_days must be one of 1, 3, 5"),
    (
        "lambda_function",
        {"log_kms_key_arn": "alias/logs"},
        "log_kms_key_arn must be null or a KMS key ARN",
    ),
    (
        "lambda_function",
        {"kms_key_arn": "alias/lambda"},
        "kms_key_arn must be null or a KMS key ARN",
    ),
    (
        "lambda_function",
        {"dead_letter_target_arn": "arn:aws:s3:::bucket"},
        "dead_letter_target_arn must be null or an SQS queue or SNS topic ARN",
    ),
    (
        "lambda_function",
        {"on_failure_destination_arn": "queue"},
        "on_failure_destination_arn must be null or an SQS queue or SNS topic ARN",
    ),
    (
        "lambda_function",
        {"async_maximum_retry_attempts": 3},
        "async_maximum_retry_attempts must be 0, 1 or 2",
    ),
    (
        "lambda_function",
        {"vpc_config": {"subnet_ids": [], "security_group_ids": ["sg-1"]}},
        "vpc_config needs at least one subnet id",
    ),
    (
        "lambda_function",
        {"efs": {**EFS, "local_mount_path": "/opt/models"}, "vpc_config": VPC},
        "efs.local_mount_path must be a directory directly under /mnt/",
    ),
    (
        "lambda_function",
        {"s3_batch": {**BATCH, "input_bucket": "arn:aws:s3:::in"}},
        "must be S3 bucket names",
    ),
    (
        "lambda_function",
        {"s3_batch": {**BATCH, "output_prefix": "output"}},
        "must be non-empty key prefixes ending with '/'",
    ),
    (
        "lambda_function",
        {"s3_batch": {**BATCH, "output_bucket": "in-bucket", "output_prefix": "input/results/"}},
        "s3_batch output must not lie under the input prefix",
    ),
    (
        "lambda_function",
        {"function_url": {"authorization_type": "COGNITO"}},
        'function_url.authorization_type must be "AWS_IAM" or "NONE"',
    ),
    (
        "lambda_function",
        {"application_log_level": "VERBOSE"},
        "application_log_level must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL",
    ),
    (
        "lambda_function",
        {"system_log_level": "ERROR"},
        "system_log_level must be DEBUG, INFO or WARN",
    ),
    (
        "lambda_function",
        {"async_maximum_event_age_seconds": 30},
        "async_maximum_event_age_seconds must be a whole number of seconds from 60 to 21600",
    ),
    (
        "lambda_function",
        {"async_maximum_event_age_seconds": 21601},
        "async_maximum_event_age_seconds must be a whole number of seconds from 60 to 21600",
    ),
    (
        "lambda_function",
        {"batch_operations": {"manifest_bucket": "s3://manifests", "report_bucket": "reports"}},
        "batch_operations.manifest_bucket, report_bucket (and input_bucket when set) must be S3",
    ),
    (
        "lambda_function",
        {
            "batch_operations": {
                "manifest_bucket": "manifests",
                "manifest_prefix": "jobs",
                "report_bucket": "reports",
            }
        },
        "batch_operations prefixes must be empty or key prefixes ending with '/'",
    ),
    ("efs_model_store", {"name": "bad name"}, "name must be 1-64 characters"),
    ("efs_model_store", {"vpc_id": "vpc1"}, "vpc_id must be a VPC id"),
    ("efs_model_store", {"subnet_ids": []}, "subnet_ids must hold at least one subnet id"),
    ("efs_model_store", {"kms_key_arn": "alias/efs"}, "kms_key_arn must be null or a KMS key ARN"),
    (
        "efs_model_store",
        {"throughput_mode": "provisioned"},
        'throughput_mode must be "elastic" or "bursting"',
    ),
    ("efs_model_store", {"posix_uid": -1}, "posix_uid must be a whole number"),
    ("efs_model_store", {"posix_gid": 1.5}, "posix_gid must be a whole number"),
    ("efs_model_store", {"root_directory": "models"}, "root_directory must be an absolute path"),
    (
        "efs_model_store",
        {"root_directory": "/models/../etc"},
        "root_directory must be an absolute path",
    ),
    (
        "efs_model_store",
        {"root_directory_permissions": "999"},
        "root_directory_permissions must be octal",
    ),
    (
        "provisioned_concurrency",
        {"function_name": "bad name"},
        "function_name must be 1-64 characters",
    ),
    ("provisioned_concurrency", {"alias_name": "$LATEST"}, "never configured on $LATEST"),
    (
        "provisioned_concurrency",
        {"alias_name": "7"},
        "never configured on $LATEST or on a bare version number",
    ),
    (
        "provisioned_concurrency",
        {"provisioned_concurrent_executions": 0},
        "provisioned_concurrent_executions must be a whole number >= 1",
    ),
    (
        "provisioned_concurrency",
        {"autoscaling": {"min_capacity": 0, "max_capacity": 4}},
        "autoscaling.min_capacity must be a whole number >= 1",
    ),
    (
        "provisioned_concurrency",
        {"autoscaling": {"min_capacity": 5, "max_capacity": 4}},
        "autoscaling.max_capacity must be a whole number >= autoscaling.min_capacity",
    ),
    (
        "provisioned_concurrency",
        {"target_tracking": {"target_utilization": 0.95}},
        "target_tracking.target_utilization must be a fraction",
    ),
    (
        "provisioned_concurrency",
        {"target_tracking": {"statistic": "Sum"}},
        'target_tracking.statistic must be "Maximum"',
    ),
    (
        "provisioned_concurrency",
        {"target_tracking": {"scale_in_cooldown": -1}},
        "target_tracking cooldowns must be from 0 to 3600 seconds",
    ),
    (
        "provisioned_concurrency",
        {"schedules": [WORKDAY, WORKDAY]},
        "Each schedule needs a unique name",
    ),
    (
        "provisioned_concurrency",
        {"schedules": [{**WORKDAY, "schedule": "cron(0 8 * * MON-FRI)"}]},
        "Each schedule must be cron(Minutes Hours Day-of-month Month Day-of-week Year)",
    ),
    (
        "provisioned_concurrency",
        {"schedules": [{**WORKDAY, "schedule": "every weekday"}]},
        "Each schedule must be cron(",
    ),
    (
        "provisioned_concurrency",
        {"schedules": [{**WORKDAY, "timezone": "utc+1"}]},
        "Each schedule's timezone must be an IANA time zone name",
    ),
    (
        "provisioned_concurrency",
        {"schedules": [{**WORKDAY, "min_capacity": 0}]},
        "Each schedule's min_capacity must be a whole number >= 1",
    ),
    (
        "provisioned_concurrency",
        {"schedules": [{**WORKDAY, "max_capacity": 1}]},
        "Each schedule's max_capacity must be a whole number >= its min_capacity",
    ),
    (
        "provisioned_concurrency",
        {"schedules": [{**WORKDAY, "start_time": "tomorrow"}]},
        "start_time and end_time must be RFC 3339 timestamps",
    ),
    ("budget_alarms", {"name": "bad name"}, "name must be 1-64 characters"),
    ("budget_alarms", {"monthly_budget_usd": 0}, "monthly_budget_usd must be greater than 0"),
    (
        "budget_alarms",
        {"cost_filter_tag": {"key": "", "value": "x"}},
        "cost_filter_tag.key must be 1-128 characters",
    ),
    (
        "budget_alarms",
        {"cost_filter_services": []},
        "cost_filter_services must name at least one service",
    ),
    (
        "budget_alarms",
        {"actual_thresholds_percent": [50, 50]},
        "actual_thresholds_percent must hold distinct percentages",
    ),
    (
        "budget_alarms",
        {"forecast_thresholds_percent": [0]},
        "forecast_thresholds_percent must hold distinct percentages",
    ),
    (
        "budget_alarms",
        {"notification_emails": ["not-an-email"]},
        "notification_emails must hold at most 10 e-mail addresses",
    ),
    (
        "budget_alarms",
        {"function_name": "bad name"},
        "function_name must be null or 1-64 characters",
    ),
    (
        "budget_alarms",
        {"function_timeout_seconds": 901},
        "function_timeout_seconds must be from 1 to 900",
    ),
    (
        "budget_alarms",
        {"alarm_period_seconds": 90},
        "alarm_period_seconds must be a multiple of 60",
    ),
    (
        "budget_alarms",
        {"evaluation_periods": 0},
        "evaluation_periods must be a whole number from 1 to 100",
    ),
    ("budget_alarms", {"errors_threshold": -1}, "errors_threshold must be >= 0"),
    ("budget_alarms", {"throttles_threshold": -1}, "throttles_threshold must be >= 0"),
    (
        "budget_alarms",
        {"duration_alarm_ratio": 1},
        "duration_alarm_ratio must be a fraction between 0 and 1",
    ),
    ("budget_alarms", {"spillover_threshold": -1}, "spillover_threshold must be >= 0"),
    (
        "budget_alarms",
        {"utilization_threshold": 1.5},
        "utilization_threshold must be a fraction above 0 and at most 1",
    ),
    ("ml_inference", {"name": "n" * 49}, "name must be 1-48 characters"),
    ("ml_inference", {"description": "x" * 257}, "description must be at most 256 characters"),
    (
        "budget_alarms",
        {"alarm_emails": ["oncall"]},
        "alarm_emails must hold distinct e-mail addresses",
    ),
    (
        "budget_alarms",
        {"alarm_https_endpoints": ["http://hooks.example.com/x"]},
        "alarm_https_endpoints must hold distinct https:// URLs",
    ),
    (
        "budget_alarms",
        {"alarm_topic_arns": ["oncall-topic"]},
        "alarm_topic_arns must hold SNS topic ARNs",
    ),
    (
        "provisioned_concurrency",
        {"schedules": [{**WORKDAY, "name": f"s{i}"} for i in range(9)]},
        "At most 8 schedules",
    ),
    (
        "ecr_repository",
        {"protected_tag_prefixes": ["-release"]},
        "protected_tag_prefixes must hold at most 10 distinct tag prefixes",
    ),
    (
        "ecr_repository",
        {"protected_images_kept": 0},
        "protected_images_kept must be a whole number from 1 to 10000",
    ),
]

# Validations that compare a variable with others: Terraform checks them during plan only
# (validate cannot), so a batch of them must not share its plan with single-variable
# failures, which stop at validate.
CROSS_VARIABLE: list[tuple[str, dict[str, Any], str]] = [
    (
        "lambda_function",
        {"snap_start": True, "efs": EFS, "vpc_config": VPC},
        "snap_start cannot be combined with efs: Lambda SnapStart does not support Amazon EFS",
    ),
    (
        "lambda_function",
        {"snap_start": True, "ephemeral_storage_size": 1024},
        "snap_start cannot be combined with ephemeral_storage_size above 512 MB",
    ),
    (
        "ml_inference",
        {"snap_start": True, "enable_provisioned_concurrency": True},
        "snap_start cannot be combined with enable_provisioned_concurrency: Lambda SnapStart "
        "does not support provisioned concurrency",
    ),
    (
        "ml_inference",
        {
            "reserved_concurrent_executions": 8,
            "enable_provisioned_concurrency": True,
            "provisioned_concurrency": {
                "initial": 2,
                "autoscaling": {"min_capacity": 2, "max_capacity": 6},
                "schedules": [{**WORKDAY, "min_capacity": 4, "max_capacity": 10}],
            },
        },
        "reserved_concurrent_executions (8) is below the provisioned concurrency maximum (10)",
    ),
    (
        "budget_alarms",
        {
            "actual_thresholds_percent": [10, 20, 30, 40, 50, 60, 70, 80],
            "forecast_thresholds_percent": [90, 100, 110],
        },
        "A budget takes at most 10 notifications",
    ),
]

# (case id, module, inputs merged over the baseline, the precondition's message)
PRECONDITIONS: list[tuple[str, str, dict[str, Any], str]] = [
    (
        "image-arch-mismatch",
        "lambda_function",
        {"image_architecture": "x86_64", "architecture": "arm64"},
        "does not match the function's architecture",
    ),
    ("efs-without-vpc", "lambda_function", {"efs": EFS}, "efs needs vpc_config"),
    (
        "image-in-another-region",
        "lambda_function",
        {"image_uri": IMAGE_URI.replace("eu-west-1", "us-east-1")},
        "image_uri is in ECR in us-east-1, but the function is in eu-west-1: Lambda pulls "
        "images only from an ECR repository in the function's Region",
    ),
    (
        "tracking-without-autoscaling",
        "provisioned_concurrency",
        {"autoscaling": None, "target_tracking": {}},
        "target_tracking and schedules need autoscaling",
    ),
    (
        "initial-outside-range",
        "provisioned_concurrency",
        {"provisioned_concurrent_executions": 9},
        "must lie within [autoscaling.min_capacity, autoscaling.max_capacity]",
    ),
    (
        "ml-image-arch-mismatch",
        "ml_inference",
        {"image_architecture": "x86_64"},
        "does not match the function's architecture",
    ),
    (
        "ml-s3-batch-without-bucket",
        "ml_inference",
        {"enable_s3_batch": True},
        "must be S3 bucket names",
    ),
    (
        "ml-alarms-to-nobody",
        "ml_inference",
        {"enable_alarms": True},
        "enable_alarms needs someone to tell: set alerts.emails, alerts.https_endpoints or "
        "alerts.topic_arns",
    ),
    (
        # The S3 flow stops taking records with S3_STOP_MARGIN_MS (10 s) left: at a 10 s
        # timeout every object would fail before its first record.
        "s3-batch-timeout-within-stop-margin",
        "lambda_function",
        {"s3_batch": BATCH, "timeout": 10},
        "The S3 flow needs a timeout longer than its stop margin (S3_STOP_MARGIN_MS",
    ),
    (
        "s3-batch-timeout-within-own-stop-margin",
        "lambda_function",
        {"s3_batch": BATCH, "timeout": 60, "environment_variables": {"S3_STOP_MARGIN_MS": "90000"}},
        "this timeout could never finish an object",
    ),
    (
        "batch-operations-without-s3-batch",
        "lambda_function",
        {"batch_operations": {"manifest_bucket": "manifests", "report_bucket": "reports"}},
        "batch_operations needs s3_batch",
    ),
    (
        # The offline provider puts subnet-…0 and subnet-…3 in one zone (eu-west-1a).
        "efs-two-subnets-one-zone",
        "efs_model_store",
        {"subnet_ids": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef3"]},
        "subnet_ids must be in distinct Availability Zones: EFS allows one mount target per "
        "zone, and eu-west-1a has subnet-0123456789abcdef0 and subnet-0123456789abcdef3",
    ),
]


def _normalise(text: str) -> str:
    """Collapse whitespace and the diagnostic margin so wrapped lines still match."""
    return re.sub(r"[\s│╷╵]+", " ", text)


def _diagnostics_by_call(error_text: str) -> dict[str, str]:
    """Terraform's error output split into the diagnostics of each ``module.<call>``."""
    found: dict[str, str] = {}
    for block in re.split(r"(?=Error: )", error_text):
        match = re.search(r"in module\.(\w+)", block)
        if match:
            found[match.group(1)] = found.get(match.group(1), "") + _normalise(block)
    return found


_BATCH_ERRORS: dict[tuple[str, str], dict[str, str]] = {}
_BATCHES = {"single": VALIDATIONS, "cross": CROSS_VARIABLE}


@pytest.fixture
def batch_diagnostics(tf_plan: Any, tf_sandbox: Any) -> Callable[[str, str], dict[str, str]]:
    def diagnostics(module: str, batch: str = "single") -> dict[str, str]:
        if (module, batch) not in _BATCH_ERRORS:
            calls = {"baseline": BASELINES[module]}
            for index, (mod, bad, _) in enumerate(_BATCHES[batch]):
                if mod == module:
                    calls[f"case_{index}"] = {**BASELINES[module], **bad}
            root = tf_sandbox.case_root(f"validations-{module}-{batch}", module, calls)
            with pytest.raises(tftest.TerraformTestError) as failure:
                tf_plan(str(root))
            _BATCH_ERRORS[module, batch] = _diagnostics_by_call(str(failure.value))
        return _BATCH_ERRORS[module, batch]

    return diagnostics


@pytest.mark.parametrize(
    ("batch", "index", "module", "message"),
    [(b, i, m, msg) for b, cases in _BATCHES.items() for i, (m, _, msg) in enumerate(cases)],
    ids=[
        f"{m}-{next(iter(bad))}-{b}{i}"
        for b, cases in _BATCHES.items()
        for i, (m, bad, _) in enumerate(cases)
    ],
)
def test_variable_validation_rejects_bad_value(
    batch: str,
    index: int,
    module: str,
    message: str,
    batch_diagnostics: Callable[[str, str], dict[str, str]],
) -> None:
    diagnostics = batch_diagnostics(module, batch)
    assert "baseline" not in diagnostics, (
        f"the valid baseline failed: {diagnostics.get('baseline')}"
    )
    got = diagnostics.get(f"case_{index}", "")
    assert _normalise(message) in got, (
        f"expected {message!r} for case {index}, Terraform said: {got or diagnostics}"
    )


@pytest.mark.parametrize("spec", PRECONDITIONS, ids=[case for case, *_ in PRECONDITIONS])
def test_precondition_rejects_bad_combination(
    spec: tuple[str, str, dict[str, Any], str], tf_plan: Any, tf_sandbox: Any
) -> None:
    case, module, inputs, message = spec
    args = {k: v for k, v in {**BASELINES[module], **inputs}.items() if v is not None}
    root = tf_sandbox.case_root(f"precondition-{case}", module, {"m": args})
    with pytest.raises(tftest.TerraformTestError) as failure:
        tf_plan(str(root))
    assert _normalise(message) in _normalise(str(failure.value))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"image_architecture": "x86_64"}, "does not match the function's architecture"),
        ({"model_sha256": "abc"}, "model_sha256 must be 64 lowercase hex characters"),
        ({"aws_region": "Ireland"}, "aws_region must be a region code"),
        ({"environment": "qa"}, 'environment must be "dev", "staging" or "prod"'),
        # The root's own messages (the module's would say the same without the file hint).
        (
            {"memory_size": 64},
            "memory_size must be a whole number of MB from 128 to 10240 (check terraform.tfvars",
        ),
        (
            {"timeout": 901},
            "timeout must be a whole number of seconds from 1 to 900 (check terraform.tfvars",
        ),
        ({"budget_monthly_usd": 0}, "budget_monthly_usd must be null or an amount in USD"),
        (
            {"image_uri": f"127.0.0.1:5001/ml-inference/dev@sha256:{ZERO}"},
            "image_uri must name a private Amazon ECR repository",
        ),
    ],
    ids=[
        "image-architecture",
        "model-sha256",
        "aws-region",
        "environment",
        "memory-size",
        "timeout",
        "budget-monthly-usd",
        "image-uri-not-ecr",
    ],
)
def test_environment_rejects_bad_value(
    overrides: dict[str, Any], message: str, tf_plan: Any, tf_sandbox: Any
) -> None:
    with pytest.raises(tftest.TerraformTestError) as failure:
        tf_plan(str(tf_sandbox.environment("dev")), tf_vars=overrides)
    assert _normalise(message) in _normalise(str(failure.value))
