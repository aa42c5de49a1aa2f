"""Errors a user can act on: each says what is wrong and what to do about it.

The CLI prints ``str(error)`` and exits with :attr:`ModelpackError.exit_code`; anything
else escaping the pipeline is a bug and keeps its traceback.
"""

from __future__ import annotations


class ModelpackError(Exception):
    """Base class: ``problem`` names what went wrong, ``remedy`` what to do."""

    exit_code = 2

    def __init__(self, problem: str, remedy: str) -> None:
        super().__init__(f"{problem}\n  what to do: {remedy}")
        self.problem = problem
        self.remedy = remedy


class ModelSourceError(ModelpackError):
    """The model directory, module or TorchScript file cannot be used."""


class InputSpecError(ModelpackError):
    """The input specification is malformed or does not match the model."""


class ExportError(ModelpackError):
    """The exporter could not turn the model into a correct ONNX graph."""


class AccuracyGateError(ModelpackError):
    """No quantized candidate met the accuracy thresholds; nothing was packaged."""

    exit_code = 1


class OutputExistsError(ModelpackError):
    """The output directory already exists; artefacts are never overwritten."""


class BenchCaseError(ModelpackError):
    """A benchmark case's model could not be made the way the benchmark needs it."""
