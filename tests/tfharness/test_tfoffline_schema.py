"""Spot checks of the extracted schema against the hashicorp/aws 6.x documentation.

Each expectation below is what the provider's documentation ("Argument Reference",
"Attribute Reference", "… block" sections on registry.terraform.io) says about a
resource our modules use: required / optional / computed-only, value types, and which
arguments are blocks (with their nesting and item limits) rather than attributes.
"""

from __future__ import annotations

from typing import Any

import pytest

from tfoffline.schema_cache import ensure_schema
from tfoffline.schema_extract import SchemaExtractionError, check_against_assembly


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return ensure_schema().load()


def _block(schema: dict[str, Any], resource: str, *path: str) -> dict[str, Any]:
    block: dict[str, Any] = schema["resource_schemas"][resource]["block"]
    for name in path:
        block = block["block_types"][name]["block"]
    return block


def _kind(attribute: dict[str, Any]) -> str:
    for flag in ("required", "optional"):
        if attribute.get(flag):
            return flag + ("+computed" if attribute.get("computed") else "")
    return "computed"


# (resource, block path, attribute, expected kind, expected type)
ATTRIBUTES = [
    ("aws_lambda_function", (), "function_name", "required", "string"),
    ("aws_lambda_function", (), "role", "required", "string"),
    ("aws_lambda_function", (), "image_uri", "optional", "string"),
    ("aws_lambda_function", (), "package_type", "optional", "string"),
    ("aws_lambda_function", (), "memory_size", "optional", "number"),
    ("aws_lambda_function", (), "timeout", "optional", "number"),
    ("aws_lambda_function", (), "publish", "optional", "bool"),
    ("aws_lambda_function", (), "architectures", "optional+computed", ["list", "string"]),
    ("aws_lambda_function", (), "arn", "computed", "string"),
    ("aws_lambda_function", (), "invoke_arn", "computed", "string"),
    ("aws_lambda_function", (), "qualified_arn", "computed", "string"),
    ("aws_lambda_function", (), "version", "computed", "string"),
    ("aws_lambda_function", (), "tags", "optional", ["map", "string"]),
    ("aws_lambda_function", (), "tags_all", "optional+computed", ["map", "string"]),
    ("aws_lambda_function", ("environment",), "variables", "optional", ["map", "string"]),
    ("aws_lambda_function", ("ephemeral_storage",), "size", "optional+computed", "number"),
    ("aws_lambda_function", ("file_system_config",), "arn", "required", "string"),
    ("aws_lambda_function", ("file_system_config",), "local_mount_path", "required", "string"),
    ("aws_lambda_function", ("vpc_config",), "subnet_ids", "required", ["set", "string"]),
    ("aws_lambda_alias", (), "name", "required", "string"),
    ("aws_lambda_alias", (), "function_version", "required", "string"),
    ("aws_lambda_alias", (), "invoke_arn", "computed", "string"),
    (
        "aws_lambda_alias",
        ("routing_config",),
        "additional_version_weights",
        "optional",
        ["map", "number"],
    ),
    ("aws_lambda_provisioned_concurrency_config", (), "function_name", "required", "string"),
    ("aws_lambda_provisioned_concurrency_config", (), "qualifier", "required", "string"),
    (
        "aws_lambda_provisioned_concurrency_config",
        (),
        "provisioned_concurrent_executions",
        "required",
        "number",
    ),
    ("aws_lambda_provisioned_concurrency_config", (), "skip_destroy", "optional", "bool"),
    ("aws_appautoscaling_target", (), "max_capacity", "required", "number"),
    ("aws_appautoscaling_target", (), "min_capacity", "required", "number"),
    ("aws_appautoscaling_target", (), "resource_id", "required", "string"),
    ("aws_appautoscaling_target", (), "scalable_dimension", "required", "string"),
    ("aws_appautoscaling_target", (), "service_namespace", "required", "string"),
    ("aws_appautoscaling_target", (), "role_arn", "optional+computed", "string"),
    ("aws_appautoscaling_policy", (), "policy_type", "optional", "string"),
    ("aws_appautoscaling_policy", (), "alarm_arns", "computed", ["list", "string"]),
    (
        "aws_appautoscaling_policy",
        ("target_tracking_scaling_policy_configuration",),
        "target_value",
        "required",
        "number",
    ),
    (
        "aws_appautoscaling_policy",
        ("target_tracking_scaling_policy_configuration", "customized_metric_specification"),
        "statistic",
        "optional",
        "string",
    ),
    ("aws_appautoscaling_scheduled_action", (), "schedule", "required", "string"),
    ("aws_appautoscaling_scheduled_action", (), "timezone", "optional", "string"),
    # Documented as strings: the provider accepts "" to leave a bound unchanged.
    (
        "aws_appautoscaling_scheduled_action",
        ("scalable_target_action",),
        "min_capacity",
        "optional",
        "string",
    ),
    ("aws_ecr_repository", (), "name", "required", "string"),
    ("aws_ecr_repository", (), "image_tag_mutability", "optional", "string"),
    ("aws_ecr_repository", (), "force_delete", "optional", "bool"),
    ("aws_ecr_repository", (), "repository_url", "computed", "string"),
    ("aws_ecr_repository", ("image_scanning_configuration",), "scan_on_push", "required", "bool"),
    ("aws_ecr_lifecycle_policy", (), "repository", "required", "string"),
    ("aws_ecr_lifecycle_policy", (), "policy", "required", "string"),
    ("aws_ecr_lifecycle_policy", (), "registry_id", "computed", "string"),
    ("aws_efs_file_system", (), "encrypted", "optional+computed", "bool"),
    ("aws_efs_file_system", (), "performance_mode", "optional+computed", "string"),
    ("aws_efs_file_system", (), "throughput_mode", "optional", "string"),
    ("aws_efs_file_system", (), "dns_name", "computed", "string"),
    ("aws_efs_file_system", ("lifecycle_policy",), "transition_to_ia", "optional", "string"),
    ("aws_efs_access_point", (), "file_system_id", "required", "string"),
    ("aws_efs_access_point", ("posix_user",), "uid", "required", "number"),
    ("aws_efs_access_point", ("posix_user",), "secondary_gids", "optional", ["set", "number"]),
    (
        "aws_efs_access_point",
        ("root_directory", "creation_info"),
        "permissions",
        "required",
        "string",
    ),
    ("aws_efs_mount_target", (), "file_system_id", "required", "string"),
    ("aws_efs_mount_target", (), "subnet_id", "required", "string"),
    ("aws_efs_mount_target", (), "security_groups", "optional+computed", ["set", "string"]),
    ("aws_budgets_budget", (), "budget_type", "required", "string"),
    ("aws_budgets_budget", (), "time_unit", "required", "string"),
    ("aws_budgets_budget", (), "limit_amount", "optional+computed", "string"),
    ("aws_budgets_budget", ("notification",), "threshold", "required", "number"),
    ("aws_budgets_budget", ("notification",), "threshold_type", "required", "string"),
    (
        "aws_budgets_budget",
        ("notification",),
        "subscriber_sns_topic_arns",
        "optional",
        ["set", "string"],
    ),
    ("aws_cloudwatch_metric_alarm", (), "alarm_name", "required", "string"),
    ("aws_cloudwatch_metric_alarm", (), "evaluation_periods", "optional", "number"),
    ("aws_cloudwatch_metric_alarm", (), "alarm_actions", "optional", ["set", "string"]),
    ("aws_cloudwatch_metric_alarm", (), "dimensions", "optional", ["map", "string"]),
    ("aws_cloudwatch_metric_alarm", ("metric_query", "metric"), "stat", "required", "string"),
    ("aws_sns_topic", (), "name", "optional+computed", "string"),
    ("aws_sns_topic", (), "kms_master_key_id", "optional", "string"),
    ("aws_sns_topic", (), "arn", "computed", "string"),
    ("aws_iam_role", (), "assume_role_policy", "required", "string"),
    ("aws_iam_role", (), "name", "optional+computed", "string"),
    ("aws_iam_role", (), "managed_policy_arns", "optional+computed", ["set", "string"]),
    ("aws_iam_role", (), "unique_id", "computed", "string"),
]


def _case_id(case: tuple[Any, ...]) -> str:
    return ".".join([case[0], *case[1], case[2]])


@pytest.mark.parametrize("case", ATTRIBUTES, ids=_case_id)
def test_attribute(
    schema: dict[str, Any], case: tuple[str, tuple[str, ...], str, str, Any]
) -> None:
    resource, path, name, kind, tf_type = case
    attribute = _block(schema, resource, *path)["attributes"][name]
    assert _kind(attribute) == kind
    assert attribute["type"] == tf_type


# (resource, block path, block, nesting mode, min_items, max_items)
BLOCKS = [
    ("aws_lambda_function", (), "environment", "list", 0, 1),
    ("aws_lambda_function", (), "image_config", "list", 0, 1),
    ("aws_lambda_function", (), "vpc_config", "list", 0, 1),
    ("aws_lambda_function", (), "file_system_config", "list", 0, 1),
    ("aws_lambda_function", (), "ephemeral_storage", "list", 0, 1),
    ("aws_lambda_function", (), "timeouts", "single", 0, 0),
    ("aws_lambda_alias", (), "routing_config", "list", 0, 1),
    ("aws_appautoscaling_target", (), "suspended_state", "list", 0, 1),
    ("aws_appautoscaling_policy", (), "target_tracking_scaling_policy_configuration", "list", 0, 1),
    ("aws_appautoscaling_policy", (), "step_scaling_policy_configuration", "list", 0, 1),
    (
        "aws_appautoscaling_policy",
        ("step_scaling_policy_configuration",),
        "step_adjustment",
        "set",
        0,
        0,
    ),
    ("aws_appautoscaling_scheduled_action", (), "scalable_target_action", "list", 1, 1),
    ("aws_ecr_repository", (), "image_scanning_configuration", "list", 0, 1),
    ("aws_ecr_repository", (), "encryption_configuration", "list", 0, 0),
    ("aws_efs_file_system", (), "lifecycle_policy", "list", 0, 0),
    ("aws_efs_access_point", (), "posix_user", "list", 0, 1),
    ("aws_efs_access_point", (), "root_directory", "list", 0, 1),
    ("aws_efs_access_point", ("root_directory",), "creation_info", "list", 0, 1),
    ("aws_budgets_budget", (), "notification", "set", 0, 0),
    ("aws_budgets_budget", (), "cost_filter", "set", 0, 0),
    ("aws_cloudwatch_metric_alarm", (), "metric_query", "set", 0, 0),
    ("aws_cloudwatch_metric_alarm", ("metric_query",), "metric", "list", 0, 1),
    ("aws_iam_role", (), "inline_policy", "set", 0, 0),
]


@pytest.mark.parametrize("case", BLOCKS, ids=_case_id)
def test_block(
    schema: dict[str, Any], case: tuple[str, tuple[str, ...], str, str, int, int]
) -> None:
    resource, path, name, mode, min_items, max_items = case
    parent = _block(schema, resource, *path)
    assert name not in parent.get("attributes", {})
    block = parent["block_types"][name]
    assert block["nesting_mode"] == mode
    assert block.get("min_items", 0) == min_items
    assert block.get("max_items", 0) == max_items


def test_computed_only_nested_values_are_object_attributes(schema: dict[str, Any]) -> None:
    size = schema["resource_schemas"]["aws_efs_file_system"]["block"]["attributes"]["size_in_bytes"]
    assert size == {
        "computed": True,
        "type": [
            "list",
            ["object", {"value": "number", "value_in_ia": "number", "value_in_standard": "number"}],
        ],
    }


def test_every_resource_and_data_source_is_present(schema: dict[str, Any]) -> None:
    assert schema["provider_version"] == "6.69.1"
    assert len(schema["resource_schemas"]) == 1735
    assert len(schema["data_source_schemas"]) == 685
    names = [*schema["resource_schemas"], *schema["data_source_schemas"]]
    assert all(n.startswith("aws_") and n == n.lower() for n in names)
    for data_source in ("aws_caller_identity", "aws_region", "aws_partition"):
        assert data_source in schema["data_source_schemas"]


def test_provider_configuration(schema: dict[str, Any]) -> None:
    provider = schema["provider"]["block"]
    assert _kind(provider["attributes"]["region"]) == "optional"
    assert "alias" not in provider["attributes"]  # a Terraform meta-argument
    default_tags = provider["block_types"]["default_tags"]["block"]
    assert default_tags["attributes"]["tags"] == {"optional": True, "type": ["map", "string"]}


def test_extraction_refuses_to_disagree_with_the_assembly() -> None:
    link = "{@link https://registry.terraform.io/providers/hashicorp/aws/6.69.1/docs/resources"
    assembly = {
        "types": {
            "x.SnsTopicConfig": {
                "name": "SnsTopicConfig",
                "interfaces": ["cdktn.TerraformMetaArguments"],
                "properties": [
                    {
                        "name": "name",
                        "optional": True,
                        "docs": {"summary": f"{link}/sns_topic#name SnsTopic#name}}."},
                    },
                    {
                        "name": "policy",
                        "docs": {"summary": f"{link}/sns_topic#policy SnsTopic#policy}}."},
                    },
                ],
            }
        }
    }
    resources = {
        "aws_sns_topic": {"block": {"attributes": {"name": {"type": "string", "optional": True}}}}
    }
    with pytest.raises(SchemaExtractionError, match=r"aws_sns_topic\.policy is missing"):
        check_against_assembly(assembly, resources, {})
    resources["aws_sns_topic"]["block"]["attributes"]["policy"] = {
        "type": "string",
        "optional": True,
    }
    with pytest.raises(SchemaExtractionError, match="required-ness disagrees"):
        check_against_assembly(assembly, resources, {})
    resources["aws_sns_topic"]["block"]["attributes"]["policy"] = {
        "type": "string",
        "required": True,
    }
    check_against_assembly(assembly, resources, {})
