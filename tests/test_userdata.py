"""`grokling data delete`: grokling's own files go, the user's stay, and never under an open window."""

import os
import re
import stat
import subprocess
from pathlib import Path

from app.main import create_window
from learner import userdata, versions
from learner.settings import Settings
from learner.store import Store
from test_cli import GROKLING


def test_data_delete_removes_only_what_grokling_made(grokling_home, promote_embedded):
    store = Store()
    store.add_user_message(store.new_conversation(), "Remember my tea: oolong")
    store.close()
    promote_embedded()
    (grokling_home / "thesis.docx").write_bytes(b"years of work")
    (grokling_home / "photos").mkdir()
    (grokling_home / "photos" / "cat.jpg").write_bytes(b"\xff\xd8")

    deleted = subprocess.run([GROKLING, "data", "delete", "--yes"], capture_output=True, text=True)

    assert deleted.returncode == 0, deleted.stderr
    assert sorted(p.relative_to(grokling_home).as_posix() for p in grokling_home.rglob("*")) == [
        "photos", "photos/cat.jpg", "thesis.docx"]
    assert "left 2 files or folders that grokling did not make" in deleted.stdout


def test_data_delete_removes_the_folder_once_nothing_else_is_in_it(grokling_home, promote_embedded):
    Store().close()
    promote_embedded()
    deleted = subprocess.run([GROKLING, "data", "delete", "--yes"], capture_output=True, text=True)
    assert deleted.returncode == 0, deleted.stderr
    assert not grokling_home.exists()


def test_data_delete_refuses_while_the_window_is_open(qtbot, grokling_home):
    window = create_window(start_scheduler=False)
    qtbot.addWidget(window)

    refused = subprocess.run([GROKLING, "data", "delete", "--yes"], capture_output=True, text=True)

    assert refused.returncode == 5 and "the grokling window is open" in refused.stderr
    assert (grokling_home / "grokling.db").exists()
    window.shutdown()
    assert list((grokling_home / "windows").iterdir()) == []  # its lock file goes with it
    deleted = subprocess.run([GROKLING, "data", "delete", "--yes"], capture_output=True, text=True)
    assert deleted.returncode == 0, deleted.stderr
    assert not grokling_home.exists()


def test_data_delete_refuses_while_a_cycle_runs(grokling_home):
    with versions.learning_lock():
        refused = subprocess.run([GROKLING, "data", "delete", "--yes"], capture_output=True, text=True)
    assert refused.returncode == 5 and "a learning cycle is running" in refused.stderr


def test_delete_knows_every_name_the_code_makes_in_the_data_folder():
    source = "\n".join(p.read_text() for p in Path(userdata.__file__).parent.rglob("*.py"))
    made = set(re.findall(r'data_dir\(\) / "([^"]+)"', source))
    assert made >= {"versions", "runs", "datasets", "base", "eval-cache"}
    assert all(userdata.made_by_grokling(name) for name in made), made


def test_the_data_folder_and_the_files_grokling_writes_are_private(grokling_home, tmp_path):
    previous = os.umask(0o022)  # the usual umask: files readable by every account on the machine
    try:
        listed = subprocess.run([GROKLING, "topics"], capture_output=True, text=True)  # opens the database
        assert listed.returncode == 0, listed.stderr
        Settings(temperature=0.5).save()
        exported = subprocess.run([GROKLING, "data", "export", str(tmp_path / "mine.zip")], capture_output=True, text=True)
        assert exported.returncode == 0, exported.stderr
    finally:
        os.umask(previous)
    assert stat.S_IMODE(grokling_home.stat().st_mode) == 0o700
    written = [grokling_home / "grokling.db", grokling_home / "settings.json", tmp_path / "mine.zip",
               *grokling_home.glob("grokling.db-*")]
    assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in written} == {f.name: 0o600 for f in written}
