"""What every learning stage shares: its meta.json, input hashing, and JSON-lines progress.

A stage writes its output, then its meta.json last: a folder with a meta.json is complete,
and a stage that finds one whose inputs hash the same skips its work (idempotence).
"""

import hashlib
import json
import os
import sys
import time
from pathlib import Path

from learner.atomic import atomic_write_text

META = "meta.json"


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_meta(folder: Path) -> dict | None:
    try:
        return json.loads((Path(folder) / META).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def write_meta(folder: Path, meta: dict) -> dict:
    atomic_write_text(Path(folder) / META, json.dumps(meta, indent=2, sort_keys=True, default=str))
    return meta


def done_with(folder: Path, inputs_hash: str) -> dict | None:
    """The stage's earlier meta if it already ran on exactly these inputs."""
    meta = read_meta(folder)
    return meta if meta and meta.get("inputs_hash") == inputs_hash else None


def progress(stage: str, percent: float, message: str = "", **data) -> None:
    """One JSON line on stdout when run by the cycle (GROKLING_PROGRESS=jsonl), else a plain line on stderr."""
    if os.environ.get("GROKLING_PROGRESS") == "jsonl":
        event = {"event": "progress", "stage": stage, "percent": round(percent, 1), "message": message,
                 "time": time.time(), **data}
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()
    else:
        print(f"[{stage} {percent:5.1f}%] {message}", file=sys.stderr, flush=True)
