"""The service's delivery queue: a bounded memory queue in front of an ordered, durable spool directory."""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

_logger = logging.getLogger("genai_otel.processor")


@dataclass
class Counters:
    received: int = 0
    forwarded: int = 0
    rejected: int = 0
    retries: int = 0
    spilled: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, **deltas: int) -> None:
        with self.lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)


class Spool:
    """An ordered, durable queue of serialized requests in a directory (guarded by its owner's lock)."""

    def __init__(self, directory: Path, max_bytes: int, lock: threading.Condition) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._lock = lock
        files = sorted(self.directory.glob("*.pb"))
        self._files = files
        self._bytes = sum(f.stat().st_size for f in files)
        self._next = int(files[-1].stem) + 1 if files else 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._files)

    def put(self, data: bytes) -> bool:
        with self._lock:
            if self._bytes + len(data) > self.max_bytes:
                return False
            path = self.directory / f"{self._next:016d}.pb"
            self._next += 1
            tmp = path.with_suffix(".tmp")
            with open(tmp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            tmp.rename(path)
            self._files.append(path)
            self._bytes += len(data)
            self._lock.notify()
            return True

    def head(self) -> Path | None:
        return self._files[0] if self._files else None

    def done(self, path: Path) -> None:
        with self._lock:
            self._bytes -= path.stat().st_size
            path.unlink()
            self._files.remove(path)


class Queue:
    """A bounded memory queue in front of the spool. While the spool holds a backlog, new requests join it
    on disk, so the forwarder's memory-then-spool order is arrival order (across a restart, requests
    spilled from memory on stop follow the backlog: OTLP does not order requests)."""

    def __init__(self, spool_dir: Path, max_spool_bytes: int, max_memory_bytes: int, durable: bool) -> None:
        self._lock = threading.Condition()
        self.spool = Spool(spool_dir, max_spool_bytes, self._lock)
        self.durable = durable
        self.max_memory_bytes = 0 if durable else max_memory_bytes
        self._memory: deque[tuple[bytes, int]] = deque()  # (request, its span count)
        self._memory_bytes = 0

    @property
    def in_memory(self) -> int:
        return len(self._memory)

    def put(self, data: bytes, spans: int) -> str | None:
        """Queue a request of ``spans`` spans: ``"memory"``, ``"spool"``, or ``None`` when both are full."""
        with self._lock:
            if not self.spool.head() and self._memory_bytes + len(data) <= self.max_memory_bytes:
                self._memory.append((data, spans))
                self._memory_bytes += len(data)
                self._lock.notify()
                return "memory"
            return "spool" if self.spool.put(data) else None

    def next(self, timeout: float) -> tuple[bytes, int | None, Callable[[], None]] | None:
        """The oldest request, its span count (None when it comes from the spool, which stores requests
        only) and the callback that removes it once the downstream took it."""
        with self._lock:
            if not self._memory and not self.spool.head():
                self._lock.wait(timeout)
            if self._memory:
                return *self._memory[0], self._pop_memory
            path = self.spool.head()
        if path is None:
            return None
        return path.read_bytes(), None, lambda: self.spool.done(path)

    def _pop_memory(self) -> None:
        with self._lock:
            self._memory_bytes -= len(self._memory.popleft()[0])

    def spill(self) -> int:
        """On stop: what is still in memory goes to the spool, so a restart sends it."""
        with self._lock:
            pending, self._memory = list(self._memory), deque()
            self._memory_bytes = 0
        kept = sum(1 for data, _spans in pending if self.spool.put(data))
        if kept < len(pending):
            _logger.error("spool full on stop: %d request(s) could not be kept", len(pending) - kept)
        return kept


EXPORT_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def span_count(data: bytes) -> int:
    request = trace_service_pb2.ExportTraceServiceRequest.FromString(data)
    return sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
