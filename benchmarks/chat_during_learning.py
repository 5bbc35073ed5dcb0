"""Chat speed while a learning run trains, against chat speed alone, same machine, same run.

    python benchmarks/chat_during_learning.py [--max-tokens 64] [--runs 3]

A real training run (learner.learning.train on the embedded model's checkpoint, replay-like rows)
runs in a subprocess, as the learning cycle does, once at the same CPU priority as the
chat and once lowered the way the cycle lowers itself (learner.learning.stage.yield_cpu_to_chat).
While it trains, the engine streams greedy replies; the peer is the same replies with
nothing else running. Also prints the training steps per second in each case, the cost
of yielding to chat.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ["GROKLING_HOME"] = tempfile.mkdtemp(prefix="grokling-chat-during-learning-")

from learner import models  # noqa: E402
from learner.learning import checkpoint as base, dataset, retention  # noqa: E402
from learner.chat.engine import Engine, Sampling  # noqa: E402
from learner.chat.served import embedded_model  # noqa: E402
from learner.settings import Settings  # noqa: E402

QUESTION = "Write a detailed, 300-word essay about the history of tea, from ancient China to today."
TRAINER = ("import sys; from pathlib import Path; from learner.learning import stage, train; {prelude}; "
           "train.run(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), train.TrainSettings(epochs=100))")


def reply_speed(engine: Engine, runs: int, max_tokens: int) -> float:
    """Median decode pieces/s over `runs` greedy replies (each with a fresh prompt, so no KV reuse)."""
    speeds = []
    for run in range(runs):
        messages = [{"role": "system", "content": f"Session {time.time()} {run}."}, {"role": "user", "content": QUESTION}]
        stamps = [time.perf_counter() for _ in engine.chat(messages, Sampling(temperature=0.0, max_tokens=max_tokens))]
        speeds.append((len(stamps) - 1) / (stamps[-1] - stamps[0]))
    return statistics.median(speeds)


class Training:
    """learner.learning.train in a subprocess; `steps` collects (time, step) as it logs them."""

    def __init__(self, checkpoint: Path, data: Path, out: Path, yield_cpu: bool):
        prelude = "stage.yield_cpu_to_chat()" if yield_cpu else "pass"
        self.process = subprocess.Popen(
            [sys.executable, "-c", TRAINER.format(prelude=prelude), str(checkpoint), str(data), str(out)],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        self.steps: list[tuple[float, int]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stderr:
            if m := re.search(r"step (\d+)/", line):
                self.steps.append((time.perf_counter(), int(m[1])))

    def wait_for_steps(self, n: int) -> None:
        while len(self.steps) < n:
            if self.process.poll() is not None:
                raise RuntimeError("the training run ended early")
            time.sleep(0.2)

    def steps_per_s(self, since: float, until: float) -> float:
        inside = [(t, s) for t, s in self.steps if since <= t <= until]
        return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0]) if len(inside) > 1 else 0.0

    def stop(self):
        self.process.kill()
        self.process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    settings = Settings()
    checkpoint = base.resolve(models.embedded())
    work = Path(os.environ["GROKLING_HOME"])
    rows = [dataset.row(settings.system_prompt, [], item["question"], item["expect"][0], {"kind": "replay"})
            for item in retention.general_knowledge(retention.REPLAY)]
    data, _ = dataset.write(rows, [], work / "datasets")

    engine = Engine(embedded_model(), n_ctx=2048)
    reply_speed(engine, 1, 8)  # warm-up
    alone = reply_speed(engine, args.runs, args.max_tokens)
    results = {}
    for label, yield_cpu in (("same priority", False), ("training yields", True)):
        training = Training(checkpoint, data, work / label.replace(" ", "-"), yield_cpu)
        try:
            training.wait_for_steps(3)
            solo_from = time.perf_counter()
            time.sleep(15)
            solo = training.steps_per_s(solo_from, time.perf_counter())
            started = time.perf_counter()
            during = reply_speed(engine, args.runs, args.max_tokens)
            shared = training.steps_per_s(started, time.perf_counter())
        finally:
            training.stop()
        results[label] = (during, solo, shared)
    engine.close()
    print(f"chat alone: {alone:.1f} tokens/s ({args.runs} greedy replies of {args.max_tokens} tokens, embedded model)")
    print(f"{'while training':<18}{'chat tokens/s':>15}{'x alone':>9}{'train steps/s alone':>21}{'while chatting':>16}")
    for label, (during, solo, shared) in results.items():
        print(f"{label:<18}{during:>15.1f}{during / alone:>9.2f}{solo:>21.3f}{shared:>16.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
