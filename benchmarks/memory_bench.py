"""Instant memory on the embedded model: taught facts answered in a new chat before any cycle.

    python benchmarks/memory_bench.py [--cycle] [--items 10000]

The dev set (benchmarks/dev_facts.jsonl, written before tuning) holds 30 invented facts, each
taught as one correction, with two rewordings in other words and structure and a question
asked the other way round; benchmarks/dev_unrelated.jsonl and the general-knowledge set's
gate questions are ones the facts do not answer. Each question is asked in a new chat,
greedily, with instant memory on and off:
- taught / reworded / reverse: answered as taught (the expected terms are in the reply);
- unrelated changed: replies that differ from the same question asked with memory off;
- recall cost: recall() itself over a store of --items taught items, and the first token's
  time with memory on against the same questions with memory off (the peer): questions that
  recall nothing, taught questions asked again (answered with the user's words), and
  rewordings (the note is read).
With --cycle, a learning cycle then learns the facts and the table is printed again for its
candidate (live or gated out): the weights alone (memory off) against weights and memory.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ["GROKLING_HOME"] = tempfile.mkdtemp(prefix="grokling-memory-bench-")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from learner.chat import memory  # noqa: E402
from learner.chat.engine import Engine  # noqa: E402
from learner import paths  # noqa: E402
from learner.chat.served import ModelChoice, live_model  # noqa: E402
from learner.chat.turn import send  # noqa: E402
from learner.learning import retention  # noqa: E402
from learner.settings import Settings  # noqa: E402
from learner.store import Store  # noqa: E402

HERE = Path(__file__).resolve().parent


def load(name: str) -> list[dict]:
    return [json.loads(line) for line in (HERE / name).read_text().splitlines() if line.strip()]


def answered(reply: str, expect: list[str]) -> bool:
    low = reply.lower()
    return all(any(alt.lower() in low for alt in e.split("|")) for e in expect)


def teach(store: Store, question: str, answer: str) -> None:
    conversation = store.new_conversation()
    store.add_user_message(conversation, question)
    store.correct(store.add_assistant_message(conversation, "I don't know."), answer)


def ask(store: Store, engine: Engine, question: str, settings: Settings) -> tuple[str, float, bool]:
    """(reply, first-token ms, whether memory recalled something)."""
    reply = send(store, engine, store.new_conversation(), question, settings)
    text = "".join(reply)
    return text, reply.message.first_token_ms or 0.0, bool(reply.recalled)


def table(store: Store, engine: Engine, facts: list[dict], unrelated: list[str], label: str) -> dict:
    base = Settings(temperature=0.0, max_tokens=48)  # greedy, otherwise as the app answers
    arms = {"off": Settings(**{**base.__dict__, "instant_memory": False}), "on": base}
    results = {}
    for arm, settings in arms.items():
        kinds = {"taught": [], "reworded": [], "reverse": []}
        for f in facts:
            kinds["taught"].append(answered(ask(store, engine, f["question"], settings)[0], f["expect"]))
            for r in f["rewordings"]:
                kinds["reworded"].append(answered(ask(store, engine, r["question"], settings)[0], r["expect"]))
            kinds["reverse"].append(answered(ask(store, engine, f["reverse"]["question"], settings)[0],
                                             f["reverse"]["expect"]))
        replies = [ask(store, engine, q, settings) for q in unrelated]
        results[arm] = {"kinds": kinds, "unrelated": [r[0] for r in replies], "recalled": sum(r[2] for r in replies)}
    changed = sum(a != b for a, b in zip(results["on"]["unrelated"], results["off"]["unrelated"]))
    print(f"\n{label}")
    print(f"{'memory':<8}{'taught':>10}{'reworded':>11}{'reverse':>10}{'unrelated recalled':>20}")
    for arm in ("off", "on"):
        k = results[arm]["kinds"]
        cells = [f"{sum(v)}/{len(v)}" for v in (k["taught"], k["reworded"], k["reverse"])]
        print(f"{arm:<8}{cells[0]:>10}{cells[1]:>11}{cells[2]:>10}{results[arm]['recalled']:>14}/{len(unrelated)}")
    print(f"unrelated answers changed by memory: {changed}/{len(unrelated)} ({changed / len(unrelated):.1%})")
    return results


def recall_cost(n_items: int, engine: Engine, facts: list[dict], unrelated: list[str]) -> None:
    """recall() over a big memory, and the first token with memory on vs off: for questions that recall
    nothing (the cost of looking), and for questions that recall an item (looking, and reading the note)."""
    home = Path(tempfile.mkdtemp(prefix="grokling-memory-cost-"))
    store = Store(home / "grokling.db")
    words = "amber basalt cedar dune ember fjord garnet harbor indigo juniper kestrel lumen marble nectar onyx".split()
    with store.transaction() as db:
        for i in range(n_items):
            a, b, c = words[i % 15], words[(i // 15) % 15], words[(i // 225) % 15]
            cid = db.execute("INSERT INTO conversations (title, created_at, updated_at) VALUES ('t', 'x', 'x')").lastrowid
            db.execute("INSERT INTO messages (conversation_id, role, content, created_at) VALUES (?, 'user', ?, 'x')",
                       [cid, f"Who runs the {a.title()} {b.title()} guild of {c.title()}{i}?"])
            mid = db.execute("INSERT INTO messages (conversation_id, role, content, created_at) "
                             "VALUES (?, 'assistant', 'No idea.', 'x')", [cid]).lastrowid
            db.execute("INSERT INTO feedback (message_id, correction, created_at) VALUES (?, ?, 'x')",
                       [mid, f"The {a.title()} {b.title()} guild of {c.title()}{i} is run by Warden Vo{i}."])
    for f in facts:
        teach(store, f["question"], f["answer"])
    settings = Settings(temperature=0.0, max_tokens=8)
    questions = [r["question"] for f in facts for r in f["rewordings"]]
    times = []
    for q in questions:
        started = time.perf_counter()
        memory.recall(store, q, settings)
        times.append((time.perf_counter() - started) * 1000)
    off_settings = Settings(**{**settings.__dict__, "instant_memory": False})
    repeated = [f["question"] for f in facts]
    reworded = [f["rewordings"][0]["question"] for f in facts]

    def first_tokens(questions: list[str]) -> tuple[float, float]:
        """Median first-token ms with memory on, and off (the peer)."""
        return (statistics.median(ask(store, engine, q, settings)[1] for q in questions),
                statistics.median(ask(store, engine, q, off_settings)[1] for q in questions))

    def prompt_tokens(question: str, recalled: list) -> int:
        messages = [{"role": "system", "content": settings.system_prompt}, {"role": "user", "content": question}]
        return engine.count_tokens(engine.format_chat(memory.with_memory(messages, recalled)))

    added = statistics.median(prompt_tokens(q, memory.recall(store, q, settings)) - prompt_tokens(q, [])
                              for q in reworded)
    print(f"\nrecall() over {n_items + len(facts):,} taught items: median {statistics.median(times):.1f} ms, "
          f"max {max(times):.1f} ms ({len(questions)} questions)")
    for label, asked in (("nothing recalled (unrelated questions)", unrelated),
                         ("a taught question asked again (the user's answer given)", repeated)):
        on, off = first_tokens(asked)
        print(f"first token, {label}: median {on:.1f} ms against {off:.1f} ms with memory off: {on - off:+.1f} ms")
    on, off = first_tokens(reworded)
    print(f"first token, a reworded question (the note read): median {on:.1f} ms against {off:.1f} ms with memory "
          f"off: {on - off:+.1f} ms, the prefill of the {added:.0f} tokens the note and exchange add "
          f"({(on - off) / max(1, added):.2f} ms a token)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycle", action="store_true", help="then run a learning cycle and measure again")
    parser.add_argument("--items", type=int, default=10_000)
    args = parser.parse_args()
    facts = load("dev_facts.jsonl")
    unrelated = [u["question"] for u in load("dev_unrelated.jsonl")]
    unrelated += [r["question"] for r in retention.general_knowledge(retention.GATE)]
    store = Store()
    for f in facts:
        teach(store, f["question"], f["answer"])
    engine = Engine(live_model(), n_ctx=2048)
    try:
        table(store, engine, facts, unrelated, "before any cycle (the base model)")
        recall_cost(args.items, engine, facts, unrelated[:30])
    finally:
        engine.close()
    if args.cycle:
        from learner.learning import cycle

        Settings(max_corrections_per_cycle=len(facts), learn_from_wikipedia=False).save()
        started = time.perf_counter()
        result = cycle.run_cycle(Settings.load(), store)
        print(f"\ncycle: {result.reason} ({time.perf_counter() - started:.0f} s)")
        # The cycle's candidate, whether or not the gate let it go live: what the weights learned.
        [run] = sorted(p for p in (paths.data_dir() / "runs").iterdir() if p.name != "manual")[-1:]
        engine = Engine(ModelChoice(run / "export" / "model.gguf", "candidate"), n_ctx=2048)
        try:
            table(store, engine, facts, unrelated, f"after the cycle (its candidate; {result.reason})")
        finally:
            engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
