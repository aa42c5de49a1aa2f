"""The two Lambda architectures and what each one means to OCI, Docker and pip."""

from __future__ import annotations

from dataclasses import dataclass

from imagebuild.errors import SettingsError


@dataclass(frozen=True)
class Platform:
    lambda_name: str  # the function's `architectures` value
    oci_architecture: str  # GOARCH, as in image configs and indexes
    docker_platform: str  # for `docker buildx --platform`
    pip_platforms: tuple[str, ...]  # manylinux tags whose wheels run on the Lambda base image


# The Lambda Python 3.12 base image is Amazon Linux 2023 (glibc 2.34): any manylinux wheel
# up to 2_34 runs there. Listing the tags explicitly lets pip pick wheels without emulation.
PLATFORMS: dict[str, Platform] = {
    "arm64": Platform(
        "arm64",
        "arm64",
        "linux/arm64",
        ("manylinux_2_34_aarch64", "manylinux_2_28_aarch64", "manylinux2014_aarch64"),
    ),
    "x86_64": Platform(
        "x86_64",
        "amd64",
        "linux/amd64",
        ("manylinux_2_34_x86_64", "manylinux_2_28_x86_64", "manylinux2014_x86_64"),
    ),
}

DEFAULT_ARCHITECTURE = "arm64"


def platform_for(architecture: str) -> Platform:
    """The platform for a Lambda architecture name (``arm64`` or ``x86_64``)."""
    try:
        return PLATFORMS[architecture]
    except KeyError:
        raise SettingsError(
            f"unknown architecture {architecture!r}: use one of {sorted(PLATFORMS)}"
        ) from None
