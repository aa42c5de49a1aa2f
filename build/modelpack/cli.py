"""``modelpack``: turn a PyTorch model into a gated INT8 ONNX artefact for AWS Lambda."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from build_support import console
from build_support.logs import configure
from build_support.progress import step
from modelpack.detect import HF_TASKS
from modelpack.errors import ModelpackError
from modelpack.evaluate import Thresholds
from modelpack.export import DEFAULT_OPSET, DEFAULT_TOLERANCE
from modelpack.image_data import CALIBRATION_MAX, MIN_IMAGES
from modelpack.pipeline import BuildOptions, build, check_output_free
from modelpack.sources import load_source

logger = logging.getLogger("modelpack")

DESCRIPTION = """\
Build a model artefact: export to ONNX, optimise the graph, try several INT8
quantization settings, keep the fastest one that passes the accuracy gate against the
fp32 PyTorch model, and write OUTPUT/ (model.onnx, its weights in model.onnx.data,
tokenizer.json when the model has one, manifest.json). OUTPUT must not exist; a failed
build leaves nothing behind.
"""

EPILOG = """\
model sources (pick one; none = the bundled all-MiniLM-L6-v2):
  --model-dir DIR          Hugging Face directory: config.json, model.safetensors and
                           tokenizer.json (text) or preprocessor_config.json (images).
                           The task comes from config.json: a sentence encoder (mean
                           pooling + L2 normalisation inside the graph), a
                           *ForSequenceClassification (text-classification) or a
                           *ForImageClassification (image-classification, needs
                           --images DIR). --task overrides the detection.
  --module PKG.MOD:FACTORY a callable returning a torch.nn.Module, with --input-spec
  --torchscript FILE.pt    a torch.jit.save file, with --input-spec

input spec (JSON) for --module / --torchscript:
  {"name": "digits-cnn", "task": "classification",
   "inputs":  [{"name": "pixels", "dtype": "float32", "shape": ["batch", 1, 8, 8]}],
   "outputs": [{"name": "logits"}],
   "evaluation_data": "heldout.npz", "calibration_data": "calib.npz"}
  String dimensions are dynamic axes. The .npz files hold one array per input name
  (first axis = samples); paths are relative to the spec file. task is "generic"
  (gate: cosine), "classification" (gate: top-1 agreement), or a labelled classifier:
  "image-classification" (with "labels": "labels.txt", "preprocess": {...} and
  --images DIR) or "text-classification" (with "labels" and "tokenizer": "tokenizer.json").

examples:
  modelpack build --output artifacts/all-MiniLM-L6-v2
  modelpack build --model-dir ./my-encoder --output artifacts/my-encoder
  modelpack build --model-dir ./my-sentiment --output artifacts/sentiment
  modelpack build --model-dir ./my-vit --images ./photos --output artifacts/vit
  modelpack build --module mypkg.models:make_cnn --input-spec cnn.json --output artifacts/cnn

exit status: 0 built, 1 accuracy gate failed, 2 bad input (the message says what to do).
Logs go to stderr (LOG_FORMAT=json|text); the manifest summary goes to stdout.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="modelpack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    b = commands.add_parser(
        "build",
        help="build a model artefact",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = b.add_mutually_exclusive_group()
    source.add_argument("--model-dir", type=Path, help="Hugging Face model directory")
    source.add_argument("--module", metavar="PKG.MOD:FACTORY", help="torch.nn.Module factory")
    source.add_argument("--torchscript", type=Path, metavar="FILE", help="TorchScript file")
    b.add_argument(
        "--input-spec",
        type=Path,
        metavar="SPEC.json",
        help="input specification for --module/--torchscript",
    )
    b.add_argument(
        "--output",
        type=Path,
        required=True,
        metavar="DIR",
        help="artefact directory to create (must not exist)",
    )
    b.add_argument("--name", help="model name in the manifest (default: directory/spec name)")
    b.add_argument(
        "--task",
        choices=HF_TASKS,
        help="what a Hugging Face directory is (default: detected from its config.json)",
    )
    b.add_argument(
        "--images",
        type=Path,
        metavar="DIR",
        help="image classifiers: JPEG/PNG/WebP images to calibrate and gate on (at least"
        f" {MIN_IMAGES}; a quarter, at most {CALIBRATION_MAX}, calibrates, the rest judge)",
    )
    b.add_argument(
        "--eval-texts",
        type=Path,
        metavar="FILE",
        help="text models: gate on these texts (one per line) instead of the shipped ones",
    )
    b.add_argument(
        "--max-length",
        type=int,
        metavar="TOKENS",
        help="tokenizer truncation length (default: the model's own setting)",
    )
    defaults = Thresholds()
    gate = b.add_argument_group("accuracy gate (against the fp32 PyTorch model)")
    gate.add_argument(
        "--min-cosine-mean",
        type=float,
        default=defaults.cosine_mean,
        help="embeddings/generic: mean cosine similarity (default %(default)s)",
    )
    gate.add_argument(
        "--min-cosine",
        type=float,
        default=defaults.cosine_min,
        help="embeddings/generic: worst-sample cosine (default %(default)s)",
    )
    gate.add_argument(
        "--min-top1-agreement",
        type=float,
        default=defaults.top1_agreement,
        help="classifiers: top-1 agreement fraction (default %(default)s)",
    )
    gate.add_argument(
        "--max-winning-probability-delta",
        type=float,
        default=defaults.max_winning_probability_delta,
        help="labelled classifiers: largest change of the fp32 winner's probability"
        " (default %(default)s)",
    )
    gate.add_argument(
        "--min-label-set-agreement",
        type=float,
        default=defaults.label_set_agreement,
        help="multi-label classifiers: share of inputs whose labels above the threshold"
        " stay the same (default %(default)s)",
    )
    export = b.add_argument_group("export")
    export.add_argument(
        "--opset", type=int, default=DEFAULT_OPSET, help="ONNX opset (default %(default)s)"
    )
    export.add_argument(
        "--export-tolerance",
        type=float,
        default=DEFAULT_TOLERANCE,
        help="max abs difference fp32 ONNX vs PyTorch (default %(default)s)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure()
    try:
        check_output_free(args.output)
        with step(logger, "load the model"):
            source = load_source(
                model_dir=args.model_dir,
                module=args.module,
                torchscript=args.torchscript,
                input_spec=args.input_spec,
                name=args.name,
                max_length=args.max_length,
                task=args.task,
                images=args.images,
                eval_texts=args.eval_texts,
            )
        options = BuildOptions(
            output=args.output,
            thresholds=Thresholds(
                args.min_cosine_mean,
                args.min_cosine,
                args.min_top1_agreement,
                args.max_winning_probability_delta,
                args.min_label_set_agreement,
            ),
            opset=args.opset,
            export_tolerance=args.export_tolerance,
        )
        manifest = build(source, options)
    except ModelpackError as error:
        print(f"modelpack: error: {error}", file=sys.stderr)
        return error.exit_code
    summary = {
        "output": str(args.output),
        "name": manifest["name"],
        "quantization": manifest["quantization"]["chosen"]["name"],
        "accuracy": manifest["accuracy"]["values"],
        "size_bytes": manifest["size_bytes"],
        "latency_ms": manifest["latency_ms"],
    }
    console.summary("modelpack build", None, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
