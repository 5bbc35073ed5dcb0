"""`grokling data delete`: grokling's own files go, the user's stay, and never under an open window."""

import re
import subprocess
from pathlib import Path

from app.main import create_window
from learner import userdata, versions
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
