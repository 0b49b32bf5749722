"""Real servers for the transport tests: each started on a free loopback port in a temp dir, stopped after.

Redis, NATS and RabbitMQ come from Debian packages (``.ci/run`` installs them); the OpenTelemetry
Collector and Jaeger are built from Go modules by ``.ci/backends/build.sh``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from genai_otel.testing.net import free_port, wait_for_port

__all__ = ["free_port", "wait_for_port", "wait_until"]


def wait_until(predicate, timeout: float = 20.0) -> None:
    """Poll ``predicate`` until it holds; fail the test clearly after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"condition not met within {timeout} s"
        time.sleep(0.02)


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
    timeout: float = 120,
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
            [require_binary("rabbitmq-server", "rabbitmq-server")],
            port,
            env=env,
            timeout=180,
            workdir=workdir,
        ) as server:
            yield server
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _postgres_user() -> str | None:
    """PostgreSQL refuses to run as root: as root, run it as an unprivileged user (created if need be)."""
    if os.geteuid() != 0:
        return None
    import pwd

    for name in ("postgres", "genai-otel-pg"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", "genai-otel-pg"], check=True)
    return "genai-otel-pg"


@contextmanager
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL with the pgvector extension, from the ``pgserver`` wheel (which ships both:
    no Debian package of pgvector is reachable here). Yields a DSN."""
    import pgserver

    bin_dir = Path(pgserver.__file__).parent / "pginstall" / "bin"
    user = _postgres_user()
    if user:  # the unprivileged user cannot reach a venv under /root: use a world-readable copy
        site = Path(pgserver.__file__).parent.parent
        shared = Path(tempfile.gettempdir()) / "genai-otel-pgserver"
        if not (shared / "pgserver" / "pginstall" / "bin" / "postgres").exists():
            # Keep the wheel's layout: the binaries find their libraries at $ORIGIN/../../../pgserver.libs.
            shutil.copytree(
                site / "pgserver" / "pginstall", shared / "pgserver" / "pginstall", dirs_exist_ok=True
            )
            shutil.copytree(site / "pgserver.libs", shared / "pgserver.libs", dirs_exist_ok=True)
            for path in (shared, shared / "pgserver"):
                path.chmod(0o755)
        bin_dir = shared / "pgserver" / "pginstall" / "bin"
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="genai-otel-pg-"))
    data, sockets = workdir / "data", workdir / "run"
    sockets.mkdir()
    prefix = ["runuser", "-u", user, "--"] if user else []
    if user:
        shutil.chown(workdir, user)
        shutil.chown(sockets, user)
    subprocess.run(
        [*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    argv = [
        *prefix,
        str(bin_dir / "postgres"),
        "-D",
        str(data),
        "-p",
        str(port),
        "-k",
        str(sockets),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "fsync=off",
    ]
    try:
        with run_server(argv, port, timeout=120, workdir=workdir):
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def header_recorder(seen: dict[str, dict]) -> object:
    """A ``requests`` transport adapter that answers 200 to everything and records each request's headers
    in ``seen`` by URL: what a real client really sent, without a network (mount it on a Session)."""
    import requests

    class Recorder(requests.adapters.BaseAdapter):
        def send(self, request, **kwargs):
            seen[request.url] = dict(request.headers)
            response = requests.Response()
            response.status_code, response._content, response.url = 200, b"{}", request.url
            return response

        def close(self) -> None:
            pass

    return Recorder()
