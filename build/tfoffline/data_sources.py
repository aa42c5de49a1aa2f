"""What the offline provider answers when Terraform reads a data source.

Terraform requires a data source read to return a wholly known value, so nothing here
can be "unknown until apply". The data sources almost every configuration reads answer
with plausible values for a fixed test account (caller identity, region, partition,
availability zones); ``aws_iam_policy_document`` is computed for real. Any other data
source answers with its configured arguments and deterministic placeholders of the
right type for what the cloud would have returned (``offline-<attribute>`` strings,
ARNs in the test account, zero, false, one-element lists of such values, empty maps
and empty lists of objects).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

from tfoffline.planning import ProviderSettings, plan_block
from tfoffline.policy_document import render

ACCOUNT_ID = "123456789012"
CALLER_USER = "tfoffline"

_REGION_DESCRIPTIONS = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)",
    "eu-west-1": "Europe (Ireland)",
    "eu-west-2": "Europe (London)",
    "eu-central-1": "Europe (Frankfurt)",
    "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-northeast-1": "Asia Pacific (Tokyo)",
}


def partition_of(region: str) -> tuple[str, str]:
    """``(partition, dns_suffix)`` for a region name."""
    if region.startswith("cn-"):
        return "aws-cn", "amazonaws.com.cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov", "amazonaws.com"
    return "aws", "amazonaws.com"


def _placeholder_for(type_name: str, region: str) -> Callable[[str, dict[str, Any]], Any]:
    partition, _ = partition_of(region)

    def fill(name: str, spec: dict[str, Any]) -> Any:
        return _placeholder(spec.get("type"), name, type_name, partition, region)

    return fill


def _placeholder(tf_type: Any, name: str, type_name: str, partition: str, region: str) -> Any:
    if tf_type == "string":
        if name == "arn" or name.endswith("_arn"):
            return f"arn:{partition}:tfoffline:{region}:{ACCOUNT_ID}:{type_name}/{name}"
        return f"offline-{name}"
    if tf_type == "number":
        return 0
    if tf_type == "bool":
        return False
    if isinstance(tf_type, list) and tf_type[0] in ("list", "set"):
        # One element, not none: ``for_each = toset(data.x.ids)`` then plans something.
        if tf_type[1] in ("string", "number", "bool"):
            return [_placeholder(tf_type[1], f"{name}_0", type_name, partition, region)]
        return []
    if isinstance(tf_type, list) and tf_type[0] == "map":
        return {}
    if isinstance(tf_type, list) and tf_type[0] == "object":
        return {k: _placeholder(t, k, type_name, partition, region) for k, t in tf_type[1].items()}
    # Nested attribute objects and dynamic values: null is a valid known value.
    return None


def _caller_identity(config: dict[str, Any], settings: ProviderSettings) -> dict[str, Any]:
    partition, _ = partition_of(settings.region)
    return {
        **config,
        "id": ACCOUNT_ID,
        "account_id": ACCOUNT_ID,
        "arn": f"arn:{partition}:iam::{ACCOUNT_ID}:user/{CALLER_USER}",
        "user_id": "AIDAOFFLINEEXAMPLE0000",
    }


def _region(config: dict[str, Any], settings: ProviderSettings) -> dict[str, Any]:
    region = config.get("region") or config.get("name") or settings.region
    _, dns_suffix = partition_of(region)
    return {
        **config,
        "id": region,
        "name": region,
        "region": region,
        "endpoint": f"ec2.{region}.{dns_suffix}",
        "description": _REGION_DESCRIPTIONS.get(region, region),
    }


def _partition(config: dict[str, Any], settings: ProviderSettings) -> dict[str, Any]:
    partition, dns_suffix = partition_of(settings.region)
    return {
        **config,
        "id": partition,
        "partition": partition,
        "dns_suffix": dns_suffix,
        "reverse_dns_prefix": ".".join(reversed(dns_suffix.split("."))),
    }


def _availability_zones(config: dict[str, Any], settings: ProviderSettings) -> dict[str, Any]:
    region = settings.region
    letters = "abc"
    short = "".join(part[0] for part in region.split("-")[:-1]) + region.split("-")[-1]
    return {
        **config,
        "id": region,
        "names": [f"{region}{x}" for x in letters],
        "zone_ids": [f"{short}-az{i + 1}" for i in range(len(letters))],
        "group_names": [region],
    }


def _subnet(config: dict[str, Any], settings: ProviderSettings) -> dict[str, Any]:
    """A subnet in one of the three zones of ``_availability_zones``, chosen by its id.

    The zone follows from the id's last hexadecimal digit (0, 3, 6, 9, c, f: zone a; 1, 4,
    7, a, d: zone b; the others: zone c), so a test can pick subnets that share a zone or
    not; an id without a hex digit at its end lands in zone a.
    """
    subnet_id = str(config.get("id") or "subnet-0")
    last = subnet_id[-1:].lower()
    index = int(last, 16) % 3 if last and last in "0123456789abcdef" else 0
    zones = _availability_zones({}, settings)
    return {
        **config,
        "id": subnet_id,
        "availability_zone": config.get("availability_zone") or zones["names"][index],
        "availability_zone_id": config.get("availability_zone_id") or zones["zone_ids"][index],
    }


def _policy_document(config: dict[str, Any], settings: ProviderSettings) -> dict[str, Any]:
    pretty, minified = render(config)
    # The provider's id is the CRC-32 of the rendered JSON (SDK's HashString).
    return {
        **config,
        "id": str(zlib.crc32(pretty.encode())),
        "json": pretty,
        "minified_json": minified,
    }


_KNOWN: dict[str, Callable[[dict[str, Any], ProviderSettings], dict[str, Any]]] = {
    "aws_caller_identity": _caller_identity,
    "aws_region": _region,
    "aws_partition": _partition,
    "aws_availability_zones": _availability_zones,
    "aws_subnet": _subnet,
    "aws_iam_policy_document": _policy_document,
}


def read(
    type_name: str, block: dict[str, Any], config: dict[str, Any], settings: ProviderSettings
) -> dict[str, Any]:
    """The state a data source read returns: every attribute of the schema, all known."""
    special = _KNOWN.get(type_name)
    answered = special(config, settings) if special else dict(config)
    # Keep exactly the schema's attributes (Terraform sends every one, null when unset).
    known = {k: answered.get(k, v) for k, v in config.items()}
    fill = _placeholder_for(type_name, settings.region)
    filled = plan_block(block, known, settings, top_level=True, fill=fill)
    assert filled is not None
    return filled
