"""aws_iam_policy_document rendering, byte for byte as hashicorp/aws renders it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tfoffline.policy_document import PolicyDocumentError, render


def _statement(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "sid": None,
        "effect": None,
        "actions": None,
        "not_actions": None,
        "resources": None,
        "not_resources": None,
        "principals": None,
        "not_principals": None,
        "condition": None,
    }
    return {**base, **values}


def test_pretty_json_matches_provider_layout() -> None:
    pretty, minified = render(
        {
            "statement": [
                _statement(
                    sid="Read",
                    actions=["s3:GetObject", "s3:ListBucket"],
                    resources=["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
                )
            ]
        }
    )
    assert pretty == (
        "{\n"
        '  "Version": "2012-10-17",\n'
        '  "Statement": [\n'
        "    {\n"
        '      "Sid": "Read",\n'
        '      "Effect": "Allow",\n'
        '      "Action": [\n'
        '        "s3:ListBucket",\n'
        '        "s3:GetObject"\n'
        "      ],\n"
        '      "Resource": [\n'
        '        "arn:aws:s3:::b/*",\n'
        '        "arn:aws:s3:::b"\n'
        "      ]\n"
        "    }\n"
        "  ]\n"
        "}"
    )
    assert minified == json.dumps(json.loads(pretty), separators=(",", ":"))


def test_principals_conditions_and_not_fields() -> None:
    _, minified = render(
        {
            "version": "2012-10-17",
            "policy_id": "p1",
            "statement": [
                _statement(
                    effect="Deny",
                    not_actions=["iam:*"],
                    not_resources=["arn:aws:iam::123456789012:role/keep"],
                    principals=[
                        {"type": "AWS", "identifiers": ["arn:aws:iam::1:root"]},
                        {
                            "type": "AWS",
                            "identifiers": ["arn:aws:iam::2:root", "arn:aws:iam::3:root"],
                        },
                    ],
                    condition=[
                        {
                            "test": "StringLike",
                            "variable": "aws:userid",
                            "values": ["&{aws:username}"],
                        },
                        {"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]},
                    ],
                )
            ],
        }
    )
    assert json.loads(minified) == {
        "Version": "2012-10-17",
        "Id": "p1",
        "Statement": [
            {
                "Effect": "Deny",
                "NotAction": "iam:*",
                "NotResource": "arn:aws:iam::123456789012:role/keep",
                "Principal": {
                    "AWS": ["arn:aws:iam::1:root", "arn:aws:iam::3:root", "arn:aws:iam::2:root"]
                },
                "Condition": {
                    "Bool": {"aws:SecureTransport": "false"},
                    "StringLike": {"aws:userid": "${aws:username}"},
                },
            }
        ],
    }


def test_wildcard_principal_and_html_safe_escaping() -> None:
    pretty, _ = render(
        {
            "statement": [
                _statement(
                    actions=["s3:GetObject"],
                    principals=[{"type": "*", "identifiers": ["*"]}],
                    condition=[
                        {"test": "StringEquals", "variable": "s3:prefix", "values": ["a&b<c>"]}
                    ],
                )
            ]
        }
    )
    assert '"Principal": "*"' in pretty
    assert "a\\u0026b\\u003cc\\u003e" in pretty


def test_override_documents_replace_statements_by_sid() -> None:
    source = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Sid": "A", "Effect": "Allow", "Action": "a:1"}]}
    )
    override = json.dumps({"Statement": [{"Sid": "B", "Effect": "Deny", "Action": "b:2"}]})
    _, minified = render(
        {
            "source_policy_documents": [source],
            "override_policy_documents": [override],
            "statement": [_statement(sid="B", actions=["b:1"])],
        }
    )
    assert json.loads(minified)["Statement"] == [
        {"Sid": "A", "Effect": "Allow", "Action": "a:1"},
        {"Sid": "B", "Effect": "Deny", "Action": "b:2"},
    ]


def test_duplicate_sids_are_rejected() -> None:
    with pytest.raises(PolicyDocumentError, match="duplicate Sid"):
        render({"statement": [_statement(sid="X"), _statement(sid="X")]})
