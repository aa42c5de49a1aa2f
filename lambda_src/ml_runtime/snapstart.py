"""Lambda SnapStart runtime hooks: what to redo when an environment resumes from a snapshot.

With SnapStart (the ``snap_start`` switch of the Terraform modules), Lambda runs the init
once per published version (the model is found, verified, loaded and warmed up at import,
as without SnapStart), snapshots the memory and disk of that environment, and resumes
every new execution environment from the snapshot. Whatever init created is then shared
by all of them, so before the snapshot nothing unique or short-lived is kept, and after
each restore it is renewed:

* random number generators (``random``, NumPy's global one) are reseeded from the OS,
  otherwise every restored environment draws the same numbers;
* the cached AWS clients are dropped, so the next S3 call builds a client with this
  environment's credentials and connections, not the snapshot's;
* a model served from the S3 download cache in ``/tmp`` (part of the snapshot) is
  verified again against its manifest, and the cache is removed if it no longer matches,
  so a later init downloads it afresh.

Hooks are registered through ``snapshot_restore_py``, which the AWS Lambda Python base
images ship (https://docs.aws.amazon.com/lambda/latest/dg/snapstart-runtime-hooks-python.html).
Where it is missing, nothing is registered: the hooks only matter under SnapStart.
Without SnapStart Lambda never calls them.
"""

from __future__ import annotations

import random
import shutil
import sys
from collections.abc import Callable
from typing import Any

from ml_runtime import s3
from ml_runtime.artifact import ArtifactError, verify_artifact
from ml_runtime.observability import logger
from ml_runtime.sources import LocatedModel

Hook = Callable[[], None]
Register = Callable[[Hook], Any]

# The source whose artefact lives in the /tmp download cache (sources.S3Source).
CACHED_SOURCE = "s3"


class SnapStartHooks:
    """The before-snapshot and after-restore steps for one located model."""

    def __init__(self, located: LocatedModel) -> None:
        self.located = located

    def before_snapshot(self) -> None:
        # Clients hold credentials and open connections: none belongs in a snapshot.
        _forget_aws_clients()
        logger.info(
            "snapshot: model loaded and warmed", extra={"model": self.located.manifest.name}
        )

    def after_restore(self) -> None:
        _reseed_random_generators()
        _forget_aws_clients()
        self._recheck_cached_model()
        logger.info("restored from snapshot", extra={"model": self.located.manifest.name})

    def _recheck_cached_model(self) -> None:
        if self.located.source != CACHED_SOURCE:
            return
        try:
            verify_artifact(self.located.directory)
        except ArtifactError as exc:
            # The model in memory was verified before the snapshot and keeps serving; the
            # cache on disk is what a later init would load, so it must not survive.
            shutil.rmtree(self.located.directory, ignore_errors=True)
            logger.error(
                "model cache failed verification after restore; removed",
                extra={"cache": str(self.located.directory), "reason": str(exc)},
            )


def register_hooks(
    located: LocatedModel, register: tuple[Register, Register] | None = None
) -> SnapStartHooks | None:
    """Register the hooks with the runtime; ``None`` when it offers no SnapStart hooks.

    ``register`` is the pair (before snapshot, after restore); by default the functions of
    ``snapshot_restore_py``.
    """
    register = register or _runtime_registrars()
    if register is None:
        return None
    hooks = SnapStartHooks(located)
    register_before_snapshot, register_after_restore = register
    register_before_snapshot(hooks.before_snapshot)
    register_after_restore(hooks.after_restore)
    return hooks


def _runtime_registrars() -> tuple[Register, Register] | None:
    try:
        from snapshot_restore_py import (  # type: ignore[import-untyped]
            register_after_restore,
            register_before_snapshot,
        )
    except ImportError:  # not an AWS base image (or a local run without it)
        return None
    return register_before_snapshot, register_after_restore


def _reseed_random_generators() -> None:
    random.seed()  # from os.urandom
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()  # the legacy global generator, from OS entropy


def _forget_aws_clients() -> None:
    s3.client.cache_clear()
