"""Where grokling keeps its data. The one place that decides it.

`GROKLING_HOME` overrides the platform's user data directory (tests point it at a
temporary folder; a user can point it at another disk).
"""

import os
import stat
import sys
from pathlib import Path

import platformdirs

APP_NAME = "grokling"


class DataDirError(OSError):
    """The data folder cannot be created or written to."""


PRIVATE_DIR = 0o700


def data_dir() -> Path:
    """The folder holding the database, settings, models and learning runs; created on demand, and
    open to the user's account only (PRIVATE_DIR, whatever the umask): it holds their chats."""
    override = os.environ.get("GROKLING_HOME")
    path = Path(override).expanduser() if override else Path(platformdirs.user_data_dir(APP_NAME))
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataDirError(f"grokling cannot keep its data in {path}: {e.strerror or e}. "
                           "Free the path, or set GROKLING_HOME to a writable folder.") from e
    if stat.S_IMODE(path.stat().st_mode) != PRIVATE_DIR:
        try:
            path.chmod(PRIVATE_DIR)
        except PermissionError:
            pass  # a folder another account owns (GROKLING_HOME): its owner decides who reads it
    return path


def db_path() -> Path:
    return data_dir() / "grokling.db"


def settings_path() -> Path:
    return data_dir() / "settings.json"


def welcome_marker() -> Path:
    """Exists once the window has shown its first-run welcome."""
    return data_dir() / "welcome-shown"


def prune_marker() -> Path:
    """Exists while a chat deleted during a learning cycle may still be in the learner's files: the cycle holding
    them prunes before it lets go of them (learner.userdata.forget_conversation)."""
    return data_dir() / "prune-pending"


def module_command(module: str) -> list[str]:
    """The command that runs `python -m module`, also from a PyInstaller bundle (no python there:
    the app's own executable runs it, see app/launcher.py)."""
    if getattr(sys, "frozen", False):
        return [sys.executable, f"--run-module={module}"]
    return [sys.executable, "-m", module]
