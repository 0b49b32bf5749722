"""The agent baggage trust boundary: which baggage comes in, and where baggage may go.

Baggage rides on every outgoing request and has no integrity protection, so:

* **Inbound**, entries are accepted only for an allow-list of keys, within size caps and free of
  control characters (Unicode categories Cc, Cf -- which holds the bidi controls --, Zl and Zp).
  The loop-guard keys (the hop count and the tripped-limit marker) are accepted only from
  *trusted peers*: by default loopback and private-network addresses
  (``GENAI_OTEL_TRUSTED_PEERS``); a hop count is capped at the hop limit. A request that passed a
  proxy is judged by the address the nearest proxy saw (the last ``X-Forwarded-For`` entry).
  A carrier that names no peer (gRPC metadata, queue messages) is trusted only when
  ``GENAI_OTEL_TRUSTED_PEERS`` includes ``unknown`` or the code extracting it vouches for it.
* **Outbound**, baggage goes only to trusted hosts (loopback, private networks, single-label
  in-cluster names, and configured patterns or networks) -- never to an LLM provider or an external
  MCP server unless configured, and never to a destination that is not known (the contrib gRPC
  client names none: add ``unknown`` to ``GENAI_OTEL_BAGGAGE_TRUSTED_HOSTS`` for baggage over gRPC).

Host names are parsed the way browsers and libc parse them: ``134744072``, ``0x8080808``,
``010.010.010.010`` and ``8.8.2056`` are all 8.8.8.8, ``127.1`` is 127.0.0.1, and an IPv4-mapped
IPv6 address is judged by its IPv4 address.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from genai_otel import semconv
from genai_otel.config import Settings

_logger = logging.getLogger(__name__)

#: Baggage keys genai-otel itself reads and writes (the same names as the span attributes).
CONVERSATION_ID = semconv.GEN_AI_CONVERSATION_ID
AGENT_PATH = semconv.GENAI_OTEL_AGENT_PATH
AGENT_HOPS = semconv.GENAI_OTEL_AGENT_HOPS
LOOP_GUARD_LIMIT = semconv.GENAI_OTEL_LOOP_GUARD_LIMIT
OWN_KEYS = (CONVERSATION_ID, AGENT_PATH, AGENT_HOPS, LOOP_GUARD_LIMIT)
#: Keys that can make the loop guard act: accepted only from trusted peers.
GUARD_KEYS = frozenset({AGENT_HOPS, LOOP_GUARD_LIMIT})

#: Words in ``GENAI_OTEL_TRUSTED_PEERS`` besides addresses, networks and host patterns.
PEERS_LOOPBACK, PEERS_PRIVATE, PEERS_UNKNOWN, PEERS_NONE = "loopback", "private", "unknown", "none"
_PEER_WORDS = frozenset({PEERS_LOOPBACK, PEERS_PRIVATE, PEERS_UNKNOWN, PEERS_NONE})

# Value checks for our own keys: anything else is dropped on the way in.
_VALID_VALUE = {
    AGENT_HOPS: re.compile(r"\d{1,6}"),
    LOOP_GUARD_LIMIT: re.compile(r"hops|steps"),
}
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Format (Cf: zero-width, BOM, bidi embeddings/overrides/isolates), control (Cc: C0 and C1) and
# line/paragraph separators.
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
_NUMERIC_LABEL = re.compile(r"[0-9]+|0[xX][0-9a-fA-F]*")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def has_control_characters(value: str) -> bool:
    """Whether ``value`` holds a character of Unicode category Cc, Cf, Zl or Zp (bidi controls are Cf)."""
    if value.isascii():
        return _ASCII_CONTROL.search(value) is not None
    return any(unicodedata.category(ch) in _CONTROL_CATEGORIES for ch in value)


def _ipv4_part(text: str) -> int | None:
    if text[:2] in ("0x", "0X"):
        digits, base = text[2:], 16
        if not digits:
            return 0
    elif len(text) > 1 and text[0] == "0":
        digits, base = text[1:], 8
    else:
        digits, base = text, 10
    try:
        return int(digits, base)
    except ValueError:
        return None


def _parse_ipv4(labels: list[str]) -> ipaddress.IPv4Address | None:
    """The WHATWG URL / ``inet_aton`` IPv4 forms: 1 to 4 decimal, octal or hex parts."""
    if not 1 <= len(labels) <= 4 or any(label == "" for label in labels):
        return None
    parts = [_ipv4_part(label) for label in labels]
    if any(p is None for p in parts):
        return None
    *head, last = parts
    if any(p > 255 for p in head) or last >= 256 ** (5 - len(parts)):  # type: ignore[operator]
        return None
    value = last
    for index, part in enumerate(head):
        value += part << (8 * (3 - index))  # type: ignore[operator]
    return ipaddress.IPv4Address(value)


def parse_host(host: str | None) -> Address | str | None:
    """``host`` as an IP address when it is one in any notation, else the lower-case name;
    ``None`` for no host or a malformed numeric one (which no resolver would take as a name)."""
    if not host:
        return None
    host = host.strip().lower()
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    if ":" in host:  # IPv6 (with an optional zone), never a name
        try:
            address: Address = ipaddress.ip_address(host)
        except ValueError:
            return None
        mapped = getattr(address, "ipv4_mapped", None)
        return mapped if mapped is not None else address
    if host.endswith("."):
        host = host[:-1]
    labels = host.split(".")
    if not host or not _NUMERIC_LABEL.fullmatch(labels[-1]):
        return host or None
    return _parse_ipv4(labels)  # the last label is a number: an address or nothing


def _is_internal(address: Address) -> bool:
    return address.is_loopback or address.is_private or address.is_link_local


def _network(text: str) -> Network | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _host_matches(host: str, pattern: str) -> bool:
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern


@dataclass(frozen=True)
class BaggagePolicy:
    """What baggage is accepted inbound and sent outbound (see the module docstring)."""

    allowed_keys: frozenset[str]
    max_value_length: int
    max_entries: int
    trusted_hosts: tuple[str, ...]
    #: Inbound peers whose loop-guard keys are believed: networks, host patterns and the words
    #: ``loopback``, ``private``, ``unknown``.
    trusted_peers: tuple[str, ...] = (PEERS_LOOPBACK, PEERS_PRIVATE)
    #: Highest inbound hop count kept (larger ones are lowered to it); 0 = no cap beyond the format.
    max_hops: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> BaggagePolicy:
        return cls(
            allowed_keys=frozenset(OWN_KEYS + tuple(settings.baggage_allowed_keys)),
            max_value_length=settings.baggage_max_value_length,
            max_entries=settings.baggage_max_entries,
            trusted_hosts=tuple(h.lower() for h in settings.baggage_trusted_hosts),
            trusted_peers=tuple(p.lower() for p in settings.trusted_peers),
            max_hops=settings.max_agent_hops,
        )

    def __post_init__(self) -> None:
        # Parsed once: the networks among the configured hosts and peers.
        object.__setattr__(self, "_host_networks", self._networks(self.trusted_hosts))
        object.__setattr__(self, "_peer_networks", self._networks(self.trusted_peers))

    @staticmethod
    def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
        return tuple(n for n in (_network(e) for e in entries if any(c.isdigit() for c in e)) if n)

    def accept(
        self, inbound: Mapping[str, object], *, peer_trusted: bool = True
    ) -> tuple[dict[str, str], list[str]]:
        """Split inbound entries into accepted ones and the keys rejected (with why, for the log).

        ``peer_trusted`` says whether the sender may set the loop-guard keys (see
        :meth:`peer_trusted`)."""
        kept: dict[str, str] = {}
        rejected: list[str] = []
        for key, value in inbound.items():
            reason = self._reject_reason(key, value)
            if reason is None and not peer_trusted and key in GUARD_KEYS:
                reason = "loop-guard key from an untrusted peer"
            if reason is None and len(kept) >= self.max_entries:
                reason = "too many entries"
            if reason is None:
                kept[key] = self._capped(key, str(value))
            else:
                rejected.append(f"{str(key)[:64]!r}: {reason}")
        return kept, rejected

    def _capped(self, key: str, value: str) -> str:
        if key == AGENT_HOPS and self.max_hops and int(value) > self.max_hops:
            return str(self.max_hops)  # still trips the guard one hop later, never an absurd count
        return value

    def _reject_reason(self, key: str, value: object) -> str | None:
        if key not in self.allowed_keys:
            return "key not allowed"
        if not isinstance(value, str) or len(value) > self.max_value_length:
            return "value too long"
        pattern = _VALID_VALUE.get(key)
        if (pattern is not None and not pattern.fullmatch(value)) or has_control_characters(value):
            return "malformed value"
        return None

    def host_trusted(self, host: str | None) -> bool:
        """May baggage be sent to ``host``? An unknown destination (``None``, a malformed numeric
        host) may not receive it unless the trusted hosts include the word ``unknown``."""
        parsed = parse_host(host)
        if parsed is None:
            return PEERS_UNKNOWN in self.trusted_hosts
        if not isinstance(parsed, str):
            return _is_internal(parsed) or any(parsed in n for n in self._host_networks)  # type: ignore[attr-defined]
        if parsed == "localhost" or parsed.endswith(".localhost") or "." not in parsed:
            return True
        return any(_host_matches(parsed, pattern) for pattern in self.trusted_hosts)

    def peer_trusted(self, peer: str | None) -> bool:
        """May ``peer`` (the address a request came from, ``None`` if unknown) set loop-guard keys?"""
        trusted = self.trusted_peers
        if PEERS_NONE in trusted:
            return False
        parsed = parse_host(peer)
        if parsed is None:
            return PEERS_UNKNOWN in trusted
        if isinstance(parsed, str):
            if parsed == "localhost":
                return PEERS_LOOPBACK in trusted
            return any(_host_matches(parsed, p) for p in trusted if p not in _PEER_WORDS)
        if parsed.is_loopback:
            if PEERS_LOOPBACK in trusted:
                return True
        elif _is_internal(parsed) and PEERS_PRIVATE in trusted:
            return True
        return any(parsed in n for n in self._peer_networks)  # type: ignore[attr-defined]
