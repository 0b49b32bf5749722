"""Span trees as text, so tests assert a whole trace's shape in one comparison."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def render(spans: Iterable[Any], *, keep: Any = None) -> list[str]:
    """One line per span, indented by depth, children in start order; roots first by start time.

    ``keep`` (a predicate) drops spans but keeps their children, re-parented to the nearest kept
    ancestor -- e.g. to ignore HTTP client spans.
    """
    spans = list(spans)
    by_id = {s.context.span_id: s for s in spans}

    def parent(span: Any) -> Any:
        p = by_id.get(span.parent.span_id) if span.parent else None
        while p is not None and keep is not None and not keep(p):
            p = by_id.get(p.parent.span_id) if p.parent else None
        return p

    kept = [s for s in spans if keep is None or keep(s)]
    children: dict[Any, list[Any]] = {}
    for span in kept:
        p = parent(span)
        children.setdefault(p.context.span_id if p is not None else None, []).append(span)
    lines: list[str] = []

    def walk(parent_id: Any, depth: int) -> None:
        for span in sorted(children.get(parent_id, []), key=lambda s: s.start_time):
            lines.append("  " * depth + span.name)
            walk(span.context.span_id, depth + 1)

    walk(None, 0)
    return lines


def traces(spans: Iterable[Any]) -> dict[int, list[Any]]:
    """Spans grouped by trace id."""
    out: dict[int, list[Any]] = {}
    for span in spans:
        out.setdefault(span.context.trace_id, []).append(span)
    return out


def named(spans: Iterable[Any], prefix: str) -> list[Any]:
    return [s for s in spans if s.name.startswith(prefix)]
