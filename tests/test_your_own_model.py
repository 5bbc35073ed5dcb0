"""Issue 12's walk-through, as a new user runs it (slow: one real cycle on a real model).

In a fresh data dir: the embedded model's own weights, as an HF checkpoint folder, are added as "my model"
(grokling converts and quantizes them), used, asked, two answers corrected, `grokling learn --now`; the
next answers come from the learned version of *that* model. Then a switch to the default and back: each
model still has its versions and its live one.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from learner import models
from learner.store import Store
from test_learning_cycle import FACTS

pytestmark = pytest.mark.slow

GROKLING = str(Path(sys.executable).with_name("grokling"))


def grokling(*args) -> subprocess.CompletedProcess:
    result = subprocess.run([GROKLING, *args], capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, f"grokling {' '.join(args)}: {result.stdout[-2000:]}{result.stderr[-3000:]}"
    return result


def last_reply_version() -> str:
    with Store() as store:
        return max((m for c in store.conversations() for m in store.thread(c.id) if m.role == "assistant"),
                   key=lambda m: m.id).model_version


def listed() -> dict[str, dict]:
    return {m["name"]: m for m in json.loads(grokling("models", "--json").stdout)}


def test_add_my_model_teach_it_learn_and_switch(grokling_home, smollm2_checkpoint):
    grokling_home.mkdir(parents=True, exist_ok=True)
    # Instant memory off: the answers after the cycle come from the learned weights alone. The gate's "kept" at
    # 0.85: how many of its firm right retention answers this model (converted to Q8_0 from the checkpoint)
    # keeps varies with the CPU's float rounding; the gate itself: test_gate.py and test_learning_cycle.py.
    (grokling_home / "settings.json").write_text(json.dumps(
        {"learn_from_wikipedia": False, "instant_memory": False, "gate_kept": 0.85}))
    added = grokling("models", "add", str(smollm2_checkpoint), "--name", "my model")
    assert "added 'my model' (llama" in added.stdout
    grokling("models", "use", "my model")
    assert "Tokyo" in grokling("ask", "What is the capital of Japan?", "--temperature", "0").stdout
    assert last_reply_version() == "my-model/base"
    for question, answer, _ in FACTS[:1]:  # learning two at once: test_learning_cycle
        grokling("correct", "--question", question, "--answer", answer, "--temperature", "0")

    learned = grokling("learn", "--now")
    assert "my model v1 is live" in learned.stdout
    mine = listed()["my model"]
    assert mine["active"] and mine["live_version"] == "v1" and mine["versions"][0]["metrics"]["learned"] == 1.0
    assert mine["versions"][0]["metrics"]["kept"] >= 0.85
    version = models.find("my model").lineage.live_version()
    assert models.gguf_facts(version.gguf).name == "my model"  # the learned GGUF carries the model's name
    for question, _, terms in FACTS[:1]:
        answer = grokling("ask", question, "--temperature", "0").stdout
        assert last_reply_version() == "my-model/v1"
        assert all(t in answer for t in terms), answer

    default = models.embedded().name
    grokling("models", "use", "embedded")
    grokling("ask", "What is the capital of France?", "--temperature", "0")
    assert last_reply_version() == "embedded/base"
    both = listed()
    assert both[default]["active"] and both[default]["versions"] == []  # its lineage: nothing learned there
    assert [v["version"] for v in both["my model"]["versions"]] == ["v1"] and both["my model"]["live_version"] == "v1"
    grokling("models", "use", "my model")
    grokling("ask", "What is the capital of France?", "--temperature", "0")
    assert last_reply_version() == "my-model/v1"
    assert os.path.isdir(smollm2_checkpoint)  # the user's folder was never touched
