"""hashicorp/aws's provider-defined functions (``provider::aws::…``), which are pure.

Signatures and behaviour as documented for the provider: ``arn_build``, ``arn_parse``,
``trim_iam_role_path`` and ``user_agent``. Their names and parameters also appear in
the ``cdktn-provider-aws`` bundle (``AwsProviderFunctions``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tf.gen import tfplugin_pb2 as pb

_ARN_PARTS = ("partition", "service", "region", "account_id", "resource")
_ARN_RE = re.compile(r"^arn:([^:]+):([^:]+):([^:]*):([^:]*):(.+)$")
_ROLE_RE = re.compile(r"^(arn:[^:]+:iam::[^:]*:role/)(?:.*/)?([^/]+)$")


class FunctionCallError(ValueError):
    """A function argument is invalid; ``argument`` is its zero-based position."""

    def __init__(self, message: str, argument: int | None = None) -> None:
        super().__init__(message)
        self.argument = argument


@dataclass(frozen=True)
class ProviderFunction:
    """One function: its parameters (name, type), return type and implementation."""

    parameters: tuple[tuple[str, Any], ...]
    returns: Any
    summary: str
    call: Callable[..., Any]

    def message(self) -> Any:
        """The ``pb.Function`` Terraform reads from the schema."""
        return pb.Function(
            parameters=[
                pb.Function.Parameter(name=name, type=_type(t)) for name, t in self.parameters
            ],
            summary=self.summary,
            **{"return": pb.Function.Return(type=_type(self.returns))},
        )


def _type(tf_type: Any) -> bytes:
    return json.dumps(tf_type, separators=(",", ":")).encode()


def _arn_build(partition: str, service: str, region: str, account_id: str, resource: str) -> str:
    return f"arn:{partition}:{service}:{region}:{account_id}:{resource}"


def _arn_parse(arn: str) -> dict[str, str]:
    found = _ARN_RE.match(arn)
    if found is None:
        raise FunctionCallError(f"invalid ARN: {arn!r}", argument=0)
    return dict(zip(_ARN_PARTS, found.groups(), strict=True))


def _trim_iam_role_path(arn: str) -> str:
    found = _ROLE_RE.match(arn)
    if found is None:
        raise FunctionCallError(f"not an IAM role ARN: {arn!r}", argument=0)
    return found.group(1) + found.group(2)


def _user_agent(product_name: str, product_version: str, comment: str) -> str:
    agent = f"{product_name}/{product_version}" if product_version else product_name
    return f"{agent} ({comment})" if comment else agent


FUNCTIONS: dict[str, ProviderFunction] = {
    "arn_build": ProviderFunction(
        tuple((p, "string") for p in _ARN_PARTS), "string", "Builds an ARN", _arn_build
    ),
    "arn_parse": ProviderFunction(
        (("arn", "string"),),
        ["object", dict.fromkeys(_ARN_PARTS, "string")],
        "Parses an ARN into its constituent parts",
        _arn_parse,
    ),
    "trim_iam_role_path": ProviderFunction(
        (("arn", "string"),),
        "string",
        "Trims the path prefix from an IAM role ARN",
        _trim_iam_role_path,
    ),
    "user_agent": ProviderFunction(
        (("product_name", "string"), ("product_version", "string"), ("comment", "string")),
        "string",
        "Formats a User-Agent product for use with the user_agent argument",
        _user_agent,
    ),
}
