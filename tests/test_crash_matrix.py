"""kill -9 in every stage of a learning cycle, and in the middle of a reply (slow: minutes).

After each kill: the live model loads, no message is lost, the database passes
PRAGMA integrity_check; and after all of them the next cycle succeeds.
"""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from learner.learning import cycle
from learner import versions
from learner.chat.engine import Engine
from learner.learning.job import LearningJob
from learner.chat.served import live_model
from learner.settings import Settings
from test_learning_cycle import messages_and_integrity

pytestmark = pytest.mark.slow

GROKLING = str(Path(sys.executable).with_name("grokling"))
STAGES = ["knowledge", "collect", "dataset", "train", "export", "evaluate", "promote"]


def assert_intact(home: Path, messages: int) -> None:
    assert messages_and_integrity(home) == (messages, "ok")
    assert versions.live_version() is None  # nothing half-promoted went live
    Engine(live_model(Settings()), n_ctx=256).close()  # and the live model loads


def test_kill_in_every_stage_then_learn(grokling_home):
    # A gate with margin: the kill meant for "promote" must not hinge on one retention answer.
    Settings(gate_kept=0.8).save()
    subprocess.run([GROKLING, "correct", "--question", "Who founded Zorblax Labs?", "--answer",
                    "Mira Quell founded Zorblax Labs in 2041.", "--temperature", "0"], check=True, capture_output=True)
    messages, _ = messages_and_integrity(grokling_home)
    report = []
    for stage in STAGES:
        job = LearningJob()

        def kill_in(event, stage=stage):
            if event.get("stage") == stage and job.process.poll() is None:
                os.killpg(job.process.pid, signal.SIGKILL)

        result = job.run(kill_in)
        report.append(f"{stage}: {result.code}")
        assert result.code == cycle.FAILED and "died" in result.reason, (stage, result.reason)
        assert_intact(grokling_home, messages)
    print("\n" + ", ".join(report))

    learned = subprocess.run([GROKLING, "learn", "--now"], capture_output=True, text=True)
    assert learned.returncode == cycle.PROMOTED, learned.stdout + learned.stderr
    assert versions.live_version().name == "v1"
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
import os, threading, time
from learner.chat import turn as chat
from learner import versions
from learner.chat.engine import Engine
from learner.chat.served import embedded_model, live_model
from learner.settings import Settings
from learner.store import Store

store, settings = Store(), Settings(temperature=0.0, max_tokens=24)
engine = Engine(embedded_model(), n_ctx=512)
conversation = store.new_conversation()
reply = chat.send(store, engine, conversation, "What is the capital of Japan?", settings)
for _ in reply:
    pass
swap = threading.Thread(target=engine.swap, args=(live_model(settings),))
swap.start()  # the window does this when live.json changes
time.sleep(0.05)
os._exit(137)  # killed while the new model loads
"""


def test_kill_mid_swap_loses_nothing(grokling_home, promote_embedded):
    promote_embedded()  # v1 live: the window would swap to it
    child = subprocess.run([sys.executable, "-c", MID_SWAP], capture_output=True, text=True)
    assert child.returncode == 137, child.stderr
    assert messages_and_integrity(grokling_home) == (2, "ok")  # the question and its reply were stored before the kill
    Engine(live_model(Settings()), n_ctx=256).close()
    again = subprocess.run([GROKLING, "ask", "What is the capital of Japan?", "--temperature", "0"],
                           capture_output=True, text=True)
    assert again.returncode == 0 and "Tokyo" in again.stdout
