"""All of the user's data, out in one file or gone: `grokling data export|delete`.

The export is a zip of a consistent copy of the database (SQLite's backup API, safe while
the app runs), the conversations as JSON lines, settings.json, and each version's
meta.json and training rows (the GGUF weights only with `with_models`, they are large and
derived). Delete removes the whole data folder, after taking the learning lock so no
cycle is writing into it.
"""

import json
import shutil
import sqlite3
import tempfile
import zipfile
from pathlib import Path

from filelock import Timeout

from learner import paths
from learner.versions import learning_lock
from learner.store import Store


class DataBusyError(RuntimeError):
    """A learning cycle is running: the data cannot be deleted under it."""


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


def delete_all() -> Path:
    """Remove the data folder; refuses while a learning cycle holds its lock."""
    home = paths.data_dir()
    try:
        with learning_lock().acquire(timeout=0):
            shutil.rmtree(home)
    except Timeout:
        raise DataBusyError("a learning cycle is running: cancel it first, then delete") from None
    return home
