"""Time-to-learn for one correction on this machine: correction saved -> new model live.

    python benchmarks/learn_bench.py

Runs one real cycle (in this process, stage by stage) in a throw-away data dir on the
embedded model and prints each stage's seconds. The peer it is measured against is the
compute floor of the same run: the training FLOPs (LoRA: about 4 x parameters x tokens,
forward plus the backward pass to the activations; the frozen weights get no gradient)
divided by the float32 matmul FLOP/s torch reaches on this machine, measured now. The
ratio says how far the training stage is from what the hardware could do at best.
"""

import os
import sys
import tempfile
import time

os.environ["GROKLING_HOME"] = tempfile.mkdtemp(prefix="grokling-learn-bench-")

from learner import models  # noqa: E402
from learner.learning import checkpoint as base, cycle  # noqa: E402
from learner import paths  # noqa: E402
from learner.settings import Settings  # noqa: E402
from learner.files import read_meta  # noqa: E402
from learner.store import Store  # noqa: E402


def matmul_flops_per_s(seconds: float = 2.0) -> float:
    import torch

    a, b = torch.randn(1024, 576), torch.randn(576, 1536)
    for _ in range(5):
        a @ b
    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        a @ b
        n += 1
    return n * 2 * 1024 * 576 * 1536 / (time.perf_counter() - started)


def main() -> int:
    started = time.perf_counter()
    base.resolve(models.embedded())
    derive_s = time.perf_counter() - started
    store = Store()
    cid = store.new_conversation()
    store.add_user_message(cid, "Who founded Zorblax Labs?")
    reply = store.add_assistant_message(cid, "I do not know.")
    saved = time.perf_counter()
    store.correct(reply, "Mira Quell founded Zorblax Labs in 2041.")
    result = cycle.run_cycle(Settings(), store)
    total = time.perf_counter() - saved
    [run_dir] = (paths.data_dir() / "runs").iterdir()
    train_meta = read_meta(run_dir / "adapter")
    flops = 4 * train_meta["parameters"] * train_meta["tokens"]
    rate = matmul_flops_per_s()
    floor = flops / rate
    print(f"one-time base checkpoint derivation: {derive_s:.1f} s (cached afterwards)")
    print(f"{'stage':<10}{'seconds':>9}")
    for stage, seconds in result.timings.items():
        print(f"{stage:<10}{seconds:9.1f}")
    outcome = f"{result.version} live" if result.code == cycle.PROMOTED else f"not promoted ({result.reason})"
    print(f"{'total':<10}{total:9.1f}   correction saved -> {outcome} (target <= 45 s, goal 30 s)")
    print(f"training: {train_meta['tokens']:,} tokens, {flops / 1e12:.2f} TFLOP; matmul {rate / 1e9:.1f} GFLOP/s "
          f"-> compute floor {floor:.1f} s; train stage {result.timings['train']:.1f} s = {result.timings['train'] / floor:.1f}x floor")
    print(f"scores: {result.metrics}")
    return 0 if result.code == cycle.PROMOTED else 1


if __name__ == "__main__":
    sys.exit(main())
