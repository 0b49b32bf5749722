"""The service's HTTP listeners: OTLP/HTTP in, and its own metrics for Prometheus."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from genai_otel.processor import otlp_http

if TYPE_CHECKING:
    from genai_otel.processor.service import ProcessorService

MAX_MESSAGE = 64 * 1024 * 1024


def otlp_http_server(service: ProcessorService, listen: str) -> Any:
    """OTLP/HTTP (``POST /v1/traces``; protobuf or JSON; gzip or deflate) into the same ingest path. The
    answer has the request's content type; errors carry a ``google.rpc.Status`` as the spec asks."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    status = {"ok": 200, "invalid": 400, "full": 503}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, code: int, body: bytes, kind: str) -> None:
            self.send_response(code)
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(body)))
            if code == 503:
                self.send_header("retry-after", "1")
            self.end_headers()
            self.wfile.write(body)

        def _fail(self, code: int, message: str, kind: str) -> None:
            self._reply(code, otlp_http.error_body(code, message, kind), kind)

        def do_POST(self) -> None:
            kind = otlp_http.response_type(self.headers.get("content-type"))
            if self.path.split("?")[0] != "/v1/traces":
                self.close_connection = True  # the body was not read
                return self._fail(404, "only /v1/traces is served", kind)
            try:
                body = otlp_http.read_body(
                    self.rfile,
                    self.headers.get("content-length"),
                    self.headers.get("transfer-encoding"),
                    MAX_MESSAGE,
                )
                raw = otlp_http.decode_request(
                    body, self.headers.get("content-type"), self.headers.get("content-encoding"), MAX_MESSAGE
                )
            except otlp_http.HttpError as error:
                self.close_connection = error.code in (400, 411, 413)  # the rest of the body may be unread
                return self._fail(error.code, str(error), kind)
            outcome = service.ingest(raw)
            if outcome.status == "ok":
                return self._reply(200, otlp_http.encode_response(outcome.response(), kind), kind)
            self._fail(status[outcome.status], outcome.message, kind)

    host, _, port = listen.rpartition(":")

    class Server(ThreadingHTTPServer):
        allow_reuse_port = True  # several worker processes may listen on one port

    server = Server((host or "127.0.0.1", int(port)), Handler)
    server.daemon_threads = True
    return server


def metrics_server(service: ProcessorService, listen: str) -> Any:
    """``GET /metrics``: the service's own metrics for Prometheus (or a collector's prometheus receiver)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            found = self.path.split("?")[0] == "/metrics"
            body = service.prometheus_text().encode() if found else b"only /metrics is served\n"
            self.send_response(200 if found else 404)
            self.send_header("content-type", "text/plain; version=0.0.4" if found else "text/plain")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    host, _, port = listen.rpartition(":")
    server = ThreadingHTTPServer((host or "127.0.0.1", int(port)), Handler)
    server.daemon_threads = True
    return server
