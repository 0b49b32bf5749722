"""Qdrant (``qdrant-client``): ``query_points`` / ``query_batch_points`` / ``retrieve`` / ``scroll`` /
``count`` (reads) and ``upsert`` / ``delete`` (writes); ``QdrantClient`` and ``AsyncQdrantClient``, local
mode (``:memory:`` or a path) and server mode (REST or gRPC)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from genai_otel.instrumentation._base import CallSpec, GenAIInstrumentor, Patch
from genai_otel.instrumentation._util import server_of_url
from genai_otel.instrumentation._vector import count, dimension_of, documents, no_result, operation_patches
from genai_otel.telemetry import TelemetryHandler, VectorDbInvocation

SYSTEM = "qdrant"


def _server(client: Any) -> tuple[str | None, int | None]:
    inner = getattr(client, "_client", None)
    if type(inner).__name__ != "QdrantRemote":
        return None, None  # local mode: in-process
    host = getattr(inner, "_host", None)
    if host:
        return host, getattr(inner, "_port", None) or 6333
    return server_of_url(getattr(inner, "rest_uri", None))


def _record(
    handler: TelemetryHandler, client: Any, operation: str, args: tuple, kwargs: dict
) -> VectorDbInvocation:
    host, port = _server(client)
    return VectorDbInvocation(
        system=SYSTEM,
        operation=operation,
        collection=args[0] if args else kwargs.get("collection_name"),
        server_address=host,
        server_port=port,
        filtered=bool(kwargs.get("query_filter") or kwargs.get("scroll_filter") or kwargs.get("count_filter"))
        or None,
        capture_content=handler.capture_content,
    )


def build_query(handler: TelemetryHandler, client: Any, args: tuple, kwargs: dict) -> VectorDbInvocation:
    inv = _record(handler, client, "query_points", args, kwargs)
    inv.top_k = kwargs.get("limit", 10)
    query = args[1] if len(args) > 1 else kwargs.get("query")
    inv.vector_dimension = (
        dimension_of(query) if isinstance(query, (list, tuple)) or hasattr(query, "shape") else None
    )
    if inv.capture_content and isinstance(query, str):
        inv.query_text = query  # a document query (Qdrant's inference) rather than a vector
    return inv


def query_result(inv: VectorDbInvocation, result: Any) -> None:
    points = list(getattr(result, "points", None) or ())
    inv.returned_rows = len(points)
    if inv.capture_content:
        inv.documents = documents([p.id for p in points], [p.score for p in points])


def build_batch(handler: TelemetryHandler, client: Any, args: tuple, kwargs: dict) -> VectorDbInvocation:
    inv = _record(handler, client, "query_batch_points", args, kwargs)
    inv.batch_size = count(args[1] if len(args) > 1 else kwargs.get("requests"))
    return inv


def batch_result(inv: VectorDbInvocation, result: Any) -> None:
    inv.returned_rows = sum(len(getattr(r, "points", None) or ()) for r in result or ())


def _read(operation: str, limit_key: str | None = None) -> Any:
    def build(handler: TelemetryHandler, client: Any, args: tuple, kwargs: dict) -> VectorDbInvocation:
        inv = _record(handler, client, operation, args, kwargs)
        if limit_key:
            inv.top_k = kwargs.get(limit_key)
        return inv

    return build


def rows_result(inv: VectorDbInvocation, result: Any) -> None:
    if isinstance(result, tuple):  # scroll: (records, next offset)
        result = result[0]
    if type(result).__name__ == "CountResult":  # a count returns no rows
        return
    inv.returned_rows = count(result)


def build_upsert(handler: TelemetryHandler, client: Any, args: tuple, kwargs: dict) -> VectorDbInvocation:
    inv = _record(handler, client, "upsert", args, kwargs)
    points = args[1] if len(args) > 1 else kwargs.get("points")
    vectors = getattr(points, "vectors", None)  # models.Batch
    if vectors is None and isinstance(points, (list, tuple)) and points:
        vectors = [getattr(p, "vector", None) for p in points]
        inv.batch_size = len(points)
    else:
        inv.batch_size = count(getattr(points, "ids", None))
    inv.vector_dimension = dimension_of(vectors) if isinstance(vectors, (list, tuple)) else None
    return inv


def build_delete(handler: TelemetryHandler, client: Any, args: tuple, kwargs: dict) -> VectorDbInvocation:
    inv = _record(handler, client, "delete", args, kwargs)
    selector = args[1] if len(args) > 1 else kwargs.get("points_selector")
    inv.batch_size = count(
        selector if isinstance(selector, (list, tuple)) else getattr(selector, "points", None)
    )
    inv.filtered = True if hasattr(selector, "filter") else inv.filtered
    return inv


class QdrantInstrumentor(GenAIInstrumentor):
    """Instruments ``qdrant-client``."""

    dependencies = ("qdrant-client >= 1.10",)

    def patches(self) -> Iterable[Patch]:
        methods = {
            "query_points": CallSpec("qdrant.query", build_query, query_result),
            "query_batch_points": CallSpec("qdrant.query_batch", build_batch, batch_result),
            "retrieve": CallSpec("qdrant.retrieve", _read("retrieve"), rows_result),
            "scroll": CallSpec("qdrant.scroll", _read("scroll", "limit"), rows_result),
            "count": CallSpec("qdrant.count", _read("count"), rows_result),
            "upsert": CallSpec("qdrant.upsert", build_upsert, no_result),
            "delete": CallSpec("qdrant.delete", build_delete, no_result),
        }
        yield from operation_patches("qdrant_client.qdrant_client", [("QdrantClient", False)], methods)
        yield from operation_patches(
            "qdrant_client.async_qdrant_client", [("AsyncQdrantClient", True)], methods
        )
