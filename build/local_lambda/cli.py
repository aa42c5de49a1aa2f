"""``local-lambda``: run the inference function locally, the way Lambda runs it.

    local-lambda invoke --artifact DIR --payload '{"texts": ["hello"]}'
    local-lambda invoke --artifact DIR --event-file event.json --memory-mb 3008
    local-lambda invoke --artifact DIR --image cat.jpg
    local-lambda serve --artifact DIR --port 9000 --max-concurrency 4
    local-lambda tune --artifact DIR --payload '{"texts": ["hello"]}'   (see local_lambda.tune)

``invoke``: the function's own logs go to stderr, the result (pretty JSON) to stdout.
Lambda's REPORT line follows the result on a terminal; piped (or with ``LOG_FORMAT=json``)
it goes to stderr instead, so that stdout is one JSON document (``| jq`` works). The exit
status is 0 when the function answered without a function error. ``serve``: see
:mod:`local_lambda.serve`.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from build_support import console
from local_lambda import tune
from local_lambda.environment import (
    ACCOUNT_ID,
    EnvironmentFailedError,
    ExecutionEnvironment,
    FunctionConfig,
    task_root_for,
)
from local_lambda.report import report_line
from local_lambda.url_events import FunctionUrl, HttpRequest, request_event

DEFAULT_HANDLER = "ml_runtime.handler.lambda_handler"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="local-lambda", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    invoke = commands.add_parser("invoke", help="run the function once on one event")
    source = invoke.add_mutually_exclusive_group(required=True)
    source.add_argument("--payload", help="the event, as JSON text")
    source.add_argument("--event-file", type=Path, help="a file holding the event as JSON")
    source.add_argument(
        "--image",
        type=Path,
        help="an image file, sent as the function's URL would: POST /predict, base64 body",
    )
    invoke.add_argument(
        "--content-type",
        help="with --image: the content type to declare (default: from the file name)",
    )
    _function_options(invoke)
    serve = commands.add_parser(
        "serve",
        help="serve the function over HTTP on loopback: function URL events and the Invoke API",
    )
    _function_options(serve)
    serve.add_argument("--port", type=int, default=9000, help="loopback port (0: any free one)")
    serve.add_argument(
        "--max-concurrency",
        type=int,
        default=4,
        help="execution environments at most; requests above it get 429 (default 4)",
    )
    serve.add_argument(
        "--log-dir", type=Path, help="each environment's output in its own file (else stderr)"
    )
    serve.add_argument("--json", action="store_true", help="structured JSON logs on stderr")
    tune.add_parser(commands)
    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args, parser)
    if args.command == "tune":
        return tune.main(args, parser)
    return _invoke(args, parser)


def _function_options(command: argparse.ArgumentParser) -> None:
    """The function's settings, shared by every subcommand that runs it."""
    command.add_argument("--artifact", type=Path, help="model artefact directory (MODEL_DIR)")
    command.add_argument("--handler", default=DEFAULT_HANDLER)
    command.add_argument(
        "--task-root",
        type=Path,
        help="folder holding the handler's module (Lambda's /var/task); "
        "default: where the handler's package is installed",
    )
    command.add_argument("--memory-mb", type=int, default=2048, help="function memory size")
    command.add_argument("--timeout-s", type=float, default=30.0, help="function timeout")
    command.add_argument("--function-name", default="ml-inference")
    command.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="extra variable"
    )


def _function_config(args: argparse.Namespace, parser: argparse.ArgumentParser) -> FunctionConfig:
    """The function described by the shared options; bad values end with a clear error."""
    environment = dict(_pairs(args.env, parser))
    if args.artifact is not None:
        if not (args.artifact / "manifest.json").is_file():
            parser.error(
                f"--artifact {args.artifact}: no manifest.json there; build one with "
                "`modelpack build --output DIR`"
            )
        environment["MODEL_DIR"] = str(args.artifact.resolve())
    if args.task_root is not None:
        if not args.task_root.is_dir():
            parser.error(f"--task-root {args.task_root}: not a directory")
        task_root = args.task_root.resolve()
    else:
        try:
            task_root = task_root_for(args.handler)
        except EnvironmentFailedError as exc:
            parser.error(f"--handler {args.handler}: {exc}; give its folder with --task-root")
    if not 128 <= args.memory_mb <= 10240:
        parser.error(f"--memory-mb {args.memory_mb}: Lambda allows 128 to 10240 MB")
    if not 0 < args.timeout_s <= 900:
        parser.error(f"--timeout-s {args.timeout_s}: Lambda allows up to 900 seconds")
    return FunctionConfig(
        handler=args.handler,
        task_root=task_root,
        memory_mb=args.memory_mb,
        timeout_s=args.timeout_s,
        function_name=args.function_name,
        environment=environment,
    )


def _serve(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from build_support import logs
    from local_lambda.serve import PortUnavailableError, ServeSettings, serve

    if args.max_concurrency < 1:
        parser.error(f"--max-concurrency {args.max_concurrency}: must be at least 1")
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port}: must be 0 to 65535")
    config = _function_config(args, parser)
    logs.configure(fmt="json" if args.json else None)
    settings = ServeSettings(
        port=args.port, max_concurrency=args.max_concurrency, log_dir=args.log_dir
    )
    try:
        return serve(config, settings)
    except PortUnavailableError as exc:
        print(f"local-lambda serve: {exc}", file=sys.stderr)
        return 2


def _invoke(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    json_event = None if args.image else _json_event(args, parser)
    config = _function_config(args, parser)
    payload = _image_event(args, parser, config) if args.image else json_event
    with ExecutionEnvironment(config, logs=sys.stderr) as env:
        result = env.invoke(payload)
    body = result.json() if result.body else None
    print(json.dumps(body, indent=2) if body is not None else "null")
    if not result.ok:
        print(f"function error: {result.error_type}", file=sys.stderr)
    # A person reads both together; a pipe gets the result alone, the REPORT with the logs.
    print(report_line(result), file=sys.stdout if console.human_summary() else sys.stderr)
    return 0 if result.ok else 1


def _json_event(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Any:
    if args.content_type:
        parser.error("--content-type goes with --image")
    try:
        text = args.event_file.read_text() if args.event_file else args.payload
        return json.loads(text)
    except OSError as exc:
        parser.error(f"cannot read --event-file: {exc}")
    except ValueError as exc:
        parser.error(f"the event is not valid JSON ({exc}); Lambda only accepts JSON events")


def _image_event(
    args: argparse.Namespace, parser: argparse.ArgumentParser, config: FunctionConfig
) -> dict[str, Any]:
    """``POST /predict`` with the image file as its body, as the function's URL sends it."""
    try:
        data = args.image.read_bytes()
    except OSError as exc:
        parser.error(f"cannot read --image: {exc}")
    content_type = args.content_type or mimetypes.guess_type(args.image.name)[0]
    if content_type is None:
        parser.error(
            f"--image {args.image}: cannot tell its content type from the name; "
            "pass --content-type image/jpeg (or image/png, image/webp)"
        )
    request = HttpRequest(
        method="POST",
        raw_path="/predict",
        raw_query="",
        headers=[("content-type", content_type), ("user-agent", "local-lambda")],
        body=data,
        source_ip="127.0.0.1",
    )
    url = FunctionUrl.for_function(config.function_name, ACCOUNT_ID, config.region)
    return request_event(request, url, str(uuid.uuid4()))


def _pairs(items: list[str], parser: argparse.ArgumentParser) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--env {item!r}: expected NAME=VALUE")
        pairs.append((name, value))
    return pairs


if __name__ == "__main__":
    raise SystemExit(main())
