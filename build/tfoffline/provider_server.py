"""A plan-only ``hashicorp/aws``: the real schema, real plans, no cloud.

Terraform starts this as a plugin (protocol 6 over gRPC, the go-plugin handshake on
stdout) and asks it for the schema, to validate, to plan and to read data sources.
Terraform itself checks configurations against the schema (unknown arguments, missing
required ones, blocks versus attributes, types), exactly as it does with the real
provider. Applying is refused: this provider has nowhere to create anything.

Run as ``python -m tfoffline.provider_server``; the CLI configuration written by
:mod:`tfoffline.cliconfig` points ``dev_overrides`` at a launcher that does this.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import tempfile
from concurrent import futures
from typing import Any

import grpc  # type: ignore[import-untyped]
from tf.gen import tfplugin_pb2 as pb
from tf.gen import tfplugin_pb2_grpc as rpc
from tf.utils import Diagnostics, read_dynamic_value, to_dynamic_value

from tfoffline import data_sources, plugin_tls
from tfoffline.functions import FUNCTIONS, FunctionCallError
from tfoffline.planning import ProviderSettings, plan_block
from tfoffline.policy_document import PolicyDocumentError
from tfoffline.schema_cache import CachedSchema, cached_schema_from_env, ensure_schema

APPLY_REFUSED = (
    "This hashicorp/aws provider is the offline, plan-only stand-in used for tests: it "
    "answers validate, plan and data source reads with the real provider's schema, but "
    "never creates, changes or deletes anything. Run apply with the real provider "
    "(unset TF_CLI_CONFIG_FILE, or set TFOFFLINE_REAL_PROVIDER=1 for the test fixtures)."
)
# The schema message is about 1.5 MB today; lift gRPC's 4 MiB default for growth.
_MAX_MESSAGE = 256 * 1024 * 1024


def _error(summary: str, detail: str = "") -> Any:
    return Diagnostics().add_error(summary, detail).to_pb()


class PlanOnlyAwsProvider(rpc.ProviderServicer):  # type: ignore[misc]
    """gRPC servicer for the offline provider; holds the schema and provider settings."""

    def __init__(self, cached: CachedSchema) -> None:
        self.cached = cached
        self.settings = ProviderSettings(region=_env_region())
        self._schema: dict[str, Any] | None = None

    @property
    def schema(self) -> dict[str, Any]:
        # Loaded on first plan or read: many provider starts only answer for the schema.
        if self._schema is None:
            self._schema = self.cached.load()
        return self._schema

    # --- schema and configuration -------------------------------------------------
    def GetProviderSchema(self, request: Any, context: Any) -> Any:  # noqa: N802
        return pb.GetProviderSchema.Response.FromString(self.cached.proto_path.read_bytes())

    def ValidateProviderConfig(self, request: Any, context: Any) -> Any:  # noqa: N802
        return pb.ValidateProviderConfig.Response()

    def ValidateResourceConfig(self, request: Any, context: Any) -> Any:  # noqa: N802
        return pb.ValidateResourceConfig.Response()

    def ValidateDataResourceConfig(self, request: Any, context: Any) -> Any:  # noqa: N802
        return pb.ValidateDataResourceConfig.Response()

    def ConfigureProvider(self, request: Any, context: Any) -> Any:  # noqa: N802
        config = read_dynamic_value(request.config) or {}
        region = config.get("region")
        if isinstance(region, str) and region:
            self.settings.region = region
        for default_tags in config.get("default_tags") or []:
            tags = default_tags.get("tags") if isinstance(default_tags, dict) else None
            if isinstance(tags, dict):
                self.settings.default_tags.update(tags)
        return pb.ConfigureProvider.Response()

    def StopProvider(self, request: Any, context: Any) -> Any:  # noqa: N802
        return pb.StopProvider.Response()

    def GetFunctions(self, request: Any, context: Any) -> Any:  # noqa: N802
        return pb.GetFunctions.Response(
            functions={name: f.message() for name, f in FUNCTIONS.items()}
        )

    def CallFunction(self, request: Any, context: Any) -> Any:  # noqa: N802
        function = FUNCTIONS.get(request.name)
        if function is None:
            return pb.CallFunction.Response(
                error=pb.FunctionError(text=f"no function named {request.name!r}")
            )
        args = [read_dynamic_value(a) for a in request.arguments]
        try:
            result = function.call(*args)
        except FunctionCallError as exc:
            return pb.CallFunction.Response(
                error=pb.FunctionError(text=str(exc), function_argument=exc.argument)
            )
        return pb.CallFunction.Response(result=to_dynamic_value(result))

    # --- resources ------------------------------------------------------------------
    def UpgradeResourceState(self, request: Any, context: Any) -> Any:  # noqa: N802
        state = json.loads(request.raw_state.json) if request.raw_state.json else None
        return pb.UpgradeResourceState.Response(upgraded_state=to_dynamic_value(state))

    def ReadResource(self, request: Any, context: Any) -> Any:  # noqa: N802
        return pb.ReadResource.Response(new_state=request.current_state, private=request.private)

    def PlanResourceChange(self, request: Any, context: Any) -> Any:  # noqa: N802
        block = self.schema["resource_schemas"][request.type_name]["block"]
        proposed = read_dynamic_value(request.proposed_new_state)
        prior = read_dynamic_value(request.prior_state)
        if proposed is None:  # destroy
            return pb.PlanResourceChange.Response(planned_state=request.proposed_new_state)
        if prior is not None:  # update: Terraform already carried computed values over
            return pb.PlanResourceChange.Response(planned_state=request.proposed_new_state)
        planned = plan_block(block, proposed, self.settings, top_level=True)
        return pb.PlanResourceChange.Response(planned_state=to_dynamic_value(planned))

    def ApplyResourceChange(self, request: Any, context: Any) -> Any:  # noqa: N802
        return pb.ApplyResourceChange.Response(
            diagnostics=_error("This provider only plans: apply is refused", APPLY_REFUSED)
        )

    def ImportResourceState(self, request: Any, context: Any) -> Any:  # noqa: N802
        return pb.ImportResourceState.Response(
            diagnostics=_error("This provider only plans: import is refused", APPLY_REFUSED)
        )

    def MoveResourceState(self, request: Any, context: Any) -> Any:  # noqa: N802
        return pb.MoveResourceState.Response(
            diagnostics=_error("This provider only plans: state moves are refused")
        )

    # --- data sources ---------------------------------------------------------------
    def ReadDataSource(self, request: Any, context: Any) -> Any:  # noqa: N802
        block = self.schema["data_source_schemas"][request.type_name]["block"]
        config = read_dynamic_value(request.config) or {}
        try:
            state = data_sources.read(request.type_name, block, config, self.settings)
        except PolicyDocumentError as exc:
            return pb.ReadDataSource.Response(diagnostics=_error(str(exc)))
        return pb.ReadDataSource.Response(state=to_dynamic_value(state))


def _env_region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


class _ShutdownWatcher(grpc.ServerInterceptor):  # type: ignore[misc]
    """go-plugin asks plugins to stop through its controller service; notice it."""

    def __init__(self) -> None:
        self.stopped = False

    def intercept_service(self, continuation: Any, handler_call_details: Any) -> Any:
        if handler_call_details.method == "/plugin.GRPCController/Shutdown":
            self.stopped = True
        return continuation(handler_call_details)


def serve() -> None:
    """Start the gRPC server, print the go-plugin handshake and serve until shut down."""
    if os.environ.get("TF_PLUGIN_MAGIC_COOKIE") is None:
        sys.exit(
            "This is a Terraform provider plugin; Terraform starts it. To use it, run "
            "terraform with the CLI configuration from tfoffline (see its README)."
        )
    provider = PlanOnlyAwsProvider(cached_schema_from_env() or ensure_schema())
    watcher = _ShutdownWatcher()
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4),
        interceptors=[watcher],
        options=[
            ("grpc.max_send_message_length", _MAX_MESSAGE),
            ("grpc.max_receive_message_length", _MAX_MESSAGE),
        ],
    )
    rpc.add_ProviderServicer_to_server(provider, server)
    with tempfile.TemporaryDirectory(prefix="tfoffline-aws-") as tmp:
        socket = f"{tmp}/plugin.sock"
        identity = plugin_tls.load_or_generate()
        server.add_secure_port(f"unix://{socket}", identity.credentials())
        server.start()
        cert = base64.b64encode(identity.cert_der).decode().rstrip("=")
        print(f"1|6|unix|{socket}|grpc|{cert}", flush=True)
        while server.wait_for_termination(0.05):
            if watcher.stopped:
                break
        server.stop(0)


if __name__ == "__main__":
    serve()
