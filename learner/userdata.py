"""All of the user's data, out in one file or gone: `grokling data export|delete`.

The export is a zip of a consistent copy of the database (SQLite's backup API, safe while
the app runs), the conversations as JSON lines, settings.json, and each version's
meta.json and training rows (the GGUF weights only with `with_models`, they are large and
derived). Delete removes what grokling made in the data folder and nothing else (a user may
keep their own files there, GROKLING_HOME can be any folder), and only while no learning
cycle and no window is using it.
"""

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
from learner.versions import learning_lock
from learner.store import Store


class DataBusyError(RuntimeError):
    """A learning cycle is running or a window is open: the data cannot be deleted under it."""


MADE_BY_GROKLING = (
    "grokling.db", "grokling.db-wal", "grokling.db-shm", "grokling.db-journal",  # learner.store
    "grokling.db.before-*.bak",  # learner.store.migrations
    "settings.json", ".settings.json.*.tmp",  # learner.settings (a temp file left by a crash mid-save)
    "versions", "runs", "datasets", "base", "eval-cache",  # learner.versions, learner.learning
    "learn.lock",  # learner.versions.learning_lock
    "windows",  # window_lock
)
"""What `delete_all` removes from the data folder (names or fnmatch patterns); anything else is the user's."""


def made_by_grokling(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in MADE_BY_GROKLING)


def window_lock() -> FileLock:
    """Held by an open window for as long as it is open, so its data is not deleted under it.

    One lock file per window process: a second window (or the CLI) beside the first is not
    refused, and each holds its own. A window that crashed leaves a file nobody holds."""
    folder = paths.data_dir() / "windows"
    folder.mkdir(exist_ok=True)
    return FileLock(folder / f"{os.getpid()}.lock")


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
        partial = target.with_name(f".{target.name}.partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as z:
            z.write(snapshot, "grokling.db")
            with Store(snapshot) as store:
                z.writestr("conversations.jsonl", "".join(json.dumps(c, ensure_ascii=False) + "\n"
                                                          for c in store.export_conversations()))
            if paths.settings_path().exists():
                z.write(paths.settings_path(), "settings.json")
            for f in sorted((home / "versions").rglob("*")) if (home / "versions").exists() else []:
                if f.is_file() and (with_models or f.suffix != ".gguf") and "adapter" not in f.parts:
                    z.write(f, str(f.relative_to(home)))
            names = z.namelist()
        partial.replace(target)
    return names


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
