"""Metric instruments for the selected convention profiles, built from ``semconv.METRIC_PROFILES``."""

from __future__ import annotations

import dataclasses
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Meter, NoOpMeter, Observation
from opentelemetry.trace import Span, set_span_in_context

from genai_otel import semconv
from genai_otel.telemetry.attributes import POINT_FIELDS, read
from genai_otel.telemetry.invocation import Invocation

NS_PER_S = 1e9


def _duration(inv: Invocation, end_ns: int) -> float:
    return (end_ns - inv.start_ns) / NS_PER_S


def _ttfc(inv: Invocation, end_ns: int) -> float | None:
    first = getattr(inv, "first_chunk_ns", 0)
    return (first - inv.start_ns) / NS_PER_S if first else None


def _tpoc(inv: Invocation, end_ns: int) -> float | None:
    count = getattr(inv, "chunk_count", 0)
    if count < 2:
        return None
    return (inv.last_chunk_ns - inv.first_chunk_ns) / NS_PER_S / (count - 1)  # type: ignore[attr-defined]


def _field(name: str) -> Callable[[Invocation, int], Any]:
    def value(inv: Invocation, _end_ns: int) -> Any:
        return getattr(inv, name, None)

    value.field_name = name  # type: ignore[attr-defined]  # read with the category's others (see _Plans)
    return value


#: measure name (metrics.yaml) -> how to read it off a finished invocation.
MEASURES: dict[str, Callable[[Invocation, int], Any]] = {
    "duration": _duration,
    "returned_rows": _field("returned_rows"),
    "time_to_first_chunk": _ttfc,
    "time_per_output_chunk": _tpoc,
    "input_tokens": _field("input_tokens"),
    "output_tokens": _field("output_tokens"),
    "cache_read_input_tokens": _field("cache_read_input_tokens"),
    "cache_write_input_tokens": _field("cache_write_input_tokens"),
    "reasoning_output_tokens": _field("reasoning_output_tokens"),
    "inference_calls": _field("inference_calls"),
    "tool_calls": _field("tool_calls"),
}


#: Per-metric extra point attributes (metrics.yaml ``attributes``) -> the record field they are read from.
_EXTRA_FIELDS: dict[str, str] = {
    semconv.GEN_AI_TOOL_NAME: "tool_name",
    semconv.GEN_AI_TOOL_TYPE: "tool_type",
    semconv.GEN_AI_AGENT_NAME: "agent_name",
    semconv.GEN_AI_WORKFLOW_NAME: "workflow_name",
    semconv.GEN_AI_INVOCATION_IS_NESTED: "is_nested",
}
_MODALITIES = ("text", "image", "audio")
#: Measures the providers break down per modality -> (modality, the span attribute holding its share).
_MODALITY_ATTRIBUTES: dict[str, tuple[tuple[str, str], ...]] = {
    measure: tuple((modality, template.format(modality)) for modality in _MODALITIES)
    for measure, template in {
        "input_tokens": "gen_ai.usage.{}.input_tokens",
        "output_tokens": "gen_ai.usage.{}.output_tokens",
        "cache_read_input_tokens": "gen_ai.usage.{}.cache_read.input_tokens",
    }.items()
}
_MODALITY_NAMES = frozenset(name for names in _MODALITY_ATTRIBUTES.values() for _, name in names)
_UNKNOWN_MODALITY = "unknown"


def _extra_value(inv: Invocation, name: str) -> Any:
    if name == semconv.GEN_AI_INVOCATION_IS_NESTED:
        return bool(getattr(inv, "is_nested", False))  # only agent and workflow runs have it
    return getattr(inv, _EXTRA_FIELDS[name], None)


def by_modality(inv: Invocation, measure: str, total: int) -> dict[str, int]:
    """``total`` split per ``gen_ai.token.modality``: the provider's per-modality counts where the record
    carries them (``gen_ai.usage.text.input_tokens``, ...), the rest -- or all of it, when there is no
    breakdown or no usage at all -- under ``unknown`` (as the conventions ask)."""
    names = _MODALITY_ATTRIBUTES.get(measure)
    parts: dict[str, int] = {}
    if names is not None and total:
        for source in (inv.response_attributes, inv.attributes):
            if _MODALITY_NAMES.isdisjoint(source):  # the common case: no breakdown reported at all
                continue
            for modality, name in names:
                value = source.get(name)
                if isinstance(value, int) and value > 0 and modality not in parts:
                    parts[modality] = value
        rest = total - sum(parts.values())
        if rest > 0:
            parts[_UNKNOWN_MODALITY] = rest
    return parts or {_UNKNOWN_MODALITY: total}


_AGENT_OPERATIONS = frozenset(semconv.SPAN_SHAPES["agent"]["operations"])
_TOOL_OPERATIONS = frozenset(semconv.SPAN_SHAPES["execute_tool"]["operations"])


def category_of(inv: Invocation) -> str:
    """The ``applies_to`` category (metrics.yaml) of an invocation."""
    if inv.is_inference:
        return "inference"
    if inv.operation in _AGENT_OPERATIONS:
        return "agent"
    if inv.operation in _TOOL_OPERATIONS:
        return "tool"
    return "other"


#: (record type, operation) -> category: a few of each, asked once per call.
_CATEGORY_OF: dict[tuple[type, Any], str] = {}


def _cached_category(inv: Invocation) -> str:
    key = (type(inv), inv.operation)
    try:
        category = _CATEGORY_OF.get(key)
    except TypeError:  # an unhashable operation (garbage from a framework): not remembered
        return category_of(inv)
    if category is None:
        if len(_CATEGORY_OF) >= _MAX_INTERNED:
            _CATEGORY_OF.clear()
        category = _CATEGORY_OF[key] = category_of(inv)
    return category


def _categories(applies_to: Any) -> set[str]:
    chosen = {applies_to} if isinstance(applies_to, str) else set(applies_to)
    return {"inference", "agent", "tool", "other"} if "all" in chosen else chosen


#: Attribute sets one summed counter keeps apart before the rest go to the overflow set -- the SDK's own
#: default cardinality limit for a synchronous instrument, with the same overflow attribute.
_MAX_SUMMED_SETS = 2000
_OVERFLOW = {"otel.metric.overflow": True}


class _SummedCounter:
    """A monotonic counter whose totals per attribute set are kept here and reported by an asynchronous
    counter when the SDK collects.

    Why: a synchronous ``Counter.add`` in the SDK is a full measurement (a Measurement object, attribute
    validation, recursive attribute hashing, locks) -- ~100k instructions, as much as a tenth of the span
    itself -- for a number that only matters as a sum. Adding to a total here costs a dict update under a
    lock. What the backend receives is the same Sum (monotonic; cumulative or delta as the reader asks: the
    SDK derives deltas from an asynchronous counter's totals). Counter points carry no exemplars then
    (histogram points never did: they are recorded after the span ended).
    """

    def __init__(self) -> None:
        self._totals: dict[Any, list[Any]] = {}  # content key -> [attributes, total]
        self._lock = threading.Lock()
        # The last attribute dict seen and its key: point dicts are interned per call shape (and never
        # changed once handed over), so a call like the previous one skips building the key.
        self._last: tuple[Any, Any] = (None, None)

    def add(self, amount: int, attributes: dict[str, Any], _context: Context | None = None) -> None:
        with self._lock:
            last, key = self._last
            if last is not attributes:
                key = _content_key(attributes)
                self._last = (attributes, key)
            entry = self._totals.get(key)
            if entry is None:
                if len(self._totals) >= _MAX_SUMMED_SETS:
                    key, attributes = "overflow", _OVERFLOW
                    entry = self._totals.get(key)
                if entry is None:
                    entry = self._totals[key] = [dict(attributes), 0]
            entry[1] += amount

    def observe(self, _options: CallbackOptions) -> Iterator[Observation]:
        """The asynchronous counter's callback: every total so far (the SDK reads them as cumulative)."""
        with self._lock:
            entries = [(attributes, total) for attributes, total in self._totals.values()]
        for attributes, total in entries:
            yield Observation(total, attributes)


def _content_key(attributes: dict[str, Any]) -> frozenset[Any]:
    try:
        return frozenset(attributes.items())
    except TypeError:  # an unhashable value (a list): told apart by its repr
        return frozenset((name, repr(value)) for name, value in attributes.items())


#: One table per SDK instrument: a second recorder on the same meter gets the instrument the first one
#: created (with the first one's callback), so it must add to that table -- or its counts would be lost.
_SUMMED: weakref.WeakKeyDictionary[Any, _SummedCounter] = weakref.WeakKeyDictionary()
_SUMMED_LOCK = threading.Lock()


def _summed_counter(meter: Meter, spec: dict[str, Any]) -> _SummedCounter:
    with _SUMMED_LOCK:
        table = _SummedCounter()
        instrument = meter.create_observable_counter(
            spec["name"], callbacks=[table.observe], unit=spec["unit"], description=spec["brief"]
        )
        try:
            return _SUMMED.setdefault(instrument, table)
        except TypeError:  # an instrument that cannot be weakly referenced: its own table
            return table


def _live_meter(meter: Meter) -> Meter | None:
    """The meter to create instruments on, or None while nothing would record them: a no-op meter, or
    the API's proxy before any MeterProvider is set (then its real meter once one is)."""
    if isinstance(meter, NoOpMeter):
        return None
    real = getattr(meter, "_real_meter", meter)  # the API's proxy meter forwards to ``_real_meter``
    return None if real is None or isinstance(real, NoOpMeter) else real


def _context_of(span: Span | None) -> Context | None:
    """The context a point is recorded in: the call's own span (None: the current context)."""
    return None if span is None else set_span_in_context(span, _EMPTY)


_EMPTY = Context()


@dataclass
class _Plan:
    record: Callable[..., None]
    measure: str
    #: ``MEASURES[measure]``: how the value is read off the record.
    value_of: Callable[[Invocation, int], Any]
    #: The record field holding the value (``None``: computed by ``value_of``); ``_Plans`` reads these
    #: fields of a category at once, and ``index`` is this plan's place among them (-1: computed).
    field: str | None
    index: int
    #: Counters skip zero: adding 0 to a sum carries no information -- except on calls without any usage
    #: when the conventions ask for a point on every operation (``record_failed``: the failed call's 0
    #: under modality ``unknown``).
    skip_zero: bool
    record_failed: bool = False
    modality: bool = False
    extra: tuple[str, ...] = ()
    #: ``base_attributes: false`` in metrics.yaml: the points carry only the metric's own ``attributes``.
    base: bool = True


_point_key = attrgetter(*(field_name for field_name, _ in POINT_FIELDS))
_PLAIN = frozenset({str, int, type(None)})
_MAX_INTERNED = 1024
_CATEGORIES = ("inference", "agent", "tool", "other")


class _Plans:
    """The plans of one category, and the record fields they read, read in one call per invocation."""

    def __init__(self, plans: list[_Plan]) -> None:
        self.plans = plans
        self.fields = tuple(dict.fromkeys(plan.field for plan in plans if plan.field is not None))
        for plan in plans:
            plan.index = -1 if plan.field is None else self.fields.index(plan.field)
        getter = attrgetter(*self.fields) if self.fields else None
        self._getter = getter if len(self.fields) != 1 else (lambda inv: (getter(inv),))  # type: ignore[misc]

    def values(self, inv: Invocation) -> tuple[Any, ...]:
        """The plans' record fields of ``inv`` (None for a field its type lacks)."""
        if self._getter is None:
            return ()
        try:
            return self._getter(inv)
        except AttributeError:  # a record type of this category without one of them
            return tuple(getattr(inv, name, None) for name in self.fields)


class MetricRecorder:
    """Records every metric of the chosen profiles from one finished invocation.

    When two profiles define the same metric (``gen_ai.client.operation.duration``) it is created
    once and covers the union of the operations each profile assigns to it: no double counting.
    Instruments are created on the first call recorded with a live meter: until a MeterProvider is set
    (or with a no-op one) a call records nothing and costs one check.
    """

    def __init__(self, meter: Meter, profiles: Sequence[str]) -> None:
        self._meter = meter
        self._specs: dict[str, dict[str, Any]] = {}
        self._scope: dict[str, set[str]] = {}
        for profile in profiles:
            for spec in semconv.METRIC_PROFILES[profile]["metrics"]:
                self._specs.setdefault(spec["name"], spec)
                self._scope.setdefault(spec["name"], set()).update(_categories(spec["applies_to"]))
        #: applies_to category -> the plans of the metrics recorded for it; None until the meter is live.
        self._plans: dict[str, _Plans] | None = None
        self._build_lock = threading.Lock()
        # Point attribute sets interned per (operation, provider, models, server, error) key, each with
        # its per-modality variants: a call like the previous ones builds no attribute dict at all.
        self._points: dict[tuple[Any, ...], tuple[dict[str, Any], dict[str, dict[str, Any]]]] = {}

    def _live_plans(self) -> dict[str, _Plans] | None:
        meter = _live_meter(self._meter)
        if meter is None:
            return None
        with self._build_lock:
            if self._plans is None:
                made = [
                    (spec, self._plan(meter, spec), self._scope[name]) for name, spec in self._specs.items()
                ]
                # A plan is shared by the categories in its scope, but its index is per category: copies.
                self._plans = {
                    c: _Plans([dataclasses.replace(plan) for _, plan, scope in made if c in scope])
                    for c in _CATEGORIES
                }
        return self._plans

    @staticmethod
    def _plan(meter: Meter, spec: dict[str, Any]) -> _Plan:
        if spec["instrument"] == "counter":
            record = _summed_counter(meter, spec).add
        else:
            record = meter.create_histogram(
                spec["name"],
                unit=spec["unit"],
                description=spec["brief"],
                explicit_bucket_boundaries_advisory=semconv.METRIC_BUCKETS[spec["buckets"]],
            ).record
        value_of = MEASURES.get(spec["measure"]) or _field(spec["measure"])
        return _Plan(
            record,
            spec["measure"],
            value_of,
            field=getattr(value_of, "field_name", None),
            index=-1,
            skip_zero=spec["instrument"] == "counter",
            record_failed=bool(spec.get("record_failed")),
            modality=bool(spec.get("modality")),
            extra=tuple(spec.get("attributes", ())),
            base=spec.get("base_attributes", True),
        )

    def record_finished(self, inv: Invocation, end_ns: int, span: Span | None = None) -> None:
        """Record the metrics of the finished ``inv``, its point attributes read off the record; exemplars
        (where the SDK's filter samples them) point at ``span``."""
        plans = self._plans or self._live_plans()
        if plans is None:
            return
        key = _point_key(inv)
        try:
            interned = self._points.get(key)
        except TypeError:  # an unhashable (garbage) value: checked and read, not interned
            interned = key = None
        if interned is None:
            interned = (read(inv, POINT_FIELDS), {})
            # Only keys of plain values are interned. A later value of another type equal to a key's
            # (443.0 == 443) is coerced to the same attribute anyway; only a bool port (True == 1)
            # would not be, and no SDK reports one.
            if key is not None and all(type(value) in _PLAIN for value in key):
                if len(self._points) >= _MAX_INTERNED:  # unbounded models/servers: never grow without end
                    self._points.clear()
                self._points[key] = interned
        context = inv.run_context if inv.run_context is not None else _context_of(span)
        self._record(plans[_cached_category(inv)], inv, interned[0], interned[1], end_ns, context)

    def record(self, inv: Invocation, attributes: dict[str, Any], end_ns: int) -> None:
        """Record the metrics of the finished ``inv`` with the point ``attributes``."""
        plans = self._plans or self._live_plans()
        if plans is not None:
            self._record(plans[_cached_category(inv)], inv, attributes, {}, end_ns, None)

    def _record(
        self,
        category: _Plans,
        inv: Invocation,
        attributes: dict[str, Any],
        with_modality: dict[str, dict[str, Any]],
        end_ns: int,
        context: Context | None,
    ) -> None:
        # No usage at all (the call failed, or its response carried none): the metrics that ask for a
        # point on every operation (record_failed) record 0 -- the counters under modality `unknown`.
        no_usage = inv.input_tokens is None and getattr(inv, "output_tokens", None) is None
        values = category.values(inv)
        # Without a per-modality breakdown on the record (the common case) every token point goes under
        # modality `unknown`: no split per point.
        unsplit = _MODALITY_NAMES.isdisjoint(inv.response_attributes) and _MODALITY_NAMES.isdisjoint(
            inv.attributes
        )
        for plan in category.plans:
            if plan.measure == "tokens_by_type":
                self._record_by_type(plan, inv, attributes, context)
                continue
            index = plan.index
            value = values[index] if index >= 0 else plan.value_of(inv, end_ns)
            if value is None or (plan.skip_zero and value == 0):
                if not (plan.record_failed and no_usage):
                    continue
                value = 0
            point = attributes
            # One point dict per modality, shared by the counters (and interned with ``attributes``).
            modal = with_modality
            if plan.extra:
                point = {**attributes} if plan.base else {}
                modal = {}
                for name in plan.extra:
                    extra = _extra_value(inv, name)
                    if extra is not None:
                        point[name] = extra
            if plan.modality and unsplit:
                shared = modal.get(_UNKNOWN_MODALITY)
                if shared is None:
                    shared = {**point, semconv.GEN_AI_TOKEN_MODALITY: _UNKNOWN_MODALITY}
                    modal[_UNKNOWN_MODALITY] = shared
                plan.record(value, shared, context)
            elif plan.modality:
                for modality, share in by_modality(inv, plan.measure, value).items():
                    shared = modal.get(modality)
                    if shared is None:
                        shared = modal[modality] = {**point, semconv.GEN_AI_TOKEN_MODALITY: modality}
                    plan.record(share, shared, context)
            else:
                plan.record(value, point, context)

    @staticmethod
    def _record_by_type(
        plan: _Plan, inv: Invocation, attributes: dict[str, Any], context: Context | None
    ) -> None:
        for token_type, value in (
            ("input", inv.input_tokens),
            ("output", getattr(inv, "output_tokens", None)),
        ):
            if value is not None:
                plan.record(value, {**attributes, semconv.GEN_AI_TOKEN_TYPE: token_type}, context)


class DbMetricRecorder:
    """The database client metrics (``db.client.*``) of vector-store calls."""

    def __init__(self, meter: Meter) -> None:
        self._plans = [
            (
                meter.create_histogram(
                    spec["name"],
                    unit=spec["unit"],
                    description=spec["brief"],
                    explicit_bucket_boundaries_advisory=semconv.METRIC_BUCKETS[spec["buckets"]],
                ).record,
                MEASURES[spec["measure"]],
            )
            for spec in semconv.DB_METRICS
        ]

    def record(
        self, inv: Invocation, attributes: dict[str, Any], end_ns: int, span: Span | None = None
    ) -> None:
        context = _context_of(span)
        for record, measure in self._plans:
            value = measure(inv, end_ns)
            if value is not None:
                record(value, attributes, context)
