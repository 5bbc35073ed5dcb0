"""Installed as `sitecustomize` in the processes a crash test starts: finds where each learning stage
writes, and kills the whole process group at a chosen one of those writes.

An audit hook sees every file the process opens for writing, every rename and every copy.
Each write under GROKLING_HOME is attributed to the stage whose output it is (by its path) and
appended to the log GROKLING_WRITE_LOG, shared by the cycle and the converter it starts. With
GROKLING_KILL_AT="stage:n" the n-th write of that stage kills the process group with SIGKILL,
as abruptly as a power cut or the OOM killer: no cleanup, no finally blocks.
"""

import os
import re
import signal
import sys

HOME = os.environ.get("GROKLING_HOME", "")
LOG = os.environ.get("GROKLING_WRITE_LOG", "")
KILL_STAGE, _, KILL_AT = os.environ.get("GROKLING_KILL_AT", "").partition(":")
STAGE_OF_PATH = [  # the first that matches names the stage
    (r"/runs/[^/]+/knowledge/", "knowledge"), (r"/runs/[^/]+/collect/", "collect"), (r"/datasets/", "dataset"),
    (r"/base/", "checkpoint"), (r"/runs/[^/]+/adapter/", "train"), (r"/runs/[^/]+/export/", "export"),
    (r"/runs/[^/]+/eval/", "evaluate"), (r"/eval-cache/\.?base-distributions-", "train"), (r"/eval-cache/", "retention"),
    (r"/versions/", "promote"),
]
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND
_busy = False


def _written_path(event: str, args: tuple) -> str | None:
    if event == "open":
        path, mode, flags = args
        writes = any(c in mode for c in "wax+") if isinstance(mode, str) else bool(flags & WRITE_FLAGS)
        return str(path) if writes and isinstance(path, (str, os.PathLike)) else None
    if event in ("os.rename", "shutil.copyfile"):
        return str(args[1])
    return None


def _hook(event: str, args: tuple) -> None:
    global _busy
    if _busy or not HOME or not LOG:
        return
    path = _written_path(event, args)
    if not path or not os.path.abspath(path).startswith(HOME):
        return
    stage = next((name for pattern, name in STAGE_OF_PATH if re.search(pattern, path)), None)
    if stage is None:
        return
    _busy = True
    try:
        with open(LOG, "a+", encoding="utf-8") as log:
            log.write(f"{stage} {event} {path}\n")
            log.seek(0)
            count = sum(line.split(" ", 1)[0] == stage for line in log)
    finally:
        _busy = False
    if stage == KILL_STAGE and count == int(KILL_AT):
        os.killpg(os.getpgid(0), signal.SIGKILL)


if HOME and LOG:
    sys.addaudithook(_hook)
