"""Real servers for the transport tests: each started on a free loopback port in a temp dir, stopped after.

Redis, NATS and RabbitMQ come from Debian packages (``.ci/run`` installs them); the OpenTelemetry
Collector and Jaeger are built from Go modules by ``.ci/backends/build.sh``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from genai_otel.testing.net import free_port, wait_for_port

__all__ = ["free_port", "wait_for_port"]

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("GENAI_OTEL_CACHE", Path.home() / ".cache" / "genai-otel"))


@dataclass
class Server:
    port: int
    workdir: Path
    process: subprocess.Popen

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


def require_binary(name: str, package: str) -> str:
    path = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/lib/rabbitmq/bin") / name) if p.exists()), None
    )
    if path is None:
        raise RuntimeError(f"{name} not found: install the Debian package {package} (.ci/run does)")
    return path


@contextmanager
def run_server(
    argv: Sequence[str],
    port: int,
    *,
    env: dict[str, str] | None = None,
    timeout: float = 30,
    workdir: Path | None = None,
    wait_port: int | None = None,
) -> Iterator[Server]:
    own_dir = workdir is None
    workdir = workdir or Path(tempfile.mkdtemp(prefix="genai-otel-srv-"))
    log = open(workdir / "server.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        list(argv), cwd=workdir, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        try:
            wait_for_port(wait_port or port, timeout, process)
        except Exception as error:
            log.flush()
            tail = (workdir / "server.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{argv[0]} did not start: {error}\n{tail}") from error
        yield Server(port, workdir, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        if own_dir:
            shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def serve_asgi(app: object, port: int | None = None) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a thread; yields its base URL."""
    import threading

    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for_port(port, 10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)


@contextmanager
def redis_server() -> Iterator[Server]:
    port = free_port()
    argv = [
        require_binary("redis-server", "redis-server"),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    with run_server(argv, port) as server:
        yield server


@contextmanager
def nats_server() -> Iterator[Server]:
    port = free_port()
    with run_server(
        [require_binary("nats-server", "nats-server"), "-a", "127.0.0.1", "-p", str(port)], port
    ) as s:
        yield s


@contextmanager
def rabbitmq_server() -> Iterator[Server]:
    port, dist_port = free_port(), free_port()
    workdir = Path(tempfile.mkdtemp(prefix="genai-otel-rabbit-"))
    (workdir / "enabled_plugins").write_text("[].\n")
    # As root, rabbitmq-server drops to the rabbitmq user: it must be able to write here.
    for path in (workdir, workdir / "mnesia", workdir / "log"):
        path.mkdir(exist_ok=True)
        path.chmod(0o777)
    env = {
        "RABBITMQ_NODENAME": f"genai-otel-{port}@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(dist_port),
        "RABBITMQ_MNESIA_BASE": str(workdir / "mnesia"),
        "RABBITMQ_LOG_BASE": str(workdir / "log"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(workdir / "enabled_plugins"),
        "RABBITMQ_FEATURE_FLAGS_FILE": str(workdir / "feature_flags"),
        "RABBITMQ_CONFIG_FILE": str(workdir / "rabbitmq"),
        "HOME": str(workdir),
    }
    try:
        with run_server(
            [require_binary("rabbitmq-server", "rabbitmq-server")], port, env=env, timeout=90, workdir=workdir
        ) as server:
            yield server
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
