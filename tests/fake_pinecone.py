"""A minimal Pinecone data-plane server for the tests (Pinecone has no local server to install): it
answers the REST calls the real ``pinecone`` SDK makes -- query (cosine), upsert, delete, fetch --
from an in-memory index, so the SDK sends real requests."""

from __future__ import annotations

import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakePinecone  # type: ignore[assignment]

    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self, payload: Any, status: int = 200) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
        space = self.server.namespaces.setdefault(body.get("namespace", ""), {})
        path = urlsplit(self.path).path
        if path == "/vectors/upsert":
            for vector in body.get("vectors", []):
                space[vector["id"]] = vector["values"]
            return self._reply({"upsertedCount": len(body.get("vectors", []))})
        if path == "/vectors/delete":
            for vector_id in body.get("ids", []):
                space.pop(vector_id, None)
            return self._reply({})
        if path == "/query":
            scored = sorted(((_cosine(body["vector"], v), k) for k, v in space.items()), reverse=True)
            matches = [
                {"id": k, "score": round(s, 6), "values": []} for s, k in scored[: body.get("topK", 10)]
            ]
            return self._reply(
                {"matches": matches, "namespace": body.get("namespace", ""), "usage": {"readUnits": 1}}
            )
        self._reply({"error": {"code": 5, "message": f"no route {path}"}}, 404)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path == "/vectors/fetch":
            space = self.server.namespaces.get(query.get("namespace", [""])[0], {})
            found = {i: {"id": i, "values": space[i]} for i in query.get("ids", []) if i in space}
            return self._reply(
                {"vectors": found, "namespace": query.get("namespace", [""])[0], "usage": {"readUnits": 1}}
            )
        self._reply({"error": {"code": 5, "message": "not found"}}, 404)


class FakePinecone(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.namespaces: dict[str, dict[str, list[float]]] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> FakePinecone:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()
        self.server_close()
