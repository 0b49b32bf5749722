"""Which spans evaluation judges, and how many per hour: sampling for evaluation, never for tracing (every
span is still forwarded; only the judging is chosen).

A span is judged when it passes the filters (operation, model, agent, cost) and then the samplers (1 in N
traces, a random ratio). Errored spans are always judged. Every judged evaluation then takes one token
from an hourly budget (a token bucket); without one it is skipped. Each ``choose`` answer that is not
``JUDGE`` is the reason it was skipped, the label of the skipped-evaluations metric.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from genai_otel import semconv
from genai_otel.evaluation.api import SpanView

JUDGE = ""
#: Reasons an evaluation is skipped (``genai_otel.evaluation.skip_reason``).
SKIP_OPERATION = "operation"
SKIP_MODEL = "model"
SKIP_AGENT = "agent"
SKIP_COST = "cost"
SKIP_TRACE_SAMPLED_OUT = "trace_sampled_out"
SKIP_RATIO = "ratio"
SKIP_BUDGET = "budget"


class TokenBucket:
    """``per_hour`` tokens an hour, refilled continuously, at most ``per_hour`` saved up (thread-safe)."""

    def __init__(self, per_hour: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_hour)
        self.rate = per_hour / 3600.0
        self.tokens = self.capacity
        self.clock = clock
        self.updated = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens < 1.0:
                return False
            self.tokens -= 1.0
            return True


def trace_chosen(trace_id: str, one_in: int) -> bool:
    """Whether the trace is one of the 1 in ``one_in`` judged: decided by its id alone, so every processor
    instance (and every restart) decides the same; hashed, so sequential ids spread evenly too."""
    if one_in <= 1:
        return True
    digest = hashlib.blake2b(trace_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % one_in == 0


def _model(attributes: dict[str, Any]) -> Any:
    return attributes.get(semconv.GEN_AI_REQUEST_MODEL) or attributes.get(semconv.GEN_AI_RESPONSE_MODEL)


def _cost(attributes: dict[str, Any]) -> float | None:
    value = attributes.get(semconv.GENAI_OTEL_USAGE_COST)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass
class EvaluationSampling:
    """What to judge. ``None`` filters let everything through; ``min_cost`` applies to spans that carry a
    cost (``genai_otel.usage.cost``, set by the cost rule); ``one_in_traces`` judges every span of 1 in N
    traces; ``ratio`` judges that fraction of the spans left; ``max_per_hour`` caps the evaluations run."""

    operations: frozenset[str] | None = None
    models: frozenset[str] | None = None
    agents: frozenset[str] | None = None
    min_cost: float | None = None
    errors: bool = True
    one_in_traces: int = 1
    ratio: float = 1.0
    max_per_hour: float | None = None
    random: Callable[[], float] = field(default=random.random, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    def __post_init__(self) -> None:
        if self.one_in_traces < 1 or not 0.0 <= self.ratio <= 1.0:
            raise ValueError("one_in_traces is at least 1 and ratio between 0 and 1")
        self.budget = TokenBucket(self.max_per_hour, self.clock) if self.max_per_hour is not None else None

    def choose(self, span: SpanView, trace_id: str) -> str:
        """``JUDGE``, or the reason the span is not judged."""
        if self.errors and span.status_error:
            return JUDGE
        attributes = span.attributes
        if self.operations is not None and span.operation not in self.operations:
            return SKIP_OPERATION
        if self.models is not None and _model(attributes) not in self.models:
            return SKIP_MODEL
        if self.agents is not None and attributes.get(semconv.GEN_AI_AGENT_NAME) not in self.agents:
            return SKIP_AGENT
        cost = _cost(attributes)
        if self.min_cost is not None and cost is not None and cost < self.min_cost:
            return SKIP_COST
        if not trace_chosen(trace_id, self.one_in_traces):
            return SKIP_TRACE_SAMPLED_OUT
        if self.ratio < 1.0 and self.random() >= self.ratio:
            return SKIP_RATIO
        return JUDGE

    def take_budget(self) -> bool:
        """One evaluation's worth of the hourly budget; False when it is spent."""
        return self.budget is None or self.budget.take()


def from_options(options: dict[str, Any] | None) -> EvaluationSampling:
    """The ``sampling:`` section of the processor's configuration file."""
    options = dict(options or {})
    for key in ("operations", "models", "agents"):
        if options.get(key) is not None:
            options[key] = frozenset(options[key])
    return EvaluationSampling(**options)
