"""The service's delivery queue: a bounded memory queue in front of an ordered, durable spool directory,
and the bounded dead-letter directory for requests the next hop will never take."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from genai_otel.processor.signals import SIGNALS

_logger = logging.getLogger("genai_otel.processor")


@dataclass
class Counters:
    received: int = 0
    forwarded: int = 0
    rejected: int = 0
    retries: int = 0
    spilled: int = 0
    dead_lettered: int = 0
    dead_letter_dropped: int = 0
    spool_errors: int = 0
    logs_received: int = 0
    logs_forwarded: int = 0
    logs_rejected: int = 0
    metrics_received: int = 0
    metrics_forwarded: int = 0
    metrics_rejected: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, **deltas: int) -> None:
        with self.lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)


@dataclass(eq=False)
class Item:
    """One queued request: its bytes, its item count (None when read back from the spool, which stores
    requests only), its signal, and its spool file when it comes from the spool."""

    data: bytes
    count: int | None
    signal: str
    path: Path | None = None


def _parse_name(path: Path) -> tuple[int, str] | None:
    """``<sequence>.<signal>.pb`` -> (sequence, signal); ``<sequence>.pb`` (spools written before logs
    and metrics were carried) is traces."""
    parts = path.name.split(".")
    try:
        sequence = int(parts[0])
    except ValueError:
        return None
    if len(parts) == 2:
        return sequence, "traces"
    if len(parts) == 3 and parts[1] in SIGNALS:
        return sequence, parts[1]
    return None


def _write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file, fsync, rename); on any error the temporary
    file is removed and the error raised."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


def _scan(directory: Path) -> list[tuple[int, str, Path, int]]:
    """The requests in ``directory`` in sequence order; leftovers of interrupted writes are removed."""
    for leftover in directory.glob("*.tmp"):
        leftover.unlink(missing_ok=True)
    found = []
    for path in directory.glob("*.pb"):
        parsed = _parse_name(path)
        if parsed is None:
            _logger.warning("ignoring %s: not a spool file name", path)
            continue
        found.append((parsed[0], parsed[1], path, path.stat().st_size))
    found.sort()
    return found


class Spool:
    """An ordered, durable queue of serialized requests in a directory (guarded by its owner's lock).
    Files are ``<sequence>.<signal>.pb``; a new spool starts numbering at :data:`FIRST`, leaving room
    below to put requests back in front of the backlog (memory spilled on stop is older than it)."""

    FIRST = 10**12

    def __init__(self, directory: Path, max_bytes: int, lock: threading.Condition) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._lock = lock
        self._files: deque[tuple[int, str, Path, int]] = deque(_scan(directory))
        self._bytes = sum(entry[3] for entry in self._files)
        self._next = self._files[-1][0] + 1 if self._files else self.FIRST

    def __len__(self) -> int:
        with self._lock:
            return len(self._files)

    @property
    def bytes(self) -> int:
        return self._bytes

    def fits(self, size: int) -> bool:
        return self._bytes + size <= self.max_bytes

    def put(self, data: bytes, signal: str, front: bool = False) -> bool:
        """Write a request (last, or first with ``front``); False when the spool is at its byte cap.
        A disk error (ENOSPC, EIO, ...) is raised, with nothing left behind."""
        with self._lock:
            if not self.fits(len(data)):
                return False
            if front and self._files and self._files[0][0] > 0:
                sequence = self._files[0][0] - 1
            else:
                front = False
                sequence, self._next = self._next, self._next + 1
            path = self.directory / f"{sequence:016d}.{signal}.pb"
            _write(path, data)
            entry = (sequence, signal, path, len(data))
            self._files.appendleft(entry) if front else self._files.append(entry)
            self._bytes += len(data)
            self._lock.notify()
            return True

    def head(self) -> tuple[int, str, Path, int] | None:
        return self._files[0] if self._files else None

    def remove(self, path: Path, unlink: bool = True) -> None:
        with self._lock:
            for index, entry in enumerate(self._files):
                if entry[2] == path:
                    del self._files[index]
                    self._bytes -= entry[3]
                    break
            if unlink:
                path.unlink(missing_ok=True)

    def rewrite(self, path: Path, data: bytes) -> None:
        """Replace a spooled request by ``data`` (what is left of it), atomically."""
        with self._lock:
            for index, entry in enumerate(self._files):
                if entry[2] == path:
                    _write(path, data)
                    self._files[index] = (entry[0], entry[1], path, len(data))
                    self._bytes += len(data) - entry[3]
                    return


class Queue:
    """A bounded memory queue in front of the spool. While the spool holds a backlog, new requests join it
    on disk, so everything in memory is older than everything on disk and the forwarder's memory-then-
    spool order is arrival order; on stop, memory goes to the front of the spool, keeping that order
    across a restart."""

    def __init__(self, spool_dir: Path, max_spool_bytes: int, max_memory_bytes: int, durable: bool) -> None:
        self._lock = threading.Condition()
        self.spool = Spool(spool_dir, max_spool_bytes, self._lock)
        self.durable = durable
        self.max_memory_bytes = 0 if durable else max_memory_bytes
        self._memory: deque[Item] = deque()
        self._memory_bytes = 0

    @property
    def in_memory(self) -> int:
        return len(self._memory)

    def put(self, data: bytes, spans: int, signal: str = "traces") -> str | None:
        """Queue a request of ``spans`` items: ``"memory"``, ``"spool"``, or ``None`` when both are full.
        A disk error is raised (nothing is queued then)."""
        return self.put_all([(data, spans)], signal)

    def put_all(self, parts: list[tuple[bytes, int]], signal: str) -> str | None:
        """Queue the parts of one request, all or none: ``"memory"``, ``"spool"``, or ``None`` when full.
        A disk error is raised after removing the parts already written."""
        size = sum(len(data) for data, _count in parts)
        with self._lock:
            if not self.spool.head() and self._memory_bytes + size <= self.max_memory_bytes:
                self._memory.extend(Item(data, count, signal) for data, count in parts)
                self._memory_bytes += size
                self._lock.notify()
                return "memory"
            if not self.spool.fits(size):
                return None
            written: list[Path] = []
            try:
                for data, _count in parts:
                    if not self.spool.put(data, signal):
                        break
                    written.append(self.spool._files[-1][2])
            except BaseException:
                for path in written:
                    self.spool.remove(path)
                raise
            if len(written) < len(parts):
                for path in written:
                    self.spool.remove(path)
                return None
            return "spool"

    def next(self, timeout: float) -> Item | None:
        """The oldest request (memory first, then the spool); it stays queued until :meth:`done`."""
        with self._lock:
            if not self._memory and not self.spool.head():
                self._lock.wait(timeout)
            if self._memory:
                return self._memory[0]
            head = self.spool.head()
        if head is None:
            return None
        _sequence, signal, path, _size = head
        try:
            data = path.read_bytes()
        except OSError as error:  # removed under us, or unreadable: nothing to send, never a crash loop
            _logger.error("spool file %s unreadable, skipped: %s", path, error)
            self.spool.remove(path)
            return None
        return Item(data, None, signal, path)

    def done(self, item: Item) -> None:
        """The downstream took ``item`` (or it was dead-lettered): remove it."""
        if item.path is not None:
            self.spool.remove(item.path)
            return
        with self._lock:
            if self._memory and self._memory[0] is item:
                self._memory.popleft()
                self._memory_bytes -= len(item.data)

    def replace(self, item: Item, data: bytes, count: int) -> None:
        """What is left of a partly sent request replaces it (so a restart does not send the rest twice)."""
        if item.path is not None:
            try:
                self.spool.rewrite(item.path, data)
            except OSError as error:  # kept whole: the sent parts may go twice, nothing is lost
                _logger.warning("could not rewrite the partly sent %s: %s", item.path, error)
            return
        with self._lock:
            self._memory_bytes += len(data) - len(item.data)
            item.data, item.count = data, count

    def spill(self, keep: Item | None = None) -> tuple[int, list[Item]]:
        """Write what is in memory (but ``keep``, the request being sent) to the front of the spool, in
        order. Returns how many requests were written and what stays in memory: requests a full or
        failing disk could not take (the caller keeps forwarding them, or reports them)."""
        with self._lock:
            pending = [item for item in self._memory if item is not keep]
        written, failed = 0, None
        for item in reversed(pending):  # newest first, each in front of the last: order kept
            try:
                kept = self.spool.put(item.data, item.signal, front=True)
            except OSError as error:
                kept, failed = False, error
            if kept:
                written += 1
                with self._lock:
                    self._memory.remove(item)
                    self._memory_bytes -= len(item.data)
        with self._lock:
            left = [item for item in self._memory if item is not keep]
        if left:
            reason = f"disk error: {failed}" if failed else "spool full (--spool-max-bytes)"
            _logger.error("could not spool %d request(s) from memory on stop: %s", len(left), reason)
        return written, left

    def memory_items(self) -> list[Item]:
        with self._lock:
            return list(self._memory)


class DeadLetter:
    """Requests the next hop will never take (a permanent error per the OTLP specification, or a single
    item larger than the send limit), kept for an operator in ``<sequence>.<signal>.pb`` files with the
    reason beside them in ``.txt``, up to ``max_bytes``: the oldest go first, counted. Never raises."""

    def __init__(self, directory: Path, max_bytes: int, counters: Counters) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.counters = counters
        self._lock = threading.Lock()
        self._files: deque[tuple[int, str, Path, int]] = deque()
        self._next = 0
        self._bytes = 0
        if directory.is_dir():
            self._files = deque(_scan(directory))
            self._bytes = sum(entry[3] for entry in self._files)
            self._next = self._files[-1][0] + 1 if self._files else 0

    def __len__(self) -> int:
        return len(self._files)

    def put(self, data: bytes, signal: str, items: int, reason: str) -> None:
        unit = SIGNALS[signal].items.replace("_", " ")
        with self._lock:
            if len(data) > self.max_bytes:
                self.counters.add(dead_letter_dropped=1)
                _logger.error(
                    "dropped a %s request (%d %s, %d bytes) the next hop will not take (%s): larger than "
                    "the dead-letter directory's cap",
                    signal, items, unit, len(data), reason,
                )  # fmt: skip
                return
            while self._files and self._bytes + len(data) > self.max_bytes:
                _sequence, _signal, oldest, size = self._files.popleft()
                self._bytes -= size
                oldest.unlink(missing_ok=True)
                oldest.with_suffix(".txt").unlink(missing_ok=True)
                self.counters.add(dead_letter_dropped=1)
            path = self.directory / f"{self._next:016d}.{signal}.pb"
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                _write(path, data)
                note = f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {items} {unit}: {reason}\n"
                path.with_suffix(".txt").write_text(note)
            except OSError as error:
                self.counters.add(dead_letter_dropped=1)
                _logger.error(
                    "dropped a %s request (%d %s) the next hop will not take (%s); the dead-letter "
                    "directory could not keep it: %s",
                    signal, items, unit, reason, error,
                )  # fmt: skip
                return
            self._next += 1
            self._files.append((self._next - 1, signal, path, len(data)))
            self._bytes += len(data)
            self.counters.add(dead_lettered=1)
        _logger.error(
            "a %s request (%d %s) will not be forwarded: %s; kept in %s", signal, items, unit, reason, path
        )


EXPORT_METHOD = SIGNALS["traces"].method


def span_count(data: bytes) -> int:
    return SIGNALS["traces"].count_bytes(data)
