"""LanceDB (``lancedb``, sync API): vector searches when they execute (``search(...).to_list()`` /
``to_pandas()`` / ``to_arrow()``), and ``add`` / ``delete`` / ``update`` on tables."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from genai_otel.instrumentation._base import CallSpec, GenAIInstrumentor, Patch, sync_wrapper
from genai_otel.instrumentation._vector import count, dimension_of, documents, no_result
from genai_otel.telemetry import TelemetryHandler, VectorDbInvocation

SYSTEM = "lancedb"


def _record(handler: TelemetryHandler, table: Any, operation: str) -> VectorDbInvocation:
    return VectorDbInvocation(
        system=SYSTEM,
        operation=operation,
        collection=getattr(table, "name", None),
        capture_content=handler.capture_content,
    )


def build_search(handler: TelemetryHandler, query: Any, args: tuple, kwargs: dict) -> VectorDbInvocation:
    inv = _record(handler, getattr(query, "_table", None), "search")
    inv.top_k = getattr(query, "_limit", None)
    inv.vector_dimension = dimension_of(getattr(query, "_query", None))
    inv.filtered = bool(getattr(query, "_where", None)) or None
    text = getattr(query, "_str_query", None)
    if inv.capture_content and isinstance(text, str):
        inv.query_text = text
    return inv


def search_result(inv: VectorDbInvocation, table: Any) -> None:
    inv.returned_rows = getattr(table, "num_rows", None)
    if inv.capture_content and inv.returned_rows:
        names = table.column_names
        ids = table.column("id").to_pylist() if "id" in names else list(range(inv.returned_rows))
        scores = table.column("_distance").to_pylist() if "_distance" in names else None
        inv.documents = documents(ids, scores)


def build_add(handler: TelemetryHandler, table: Any, args: tuple, kwargs: dict) -> VectorDbInvocation:
    inv = _record(handler, table, "add")
    data = args[0] if args else kwargs.get("data")
    inv.batch_size = getattr(data, "num_rows", None) or count(data)
    if isinstance(data, list) and data and isinstance(data[0], dict):
        inv.vector_dimension = dimension_of(data[0].get("vector"))
    return inv


def _filtered(operation: str) -> Any:
    def build(handler: TelemetryHandler, table: Any, args: tuple, kwargs: dict) -> VectorDbInvocation:
        inv = _record(handler, table, operation)
        inv.filtered = bool(args[0] if args else kwargs.get("where")) or None
        return inv

    return build


class LanceDBInstrumentor(GenAIInstrumentor):
    """Instruments ``lancedb`` tables and vector queries."""

    dependencies = ("lancedb >= 0.10",)

    def patches(self) -> Iterable[Patch]:
        specs = {
            ("lancedb.query", "LanceVectorQueryBuilder.to_arrow"): CallSpec(
                "lancedb.search", build_search, search_result
            ),
            ("lancedb.table", "LanceTable.add"): CallSpec("lancedb.add", build_add, no_result),
            ("lancedb.table", "LanceTable.delete"): CallSpec(
                "lancedb.delete", _filtered("delete"), no_result
            ),
            ("lancedb.table", "LanceTable.update"): CallSpec(
                "lancedb.update", _filtered("update"), no_result
            ),
        }
        for (module, attribute), spec in specs.items():
            yield Patch(module, attribute, functools.partial(sync_wrapper, spec=spec))
