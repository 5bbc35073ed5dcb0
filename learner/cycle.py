"""One learning cycle: collect -> knowledge -> dataset -> base -> train -> export -> evaluate -> promote.

Run as: python -m learner.cycle        (what `grokling learn --now` and the app start)

Runs as its own process: a crash or an out-of-memory kill cannot take the chat window
down, and the GPU memory is returned when it exits. With GROKLING_PROGRESS=jsonl its
stdout carries only JSON lines ({"event": "progress" | "done", ...}). Every stage writes
into this run's folder; nothing the app serves changes until the atomic promotion at the
end, so a kill at any point leaves the live model and the database as they were.

Exit status: 0 a new version is live; 3 nothing new to learn; 4 the candidate was gated
out; 5 another cycle is running; 6 the candidate passed and waits for the user's approval
(setting require_approval); 1 failure; 130 cancelled.
"""

import fcntl
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field

from learner import base as base_stage
from learner import collect, conflicts, dataset, evaluate, export, knowledge, paths, train, training_data, versions
from learner.models import live_model
from learner.privacy import offline_env
from learner.settings import Settings
from learner.stage import claim_stdout_for_events, event, progress, yield_cpu_to_chat
from learner.store import Store

PROMOTED, NOTHING_TO_LEARN, GATED_OUT, BUSY, AWAITING_APPROVAL, FAILED, CANCELLED = 0, 3, 4, 5, 6, 1, 130


@dataclass
class CycleResult:
    code: int
    reason: str
    version: str | None = None
    metrics: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)


def _lock():
    """The cycle lock's open file, or None while another cycle holds it."""
    handle = open(paths.data_dir() / "learn.lock", "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def run_cycle(settings: Settings, store: Store) -> CycleResult:
    lock = _lock()
    if lock is None:
        return CycleResult(BUSY, "another learning cycle is running")
    try:
        return _run(settings, store)
    finally:
        lock.close()


KEPT_RUNS = 2
"""Earlier cycles' working folders kept for inspection (each holds a candidate GGUF)."""


def _clear_old_runs() -> None:
    runs = sorted(p for p in (paths.data_dir() / "runs").glob("*") if p.is_dir())
    for old in runs[:-KEPT_RUNS]:
        shutil.rmtree(old, ignore_errors=True)


def _run(settings: Settings, store: Store) -> CycleResult:
    timings: dict[str, float] = {}
    _clear_old_runs()
    run_dir = paths.data_dir() / "runs" / time.strftime("%Y%m%d-%H%M%S")
    live = live_model(settings)
    live_meta = versions.live_version()
    after_feedback_id = live_meta.meta.get("last_feedback_id") if live_meta else None

    def timed(name, fn, *args, **kwargs):
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            timings[name] = round(time.perf_counter() - started, 2)

    collected = timed("collect", collect.run, store, run_dir / "collect", after_feedback_id, settings)
    learned_articles = {(a["title"], a["revision"]) for a in (live_meta.meta.get("articles", []) if live_meta else [])}
    articles, facts = [], []
    if settings.learn_from_wikipedia and settings.topics_per_cycle:
        knowledge_meta = timed("knowledge", knowledge.run_with_settings, store, run_dir / "knowledge", settings, live)
        articles = [a for a in knowledge_meta["articles"] if a["facts"]]
        facts = knowledge.read_facts(run_dir / "knowledge")
    new_articles = [a for a in articles if (a["title"], a["revision"]) not in learned_articles]
    if collected["new"] == 0 and not new_articles:
        return CycleResult(NOTHING_TO_LEARN, "nothing new to learn since the live version", timings=timings)

    dropped = training_data.excluded_keys(store)
    examples = [json.loads(line) for line in (run_dir / "collect" / "examples.jsonl").read_text().splitlines() if line]
    in_conflict = conflicts.find([e for e in examples if dataset.item_key(e["question"], e["answer"]) not in dropped],
                                 [f for f in facts if dataset.item_key(f["question"], f["answer"]) not in dropped])
    if in_conflict:
        progress("collect", 100, f"{len(in_conflict)} question(s) taught two different ways: left out until you choose")
    excluded = dropped | conflicts.keys(in_conflict)
    if all(dataset.item_key(item["question"], item["answer"]) in excluded for item in examples + facts):
        reason = "nothing to learn: every item was dropped from the training data"
        if in_conflict:
            reason = (f"nothing to learn: {len(in_conflict)} conflicting correction(s) wait for you to choose "
                      f"(learning panel, Training data): " + "; ".join(c["question"] for c in in_conflict))
        return CycleResult(NOTHING_TO_LEARN, reason, metrics={"conflicts": in_conflict}, timings=timings)

    replay = timed("replay", evaluate.retention_answers, live, settings.system_prompt)
    dataset_dir, dataset_meta = timed("dataset", dataset.run, run_dir / "collect", replay, settings.system_prompt,
                                      paths.data_dir() / "datasets", settings.replay_ratio, facts, excluded)
    checkpoint = timed("base", base_stage.resolve, settings.base_model)
    train_meta = timed("train", train.run, checkpoint, dataset_dir, run_dir / "adapter",
                       train.TrainSettings.from_settings(settings))
    candidate = run_dir / "export" / "model.gguf"
    timed("export", export.run, checkpoint, run_dir / "adapter", candidate, settings.quant)
    evaluation = timed("evaluate", evaluate.run, candidate, live, dataset_meta["probes"], settings.system_prompt,
                       run_dir / "eval", replayed=set(dataset_meta["replay_questions"]))
    metrics = {**evaluation["metrics"], "conflicts": in_conflict}
    learned = metrics["learned"] if metrics["learned"] is not None else 1.0
    from_articles = metrics["article_held_out"] if metrics["article_held_out"] is not None else 1.0
    if learned < settings.gate_learned or metrics["kept"] < settings.gate_kept or from_articles < settings.gate_articles:
        reason = (f"gated out: learned {learned:.0%} (needs {settings.gate_learned:.0%}), "
                  f"kept {metrics['kept']:.0%} (needs {settings.gate_kept:.0%})")
        if metrics["article_held_out"] is not None:
            reason += f", articles {from_articles:.0%} (needs {settings.gate_articles:.0%})"
        return CycleResult(GATED_OUT, reason, metrics=metrics, timings=timings)
    progress("promote", 0, "keeping the candidate for your approval" if settings.require_approval
             else "making the new version live")
    version = timed("promote", versions.promote, candidate, run_dir / "adapter", dataset_dir, {
        "metrics": metrics, "timings": timings, "dataset_sha256": dataset_meta["sha256"],
        "dataset_rows": dataset_meta["rows"], "dataset_kinds": dataset_meta["kinds"],
        "corrections": collected["corrections"], "positives": collected["positives"],
        "last_feedback_id": collected["last_feedback_id"], "articles": articles,
        "base": str(checkpoint), "quant": settings.quant, "train": {k: train_meta[k] for k in
                                                                     ("device", "qlora", "first_loss", "final_loss", "settings")},
        "items": evaluation["items"], "previous": live.version,
    }, settings.keep_versions, make_live=not settings.require_approval,
        budget_bytes=settings.versions_budget_mb * 1_000_000)
    if settings.require_approval:
        reason = f"{version.name} passed the gate and waits for your approval"
        progress("promote", 100, reason)
        return CycleResult(AWAITING_APPROVAL, reason, version=version.name, metrics=metrics, timings=timings)
    progress("promote", 100, f"{version.name} is live")
    return CycleResult(PROMOTED, f"{version.name} is live", version=version.name, metrics=metrics, timings=timings)


def main() -> int:
    if os.environ.get("GROKLING_PROGRESS") == "jsonl":
        claim_stdout_for_events()
    yield_cpu_to_chat()
    try:
        settings = Settings.load()
        # Before anything imports huggingface_hub, which reads these once.
        os.environ.update(offline_env(settings.base_model))
        result = run_cycle(settings, Store())
    except KeyboardInterrupt:
        result = CycleResult(CANCELLED, "cancelled")
    except Exception as e:  # reported to the reader, then the traceback on stderr
        event("done", code=FAILED, reason=f"{type(e).__name__}: {e}")
        raise
    event("done", code=result.code, reason=result.reason, version=result.version, metrics=result.metrics,
          timings=result.timings)
    if os.environ.get("GROKLING_PROGRESS") != "jsonl":
        print(f"{result.reason}\n{json.dumps({'metrics': result.metrics, 'timings': result.timings}, indent=2)}")
    return result.code


if __name__ == "__main__":
    sys.exit(main())
