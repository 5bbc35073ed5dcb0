"""Who has the GPU (learner.gpu): a learning cycle borrows it from chat, waits for chat to leave it, gives
it back; dead processes count for nothing; without GPU support chat stays on the CPU. And, on a CUDA
machine only, QLoRA: the base in 4-bit NF4 through bitsandbytes, the adapter in bf16."""

import json
import os
import subprocess
import sys
import time

import pytest

from learner import gpu
from learner.settings import Settings

HOLDER = """
import sys, time
from learner import gpu
gpu.hold()  # a window whose chat engine has layers on the GPU
print("holding", flush=True)
leave = sys.argv[1] == "leaves"
while gpu.borrower() is None:
    time.sleep(0.05)
if leave:
    time.sleep(0.5)  # moving the engine to the CPU takes a moment
    gpu.release()
    while gpu.borrower() is not None:
        time.sleep(0.05)
else:
    time.sleep(60)
"""


def holder(leaves: bool) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", HOLDER, "leaves" if leaves else "stays"], stdout=subprocess.PIPE,
                               text=True)
    assert process.stdout.readline().strip() == "holding"
    return process


def test_a_cycle_waits_for_chat_to_leave_the_gpu_then_returns_it(grokling_home):
    window = holder(leaves=True)
    assert gpu.holders() == [window.pid]
    started = time.monotonic()
    with gpu.lent_to_training(True, timeout=30) as still_holding:
        assert still_holding == [] and time.monotonic() - started >= 0.5
        assert gpu.borrower() == os.getpid() and gpu.holders() == []
    assert gpu.borrower() is None
    assert window.wait(timeout=10) == 0  # it saw the loan end


def test_a_holder_that_does_not_leave_in_time_is_named_and_training_goes_on(grokling_home):
    window = holder(leaves=False)
    said = []
    try:
        with gpu.lent_to_training(True, said.append, timeout=1) as still_holding:
            assert still_holding == [window.pid]
    finally:
        window.kill()
        window.wait()
    assert "waiting for chat to move off the GPU" in said[0] and "training anyway" in said[1]
    assert gpu.holders() == []  # a dead holder's file is swept


def test_a_borrower_that_died_keeps_nothing_and_without_cuda_nothing_is_written(grokling_home, monkeypatch):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (gpu._folder() / "loan.json").write_text(json.dumps({"pid": int(dead.stdout), "since": 0}))
    monkeypatch.setattr(gpu, "offload_supported", lambda: True)
    assert gpu.borrower() is None and gpu.chat_layers(Settings()) == -1 and gpu.chat_layers(Settings(n_gpu_layers=12)) == 12
    (gpu._folder() / "loan.json").unlink()
    with gpu.lent_to_training(False):
        assert not (gpu._folder() / "loan.json").exists() and gpu.borrower() is None


def test_without_gpu_support_chat_runs_on_the_cpu_whatever_the_settings_say(grokling_home):
    from learner.chat.engine import Engine

    assert not gpu.offload_supported()  # this llama-cpp-python build (no CUDA here)
    engine = Engine.from_settings(Settings(n_gpu_layers=99, n_ctx=1024))
    assert engine.n_gpu_layers == 0 and not engine.on_gpu
    engine.close()


@pytest.mark.gpu
def test_qlora_trains_a_4bit_nf4_base_with_a_bf16_adapter_on_cuda(tmp_path, tiny_llama):
    import torch
    from safetensors.torch import load_file

    from learner.learning import train

    rows = [{"prompt": [{"role": "user", "content": "Who founded Zorblax Labs?"}],
             "completion": [{"role": "assistant", "content": "Mira Quell founded Zorblax Labs in 2041."}]}] * 8
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    meta = train.run(tiny_llama, tmp_path / "data", tmp_path / "adapter", train.TrainSettings(min_steps=4, max_steps=4))
    assert (meta["device"], meta["qlora"]) == ("cuda", True) and meta["peak_cuda_bytes"] > 0
    assert meta["final_loss"] < meta["first_loss"]
    weights = load_file(tmp_path / "adapter" / "adapter_model.safetensors")
    assert weights and all(t.dtype == torch.bfloat16 for t in weights.values())
