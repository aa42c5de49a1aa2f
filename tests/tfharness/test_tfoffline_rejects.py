"""Configurations the real provider rejects fail here too, with Terraform's own words."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tfoffline.harness import Session

REJECTED = Path(__file__).parent / "configs" / "rejected"


@pytest.fixture(scope="module")
def diagnostics(tfoffline_session: Session) -> list[dict[str, Any]]:
    result = tfoffline_session.validate(REJECTED)
    assert result["valid"] is False
    return [d for d in result["diagnostics"] if d["severity"] == "error"]


def _at_line(diagnostics: list[dict[str, Any]], line: int) -> dict[str, Any]:
    found = [d for d in diagnostics if d.get("range", {}).get("start", {}).get("line") == line]
    assert len(found) == 1, diagnostics
    return found[0]


def _line_of(text: str) -> int:
    lines = (REJECTED / "main.tf").read_text().splitlines()
    return next(i for i, line in enumerate(lines, start=1) if text in line)


@pytest.mark.parametrize(
    ("marker", "summary", "detail"),
    [
        ("no_such_field", "Unsupported argument", 'An argument named "no_such_field"'),
        (
            '"missing_required"',
            "Missing required argument",
            'The argument "role" is required',
        ),
        (
            "routing_config   =",
            "Unsupported argument",
            'Did you mean to define a block of type "routing_config"?',
        ),
        (
            "image_tag_mutability {",
            "Unsupported block type",
            'Did you mean to define argument "image_tag_mutability"?',
        ),
        (
            "provisioned_concurrent_executions =",
            "Incorrect attribute value type",
            'attribute "provisioned_concurrent_executions": number required',
        ),
        (
            '"missing_block"',
            "Insufficient scalable_target_action blocks",
            'At least 1 "scalable_target_action" blocks are required.',
        ),
        (
            "# the second one",
            "Too many image_scanning_configuration blocks",
            'No more than 1 "image_scanning_configuration" blocks are allowed',
        ),
        (
            "aws_sqs_queue.nowhere",
            "Reference to undeclared resource",
            'A managed resource "aws_sqs_queue" "nowhere" has not been declared',
        ),
    ],
)
def test_rejected_with_terraform_diagnostic(
    diagnostics: list[dict[str, Any]], marker: str, summary: str, detail: str
) -> None:
    found = _at_line(diagnostics, _line_of(marker))
    assert found["summary"] == summary
    assert detail in found["detail"]


def test_nothing_else_is_reported(diagnostics: list[dict[str, Any]]) -> None:
    assert len(diagnostics) == 8, diagnostics
