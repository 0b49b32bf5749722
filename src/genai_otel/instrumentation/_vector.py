"""What the vector-store instrumentors share: building the record and reading vectors and results.

Vectors are never recorded -- only their dimension. Query text, returned ids and scores are content:
they are kept only when content capture is on.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from genai_otel.instrumentation._base import CallSpec, Patch, async_wrapper, sync_wrapper
from genai_otel.telemetry import TelemetryHandler, VectorDbInvocation

Builder = Callable[[TelemetryHandler, Any, tuple, dict], VectorDbInvocation | None]


def dimension_of(vectors: Any) -> int | None:
    """Dimension of one vector or of the first of a batch (lists, tuples or numpy arrays)."""
    if vectors is None:
        return None
    shape = getattr(vectors, "shape", None)
    if shape is not None:
        return int(shape[-1]) if len(shape) else None
    if isinstance(vectors, (list, tuple)) and vectors:
        first = vectors[0]
        if isinstance(first, (int, float)):
            return len(vectors)
        return dimension_of(first)
    return None


def count(items: Any) -> int | None:
    try:
        return len(items) if items is not None and not isinstance(items, (str, bytes)) else None
    except TypeError:
        return None


def documents(ids: Sequence[Any], scores: Sequence[Any] | None = None) -> list[dict[str, Any]]:
    """``[{"id": ..., "score": ...}]`` for ``gen_ai.retrieval.documents``."""
    scores = list(scores) if scores is not None else [None] * len(ids)
    out = []
    for doc_id, score in zip(ids, scores, strict=False):
        item: dict[str, Any] = {"id": str(doc_id)}
        if score is not None:
            item["score"] = float(score)
        out.append(item)
    return out


def no_result(inv: VectorDbInvocation, result: Any) -> None:
    """For writes: nothing to read off the result."""
    return None


def operation_patches(
    module: str, classes: Iterable[tuple[str, bool]], methods: dict[str, CallSpec]
) -> Iterable[Patch]:
    """One patch per (class, method); ``classes`` pairs a class name with whether it is async."""
    for cls, is_async in classes:
        wrapper = async_wrapper if is_async else sync_wrapper
        for method, spec in methods.items():
            yield Patch(module, f"{cls}.{method}", functools.partial(wrapper, spec=spec))
