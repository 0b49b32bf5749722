"""The offline evaluation report: every result, a per-evaluator summary, a terminal table, JSON, and a
plain-text progress bar (no dependency beyond the standard library)."""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO


@dataclass(frozen=True)
class ResultRow:
    """One evaluator's verdict on one span (``error`` set when the evaluator failed on it)."""

    trace_id: str
    span_id: str
    span_name: str
    evaluator: str
    score: float | None = None
    label: str | None = None
    explanation: str | None = None
    error: str | None = None
    response_id: str | None = None


@dataclass
class Report:
    traces: int = 0
    spans: int = 0
    rows: list[ResultRow] = field(default_factory=list)
    read_errors: list[str] = field(default_factory=list)
    dataset: dict[str, Any] = field(default_factory=dict)
    judge: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per evaluator: results, how many carried a score, their mean, label counts, failures."""
        out: dict[str, dict[str, Any]] = {}
        for name in sorted({row.evaluator for row in self.rows}):
            rows = [row for row in self.rows if row.evaluator == name]
            scores = [row.score for row in rows if row.score is not None]
            out[name] = {
                "count": len(rows),
                "scored": len(scores),
                "mean_score": round(sum(scores) / len(scores), 4) if scores else None,
                "labels": dict(Counter(row.label for row in rows if row.label is not None).most_common()),
                "errors": sum(1 for row in rows if row.error),
            }
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "traces": self.traces,
            "spans": self.spans,
            "summary": self.summary(),
            "results": [asdict(row) for row in self.rows],
            "read_errors": self.read_errors,
            "dataset": self.dataset,
            "judge": self.judge,
        }

    def table(self) -> str:
        """The summary as an aligned plain-text table."""
        header = ("evaluator", "count", "mean score", "labels", "errors")
        lines = [
            (
                name,
                str(stats["count"]),
                "-" if stats["mean_score"] is None else f"{stats['mean_score']:.3f}",
                ", ".join(f"{label}={count}" for label, count in stats["labels"].items()) or "-",
                str(stats["errors"]),
            )
            for name, stats in self.summary().items()
        ]
        if not lines:
            return f"no results ({self.traces} traces, {self.spans} spans read)"
        widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]

        def render(row: tuple[str, ...]) -> str:
            return "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()

        rule = "  ".join("-" * width for width in widths)
        title = render(header)
        return "\n".join([title, rule, *map(render, lines)])


class Progress:
    """``label [#####.....] 12/40`` redrawn in place on ``stream`` (stderr by default)."""

    def __init__(self, total: int, label: str = "evaluating", stream: TextIO | None = None, width: int = 30):
        self.total, self.label, self.width = total, label, width
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0

    def advance(self, count: int = 1) -> None:
        self.done += count
        filled = self.width * self.done // self.total if self.total else self.width
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {self.done}/{self.total}")
        self.stream.flush()

    def finish(self) -> None:
        if self.total:
            self.stream.write("\n")
            self.stream.flush()
