"""An environment's build settings, read from ``environments/ENV/terraform.tfvars``.

The tfvars file is the single source of truth for region, repository and architecture,
so the image that is built is the one Terraform will deploy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hcl2.api import load as load_hcl

from imagebuild.errors import SettingsError
from imagebuild.platforms import DEFAULT_ARCHITECTURE, PLATFORMS

PIN_FILE_NAME = "image.auto.tfvars.json"
_REQUIRED = ("aws_region", "name", "ecr_repository_name")


@dataclass(frozen=True)
class EnvironmentSettings:
    env: str
    directory: Path
    aws_region: str
    name: str
    ecr_repository_name: str
    architecture: str
    model_s3_uri: str | None

    @property
    def pin_file(self) -> Path:
        return self.directory / PIN_FILE_NAME

    def ecr_create_hint(self) -> str:
        """The command that creates this environment's ECR repository."""
        module = _root_module_name(self.directory)
        return f"terraform -chdir={self.directory} apply -target=module.{module}.module.ecr"


def load_settings(environments_dir: Path, env: str) -> EnvironmentSettings:
    """Read and validate ``environments_dir/env/terraform.tfvars``."""
    directory = environments_dir / env
    tfvars = directory / "terraform.tfvars"
    if not tfvars.is_file():
        known = known_environments(environments_dir)
        raise SettingsError(
            f"no settings for environment {env!r}: {tfvars} does not exist "
            f"(known environments: {', '.join(known) or 'none'})"
        )
    try:
        with tfvars.open(encoding="utf-8") as handle:
            raw: dict[str, Any] = load_hcl(handle)
    except Exception as exc:  # the parser raises lark errors of several kinds
        raise SettingsError(f"{tfvars} is not valid HCL: {exc}") from exc
    values = {key: _unwrap(value) for key, value in raw.items()}
    missing = [key for key in _REQUIRED if not isinstance(values.get(key), str) or not values[key]]
    if missing:
        raise SettingsError(f"{tfvars} must set {', '.join(missing)} (non-empty strings)")
    architecture = values.get("architecture", DEFAULT_ARCHITECTURE)
    if architecture not in PLATFORMS:
        raise SettingsError(
            f"{tfvars}: architecture = {architecture!r} is not supported; "
            f"use one of {sorted(PLATFORMS)}"
        )
    model_s3_uri = values.get("model_s3_uri")
    if model_s3_uri is not None and not (
        isinstance(model_s3_uri, str) and model_s3_uri.startswith("s3://")
    ):
        raise SettingsError(f"{tfvars}: model_s3_uri must look like s3://bucket/prefix/")
    return EnvironmentSettings(
        env=env,
        directory=directory,
        aws_region=values["aws_region"],
        name=values["name"],
        ecr_repository_name=values["ecr_repository_name"],
        architecture=architecture,
        model_s3_uri=model_s3_uri or None,
    )


def known_environments(environments_dir: Path) -> list[str]:
    """The environments under ``environments_dir``: directories not starting with ``_``
    (``_common`` holds the .tf files they link to) or ``.``."""
    if not environments_dir.is_dir():
        return []
    return sorted(
        p.name for p in environments_dir.iterdir() if p.is_dir() and p.name[0] not in "_."
    )


def _unwrap(value: Any) -> Any:
    # The HCL parser wraps every attribute value in a one-element list.
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def _root_module_name(directory: Path) -> str:
    """The first module the environment's root configuration calls (for error hints)."""
    for tf_file in sorted(directory.glob("*.tf")):
        match = re.search(r'^module\s+"([^"]+)"', tf_file.read_text(encoding="utf-8"), re.M)
        if match:
            return match.group(1)
    return "ml_inference"
