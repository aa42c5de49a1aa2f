"""Errors the image build reports to its user; each message says what was wrong and what to do."""

from __future__ import annotations


class ImageBuildError(Exception):
    """Base class: anything that stops a build or a push for a reason the user can act on."""


class UsageError(ImageBuildError):
    """The command was given something it cannot use; push_image.py exits with 2 for it."""


class SettingsError(UsageError):
    """The environment is unknown, or its settings are missing or invalid."""


class ArtifactError(ImageBuildError):
    """The model artefact directory is missing, incomplete or corrupt."""


class PlatformMismatchError(ImageBuildError):
    """The base image does not provide the requested architecture."""


class DependencyError(ImageBuildError):
    """The runtime dependencies could not be installed for the target platform."""


class RegistryError(ImageBuildError):
    """A registry request failed."""


class RegistryAuthError(RegistryError):
    """The registry rejected the credentials."""


class RepositoryNotFoundError(RegistryError):
    """The target repository does not exist."""


class RegistryUnavailableError(RegistryError):
    """The registry could not be reached, or kept failing, after all retries."""

    def __init__(self, failure: str, url: str) -> None:
        self.failure = failure  # what failed, after how many attempts, and the last cause
        self.url = url
        super().__init__(
            f"{failure}. Check that the registry at {url} is up and reachable, then run again "
            "(blobs already pushed are not sent twice)."
        )


class BaseImageUnavailableError(RegistryError):
    """The base image's registry could not be read, so no image (or plan) can be built."""


class AwsError(ImageBuildError):
    """An AWS API call (STS, ECR) failed."""
