"""The enrichment rules: normalise, cost, loop flags, redact, limit. Their data lives in conventions/."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

from opentelemetry.semconv.attributes.exception_attributes import EXCEPTION_MESSAGE, EXCEPTION_STACKTRACE

from genai_otel import conventions, semconv
from genai_otel.config import PRICES_FILE
from genai_otel.conventions import expected_name, shape_of
from genai_otel.detectors import API_KEY, CHECKED, DETECTORS, likely_labels, luhn
from genai_otel.processor.model import Rule, SpanRecord
from genai_otel.telemetry.content import TRUNCATION_MARKER, shorten


def _read_table(path: str) -> dict[str, Any]:
    """A user's table: JSON, or YAML when PyYAML is installed."""
    text = Path(path).read_text(encoding="utf-8")
    if path.endswith(".json"):
        return json.loads(text)
    import yaml

    return yaml.safe_load(text)


# -- hostile values ------------------------------------------------------------------------------------
# Attribute values and log bodies decoded from OTLP can nest (arrays, key-value lists) as deep and as wide
# as a sender likes. Rules never recurse into such a value before these checks have bounded it.

#: Nesting a rule walks into (a log body, a structured attribute, parsed JSON content); deeper parts are
#: replaced by the truncation marker.
MAX_DEPTH = 32
#: Values (nodes) in parsed JSON content beyond which it is cut as plain text, not re-serialised leaf by leaf.
_MAX_JSON_NODES = 50_000
_SCALAR_SIZE = 8  # what a number, boolean or null counts for in a size budget


def _walk(value: Any, max_depth: int, visit: Callable[[Any], int]) -> bool:
    """Visit every value inside ``value`` (map keys included, as strings) with ``visit``, depth first and
    without recursion, so any value is safe to give; stop as soon as ``visit`` returns non-zero or a
    container sits deeper than ``max_depth``. Whether the walk went to the end."""
    stack: list[tuple[Any, bool]] = [(iter((value,)), False)]
    while stack:
        items, pairs = stack[-1]
        for item in items:
            if pairs:
                key, item = item
                if visit(key):
                    return False
            if visit(item):
                return False
            if isinstance(item, (dict, list, tuple)) and item:
                if len(stack) > max_depth:
                    return False
                is_map = isinstance(item, dict)
                stack.append((iter(item.items()) if is_map else iter(item), is_map))
                break
        else:
            stack.pop()
    return True


def _walkable(value: Any, max_depth: int = MAX_DEPTH, max_nodes: int = _MAX_JSON_NODES) -> bool:
    """Whether ``value`` nests at most ``max_depth`` levels and holds at most ``max_nodes`` values."""
    nodes = 0

    def count(_item: Any) -> int:
        nonlocal nodes
        nodes += 1
        return nodes > max_nodes

    return _walk(value, max_depth, count)


def _size(value: Any, limit: int) -> int:
    """Characters of the strings in ``value`` (bytes of a bytes value, map keys included, a few per other
    scalar), counted only up to just past ``limit``; a value nested deeper than :data:`MAX_DEPTH` counts
    as over the limit."""
    if type(value) is str:
        return len(value)
    total = 0

    def add(item: Any) -> int:
        nonlocal total
        if isinstance(item, (str, bytes)):
            total += len(item)
        elif not isinstance(item, (dict, list, tuple)):
            total += _SCALAR_SIZE
        return total > limit

    return total if _walk(value, MAX_DEPTH, add) or total > limit else limit + 1


def _cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, the last one the marker ``…``."""
    return text[: max(0, limit - 1)] + "…"


def _fit(value: Any, budget: int, depth: int = 0) -> tuple[Any, int]:
    """A copy of ``value`` that fits ``budget`` (as :func:`_size` counts) and its size: strings cut with
    the marker, lists and maps cut short, nesting past :data:`MAX_DEPTH` replaced by the truncation marker.
    The recursion is bounded by :data:`MAX_DEPTH`."""
    if isinstance(value, str):
        return (value, len(value)) if len(value) <= budget else (_cut(value, budget), max(budget, 1))
    if isinstance(value, bytes):
        return value[: max(0, budget)], min(len(value), max(0, budget))
    if isinstance(value, (dict, list, tuple)):
        if depth >= MAX_DEPTH and value:
            return TRUNCATION_MARKER, len(TRUNCATION_MARKER)
        used = 0
        if isinstance(value, dict):
            fitted: dict[Any, Any] = {}
            for key, child in value.items():
                key_size = len(key) if isinstance(key, str) else _SCALAR_SIZE
                if used + key_size >= budget:
                    break
                item, size = _fit(child, budget - used - key_size, depth + 1)
                if used + key_size + size > budget:
                    break  # a number or null that does not fit
                fitted[key] = item
                used += key_size + size
            return fitted, used
        items = []
        for child in value:
            if used >= budget:
                break
            item, size = _fit(child, budget - used, depth + 1)
            if used + size > budget:
                break
            items.append(item)
            used += size
        return (tuple(items) if isinstance(value, tuple) else items), used
    return value, _SCALAR_SIZE


# -- normalise ---------------------------------------------------------------------------------------


_MESSAGE_FIELD = re.compile(
    r"^(?P<prefix>.+)\.(?P<index>\d{1,9})\.(?:message\.)?(?P<field>role|content|finish_reason)$"
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
            if isinstance(value, str):
                _set_server(attrs, value)
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
_MAX_PLANNED_KEY = 1024


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

    def apply(self, attrs: dict[str, Any]) -> bool:
        """Normalise ``attrs`` if this dialect's markers are in it; whether they were."""
        if self.detect.isdisjoint(attrs):
            return False
        keys = tuple(attrs)
        plan = self._plans.get(keys, False)
        if plan is False:
            plan = self._plan(keys)
            # Bounded: endless distinct key sets must not grow memory, nor may huge keys be kept (the
            # limit rule drops those later; key sets holding one are planned afresh each time).
            if max(map(len, keys)) <= _MAX_PLANNED_KEY:
                if len(self._plans) >= _PLANS_PER_DIALECT:
                    self._plans.clear()
                self._plans[keys] = plan
        if plan is None:
            return False
        operation = self.operation
        if operation and operation["from"] in attrs and semconv.GEN_AI_OPERATION_NAME not in attrs:
            kind = attrs[operation["from"]]
            value = operation["values"].get(kind) if isinstance(kind, str) else None
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
        """The request parameters a JSON object attribute holds (OpenInference's
        ``llm.invocation_parameters``), each written only when it has the conventions' type (a JSON
        ``1.0`` is taken as the int 1); anything else -- not a JSON object, longer than
        :data:`MAX_PARAMETERS_TEXT`, nested deeper than :data:`MAX_DEPTH` -- is dropped whole."""
        raw = attrs.pop(self.params["from"])
        if isinstance(raw, str) and len(raw) <= MAX_PARAMETERS_TEXT:
            try:
                parsed = json.loads(raw)
            except (ValueError, RecursionError):
                return
        elif isinstance(raw, dict):  # an OTLP key-value list
            parsed = raw
        else:
            return
        if not isinstance(parsed, dict):
            return
        for key, target in self.params["fields"].items():
            if key in parsed and target not in attrs:
                value = _typed(semconv.ATTRIBUTES.get(target, {}).get("type"), parsed[key])
                if value is not None:
                    attrs[target] = value

    @staticmethod
    def _fold_messages(attrs: dict[str, Any], target: str, fields: tuple[tuple[str, int, str], ...]) -> None:
        """``<prefix>.N.role`` / ``.content`` / ``.finish_reason`` -> one JSON messages attribute."""
        per_index: dict[int, dict[str, Any]] = {}
        for key, index, name in fields:
            per_index.setdefault(index, {})[name] = attrs.pop(key)
        if target not in attrs:
            attrs[target] = _COMPACT_JSON.encode([_message(per_index[index]) for index in sorted(per_index)])


#: The longest invocation-parameters JSON text parsed (real ones are well under 1 KB).
MAX_PARAMETERS_TEXT = 16 * 1024
_INT64 = 1 << 63


def _typed(expected: str | None, value: Any) -> Any:
    """``value`` in the conventions' type ``expected`` (int, double, string, boolean, string[]), or
    ``None`` when it is not one (a JSON number that is whole counts as an int; NaN and infinities are no
    doubles)."""
    kind = type(value)
    if expected == "int":
        if kind is float and value.is_integer():
            value, kind = int(value), int
        return value if kind is int and -_INT64 <= value < _INT64 else None
    if expected == "double":
        return float(value) if (kind is int or kind is float) and math.isfinite(value) else None
    if expected == "string":
        return value if kind is str else None
    if expected == "boolean":
        return value if kind is bool else None
    if expected == "string[]":
        ok = isinstance(value, (list, tuple)) and all(type(v) is str for v in value)
        return list(value) if ok else None
    return None


def _json_default(value: Any) -> Any:
    """Bytes (an OTLP bytes value) and other non-JSON leaves in folded messages: their text."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"), default=_json_default)


def _message(fields: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = {
        "role": fields.get("role", "user") if isinstance(fields.get("role", "user"), str) else "user",
        "parts": [{"type": "text", "content": _leaf(fields["content"])}] if "content" in fields else [],
    }
    if "finish_reason" in fields:
        item["finish_reason"] = _leaf(fields["finish_reason"])
    return item


def _leaf(value: Any) -> Any:
    """A message field as written into JSON: a structured value nested too deep for the encoder to walk
    safely becomes the truncation marker."""
    if isinstance(value, (dict, list, tuple)) and not _walkable(value, MAX_DEPTH, 1 << 62):
        return TRUNCATION_MARKER
    return value


class NormalizeRule:
    """Rewrites OpenInference, OpenLLMetry, OpenLIT and older GenAI attribute names into the latest GenAI
    conventions, driven by conventions/normalization.yaml. A dialect applies when one of its marker
    attributes is present; spans already in the latest conventions pass through untouched."""

    name = "normalize"

    def __init__(self, mapping: dict[str, Any] | None = None) -> None:
        dialects = (mapping or conventions.normalization())["dialects"]
        self.dialects = [_Dialect(spec) for spec in dialects.values()]

    #: Works on a copy of the attributes and commits it only at the end (see :class:`Rule`).
    atomic: ClassVar[bool] = True

    def apply(self, span: SpanRecord) -> None:
        if span.is_log:
            return  # log records keep their own attribute names (no dialect maps event attributes)
        work: dict[str, Any] | None = None
        for dialect in self.dialects:
            attrs = span.attributes if work is None else work
            if dialect.detect.isdisjoint(attrs):
                continue
            if work is None:
                work = dict(attrs)  # copy-on-write: a foreign span is edited on a copy, committed below
            dialect.apply(work)
        if work is not None:
            name = _fit_shape(span.name, work)
            span.attributes = work
            span.name = name


def _set_server(attrs: dict[str, Any], url: str) -> None:
    """``server.address`` / ``server.port`` from a base URL (``http://host:port/v1``)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url if "//" in url else f"//{url}")
        hostname, port = parts.hostname, parts.port
    except ValueError:  # not a URL (a port out of range, a bad IPv6 literal): nothing to take from it
        return
    if hostname and semconv.SERVER_ADDRESS not in attrs:
        attrs[semconv.SERVER_ADDRESS] = hostname
        attrs[semconv.SERVER_PORT] = port or (80 if parts.scheme == "http" else 443)


def _fit_shape(name: str, attrs: dict[str, Any]) -> str:
    """A normalised foreign span takes the latest conventions' shape: no GenAI attribute the operation
    does not have (OpenLLMetry's embedding inputs as ``gen_ai.input.messages``, a response id on
    embeddings, ...) and the name from the template (``openai.chat`` -> ``chat gpt-4o``), returned."""
    try:
        shape = shape_of(attrs)
    except TypeError:  # an operation value that is a list or a map: no shape has it
        return name
    if shape is None:
        return name
    allowed = shape["attributes"]
    for key in [k for k in attrs if k.startswith("gen_ai.") and k not in allowed]:
        del attrs[key]
    expected = expected_name(shape, attrs)
    return expected if len(expected) <= _MAX_NAME else _cut(expected, _MAX_NAME)


#: A span name made from attribute values (``chat <model>``) is cut to this many characters.
_MAX_NAME = 256


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
    table = PriceTable(conventions.prices())
    if override:
        table.merged(PriceTable(_read_table(override)))
    return table


class CostRule:
    """``genai_otel.usage.cost`` (USD) from token counts: uncached input, cached input, cache writes,
    output (reasoning tokens are output tokens; priced separately when the table says so)."""

    name = "cost"
    #: Its only write is the last statement (see :class:`Rule`).
    atomic: ClassVar[bool] = True

    def __init__(self, prices: PriceTable | None = None) -> None:
        self.prices = prices or load_prices(os.environ.get(PRICES_FILE) or None)

    def apply(self, span: SpanRecord) -> None:
        attrs = span.attributes
        if span.is_log or attrs.get(semconv.GENAI_OTEL_USAGE_COST):
            return  # priced already (another library's 0 means it had no price: priced here)
        provider = attrs.get(semconv.GEN_AI_PROVIDER_NAME)
        requested = attrs.get(semconv.GEN_AI_REQUEST_MODEL)
        responded = attrs.get(semconv.GEN_AI_RESPONSE_MODEL)
        if type(provider) is not str:  # a list or a number would be looked up as a key: priced nowhere
            return
        requested = requested if type(requested) is str else None
        responded = responded if type(responded) is str else None
        price = self.prices.lookup(provider, responded or requested)
        price = price or self.prices.lookup(provider, requested)
        if price is None:
            return
        tokens_in, tokens_out, cached, written, reasoning = [
            0 if v is None else v if type(v) is int and 0 <= v <= _MAX_TOKENS else _tokens(v)
            for v in map(attrs.get, _TOKEN_KEYS)
        ]
        reasoning = min(reasoning, tokens_out)
        if not (tokens_in or tokens_out):
            return
        cost = max(0, tokens_in - cached - written) * price.input
        cost += cached * (price.cached_input if price.cached_input is not None else price.input)
        cost += written * (price.cache_write_input if price.cache_write_input is not None else price.input)
        if price.reasoning is not None:
            cost += reasoning * price.reasoning + (tokens_out - reasoning) * price.output
        else:
            cost += tokens_out * price.output
        attrs[semconv.GENAI_OTEL_USAGE_COST] = round(cost / self.prices.per_tokens, 10)


_TOKEN_KEYS = (
    semconv.GEN_AI_USAGE_INPUT_TOKENS,
    semconv.GEN_AI_USAGE_OUTPUT_TOKENS,
    semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
    semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
)
#: The largest token count priced (more is not a real call; it would also overflow the float math).
_MAX_TOKENS = 1 << 53


def _tokens(value: Any) -> int:
    """A token count as the conventions type it (int; a whole float is accepted), 0 for anything else --
    a string, a negative or absurd number."""
    if type(value) is int and 0 <= value <= _MAX_TOKENS:
        return value  # the common case, first
    if value is None:
        return 0
    value = _typed("int", value)
    return value if value is not None and 0 <= value <= _MAX_TOKENS else 0


# -- redact --------------------------------------------------------------------------------------------
# The patterns live in genai_otel.detectors, shared with the PII evaluator: what is redacted is flagged.


@dataclass
class RedactRule:
    """Finds emails, phone numbers, card numbers (Luhn-checked), API keys, bearer tokens and the user info
    of URLs with a password (``https://[REDACTED:URL_CREDENTIALS]@host/``: the host stays; an API key
    there is reported as ``API_KEY``) -- plus your own patterns -- and replaces them (``[REDACTED:EMAIL]``)
    or hashes them (``[EMAIL:1a2b3c4d]``, stable, so equal values stay joinable). It looks at the content
    attributes and ``exception.message`` / ``exception.stacktrace`` (a provider error quoting the prompt)
    of spans, span events and log records, and at every string inside a log record's body or a structured
    content value (parts nested deeper than :data:`MAX_DEPTH` are replaced by the truncation marker: they
    cannot be checked)."""

    mode: str = "replace"
    custom: dict[str, str] = field(default_factory=dict)
    name: str = "redact"
    #: Works out every replacement first, then writes them (see :class:`Rule`).
    atomic: ClassVar[bool] = True

    def __post_init__(self) -> None:
        self.detectors = {**DETECTORS, **{label: re.compile(p) for label, p in self.custom.items()}}
        # One pass per text: the detectors that may match (see likely_labels; custom ones always) as
        # alternatives of one pattern, each in a named group (which matched is the last group to close: the
        # wrapper, even around a pattern's own groups). Combined patterns are cached by which detectors
        # take part.
        self._labels = {f"_d{index}": label for index, label in enumerate(self.detectors)}
        self._combined: dict[tuple[int, ...], re.Pattern[str]] = {}
        self._chosen_for: dict[frozenset[str], tuple[int, ...]] = {}

    def _chosen(self, text: str) -> tuple[int, ...]:
        likely = likely_labels(text)
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
        if len(chosen) == 1 and self.mode == "replace" and labels[chosen[0]] not in CHECKED:
            # One kind of secret possible and no per-match decision: the regex engine substitutes alone.
            label = labels[chosen[0]]
            return self.detectors[label].subn(f"[REDACTED:{label}]".replace("\\", "\\\\"), text)
        hits = 0

        def replace(match: re.Match[str]) -> str:
            nonlocal hits
            label = self._labels[match.lastgroup or ""]
            value = match.group(0)
            if label == "CARD" and not luhn(re.sub(r"\D", "", value)):
                return value
            if label == "URL_CREDENTIALS" and API_KEY.search(value):
                label = "API_KEY"  # the more telling kind: a provider's key, wherever it sits
            hits += 1
            if self.mode == "hash":
                return f"[{label}:{hashlib.sha256(value.encode()).hexdigest()[:8]}]"
            return f"[REDACTED:{label}]"

        return self._pattern(chosen).sub(replace, text), hits

    def redact_value(self, value: Any, depth: int = 0) -> tuple[Any, int]:
        """``value`` -- a string, or lists and maps of them -- with every string redacted, and the number
        of findings. Unchanged parts are returned as they are (the same objects); changed containers are
        new ones. Map keys are kept; nesting beyond :data:`MAX_DEPTH` becomes the truncation marker."""
        if isinstance(value, str):
            return self.redact_text(value)
        if isinstance(value, (list, tuple, dict)):
            if depth >= MAX_DEPTH and value:
                return TRUNCATION_MARKER, 0
            hits = 0
            changed = False
            if isinstance(value, dict):
                out: dict[Any, Any] = {}
                for key, child in value.items():
                    out[key], found = self.redact_value(child, depth + 1)
                    hits += found
                    changed = changed or out[key] is not child
                return (out if changed else value), hits
            items = []
            for child in value:
                item, found = self.redact_value(child, depth + 1)
                items.append(item)
                hits += found
                changed = changed or item is not child
            if not changed:
                return value, hits
            return (tuple(items) if isinstance(value, tuple) else items), hits
        return value, 0

    def _redacted(self, attributes: dict[str, Any]) -> dict[str, Any]:
        """The new values of the attributes in ``attributes`` that redaction changes."""
        changes = {}
        for key in _REDACTED_KEYS.intersection(attributes):
            value = attributes[key]
            new, hits = self.redact_text(value) if type(value) is str else self.redact_value(value)
            if new is not value and (hits or new != value):
                changes[key] = (new, hits)
        return changes

    def apply(self, span: SpanRecord) -> None:
        changes = self._redacted(span.attributes)
        events = [(index, c) for index, (_n, a) in enumerate(span.events) if (c := self._redacted(a))]
        body = span.body
        new_body = self.redact_value(body)[0] if body is not None else None
        # Commit: plain assignments only.
        attrs = span.attributes
        for key, (value, _hits) in changes.items():
            attrs[key] = value
        for index, event_changes in events:
            event_attributes = span.events[index][1]
            for key, (value, _hits) in event_changes.items():
                event_attributes[key] = value
        if new_body is not body:
            span.body = new_body
        redacted = [key for key, (_value, hits) in changes.items() if hits]
        if redacted:
            attrs[semconv.GENAI_OTEL_REDACTED] = sorted(redacted)


_CONTENT = frozenset(semconv.CONTENT_ATTRIBUTES)
#: What exceptions say: a provider error often quotes the request, secrets included.
_EXCEPTION_TEXT = frozenset({EXCEPTION_MESSAGE, EXCEPTION_STACKTRACE})
_REDACTED_KEYS = _CONTENT | _EXCEPTION_TEXT


# -- limit -----------------------------------------------------------------------------------------------


#: What the limit rule did, since the process started: ``keys_dropped`` (attributes whose key was over
#: the key cap), ``values_shortened`` (values other than content cut to their cap), ``content_shortened``
#: (content attributes, exception texts and log bodies cut). Read it with :func:`limit_counts`.
limited: Counter[str] = Counter()
_limited_lock = threading.Lock()


def limit_counts() -> dict[str, int]:
    """A copy of :data:`limited`."""
    with _limited_lock:
        return dict(limited)


_SIMPLE = (int, float, bool, type(None))


@dataclass
class LimitRule:
    """Size caps, for every attribute of spans, span events and log records, and for log bodies.

    - ``max_attribute`` (16 KiB): each content attribute (``gen_ai.input.messages``, ...; JSON kept valid
      where it can be, with the ``...[truncated]`` marker where not), ``exception.message`` and
      ``exception.stacktrace``, and a log record's body (strings inside it cut, lists and maps cut short).
    - ``max_span`` (64 KiB): a span's content attributes together (largest cut first). Content cut is
      listed in ``genai_otel.content.truncated``.
    - ``max_value`` (4 KiB): any other attribute value -- a string's characters, a byte string's bytes,
      the strings of a list or map together; cut with the marker ``…``. Grafana Tempo keeps 2 KiB of an
      attribute by default (``max_attribute_bytes``) and New Relic 4,095 characters: a longer id or
      URL is noise, and megabytes in one are an attack on the pipeline.
    - ``max_key`` (256 characters): an attribute whose key is longer is dropped (New Relic and Datadog
      accept 255 and 200; no convention defines a key near that long).

    Values nested deeper than :data:`MAX_DEPTH` have their deep parts replaced by the truncation marker.
    ``None`` turns ``max_value`` / ``max_key`` off (``default_rules()``' final limit checks content only:
    the earlier one has done the rest). Set them in the configuration file:
    ``limit: {max_value: 8192, max_key: 512}``. Counts of what was cut: :data:`limited`."""

    max_attribute: int = 16 * 1024
    max_span: int = 64 * 1024
    max_value: int | None = 4 * 1024
    max_key: int | None = 256
    name: str = "limit"
    #: Builds the capped attributes aside and assigns them at the end (see :class:`Rule`).
    atomic: ClassVar[bool] = True

    def apply(self, span: SpanRecord) -> None:
        counts: dict[str, int] = {}
        attributes = self._capped(span.attributes, self.max_span, counts)
        events = span.events and [
            (index, (name, capped))
            for index, (name, event_attributes) in enumerate(span.events)
            if (capped := self._capped(event_attributes, None, counts)) is not None
        ]
        body = new_body = span.body
        if body is not None and type(body) not in _SIMPLE:
            new_body = self._capped_content(body)
            if new_body is not body:
                counts["content_shortened"] = counts.get("content_shortened", 0) + 1
        # Commit: plain assignments only.
        if attributes is not None:
            span.attributes = attributes
        for index, event in events:
            span.events[index] = event
        span.body = new_body
        if counts:
            with _limited_lock:
                limited.update(counts)

    def _capped_content(self, value: Any) -> Any:
        """A content value (text, or structured) within ``max_attribute``; the same object if it fits."""
        limit = self.max_attribute
        if isinstance(value, str):
            return value if len(value) <= limit else _cap(value, limit)[0]
        return value if _size(value, limit) <= limit else _fit(value, limit)[0]

    def _capped(self, attrs: dict[str, Any], max_span: int | None, counts: dict[str, int]) -> dict | None:
        """``attrs`` with every cap applied, as a new dict; ``None`` when nothing is over a cap."""
        max_value, max_key, max_attribute = self.max_value, self.max_key, self.max_attribute
        sizes = [
            len(value) if type(value) is str else _size(value, max_attribute)
            for key, value in attrs.items()
            if key in _CONTENT
        ]
        over = bool(sizes) and (
            max(sizes) > max_attribute or (max_span is not None and sum(sizes) > max_span)
        )
        if not over and not _EXCEPTION_TEXT.isdisjoint(attrs):
            texts = _EXCEPTION_TEXT.intersection(attrs)
            over = any(_size(attrs[key], max_attribute) > max_attribute for key in texts)
        if max_value is not None and not over:
            # Values alone first (most are short strings and numbers); keys only for a value that is long.
            for value in attrs.values():
                kind = type(value)
                if (kind is str and len(value) > max_value) or (kind not in _SIMPLE and kind is not str):
                    over = any(
                        key not in _CONTENT
                        and key not in _EXCEPTION_TEXT
                        and type(value) not in _SIMPLE
                        and _size(value, max_value) > max_value
                        for key, value in attrs.items()
                    )
                    break
        if max_key is not None and attrs and not over and max(map(len, attrs)) > max_key:
            over = True
        if not over:
            return None  # the common case: nothing to cut
        truncated = attrs.get(semconv.GENAI_OTEL_CONTENT_TRUNCATED)
        # What an earlier limit (in this process or a processor before) listed: content names only.
        cut = (
            {k for k in truncated if type(k) is str and k in _CONTENT}
            if type(truncated) in (list, tuple)
            else set()
        )
        capped: dict[str, Any] = {}
        for key, value in attrs.items():
            if max_key is not None and len(key) > max_key:
                counts["keys_dropped"] = counts.get("keys_dropped", 0) + 1
                continue
            new = value
            if key in _CONTENT or key in _EXCEPTION_TEXT:
                new = self._capped_content(value)
                if new is not value:
                    counts["content_shortened"] = counts.get("content_shortened", 0) + 1
                    if key in _CONTENT:
                        cut.add(key)
            elif max_value is not None and type(value) not in _SIMPLE:
                if isinstance(value, str):
                    if len(value) > max_value:
                        new = _cut(value, max_value)
                elif _size(value, max_value) > max_value:
                    new = _fit(value, max_value)[0]
                if new is not value:
                    counts["values_shortened"] = counts.get("values_shortened", 0) + 1
            capped[key] = new
        if max_span is not None:
            self._cap_span(capped, max_span, cut)
        if cut:
            capped[semconv.GENAI_OTEL_CONTENT_TRUNCATED] = sorted(cut)
        return capped

    @staticmethod
    def _cap_span(capped: dict[str, Any], max_span: int, cut: set[str]) -> None:
        """The content of one span within ``max_span`` together, the largest attributes cut first."""
        sizes = sorted(
            ((_size(v, max_span), k) for k, v in capped.items() if k in _CONTENT),
            reverse=True,
        )
        total = sum(size for size, _ in sizes)
        for size, key in sizes:
            if total <= max_span:
                break
            keep = max(0, size - (total - max_span))
            value = capped[key]
            capped[key] = _cap(value, keep)[0] if type(value) is str else _fit(value, keep)[0]
            total -= size - _size(capped[key], keep)
            cut.add(key)


def _cap(text: str, limit: int) -> tuple[str, bool]:
    """``text`` within ``limit`` characters: JSON stays valid JSON (long strings inside cut) when it can be
    parsed cheaply and safely -- nested at most :data:`MAX_DEPTH` levels, at most ``_MAX_JSON_NODES``
    values --, anything else is cut as text."""
    if len(text) <= limit:
        return text, False
    if text[:1] not in ("[", "{", '"'):
        return _cut(text, limit), True
    try:
        value = json.loads(text)  # the C parser: bounded by the interpreter's recursion limit, never deeper
    except (ValueError, RecursionError):
        return _cut(text, limit), True
    if not _walkable(value):
        return _cut(text, limit), True
    return shorten(value, text, limit), True  # not serialize(): the text is known to be too long


# -- loop flags ----------------------------------------------------------------------------------------


_LOOP_INPUTS = {
    semconv.OPERATION_EXECUTE_TOOL: (semconv.GEN_AI_TOOL_NAME, semconv.GEN_AI_TOOL_CALL_ARGUMENTS),
    semconv.OPERATION_INVOKE_AGENT: (semconv.GEN_AI_AGENT_NAME, semconv.GEN_AI_INPUT_MESSAGES),
}


def _identity(value: Any) -> bytes:
    """Bytes that tell inputs apart: a string's own, else its JSON (a map or list from OTLP; one nested
    beyond :data:`MAX_DEPTH` counts by its type only)."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    if isinstance(value, (dict, list, tuple)) and not _walkable(value, MAX_DEPTH, 1 << 62):
        return type(value).__name__.encode()
    return _COMPACT_JSON.encode(value).encode("utf-8", "surrogatepass")


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

    #: Its only write to the span is the last statement (see :class:`Rule`).
    atomic: ClassVar[bool] = True

    def apply(self, span: SpanRecord) -> None:
        attrs = span.attributes
        operation = attrs.get(semconv.GEN_AI_OPERATION_NAME)
        fields = _LOOP_INPUTS.get(operation) if isinstance(operation, str) else None
        if fields is None or span.trace_id is None or span.is_log:
            return
        name, given = attrs.get(fields[0]), attrs.get(fields[1])
        digest = hashlib.blake2b(_identity(given), digest_size=8).hexdigest() if given is not None else ""
        key = (operation, _identity(name), digest)
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
    redaction from scanning megabytes that the final limit throws away, and caps keys and every other
    value (see :class:`LimitRule` for the defaults)."""
    pre = LimitRule()
    pre.max_attribute += REDACTION_MARGIN
    pre.max_span += REDACTION_MARGIN
    # The pre-limit has capped keys and other values; redaction changes neither: the final limit checks
    # content only, the cheaper pass.
    final = LimitRule(max_value=None, max_key=None)
    return [NormalizeRule(), CostRule(), LoopFlagRule(), pre, RedactRule(), final]
