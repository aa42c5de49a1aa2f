"""``local-lambda``: run the inference function locally, the way Lambda runs it.

    local-lambda invoke --artifact DIR --payload '{"texts": ["hello"]}'
    local-lambda invoke --artifact DIR --event-file event.json --memory-mb 3008
    local-lambda invoke --artifact DIR --image cat.jpg


The function's own logs go to stderr; the result (pretty JSON) and Lambda's REPORT line
go to stdout. The exit status is 0 when the function answered without a function error.
"""

from __future__ import annotations

import argparse
import base64
import json
import mimetypes
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from local_lambda.environment import ExecutionEnvironment, FunctionConfig, task_root_for
from local_lambda.report import report_line

DEFAULT_HANDLER = "ml_runtime.handler.lambda_handler"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="local-lambda", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    invoke = commands.add_parser("invoke", help="run the function once on one event")
    invoke.add_argument("--artifact", type=Path, help="model artefact directory (MODEL_DIR)")
    source = invoke.add_mutually_exclusive_group(required=True)
    source.add_argument("--payload", help="the event, as JSON text")
    source.add_argument("--event-file", type=Path, help="a file holding the event as JSON")
    source.add_argument(
        "--image",
        type=Path,
        help="an image file, sent as a function URL sends it: POST /predict, base64 body",
    )
    invoke.add_argument(
        "--content-type",
        help="with --image: the content type to declare (default: from the file name)",
    )
    invoke.add_argument("--handler", default=DEFAULT_HANDLER)
    invoke.add_argument("--memory-mb", type=int, default=2048, help="function memory size")
    invoke.add_argument("--timeout-s", type=float, default=30.0, help="function timeout")
    invoke.add_argument("--function-name", default="ml-inference")
    invoke.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="extra variable"
    )
    args = parser.parse_args(argv)
    return _invoke(args, parser)


def _invoke(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    payload = _image_payload(args, parser) if args.image else _json_payload(args, parser)
    environment = dict(_pairs(args.env, parser))
    if args.artifact is not None:
        if not (args.artifact / "manifest.json").is_file():
            parser.error(
                f"--artifact {args.artifact}: no manifest.json there; build one with "
                "`modelpack build --output DIR`"
            )
        environment["MODEL_DIR"] = str(args.artifact.resolve())
    config = FunctionConfig(
        handler=args.handler,
        task_root=task_root_for(args.handler),
        memory_mb=args.memory_mb,
        timeout_s=args.timeout_s,
        function_name=args.function_name,
        environment=environment,
    )
    with ExecutionEnvironment(config, logs=sys.stderr) as env:
        result = env.invoke(payload)
    body = result.json() if result.body else None
    print(json.dumps(body, indent=2) if body is not None else "null")
    if not result.ok:
        print(f"function error: {result.error_type}", file=sys.stderr)
    print(report_line(result))
    return 0 if result.ok else 1


def _json_payload(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Any:
    if args.content_type:
        parser.error("--content-type goes with --image")
    try:
        text = args.event_file.read_text() if args.event_file else args.payload
        return json.loads(text)
    except OSError as exc:
        parser.error(f"cannot read --event-file: {exc}")
    except ValueError as exc:
        parser.error(f"the event is not valid JSON ({exc}); Lambda only accepts JSON events")


def _image_payload(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, Any]:
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
    return function_url_event(data, content_type)


def function_url_event(
    body: bytes, content_type: str, path: str = "/predict", method: str = "POST"
) -> dict[str, Any]:
    """The event a Lambda function URL delivers for this request (payload format 2.0).

    A binary body arrives base64-encoded with ``isBase64Encoded`` true:
    https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads
    """
    now = time.time()
    url_id = "localfunctionurl0000000000000000"
    domain = f"{url_id}.lambda-url.us-east-1.on.aws"
    agent = "local-lambda"
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "content-type": content_type,
            "content-length": str(len(body)),
            "host": domain,
            "user-agent": agent,
        },
        "requestContext": {
            "accountId": "anonymous",
            "apiId": url_id,
            "domainName": domain,
            "domainPrefix": url_id,
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": agent,
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": True,
    }


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
