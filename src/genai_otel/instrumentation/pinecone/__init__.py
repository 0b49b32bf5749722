"""Pinecone (``pinecone`` SDK): ``Index`` and ``AsyncIndex`` ``query`` / ``fetch`` (reads) and
``upsert`` / ``delete`` (writes). The collection is the index (the first label of its host), the
namespace is Pinecone's namespace. Patch before creating ``Index`` objects: the SDK binds its
methods when an index object is made."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from genai_otel.instrumentation._base import CallSpec, GenAIInstrumentor, Patch
from genai_otel.instrumentation._util import get, server_of_url
from genai_otel.instrumentation._vector import count, dimension_of, documents, no_result, operation_patches
from genai_otel.telemetry import TelemetryHandler, VectorDbInvocation

SYSTEM = "pinecone"


def _index_name(host: str | None) -> str | None:
    """``docs-a1b2c3d.svc.aped-4627.pinecone.io`` -> ``docs`` (the index); none for a bare address."""
    if not host or host.replace(".", "").isdigit() or "." not in host:
        return None
    return host.split(".")[0].rsplit("-", 1)[0]


def _record(handler: TelemetryHandler, index: Any, operation: str, kwargs: dict) -> VectorDbInvocation:
    host = getattr(index, "_host", None) or getattr(index, "host", None)
    address, port = server_of_url(
        host if host and "://" in str(host) else f"https://{host}" if host else None
    )
    return VectorDbInvocation(
        system=SYSTEM,
        operation=operation,
        collection=_index_name(address),
        namespace=kwargs.get("namespace") or None,
        server_address=address,
        server_port=port,
        filtered=bool(kwargs.get("filter")) or None,
        capture_content=handler.capture_content,
    )


def build_query(handler: TelemetryHandler, index: Any, args: tuple, kwargs: dict) -> VectorDbInvocation:
    inv = _record(handler, index, "query", kwargs)
    inv.top_k = kwargs.get("top_k")
    inv.vector_dimension = dimension_of(kwargs.get("vector"))
    return inv


def query_result(inv: VectorDbInvocation, result: Any) -> None:
    matches = list(get(result, "matches") or ())
    inv.returned_rows = len(matches)
    if inv.capture_content:
        inv.documents = documents([get(m, "id") for m in matches], [get(m, "score") for m in matches])


def build_fetch(handler: TelemetryHandler, index: Any, args: tuple, kwargs: dict) -> VectorDbInvocation:
    return _record(handler, index, "fetch", kwargs)


def fetch_result(inv: VectorDbInvocation, result: Any) -> None:
    inv.returned_rows = count(get(result, "vectors"))


def build_upsert(handler: TelemetryHandler, index: Any, args: tuple, kwargs: dict) -> VectorDbInvocation:
    inv = _record(handler, index, "upsert", kwargs)
    vectors = list(kwargs.get("vectors") or (args[0] if args else ()))
    inv.batch_size = len(vectors) or None
    if vectors:
        first = vectors[0]
        values = first[1] if isinstance(first, tuple) else get(first, "values")
        inv.vector_dimension = dimension_of(values)
    return inv


def build_delete(handler: TelemetryHandler, index: Any, args: tuple, kwargs: dict) -> VectorDbInvocation:
    inv = _record(handler, index, "delete", kwargs)
    inv.batch_size = count(kwargs.get("ids"))
    return inv


class PineconeInstrumentor(GenAIInstrumentor):
    """Instruments the ``pinecone`` SDK's index data-plane calls."""

    dependencies = ("pinecone >= 5.0",)

    def patches(self) -> Iterable[Patch]:
        methods = {
            "query": CallSpec("pinecone.query", build_query, query_result),
            "fetch": CallSpec("pinecone.fetch", build_fetch, fetch_result),
            "upsert": CallSpec("pinecone.upsert", build_upsert, no_result),
            "delete": CallSpec("pinecone.delete", build_delete, no_result),
        }
        yield from operation_patches("pinecone.index", [("Index", False)], methods)
        yield from operation_patches("pinecone.async_client.async_index", [("AsyncIndex", True)], methods)
