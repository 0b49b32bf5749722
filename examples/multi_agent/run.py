"""Run the multi-agent example with one command: ``python examples/multi_agent/run.py``.

Starts the local model server (it speaks the OpenAI protocol; no API key), a Redis server on a free
port (``redis-server`` must be installed; or set ``REDIS_URL``), the researcher (HTTP) and writer
(Redis Streams) services as separate processes, then runs the supervisor. Every service exports
OTLP: to ``OTEL_EXPORTER_OTLP_ENDPOINT`` when set (a collector, Jaeger, Tempo), otherwise to an
embedded receiver whose spans are printed at the end as one trace tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import ExitStack, contextmanager
from pathlib import Path

from genai_otel.console import render_tree
from genai_otel.testing.model_server import ModelServer
from genai_otel.testing.net import free_port, wait_for_port
from genai_otel.testing.otlp_receiver import OtlpReceiver

HERE = Path(__file__).resolve().parent
#: How long a service may take to listen. Generous: on a loaded 2-core machine importing the SDKs alone can
#: take tens of seconds; a service that dies is noticed at once, so a long limit costs nothing when it works.
STARTUP_SECONDS = 180


@contextmanager
def service(argv: list[str], env: dict[str, str], quiet: bool = False):
    output = subprocess.DEVNULL if quiet else None
    process = subprocess.Popen(argv, env=env, cwd=HERE, stdout=output, stderr=output)
    try:
        yield process
    finally:
        process.terminate()  # SIGTERM: the service flushes its spans and exits
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def redis(stack: ExitStack):
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not found: install it (apt-get install redis-server) or set REDIS_URL")
    port, workdir = free_port(), stack.enter_context(tempfile.TemporaryDirectory())
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", workdir]
    with service(argv, dict(os.environ), quiet=True) as process:
        wait_for_port(port, STARTUP_SECONDS, process)
        yield f"redis://127.0.0.1:{port}/0"


def main() -> int:
    with ExitStack() as stack:
        model_server = stack.enter_context(ModelServer())
        endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        receiver = None if endpoint else stack.enter_context(OtlpReceiver())
        researcher_port = free_port()
        env = {
            **os.environ,
            "OPENAI_BASE_URL": model_server.openai_base_url,
            "REDIS_URL": stack.enter_context(redis(stack)),
            "RESEARCHER_PORT": str(researcher_port),
            "RESEARCHER_URL": f"http://127.0.0.1:{researcher_port}",
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint or receiver.endpoint,
            "OTEL_EXPORTER_OTLP_INSECURE": "true",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
        }
        with (
            service([sys.executable, "researcher.py"], env) as researcher,
            service([sys.executable, "writer.py"], env),
        ):
            wait_for_port(researcher_port, STARTUP_SECONDS, researcher)
            done = subprocess.run([sys.executable, "supervisor.py"], env=env, cwd=HERE, timeout=120)
        if done.returncode != 0:
            return done.returncode
        if receiver is not None:
            print("\n" + render_tree(receiver.tree_spans()))
            print(
                "\n(set OTEL_EXPORTER_OTLP_ENDPOINT to send the same trace to a collector, Jaeger or Tempo)"
            )
        else:
            print(f"exported to {endpoint}: look the trace id up in your backend")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
