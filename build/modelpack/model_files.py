"""The artefact's ONNX model on disk: the graph in ``model.onnx``, its weights beside it.

ONNX Runtime copies weights stored inside the protobuf (``raw_data``) while it parses the
model, but memory-maps weights stored as ONNX external data. Creating a session of the
110 M-parameter BERT-base classifier took 330-470 ms from one file and 135-190 ms with its
weights in ``model.onnx.data``; all-MiniLM-L6-v2 INT8 went from 81-116 ms to 30-49 ms
(fresh processes, one thread, AVX2; build/modelpack/README.md). Init pays it on every
cold start, so the artefact keeps its weights apart.

``model.onnx`` records the weights file's sha256 in its metadata (``WEIGHTS_SHA256_KEY``),
so the graph file's own sha256 (the model's identity in the image pin, the S3 results and
the tuning report) changes whenever the weights do, and the runtime can check that the
weights the graph points at are the ones the manifest had verified. Both files are in the
manifest's inventory.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import onnx

from build_support.atomic import make_world_readable, staged_directory, write_json
from build_support.hashing import sha256_file
from ml_runtime.artifact import WEIGHTS_SHA256_KEY
from ml_runtime.names import MANIFEST_NAME
from modelpack.manifest import MODEL_DATA_FILE, MODEL_FILE, inventory_fields

# Tensors smaller than this stay inside the graph (shapes, scales, zero points): moving
# them buys nothing and scatters the graph.
EXTERNAL_MIN_BYTES = 1024


def write_model(
    graph: Path, directory: Path, external_min_bytes: int = EXTERNAL_MIN_BYTES
) -> str | None:
    """Write the ONNX model at ``graph`` into ``directory`` as MODEL_FILE + MODEL_DATA_FILE.

    Returns the weights file's name, or None for a model with no tensor large enough to
    move (at least ``external_min_bytes``): it is then one file, as artefacts before the
    split were.
    """
    model = onnx.load(str(graph))
    _pin_weights(model, None)  # a pin only ever names the weights file written below
    target = directory / MODEL_FILE
    weights = directory / MODEL_DATA_FILE
    weights.unlink(missing_ok=True)  # onnx appends to an existing weights file
    onnx.save_model(
        model,
        str(target),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=MODEL_DATA_FILE,
        size_threshold=external_min_bytes,
    )
    if not weights.exists():
        return None
    # Pin the weights into the graph file, then rewrite only the graph (its tensors now
    # refer to MODEL_DATA_FILE, which stays as written).
    pinned = onnx.load(str(target), load_external_data=False)
    _pin_weights(pinned, sha256_file(weights))
    onnx.save_model(pinned, str(target))
    return MODEL_DATA_FILE


def _pin_weights(model: onnx.ModelProto, sha256: str | None) -> None:
    """Record (or, for None, remove) the weights' sha256 in ``model``'s metadata."""
    entries = {p.key: p.value for p in model.metadata_props if p.key != WEIGHTS_SHA256_KEY}
    if sha256 is not None:
        entries[WEIGHTS_SHA256_KEY] = sha256
    del model.metadata_props[:]
    for key, value in sorted(entries.items()):
        model.metadata_props.add(key=key, value=value)


def with_weights_inside(artifact: Path, output: Path) -> Path:
    """A copy of ``artifact`` laid out as before the split: the weights inside MODEL_FILE.

    For measuring what the split buys (``local_lambda.bench_cold_start``); the copy's
    manifest lists its own files, so the runtime verifies and loads it like any artefact.
    """
    manifest = json.loads((artifact / MANIFEST_NAME).read_text())
    with staged_directory(output) as stage:
        for path in artifact.iterdir():
            if path.is_file() and path.name not in {MANIFEST_NAME, MODEL_FILE, MODEL_DATA_FILE}:
                shutil.copyfile(path, stage / path.name)
        # The weights read back in, and the pin of a weights file the copy no longer has
        # dropped (the runtime would refuse it).
        model = onnx.load(str(artifact / MODEL_FILE))
        _pin_weights(model, None)
        onnx.save_model(model, str(stage / MODEL_FILE))
        manifest |= {"model_data_file": None, **inventory_fields(stage)}
        write_json(stage / MANIFEST_NAME, manifest)
        make_world_readable(stage)
    return output
