"""Learning that accumulates: 20 rounds of 5 new facts, each round one learning cycle, as a user gets it.

    python benchmarks/accumulate_bench.py [--rounds 20] [--per-round 5] [--score-every 10] [--gate-kept 0.85] [--from-base]
                                          [--short-answers] [--facts FILE]

Each round teaches the next facts of benchmarks/accumulate_facts.jsonl (100 invented facts,
written before tuning, each with two rewordings in other words and structure and a question
asked the other way round), one `correct` each, and runs the real cycle
(learner.learning.cycle, Wikipedia off) on the embedded model. The strategy is chosen here, whatever
the setting: by default, as the app does, each cycle continues the live version with rehearsal
(learner.learning.strategy); --from-base retrains from the base on everything taught so far.
--short-answers corrects with only the words that answer ("Ines Haltrop." for "Who invented the
skyloom?"), as users often do, rather than the fact's sentence.

Per round it prints the cycle's verdict, rows, steps and seconds (and its stages'). On the first
round, every --score-every rounds and the last, the live model is asked every fact taught so far,
in new chats, greedily: as taught, reworded and reversed, with the weights alone (instant memory
off) and as a user gets it (memory on); and "kept", the gate-only general-knowledge questions the
base model answers right and firmly that the live model still does (never trained on: replay draws
from the set's other part; learner.learning.retention.FIRM_MARGIN), with "kept any" of all those the
base answers right beside it: on the gate a cycle asks, and "wide" on the gate with the set's
benchmark part (learner.learning.retention.BENCHMARK): 322 more questions, which no cycle asks.
Scoring is not part of the cycle's seconds.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ["GROKLING_HOME"] = tempfile.mkdtemp(prefix="grokling-accumulate-bench-")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from learner import models  # noqa: E402
from learner.chat.engine import Engine  # noqa: E402
from learner.chat.turn import send  # noqa: E402
from learner.items import Score, is_right  # noqa: E402
from learner.learning import cycle, retention  # noqa: E402
from learner.settings import Settings  # noqa: E402
from learner.store import Store  # noqa: E402

FACTS = Path(__file__).resolve().parent / "accumulate_facts.jsonl"
STAGES = ("replay", "dataset", "train", "export", "evaluate")


def teach(store: Store, question: str, answer: str) -> None:
    conversation = store.new_conversation()
    store.add_user_message(conversation, question)
    store.correct(store.add_assistant_message(conversation, "I don't know."), answer)


def score(store: Store, facts: list[dict]) -> dict:
    """Share of facts answered as taught, reworded and reversed by the live model, weights alone and with memory;
    and kept on the gate-only set."""
    model = models.active()
    settings = Settings.load()
    arms = {"weights": Settings(**{**settings.__dict__, "temperature": 0.0, "max_tokens": 32, "instant_memory": False}),
            "memory": Settings(**{**settings.__dict__, "temperature": 0.0, "max_tokens": 32})}
    found = {}
    gate = retention.answers(model.base(), settings.system_prompt, retention.GATE)
    before = gate + retention.answers(model.base(), settings.system_prompt, retention.BENCHMARK)
    engine = Engine(model.served(), n_ctx=2048)
    try:
        for arm, arm_settings in arms.items():
            def right(question: str, expect: list[str]) -> bool:
                return is_right("".join(send(store, engine, store.new_conversation(), question, arm_settings)), expect)

            found[arm] = {
                "taught": [right(f["question"], f["expect"]) for f in facts],
                "reworded": [right(r["question"], r["expect"]) for f in facts for r in f["rewordings"]],
                "reverse": [right(f["reverse"]["question"], f["reverse"]["expect"]) for f in facts]}
        after = retention.still_right(engine, before, settings.system_prompt)
    finally:
        engine.close()
    found["kept"], found["kept_any"] = retention.kept(gate, after)
    found["kept_wide"], found["kept_any_wide"] = retention.kept(before, after)
    found["missed"] = [f["question"] for f, ok in zip(facts, found["weights"]["taught"]) if not ok]
    return found


def cell(values: list[bool]) -> str:
    return score_cell(Score.of(values))


def score_cell(score: Score) -> str:
    return f"{score} ({score.share or 0:.0%})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--per-round", type=int, default=5)
    parser.add_argument("--score-every", type=int, default=10)
    parser.add_argument("--facts", type=Path, default=FACTS, help="the facts, in accumulate_facts.jsonl's form")
    parser.add_argument("--gate-kept", type=float, help="the gate's kept share for this run (default: the setting's)")
    parser.add_argument("--from-base", action="store_true",
                        help="retrain from the base on everything each cycle (default: continue the live version, "
                             "as the app does)")
    parser.add_argument("--short-answers", action="store_true",
                        help="correct with only the words that answer (the fact's expected terms), not its sentence")
    args = parser.parse_args()
    facts = [json.loads(line) for line in args.facts.read_text().splitlines() if line.strip()]
    if args.rounds * args.per_round > len(facts):
        parser.error(f"{args.facts.name} holds {len(facts)} facts")
    Settings(learn_from_wikipedia=False, max_corrections_per_cycle=args.per_round,
             continue_from_live=not args.from_base,
             **({"gate_kept": args.gate_kept} if args.gate_kept is not None else {})).save()
    store = Store()
    strategy = "from the base" if args.from_base else "continuing the live version"
    answers = ", answered in a few words" if args.short_answers else ""
    print(f"{args.rounds} rounds of {args.per_round} facts{answers}, {strategy}, gate kept {Settings.load().gate_kept:.0%}",
          flush=True)
    print(f"{'round':<6}{'verdict':<10}{'rows':>5}{'steps':>6}{'cycle s':>9}  " + "".join(f"{s:>9}" for s in STAGES),
          flush=True)
    scored, seconds = [], []
    for r in range(1, args.rounds + 1):
        taught_now = facts[(r - 1) * args.per_round: r * args.per_round]
        for f in taught_now:
            teach(store, f["question"], " and ".join(f["expect"]) + "." if args.short_answers else f["answer"])
        started = time.perf_counter()
        result = cycle.run_cycle(Settings.load(), store)
        took = time.perf_counter() - started
        seconds.append(took)
        live = models.active().lineage.live_version()
        verdict = {cycle.PROMOTED: "live", cycle.GATED_OUT: "gated out"}.get(result.code, f"code {result.code}")
        meta = live.meta if live and result.code == cycle.PROMOTED else {}
        steps = meta.get("train", {}).get("steps", "")
        print(f"{r:<6}{verdict:<10}{meta.get('dataset_rows', ''):>5}{steps:>6}{took:>9.1f}  "
              + "".join(f"{result.timings.get(s, 0):>9.1f}" for s in STAGES), flush=True)
        if result.code != cycle.PROMOTED:
            print(f"      {result.reason}", flush=True)
        if r == 1 or r % args.score_every == 0 or r == args.rounds:
            so_far = facts[: r * args.per_round]
            found = score(store, so_far)
            scored.append((r, len(so_far), found))
            print(f"      scored on {len(so_far)} facts: weights taught {cell(found['weights']['taught'])}, reworded "
                  f"{cell(found['weights']['reworded'])}, reverse {cell(found['weights']['reverse'])}; with memory taught "
                  f"{cell(found['memory']['taught'])}, reworded {cell(found['memory']['reworded'])}, reverse "
                  f"{cell(found['memory']['reverse'])}; kept {score_cell(found['kept'])}, any {score_cell(found['kept_any'])}; wide kept "
                  f"{score_cell(found['kept_wide'])}, any {score_cell(found['kept_any_wide'])}", flush=True)
    print(f"\n{strategy}: over all facts taught so far, live model")
    print(f"{'round':<6}{'facts':>6}  {'arm':<8}{'taught':>14}{'reworded':>15}{'reverse':>14}{'kept':>16}{'kept any':>16}{'wide kept':>18}{'wide any':>18}")
    for r, n, found in scored:
        for arm in ("weights", "memory"):
            k = found[arm]
            print(f"{r:<6}{n:>6}  {arm:<8}{cell(k['taught']):>14}{cell(k['reworded']):>15}{cell(k['reverse']):>14}"
                  + (f"{score_cell(found['kept']):>16}{score_cell(found['kept_any']):>16}"
                     f"{score_cell(found['kept_wide']):>18}{score_cell(found['kept_any_wide']):>18}" if arm == "weights" else ""))
    print(f"\ncycle seconds: round 1 {seconds[0]:.0f}, round {len(seconds)} {seconds[-1]:.0f} "
          f"({seconds[-1] / seconds[0]:.2f}x round 1); median {sorted(seconds)[len(seconds) // 2]:.0f}")
    if scored[-1][2]["missed"]:
        print("missed as taught by the weights at the end: " + "; ".join(scored[-1][2]["missed"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
