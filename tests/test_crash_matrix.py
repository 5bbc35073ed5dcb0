"""kill -9 inside every stage of a learning cycle while it writes, in the middle of a reply, of a
model swap and of a migration (slow: minutes).

The kill points are found by the stages' own writes (tests/crash_hook.py, an audit hook in
the cycle's processes): for each stage before training, its first and its last write of a
full cycle; for training and after, its middle write. After
each kill: no message is lost, the database passes PRAGMA integrity_check, nothing
half-made is live and the live model loads; after all of them, the next cycle succeeds.
"""

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from learner.chat.engine import Engine
from learner.chat.served import live_model
from learner.learning import cycle
from learner.learning.job import LearningJob
from learner.models import embedded
from learner.settings import Settings
from test_learning_cycle import messages_and_integrity

pytestmark = pytest.mark.slow

GROKLING = str(Path(sys.executable).with_name("grokling"))


def assert_intact(home: Path, messages: int) -> None:
    assert messages_and_integrity(home) == (messages, "ok")
    assert embedded().lineage.live_version() is None  # nothing half-promoted went live
    Engine(live_model(), n_ctx=256).close()  # and the live model loads


def crash_env(tmp_path: Path, log: Path, kill_at: str = "") -> dict:
    hooks = tmp_path / "hooks"
    hooks.mkdir(exist_ok=True)
    shutil.copy(Path(__file__).with_name("crash_hook.py"), hooks / "sitecustomize.py")
    return {"PYTHONPATH": str(hooks), "GROKLING_WRITE_LOG": str(log), "GROKLING_KILL_AT": kill_at}


def stage_writes(log: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in log.read_text().splitlines():
        counts[line.split(" ", 1)[0]] = counts.get(line.split(" ", 1)[0], 0) + 1
    return counts


def test_kill_at_the_writes_of_every_stage_then_learn(grokling_home, tmp_path):
    # Small and with a margin: a twelve-step training, and a gate that does not hinge on one retention answer.
    Settings(train_epochs=0.5, gate_learned=0.0, gate_kept=0.8, gate_kept_any=0.8).save()
    subprocess.run([GROKLING, "correct", "--question", "Who founded Zorblax Labs?", "--answer",
                    "Mira Quell founded Zorblax Labs in 2041.", "--temperature", "0"], check=True, capture_output=True)
    messages, _ = messages_and_integrity(grokling_home)

    # A full cycle, recording where each stage writes; then the same state again, to kill it in.
    discovery = tmp_path / "discovery.log"
    found = LearningJob(crash_env(tmp_path, discovery)).run()
    assert found.code == cycle.PROMOTED, found.reason
    writes = stage_writes(discovery)
    assert {"knowledge", "collect", "dataset", "checkpoint", "train", "export", "evaluate", "retention", "promote"} <= set(writes)
    for folder in ("versions", "runs", "datasets", "eval-cache", "base"):
        shutil.rmtree(grokling_home / folder, ignore_errors=True)
    with sqlite3.connect(grokling_home / "grokling.db") as db:
        db.execute("DELETE FROM learning_verdicts")

    # Before training: each stage's first and last write. From training on, each kill costs a training
    # run: the middle write (promotion is also killed at every one of its writes in test_versions.py).
    early = {"knowledge", "collect", "retention", "checkpoint", "dataset"}
    points = sorted({(stage, n) for stage, total in writes.items()
                     for n in ((1, total) if stage in early else ((total + 1) // 2,))})
    report = []
    for stage, n in points:
        again = {"dataset": "datasets", "retention": "eval-cache", "checkpoint": "base"}.get(stage)
        if again:
            shutil.rmtree(grokling_home / again, ignore_errors=True)  # so the stage writes again, not reuses
        log = tmp_path / f"kill-{stage}-{n}.log"
        result = LearningJob(crash_env(tmp_path, log, f"{stage}:{n}")).run()
        died = result.code == cycle.FAILED and "died" in result.reason
        assert died, (stage, n, result.reason)
        assert_intact(grokling_home, messages)
        report.append(f"{stage} write {n}/{writes[stage]}")
    print(f"\ncrash matrix: {len(report)}/{len(points)} kill points left everything intact: " + ", ".join(report))

    learned = subprocess.run([GROKLING, "learn", "--now"], capture_output=True, text=True)
    assert learned.returncode == cycle.PROMOTED, learned.stdout + learned.stderr
    assert embedded().lineage.live_version().name == max(v.name for v in embedded().lineage.all_versions())
    assert not list(embedded().lineage.folder.glob(".v*.partial"))
    assert messages_and_integrity(grokling_home)[1] == "ok"


def test_kill_mid_reply_loses_nothing(grokling_home):
    Settings(max_tokens=400, temperature=0.0).save()
    ask = subprocess.Popen([GROKLING, "ask", "Write a long story about a dragon who learns to bake bread."],
                           stdout=subprocess.PIPE, start_new_session=True)
    assert ask.stdout.read(20)  # the reply is streaming
    time.sleep(0.5)
    os.killpg(ask.pid, signal.SIGKILL)
    ask.wait()
    db = sqlite3.connect(grokling_home / "grokling.db")
    rows = db.execute("SELECT role, content FROM messages ORDER BY id").fetchall()
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    assert rows[0] == ("user", "Write a long story about a dragon who learns to bake bread.")
    again = subprocess.run([GROKLING, "ask", "What is the capital of Japan?", "--temperature", "0"],
                           capture_output=True, text=True)
    assert again.returncode == 0 and "Tokyo" in again.stdout


MID_SWAP = """
import os, signal
from app.qt import QApplication, QTimer
from app.main import create_window
from learner.models import embedded

app = QApplication([])
window = create_window(start_scheduler=False)
def answered(message):
    # The reply is stored; a new version goes live and the window starts swapping it in...
    embedded().lineage.set_live("v1")
    window.host.check_served()
    QTimer.singleShot(50, lambda: os.kill(os.getpid(), signal.SIGKILL))  # ...and dies while it loads
window.reply_finished.connect(answered)
window.host.ready.connect(lambda _: (window.new_conversation(),
                                     window.input.setPlainText("What is the capital of Japan?"), window.send()))
app.exec()
"""


def test_kill_the_window_mid_swap_loses_nothing(grokling_home, promote_embedded):
    promote_embedded()
    embedded().lineage.set_live("base")  # v1 exists; the window starts on base and swaps to v1 when it goes live
    Settings(temperature=0.0, max_tokens=24).save()
    window = subprocess.run([sys.executable, "-c", MID_SWAP], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert window.returncode == -signal.SIGKILL, window.stderr
    assert messages_and_integrity(grokling_home) == (2, "ok")  # the question and its reply were stored before
    assert live_model().version == "v1"
    Engine(live_model(), n_ctx=256).close()
    again = subprocess.run([GROKLING, "ask", "What is the capital of Japan?", "--temperature", "0"],
                           capture_output=True, text=True)
    assert again.returncode == 0 and "Tokyo" in again.stdout


WINDOW_MID_REPLY = """
import os, signal
from app.qt import QApplication, QTimer
from app.main import create_window

app = QApplication([])
window = create_window(start_scheduler=False)
window.host.ready.connect(lambda _: (window.new_conversation(),
                                     window.input.setPlainText("Write a long story about a dragon who bakes bread."),
                                     window.send()))
def kill_once_streaming():
    if len(window._stream_text) > 20:
        os.kill(os.getpid(), signal.SIGKILL)  # the window dies mid-reply
timer = QTimer(interval=10)
timer.timeout.connect(kill_once_streaming)
timer.start()
app.exec()
"""


def test_kill_the_window_mid_reply_loses_nothing(grokling_home):
    Settings(max_tokens=400, temperature=0.0).save()
    window = subprocess.run([sys.executable, "-c", WINDOW_MID_REPLY], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert window.returncode == -signal.SIGKILL, window.stderr
    db = sqlite3.connect(grokling_home / "grokling.db")
    rows = db.execute("SELECT role, content FROM messages ORDER BY id").fetchall()
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    assert rows == [("user", "Write a long story about a dragon who bakes bread.")]  # committed before the reply
    again = subprocess.run([GROKLING, "ask", "What is the capital of Japan?", "--temperature", "0"],
                           capture_output=True, text=True)
    assert again.returncode == 0 and "Tokyo" in again.stdout


MIGRATION_DIES = """
import os, sys
from learner.store import migrations

last = migrations.MIGRATIONS[-1]
def dies_half_way(conn):
    last(conn)
    os._exit(137)  # killed inside the migration's transaction
dies_half_way.__name__ = last.__name__
migrations.MIGRATIONS[-1] = dies_half_way
from learner.store import Store
Store()
"""


def test_kill_in_the_middle_of_a_migration_loses_nothing(grokling_home):
    from learner.store import migrations
    from learner.store import Store

    path = grokling_home / "grokling.db"
    grokling_home.mkdir(parents=True, exist_ok=True)
    old = sqlite3.connect(path, isolation_level=None)
    migrations.migrate(old, path, upto=migrations.MIGRATIONS[-2].__name__)
    old.execute("INSERT INTO conversations (id, title, created_at, updated_at) VALUES (1, 'Old', 'x', 'x')")
    old.execute("INSERT INTO messages (conversation_id, role, content, created_at) VALUES (1, 'user', 'keep me', 'x')")
    old.close()
    child = subprocess.run([sys.executable, "-c", MIGRATION_DIES], capture_output=True, text=True)
    assert child.returncode == 137, child.stderr
    with Store(path) as store:  # the interrupted migration was rolled back; now it runs whole
        assert [m.content for m in store.thread(1)] == ["keep me"]
        assert store.query("SELECT name FROM _migrations")[-1]["name"] == migrations.MIGRATIONS[-1].__name__
        assert store.query("PRAGMA integrity_check")[0]["integrity_check"] == "ok"
