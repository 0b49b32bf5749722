"""The service's HTTP listeners: OTLP/HTTP in (``/v1/traces``, ``/v1/logs``, ``/v1/metrics``), and its own
metrics for Prometheus.

Both are thread-per-connection servers with bounds: at most ``max_http_connections`` connections are
served (one more gets 503 and is closed at once, so threads stay bounded), every read has a deadline (an
idle connection waits ``http_idle_seconds`` for its next request, a request head gets
``http_header_seconds`` from its first byte, a body must arrive at ``http_min_body_rate`` -- slowloris
clients are cut off), a client that goes away is a debug line, and every request that arrived whole gets
an answer, whatever happens inside."""

from __future__ import annotations

import inspect
import io
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from genai_otel.processor import otlp_http
from genai_otel.processor.limits import Admission, Limits, Refused

if TYPE_CHECKING:
    from genai_otel.processor.service import ProcessorService

_logger = logging.getLogger("genai_otel.processor")

MAX_MESSAGE = Limits.max_request_bytes

_ROUTES = {"/v1/traces": "traces", "/v1/logs": "logs", "/v1/metrics": "metrics"}


class _DeadlineReader(io.RawIOBase):
    """The connection's reads, each bounded by the time left until ``deadline`` (a per-recv timeout alone
    lets a client that sends a byte every few seconds hold a thread forever)."""

    def __init__(self, connection: socket.socket) -> None:
        self.connection = connection
        self.deadline = time.monotonic()
        #: Once the first byte of a request arrives, the rest of its head must follow within this.
        self.then: float | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("read deadline passed")
        self.connection.settimeout(remaining)
        received = self.connection.recv_into(buffer)
        if received and self.then is not None:
            self.deadline = min(self.deadline, time.monotonic() + self.then)
            self.then = None
        return received


class _BoundedHandler(BaseHTTPRequestHandler):
    limits: Limits = Limits()

    def setup(self) -> None:
        super().setup()
        self._reader = _DeadlineReader(self.connection)
        self.rfile = io.BufferedReader(self._reader)

    def handle_one_request(self) -> None:
        # Waiting for the request line: an idle keep-alive connection is closed after http_idle_seconds.
        self._reader.deadline = time.monotonic() + self.limits.http_idle_seconds
        self._reader.then = self.limits.http_header_seconds
        super().handle_one_request()

    def parse_request(self) -> bool:
        self._reader.then = None  # the head's deadline, set at its first byte, stays
        return super().parse_request()

    def allow_body(self, length: int | None) -> None:
        """The deadline for a body of ``length`` bytes (None: chunked, allowed the largest request)."""
        size = self.limits.max_request_bytes if length is None else length
        seconds = self.limits.http_header_seconds + size / self.limits.http_min_body_rate
        self._reader.deadline, self._reader.then = time.monotonic() + seconds, None

    def log_message(self, *args: Any) -> None:
        pass


class _BoundedServer(ThreadingHTTPServer):
    """At most ``max_connections`` connections at once, each on its own daemon thread; beyond them a
    connection gets ``503`` with Retry-After and is closed by the accepting thread, without a thread."""

    allow_reuse_port = True  # several worker processes may listen on one port
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type, max_connections: int) -> None:
        self._slots = threading.BoundedSemaphore(max_connections)
        self.refused_connections = 0  # counted by the accepting thread only
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.refused_connections += 1
            self._refuse(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def _refuse(self, request: socket.socket) -> None:
        body = otlp_http.error_body(503, "too many connections: retry later", otlp_http.PROTOBUF)
        answer = (
            b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/x-protobuf\r\n"
            b"retry-after: 1\r\nconnection: close\r\ncontent-length: %d\r\n\r\n" % len(body)
        ) + body
        try:
            request.setblocking(False)  # a fresh socket's send buffer takes it; never wait on a client
            request.send(answer)
        except OSError:
            pass
        self.shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away or timed out is routine, not a traceback on stderr."""
        import sys

        error = sys.exc_info()[1]
        if isinstance(error, OSError):  # resets, broken pipes, timeouts
            _logger.debug("OTLP/HTTP connection from %s ended: %r", client_address, error)
        else:
            _logger.warning("OTLP/HTTP connection from %s failed", client_address, exc_info=True)


def _ingest_accepts_signal(service: Any) -> bool:
    try:
        return "signal" in inspect.signature(service.ingest).parameters
    except (TypeError, ValueError):
        return False


def otlp_http_server(service: ProcessorService, listen: str, limits: Limits | None = None) -> Any:
    """OTLP/HTTP (``POST /v1/traces``, ``/v1/logs``, ``/v1/metrics``; protobuf or JSON; gzip or deflate)
    into the service's ingest path. The answer has the request's content type; errors carry a
    ``google.rpc.Status`` as the spec asks: 400 undecodable, 413 too big (permanent), 503 + Retry-After
    when the queue or the memory budget is full (retry)."""
    limits = limits or getattr(service, "limits", None) or Limits()
    admission: Admission = getattr(service, "admission", None) or Admission(limits)
    with_signal = _ingest_accepts_signal(service)
    status = {"ok": 200, "invalid": 400, "full": 503}

    class Handler(_BoundedHandler):
        protocol_version = "HTTP/1.1"

        def _reply(self, code: int, body: bytes, kind: str) -> None:
            self.send_response(code)
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(body)))
            if code == 503:
                self.send_header("retry-after", "1")
            if self.close_connection:
                self.send_header("connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def _fail(self, code: int, message: str, kind: str) -> None:
            self._reply(code, otlp_http.error_body(code, message, kind), kind)

        def do_POST(self) -> None:
            kind = otlp_http.response_type(self.headers.get("content-type"))
            signal = _ROUTES.get(self.path.split("?")[0])
            if signal is None or (signal != "traces" and not with_signal):
                self.close_connection = True  # the body was not read
                return self._fail(404, "OTLP/HTTP is served at /v1/traces, /v1/logs and /v1/metrics", kind)
            taken = 0
            try:
                length = self.headers.get("content-length")
                self.allow_body(int(length) if length and length.isdigit() else None)
                body = otlp_http.read_body(
                    self.rfile, length, self.headers.get("transfer-encoding"), limits.max_request_bytes
                )
                taken = admission.reserve(len(body))
                raw = self._decode(body, signal)
                del body
                admission.release(taken)
                taken = 0
                taken = admission.admit(raw, signal)
                outcome = service.ingest(raw, signal) if with_signal else service.ingest(raw)
            except otlp_http.HttpError as error:
                self.close_connection = error.code in (400, 411, 413)  # the rest of the body may be unread
                return self._fail(error.code, str(error), kind)
            except Refused as refused:
                return self._fail(413 if refused.permanent else 503, str(refused), kind)
            except TimeoutError:
                self.close_connection = True
                return self._fail(408, "the request did not arrive in time", kind)
            except OSError:
                raise  # the client went away: nothing to answer (logged at debug by the server)
            except Exception as error:  # our bug: the client still gets an answer, the service goes on
                _logger.warning("OTLP/HTTP request failed", exc_info=True)
                self.close_connection = True
                return self._fail(500, f"internal error: {type(error).__name__}", kind)
            finally:
                admission.release(taken)
            if outcome.status == "ok":
                return self._reply(200, otlp_http.encode_response(outcome.response(), kind), kind)
            self._fail(status.get(outcome.status, 500), outcome.message, kind)

        def _decode(self, body: bytes, signal: str) -> bytes:
            """Inflate and, for JSON, convert; JSON's Python objects are reserved from the budget first."""
            content_type = self.headers.get("content-type")
            data = otlp_http.decompress(body, self.headers.get("content-encoding"), limits.max_request_bytes)
            media = (content_type or "").split(";")[0].strip().lower()
            if media == otlp_http.PROTOBUF:
                return data
            if media != otlp_http.JSON:
                raise otlp_http.HttpError(415, "send application/x-protobuf or application/json (OTLP/HTTP)")
            from genai_otel.processor.limits import count_json_items

            taken = admission.reserve(admission.json_cost(len(data)))
            try:
                document = otlp_http.parse_json(data)
                del data
                admission.check_items(count_json_items(document, signal), signal)
                return otlp_http._json_to_protobuf(document, signal)
            finally:
                admission.release(taken)

    host, _, port = listen.rpartition(":")
    Handler.limits = limits
    return _BoundedServer((host or "127.0.0.1", int(port)), Handler, limits.max_http_connections)


def metrics_server(service: ProcessorService, listen: str) -> Any:
    """``GET /metrics``: the service's own metrics for Prometheus (or a collector's prometheus receiver)."""

    class Handler(_BoundedHandler):
        def do_GET(self) -> None:
            found = self.path.split("?")[0] == "/metrics"
            body = service.prometheus_text().encode() if found else b"only /metrics is served\n"
            self.send_response(200 if found else 404)
            self.send_header("content-type", "text/plain; version=0.0.4" if found else "text/plain")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    host, _, port = listen.rpartition(":")
    return _BoundedServer((host or "127.0.0.1", int(port)), Handler, 8)
