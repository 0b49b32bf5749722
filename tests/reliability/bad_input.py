"""The bad-input matrix against a running processor (a subprocess, so its peak memory is its own):
malformed and truncated bodies, gzip and "millions of empty spans" bombs, deep nesting in JSON and
protobuf, huge attributes, invalid UTF-8, wrong-length ids, slow and idle clients, a memory budget under
concurrent load. Each row: the answer the client got, the processor's peak RSS during the scenario, notes.

    python -m tests.reliability            # full size (2M-span bombs, 200 connections)
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc

from genai_otel.processor.limits import count_items
from genai_otel.processor.otlp import _field, export_request
from genai_otel.testing.net import free_port, wait_for_port

TRACES = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

# The processor under test: the service with explicit limits (the CLI's defaults otherwise), printing a
# line once it listens and stopping on SIGTERM.
_RUNNER = """
import json, signal, sys, threading
from genai_otel.processor.limits import Limits
from genai_otel.processor.service import ProcessorService
grpc_listen, http_listen, forward, spool, limits = sys.argv[1:6]
service = ProcessorService(grpc_listen, forward, spool, http_listen=http_listen,
                           limits=Limits(**json.loads(limits))).start()
print("listening", flush=True)
stopped = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stopped.set())
stopped.wait()
service.stop(drain_seconds=2)
"""


class RawReceiver:
    """A downstream OTLP/gRPC receiver that keeps requests as bytes: it takes any nesting depth (the
    Python decoder would refuse kvlists deeper than 31 levels) and counts spans from the wire."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self.lock = threading.Lock()
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=4), options=[("grpc.max_receive_message_length", 1 << 28)]
        )

        def export(raw: bytes, context: Any) -> bytes:
            with self.lock:
                self.requests.append(raw)
            return b""

        handler = grpc.unary_unary_rpc_method_handler(export)
        self.server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(TRACES.split("/")[1], {"Export": handler}),)
        )
        self.port = self.server.add_insecure_port("127.0.0.1:0")

    def spans(self) -> int:
        with self.lock:
            return sum(count_items(raw, "traces", 1 << 40) for raw in self.requests)

    def __enter__(self) -> RawReceiver:
        self.server.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.stop(0)


class Processor:
    """``ProcessorService`` in a subprocess, with its peak RSS (VmHWM, reset per scenario) and stderr."""

    def __init__(self, forward: int, limits: dict[str, Any]) -> None:
        self.grpc_port, self.http_port = free_port(), free_port()
        self.spool = tempfile.mkdtemp(prefix="bad-input-spool-")
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 -- read while the process runs
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _RUNNER,
                f"127.0.0.1:{self.grpc_port}",
                f"127.0.0.1:{self.http_port}",
                f"127.0.0.1:{forward}",
                self.spool,
                json.dumps(limits),
            ],
            stdout=subprocess.PIPE,
            stderr=self.stderr,
        )
        wait_for_port(self.http_port, 60, self.process)
        wait_for_port(self.grpc_port, 60, self.process)
        self.channel = grpc.insecure_channel(
            f"127.0.0.1:{self.grpc_port}", options=[("grpc.max_send_message_length", 1 << 28)]
        )
        self.export = self.channel.unary_unary(TRACES)

    def _status(self, field: str) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        return 0

    def reset_peak(self) -> None:
        with contextlib.suppress(OSError):
            Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS

    def peak_rss_mb(self) -> float:
        return round(self._status("VmHWM") / 1024, 1)

    def threads(self) -> int:
        return self._status("Threads")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stderr_lines(self) -> int:
        self.stderr.seek(0)
        return len(self.stderr.read().splitlines())

    def stderr_text(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def grpc(self, raw: bytes, timeout: float = 60) -> str:
        try:
            self.export(raw, timeout=timeout)
            return "OK"
        except grpc.RpcError as error:
            return error.code().name

    def http(self, body: bytes, kind: str = "application/x-protobuf", encoding: str | None = None) -> str:
        headers = f"POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-type: {kind}\r\nconnection: close\r\n"
        if encoding:
            headers += f"content-encoding: {encoding}\r\n"
        headers += f"content-length: {len(body)}\r\n\r\n"
        return _first_line(_exchange(self.http_port, headers.encode() + body))

    def stop(self) -> int:
        self.channel.close()
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def _exchange(port: int, data: bytes, timeout: float = 60) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        connection.sendall(data)
        answer = b""
        try:
            while chunk := connection.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    return answer


def _first_line(answer: bytes) -> str:
    if not answer:
        return "no answer"
    line = answer.split(b"\r\n", 1)[0].decode(errors="replace")
    return "HTTP " + line.split(" ", 1)[1] if line.startswith("HTTP/") else line


# -- hostile bodies -------------------------------------------------------------------------------------


def empty_spans(count: int) -> bytes:
    """An ExportTraceServiceRequest of ``count`` empty spans: 2 bytes each on the wire."""
    return _field(b"\x0a", _field(b"\x12", b"\x12\x00" * count))


def deep_request(levels: int) -> bytes:
    """One valid span whose attribute ``deep`` is a kvlist nested ``levels`` deep."""
    value = _field(b"\x0a", b"leaf")
    for _ in range(levels):
        value = _field(b"\x32", _field(b"\x0a", _field(b"\x0a", b"k") + _field(b"\x12", value)))
    attribute = _field(b"\x0a", b"deep") + _field(b"\x12", value)
    span = (
        _field(b"\x0a", bytes(range(1, 17)))
        + _field(b"\x12", bytes(range(1, 9)))
        + _field(b"\x2a", b"deep")
        + _field(b"\x4a", attribute)
    )
    return _field(b"\x0a", _field(b"\x12", _field(b"\x12", span)))


def deep_json(levels: int) -> bytes:
    return b'{"resourceSpans": ' + b"[" * levels + b"]" * levels + b"}"


def _span_with(name: bytes, trace_id: bytes, span_id: bytes, attributes: bytes = b"") -> bytes:
    span = _field(b"\x0a", trace_id) + _field(b"\x12", span_id) + _field(b"\x2a", name) + attributes
    return _field(b"\x0a", _field(b"\x12", _field(b"\x12", span)))


def _parallel(count: int, call: Any) -> list[str]:
    with futures.ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: call(), range(count)))


def _summary(answers: list[str]) -> str:
    return ", ".join(f"{answers.count(a)}x {a}" for a in sorted(set(answers)))


# -- the matrix -----------------------------------------------------------------------------------------


def scenarios(full: bool) -> Iterator[dict]:
    """One row per bad input (see the module docstring); ``full`` runs the full-size bombs and crowds."""
    bomb_spans = 2_000_000 if full else 300_000
    crowd = 200 if full else 40
    limits = {
        # the CI form scales the size limits down (16 MiB requests, a 48 MiB budget) to stay fast
        "max_request_bytes": (64 if full else 16) << 20,
        "memory_budget_bytes": (512 if full else 48) << 20,
        "max_http_connections": 64 if full else 16,
        "http_idle_seconds": 30.0 if full else 2.0,
        "http_header_seconds": 10.0 if full else 1.0,
        "budget_wait_seconds": 2.0 if full else 0.5,
    }
    with RawReceiver() as downstream:
        processor = Processor(downstream.port, limits)
        try:
            yield from _matrix(processor, downstream, bomb_spans, crowd, full)
        finally:
            code = processor.stop()
        yield {
            "scenario": "processor exit after the matrix",
            "answer": f"exit code {code}",
            "notes": f"{processor.stderr_lines()} stderr lines over the whole matrix: "
            + processor.stderr_text()[-300:].replace("\n", " | "),
        }


def _matrix(processor: Processor, downstream: RawReceiver, bomb_spans: int, crowd: int, full: bool):
    def row(scenario: str, answer: str, notes: str = "", **extra: Any) -> dict:
        result = {"scenario": scenario, "answer": answer, "peak_rss_mb": processor.peak_rss_mb()}
        result.update(extra, notes=notes, alive=processor.alive())
        processor.reset_peak()
        return result

    processor.reset_peak()
    valid = export_request({"gen_ai.operation.name": "chat"}, 3).SerializeToString()
    yield row("valid request (control)", processor.grpc(valid) + " / " + processor.http(valid))

    yield row(
        "malformed protobuf",
        processor.grpc(b"\xff\xfe junk") + " / " + processor.http(b"\xff\xfe junk"),
    )
    yield row("truncated protobuf", processor.grpc(valid[:-5]) + " / " + processor.http(valid[:-5]))
    yield row(
        "truncated gzip body",
        processor.http(gzip.compress(valid)[:-8], encoding="gzip"),
    )
    zeros = (256 << 20) if full else (20 << 20)
    bomb = gzip.compress(bytes(zeros), 9)
    yield row(
        f"gzip bomb ({len(bomb) // 1024} KB -> {zeros >> 20} MB)",
        processor.http(bomb, encoding="gzip"),
        "inflate stops at the request limit",
    )
    spans_bomb = empty_spans(bomb_spans)
    gz = gzip.compress(spans_bomb, 9)
    started = time.monotonic()
    http_answer = processor.http(gz, encoding="gzip")
    yield row(
        f"protobuf bomb: {bomb_spans:,} empty spans ({len(gz) / 1024:.1f} KB gzip)",
        http_answer + " / " + processor.grpc(spans_bomb),
        f"answered in {time.monotonic() - started:.2f}s; items counted from the wire, nothing decoded",
    )
    answers = _parallel(3, lambda: processor.http(gz, encoding="gzip"))
    yield row(f"3 protobuf bombs at once ({bomb_spans:,} spans each)", _summary(answers))
    yield row("JSON nested 10,000 deep", processor.http(deep_json(10_000), "application/json"))
    before = downstream.spans()
    levels = 1000 if full else 200
    answer = processor.grpc(deep_request(levels)) + " / " + processor.http(deep_request(levels))
    delivered = _wait(lambda: downstream.spans() >= before + 2)
    yield row(
        f"kvlist attribute nested {levels} deep",
        answer,
        f"{downstream.spans() - before} of 2 delivered downstream" + ("" if delivered else " (timed out)"),
        sent=2,
        delivered=downstream.spans() - before,
    )
    yield row(
        "kvlist attribute nested 5,000 deep (over the cap)",
        processor.grpc(deep_request(5000)) + " / " + processor.http(deep_request(5000)),
        "refused, never handed to the recursive C decoder",
    )
    size = (32 if full else 8) << 20
    huge = export_request({"gen_ai.operation.name": "chat", "big": "x" * size}).SerializeToString()
    yield row(f"huge attribute ({size >> 20} MB string)", processor.grpc(huge) + " / " + processor.http(huge))
    invalid_utf8 = _span_with(b"bad \xff\xfe name", bytes(range(1, 17)), bytes(range(1, 9)))
    yield row(
        "invalid UTF-8 in a string", processor.grpc(invalid_utf8) + " / " + processor.http(invalid_utf8)
    )
    wrong_ids = _span_with(b"short ids", b"\x01" * 5, b"\x02" * 3)
    yield row(
        "wrong-length trace/span ids",
        processor.grpc(wrong_ids) + " / " + processor.http(wrong_ids),
        "a partial success: the span is dropped, the rest of a request goes on",
    )
    yield from _slow_clients(processor, crowd, row)
    yield from _budget(processor, downstream, full, row)


def _wait(predicate: Any, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _slow_clients(processor: Processor, crowd: int, row: Any) -> Iterator[dict]:
    port = processor.http_port
    header_seconds = 1.0 if crowd < 200 else 10.0
    # slowloris: headers a byte at a time, slower than the header deadline allows
    connection = socket.create_connection(("127.0.0.1", port), timeout=30)
    started = time.monotonic()
    answer = b""
    try:
        for byte in b"POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-protobuf\r\n":
            connection.send(bytes([byte]))
            time.sleep(header_seconds / 10)
        answer = connection.recv(4096)
    except OSError:
        pass
    finally:
        connection.close()
    yield row(
        "slowloris (headers a byte at a time)",
        _first_line(answer) if answer else "connection closed",
        f"cut off after {time.monotonic() - started:.1f}s",
    )
    # a body that stops half-way
    connection = socket.create_connection(("127.0.0.1", port), timeout=60)
    connection.sendall(b"POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\nhalf")
    started = time.monotonic()
    try:
        answer = connection.recv(4096)
    except OSError:
        answer = b""
    connection.close()
    yield row("body stops half-way", _first_line(answer), f"answered after {time.monotonic() - started:.1f}s")
    # a crowd of idle connections, then all go away
    threads_before = processor.threads()
    stderr_before = processor.stderr_lines()
    idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(crowd)]
    for connection in idle:
        connection.setblocking(False)
    # The server refuses connections beyond its cap at once; on a loaded machine "at once" can take a
    # moment, so count refusals until none has come for a second (at most 15 s).
    refused, waiting = 0, list(idle)
    last_change, deadline = time.monotonic(), time.monotonic() + 15
    while time.monotonic() - last_change < 1.0 and time.monotonic() < deadline:
        for connection in list(waiting):
            try:
                got = connection.recv(64)
            except BlockingIOError:  # accepted and idle: nothing to read yet
                continue
            except OSError:
                got = b""
            waiting.remove(connection)
            if got.startswith(b"HTTP/1.1 503"):
                refused += 1
                last_change = time.monotonic()
        time.sleep(0.05)
    threads_during = processor.threads()
    valid = export_request({"gen_ai.operation.name": "chat"}).SerializeToString()
    while_crowded = processor.http(valid)
    for connection in idle:
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        connection.close()  # RST: the rudest way to leave
    # The server notices each reset on its own thread: on a loaded machine that takes a moment, so the
    # slots come back within a bound rather than at once.
    answers = [processor.http(valid)]
    _wait(lambda: answers.append(processor.http(valid)) or answers[-1].startswith("HTTP 200"), 60)
    after = answers[-1]
    yield row(
        f"{crowd} idle connections, then reset",
        f"{refused}x HTTP 503 at once; a request meanwhile: {while_crowded}; after: {after}",
        f"threads {threads_before} -> {threads_during}; "
        f"{processor.stderr_lines() - stderr_before} stderr lines from the resets",
        threads=threads_during,
    )


def _budget(processor: Processor, downstream: RawReceiver, full: bool, row: Any) -> Iterator[dict]:
    """Concurrent large valid requests against the memory budget: each is taken, or refused retryably
    (RESOURCE_EXHAUSTED with RetryInfo); every acknowledged span is delivered."""
    spans = 20_000 if full else 5_000
    big = export_request({"gen_ai.operation.name": "chat", "p": "x" * 2000}, spans).SerializeToString()
    count = 8 if full else 4
    before = downstream.spans()
    answers = _parallel(count, lambda: processor.grpc(big))
    acknowledged = answers.count("OK") * spans
    _wait(lambda: downstream.spans() - before >= acknowledged, 60)
    delivered = downstream.spans() - before
    yield row(
        f"{count} concurrent {len(big) >> 20} MB requests ({spans:,} spans each) over the memory budget",
        _summary(answers),
        "refused ones are retryable (RESOURCE_EXHAUSTED with RetryInfo)",
        sent=count * spans,
        acknowledged=acknowledged,
        delivered=delivered,
        lost=max(acknowledged - delivered, 0),
        duplicated=max(delivered - acknowledged, 0),
    )


if __name__ == "__main__":
    for result in scenarios(full="--full" in sys.argv):
        print(json.dumps(result), flush=True)
    os._exit(0)
