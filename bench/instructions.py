"""Instruction counts per call: a measurement that noise cannot move.

Wall and CPU time on a shared 2-core machine drift 10-20 % between runs; the number of instructions a call
executes does not. Each (variant, call kind) runs in its own process under ``valgrind --tool=callgrind``
with collection off, except inside one C function -- libc's ``qsort``, entered through ``ctypes`` with a
Python comparison callback that makes the measured calls. So interpreter start-up, imports, set-up and
warm-up are not counted; only the ``calls`` measured calls are, plus one ``qsort`` frame (a few hundred
instructions, negligible at 30 calls of millions). ``PYTHONHASHSEED`` is fixed and address-space
randomisation is turned off for the measured process (``setarch -R``, where the machine has it) so runs
repeat: with random addresses, a 120-chunk stream's count moved by +-200k instructions between runs of the
same tree (object addresses feed ``id()``-keyed tables and allocator paths); without, by ~0.1k.

Used by ``bench/overhead.py --instructions``; needs ``valgrind`` (Debian package).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent import futures
from pathlib import Path


def run_counted(call: Callable[[], object], calls: int) -> None:
    """In the measured process: ``calls`` calls of ``call`` inside the one region callgrind counts."""
    libc = ctypes.CDLL(None)
    compare_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
    pair = (ctypes.c_int * 2)(1, 0)

    def compare(_a: object, _b: object) -> int:
        for _ in range(calls):
            call()
        return 0

    libc.qsort(pair, 2, ctypes.sizeof(ctypes.c_int), compare_type(compare))


def count(command: list[str], calls: int) -> float:
    """Instructions per call of ``command`` (a process that calls :func:`run_counted` once)."""
    if shutil.which("valgrind") is None:
        raise SystemExit("instruction counts need valgrind (apt-get install valgrind)")
    with tempfile.TemporaryDirectory(prefix="genai-otel-callgrind-") as workdir:
        out = Path(workdir) / "callgrind.out"
        valgrind = [
            "valgrind",
            "--tool=callgrind",
            "--collect-atstart=no",
            "--toggle-collect=qsort*",
            f"--callgrind-out-file={out}",
        ]
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        fixed_addresses = ["setarch", "-R"] if shutil.which("setarch") else []
        done = subprocess.run(fixed_addresses + valgrind + command, capture_output=True, text=True, env=env)
        if done.returncode != 0 or not out.exists():
            tail = (done.stderr or "").strip().splitlines()[-3:]
            raise RuntimeError(f"{' '.join(command[-6:])}: failed: {tail}")
        totals = next(line for line in out.read_text().splitlines() if line.startswith("totals:"))
    return int(totals.split()[1]) / calls


def count_all(jobs: dict[tuple[str, str], list[str]], calls: int, parallel: int = 2) -> dict[tuple, float]:
    """Instructions per call for every job (key -> command), ``parallel`` valgrind processes at a time."""
    with futures.ThreadPoolExecutor(parallel) as pool:
        running = {key: pool.submit(count, command, calls) for key, command in jobs.items()}
        results = {}
        for key, job in running.items():
            try:
                results[key] = job.result()
            except Exception as error:  # one variant failing leaves the rest of the table
                print(f"{key}: {error}", file=sys.stderr)
        return results
