"""pytest fixtures for Terraform plan tests, on top of tftest.

* ``tf_plan(tfdir, tf_vars=None, tf_var_file=None)`` runs ``init``, ``validate``,
  ``plan -out`` and ``show -json`` on an isolated copy and returns
  ``tftest.TerraformPlanOutput``; on failure it raises ``tftest.TerraformTestError``
  whose message holds Terraform's own diagnostics.
* ``tf_validate(tfdir)`` returns the ``validate -json`` document.
* ``terraform_bin`` is the Terraform executable every run uses.

By default Terraform uses the offline, plan-only ``hashicorp/aws``; with
``TFOFFLINE_REAL_PROVIDER=1`` it uses the real provider with the user's own
configuration and credentials.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import tftest

from tfoffline.harness import Session

PlanFn = Callable[..., tftest.TerraformPlanOutput]
ValidateFn = Callable[[str | os.PathLike[str]], dict[str, Any]]


@pytest.fixture(scope="session")
def tfoffline_session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    """The Terraform binary and environment shared by every run of the session."""
    return Session.create(tmp_path_factory.mktemp("tfoffline"))


@pytest.fixture(scope="session")
def terraform_bin(tfoffline_session: Session) -> str:
    """Path of the Terraform executable the fixtures run."""
    return str(tfoffline_session.binary)


@pytest.fixture
def tf_plan(tfoffline_session: Session) -> PlanFn:
    """Callable: plan a Terraform directory and return the parsed plan JSON."""

    def plan(
        tfdir: str | os.PathLike[str],
        tf_vars: Mapping[str, Any] | None = None,
        tf_var_file: str | None = None,
    ) -> tftest.TerraformPlanOutput:
        return tfoffline_session.plan(Path(tfdir), tf_vars=tf_vars, tf_var_file=tf_var_file)

    return plan


@pytest.fixture
def tf_validate(tfoffline_session: Session) -> ValidateFn:
    """Callable: ``terraform validate -json`` of a directory, as a dict."""
    return tfoffline_session.validate
