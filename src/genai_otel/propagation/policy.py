"""The agent baggage trust boundary: which baggage comes in, and where baggage may go.

Baggage rides on every outgoing request and has no integrity protection, so inbound entries are
accepted only for an allow-list of keys and within size caps, and baggage is sent only to trusted
hosts (loopback, private networks, in-cluster names, and configured patterns) -- never to an LLM
provider or an external MCP server unless configured.
"""

from __future__ import annotations

import ipaddress
import logging
import re
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

# Value checks for our own keys: anything else is dropped on the way in.
_VALID_VALUE = {
    AGENT_HOPS: re.compile(r"\d{1,6}"),
    LOOP_GUARD_LIMIT: re.compile(r"hops|steps"),
}
_PRINTABLE = re.compile(r"[^\x00-\x1f\x7f]*")


@dataclass(frozen=True)
class BaggagePolicy:
    allowed_keys: frozenset[str]
    max_value_length: int
    max_entries: int
    trusted_hosts: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> BaggagePolicy:
        return cls(
            allowed_keys=frozenset(OWN_KEYS + tuple(settings.baggage_allowed_keys)),
            max_value_length=settings.baggage_max_value_length,
            max_entries=settings.baggage_max_entries,
            trusted_hosts=tuple(h.lower() for h in settings.baggage_trusted_hosts),
        )

    def accept(self, inbound: Mapping[str, object]) -> tuple[dict[str, str], list[str]]:
        """Split inbound entries into accepted ones and the keys rejected (with why, for the log)."""
        kept: dict[str, str] = {}
        rejected: list[str] = []
        for key, value in inbound.items():
            reason = self._reject_reason(key, value)
            if reason is None and len(kept) >= self.max_entries:
                reason = "too many entries"
            if reason is None:
                kept[key] = str(value)
            else:
                rejected.append(f"{key[:64]!r}: {reason}")
        return kept, rejected

    def _reject_reason(self, key: str, value: object) -> str | None:
        if key not in self.allowed_keys:
            return "key not allowed"
        if not isinstance(value, str) or len(value) > self.max_value_length:
            return "value too long"
        pattern = _VALID_VALUE.get(key, _PRINTABLE)
        if not pattern.fullmatch(value):
            return "malformed value"
        return None

    def host_trusted(self, host: str | None) -> bool:
        """May baggage be sent to ``host``? Unknown destinations (queues, in-process) are trusted."""
        if not host:
            return True
        host = host.strip("[]").lower().rstrip(".")
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            return address.is_loopback or address.is_private or address.is_link_local
        if host == "localhost" or "." not in host:
            return True
        return any(_host_matches(host, pattern) for pattern in self.trusted_hosts)


def _host_matches(host: str, pattern: str) -> bool:
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern
