"""One learning cycle: the stages in order, the gate, and the version it makes.

Run as: python -m learner.learning.cycle        (what `grokling learn --now` and the app start)

It teaches the model active when it starts (learner.models): it trains from that model's
checkpoint, gates against that model's live version and promotes into that model's lineage,
even if the user switches to another model meanwhile.

Runs as its own process: a crash or an out-of-memory kill cannot take the chat window
down, and the GPU memory is returned when it exits. With GROKLING_PROGRESS=jsonl its
stdout carries only JSON lines ({"event": "progress" | "done", ...}). Every stage writes
into this run's folder; nothing the app serves changes until the atomic promotion at the
end, so a kill at any point leaves the live model and the database as they were. Each
stage also runs alone (`python -m learner.learning.<stage>`) with the same settings.

Exit status: 0 a new version is live; 3 nothing new to learn; 4 the candidate was gated
out; 5 another cycle is running; 6 the candidate passed and waits for the user's approval
(setting require_approval); 2 the settings cannot be used (settings.json is not a JSON
object, or names a model file that is not there: the app starts no cycle on its own until
the file changes); 1 failure; 130 cancelled.
"""

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field

from filelock import Timeout

from learner import items as taught
from learner import gpu, models, paths, userdata, versions
from learner.chat.served import ModelNotFoundError
from learner.learning import checkpoint, collect, dataset, evaluate, export, gate, knowledge, retention, strategy, train
from learner.learning.stage import claim_stdout_for_events, event, progress, yield_cpu_to_chat
from learner.privacy import offline_env
from learner.settings import Settings, SettingsError
from learner.store import Store
from learner.store import learning as learning_store

PROMOTED, NOTHING_TO_LEARN, GATED_OUT, BUSY, AWAITING_APPROVAL, BAD_SETTINGS, FAILED, CANCELLED = 0, 3, 4, 5, 6, 2, 1, 130


@dataclass
class CycleResult:
    code: int
    reason: str
    version: str | None = None
    metrics: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)


def run_cycle(settings: Settings, store: Store) -> CycleResult:
    try:
        with versions.learning_lock().acquire(timeout=0):
            try:
                return _run(settings, store)
            finally:
                # A chat deleted while the cycle held the files (learner.userdata.forget_conversation)
                # may be in the rows it read: they go before the files are let go of.
                userdata.prune_after_cycle(store, settings)
    except Timeout:
        return CycleResult(BUSY, "another learning cycle is running")


KEPT_RUNS = 2
"""Earlier cycles' working folders kept for inspection (each holds a candidate GGUF)."""


def _clear_old_runs() -> None:
    runs = sorted(p for p in (paths.data_dir() / "runs").glob("*") if p.is_dir() and p.name != "manual")
    for old in runs[:-KEPT_RUNS]:
        shutil.rmtree(old, ignore_errors=True)


def _run(settings: Settings, store: Store) -> CycleResult:
    timings: dict[str, float] = {}

    def timed(name, fn, *args, **kwargs):
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            timings[name] = round(time.perf_counter() - started, 2)

    model = models.active()
    lineage = model.lineage
    if waiting := lineage.pending_names():
        return CycleResult(AWAITING_APPROVAL, f"{waiting[-1]} waits for your approval: accept or reject it first "
                                              "(learning panel, or grokling accept|reject)")
    _clear_old_runs()
    run_dir = paths.data_dir() / "runs" / time.strftime("%Y%m%d-%H%M%S")
    live, live_version = model.served(), lineage.live_version()
    live_name = live_version.name if live_version else versions.BASE
    live_key = lineage.key(live_name)  # how the verdicts name it: the model and its version
    progress("cycle", 0, f"teaching {model.name} (live: {live_name})")

    facts, fresh = [], []
    if settings.learn_from_wikipedia and settings.topics_per_cycle:
        found = timed("knowledge", knowledge.run_with_settings, store, run_dir / "knowledge", settings, live)
        facts, fresh = taught.load(run_dir / "knowledge" / taught.FACTS_FILE), [a for a in found["articles"] if a["facts"]]
    learned = live_version.meta.get("articles", []) if live_version else []
    kept_facts, kept = collect.learned_facts(store, learned, {a["title"] for a in fresh})
    articles = fresh + kept  # what this version knows: this cycle's articles and every earlier one's
    curriculum = timed("collect", collect.run, store, run_dir / "collect", settings, facts + kept_facts,
                       collect.watermark(store, lineage))
    learned_revisions = {(a["title"], a["revision"]) for a in learned}
    if curriculum.new == 0 and all((a["title"], a["revision"]) in learned_revisions for a in fresh):
        return CycleResult(NOTHING_TO_LEARN, _nothing_new(curriculum), timings=timings)
    if earlier := learning_store.verdict_for(store, live_key, curriculum.sha256):
        return CycleResult(NOTHING_TO_LEARN, f"nothing new: the same data was already judged against {live_key} "
                                             f"({earlier['reason']})", timings=timings)

    base = timed("checkpoint", checkpoint.resolve, model)
    plan = strategy.plan(curriculum.items, live_version, base, settings.continue_from_live)
    if not plan.new:
        return CycleResult(NOTHING_TO_LEARN, f"nothing new to learn: {live_name} knows every item", timings=timings)
    progress("cycle", 0, plan.reason)
    # The base's right answers: what every version keeps (evaluate judges "kept" against the base too).
    replay = timed("replay", retention.answers, model.base(), settings.system_prompt, retention.REPLAY)
    dataset_dir, dataset_meta = timed("dataset", dataset.run, plan.items, replay, settings,
                                      paths.data_dir() / "datasets", dataset.token_counter(base), plan.probed)
    skipped = _skipped(dataset_meta.get("skipped", []))
    if not dataset_meta.get("probed_items") and not dataset_meta["kinds"].get(taught.POSITIVE):
        return CycleResult(NOTHING_TO_LEARN, "nothing to learn: " + skipped, timings=timings)
    left_out = {s["key"] for s in dataset_meta.get("skipped", [])}
    learned_keys = sorted(plan.known | {i.key for i in plan.items if i.key not in left_out})
    # Training wants the GPU's memory: chat engines move to the CPU for these stages (learner.gpu).
    with gpu.lent_to_training(train.device() == "cuda", lambda message: progress("train", 0, message)):
        train_meta = timed("train", train.run, base, dataset_dir, run_dir / "adapter",
                           train.TrainSettings.from_settings(settings, dataset_meta["kinds"]), plan.start)
        candidate = run_dir / "export" / "model.gguf"
        timed("export", export.run, base, run_dir / "adapter", candidate, settings.quant, model.name,
              export.kept_for(model))
        evaluation = timed("evaluate", evaluate.run, candidate, live, taught.load(dataset_dir / taught.PROBES_FILE),
                           settings.system_prompt, run_dir / "eval", model.base())
    verdict = gate.judge(evaluation.metrics, settings)
    if skipped:
        verdict = gate.Verdict(verdict.passed, f"{verdict.reason}; {skipped}")
    metrics = evaluation.metrics.to_dict()
    if not verdict.passed:
        learning_store.record_verdict(store, live_key, GATED_OUT, verdict.reason, curriculum.watermark, curriculum.sha256)
        return CycleResult(GATED_OUT, verdict.reason, metrics=metrics, timings=timings)

    progress("promote", 0, "keeping the candidate for your approval" if settings.require_approval
             else "making the new version live")
    record = versions.VersionRecord(
        metrics=metrics, results=evaluation.results, timings=timings, curriculum_sha256=curriculum.sha256,
        dataset_sha256=dataset_meta["sha256"], dataset_rows=dataset_meta["rows"], dataset_kinds=dataset_meta["kinds"],
        corrections=curriculum.count(taught.CORRECTION), positives=curriculum.count(taught.POSITIVE),
        facts=curriculum.count(taught.ARTICLE), last_feedback_id=curriculum.watermark, articles=articles,
        base=str(base), quant=settings.quant, previous=live_name, gate=verdict.reason,
        conflicts=[c.to_dict() for c in curriculum.conflicts], learned_keys=learned_keys, strategy=plan.reason,
        train={k: train_meta[k] for k in ("device", "qlora", "steps", "first_loss", "final_loss", "settings")})
    version = timed("promote", lineage.promote, candidate, run_dir / "adapter", dataset_dir, record,
                    settings.keep_versions, make_live=not settings.require_approval,
                    budget_bytes=settings.versions_budget_mb * 1_000_000)
    if settings.require_approval:
        reason = f"{version.name} passed the gate and waits for your approval ({verdict.reason})"
        code = AWAITING_APPROVAL
        # Accepted, it carries its own watermark; rejected, its data stays judged until new feedback.
        learning_store.record_verdict(store, live_key, code, reason, curriculum.watermark, curriculum.sha256)
    else:
        reason, code = f"{model.name} {version.name} is live ({verdict.reason})", PROMOTED
    progress("promote", 100, reason)
    return CycleResult(code, reason, version=version.name, metrics=metrics, timings=timings)


def _skipped(skipped: list[dict]) -> str:
    """'skipped 1 item too long to learn: "…"' for the reason, or ''."""
    if not skipped:
        return ""
    return (f"skipped {len(skipped)} item(s) that cannot be learned: "
            + "; ".join(f'"{s["question"]}" ({s["reason"]})' for s in skipped))


def _nothing_new(curriculum: taught.Curriculum) -> str:
    if curriculum.conflicts:
        return (f"nothing to learn: {len(curriculum.conflicts)} question(s) taught two different ways wait for you "
                "to choose (learning panel, Training data): " + "; ".join(c.question for c in curriculum.conflicts))
    if curriculum.dropped and not curriculum.items:
        return "nothing to learn: every item was dropped from the training data"
    return "nothing new to learn since the live version"


def main() -> int:
    if os.environ.get("GROKLING_PROGRESS") == "jsonl":
        claim_stdout_for_events()
    yield_cpu_to_chat()
    try:
        settings = Settings.load()
        # Before anything imports huggingface_hub, which reads these once.
        os.environ.update(offline_env())
        with Store() as store:
            result = run_cycle(settings, store)
    except KeyboardInterrupt:
        result = CycleResult(CANCELLED, "cancelled")
    except (SettingsError, ModelNotFoundError) as e:
        result = CycleResult(BAD_SETTINGS, f"the settings cannot be used: {e}")
    except Exception as e:  # reported to the reader, then the traceback on stderr
        event("done", code=FAILED, reason=f"{type(e).__name__}: {e}")
        raise
    event("done", code=result.code, reason=result.reason, version=result.version, metrics=result.metrics,
          timings=result.timings)
    if os.environ.get("GROKLING_PROGRESS") != "jsonl":
        print(f"{result.reason}\n{json.dumps({'metrics': result.metrics, 'timings': result.timings}, indent=2)}")
    return result.code


if __name__ == "__main__":
    code = main()
    # All this process wrote is on disk by now (atomic, fsync'd files; the database closed), and the interpreter's
    # teardown of what training imported takes a second the user would wait for (peft, through bitsandbytes and
    # torch's inductor: 1.05 s to exit after importing them alone). A failure raised above still prints its traceback.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
