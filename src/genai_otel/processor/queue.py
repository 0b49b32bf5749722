"""The service's delivery queue: a bounded memory queue in front of an ordered, durable spool directory,
and the bounded dead-letter directory for requests the next hop will never take."""

from __future__ import annotations

import contextlib
import logging
import os
import struct
import threading
import time
import zlib
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
    requests only), its signal, and its spool sequence number when it comes from the spool."""

    data: bytes
    count: int | None
    signal: str
    sequence: int | None = None


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


# -- group commit: the requests that arrive during one fsync are written and fsynced together ----------
# A segment file ``<first sequence>.seg`` holds a group: a header (magic, then the number of its records
# already delivered, rewritten in place as the forwarder goes: no fsync, it only saves resending after a
# crash), then per record a frame (sequence, signal, length, CRC-32) and the request. It is written under
# its final name and fsynced once; nobody is answered before that fsync returns, so a torn tail (a crash
# mid-write) holds only unacknowledged requests and is ignored on restart.
_MAGIC = b"GOTELSEG"
_HEADER = struct.Struct("<8sQ")
_FRAME = struct.Struct("<QBIII")  # sequence, signal, items, length, CRC-32
_SIGNAL_CODES = {name: code for code, name in enumerate(SIGNALS)}
_SIGNAL_NAMES = dict(enumerate(SIGNALS))


@dataclass(eq=False)
class Entry:
    """One spooled request: its own file (``offset`` -1), or a record of a segment file (which also keeps
    its item count: a request's own file does not, ``count`` is None then)."""

    sequence: int
    signal: str
    path: Path
    size: int
    offset: int = -1
    index: int = -1
    count: int | None = None

    def read(self) -> bytes:
        if self.offset < 0:
            return self.path.read_bytes()
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            data = handle.read(self.size)
        if len(data) != self.size:
            raise OSError(f"segment {self.path} is shorter than its index")
        return data


@dataclass(eq=False)
class _Segment:
    """A segment's records still spooled, and the prefix of them delivered (kept in its header)."""

    records: int
    live: int
    delivered: int = 0
    done: set[int] = field(default_factory=set)


def _write_segment(path: Path, records: list[tuple[int, str, bytes, int]]) -> list[int]:
    """Write a group of (sequence, signal, request, items) as one segment file, fsync it once; the
    offsets of the requests in it. On any error the file is removed and the error raised."""
    chunks, offsets, at = [_HEADER.pack(_MAGIC, 0)], [], _HEADER.size
    for sequence, signal, data, count in records:
        chunks.append(_FRAME.pack(sequence, _SIGNAL_CODES[signal], count, len(data), zlib.crc32(data)))
        chunks.append(data)
        offsets.append(at + _FRAME.size)
        at += _FRAME.size + len(data)
    try:
        with open(path, "wb") as handle:
            handle.write(b"".join(chunks))
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)
        raise
    return offsets


def _read_segment(path: Path) -> tuple[list[Entry], _Segment] | None:
    """The records of a segment file not yet delivered, and its bookkeeping; ``None`` when it holds
    nothing left to send (then the caller removes it). A torn or corrupt tail ends the records."""
    data = path.read_bytes()
    if len(data) < _HEADER.size:
        return None
    magic, delivered = _HEADER.unpack_from(data)
    if magic != _MAGIC:
        _logger.warning("ignoring %s: not a spool segment", path)
        return None
    entries, at = [], _HEADER.size
    while at + _FRAME.size <= len(data):
        sequence, code, count, size, crc = _FRAME.unpack_from(data, at)
        body = at + _FRAME.size
        if (
            code not in _SIGNAL_NAMES
            or body + size > len(data)
            or zlib.crc32(data[body : body + size]) != crc
        ):
            break  # written but never acknowledged (a crash before its fsync returned)
        entries.append(Entry(sequence, _SIGNAL_NAMES[code], path, size, body, len(entries), count))
        at = body + size
    segment = _Segment(len(entries), len(entries), delivered)
    left = entries[delivered:]
    segment.live = len(left)
    segment.done = set(range(min(delivered, len(entries))))
    return (left, segment) if left else None


def _write_delivered(path: Path, delivered: int) -> None:
    """Record in a segment's header how many of its records were delivered: a plain write, no fsync (a
    crash before it reaches the disk only sends those records again, at least once)."""
    try:
        with open(path, "r+b") as handle:
            handle.write(_HEADER.pack(_MAGIC, delivered))
    except OSError as error:  # only the saving of a resend after a crash is lost
        _logger.warning("could not mark %s delivered: %s", path, error)


class Spool:
    """An ordered, durable queue of serialized requests in a directory (guarded by its owner's lock).
    Requests are files ``<sequence>.<signal>.pb`` or records of group-commit segments ``<sequence>.seg``;
    a new spool starts numbering at :data:`FIRST`, leaving room below to put requests back in front of
    the backlog (memory spilled on stop is older than it)."""

    FIRST = 10**12

    def __init__(self, directory: Path, max_bytes: int, lock: threading.Condition) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._lock = lock
        self._segments: dict[Path, _Segment] = {}
        by_sequence: dict[int, Entry] = {}
        for path in sorted(directory.glob("*.seg")):
            loaded = _read_segment(path)
            if loaded is None:
                path.unlink(missing_ok=True)
                continue
            entries, self._segments[path] = loaded
            by_sequence.update((entry.sequence, entry) for entry in entries)
        for sequence, signal, path, size in _scan(directory):
            # A request's own file overrides its segment record: what is left of a partly sent request.
            replaced = by_sequence.get(sequence)
            mark = self._mark_delivered(replaced) if replaced is not None else None
            if mark is not None:
                _write_delivered(*mark)
            by_sequence[sequence] = Entry(sequence, signal, path, size)
        self._files: deque[Entry] = deque(by_sequence[key] for key in sorted(by_sequence))
        self._bytes = sum(entry.size for entry in self._files)
        self._next = self._files[-1].sequence + 1 if self._files else self.FIRST
        for path, segment in self._segments.items():  # numbering goes on after delivered records too
            self._next = max(self._next, int(path.name.split(".")[0]) + segment.records)

    def __len__(self) -> int:
        with self._lock:
            return len(self._files)

    @property
    def bytes(self) -> int:
        return self._bytes

    def fits(self, size: int) -> bool:
        return self._bytes + size <= self.max_bytes

    def put(self, data: bytes, signal: str, front: bool = False) -> bool:
        """Write a request in its own file (last, or first with ``front``); False when the spool is at its
        byte cap. A disk error (ENOSPC, EIO, ...) is raised, with nothing left behind."""
        with self._lock:
            if not self.fits(len(data)):
                return False
            if front and self._files and self._files[0].sequence > 0:
                sequence = self._files[0].sequence - 1
            else:
                front = False
                sequence, self._next = self._next, self._next + 1
            path = self.directory / f"{sequence:016d}.{signal}.pb"
            _write(path, data)
            entry = Entry(sequence, signal, path, len(data))
            self._files.appendleft(entry) if front else self._files.append(entry)
            self._bytes += len(data)
            self._lock.notify()
            return True

    def reserve_sequences(self, count: int) -> int:
        """The first of ``count`` new sequence numbers (caller holds the lock)."""
        first, self._next = self._next, self._next + count
        return first

    def add_segment(self, path: Path, records: list[tuple[int, str, bytes, int]], offsets: list[int]) -> None:
        """Append a written and fsynced segment's requests (caller holds the lock)."""
        self._segments[path] = _Segment(len(records), len(records))
        for index, ((sequence, signal, data, count), offset) in enumerate(zip(records, offsets, strict=True)):
            self._files.append(Entry(sequence, signal, path, len(data), offset, index, count))
            self._bytes += len(data)
        self._lock.notify()

    def head(self) -> Entry | None:
        return self._files[0] if self._files else None

    def _find(self, sequence: int) -> int | None:
        for index, entry in enumerate(self._files):  # the head, nearly always
            if entry.sequence == sequence:
                return index
        return None

    def _mark_delivered(self, entry: Entry) -> tuple[Path, int] | None:
        """A segment record is gone: remove the segment with its last record, or return the segment's
        new delivered prefix for :func:`_write_delivered` (called outside the lock)."""
        segment = self._segments.get(entry.path)
        if segment is None:
            return None
        segment.done.add(entry.index)
        segment.live -= 1
        if segment.live <= 0:
            del self._segments[entry.path]
            entry.path.unlink(missing_ok=True)
            return None
        delivered = segment.delivered
        while delivered in segment.done:
            delivered += 1
        if delivered == segment.delivered:
            return None
        segment.delivered = delivered
        return entry.path, delivered

    def remove(self, sequence: int) -> None:
        """The request ``sequence`` was delivered (or cannot be read): drop it from the spool."""
        with self._lock:
            index = self._find(sequence)
            if index is None:
                return
            entry = self._files[index]
            del self._files[index]
            self._bytes -= entry.size
            if entry.offset < 0:
                entry.path.unlink(missing_ok=True)
                return
            mark = self._mark_delivered(entry)
        if mark is not None:
            _write_delivered(*mark)

    def rewrite(self, sequence: int, data: bytes) -> None:
        """Replace a spooled request by ``data`` (what is left of it), atomically: in its own file, which
        overrides a segment record of the same sequence."""
        with self._lock:
            index = self._find(sequence)
            if index is None:
                return
            entry = self._files[index]
            path = self.directory / f"{sequence:016d}.{entry.signal}.pb"
            _write(path, data)
            mark = self._mark_delivered(entry) if entry.offset >= 0 else None
            self._files[index] = Entry(sequence, entry.signal, path, len(data))
            self._bytes += len(data) - entry.size
        if mark is not None:
            _write_delivered(*mark)


@dataclass(eq=False)
class _Ticket:
    """One request waiting for its group's fsync."""

    parts: list[tuple[bytes, int]]
    signal: str
    size: int
    done: bool = False
    error: BaseException | None = None


class Queue:
    """A bounded memory queue in front of the spool. While the spool holds a backlog, new requests join it
    on disk, so everything in memory is older than everything on disk and the forwarder's memory-then-
    spool order is arrival order; on stop, memory goes to the front of the spool, keeping that order
    across a restart.

    Requests going to disk are committed in groups: while one group's fsync runs, the requests arriving
    join the next group, written and fsynced together once it returns (one fsync for all of them); each
    caller returns only after the fsync covering its request."""

    def __init__(self, spool_dir: Path, max_spool_bytes: int, max_memory_bytes: int, durable: bool) -> None:
        lock = threading.RLock()
        self._lock = threading.Condition(lock)
        self._committed = threading.Condition(lock)  # group commits: not the forwarder's wake-ups
        self.spool = Spool(spool_dir, max_spool_bytes, self._lock)
        self.durable = durable
        self.max_memory_bytes = 0 if durable else max_memory_bytes
        self._memory: deque[Item] = deque()
        self._memory_bytes = 0
        self._pending: list[_Ticket] = []
        self._pending_bytes = 0
        self._committing = False

    @property
    def in_memory(self) -> int:
        return len(self._memory)

    def put(self, data: bytes, spans: int, signal: str = "traces") -> str | None:
        """Queue a request of ``spans`` items: ``"memory"``, ``"spool"``, or ``None`` when both are full.
        A disk error is raised (nothing is queued then)."""
        return self.put_all([(data, spans)], signal)

    def put_all(self, parts: list[tuple[bytes, int]], signal: str) -> str | None:
        """Queue the parts of one request, all or none: ``"memory"``, ``"spool"``, or ``None`` when full.
        A disk error is raised (nothing of the request is queued then)."""
        size = sum(len(data) for data, _count in parts)
        ticket = _Ticket(parts, signal, size)
        with self._lock:
            if (
                not self.spool.head()
                and not self._pending
                and not self._committing  # a group on its way to disk is older: memory stays behind it
                and self._memory_bytes + size <= self.max_memory_bytes
            ):
                self._memory.extend(Item(data, count, signal) for data, count in parts)
                self._memory_bytes += size
                self._lock.notify()
                return "memory"
            if not self.spool.fits(self._pending_bytes + size):
                return None
            self._pending.append(ticket)
            self._pending_bytes += size
            while self._committing and not ticket.done:
                self._committed.wait()
            if not ticket.done:
                self._committing = True  # this caller commits the group (its own request among them)
        if not ticket.done:
            try:
                self._commit()
            finally:
                with self._lock:  # a caller still waiting commits the next group: each answers its own
                    self._committing = False
                    self._committed.notify_all()
        if ticket.error is not None:
            raise ticket.error
        return "spool"

    def _commit(self) -> None:
        """Write and fsync the waiting requests (the committing caller's among them) as one segment. One
        group per caller: the next group is committed by one of its own callers, so none waits for more
        than the fsync in progress and its own."""
        with self._lock:
            group, self._pending = self._pending, []
            first = self.spool.reserve_sequences(sum(len(ticket.parts) for ticket in group))
        records = [
            (first + n, ticket.signal, data, count)
            for n, (ticket, (data, count)) in enumerate(
                (ticket, part) for ticket in group for part in ticket.parts
            )
        ]
        path = self.spool.directory / f"{first:016d}.seg"
        error: BaseException | None = None
        try:
            offsets = _write_segment(path, records)
        except BaseException as failed:  # handed to every caller of the group
            error = failed
        with self._lock:
            self._pending_bytes -= sum(ticket.size for ticket in group)
            if error is None:
                self.spool.add_segment(path, records, offsets)
            answer = error if error is None or isinstance(error, Exception) else OSError("interrupted")
            for ticket in group:  # every caller answered: none returns as if its request were kept
                ticket.done, ticket.error = True, answer
        if error is not None and not isinstance(error, Exception):
            raise error  # KeyboardInterrupt and the like, in the committing thread only

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
        try:
            data = head.read()
        except OSError as error:  # removed under us, or unreadable: nothing to send, never a crash loop
            _logger.error("spool file %s unreadable, skipped: %s", head.path, error)
            self.spool.remove(head.sequence)
            return None
        return Item(data, head.count, head.signal, head.sequence)

    def done(self, item: Item) -> None:
        """The downstream took ``item`` (or it was dead-lettered): remove it."""
        if item.sequence is not None:
            self.spool.remove(item.sequence)
            return
        with self._lock:
            if self._memory and self._memory[0] is item:
                self._memory.popleft()
                self._memory_bytes -= len(item.data)

    def replace(self, item: Item, data: bytes, count: int) -> None:
        """What is left of a partly sent request replaces it (so a restart does not send the rest twice)."""
        if item.sequence is not None:
            try:
                self.spool.rewrite(item.sequence, data)
            except OSError as error:  # kept whole: the sent parts may go twice, nothing is lost
                _logger.warning("could not rewrite the partly sent request %d: %s", item.sequence, error)
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
