"""Durable files: writes that are complete or absent, and the meta.json every artifact carries.

A write goes to a temporary file in the same folder, is fsynced, renamed over the target,
and the folder is fsynced too, so after a power loss the file is either the old one or
the new one, and the rename itself is on disk before anything points at it.
"""

import hashlib
import json
import os
import tempfile
from pathlib import Path

META = "meta.json"


def fsync_dir(path: Path) -> None:
    """Make a folder's entries (a rename, a new file) durable; a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def durable_replace(partial: Path, target: Path) -> None:
    """Move the finished file `partial` onto `target`, so that a crash leaves one or the other whole: its bytes
    fsync'd before the rename, the rename fsync'd after."""
    with open(partial, "rb") as f:
        os.fsync(f.fileno())
    os.replace(partial, target)
    fsync_dir(Path(target).parent)


PRIVATE = 0o600
"""Readable and writable by the user's account only: chats, settings and training data are nobody else's."""


def private_file(path: Path) -> Path:
    """Create `path` empty where it is missing, and make it PRIVATE whatever the umask (a file that
    exists keeps its content). Where files have no such modes (Windows) the folder's rights apply."""
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, PRIVATE))
    os.chmod(path, PRIVATE)
    return Path(path)


def fsync_tree(root: Path) -> None:
    """Make every file and folder under `root` durable: before anything points at a folder of copies."""
    for folder, _, names in os.walk(root, topdown=False):
        for name in names:
            with open(os.path.join(folder, name), "rb") as f:
                os.fsync(f.fileno())
        fsync_dir(Path(folder))


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same folder and an fsync'd rename.
    The file is PRIVATE (mkstemp creates it so, and the rename keeps it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_json(path: Path) -> dict | None:
    """A JSON file's content; None where it is missing or not JSON (a pointer never written, a torn copy)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError, UnicodeDecodeError):
        return None


def read_meta(folder: Path) -> dict | None:
    return read_json(Path(folder) / META)


def write_meta(folder: Path, meta: dict) -> dict:
    atomic_write_text(Path(folder) / META, json.dumps(meta, indent=2, sort_keys=True, default=str))
    return meta
