"""Running the stage modules by hand, in order, does what the cycle does (slow: two small trainings).

Each stage's `python -m` reads the user's settings, as the cycle does; so the dataset, the
training inputs and the scores come out the same.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from learner import items
from learner.files import read_meta
from learner.settings import Settings
from learner.store import Store

pytestmark = pytest.mark.slow

GROKLING = str(Path(sys.executable).with_name("grokling"))


def stage(name: str, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", f"learner.learning.{name}", *args], capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_the_stage_modules_in_order_reproduce_a_cycle(warm_embedded_home, tmp_path):
    grokling_home = warm_embedded_home
    Settings(learn_from_wikipedia=False, train_epochs=0.5).save()  # tiny: the step floor applies
    with Store() as store:
        conversation = store.new_conversation()
        store.add_user_message(conversation, "Who founded Zorblax Labs?")
        store.correct(store.add_assistant_message(conversation, "I don't know."), "Mira Quell founded Zorblax Labs in 2041.")

    run = tmp_path / "by-hand"
    stage("collect", "--out", str(run / "collect"))
    [taught] = items.load(run / "collect" / items.CURRICULUM_FILE)
    assert taught.answer == "Mira Quell founded Zorblax Labs in 2041."
    data = Path(json.loads(stage("dataset", "--curriculum", str(run / "collect")))["dataset"])
    stage("checkpoint")
    stage("train", "--dataset", str(data), "--out", str(run / "adapter"))
    stage("export", "--adapter", str(run / "adapter"), "--out", str(run / "export" / "model.gguf"))
    by_hand = json.loads(stage("evaluate", "--candidate", str(run / "export" / "model.gguf"), "--dataset", str(data)))

    cycle = subprocess.run([GROKLING, "learn", "--now"], capture_output=True, text=True, timeout=1200)
    # One correction in twelve steps may or may not pass the gate: either way the cycle did the same work.
    assert cycle.returncode in (0, 4), cycle.stdout + cycle.stderr
    cycle_run = max(p for p in (grokling_home / "runs").iterdir() if p.name != "manual")
    hand_train, cycle_train = read_meta(run / "adapter"), read_meta(cycle_run / "adapter")
    assert cycle_train["dataset_sha256"] == read_meta(data)["sha256"]  # the same rows, replay included
    assert cycle_train["inputs_hash"] == hand_train["inputs_hash"]  # the same base, rows and hyperparameters
    assert abs(hand_train["final_loss"] - cycle_train["final_loss"]) < 1e-3
    assert read_meta(cycle_run / "eval")["metrics"]["counts"] == by_hand["counts"]
