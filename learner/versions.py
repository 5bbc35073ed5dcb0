"""Model versions: one lineage of immutable folders per model, and one atomic pointer saying which is live.

    <lineage>/v1/  model.gguf, adapter/, train.jsonl, meta.json (metrics, hashes, timings)
    <lineage>/live.json  {"version": "v1", "previous": "base", "changed_at": ...}

Each model (learner.models) has its own lineage: the versions trained from it, its live
pointer and the candidates waiting for approval. The embedded model's lineage is the
`versions/` folder it always had; an added model's is `models/<id>/versions/`. A version
folder is assembled under a hidden name and renamed into place, so it exists whole or
not at all; going live is an atomic rewrite of live.json. "base" is the model as it was
added (its own GGUF) and is always there to roll back to. Verdicts and replies name a
version with its model: "<model id>/<version>" (`Lineage.key`).
"""

import json
import shutil
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout

from learner import paths
from learner.files import atomic_write_text, fsync_dir, fsync_tree, read_json, read_meta, write_meta
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
    learned_keys: list[str] = field(default_factory=list)
    """Every item this version knows (learner.items keys): what it was trained on, and what the version it
    continued knew (learner.learning.strategy)."""
    strategy: str = ""
    """How it was trained: from the base, or continuing the live version (and why)."""

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
    """One learning cycle at a time, and nothing that rewrites versions or models (rollback, delete, remove)
    while one runs."""
    return FileLock(paths.data_dir() / "learn.lock")


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


@contextmanager
def user_change():
    """The user's accept, reject, rollback or model removal: never under a running cycle, which could go
    live over it or train from what is removed."""
    try:
        with learning_lock().acquire(timeout=0):
            yield
    except Timeout:
        raise VersionError("a learning cycle is running: cancel it (or let it finish), then try again") from None


ROLLED_BACK = 100
"""The code a rollback records among the learning verdicts (the cycle's exit statuses are below it)."""


@dataclass(frozen=True)
class Lineage:
    """One model's versions. Every method reads the folder afresh: another process (a cycle, the CLI)
    may have changed it."""

    model: str
    """The id of the model the versions were trained from (learner.models)."""
    root: Path

    @property
    def folder(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root

    def key(self, version: str) -> str:
        """How verdicts and stored replies name a version of this model: "<model>/<version>"."""
        return f"{self.model}/{version}"

    @property
    def _pointer(self) -> Path:
        return self.folder / "live.json"

    @property
    def _pending(self) -> Path:
        return self.folder / "pending.json"

    def all_versions(self) -> list[Version]:
        """Complete versions, oldest first (a folder without meta.json is an interrupted promotion)."""
        found = []
        if not self.root.is_dir():
            return found
        for folder in self.root.glob("v*"):
            if folder.is_dir() and folder.name[1:].isdigit() and (meta := read_meta(folder)) \
                    and (folder / "model.gguf").exists():
                found.append(Version(folder.name, folder, meta))
        return sorted(found, key=lambda v: v.number)

    def live_pointer(self) -> dict:
        return read_json(self.root / "live.json") or {"version": BASE, "previous": None}

    def live_name(self) -> str:
        return self.live_pointer().get("version", BASE)

    def live_version(self) -> Version | None:
        """The live learned version, or None when the model's base is live."""
        name = self.live_name()
        return next((v for v in self.all_versions() if v.name == name), None)

    def set_live(self, name: str) -> None:
        if name != BASE and name not in {v.name for v in self.all_versions()}:
            raise VersionError(f"no version {name!r}; see `grokling versions`")
        current = self.live_name()
        atomic_write_text(self._pointer, json.dumps({"version": name, "previous": current, "changed_at": time.time()}))

    def promote(self, gguf: Path, adapter: Path, dataset: Path, record: VersionRecord, keep: int,
                make_live: bool = True, budget_bytes: int | None = None) -> Version:
        """Assemble a new version folder from a cycle's outputs, make it live (or leave it awaiting
        the user's approval), prune old ones. The caller holds the learning lock.

        Every file and folder of the version is on disk before live.json points at it. If the
        live version is no longer the one the cycle started from (`record.previous`), the new
        version is kept but not made live: what the user chose meanwhile wins.
        """
        name = f"v{max([v.number for v in self.all_versions()], default=0) + 1}"
        staging = self.folder / f".{name}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        shutil.copy2(gguf, staging / "model.gguf")
        shutil.copytree(adapter, staging / "adapter", ignore=shutil.ignore_patterns("trainer"))
        shutil.copy2(dataset / "train.jsonl", staging / "train.jsonl")
        write_meta(staging, {**record.to_meta(), "version": name, "created_at": time.time()})
        fsync_tree(staging)
        staging.rename(self.folder / name)
        fsync_dir(self.folder)
        if make_live and self.live_name() != record.previous:
            raise VersionError(f"{name} was kept but not made live: the live version changed during the cycle "
                               f"(it started from {record.previous})")
        if make_live:
            self.set_live(name)
        else:
            atomic_write_text(self._pending, json.dumps(sorted(set(self.pending_names()) | {name})))
        self.prune(keep, budget_bytes)
        return next(v for v in self.all_versions() if v.name == name)

    def prune(self, keep: int, budget_bytes: int | None = None) -> list[str]:
        """Remove the oldest versions beyond `keep` or while all of them exceed `budget_bytes`;
        never the live one, the one before it (the rollback) or one awaiting approval."""
        pointer = self.live_pointer()
        protected = {pointer.get("version"), pointer.get("previous"), *self.pending_names()}
        removable = [v for v in self.all_versions() if v.name not in protected]
        removed = []

        def over_budget() -> bool:
            return budget_bytes is not None and sum(folder_bytes(v.path) for v in self.all_versions()) > budget_bytes

        while (len(self.all_versions()) > keep or over_budget()) and removable:
            victim = removable.pop(0)
            shutil.rmtree(victim.path)
            removed.append(victim.name)
        for stale in self.folder.glob(".v*.partial"):  # left by a promotion that was killed
            shutil.rmtree(stale, ignore_errors=True)
        return removed

    def pending_names(self) -> list[str]:
        return read_json(self.root / "pending.json") or []

    def awaiting_approval(self) -> list[Version]:
        """Candidates that passed the gate and wait for the user (the `require_approval` setting)."""
        pending = set(self.pending_names())
        return [v for v in self.all_versions() if v.name in pending]

    def accept(self, name: str) -> None:
        """The user approves a waiting candidate: it goes live."""
        with user_change():
            if name not in self.pending_names():
                raise VersionError(f"{name!r} is not a version awaiting approval")
            self.set_live(name)
            atomic_write_text(self._pending, json.dumps([n for n in self.pending_names() if n != name]))

    def reject(self, name: str) -> None:
        """The user turns a waiting candidate down: it is deleted (its data stays judged: see the cycle)."""
        with user_change():
            if name not in self.pending_names():
                raise VersionError(f"{name!r} is not a version awaiting approval")
            shutil.rmtree(self.folder / name, ignore_errors=True)
            atomic_write_text(self._pending, json.dumps([n for n in self.pending_names() if n != name]))

    def rollback(self, store, name: str | None = None) -> str:
        """Make `name` live (default: the version before the live one, else base). Returns it.

        The feedback given so far counts as judged against that version of this model: the
        scheduler does not relearn at once what the user just rolled back; new feedback starts
        the next cycle.
        """
        from learner.store import learning as learning_store

        with user_change():
            if name is None:
                live = self.live_name()
                if live == BASE:
                    raise VersionError("the base model is live: there is nothing older to roll back to")
                older = [v.name for v in self.all_versions() if v.number < int(live[1:])]
                name = older[-1] if older else BASE
            self.set_live(name)
            learning_store.record_verdict(store, self.key(name), ROLLED_BACK, f"rolled back to {name}",
                                          learning_store.last_feedback_id(store))
        return name
