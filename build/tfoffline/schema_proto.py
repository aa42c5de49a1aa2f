"""Translate the schema JSON (``providers schema -json`` shape) into plugin protocol messages.

The ``tf`` package ships the generated protocol 6 stubs; its own schema classes know only
a subset of nesting modes and types, so the messages are built here directly from JSON.
"""

from __future__ import annotations

import json
from typing import Any

from tf.gen import tfplugin_pb2 as pb

from tfoffline.functions import FUNCTIONS

_BLOCK_NESTING = {
    "single": pb.Schema.NestedBlock.NestingMode.SINGLE,
    "list": pb.Schema.NestedBlock.NestingMode.LIST,
    "set": pb.Schema.NestedBlock.NestingMode.SET,
    "map": pb.Schema.NestedBlock.NestingMode.MAP,
    "group": pb.Schema.NestedBlock.NestingMode.GROUP,
}
_OBJECT_NESTING = {
    "single": pb.Schema.Object.NestingMode.SINGLE,
    "list": pb.Schema.Object.NestingMode.LIST,
    "set": pb.Schema.Object.NestingMode.SET,
    "map": pb.Schema.Object.NestingMode.MAP,
}


def _attribute(name: str, spec: dict[str, Any]) -> Any:
    fields: dict[str, Any] = {
        "name": name,
        "required": bool(spec.get("required")),
        "optional": bool(spec.get("optional")),
        "computed": bool(spec.get("computed")),
        "sensitive": bool(spec.get("sensitive")),
    }
    if "nested_type" in spec:
        nested = spec["nested_type"]
        fields["nested_type"] = pb.Schema.Object(
            attributes=[_attribute(n, a) for n, a in sorted(nested["attributes"].items())],
            nesting=_OBJECT_NESTING[nested["nesting_mode"]],
        )
    else:
        fields["type"] = json.dumps(spec["type"], separators=(",", ":")).encode()
    return pb.Schema.Attribute(**fields)


def block_message(block: dict[str, Any]) -> Any:
    """``pb.Schema.Block`` for one JSON block."""
    return pb.Schema.Block(
        attributes=[_attribute(n, a) for n, a in sorted(block.get("attributes", {}).items())],
        block_types=[
            pb.Schema.NestedBlock(
                type_name=n,
                block=block_message(b["block"]),
                nesting=_BLOCK_NESTING[b["nesting_mode"]],
                min_items=b.get("min_items", 0),
                max_items=b.get("max_items", 0),
            )
            for n, b in sorted(block.get("block_types", {}).items())
        ],
    )


def _schema(entry: dict[str, Any]) -> Any:
    return pb.Schema(version=entry.get("version", 0), block=block_message(entry["block"]))


def schema_response_bytes(schema: dict[str, Any]) -> bytes:
    """Serialized ``GetProviderSchema.Response`` for the whole provider."""
    response = pb.GetProviderSchema.Response(
        provider=_schema(schema["provider"]),
        resource_schemas={n: _schema(s) for n, s in schema["resource_schemas"].items()},
        data_source_schemas={n: _schema(s) for n, s in schema["data_source_schemas"].items()},
        functions={name: f.message() for name, f in FUNCTIONS.items()},
        # As the real provider (terraform-plugin-go) declares: Terraform may reuse a
        # schema it already fetched in this command instead of asking each new start.
        server_capabilities=pb.ServerCapabilities(get_provider_schema_optional=True),
    )
    data: bytes = response.SerializeToString(deterministic=True)
    return data
