"""Start real servers on free loopback ports for integration tests, and stop them.

Every server is a separate process so that tests cross a real socket, as in production.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def set_clock(url: str, now: int) -> None:
    """Set the mock's clock (POST /_mock/clock) to unix time `now`; the mock confirms it."""
    request = urllib.request.Request(
        f"{url}/_mock/clock",
        data=json.dumps({"now": now}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.loads(response.read())["now"] == now


@dataclass
class ServerProcess:
    """A child process serving HTTP on 127.0.0.1:port."""

    name: str
    port: int
    process: subprocess.Popen
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def set_clock(self, now: int) -> None:
        """The mock's clock, for a mock started by start_mock_api (set_clock)."""
        set_clock(self.url, now)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


def start_server(
    name: str,
    cmd: list[str],
    port: int,
    health_path: str = "/health",
    env: dict[str, str] | None = None,
    log_dir: Path | None = None,
    timeout: float = 30.0,
) -> ServerProcess:
    """Run `cmd` and wait until GET health_path answers (any HTTP status counts as up)."""
    log_dir = log_dir or Path(os.environ.get("TMPDIR", "/tmp"))
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}-{port}.log"
    full_env = {**os.environ, **(env or {})}
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            cmd, cwd=REPO_ROOT, env=full_env, stdout=log_file, stderr=subprocess.STDOUT
        )
    server = ServerProcess(name, port, process, log_path, env or {})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{server.log_text()}")
        try:
            urllib.request.urlopen(f"{server.url}{health_path}", timeout=1)
            return server
        except urllib.error.HTTPError:
            return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError(f"{name} did not answer on port {port} in {timeout}s:\n{server.log_text()}")


def start_moto(log_dir: Path | None = None) -> ServerProcess:
    port = free_port()
    return start_server(
        "moto",
        [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        port,
        health_path="/moto-api/",
        log_dir=log_dir,
    )


def start_mock_api(
    env: dict[str, str] | None = None, log_dir: Path | None = None, workers: int = 1
) -> ServerProcess:
    """The mock Stripe API (`python -m mock_api serve`) on a free port, configured by MOCK_* env;
    `workers` > 1 serves it from that many processes (`--workers`)."""
    port = free_port()
    command = [sys.executable, "-m", "mock_api", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), *(["--workers", str(workers)] if workers > 1 else [])]
    return start_server(
        "mock-api",
        command,
        port,
        env=env,
        log_dir=log_dir,
    )
