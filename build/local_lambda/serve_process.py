"""``local-lambda serve`` as a child process: started, found on its port, stopped, read.

The load benchmark and the tests drive the real command this way, so what they measure
is what a user runs. The child logs JSON (``--json``) to a file; its address comes from
its ``serving …`` line, which it writes once it listens.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

SERVE_LOGGER = "local_lambda.serve"


class ServeProcessError(RuntimeError):
    """The server did not start, or did not stop cleanly."""


class ServeProcess:
    """``with ServeProcess([...serve options...], log) as server: server.url``."""

    def __init__(
        self,
        options: Sequence[str],
        log_path: Path,
        startup_timeout_s: float = 60.0,
        python: str = sys.executable,
    ) -> None:
        self.command = [python, "-m", "local_lambda.cli", "serve", "--json", "--port", "0"]
        self.command += list(options)
        self.log_path = log_path
        self.startup_timeout_s = startup_timeout_s
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self._log: IO[bytes] | None = None

    def __enter__(self) -> ServeProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.stop()

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.command, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            serving = next((e for e in self.events() if "url" in e), None)
            if serving is not None:
                self.url = str(serving["url"])
                return
            if self.process.poll() is not None:
                raise ServeProcessError(
                    f"local-lambda serve exited with {self.process.returncode}: {self.log_tail()}"
                )
            time.sleep(0.05)
        self.stop(signal.SIGKILL)
        raise ServeProcessError(f"local-lambda serve did not start in {self.startup_timeout_s} s")

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 60.0) -> int:
        """Signal the server and wait for it; its exit status."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise ServeProcessError(f"local-lambda serve did not stop in {timeout_s} s") from None
        finally:
            if self._log is not None:
                self._log.close()
        return code

    def events(self) -> list[dict[str, Any]]:
        """The server's own log records so far (not the function's)."""
        records = []
        try:
            lines = self.log_path.read_bytes().splitlines()
        except OSError:
            return []
        for line in lines:
            if not line.startswith(b"{"):
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line still being written
            if isinstance(record, dict) and record.get("logger") == SERVE_LOGGER:
                records.append(record)
        return records

    def reports(self) -> list[dict[str, Any]]:
        """One record per invocation: the REPORT line and its fields."""
        return [e for e in self.events() if str(e.get("event", "")).startswith("REPORT ")]

    def summary(self) -> dict[str, Any] | None:
        """The closing ``stopped`` record, once the server has stopped."""
        return next((e for e in self.events() if e.get("event") == "stopped"), None)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])
