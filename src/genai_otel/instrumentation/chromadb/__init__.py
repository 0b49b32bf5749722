"""Chroma (``chromadb``): ``Collection.query``/``get`` (reads) and ``add``/``upsert``/``update``/
``delete`` (writes), sync and async collections, embedded or client/server."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from genai_otel.instrumentation._base import CallSpec, GenAIInstrumentor, Patch
from genai_otel.instrumentation._util import server_of_url
from genai_otel.instrumentation._vector import count, dimension_of, documents, no_result, operation_patches
from genai_otel.telemetry import TelemetryHandler, VectorDbInvocation

SYSTEM = "chroma"


def _record(handler: TelemetryHandler, collection: Any, operation: str, kwargs: dict) -> VectorDbInvocation:
    api = getattr(collection, "_client", None)
    host, port = server_of_url(getattr(api, "_api_url", None))
    return VectorDbInvocation(
        system=SYSTEM,
        operation=operation,
        collection=getattr(collection, "name", None),
        namespace=getattr(collection, "database", None),
        server_address=host,
        server_port=port,
        filtered=bool(kwargs.get("where") or kwargs.get("where_document")) or None,
        capture_content=handler.capture_content,
    )


def build_query(handler: TelemetryHandler, collection: Any, args: tuple, kwargs: dict) -> VectorDbInvocation:
    inv = _record(handler, collection, "query", kwargs)
    inv.top_k = kwargs.get("n_results", 10)
    inv.vector_dimension = dimension_of(kwargs.get("query_embeddings"))
    texts = kwargs.get("query_texts")
    if inv.capture_content and texts is not None:
        inv.query_text = texts if isinstance(texts, str) else "\n".join(map(str, texts))
    return inv


def query_result(inv: VectorDbInvocation, result: Any) -> None:
    ids, distances = result.get("ids") or [], result.get("distances") or []
    inv.returned_rows = sum(len(batch) for batch in ids)
    if inv.capture_content:
        inv.documents = [
            doc
            for i, batch in enumerate(ids)
            for doc in documents(batch, distances[i] if i < len(distances) else None)
        ]


def build_get(handler: TelemetryHandler, collection: Any, args: tuple, kwargs: dict) -> VectorDbInvocation:
    inv = _record(handler, collection, "get", kwargs)
    inv.top_k = kwargs.get("limit")
    return inv


def get_result(inv: VectorDbInvocation, result: Any) -> None:
    inv.returned_rows = count(result.get("ids"))


def _write(operation: str) -> Any:
    def build(handler: TelemetryHandler, collection: Any, args: tuple, kwargs: dict) -> VectorDbInvocation:
        inv = _record(handler, collection, operation, kwargs)
        ids = args[0] if args else kwargs.get("ids")
        inv.batch_size = count([ids] if isinstance(ids, str) else ids)
        inv.vector_dimension = dimension_of(kwargs.get("embeddings"))
        return inv

    return build


class ChromaInstrumentor(GenAIInstrumentor):
    """Instruments ``chromadb`` collections."""

    dependencies = ("chromadb >= 0.5",)

    def patches(self) -> Iterable[Patch]:
        methods = {
            "query": CallSpec("chroma.query", build_query, query_result),
            "get": CallSpec("chroma.get", build_get, get_result),
            **{
                op: CallSpec(f"chroma.{op}", _write(op), no_result)
                for op in ("add", "upsert", "update", "delete")
            },
        }
        yield from operation_patches("chromadb.api.models.Collection", [("Collection", False)], methods)
        yield from operation_patches(
            "chromadb.api.models.AsyncCollection", [("AsyncCollection", True)], methods
        )
