"""Planned values and data source answers, checked directly on the real schema."""

from __future__ import annotations

from typing import Any

import pytest
from tf.types import Unknown

from tfoffline import data_sources
from tfoffline.planning import ProviderSettings, plan_block
from tfoffline.schema_cache import ensure_schema


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return ensure_schema().load()


def _null_object(block: dict[str, Any]) -> dict[str, Any]:
    """What Terraform proposes for a configuration that sets nothing."""
    value: dict[str, Any] = dict.fromkeys(block.get("attributes", {}))
    value.update(dict.fromkeys(block.get("block_types", {})))
    return value


def test_computed_attributes_inside_blocks_become_unknown(schema: dict[str, Any]) -> None:
    block = schema["resource_schemas"]["aws_lambda_function"]["block"]
    proposed = _null_object(block)
    storage = _null_object(block["block_types"]["ephemeral_storage"]["block"])
    proposed.update(function_name="f", role="r", ephemeral_storage=[storage])
    planned = plan_block(block, proposed, ProviderSettings(region="eu-west-1"), top_level=True)
    assert planned is not None
    assert planned["arn"] is Unknown
    assert planned["ephemeral_storage"][0]["size"] is Unknown  # optional + computed
    assert planned["memory_size"] is None  # optional only: the provider's default, unknown here
    assert planned["function_name"] == "f"
    assert planned["region"] == "eu-west-1"
    assert planned["tags_all"] is Unknown  # no tags at all


def test_unlisted_data_source_answers_with_typed_placeholders(schema: dict[str, Any]) -> None:
    block = schema["data_source_schemas"]["aws_ecr_repository"]["block"]
    config = _null_object(block)
    config["name"] = "models"
    state = data_sources.read(
        "aws_ecr_repository", block, config, ProviderSettings(region="eu-west-1")
    )
    assert state["name"] == "models"
    assert state["repository_url"] == "offline-repository_url"
    assert state["arn"] == "arn:aws:tfoffline:eu-west-1:123456789012:aws_ecr_repository/arn"
    assert set(state) == set(config)
    subnets_block = schema["data_source_schemas"]["aws_subnets"]["block"]
    subnets = data_sources.read(
        "aws_subnets", subnets_block, _null_object(subnets_block), ProviderSettings()
    )
    assert subnets["ids"] == ["offline-ids_0"]
    assert all(value is not Unknown for value in state.values())


def test_region_and_partition_follow_provider_region(schema: dict[str, Any]) -> None:
    settings = ProviderSettings(region="cn-north-1")
    partition_block = schema["data_source_schemas"]["aws_partition"]["block"]
    partition = data_sources.read(
        "aws_partition", partition_block, _null_object(partition_block), settings
    )
    assert partition["partition"] == "aws-cn"
    assert partition["dns_suffix"] == "amazonaws.com.cn"
    region_block = schema["data_source_schemas"]["aws_region"]["block"]
    region = data_sources.read("aws_region", region_block, _null_object(region_block), settings)
    assert region["region"] == "cn-north-1"
    assert region["endpoint"] == "ec2.cn-north-1.amazonaws.com.cn"
