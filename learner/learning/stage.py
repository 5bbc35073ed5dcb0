"""What every learning stage shares: idempotence by input hash, JSON-lines progress, low CPU priority.

A stage writes its output, then its meta.json last: a folder with a meta.json is complete,
and a stage that finds one whose inputs hash the same skips its work (idempotence).
"""

import json
import os
import sys
import time
from pathlib import Path

from learner.files import read_meta


def done_with(folder: Path, inputs_hash: str) -> dict | None:
    """The stage's earlier meta if it already ran on exactly these inputs."""
    meta = read_meta(folder)
    return meta if meta and meta.get("inputs_hash") == inputs_hash else None


_events = None  # where JSON lines go once claim_stdout_for_events() ran


LEARNING_NICENESS = 19
"""The learning process's CPU priority: the lowest, so a reply the user waits for gets the cores."""


def yield_cpu_to_chat() -> None:
    """Run this process at the lowest CPU priority (where the OS has nice levels).

    Training keeps every core busy; at equal priority llama.cpp and torch fight over them and
    a reply streams many times slower (benchmarks/chat_during_learning.py). At the lowest
    priority the scheduler gives chat the cores whenever it wants them, and training takes
    the rest.
    """
    if hasattr(os, "nice"):
        os.nice(max(0, LEARNING_NICENESS - os.nice(0)))


def claim_stdout_for_events() -> None:
    """Keep stdout for JSON-lines events only: anything else printed (libraries print) goes to stderr."""
    global _events
    _events = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    sys.stdout.flush()
    os.dup2(2, 1)


def event(kind: str, **data) -> None:
    if _events is not None:
        _events.write(json.dumps({"event": kind, "time": round(time.time(), 3), **data}, default=str) + "\n")


def progress(stage: str, percent: float, message: str = "", **data) -> None:
    """A progress event for the cycle's reader, or a plain line on stderr when a stage runs alone."""
    if _events is not None:
        event("progress", stage=stage, percent=round(percent, 1), message=message, **data)
    else:
        print(f"[{stage} {percent:5.1f}%] {message}", file=sys.stderr, flush=True)
