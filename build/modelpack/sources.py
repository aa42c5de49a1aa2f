"""Pick and load the model source the user named (or the bundled default)."""

from __future__ import annotations

from pathlib import Path

from modelpack.default_model import (
    DEFAULT_MODEL_DISTRIBUTION,
    DEFAULT_MODEL_NAME,
    default_model_dir,
)
from modelpack.errors import InputSpecError
from modelpack.eval_texts import evaluation_texts
from modelpack.hf_source import load_hf_directory
from modelpack.input_spec import load_input_spec
from modelpack.module_source import build_source, load_factory, load_torchscript
from modelpack.source_model import SourceModel


def load_source(
    *,
    model_dir: Path | None = None,
    module: str | None = None,
    torchscript: Path | None = None,
    input_spec: Path | None = None,
    name: str | None = None,
    max_length: int | None = None,
) -> SourceModel:
    """At most one of ``model_dir``/``module``/``torchscript``; none means the default model."""
    if module is not None or torchscript is not None:
        if input_spec is None:
            raise InputSpecError(
                "--module and --torchscript need --input-spec (names, dtypes, shapes of inputs)",
                "write a small JSON input spec; see 'modelpack build --help'",
            )
        spec = load_input_spec(input_spec)
        if name:
            spec = spec.__class__(**{**spec.__dict__, "name": name})
        if module is not None:
            model, origin = load_factory(module)
        else:
            assert torchscript is not None
            model, origin = load_torchscript(torchscript)
        return build_source(model, spec, origin)
    if input_spec is not None:
        raise InputSpecError(
            "--input-spec applies to --module and --torchscript only",
            "drop --input-spec: a Hugging Face directory carries its own signature",
        )
    texts = evaluation_texts()
    if model_dir is None:
        return load_hf_directory(
            default_model_dir(),
            texts,
            name=name or DEFAULT_MODEL_NAME,
            max_length=max_length,
            origin={"package": DEFAULT_MODEL_DISTRIBUTION},
        )
    return load_hf_directory(model_dir, texts, name=name, max_length=max_length)
