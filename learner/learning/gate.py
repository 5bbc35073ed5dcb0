"""The gate: does a candidate go live? A pure function of its metrics and the user's settings.

Four checks, each on counts: the corrections it was taught, answered as taught
(`gate_learned`); the retention questions the base model answers right and firmly, still right
(`gate_kept`), and all it answers right, however near a tie, by a looser bar (`gate_kept_any`: an
answer the base gives by a near tie flips with any change to the weights:
learner.learning.retention.FIRM_MARGIN); the held-out questions about the articles it read
(`gate_articles`). A set
with nothing in it passes its check. Gains do not buy losses: only the base's right answers are asked
(the candidate, Q8_0, and the base, the embedded Q4_1, already differ by 2-3 of 73 with no training
at all, numerics alone, so "no fewer right in all than the base" failed honest candidates on a single
flip once replay held training to the base's distribution). The
reason names every count and what it needed, so "kept 35/37 (needs 95%)" never reads as a pass.
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
    checks = [_check("learned", metrics.learned, settings.gate_learned),
              _check("kept", metrics.kept, settings.gate_kept),
              _check("kept any", metrics.kept_any, settings.gate_kept_any)]
    if metrics.article_held_out.total:
        checks.append(_check("articles", metrics.article_held_out, settings.gate_articles))
    failed = [text for ok, text in checks if not ok]
    if failed:
        return Verdict(False, "gated out: " + ", ".join(failed))
    return Verdict(True, "passed: " + ", ".join(text.split(" (")[0] for _, text in checks))
