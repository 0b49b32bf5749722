"""The enrichment rules: normalise, cost, loop flags, redact, limit. Their data lives in conventions/."""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from genai_otel import semconv
from genai_otel.config import PRICES_FILE
from genai_otel.processor.model import Rule, SpanRecord
from genai_otel.telemetry.content import shorten
from genai_otel.testing.conformance import expected_name, shape_of


def _read_table(path: str) -> dict[str, Any]:
    """A user's table: JSON, or YAML when PyYAML is installed."""
    text = Path(path).read_text(encoding="utf-8")
    if path.endswith(".json"):
        return json.loads(text)
    import yaml

    return yaml.safe_load(text)


# -- normalise ---------------------------------------------------------------------------------------


_MESSAGE_FIELD = re.compile(
    r"^(?P<prefix>.+)\.(?P<index>\d+)\.(?:message\.)?(?P<field>role|content|finish_reason)$"
)


@dataclass(frozen=True, slots=True)
class _Rename:
    """One ``rename`` entry of a dialect: the new name, or drop / split a URL into server address and
    port; an optional value map and list wrapping; ``when``, the attribute values the rename needs (the
    source is dropped otherwise)."""

    to: str | None
    drop: bool = False
    server_url: bool = False
    values: dict[str, Any] | None = None
    as_list: bool = False
    when: tuple[tuple[str, Any], ...] = ()

    def apply(self, attrs: dict[str, Any], value: Any) -> None:
        if self.drop or any(attrs.get(key) != expected for key, expected in self.when):
            return
        if self.server_url:
            _set_server(attrs, str(value))
            return
        if self.values and isinstance(value, str):
            value = self.values.get(value, value)
        if self.as_list and not isinstance(value, (list, tuple)):
            value = [value]
        attrs.setdefault(self.to, value)


@dataclass(frozen=True, slots=True)
class _Plan:
    """What a dialect does to spans with one set of attribute names: which keys fold into which messages
    attribute, which are dropped and which renamed (in the table's order, which decides between two
    sources of one name). Values still decide the rest (operation names, parameters, server URLs)."""

    messages: tuple[tuple[str, tuple[tuple[str, int, str], ...]], ...]
    drops: tuple[str, ...]
    renames: tuple[tuple[str, _Rename], ...]


_PLANS_PER_DIALECT = 4096


class _Dialect:
    """One dialect's mapping from conventions/normalization.yaml. Spans from one library repeat the same
    attribute names, so the key matching (markers, message keys, prefixes, renames) is worked out once
    per set of names and cached as a :class:`_Plan`."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.detect = frozenset(spec.get("detect", ()))
        self.operation = spec.get("operation")
        self.params = spec.get("invocation_parameters")
        self.message_targets: dict[str, str] = spec.get("messages") or {}
        self.message_prefixes = tuple(f"{prefix}." for prefix in self.message_targets)
        self.drop_prefixes = tuple(spec.get("drop_prefixes") or ())
        self.renames = {
            old: _Rename(
                rename.get("to"),
                bool(rename.get("drop")),
                bool(rename.get("server_url")),
                rename.get("values"),
                bool(rename.get("as_list")),
                tuple((rename.get("when") or {}).items()),
            )
            for old, rename in (spec.get("rename") or {}).items()
        }
        self._plans: dict[tuple[str, ...], _Plan | None] = {}

    def apply(self, span: SpanRecord) -> bool:
        """Normalise ``span`` if this dialect's markers are on it; whether they were."""
        attrs = span.attributes
        if self.detect.isdisjoint(attrs):
            return False
        keys = tuple(attrs)
        plan = self._plans.get(keys, False)
        if plan is False:
            if len(self._plans) >= _PLANS_PER_DIALECT:
                self._plans.clear()  # bounded: endless distinct key sets must not grow memory
            plan = self._plans[keys] = self._plan(keys)
        if plan is None:
            return False
        operation = self.operation
        if operation and operation["from"] in attrs and semconv.GEN_AI_OPERATION_NAME not in attrs:
            value = operation["values"].get(str(attrs[operation["from"]]))
            if value:
                attrs[semconv.GEN_AI_OPERATION_NAME] = value
        if self.params and self.params["from"] in attrs:
            self._unpack_parameters(attrs)
        for target, fields in plan.messages:
            self._fold_messages(attrs, target, fields)
        for key in plan.drops:
            attrs.pop(key, None)
        for old, rename in plan.renames:
            if old in attrs:
                rename.apply(attrs, attrs.pop(old))
        return True

    def _plan(self, keys: tuple[str, ...]) -> _Plan | None:
        if self.detect.isdisjoint(keys):
            return None
        messages: dict[str, list[tuple[str, int, str]]] = {}
        for key in keys:
            match = _MESSAGE_FIELD.match(key) if key.startswith(self.message_prefixes) else None
            if match and match["prefix"] in self.message_targets:
                messages.setdefault(match["prefix"], []).append((key, int(match["index"]), match["field"]))
        folded = {key for fields in messages.values() for key, _, _ in fields}
        drops = tuple(k for k in keys if self.drop_prefixes and k.startswith(self.drop_prefixes))
        gone = folded | set(drops)
        return _Plan(
            messages=tuple((self.message_targets[p], tuple(fields)) for p, fields in messages.items()),
            drops=drops,
            renames=tuple((old, r) for old, r in self.renames.items() if old in keys and old not in gone),
        )

    def _unpack_parameters(self, attrs: dict[str, Any]) -> None:
        try:
            parsed = json.loads(attrs.pop(self.params["from"]))
        except (TypeError, ValueError):
            parsed = {}
        if not isinstance(parsed, dict):
            return
        for key, target in self.params["fields"].items():
            if key in parsed and target not in attrs:
                attrs[target] = parsed[key]

    @staticmethod
    def _fold_messages(attrs: dict[str, Any], target: str, fields: tuple[tuple[str, int, str], ...]) -> None:
        """``<prefix>.N.role`` / ``.content`` / ``.finish_reason`` -> one JSON messages attribute."""
        per_index: dict[int, dict[str, Any]] = {}
        for key, index, name in fields:
            per_index.setdefault(index, {})[name] = attrs.pop(key)
        if target not in attrs:
            attrs[target] = _COMPACT_JSON.encode([_message(per_index[index]) for index in sorted(per_index)])


_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))


def _message(fields: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = {
        "role": fields.get("role", "user"),
        "parts": [{"type": "text", "content": fields["content"]}] if "content" in fields else [],
    }
    if "finish_reason" in fields:
        item["finish_reason"] = fields["finish_reason"]
    return item


class NormalizeRule:
    """Rewrites OpenInference, OpenLLMetry, OpenLIT and older GenAI attribute names into the latest GenAI
    conventions, driven by conventions/normalization.yaml. A dialect applies when one of its marker
    attributes is present; spans already in the latest conventions pass through untouched."""

    name = "normalize"

    def __init__(self, mapping: dict[str, Any] | None = None) -> None:
        self.dialects = [_Dialect(spec) for spec in (mapping or semconv.NORMALIZATION)["dialects"].values()]

    def apply(self, span: SpanRecord) -> None:
        foreign = False
        for dialect in self.dialects:
            foreign = dialect.apply(span) or foreign
        if foreign:
            _fit_shape(span)


def _set_server(attrs: dict[str, Any], url: str) -> None:
    """``server.address`` / ``server.port`` from a base URL (``http://host:port/v1``)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url if "//" in url else f"//{url}")
    if parts.hostname and semconv.SERVER_ADDRESS not in attrs:
        attrs[semconv.SERVER_ADDRESS] = parts.hostname
        attrs[semconv.SERVER_PORT] = parts.port or (80 if parts.scheme == "http" else 443)


def _fit_shape(span: SpanRecord) -> None:
    """A normalised foreign span takes the latest conventions' shape: its name from the template
    (``openai.chat`` -> ``chat gpt-4o``) and no GenAI attribute the operation does not have (OpenLLMetry's
    embedding inputs as ``gen_ai.input.messages``, a response id on embeddings, ...)."""
    attrs = span.attributes
    shape = shape_of(attrs)
    if shape is None:
        return
    allowed = shape["attributes"]
    for key in [k for k in attrs if k.startswith("gen_ai.") and k not in allowed]:
        del attrs[key]
    span.name = expected_name(shape, attrs)


# -- cost ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Price:
    input: float = 0.0
    output: float = 0.0
    cached_input: float | None = None
    cache_write_input: float | None = None
    reasoning: float | None = None


class PriceTable:
    """Prices per provider and model, matched exactly, through aliases, or by the longest listed prefix."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.per_tokens = float(data.get("per_tokens", 1_000_000))
        self.providers: dict[str, dict[str, Price]] = {}
        self.aliases: dict[str, dict[str, str]] = {}
        shared: dict[str, str] = {}
        for provider, models in (data.get("providers") or {}).items():
            if "aliases_of" in models:
                shared[provider] = models["aliases_of"]
                continue
            self.aliases[provider] = dict(models.get("aliases") or {})
            self.providers[provider] = {
                name: Price(**spec)
                for name, spec in models.items()
                if name != "aliases" and isinstance(spec, dict)
            }
        for provider, source in shared.items():
            self.providers[provider] = self.providers.get(source, {})
            self.aliases[provider] = self.aliases.get(source, {})

    def merged(self, other: PriceTable) -> PriceTable:
        for provider, models in other.providers.items():
            self.providers.setdefault(provider, {}).update(models)
            self.aliases.setdefault(provider, {}).update(other.aliases.get(provider, {}))
        return self

    def lookup(self, provider: str | None, model: str | None) -> Price | None:
        models = self.providers.get(provider or "")
        if not models or not model:
            return None
        model = self.aliases.get(provider or "", {}).get(model, model)
        if model in models:
            return models[model]
        candidates = [name for name in models if model.startswith(name)]
        if not candidates:
            alias = next((a for a in self.aliases.get(provider or "", {}) if model.startswith(a)), None)
            return models.get(self.aliases[provider or ""][alias]) if alias else None
        return models[max(candidates, key=len)]


@lru_cache(maxsize=4)
def load_prices(override: str | None = None) -> PriceTable:
    table = PriceTable(semconv.PRICES)
    if override:
        table.merged(PriceTable(_read_table(override)))
    return table


class CostRule:
    """``genai_otel.usage.cost`` (USD) from token counts: uncached input, cached input, cache writes,
    output (reasoning tokens are output tokens; priced separately when the table says so)."""

    name = "cost"

    def __init__(self, prices: PriceTable | None = None) -> None:
        self.prices = prices or load_prices(os.environ.get(PRICES_FILE) or None)

    def apply(self, span: SpanRecord) -> None:
        attrs = span.attributes
        if attrs.get(semconv.GENAI_OTEL_USAGE_COST):
            return  # priced already (another library's 0 means it had no price: priced here)
        price = self.prices.lookup(
            attrs.get(semconv.GEN_AI_PROVIDER_NAME),
            attrs.get(semconv.GEN_AI_RESPONSE_MODEL) or attrs.get(semconv.GEN_AI_REQUEST_MODEL),
        ) or self.prices.lookup(
            attrs.get(semconv.GEN_AI_PROVIDER_NAME), attrs.get(semconv.GEN_AI_REQUEST_MODEL)
        )
        if price is None:
            return
        tokens_in = int(attrs.get(semconv.GEN_AI_USAGE_INPUT_TOKENS) or 0)
        tokens_out = int(attrs.get(semconv.GEN_AI_USAGE_OUTPUT_TOKENS) or 0)
        cached = int(attrs.get(semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS) or 0)
        written = int(attrs.get(semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS) or 0)
        reasoning = int(attrs.get(semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS) or 0)
        if not (tokens_in or tokens_out):
            return
        cost = (tokens_in - cached - written) * price.input
        cost += cached * (price.cached_input if price.cached_input is not None else price.input)
        cost += written * (price.cache_write_input if price.cache_write_input is not None else price.input)
        if price.reasoning is not None:
            cost += reasoning * price.reasoning + (tokens_out - reasoning) * price.output
        else:
            cost += tokens_out * price.output
        attrs[semconv.GENAI_OTEL_USAGE_COST] = round(cost / self.prices.per_tokens, 10)


# -- redact --------------------------------------------------------------------------------------------


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


DETECTORS: dict[str, re.Pattern[str]] = {
    "EMAIL": re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"),
    "API_KEY": re.compile(
        r"\b(?:sk-(?:proj-|ant-)?[A-Za-z0-9_-]{16,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}"
        r"|xox[baprs]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35})\b"
    ),
    "BEARER": re.compile(r"\bBearer\s+[A-Za-z0-9._~+/=-]{16,}", re.IGNORECASE),
    "CARD": re.compile(r"\b\d(?:[ -]?\d){12,18}\b"),
    "PHONE": re.compile(
        r"(?<![\w+])(?:\+\d{1,3}(?:[ .-]\d{1,4}){3,6}"  # +33 1 42 68 53 00: short groups after a country code
        r"|(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])\d{3,4}[ .-]?\d{3,4})\b"
    ),
}


# The trigger tests below are written out because they run on every content attribute: one-character
# tests run at memchr speed (a \d search walks the text in the regex engine, ~10x slower), and the longer
# needles are only searched for when their rarer character is there.


def _has_digit(text: str) -> bool:
    return (
        "0" in text or "1" in text or "2" in text or "3" in text or "4" in text
        or "5" in text or "6" in text or "7" in text or "8" in text or "9" in text
    )  # fmt: skip


def _may_hold_key(text: str) -> bool:
    """sk-/xox*- keys, gh?_ tokens, AKIA/AIza keys (see DETECTORS["API_KEY"])."""
    return (
        ("-" in text and ("sk-" in text or "xox" in text))
        or ("_" in text and "gh" in text)
        or ("A" in text and ("AKIA" in text or "AIza" in text))
    )


def _likely_labels(text: str) -> frozenset[str]:
    """The built-in detectors that may match in ``text``, by cheap substring tests: most content has no
    '@', no key prefix, no "bearer" and often no digit, so the regex pass runs with fewer alternatives, or
    not at all."""
    email, key, bearer, digit = "@" in text, _may_hold_key(text), "bearer" in text.lower(), _has_digit(text)
    return _LIKELY[email | key << 1 | bearer << 2 | digit << 3]


# Which labels each outcome of the four tests in _likely_labels allows (bit 3: a digit, for two detectors).
_LIKELY = [
    frozenset(
        label
        for bit, labels in enumerate((("EMAIL",), ("API_KEY",), ("BEARER",), ("CARD", "PHONE")))
        if mask >> bit & 1
        for label in labels
    )
    for mask in range(16)
]


@dataclass
class RedactRule:
    """Finds emails, phone numbers, card numbers (Luhn-checked), API keys and bearer tokens -- plus your
    own patterns -- in content attributes and event attributes, and replaces them (``[REDACTED:EMAIL]``)
    or hashes them (``[EMAIL:1a2b3c4d]``, stable, so equal values stay joinable)."""

    mode: str = "replace"
    custom: dict[str, str] = field(default_factory=dict)
    name: str = "redact"

    def __post_init__(self) -> None:
        self.detectors = {**DETECTORS, **{label: re.compile(p) for label, p in self.custom.items()}}
        # One pass per text: the detectors that may match (see _likely_labels; custom ones always) as
        # alternatives of one pattern, each in a named group (which matched is the last group to close: the
        # wrapper, even around a pattern's own groups). Combined patterns are cached by which detectors
        # take part.
        self._labels = {f"_d{index}": label for index, label in enumerate(self.detectors)}
        self._combined: dict[tuple[int, ...], re.Pattern[str]] = {}
        self._chosen_for: dict[frozenset[str], tuple[int, ...]] = {}

    def _chosen(self, text: str) -> tuple[int, ...]:
        likely = _likely_labels(text)
        chosen = self._chosen_for.get(likely)
        if chosen is None:
            chosen = self._chosen_for[likely] = tuple(
                index
                for index, label in enumerate(self.detectors)
                if label in likely or label not in DETECTORS or label in self.custom
            )
        return chosen

    def _pattern(self, chosen: tuple[int, ...]) -> re.Pattern[str]:
        pattern = self._combined.get(chosen)
        if pattern is None:
            alternatives = []
            detectors = list(self.detectors.values())
            for index in chosen:
                detector = detectors[index]
                body = f"(?i:{detector.pattern})" if detector.flags & re.IGNORECASE else detector.pattern
                alternatives.append(f"(?P<_d{index}>{body})")
            pattern = self._combined[chosen] = re.compile("|".join(alternatives))
        return pattern

    def redact_text(self, text: str) -> tuple[str, int]:
        chosen = self._chosen(text)
        if not chosen:
            return text, 0
        labels = list(self.detectors)
        if len(chosen) == 1 and self.mode == "replace" and labels[chosen[0]] != "CARD":
            # One kind of secret possible and no per-match decision: the regex engine substitutes alone.
            label = labels[chosen[0]]
            return self.detectors[label].subn(f"[REDACTED:{label}]".replace("\\", "\\\\"), text)
        hits = 0

        def replace(match: re.Match[str]) -> str:
            nonlocal hits
            label = self._labels[match.lastgroup or ""]
            value = match.group(0)
            if label == "CARD" and not _luhn(re.sub(r"\D", "", value)):
                return value
            hits += 1
            if self.mode == "hash":
                return f"[{label}:{hashlib.sha256(value.encode()).hexdigest()[:8]}]"
            return f"[REDACTED:{label}]"

        return self._pattern(chosen).sub(replace, text), hits

    def apply(self, span: SpanRecord) -> None:
        redacted = []
        for key in [k for k in span.attributes if k in _CONTENT]:
            value = span.attributes[key]
            if isinstance(value, str):
                span.attributes[key], hits = self.redact_text(value)
                if hits:
                    redacted.append(key)
        for _name, attributes in span.events:
            for key in [k for k in attributes if k in _CONTENT and isinstance(attributes[k], str)]:
                attributes[key], _hits = self.redact_text(attributes[key])
        if redacted:
            span.attributes[semconv.GENAI_OTEL_REDACTED] = sorted(redacted)


_CONTENT = frozenset(semconv.CONTENT_ATTRIBUTES)


# -- limit -----------------------------------------------------------------------------------------------


@dataclass
class LimitRule:
    """Caps each content attribute at ``max_attribute`` characters (JSON kept valid) and a span's content
    at ``max_span`` in total (largest first), listing what was cut in ``genai_otel.content.truncated``."""

    max_attribute: int = 16 * 1024
    max_span: int = 64 * 1024
    name: str = "limit"

    def apply(self, span: SpanRecord) -> None:
        attrs = span.attributes
        sizes = [(len(v), k) for k, v in attrs.items() if k in _CONTENT and isinstance(v, str)]
        if not sizes or (
            max(sizes)[0] <= self.max_attribute and sum(size for size, _ in sizes) <= self.max_span
        ):
            return  # the common case: nothing to cut
        cut = set(attrs.get(semconv.GENAI_OTEL_CONTENT_TRUNCATED) or ())
        for size, key in sizes:
            if size > self.max_attribute:
                attrs[key], _ = _cap(attrs[key], self.max_attribute)
                cut.add(key)
        sizes = sorted(((len(attrs[k]), k) for _, k in sizes), reverse=True)
        total = sum(size for size, _ in sizes)
        for size, key in sizes:
            if total <= self.max_span:
                break
            keep = max(0, size - (total - self.max_span))
            attrs[key], _ = _cap(attrs[key], keep)
            total -= size - len(attrs[key])
            cut.add(key)
        if cut:
            attrs[semconv.GENAI_OTEL_CONTENT_TRUNCATED] = sorted(cut)


def _cap(text: str, limit: int) -> tuple[str, bool]:
    if len(text) <= limit:
        return text, False
    try:
        value = json.loads(text)
    except ValueError:
        return text[: max(0, limit - 1)] + "…", True
    return shorten(value, text, limit), True  # not serialize(): the text is known to be too long


# -- loop flags ----------------------------------------------------------------------------------------


_LOOP_INPUTS = {
    semconv.OPERATION_EXECUTE_TOOL: (semconv.GEN_AI_TOOL_NAME, semconv.GEN_AI_TOOL_CALL_ARGUMENTS),
    semconv.OPERATION_INVOKE_AGENT: (semconv.GEN_AI_AGENT_NAME, semconv.GEN_AI_INPUT_MESSAGES),
}


@dataclass
class _TraceCalls:
    last_seen: float
    counts: dict[tuple[str, str, str], int] = field(default_factory=dict)


@dataclass
class LoopFlagRule:
    """Flags agent runaway loops the in-process guard could not see (several services, other libraries):
    the same agent invocation or tool call -- same name, and same input when content was captured --
    repeated within one trace. From the ``threshold``-th occurrence on, the span gets
    ``genai_otel.loop.repeats``.

    Spans are grouped by trace id; a trace's history is kept for ``window_seconds`` after its last
    span (at most ``max_traces`` traces, oldest dropped first), so spans arriving late still count. Spans
    are never held back: the flag lands on the repeats that arrive once the threshold is reached. Behind
    several processor instances, route by trace id (the Collector's load-balancing exporter) so one
    instance sees a whole trace.
    """

    threshold: int = 3
    window_seconds: float = 300.0
    max_traces: int = 10_000
    name: str = "loop_flags"
    #: Seconds, monotonic (tests move it by hand).
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    _traces: OrderedDict[Any, _TraceCalls] = field(default_factory=OrderedDict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def apply(self, span: SpanRecord) -> None:
        attrs = span.attributes
        fields = _LOOP_INPUTS.get(attrs.get(semconv.GEN_AI_OPERATION_NAME))
        if fields is None or span.trace_id is None:
            return
        name, given = attrs.get(fields[0]), attrs.get(fields[1])
        digest = hashlib.blake2b(str(given).encode(), digest_size=8).hexdigest() if given is not None else ""
        key = (attrs[semconv.GEN_AI_OPERATION_NAME], str(name), digest)
        now = self.clock()
        with self._lock:
            calls = self._calls_of(span.trace_id, now)
            count = calls.counts[key] = calls.counts.get(key, 0) + 1
        if count >= self.threshold:
            attrs[semconv.GENAI_OTEL_LOOP_REPEATS] = count

    def _calls_of(self, trace_id: Any, now: float) -> _TraceCalls:
        traces = self._traces
        while traces:  # expire idle traces, oldest first (the dict is kept in last-seen order)
            oldest = next(iter(traces.values()))
            if now - oldest.last_seen <= self.window_seconds and len(traces) < self.max_traces:
                break
            traces.popitem(last=False)
        calls = traces.pop(trace_id, None) or _TraceCalls(now)
        calls.last_seen = now
        traces[trace_id] = calls
        return calls


#: Room kept beyond the final size caps before redaction: a secret cut by the final cap was whole when the
#: redaction looked at it.
REDACTION_MARGIN = 1024


def default_rules() -> list[Rule]:
    """normalise -> cost -> loop flags -> pre-limit -> redact -> limit: cost and loop flags need normalised
    names (and loop flags the unredacted input, so equal inputs compare equal); the pre-limit keeps
    redaction from scanning megabytes that the final limit throws away."""
    final = LimitRule()
    pre = LimitRule(final.max_attribute + REDACTION_MARGIN, final.max_span + REDACTION_MARGIN)
    return [NormalizeRule(), CostRule(), LoopFlagRule(), pre, RedactRule(), final]
