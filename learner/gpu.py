"""Who has the GPU: the chat engine's offloaded layers, or a learning cycle's training.

Chat offloads layers where llama-cpp-python was built with GPU support
(`llama_supports_gpu_offload`) as the settings say (`n_gpu_layers`). Training needs the VRAM
most (QLoRA on a 1B model wants several GB beside the chat model's), so for its stages a cycle
borrows the GPU, through two kinds of small files in the data dir:

    gpu/loan.json        {"pid": <the cycle>, "since": ...}: written by the cycle, removed when done
    gpu/holders/<pid>    one per process whose chat engine has layers on the GPU (the window's)

A holder that sees the loan moves its engine to the CPU and removes its file (the window's
ModelHost polls for it as it polls for new versions; a reply in progress finishes first); the
cycle waits until no holder is left (at most LEND_TIMEOUT_S: then it trains anyway and says
so), and while it holds the loan its own llama.cpp engines (replay, evaluate) may use the GPU.
When the loan file goes, holders move back. Files are used, not the cycle's JSON lines, so the
same works for a cycle started by `grokling learn --now` beside an open window. A loan or a
holder whose process is gone counts for nothing: a killed cycle cannot keep chat on the CPU.
Without GPU support in llama.cpp, chat never holds the GPU and none of this happens.
"""

import functools
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from learner import paths
from learner.files import atomic_write_text, read_json

LEND_TIMEOUT_S = 60.0
"""How long a cycle waits for chat to leave the GPU (a window polls every 2 s; moving a 1B model to the
CPU takes seconds)."""
POLL_S = 0.5


@functools.cache
def offload_supported() -> bool:
    """Whether this llama.cpp build can put layers on a GPU (built with CUDA, Metal, Vulkan…)."""
    import llama_cpp

    return bool(llama_cpp.llama_supports_gpu_offload())


def _folder() -> Path:
    path = paths.data_dir() / "gpu"
    (path / "holders").mkdir(parents=True, exist_ok=True)
    return path


def _alive(pid) -> bool:
    return isinstance(pid, int) and psutil.pid_exists(pid)


def borrower() -> int | None:
    """The pid of the cycle that borrowed the GPU, if one did and still runs."""
    loan = read_json(_folder() / "loan.json") or {}
    pid = loan.get("pid")
    return pid if _alive(pid) else None


def chat_layers(settings) -> int:
    """The layers a chat engine offloads now: none without GPU support, none while a cycle borrows the
    GPU, else the settings' n_gpu_layers (None: all, which llama.cpp writes -1)."""
    if not offload_supported() or borrower() is not None:
        return 0
    return -1 if settings.n_gpu_layers is None else settings.n_gpu_layers


def learning_layers() -> int:
    """The layers the cycle's own engines (replay, evaluate) offload: all, where llama.cpp can."""
    return -1 if offload_supported() else 0


def hold() -> None:
    """This process's chat engine has layers on the GPU."""
    atomic_write_text(_folder() / "holders" / str(os.getpid()), json.dumps({"since": time.time()}))


def release() -> None:
    """This process's chat engine left the GPU (moved to the CPU, or closed)."""
    (_folder() / "holders" / str(os.getpid())).unlink(missing_ok=True)


def holders() -> list[int]:
    """Other live processes with chat layers on the GPU; files of dead ones are removed."""
    found = []
    for file in (_folder() / "holders").iterdir():
        pid = int(file.name) if file.name.isdigit() else None
        if pid == os.getpid():
            continue
        if _alive(pid):
            found.append(pid)
        else:
            file.unlink(missing_ok=True)
    return found


@contextmanager
def lent_to_training(enabled: bool, report: Callable[[str], None] = lambda message: None,
                     timeout: float = LEND_TIMEOUT_S) -> Iterator[list[int]]:
    """Borrow the GPU for training: ask chat engines to leave it and wait for them (at most `timeout`).
    Yields the pids that did not leave in time (empty: the GPU is training's). Returned on exit, however
    the block ends. With `enabled` false (no CUDA), nothing is written."""
    if not enabled:
        yield []
        return
    loan = _folder() / "loan.json"
    atomic_write_text(loan, json.dumps({"pid": os.getpid(), "since": time.time()}))
    try:
        deadline = time.monotonic() + timeout
        if waiting := holders():
            report(f"waiting for chat to move off the GPU ({len(waiting)} window(s))")
        while (waiting := holders()) and time.monotonic() < deadline:
            time.sleep(POLL_S)
        if waiting:
            report(f"chat still holds GPU memory after {timeout:.0f} s (process {', '.join(map(str, waiting))}): "
                   "training anyway")
        yield waiting
    finally:
        loan.unlink(missing_ok=True)
