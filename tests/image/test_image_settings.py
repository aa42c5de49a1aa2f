"""Environment settings come from terraform.tfvars; bad ones are refused with a clear reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from imagebuild.errors import SettingsError
from imagebuild.settings import load_settings

VALID = """
# comment
aws_region          = "eu-west-1"
name                = "ml-dev"
ecr_repository_name = "ml/dev"
architecture        = "x86_64"
memory_size         = 1769
budget = {
  monthly_usd = 20
}
"""


def write(environments: Path, env: str, text: str) -> None:
    (environments / env).mkdir(parents=True)
    (environments / env / "terraform.tfvars").write_text(text, encoding="utf-8")
    (environments / env / "main.tf").write_text('module "inference" {\n  source = "x"\n}\n')


def test_settings_are_read_from_tfvars(tmp_path: Path) -> None:
    write(tmp_path, "dev", VALID)
    settings = load_settings(tmp_path, "dev")
    assert (settings.aws_region, settings.ecr_repository_name) == ("eu-west-1", "ml/dev")
    assert settings.architecture == "x86_64"
    assert settings.model_s3_uri is None
    assert settings.pin_file == tmp_path / "dev" / "image.auto.tfvars.json"
    assert settings.ecr_create_hint().endswith("apply -target=module.inference.module.ecr")


def test_architecture_defaults_to_arm64(tmp_path: Path) -> None:
    write(tmp_path, "dev", VALID.replace('architecture        = "x86_64"', ""))
    assert load_settings(tmp_path, "dev").architecture == "arm64"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (VALID.replace('name                = "ml-dev"', ""), "must set name"),
        (VALID.replace('"x86_64"', '"arm"'), "architecture = 'arm' is not supported"),
        (VALID + 'model_s3_uri = "bucket/prefix"\n', "model_s3_uri must look like s3://"),
        ("aws_region = ", "is not valid HCL"),
    ],
)
def test_invalid_settings_are_refused(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path, "dev", text)
    with pytest.raises(SettingsError, match=message):
        load_settings(tmp_path, "dev")


def test_unknown_environment_lists_the_known_ones(tmp_path: Path) -> None:
    write(tmp_path, "dev", VALID)
    write(tmp_path, "prod", VALID)
    (tmp_path / "_common").mkdir()  # the shared .tf files, not an environment
    (tmp_path / ".terraform").mkdir()
    with pytest.raises(
        SettingsError, match=r"no settings for environment 'qa'.*\(known environments: dev, prod\)"
    ):
        load_settings(tmp_path, "qa")
    with pytest.raises(SettingsError, match=r"no settings for environment '_common'"):
        load_settings(tmp_path, "_common")
