"""Every architecture grokling can take offline goes the whole way: added (converted), served, one learning
cycle, the candidate served. Slow: one real cycle each, through the `grokling` command.

The checkpoints are tiny and random (tests/tiny_models.py) with the embedded model's own tokenizer, the
only one at hand that the converter recognises, so the gate is lowered: a random model learns nothing
measurable, and what is proved is the pipeline (add, convert, quantize, serve, LoRA-train, merge,
convert, quantize, evaluate, promote, swap), not quality. The embedded model stays the real-quality test
(test_learning_cycle.py, test_your_own_model.py).

Not here, and why: Qwen2 (transformers gives a qwen2 checkpoint its own tokenizer class, whose
pre-tokenizer the converter does not recognise: refused at add time, test_models.py); Gemma 1/2 and Phi-3
(the converter reads their vocabulary from a SentencePiece tokenizer.model, which cannot be made from
this BPE tokenizer offline); GPT-NeoX (transformers 5 saves its config without rotary_pct, which the
converter reads); GPT-2 (likewise n_ctx; a hub config that has it is not at hand offline); GLM-4 (this
converter build fails on a gguf constant its bundled gguf-py lacks).
"""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tiny_models import build

pytestmark = pytest.mark.slow

GROKLING = str(Path(sys.executable).with_name("grokling"))

ARCHITECTURES = ["LlamaForCausalLM", "MistralForCausalLM", "Qwen3ForCausalLM", "Gemma3ForCausalLM",
                 "Olmo2ForCausalLM", "GraniteForCausalLM", "Starcoder2ForCausalLM", "FalconForCausalLM",
                 "PhiForCausalLM"]
"""Starcoder2, Falcon and Phi-2 name their MLP layers otherwise: their adapters go on every linear layer."""


def grokling(home: Path, *args) -> subprocess.CompletedProcess:
    result = subprocess.run([GROKLING, *args], capture_output=True, text=True, timeout=900,
                            env={**os.environ, "GROKLING_HOME": str(home)})
    assert result.returncode == 0, f"grokling {' '.join(args)}: {result.stdout[-2000:]}{result.stderr[-3000:]}"
    return result


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_add_serve_learn_and_serve_the_candidate(architecture, grokling_home, tmp_path, smollm2_checkpoint):
    from tiny_models import ARCHITECTURES as KNOWN

    assert architecture in KNOWN
    checkpoint = build(architecture, tmp_path / architecture, smollm2_checkpoint)
    grokling_home.mkdir(parents=True, exist_ok=True)
    # A random model gets nothing right: gate on the pipeline, not on what it learned or kept.
    (grokling_home / "settings.json").write_text(json.dumps(
        {"learn_from_wikipedia": False, "gate_learned": 0.0, "gate_kept": 0.0, "max_tokens": 16, "temperature": 0.0}))
    grokling(grokling_home, "models", "add", str(checkpoint), "--name", architecture)
    grokling(grokling_home, "models", "use", architecture)
    [model] = [m for m in json.loads(grokling(grokling_home, "models", "--json").stdout) if m["active"]]
    model_id = model["id"]
    grokling(grokling_home, "correct", "--question", "Who founded Zorblax Labs?",
             "--answer", "Mira Quell founded Zorblax Labs in 2041.")
    learned = grokling(grokling_home, "learn", "--now")
    assert f"{architecture} v1 is live" in learned.stdout

    grokling(grokling_home, "ask", "Who founded Zorblax Labs?")
    from learner.store import Store

    with Store() as store:
        replies = sorted((m for c in store.conversations() for m in store.thread(c.id) if m.role == "assistant"),
                         key=lambda m: m.id)
    assert [m.model_version for m in replies] == [f"{model_id}/base", f"{model_id}/v1"]  # before the cycle, after
    [run] = sorted((grokling_home / "runs").iterdir())
    version = grokling_home / "models" / model_id / "versions" / "v1"
    assert sha256(version / "model.gguf") == sha256(run / "export" / "model.gguf")  # the candidate, as evaluated
    meta = json.loads((version / "meta.json").read_text())
    assert meta["base"] == str(checkpoint) and meta["previous"] == "base"
