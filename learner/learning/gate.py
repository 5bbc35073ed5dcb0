"""The gate: does a candidate go live? A pure function of its metrics and the user's settings.

Four checks, each on counts: the corrections it was taught, answered as taught
(`gate_learned`); the retention questions the base model got right, still right
(`gate_kept`); no fewer retention questions right than the base in all (a small model's
borderline answers flip both ways in any training: one correction lost 3-4 of the base's 40
right answers and gained 6-10 of its 33 wrong ones, so losses alone cannot tell forgetting
from churn, and gains alone must not buy losses past `gate_kept`; at `gate_kept` 0 general
answers are not checked at all); the held-out questions
about the articles it read (`gate_articles`). A set with nothing in it passes its check. The reason names every count and what it needed,
so "kept 35/37 (needs 95%)" never reads as a pass.
"""

from dataclasses import dataclass

from learner.items import Metrics, Score


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reason: str


def _check(name: str, score: Score, needed: float) -> tuple[bool, str]:
    return score.reaches(needed), f"{name} {score} (needs {needed:.0%})"


def judge(metrics: Metrics, settings) -> Verdict:
    before, after = metrics.kept.total, metrics.retention_right_after
    checks = [_check("learned", metrics.learned, settings.gate_learned),
              _check("kept", metrics.kept, settings.gate_kept),
              (after >= before or not settings.gate_kept, f"general answers right {after} (needs {before}, the base's)")]
    if metrics.article_held_out.total:
        checks.append(_check("articles", metrics.article_held_out, settings.gate_articles))
    failed = [text for ok, text in checks if not ok]
    if failed:
        return Verdict(False, "gated out: " + ", ".join(failed))
    return Verdict(True, "passed: " + ", ".join(text.split(" (")[0] for _, text in checks))
