"""All of the user's data, out in one file or gone: `grokling data export|delete`, and one chat
gone everywhere grokling copied it (`forget_conversation`).

The export is a zip of a consistent copy of the database (SQLite's backup API, safe while
the app runs), the conversations as JSON lines, settings.json, each model's record and each
version's meta.json and training rows (the GGUF weights only with `with_models`, they are
large and derived; never a checkpoint, which is the model's, not the user's). Delete removes what grokling made in the data folder and nothing else (a user may
keep their own files there, GROKLING_HOME can be any folder), and only while no learning
cycle and no window is using it.

Forgetting a chat deletes it from the database (learner.store, which leaves no trace in the
files) and from what was made of it: the user's drops of its items, the topics mined from it,
the migration backups, which hold the whole database as it was, and every training row,
curriculum item and evaluation result sourced from one of its messages in the version,
dataset and run folders. What it cannot take back is what a learned version's weights
learned from it: that stays until a later cycle makes a version without it.
"""

import dataclasses
import fnmatch
import json
import os
import shutil
import sqlite3
import tempfile
import zipfile
from pathlib import Path

from filelock import FileLock, Timeout

from learner import paths
from learner.files import META, atomic_write_text, private_file
from learner.learning import collect, topics
from learner.settings import Settings
from learner.versions import learning_lock
from learner.store import Store
from learner.store.migrations import backups


class DataBusyError(RuntimeError):
    """A learning cycle is running or a window is open: the data cannot be deleted under it."""


MADE_BY_GROKLING = (
    "grokling.db", "grokling.db-wal", "grokling.db-shm", "grokling.db-journal",  # learner.store
    "grokling.db.before-*.bak",  # learner.store.migrations
    "settings.json", ".settings.json.*.tmp",  # learner.settings (a temp file left by a crash mid-save)
    "versions", "runs", "datasets", "base", "eval-cache",  # learner.versions, learner.learning
    "models",  # learner.models: added models, their conversions, downloads and versions
    "gpu",  # learner.gpu: who holds the GPU
    "learn.lock",  # learner.versions.learning_lock
    "windows",  # window_lock
    "welcome-shown",  # learner.paths.welcome_marker
    "prune-pending*",  # learner.paths.prune_marker, and its claim while a prune runs
)
"""What `delete_all` removes from the data folder (names or fnmatch patterns); anything else is the user's."""


def made_by_grokling(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in MADE_BY_GROKLING)


def window_lock() -> FileLock:
    """Held by an open window for as long as it is open, so its data is not deleted under it.

    One lock file per window process: a second window (or the CLI) beside the first is not
    refused, and each holds its own. A window that crashed leaves a file nobody holds.
    Released with `release_window_lock`."""
    folder = paths.data_dir() / "windows"
    folder.mkdir(exist_ok=True)
    return FileLock(folder / f"{os.getpid()}.lock")


def release_window_lock(lock: FileLock) -> None:
    """Let go of a window's lock as it closes, and remove its file (on Unix filelock leaves it:
    one more for every window ever opened)."""
    lock.release()
    Path(lock.lock_file).unlink(missing_ok=True)


def window_open() -> bool:
    """Whether a window holds its lock now."""
    for lock_file in (paths.data_dir() / "windows").glob("*.lock"):
        probe = FileLock(lock_file)
        try:
            probe.acquire(timeout=0)
        except Timeout:
            return True
        probe.release()
    return False


def export_all(target: Path, with_models: bool = False) -> list[str]:
    """Write the zip atomically (a temporary file renamed into place); the names it holds."""
    home = paths.data_dir()
    target = Path(target).expanduser().resolve()
    with tempfile.TemporaryDirectory() as scratch:
        snapshot = Path(scratch) / "grokling.db"
        source = sqlite3.connect(paths.db_path())
        copy = sqlite3.connect(snapshot)
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()
        partial = private_file(target.with_name(f".{target.name}.partial"))
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as z:
            z.write(snapshot, "grokling.db")
            with Store(snapshot) as store:
                z.writestr("conversations.jsonl", "".join(json.dumps(c, ensure_ascii=False) + "\n"
                                                          for c in store.export_conversations()))
            if paths.settings_path().exists():
                z.write(paths.settings_path(), "settings.json")
            for f in _version_files(home):
                if with_models or f.suffix != ".gguf":
                    z.write(f, str(f.relative_to(home)))
            names = z.namelist()
        partial.replace(target)
    return names


def _version_files(home: Path) -> list[Path]:
    """The embedded model's versions, and each added model's record and versions (their GGUFs too: the
    caller leaves them out unless asked); no adapter, checkpoint, download or converted base."""
    found = []
    left_out = {"adapter", "checkpoint", ".downloads", "base-gguf"}  # base-gguf: learner.learning.export.KEPT_FOLDER
    for root in (home / "versions", home / "models"):
        found += [f for f in sorted(root.rglob("*")) if f.is_file() and not left_out & set(f.relative_to(home).parts)
                  and not any(p.startswith(".") for p in f.relative_to(root).parts)]
    return found


def delete_all() -> tuple[Path, list[str]]:
    """Remove what grokling made in the data folder, and the folder once nothing else is left in it.

    Refuses while a learning cycle holds its lock or a window is open. Returns the folder and
    the names left in it (the user's own files)."""
    home = paths.data_dir()
    locks = [home / "learn.lock", home / "windows"]
    try:
        with learning_lock().acquire(timeout=0):
            if window_open():
                raise DataBusyError("the grokling window is open: quit it (File > Quit, or Quit in the tray), "
                                    "then delete")
            for entry in home.iterdir():
                if made_by_grokling(entry.name) and entry not in locks:
                    _remove(entry)
    except Timeout:
        raise DataBusyError("a learning cycle is running: cancel it first, then delete") from None
    for entry in locks:  # once released: Windows cannot delete a file that is held open
        _remove(entry)
    left = sorted(entry.name for entry in home.iterdir())
    if not left:
        home.rmdir()
    return home, left


def _remove(entry: Path) -> None:
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry)
    else:
        entry.unlink(missing_ok=True)


def forget_conversation(store: Store, conversation_id: int, settings: Settings) -> bool:
    """Delete a conversation from the database, its backups and all the learner made of it.

    Returns False where a learning cycle holds the learner's files: the database and the
    backups are clean already, and the cycle prunes the rest (`prune_after_cycle`) before it
    lets go of them. The marker that asks it to is set before the deletion and again after the
    lock was found held, so that a cycle ending at any point in between still prunes, or leaves
    the marker to the next one."""
    paths.prune_marker().touch()
    _forget_drops(store, conversation_id, settings)
    store.delete_conversation(conversation_id)
    if store.path is not None:
        for backup in backups(store.path):
            backup.unlink()
    try:
        with learning_lock().acquire(timeout=0):
            _prune_claiming_the_marker(store, settings)
    except Timeout:
        paths.prune_marker().touch()
        _forget_topics(store, settings)
        return False
    return True


def prune_after_cycle(store: Store, settings: Settings) -> None:
    """What a cycle does before it lets go of the learner's files: prune them if a chat was deleted while it held
    them (`forget_conversation` left the marker) or a prune was cut short. Only then: mining the topics again and
    reading every learner file took 0.2-0.7 s of every cycle (a home of 100 taught facts)."""
    if paths.prune_marker().exists() or _claimed_marker().exists():
        _prune_claiming_the_marker(store, settings)


def _claimed_marker() -> Path:
    return paths.prune_marker().with_name(paths.prune_marker().name + ".claimed")


def _prune_claiming_the_marker(store: Store, settings: Settings) -> None:
    """`prune_derived` under the learning lock, the marker claimed first (renamed), so that a deletion meanwhile sets
    it anew; the claim goes only once the prune is done, so a prune cut short (an error, a kill) is done again by
    the next cycle."""
    if paths.prune_marker().exists():
        os.replace(paths.prune_marker(), _claimed_marker())
    prune_derived(store, settings)
    _claimed_marker().unlink(missing_ok=True)


def prune_derived(store: Store, settings: Settings) -> None:
    """Remove everything the learner made of a message that is no longer in the database
    (deleted, its conversation with it): the topics mined from it, and its rows and items in
    the version, dataset and run folders.

    Versions and runs keep their files, rewritten without those rows and items (their counts
    and metrics stay: they describe the training that happened). A dataset folder is named by
    its rows' hash, so one holding such a row is deleted rather than rewritten: it is a cache
    the next cycle rebuilds from the database."""
    _forget_topics(store, settings)
    home = paths.data_dir()
    kept = store.message_conversations()
    for folder in ("versions", "models", "runs"):
        for f in sorted(_learner_files(home / folder)):
            _prune_file(f, kept)
    for dataset in sorted((home / "datasets").glob("*")):
        if any(_made_of_gone(_read_rows(f), kept) for f in _learner_files(dataset)):
            shutil.rmtree(dataset)


def _forget_drops(store: Store, conversation_id: int, settings: Settings) -> None:
    """Undo the user's drops of this conversation's items (a drop keeps the item's question and
    answer), unless another conversation teaches the same item: the drop is still theirs there.
    Before the delete: the items are found through the conversation's messages."""
    found = collect.feedback_items(store, dataclasses.replace(settings, learn_from_chats=True))
    here = {i.key for i in found if i.source.conversation_id == conversation_id}
    elsewhere = {i.key for i in found if i.source.conversation_id != conversation_id}
    for key in here - elsewhere:
        collect.restore(store, key)


def _forget_topics(store: Store, settings: Settings) -> None:
    """Mine the topics again: one that only deleted messages mentioned goes, and its name with it
    from the database file (the checkpoint)."""
    topics.mine(store, settings)
    store.checkpoint()


def _learner_files(folder: Path) -> list[Path]:
    """The files the learner writes its rows, items and results into: JSON lines and meta.json
    (not the tokenizer and trainer JSON that come with weights)."""
    return [f for f in folder.rglob("*") if f.is_file() and (f.suffix == ".jsonl" or f.name == META)]


def _read_rows(path: Path) -> list:
    """A .json file as a one-element list, a .jsonl file as its rows."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return [json.loads(text)]
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _prune_file(path: Path, kept: dict[int, int]) -> None:
    rows = _read_rows(path)
    if not _made_of_gone(rows, kept):
        return
    if path.suffix == ".jsonl":
        atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n"
                                        for r in rows if not _made_of_gone(r, kept)))
        return
    pruned = _without_gone(rows[0], kept)
    if _made_of_gone(pruned, kept):  # the file is about the message itself, not a list holding it
        path.unlink()
    else:
        atomic_write_text(path, json.dumps(pruned, indent=2, sort_keys=True, ensure_ascii=False))


def _without_gone(value, kept: dict[int, int]):
    """`value` less every list element (an item, a result, a conflict) made of a message that is gone."""
    if isinstance(value, list):
        return [_without_gone(v, kept) for v in value if not _made_of_gone(v, kept)]
    if isinstance(value, dict):
        return {k: _without_gone(v, kept) for k, v in value.items()}
    return value


def _made_of_gone(value, kept: dict[int, int]) -> bool:
    """Does `value` hold a source (learner.items.Provenance) whose message is gone? A message id
    SQLite gave again to a new message in another conversation does not count as the old one."""
    if isinstance(value, list):
        return any(_made_of_gone(v, kept) for v in value)
    if not isinstance(value, dict):
        return False
    message_id = value.get("message_id")
    if isinstance(message_id, int) and "kind" in value:
        if message_id not in kept or value.get("conversation_id", kept[message_id]) != kept[message_id]:
            return True
    return any(_made_of_gone(v, kept) for v in value.values())
