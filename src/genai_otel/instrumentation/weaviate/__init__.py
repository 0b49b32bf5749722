"""Weaviate (``weaviate-client`` v4): every query (``near_vector``, ``near_text``, ``hybrid``,
``bm25``, ``fetch_objects``, ...) and the batch writes (``insert_many``, batching) and deletes
(``delete_many``), sync and async, at the client's gRPC layer that all of them go through. Single-object
REST writes (``data.insert``, ``delete_by_id``) are not traced."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from genai_otel.instrumentation._base import CallSpec, GenAIInstrumentor, Patch
from genai_otel.instrumentation._util import server_of_url
from genai_otel.instrumentation._vector import documents, no_result, operation_patches
from genai_otel.telemetry import TelemetryHandler, VectorDbInvocation

SYSTEM = "weaviate"
_SEARCH_KINDS = ("near_vector", "near_text", "hybrid", "bm25_search", "near_object", "near_image")


def _has(message: Any, field: str) -> bool:
    try:
        return message.HasField(field)
    except ValueError:
        return False


def _record(handler: TelemetryHandler, connection: Any, operation: str, request: Any) -> VectorDbInvocation:
    host, port = server_of_url(getattr(connection, "url", None))
    return VectorDbInvocation(
        system=SYSTEM,
        operation=operation,
        collection=getattr(request, "collection", None) or None,
        namespace=getattr(request, "tenant", None) or None,
        server_address=host,
        server_port=port,
        filtered=True if _has(request, "filters") else None,
        capture_content=handler.capture_content,
    )


def build_search(handler: TelemetryHandler, connection: Any, args: tuple, kwargs: dict) -> VectorDbInvocation:
    request = args[0] if args else kwargs.get("request")
    kind = next((k for k in _SEARCH_KINDS if _has(request, k)), None)
    inv = _record(handler, connection, kind.removesuffix("_search") if kind else "fetch_objects", request)
    inv.top_k = request.limit or None
    if kind == "near_vector":
        near = request.near_vector
        raw = near.vector_bytes or (near.vectors[0].vector_bytes if len(near.vectors) else b"")
        inv.vector_dimension = len(raw) // 4 or None
    if inv.capture_content and kind in ("near_text", "hybrid", "bm25_search"):
        inner = getattr(request, kind)
        query = getattr(inner, "query", None)
        inv.query_text = " ".join(query) if not isinstance(query, str) and query is not None else query
    return inv


def search_result(inv: VectorDbInvocation, reply: Any) -> None:
    results = list(getattr(reply, "results", None) or ())
    inv.returned_rows = len(results)
    if inv.capture_content:
        inv.documents = documents(
            [r.metadata.id for r in results],
            [r.metadata.distance if r.metadata.distance_present else None for r in results],
        )


def build_batch(handler: TelemetryHandler, connection: Any, args: tuple, kwargs: dict) -> VectorDbInvocation:
    request = args[0] if args else kwargs.get("request")
    objects = list(getattr(request, "objects", None) or ())
    inv = _record(handler, connection, "insert_many", objects[0] if objects else request)
    inv.batch_size = len(objects) or None
    if objects:
        first = objects[0]
        raw = first.vector_bytes or (first.vectors[0].vector_bytes if len(first.vectors) else b"")
        inv.vector_dimension = len(raw) // 4 or None
    return inv


def build_delete(handler: TelemetryHandler, connection: Any, args: tuple, kwargs: dict) -> VectorDbInvocation:
    return _record(handler, connection, "delete_many", args[0] if args else kwargs.get("request"))


class WeaviateInstrumentor(GenAIInstrumentor):
    """Instruments ``weaviate-client`` v4 queries and batch writes."""

    dependencies = ("weaviate-client >= 4.4",)

    def patches(self) -> Iterable[Patch]:
        methods = {
            "grpc_search": CallSpec("weaviate.search", build_search, search_result),
            "grpc_batch_objects": CallSpec("weaviate.batch", build_batch, no_result),
            "grpc_batch_delete": CallSpec("weaviate.delete", build_delete, no_result),
        }
        yield from operation_patches(
            "weaviate.connect.v4", [("ConnectionSync", False), ("ConnectionAsync", True)], methods
        )
