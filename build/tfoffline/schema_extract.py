"""Rebuild the hashicorp/aws provider schema from the ``cdktn-provider-aws`` jsii bundle.

``cdktn-provider-aws`` is generated from ``terraform providers schema -json`` of one
provider release. Its ``_jsii/*.jsii.tgz`` holds two views of that schema, and neither
alone is complete, so both are read:

* the ``.jsii`` assembly (type system and docs): which properties are documented as
  *blocks* (``"vpc_config block."``), as opposed to nested attributes of object type;
* the compiled modules ``lib/<resource>/index.js`` of the same bundle: for every
  attribute and block at every depth the generator wrote a line
  ``// name - computed: X, optional: Y, required: Z``, a getter whose body names the
  attribute's type, and ``synthesizeHclAttributes`` entries with the nesting kind
  (``list``/``set``/``map``/``struct``) and element type.

The result has the shape of ``terraform providers schema -json`` for one provider
(``provider``, ``resource_schemas``, ``data_source_schemas``). What the bundle does not
carry, and so is absent here: ``sensitive`` flags, descriptions, deprecation notes,
defaults and validators (the real provider enforces those itself, at plan time).
"""

from __future__ import annotations

import io
import json
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

SchemaBlock = dict[str, Any]
# Part of the cache key: bump when the extraction changes so older caches are not reused.
EXTRACTOR_VERSION = 6

_CLASS_RE = re.compile(r"^class (\w+)(?: extends ([\w.]+))? \{\n(.*?)^\}", re.S | re.M)
_FUNC_RE = re.compile(r"^function (\w+)ToHclTerraform\(struct\) \{\n(.*?)^\}", re.S | re.M)
_ENTRY_RE = re.compile(
    r"^    // (\w+) - computed: (true|false), optional: (true|false), required: (true|false)\n"
    r"((?:    (?!// ).*\n)*?)"
    r"    get (\w+)\(\) \{\n        return (.*);\n",
    re.M,
)
_FIELD_NEW_RE = re.compile(r'^    _\w+ = new ([\w.]+)\(this, "\w+"(?:, (true|false))?\);', re.M)
_SYNTH_RE = re.compile(
    r"^\s+(\w+): \{\n\s+value: (.*),\n\s+isBlock: (true|false),\n"
    r'\s+type: "(\w+)",\n\s+storageClassType: "(\w+)",\n',
    re.M,
)
_TF_TYPE_RE = re.compile(r'static tfResourceType = "(\w+)";')
_STRUCT_FN_RE = re.compile(r"(\w+)ToHclTerraform\b")
_DOC_NAME_RE = re.compile(r"#(\w+) ")
_PROVIDER_VERSION_RE = re.compile(r"providerVersion: '([\w.-]+)'")

_SCALARS: dict[str, Any] = {
    "string": "string",
    "number": "number",
    "boolean": "bool",
    "any": "dynamic",
}
_GETTER_TYPES: dict[str, Any] = {
    "this.getStringAttribute": "string",
    "this.getNumberAttribute": "number",
    "this.getBooleanAttribute": "bool",
    "this.getListAttribute": ["list", "string"],
    "cdktn.Fn.tolist(this.getListAttribute": ["set", "string"],
    "this.getNumberListAttribute": ["list", "number"],
    "cdktn.Token.asNumberList(cdktn.Fn.tolist(this.getNumberListAttribute": ["set", "number"],
    "this.getStringMapAttribute": ["map", "string"],
    "this.getNumberMapAttribute": ["map", "number"],
    "this.getBooleanMapAttribute": ["map", "bool"],
    "this.getAnyMapAttribute": ["map", "dynamic"],
    "this.interpolationForAttribute": "dynamic",
}
_CDKTN_MAPS: dict[str, Any] = {
    "cdktn.StringMap": ["map", "string"],
    "cdktn.NumberMap": ["map", "number"],
    "cdktn.BooleanMap": ["map", "bool"],
    "cdktn.AnyMap": ["map", "dynamic"],
}


class SchemaExtractionError(RuntimeError):
    """The bundle does not look like a cdktn provider bundle this code understands."""


@dataclass
class _Entry:
    """One attribute or block as the generated module describes it."""

    name: str
    computed: bool
    optional: bool
    required: bool
    getter: str
    field_class: str | None
    wraps_set: bool


@dataclass
class _Synth:
    """One ``synthesizeHclAttributes`` entry: how a configurable value is written."""

    is_block: bool
    kind: str
    storage: str
    struct: str | None


@dataclass
class _Module:
    """The parsed ``index.js`` of one resource, data source or the provider."""

    path: str
    classes: dict[str, tuple[str | None, str]] = field(default_factory=dict)
    entries: dict[str, list[_Entry]] = field(default_factory=dict)
    synth: dict[str, dict[str, _Synth]] = field(default_factory=dict)


def _parse_synth(body: str) -> dict[str, _Synth]:
    out: dict[str, _Synth] = {}
    for m in _SYNTH_RE.finditer(body):
        struct = _STRUCT_FN_RE.search(m.group(2))
        out[m.group(1)] = _Synth(
            is_block=m.group(3) == "true",
            kind=m.group(4),
            storage=m.group(5),
            struct=_upper_first(struct.group(1)) if struct else None,
        )
    return out


def _upper_first(name: str) -> str:
    return name[:1].upper() + name[1:]


def parse_module(path: str, source: str) -> _Module:
    """Parse one generated module into classes, attribute entries and synth tables."""
    module = _Module(path=path)
    for m in _CLASS_RE.finditer(source):
        name, base, body = m.group(1), m.group(2), m.group(3)
        module.classes[name] = (base, body)
        entries: list[_Entry] = []
        for e in _ENTRY_RE.finditer(body):
            new = _FIELD_NEW_RE.search(e.group(5))
            entries.append(
                _Entry(
                    name=e.group(1),
                    computed=e.group(2) == "true",
                    optional=e.group(3) == "true",
                    required=e.group(4) == "true",
                    getter=e.group(7),
                    field_class=new.group(1) if new else None,
                    wraps_set=bool(new and new.group(2) == "true"),
                )
            )
        module.entries[name] = entries
        if "synthesizeHclAttributes()" in body:
            module.synth[name] = _parse_synth(body.split("synthesizeHclAttributes()", 1)[1])
    for m in _FUNC_RE.finditer(source):
        module.synth[_upper_first(m.group(1))] = _parse_synth(m.group(2))
    return module


class _Builder:
    """Turns one parsed module into Terraform JSON schema blocks."""

    def __init__(self, module: _Module, docs: _JsiiDocs) -> None:
        self.module = module
        self.documented_blocks = docs.blocks
        self.optional = docs.optional

    def _entries(self, class_name: str, synth_key: str) -> list[_Entry]:
        entries = self.module.entries.get(class_name)
        if entries is not None:
            return entries
        # Provider blocks have no generated class, only a struct: take the argument list
        # from its synth table and required/optional from the jsii struct.
        optional = self.optional.get(synth_key, {})
        return [
            _Entry(
                name=name,
                computed=False,
                optional=optional.get(name, True),
                required=not optional.get(name, True),
                getter="",
                field_class=None,
                wraps_set=False,
            )
            for name in self.module.synth.get(synth_key, {})
        ]

    def block(self, class_name: str, synth_key: str, docs_key: str) -> SchemaBlock:
        """Schema block for a class (resource or ``…OutputReference``) and its struct."""
        synth = self.module.synth.get(synth_key, {})
        doc_blocks = self.documented_blocks.get(docs_key, set())
        attributes: dict[str, Any] = {}
        block_types: dict[str, Any] = {}
        for entry in self._entries(class_name, synth_key):
            s = synth.get(entry.name)
            if s is not None and s.is_block and s.struct is not None:
                if entry.name in doc_blocks:
                    block_types[entry.name] = self._nested_block(entry, s)
                else:
                    attributes[entry.name] = self._nested_attribute(entry, s)
            elif s is not None:
                attributes[entry.name] = {"type": self._synth_type(s), **_flags(entry)}
            else:
                attributes[entry.name] = {"type": self._getter_type(entry), **_flags(entry)}
        out: SchemaBlock = {}
        if attributes:
            out["attributes"] = attributes
        if block_types:
            out["block_types"] = block_types
        return out

    def _nested_block(self, entry: _Entry, s: _Synth) -> dict[str, Any]:
        assert s.struct is not None
        inner = self.block(f"{s.struct}OutputReference", s.struct, s.struct)
        mode = {"list": "list", "set": "set", "struct": "single", "map": "map"}[s.kind]
        if mode == "set" and _has_dynamic(inner):
            # The generator cut this very deep block tree short and typed the rest as
            # "any", which Terraform forbids inside set blocks; list is the closest
            # legal shape (wafv2 rule statements are the known case).
            mode = "list"
        out: dict[str, Any] = {"nesting_mode": mode, "block": inner}
        single_ref = entry.field_class is not None and entry.field_class.endswith("OutputReference")
        if mode in ("list", "set"):
            # The generator writes a max_items = 1 list or set block as one object
            # (``…OutputReference``) rather than a ``…List``.
            if entry.required:
                out["min_items"] = 1
            if single_ref:
                out["max_items"] = 1
        elif mode == "single" and entry.required:
            out["min_items"] = 1
            out["max_items"] = 1
        return out

    def _nested_attribute(self, entry: _Entry, s: _Synth) -> dict[str, Any]:
        assert s.struct is not None
        inner = self.block(f"{s.struct}OutputReference", s.struct, s.struct)
        mode = {"list": "list", "set": "set", "struct": "single", "map": "map"}[s.kind]
        return {
            "nested_type": {"attributes": inner.get("attributes", {}), "nesting_mode": mode},
            **_flags(entry),
        }

    def _synth_type(self, s: _Synth) -> Any:
        storage = s.storage
        if storage in _SCALARS:
            return _SCALARS[storage]
        # e.g. stringList, numberMap, stringListList, stringMapList: read right to left.
        parts = re.findall(r"[a-z]+|[A-Z][a-z]*", storage)
        element: Any = _SCALARS[parts[0]]
        for part in parts[1:-1]:
            element = [{"List": "list", "Map": "map"}[part], element]
        outer = {"list": "list", "set": "set", "map": "map", "simple": "list"}[s.kind]
        return [outer, element]

    def _getter_type(self, entry: _Entry) -> Any:
        if entry.field_class is not None:
            cls = entry.field_class
            if cls in _CDKTN_MAPS:
                return _CDKTN_MAPS[cls]
            for suffix, collection in (("List", None), ("Map", "map"), ("OutputReference", "")):
                if cls.endswith(suffix):
                    struct = cls[: -len(suffix)]
                    obj = self._object_type(struct)
                    if collection is None:
                        return ["set" if entry.wraps_set else "list", obj]
                    return [collection, obj] if collection else obj
            raise SchemaExtractionError(f"{self.module.path}: unknown field class {cls}")
        getter = entry.getter
        for prefix, tf_type in sorted(_GETTER_TYPES.items(), key=lambda kv: -len(kv[0])):
            if getter.startswith(prefix + "("):
                return tf_type
        raise SchemaExtractionError(
            f"{self.module.path}: cannot tell the type of {entry.name!r} from {getter!r}"
        )

    def _object_type(self, struct: str) -> Any:
        inner = self.block(f"{struct}OutputReference", struct, struct)
        attrs = {name: _attribute_type(a) for name, a in inner.get("attributes", {}).items()}
        for name, b in inner.get("block_types", {}).items():
            attrs[name] = _block_type(b)
        return ["object", attrs]


def _has_dynamic(block: SchemaBlock) -> bool:
    for attribute in block.get("attributes", {}).values():
        if "dynamic" in json.dumps(_attribute_type(attribute)):
            return True
    return any(_has_dynamic(b["block"]) for b in block.get("block_types", {}).values())


def _attribute_type(attribute: dict[str, Any]) -> Any:
    if "type" in attribute:
        return attribute["type"]
    nested = attribute["nested_type"]
    obj = ["object", {n: _attribute_type(a) for n, a in nested["attributes"].items()}]
    mode = nested["nesting_mode"]
    return obj if mode == "single" else [mode, obj]


def _block_type(block: dict[str, Any]) -> Any:
    inner = block["block"]
    attrs = {n: _attribute_type(a) for n, a in inner.get("attributes", {}).items()}
    for n, b in inner.get("block_types", {}).items():
        attrs[n] = _block_type(b)
    obj = ["object", attrs]
    mode = block["nesting_mode"]
    return obj if mode == "single" else [mode, obj]


def _flags(entry: _Entry) -> dict[str, bool]:
    flags: dict[str, bool] = {}
    if entry.required:
        flags["required"] = True
    if entry.optional:
        flags["optional"] = True
    if entry.computed:
        flags["computed"] = True
    return flags


@dataclass
class _JsiiDocs:
    """Per jsii struct name: properties documented as blocks, and which are optional."""

    blocks: dict[str, set[str]] = field(default_factory=dict)
    optional: dict[str, dict[str, bool]] = field(default_factory=dict)


def _jsii_docs(assembly: dict[str, Any]) -> _JsiiDocs:
    """Read block-ness (docs say ``"<name> block."``) and optionality from the assembly."""
    out = _JsiiDocs()
    for jsii_type in assembly["types"].values():
        for prop in jsii_type.get("properties", []):
            docs = prop.get("docs", {})
            summary = docs.get("summary", "")
            link = _DOC_NAME_RE.search(docs.get("remarks", "") or summary)
            if link is None:
                continue
            name = link.group(1)
            out.optional.setdefault(jsii_type["name"], {})[name] = bool(prop.get("optional"))
            if summary == f"{name} block.":
                out.blocks.setdefault(jsii_type["name"], set()).add(name)
    return out


_ARGUMENT_LINK_RE = re.compile(r"docs/(resources|data-sources)/(\w+)#(\w+) ")


def check_against_assembly(
    assembly: dict[str, Any], resources: dict[str, Any], data_sources: dict[str, Any]
) -> None:
    """Every top-level argument the assembly documents exists, required where it says.

    The two views of the bundle are read independently; agreeing on all ~18,000
    arguments of all resources and data sources is the evidence that the module
    parsing missed nothing.
    """
    problems: list[str] = []
    for jsii_type in assembly["types"].values():
        if "cdktn.TerraformMetaArguments" not in jsii_type.get("interfaces", []):
            continue  # only the top-level ``…Config`` struct of each resource
        for prop in jsii_type.get("properties", []):
            docs = prop.get("docs", {})
            link = _ARGUMENT_LINK_RE.search(docs.get("remarks", "") or "")
            link = link or _ARGUMENT_LINK_RE.search(docs.get("summary", ""))
            if link is None:
                continue
            kind, name, argument = link.groups()
            schemas = resources if kind == "resources" else data_sources
            block = schemas.get(f"aws_{name}", {}).get("block")
            if block is None:
                problems.append(f"aws_{name} ({kind}) is missing")
                continue
            found = block.get("attributes", {}).get(argument) or block.get("block_types", {}).get(
                argument
            )
            if found is None:
                problems.append(f"aws_{name}.{argument} is missing")
            elif (not prop.get("optional")) != bool(
                found.get("required") or found.get("min_items", 0) >= 1
            ):
                problems.append(f"aws_{name}.{argument}: required-ness disagrees")
    if problems:
        raise SchemaExtractionError(
            f"{len(problems)} disagreements with the jsii assembly, e.g. {problems[:10]}"
        )


def extract_schema(bundle: bytes) -> dict[str, Any]:
    """Read a ``*.jsii.tgz`` bundle and return the provider schema (providers schema -json)."""
    assembly: dict[str, Any] | None = None
    modules: list[tuple[str, str]] = []
    with tarfile.open(fileobj=io.BytesIO(bundle), mode="r:gz") as tar:
        for member in tar:
            if not member.isfile():
                continue
            parts = PurePosixPath(member.name).parts
            handle = tar.extractfile(member)
            if handle is None:
                continue
            if parts[-1] == ".jsii":
                assembly = json.load(handle)
            elif len(parts) == 4 and parts[1] == "lib" and parts[3] == "index.js":
                modules.append((member.name, handle.read().decode("utf-8")))
    if assembly is None or not modules:
        raise SchemaExtractionError("the bundle has no .jsii assembly or no lib/*/index.js")
    documented = _jsii_docs(assembly)
    provider_version: str | None = None
    provider: dict[str, Any] | None = None
    resources: dict[str, Any] = {}
    data_sources: dict[str, Any] = {}
    for path, source in modules:
        module = parse_module(path, source)
        if provider_version is None and (found := _PROVIDER_VERSION_RE.search(source)):
            provider_version = found.group(1)
        builder = _Builder(module, documented)
        for class_name, (base, body) in module.classes.items():
            kinds = {
                "cdktn.TerraformResource": resources,
                "cdktn.TerraformDataSource": data_sources,
            }
            if base == "cdktn.TerraformProvider":
                block = builder.block(class_name, class_name, f"{class_name}Config")
                # ``alias`` is Terraform's meta-argument, not part of the provider schema.
                block.get("attributes", {}).pop("alias", None)
                provider = {"version": 0, "block": block}
            elif base in kinds:
                type_name = _TF_TYPE_RE.search(body)
                if type_name is None:
                    raise SchemaExtractionError(f"{path}: {class_name} has no tfResourceType")
                block = builder.block(class_name, class_name, f"{class_name}Config")
                kinds[base][type_name.group(1)] = {"version": 0, "block": block}
    if provider is None:
        raise SchemaExtractionError("the bundle defines no provider class")
    check_against_assembly(assembly, resources, data_sources)
    return {
        "provider_version": provider_version,
        "provider": provider,
        "resource_schemas": dict(sorted(resources.items())),
        "data_source_schemas": dict(sorted(data_sources.items())),
    }
