"""Model versions: immutable folders, and one atomic pointer saying which is live.

    versions/v1/  model.gguf, adapter/, train.jsonl, meta.json (metrics, hashes, timings)
    versions/live.json  {"version": "v1", "previous": "base", "changed_at": ...}

A version folder is assembled under a hidden name and renamed into place, so it exists
whole or not at all; going live is an atomic rewrite of live.json. "base" is the
embedded model (or the settings' model) and is always there to roll back to.
"""

import json
import shutil
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout

from learner import paths
from learner.files import atomic_write_text, fsync_dir, fsync_tree, read_meta, write_meta
from learner.items import ItemResult

BASE = "base"


class VersionError(LookupError):
    pass


@dataclass(frozen=True)
class VersionRecord:
    """How a version was made and how it scored: its meta.json (with `version` and `created_at`)."""

    metrics: dict
    """learner.items.Metrics.to_dict(): shares and counts."""
    results: tuple[ItemResult, ...]
    """Each taught item's answers after (and before), as the evaluation asked them."""
    timings: dict
    curriculum_sha256: str
    dataset_sha256: str
    dataset_rows: int
    dataset_kinds: dict
    corrections: int
    positives: int
    facts: int
    last_feedback_id: int | None
    """The watermark: feedback up to this row is what this version learned (or left waiting)."""
    articles: list[dict]
    base: str
    quant: str
    train: dict
    previous: str | None
    gate: str = ""
    """The gate's reason, with its counts."""
    conflicts: list[dict] = field(default_factory=list)

    def to_meta(self) -> dict:
        meta = asdict(self)
        meta["items"] = [r.to_dict() for r in self.results]
        del meta["results"]
        return meta


@dataclass(frozen=True)
class Version:
    name: str
    path: Path
    meta: dict

    @property
    def results(self) -> list[ItemResult]:
        return [ItemResult.from_dict(d) for d in self.meta.get("items", [])]

    @property
    def gguf(self) -> Path:
        return self.path / "model.gguf"

    @property
    def number(self) -> int:
        return int(self.name[1:])


def learning_lock() -> FileLock:
    """One learning cycle at a time, and nothing that rewrites the versions (rollback, delete) while one runs."""
    return FileLock(paths.data_dir() / "learn.lock")


def versions_dir() -> Path:
    path = paths.data_dir() / "versions"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _pointer() -> Path:
    return versions_dir() / "live.json"


def all_versions() -> list[Version]:
    """Complete versions, oldest first (a folder without meta.json is an interrupted promotion)."""
    found = []
    for folder in versions_dir().glob("v*"):
        if folder.is_dir() and folder.name[1:].isdigit() and (meta := read_meta(folder)) and (folder / "model.gguf").exists():
            found.append(Version(folder.name, folder, meta))
    return sorted(found, key=lambda v: v.number)


def live_pointer() -> dict:
    try:
        return json.loads(_pointer().read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {"version": BASE, "previous": None}


def live_version() -> Version | None:
    """The live learned version, or None when the base model is live."""
    name = live_pointer().get("version", BASE)
    return next((v for v in all_versions() if v.name == name), None)


def set_live(name: str) -> None:
    if name != BASE and name not in {v.name for v in all_versions()}:
        raise VersionError(f"no version {name!r}; see `grokling versions`")
    current = live_pointer().get("version", BASE)
    atomic_write_text(_pointer(), json.dumps({"version": name, "previous": current, "changed_at": time.time()}))


def promote(gguf: Path, adapter: Path, dataset: Path, record: VersionRecord, keep: int, make_live: bool = True,
            budget_bytes: int | None = None) -> Version:
    """Assemble a new version folder from a cycle's outputs, make it live (or leave it awaiting
    the user's approval), prune old ones. The caller holds the learning lock.

    Every file and folder of the version is on disk before live.json points at it. If the
    live version is no longer the one the cycle started from (`record.previous`), the new
    version is kept but not made live: what the user chose meanwhile wins.
    """
    name = f"v{max([v.number for v in all_versions()], default=0) + 1}"
    staging = versions_dir() / f".{name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    shutil.copy2(gguf, staging / "model.gguf")
    shutil.copytree(adapter, staging / "adapter", ignore=shutil.ignore_patterns("trainer"))
    shutil.copy2(dataset / "train.jsonl", staging / "train.jsonl")
    write_meta(staging, {**record.to_meta(), "version": name, "created_at": time.time()})
    fsync_tree(staging)
    staging.rename(versions_dir() / name)
    fsync_dir(versions_dir())
    if make_live and live_pointer().get("version", BASE) != record.previous:
        raise VersionError(f"{name} was kept but not made live: the live version changed during the cycle "
                           f"(it started from {record.previous})")
    if make_live:
        set_live(name)
    else:
        atomic_write_text(_pending(), json.dumps(sorted(set(pending_names()) | {name})))
    prune(keep, budget_bytes)
    return next(v for v in all_versions() if v.name == name)


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def prune(keep: int, budget_bytes: int | None = None) -> list[str]:
    """Remove the oldest versions beyond `keep` or while all of them exceed `budget_bytes`;
    never the live one, the one before it (the rollback) or one awaiting approval."""
    pointer = live_pointer()
    protected = {pointer.get("version"), pointer.get("previous"), *pending_names()}
    removable = [v for v in all_versions() if v.name not in protected]
    removed = []

    def over_budget() -> bool:
        return budget_bytes is not None and sum(folder_bytes(v.path) for v in all_versions()) > budget_bytes

    while (len(all_versions()) > keep or over_budget()) and removable:
        victim = removable.pop(0)
        shutil.rmtree(victim.path)
        removed.append(victim.name)
    for stale in versions_dir().glob(".v*.partial"):  # left by a promotion that was killed
        shutil.rmtree(stale, ignore_errors=True)
    return removed


def _pending() -> Path:
    return versions_dir() / "pending.json"


def pending_names() -> list[str]:
    try:
        return json.loads(_pending().read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return []


def awaiting_approval() -> list[Version]:
    """Candidates that passed the gate and wait for the user (the `require_approval` setting)."""
    pending = set(pending_names())
    return [v for v in all_versions() if v.name in pending]


@contextmanager
def _user_change():
    """The user's accept, reject or rollback: never under a running cycle, which could go live over it."""
    try:
        with learning_lock().acquire(timeout=0):
            yield
    except Timeout:
        raise VersionError("a learning cycle is running: cancel it (or let it finish), then try again") from None


def accept(name: str) -> None:
    """The user approves a waiting candidate: it goes live."""
    with _user_change():
        if name not in pending_names():
            raise VersionError(f"{name!r} is not a version awaiting approval")
        set_live(name)
        atomic_write_text(_pending(), json.dumps([n for n in pending_names() if n != name]))


def reject(name: str) -> None:
    """The user turns a waiting candidate down: it is deleted (its data stays judged: see the cycle)."""
    with _user_change():
        if name not in pending_names():
            raise VersionError(f"{name!r} is not a version awaiting approval")
        shutil.rmtree(versions_dir() / name, ignore_errors=True)
        atomic_write_text(_pending(), json.dumps([n for n in pending_names() if n != name]))


ROLLED_BACK = 100
"""The code a rollback records among the learning verdicts (the cycle's exit statuses are below it)."""


def rollback(store, name: str | None = None) -> str:
    """Make `name` live (default: the version before the live one, else base). Returns it.

    The feedback given so far counts as judged against that version: the scheduler does not
    relearn at once what the user just rolled back; new feedback starts the next cycle.
    """
    from learner.store import learning as learning_store

    with _user_change():
        if name is None:
            live = live_pointer().get("version", BASE)
            if live == BASE:
                raise VersionError("the base model is live: there is nothing older to roll back to")
            older = [v.name for v in all_versions() if v.number < int(live[1:])]
            name = older[-1] if older else BASE
        set_live(name)
        learning_store.record_verdict(store, name, ROLLED_BACK, f"rolled back to {name}",
                                      learning_store.last_feedback_id(store))
    return name
