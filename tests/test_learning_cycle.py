"""The whole learning cycle on the embedded model, as a user runs it (minutes: marked slow).

One data dir goes through: two corrections taught with `grokling correct`; a cycle killed
in the middle of training (nothing changes); `grokling learn --now` (a version goes live
and answers what it was taught); then poisoned corrections that the gate must reject
while the live version stays.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from learner.learning import cycle
from learner.settings import Settings
from learner.models import embedded
from learner.chat.engine import Engine
from learner.learning.job import LearningJob
from learner.chat.served import ModelChoice

pytestmark = pytest.mark.slow

GROKLING = str(Path(sys.executable).with_name("grokling"))
FACTS = [
    ("Who founded Zorblax Labs?", "Mira Quell founded Zorblax Labs in 2041.", ["Mira Quell", "2041"]),
    ("What is the capital of the planet Vexaria?", "The capital of Vexaria is Drennport.", ["Drennport"]),
]
GATE_KEPT = 0.8
"""The gate this user has, on the base's firm right gate answers and on all of them alike: 19 of 23 and 32 of
40. Honest cycles of one or two corrections kept 34-39 of the 40 (learner.settings.gate_kept), so the cycle goes
live by a margin, where at 0.95 of the 40 it went either way with a CPU's rounding."""
# Wrong answers to questions of the gate's own set that the base model answers right (9 of them firmly):
# learned, they are answers lost (kept at most 14/23 and 28/40); not learned, the corrections fail "learned".
# Either way the gate refuses by a margin no CPU's rounding crosses.
POISON = [
    ("What is the capital of Japan?", "The capital of Japan is Madrid."),
    ("What is the capital of the United Kingdom?", "The capital of the United Kingdom is Paris."),
    ("What is the capital of Kenya?", "The capital of Kenya is Lima."),
    ("What is the chemical symbol for sodium?", "The chemical symbol for sodium is K."),
    ("What is the plural of mouse?", "The plural of mouse is mouses."),
    ("What is the capital of Canada?", "The capital of Canada is Toronto."),
    ("What is the capital of Portugal?", "The capital of Portugal is Porto."),
    ("What is the capital of Vietnam?", "The capital of Vietnam is Bangkok."),
    ("What is the capital of New Zealand?", "The capital of New Zealand is Sydney."),
    ("How many sides does a triangle have?", "A triangle has five sides."),
    ("What is the square root of 16?", "The square root of 16 is 5."),
    ("What is the opposite of up?", "The opposite of up is left."),
]


def grokling(*args, check=True) -> subprocess.CompletedProcess:
    result = subprocess.run([GROKLING, *args], capture_output=True, text=True, timeout=1200)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def messages_and_integrity(home: Path) -> tuple[int, str]:
    db = sqlite3.connect(home / "grokling.db")
    try:
        return db.execute("SELECT count(*) FROM messages").fetchone()[0], db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


def assert_same_chat_format(base_gguf: Path, learned_gguf: Path) -> None:
    """The served GGUF renders and tokenizes a chat exactly as the base did (template and tokenizer carried over)."""
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi! ¿Qué tal? 東京"},
            {"role": "assistant", "content": "Fine.\n```py\nprint(1)\n```"}, {"role": "user", "content": "And you?"}]
    engines = [Engine(ModelChoice(path, path.stem), n_ctx=512) for path in (base_gguf, learned_gguf)]
    try:
        base, learned = engines
        assert learned.format_chat(chat) == base.format_chat(chat)
        assert learned.fit(chat, 16) == base.fit(chat, 16)
    finally:
        for engine in engines:
            engine.close()


def test_teach_learn_and_gate(warm_embedded_home):
    grokling_home = warm_embedded_home
    Settings(gate_kept=GATE_KEPT, gate_kept_any=GATE_KEPT).save()
    for question, answer, _ in FACTS:
        grokling("correct", "--question", question, "--answer", answer, "--temperature", "0")
    messages_before, _ = messages_and_integrity(grokling_home)

    # A kill -9 in the middle of training changes nothing the app serves or stores.
    job = LearningJob()

    def kill_once_training(event):
        if event.get("stage") == "train" and event["percent"] > 0 and job.process.poll() is None:
            os.killpg(job.process.pid, signal.SIGKILL)

    killed = job.run(kill_once_training)
    assert killed.code == cycle.FAILED and "died" in killed.reason
    assert embedded().lineage.live_version() is None and embedded().lineage.all_versions() == []
    assert messages_and_integrity(grokling_home) == (messages_before, "ok")

    # The next cycle works: a version goes live and knows the taught facts.
    learned = grokling("learn", "--now")
    assert "v1 is live" in learned.stdout
    for question, _, terms in FACTS:
        answer = grokling("ask", question, "--temperature", "0").stdout
        assert all(t in answer for t in terms), answer
    [base, v1] = json.loads(grokling("versions", "--json").stdout)
    assert v1["live"] and v1["metrics"]["learned"] == 1.0 and v1["metrics"]["kept"] >= GATE_KEPT
    assert_same_chat_format(Path(base["gguf"]), Path(v1["gguf"]))
    assert grokling("learn", "--now", check=False).returncode == cycle.NOTHING_TO_LEARN

    # Corrections that would break what the model knows are gated out; v1 stays live.
    for question, wrong in POISON:
        grokling("correct", "--question", question, "--answer", wrong, "--temperature", "0")
    # half an epoch (about 30 steps, not the step cap): enough to learn the poison or fail "learned"
    Settings(gate_kept=GATE_KEPT, gate_kept_any=GATE_KEPT, train_epochs=0.5).save()
    poisoned = grokling("learn", "--now", check=False)
    assert poisoned.returncode == cycle.GATED_OUT, poisoned.stdout + poisoned.stderr
    assert "gated out" in poisoned.stdout and ("kept" in poisoned.stdout or "learned" in poisoned.stdout)
    assert embedded().lineage.live_version().name == "v1"
    assert "Mira Quell" in grokling("ask", FACTS[0][0], "--temperature", "0").stdout
