"""FAISS (``faiss-cpu`` / ``faiss-gpu``): ``search`` (reads) and ``add`` / ``add_with_ids`` /
``remove_ids`` (writes) on every index class. FAISS indexes have no name: the span carries the index
type in ``db.collection.name`` (e.g. ``search IndexFlatL2``)."""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterable
from typing import Any

from genai_otel.instrumentation._base import CallSpec, GenAIInstrumentor, Patch, sync_wrapper
from genai_otel.instrumentation._vector import dimension_of, documents, no_result
from genai_otel.telemetry import TelemetryHandler, VectorDbInvocation

SYSTEM = "faiss"
_METHODS = ("search", "add", "add_with_ids", "remove_ids")


def _record(handler: TelemetryHandler, index: Any, operation: str) -> VectorDbInvocation:
    return VectorDbInvocation(
        system=SYSTEM,
        operation=operation,
        collection=type(index).__name__,
        capture_content=handler.capture_content,
    )


def build_search(handler: TelemetryHandler, index: Any, args: tuple, kwargs: dict) -> VectorDbInvocation:
    inv = _record(handler, index, "search")
    queries = args[0] if args else kwargs.get("x")
    inv.top_k = args[1] if len(args) > 1 else kwargs.get("k")
    inv.vector_dimension = dimension_of(queries)
    rows = getattr(queries, "shape", (1,))[0]
    if rows != 1:
        inv.batch_size = int(rows)
    return inv


def search_result(inv: VectorDbInvocation, result: Any) -> None:
    distances, labels = result
    inv.returned_rows = int((labels >= 0).sum())  # -1 marks "fewer than k neighbours"
    if inv.capture_content and len(labels):
        found = labels[0] >= 0
        inv.documents = documents(labels[0][found].tolist(), distances[0][found].tolist())


def _write(operation: str) -> Any:
    def build(handler: TelemetryHandler, index: Any, args: tuple, kwargs: dict) -> VectorDbInvocation:
        inv = _record(handler, index, operation)
        data = args[0] if args else None
        if operation == "remove_ids":
            size = getattr(data, "size", None)
            inv.batch_size = int(size) if size is not None else None
        else:
            inv.batch_size = int(getattr(data, "shape", (0,))[0]) or None
            inv.vector_dimension = dimension_of(data)
        return inv

    return build


class FaissInstrumentor(GenAIInstrumentor):
    """Instruments every FAISS index class's search and write methods."""

    def instrumentation_dependencies(self) -> tuple[str, ...]:
        return ()  # faiss-cpu or faiss-gpu: either distribution provides the module

    def patches(self) -> Iterable[Patch]:
        # The index classes are known only once faiss is imported (by the app: see _on_instrument).
        faiss = sys.modules.get("faiss")
        return _index_patches(faiss) if faiss is not None else ()

    def _on_instrument(self) -> None:
        """When faiss is imported (not before: importing it costs ~130 ms of the app's start-up), wrap
        every index class's methods -- faiss's class wrappers give each class its own copy of them."""
        import faiss

        for patch in _index_patches(faiss):
            self._apply(faiss, patch)


def _index_patches(faiss: Any) -> Iterable[Patch]:
    specs = {
        "search": CallSpec("faiss.search", build_search, search_result),
        **{op: CallSpec(f"faiss.{op}", _write(op), no_result) for op in _METHODS[1:]},
    }
    for name in dir(faiss):
        cls = getattr(faiss, name)
        if isinstance(cls, type) and name.startswith("Index"):
            for method, spec in specs.items():
                if method in cls.__dict__:
                    yield Patch("faiss", f"{name}.{method}", functools.partial(sync_wrapper, spec=spec))
