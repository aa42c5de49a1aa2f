"""The Terraform CLI configuration that swaps in the offline ``hashicorp/aws``.

Terraform's ``dev_overrides`` maps a provider address to a directory holding a
``terraform-provider-aws`` executable; Terraform then runs that executable instead of
installing the provider, skips the registry for it, and leaves the lock file alone.
The executable here is a two-line launcher for :mod:`tfoffline.provider_server` under
the current Python, written next to the configuration in a directory of the caller's
choosing (a temporary one in tests), so nothing in the user's own config changes.

Some Terraform releases (1.11 among them; 1.15 no longer) still try to *install* an
overridden provider during ``init`` and fail offline, so the same launcher is also
offered, as the schema's provider version, in a local filesystem mirror: ``init`` is
satisfied on every release, and ``dev_overrides`` decides what actually runs.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
from pathlib import Path

from build_support import atomic
from tfoffline import plugin_tls
from tfoffline.schema_cache import SCHEMA_ENV, CachedSchema, cache_dir, ensure_schema

PROVIDER_ADDRESS = "registry.terraform.io/hashicorp/aws"
CONFIG_NAME = "tfoffline.tfrc"
LAUNCHER_NAME = "terraform-provider-aws"


def _platform() -> str:
    """Terraform's name for this platform, e.g. ``linux_amd64``."""
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
    return f"{platform.system().lower()}_{arch.get(machine, machine)}"


def _write_launcher(path: Path, cached: CachedSchema, tls_dir: Path) -> None:
    atomic.write_text(
        path,
        "#!/bin/sh\n"
        f"{SCHEMA_ENV}={shlex.quote(cached.stem)} "
        f"{plugin_tls.TLS_ENV}={shlex.quote(str(tls_dir))} "
        f'exec {shlex.quote(sys.executable)} -m tfoffline.provider_server "$@"\n',
    )
    path.chmod(0o755)


def write_cli_config(directory: Path) -> Path:
    """Write the launcher and CLI configuration into ``directory``; return the config path."""
    # Extract before Terraform starts the plugin, not during its handshake.
    cached = ensure_schema()
    version = cached.load()["provider_version"]
    tls_dir = directory / "tls"
    plugin_tls.write(tls_dir)
    plugin_dir = directory / "plugins"
    _write_launcher(plugin_dir / LAUNCHER_NAME, cached, tls_dir)
    mirror = directory / "mirror"
    package = mirror / PROVIDER_ADDRESS / version / _platform()
    _write_launcher(package / f"{LAUNCHER_NAME}_v{version}", cached, tls_dir)
    config = directory / CONFIG_NAME
    atomic.write_text(
        config,
        "provider_installation {\n"
        "  dev_overrides {\n"
        f"    {json.dumps(PROVIDER_ADDRESS)} = {json.dumps(str(plugin_dir))}\n"
        "  }\n"
        "  filesystem_mirror {\n"
        f"    path    = {json.dumps(str(mirror))}\n"
        f"    include = [{json.dumps(PROVIDER_ADDRESS)}]\n"
        "  }\n"
        "  direct {\n"
        f"    exclude = [{json.dumps(PROVIDER_ADDRESS)}]\n"
        "  }\n"
        "}\n",
    )
    return config


def offline_env(directory: Path) -> dict[str, str]:
    """Environment variables that make Terraform use the offline provider, offline."""
    return {
        "TF_CLI_CONFIG_FILE": str(write_cli_config(directory)),
        # No version check against checkpoint-api.hashicorp.com: there is no network.
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
    }


def main(argv: list[str] | None = None) -> int:
    """Print ``export`` lines that point a shell's ``terraform`` at the offline provider."""
    parser = argparse.ArgumentParser(
        prog="python -m tfoffline.cliconfig",
        description="Write the offline hashicorp/aws CLI configuration and print the "
        'environment to use it: eval "$(python -m tfoffline.cliconfig)"',
    )
    parser.add_argument(
        "--dir", type=Path, default=cache_dir() / "cli", help="where to write the files"
    )
    args = parser.parse_args(argv)
    for key, value in offline_env(args.dir).items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
