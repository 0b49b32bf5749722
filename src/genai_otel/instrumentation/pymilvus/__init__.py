"""Milvus (``pymilvus``, incl. Milvus Lite): ``MilvusClient`` and ``AsyncMilvusClient`` ``search`` /
``hybrid_search`` / ``query`` / ``get`` (reads) and ``insert`` / ``upsert`` / ``delete`` (writes)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from genai_otel.instrumentation._base import CallSpec, GenAIInstrumentor, Patch
from genai_otel.instrumentation._util import server_of_url
from genai_otel.instrumentation._vector import count, dimension_of, documents, no_result, operation_patches
from genai_otel.telemetry import TelemetryHandler, VectorDbInvocation

SYSTEM = "milvus"


def _record(
    handler: TelemetryHandler, client: Any, operation: str, args: tuple, kwargs: dict
) -> VectorDbInvocation:
    uri = getattr(client, "_uri", None) or getattr(getattr(client, "_config", None), "uri", None)
    host, port = server_of_url(uri) if isinstance(uri, str) and "://" in uri else (None, None)
    return VectorDbInvocation(
        system=SYSTEM,
        operation=operation,
        collection=args[0] if args else kwargs.get("collection_name"),
        namespace=kwargs.get("db_name") or None,
        server_address=host,
        server_port=port,
        filtered=bool(kwargs.get("filter")) or None,
        capture_content=handler.capture_content,
    )


def build_search(handler: TelemetryHandler, client: Any, args: tuple, kwargs: dict) -> VectorDbInvocation:
    inv = _record(handler, client, "search", args, kwargs)
    inv.top_k = kwargs.get("limit", 10)
    data = args[1] if len(args) > 1 else kwargs.get("data")
    inv.vector_dimension = dimension_of(data)
    if isinstance(data, list) and len(data) > 1:
        inv.batch_size = len(data)
    return inv


def search_result(inv: VectorDbInvocation, result: Any) -> None:
    batches = list(result or ())
    inv.returned_rows = sum(len(hits) for hits in batches)
    if inv.capture_content and batches:
        hits = list(batches[0])
        inv.documents = documents([hit.get("id") for hit in hits], [hit.get("distance") for hit in hits])


def build_hybrid(handler: TelemetryHandler, client: Any, args: tuple, kwargs: dict) -> VectorDbInvocation:
    inv = _record(handler, client, "hybrid_search", args, kwargs)
    inv.top_k = kwargs.get("limit", 10)
    return inv


def _rows(operation: str) -> Any:
    def build(handler: TelemetryHandler, client: Any, args: tuple, kwargs: dict) -> VectorDbInvocation:
        inv = _record(handler, client, operation, args, kwargs)
        inv.top_k = kwargs.get("limit")
        return inv

    return build


def rows_result(inv: VectorDbInvocation, result: Any) -> None:
    inv.returned_rows = count(result)


def _write(operation: str) -> Any:
    def build(handler: TelemetryHandler, client: Any, args: tuple, kwargs: dict) -> VectorDbInvocation:
        inv = _record(handler, client, operation, args, kwargs)
        data = args[1] if len(args) > 1 else kwargs.get("data", kwargs.get("ids"))
        rows = data if isinstance(data, list) else ([data] if data is not None else [])
        inv.batch_size = len(rows) or None
        if rows and isinstance(rows[0], dict):
            vectors = [v for v in rows[0].values() if isinstance(v, list) and v and isinstance(v[0], float)]
            inv.vector_dimension = dimension_of(vectors[0]) if vectors else None
        return inv

    return build


class MilvusInstrumentor(GenAIInstrumentor):
    """Instruments ``pymilvus``'s ``MilvusClient`` and ``AsyncMilvusClient``."""

    dependencies = ("pymilvus >= 2.4",)

    def patches(self) -> Iterable[Patch]:
        methods = {
            "search": CallSpec("milvus.search", build_search, search_result),
            "hybrid_search": CallSpec("milvus.hybrid_search", build_hybrid, search_result),
            "query": CallSpec("milvus.query", _rows("query"), rows_result),
            "get": CallSpec("milvus.get", _rows("get"), rows_result),
            **{op: CallSpec(f"milvus.{op}", _write(op), no_result) for op in ("insert", "upsert", "delete")},
        }
        yield from operation_patches(
            "pymilvus.milvus_client.milvus_client", [("MilvusClient", False)], methods
        )
        async_methods = {k: v for k, v in methods.items() if k != "hybrid_search"}
        yield from operation_patches(
            "pymilvus.milvus_client.async_milvus_client", [("AsyncMilvusClient", True)], async_methods
        )
