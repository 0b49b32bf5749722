"""A minimal Weaviate for the tests (Weaviate has no local server to install here): REST ``/v1/meta``
and readiness, and the gRPC ``Search`` / ``BatchObjects`` / ``BatchDelete`` calls the real
``weaviate-client`` v4 makes, over an in-memory store (near-vector search by cosine distance)."""

from __future__ import annotations

import json
import math
import struct
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from weaviate.proto.v1 import batch_delete_pb2, batch_pb2, search_get_pb2, weaviate_pb2_grpc


def _floats(raw: bytes) -> list[float]:
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


def _distance(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return 1 - dot / norm if norm else 1.0


class _Grpc(weaviate_pb2_grpc.WeaviateServicer):
    def __init__(self, store: dict[str, dict[str, list[float]]]) -> None:
        self.store = store

    def Search(self, request: Any, context: Any) -> Any:
        objects = self.store.get(request.collection, {})
        query = None
        if request.HasField("near_vector"):
            near = request.near_vector
            raw = near.vector_bytes or (near.vectors[0].vector_bytes if near.vectors else b"")
            query = _floats(raw)
        ranked = sorted(objects.items(), key=lambda kv: _distance(query, kv[1]) if query else 0.0)
        results = []
        for uuid, vector in ranked[: request.limit or len(ranked)]:
            metadata = search_get_pb2.MetadataResult(id=uuid)
            if query is not None:
                metadata.distance = _distance(query, vector)
                metadata.distance_present = True
            results.append(search_get_pb2.SearchResult(metadata=metadata))
        return search_get_pb2.SearchReply(results=results, took=0.001)

    def BatchObjects(self, request: Any, context: Any) -> Any:
        for obj in request.objects:
            raw = obj.vector_bytes or (obj.vectors[0].vector_bytes if obj.vectors else b"")
            self.store.setdefault(obj.collection, {})[obj.uuid] = _floats(raw)
        return batch_pb2.BatchObjectsReply(took=0.001)

    def BatchDelete(self, request: Any, context: Any) -> Any:
        objects = self.store.get(request.collection, {})
        removed = len(objects)
        objects.clear()  # the tests delete with a match-all filter
        return batch_delete_pb2.BatchDeleteReply(took=0.001, matches=removed, successful=removed)


class _Rest(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        payload: dict[str, Any] = {}
        if self.path.startswith("/v1/meta"):
            payload = {"version": "1.32.0", "modules": {}, "grpcMaxMessageSize": 104858000}
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class FakeWeaviate:
    def __init__(self) -> None:
        self.store: dict[str, dict[str, list[float]]] = {}
        self.rest = ThreadingHTTPServer(("127.0.0.1", 0), _Rest)
        self.rest.daemon_threads = True
        self.grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        weaviate_pb2_grpc.add_WeaviateServicer_to_server(_Grpc(self.store), self.grpc)
        self.grpc_port = self.grpc.add_insecure_port("127.0.0.1:0")

    @property
    def http_port(self) -> int:
        return self.rest.server_address[1]

    def __enter__(self) -> FakeWeaviate:
        threading.Thread(target=self.rest.serve_forever, daemon=True).start()
        self.grpc.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.grpc.stop(None)
        self.rest.shutdown()
        self.rest.server_close()
