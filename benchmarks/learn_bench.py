"""Time-to-learn for one correction on this machine: correction saved -> new model live.

    python benchmarks/learn_bench.py [--facts 0,1,5,6,7] [--set train_epochs=1.5 ...]

For each dev fact (benchmarks/dev_facts.jsonl, by index; default the first) one real cycle runs (in
this process, stage by stage) in a throw-away data dir on the embedded model, as a new user's first
correction: the first fact's home is cold (the base's answers to the general-knowledge set are
computed in that cycle), the others start from a copy of its caches, as every later correction does.
Prints each stage's seconds, the verdict, and what the candidate learned (its held-out phrasings, and the dev
set's real rewordings and reverse question) and kept (firmly known answers, and any). The peer it is
measured against is the compute floor of the same run: the training FLOPs (LoRA: about 4 x
parameters x tokens, forward plus the backward pass to the activations; the frozen weights get no
gradient) divided by the matmul FLOP/s torch reaches on this machine in the dtype training used,
measured now. The ratio says how far the training stage is from what the hardware could do at best.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from learner import models, paths
from learner.files import read_meta
from learner.chat.served import ModelChoice
from learner.items import is_right
from learner.learning import checkpoint as base, cycle, retention
from learner.settings import Settings
from learner.store import Store

HERE = Path(__file__).parent
WARM = ("base", "eval-cache")
"""What a home keeps from one cycle to the next that a later correction does not pay for again."""


def matmul_flops_per_s(dtype: str, seconds: float = 2.0) -> float:
    import torch

    a, b = (torch.randn(n, m, dtype=getattr(torch, dtype)) for n, m in ((1024, 576), (576, 1536)))
    for _ in range(5):
        a @ b
    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        a @ b
        n += 1
    return n * 2 * 1024 * 576 * 1536 / (time.perf_counter() - started)


def one_correction(fact: dict, warm_from: Path | None, settings: dict) -> dict:
    home = Path(tempfile.mkdtemp(prefix="grokling-learn-bench-"))
    for name in WARM if warm_from else ():
        shutil.copytree(warm_from / name, home / name)
    os.environ["GROKLING_HOME"] = str(home)
    Settings.change(**settings)
    started = time.perf_counter()
    base.resolve(models.embedded())
    derive_s = time.perf_counter() - started
    store = Store()
    cid = store.new_conversation()
    store.add_user_message(cid, fact["question"])
    reply = store.add_assistant_message(cid, "I do not know.")
    saved = time.perf_counter()
    store.correct(reply, fact["answer"])
    result = cycle.run_cycle(Settings.load(), store)
    total = time.perf_counter() - saved
    [run_dir] = (home / "runs").iterdir()
    return {"home": home, "derive_s": derive_s, "total": total, "result": result,
            "train": read_meta(run_dir / "adapter"), "forgotten": read_meta(run_dir / "eval").get("forgotten", []),
            "dev": ask_dev_set(run_dir / "export" / "model.gguf", fact)}


def ask_dev_set(candidate: Path, fact: dict) -> dict:
    """The candidate asked the fact's real rewordings and its reverse question (the dev set, never trained on)."""
    system_prompt = Settings.load().system_prompt
    engine = retention.open_engine(ModelChoice(candidate, "candidate"))
    try:
        ask = lambda q: is_right(retention.ask(engine, q["question"], system_prompt), q["expect"])
        return {"rewordings": [ask(q) for q in fact["rewordings"]], "reverse": [ask(fact["reverse"])]}
    finally:
        engine.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--facts", default="0", help="dev fact indices, comma-separated (default: 0)")
    parser.add_argument("--set", nargs="*", default=[], metavar="NAME=JSON",
                        help="settings.json values for every run, to compare: train_epochs=1.5")
    args = parser.parse_args()
    settings = {name: json.loads(value) for name, value in (pair.split("=", 1) for pair in args.set)}
    facts = [json.loads(line) for line in (HERE / "dev_facts.jsonl").read_text().splitlines() if line]
    runs, warm = [], None
    for index in (int(i) for i in args.facts.split(",")):
        run = one_correction(facts[index], warm, settings)
        run["fact"], run["cold"] = index, warm is None
        warm = warm or run["home"]
        runs.append(run)
    stages = list(dict.fromkeys(stage for run in runs for stage in run["result"].timings))
    print(f"one-time base checkpoint derivation: {runs[0]['derive_s']:.1f} s (cached afterwards)")
    print(f"{'fact':<6}{'caches':<7}" + "".join(f"{s:>11}" for s in stages)
          + f"{'total':>8}  verdict (target <= 45 s, goal 30 s)")
    for run in runs:
        result = run["result"]
        verdict = f"{result.version} live" if result.code == cycle.PROMOTED else f"not promoted ({result.reason})"
        print(f"{run['fact']:<6}{'cold' if run['cold'] else 'warm':<7}"
              + "".join(f"{result.timings.get(s, 0):11.1f}" for s in stages) + f"{run['total']:8.1f}  {verdict}")
    for run in runs:
        counts = run["result"].metrics.get("counts", {})
        dev = {name: f"{sum(found)}/{len(found)}" for name, found in run["dev"].items()}
        print(f"fact {run['fact']}: learned {counts.get('learned')}, held out {counts.get('paraphrased')}, dev rewordings "
              f"{dev['rewordings']}, reverse {dev['reverse']}, kept {counts.get('kept')} (any {counts.get('kept_any')}), "
              f"answer log-prob gain {run['result'].metrics.get('answer_logprob_gain')}"
              + "".join(f"\n  forgot: {question}" for question in run["forgotten"]))
    last = runs[-1]
    train, seconds = last["train"], last["result"].timings["train"]
    flops, rate = 4 * train["parameters"] * train["tokens"], matmul_flops_per_s(train["dtype"])
    floor = flops / rate
    print(f"training (fact {last['fact']}): {train['rows']} rows, {train['steps']} steps, {train['tokens']:,} tokens, "
          f"{flops / 1e12:.2f} TFLOP in {train['dtype']}; matmul {rate / 1e9:.1f} GFLOP/s -> compute floor {floor:.1f} s; "
          f"train stage {seconds:.1f} s = {seconds / floor:.1f}x floor")
    for run in runs:
        shutil.rmtree(run["home"], ignore_errors=True)
    return 0 if all(r["result"].code == cycle.PROMOTED for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
