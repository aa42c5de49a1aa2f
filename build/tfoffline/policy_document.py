"""``aws_iam_policy_document`` rendered the way hashicorp/aws renders it.

The data source is pure (configuration in, JSON out), so the offline provider computes
it for real and tests can read the policies a module builds. Rules reproduced from the
provider: ``Version`` defaults to ``2012-10-17``; each statement's fields in the order
Sid, Effect (default ``Allow``), Action, NotAction, Resource, NotResource, Principal,
NotPrincipal, Condition; empty fields omitted; a one-element list becomes a string and
longer lists are sorted in *reverse* order; principals of the same type are merged and
``{"*": ["*"]}`` becomes ``"*"``; ``&{var}`` becomes ``${var}`` in version 2012-10-17;
source documents first, then the statements, then override documents, a later
statement replacing an earlier one with the same ``Sid``; ``json`` is indented by two
spaces and ``minified_json`` compact, both with Go's HTML-safe escaping.
"""

from __future__ import annotations

import json
from typing import Any

DEFAULT_VERSION = "2012-10-17"


class PolicyDocumentError(ValueError):
    """The configuration describes no valid policy (same checks as the provider)."""


def _string_list(values: list[str], version: str) -> str | list[str]:
    if version == DEFAULT_VERSION:
        values = [v.replace("&{", "${") for v in values]
    if len(values) == 1:
        return values[0]
    return sorted(values, reverse=True)


def _principals(blocks: list[dict[str, Any]], version: str) -> Any:
    if len(blocks) == 1:
        only = blocks[0]
        if only.get("type") == "*" and list(only.get("identifiers") or []) == ["*"]:
            return "*"
    merged: dict[str, Any] = {}
    for block in blocks:
        kind = block["type"]
        ids = _string_list(list(block.get("identifiers") or []), version)
        previous = merged.get(kind)
        if isinstance(ids, list):
            ids = sorted(ids, reverse=True)
            base = [] if previous is None else [previous] if isinstance(previous, str) else previous
            merged[kind] = [*base, *ids]
        elif previous is None:
            merged[kind] = ids
        else:
            merged[kind] = [previous, ids] if isinstance(previous, str) else [*previous, ids]
    return dict(sorted(merged.items()))


def _conditions(blocks: list[dict[str, Any]], version: str) -> dict[str, Any]:
    raw: dict[str, dict[str, list[str]]] = {}
    for block in blocks:
        values = _string_list(list(block.get("values") or []), version)
        bucket = raw.setdefault(block["test"], {}).setdefault(block["variable"], [])
        bucket.extend([values] if isinstance(values, str) else values)
    return {
        test: {var: (vals[0] if len(vals) == 1 else vals) for var, vals in sorted(by_var.items())}
        for test, by_var in sorted(raw.items())
    }


def _statement(cfg: dict[str, Any], version: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if cfg.get("sid"):
        out["Sid"] = cfg["sid"]
    out["Effect"] = cfg.get("effect") or "Allow"
    for key, field in (
        ("actions", "Action"),
        ("not_actions", "NotAction"),
        ("resources", "Resource"),
        ("not_resources", "NotResource"),
    ):
        values = list(cfg.get(key) or [])
        if values:
            out[field] = _string_list(values, version)
    for key, field in (("principals", "Principal"), ("not_principals", "NotPrincipal")):
        blocks = list(cfg.get(key) or [])
        if blocks:
            out[field] = _principals(blocks, version)
    conditions = list(cfg.get("condition") or [])
    if conditions:
        out["Condition"] = _conditions(conditions, version)
    return out


def _merge(target: dict[str, Any], doc: dict[str, Any]) -> None:
    if doc.get("Id"):
        target["Id"] = doc["Id"]
    if doc.get("Version", "") > target.get("Version", ""):
        target["Version"] = doc["Version"]
    statements: list[dict[str, Any]] = target.setdefault("Statement", [])
    incoming = doc.get("Statement") or []
    if isinstance(incoming, dict):
        incoming = [incoming]
    for new in incoming:
        sid = new.get("Sid")
        index = next((i for i, s in enumerate(statements) if sid and s.get("Sid") == sid), None)
        if index is None:
            statements.append(new)
        else:
            statements[index] = new


def _go_json(data: Any, indent: int | None) -> str:
    separators = (",", ": ") if indent else (",", ":")
    text = json.dumps(data, indent=indent, separators=separators, ensure_ascii=False)
    # Go's encoding/json escapes these for safe embedding in HTML; match it byte for byte.
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def render(config: dict[str, Any]) -> tuple[str, str]:
    """Return ``(json, minified_json)`` for an ``aws_iam_policy_document`` configuration."""
    version = config.get("version") or DEFAULT_VERSION
    merged: dict[str, Any] = {}
    for source in config.get("source_policy_documents") or []:
        _merge(merged, _load(source, "source_policy_documents"))
    statements = [_statement(s, version) for s in config.get("statement") or []]
    sids = [s["Sid"] for s in statements if s.get("Sid")]
    duplicates = sorted({sid for sid in sids if sids.count(sid) > 1})
    if duplicates:
        raise PolicyDocumentError(
            f"duplicate Sid ({', '.join(duplicates)}); each statement needs a unique sid"
        )
    _merge(merged, {"Version": version, "Id": config.get("policy_id"), "Statement": statements})
    for override in config.get("override_policy_documents") or []:
        _merge(merged, _load(override, "override_policy_documents"))
    document: dict[str, Any] = {"Version": merged.get("Version") or version}
    if merged.get("Id"):
        document["Id"] = merged["Id"]
    if merged.get("Statement"):
        document["Statement"] = merged["Statement"]
    return _go_json(document, 2), _go_json(document, None)


def _load(text: str, argument: str) -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyDocumentError(f"{argument}: not a JSON policy document ({exc})") from exc
    if not isinstance(doc, dict):
        raise PolicyDocumentError(f"{argument}: a policy document must be a JSON object")
    return doc
