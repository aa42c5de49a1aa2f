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


# The function's Python: the base image's (public.ecr.aws/lambda/python:3.12).
LAMBDA_PYTHON_VERSION = "3.12"
# That base image is Amazon Linux 2023 (glibc 2.34): any manylinux wheel up to 2_34 runs
# there.
LAMBDA_GLIBC = (2, 34)


def manylinux_tags(machine: str, glibc: tuple[int, int] = LAMBDA_GLIBC) -> tuple[str, ...]:
    """Every manylinux tag whose wheels run on ``glibc``, newest first.

    pip does not widen ``--platform manylinux_2_34_*`` to older glibc versions, so a
    wheel tagged, say, ``manylinux_2_31`` is only found when each tag is spelled out.
    """
    major, minor = glibc
    return (
        *(f"manylinux_{major}_{m}_{machine}" for m in range(minor, 16, -1)),
        f"manylinux2014_{machine}",
    )


PLATFORMS: dict[str, Platform] = {
    "arm64": Platform("arm64", "arm64", "linux/arm64", manylinux_tags("aarch64")),
    "x86_64": Platform("x86_64", "amd64", "linux/amd64", manylinux_tags("x86_64")),
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
