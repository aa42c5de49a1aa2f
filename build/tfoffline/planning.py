"""Planned values the way the real provider plans a create: computed means unknown.

Terraform hands the provider the *proposed* new state (configuration merged with prior
state, null where unset). An attribute the configuration leaves null and the schema
marks ``computed`` is something only the cloud knows, so it becomes unknown until
apply, at any depth of nested blocks and nested attributes. Two attributes the real
provider does know at plan time are filled in: ``region`` (from the provider
configuration) and ``tags_all`` (provider ``default_tags`` merged with ``tags``, when
that merge holds any tag).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tf.types import Unknown


@dataclass
class ProviderSettings:
    """What the provider configuration contributes to plans."""

    region: str = "us-east-1"
    default_tags: dict[str, Any] = field(default_factory=dict)


def _is_known(value: Any) -> bool:
    if value is Unknown or type(value).__name__ == "ExtType":
        return False
    if isinstance(value, dict):
        return all(_is_known(v) for v in value.values())
    if isinstance(value, list):
        return all(_is_known(v) for v in value)
    return True


def _tags_all(settings: ProviderSettings, tags: Any) -> Any:
    # As the provider's SetTagsDiff: known when the merge has tags, else computed.
    if not _is_known(tags):
        return Unknown
    merged = dict(settings.default_tags)
    merged.update(tags or {})
    return merged or Unknown


# Given an attribute's name and schema, the value to plan for it when left unset.
Filler = Callable[[str, dict[str, Any]], Any]


def unknown(_name: str, _spec: dict[str, Any]) -> Any:
    """The default filler: the value is only known after apply."""
    return Unknown


def plan_block(
    block: dict[str, Any],
    value: dict[str, Any] | None,
    settings: ProviderSettings,
    top_level: bool = False,
    fill: Filler = unknown,
) -> dict[str, Any] | None:
    """Return ``value`` with unset computed attributes planned (unknown or known)."""
    if value is None or not isinstance(value, dict):
        return value
    planned = dict(value)
    for name, spec in block.get("attributes", {}).items():
        current = planned.get(name)
        if current is None and spec.get("computed"):
            if top_level and name == "region":
                planned[name] = settings.region
            elif top_level and name == "tags_all":
                planned[name] = _tags_all(settings, planned.get("tags"))
            else:
                planned[name] = fill(name, spec)
        elif current is not None and "nested_type" in spec:
            planned[name] = _plan_nested(spec["nested_type"], current, settings, fill)
    for name, spec in block.get("block_types", {}).items():
        current = planned.get(name)
        if current is None or not _is_container(current):
            continue
        inner = spec["block"]
        if spec["nesting_mode"] in ("single", "group"):
            planned[name] = plan_block(inner, current, settings, fill=fill)
        elif spec["nesting_mode"] == "map":
            planned[name] = {
                k: plan_block(inner, v, settings, fill=fill) for k, v in current.items()
            }
        else:
            planned[name] = [plan_block(inner, v, settings, fill=fill) for v in current]
    return planned


def _is_container(value: Any) -> bool:
    return isinstance(value, dict | list)


def _plan_nested(
    nested: dict[str, Any], value: Any, settings: ProviderSettings, fill: Filler
) -> Any:
    if not _is_container(value):
        return value
    inner = {"attributes": nested["attributes"]}
    mode = nested["nesting_mode"]
    if mode == "single":
        return plan_block(inner, value, settings, fill=fill)
    if mode == "map":
        return {k: plan_block(inner, v, settings, fill=fill) for k, v in value.items()}
    return [plan_block(inner, v, settings, fill=fill) for v in value]
