"""The gate: every branch of `gate.judge`, with counts in every reason."""

from learner.items import Metrics, Score
from learner.learning import gate
from learner.settings import Settings

SETTINGS = Settings(gate_learned=0.8, gate_kept=0.95, gate_kept_any=0.85, gate_articles=0.5)


def metrics(learned=(4, 4), kept=(37, 37), articles=(0, 0), kept_any: tuple[int, int] | None = None) -> Metrics:
    return Metrics(learned=Score(*learned), paraphrased=Score(0, 0), article_learned=Score(*articles),
                   article_held_out=Score(*articles), kept=Score(*kept), kept_any=Score(*(kept_any or kept)))


def test_a_candidate_that_learned_and_kept_passes_with_its_counts():
    verdict = gate.judge(metrics(), SETTINGS)
    assert verdict.passed and verdict.reason == "passed: learned 4/4, kept 37/37, kept any 37/37"


def test_too_little_learned_is_gated_out():
    verdict = gate.judge(metrics(learned=(3, 4)), SETTINGS)
    assert not verdict.passed and verdict.reason == "gated out: learned 3/4 (needs 80%)"


def test_kept_just_under_the_bar_says_so_in_counts():
    verdict = gate.judge(metrics(kept=(35, 37)), SETTINGS)
    assert not verdict.passed and verdict.reason == "gated out: kept 35/37 (needs 95%)"


def test_kept_judges_the_general_answers_the_base_got_right():
    # 2 of the base's 37 lost: kept 35/37 passes at 90%, 30/37 does not.
    assert gate.judge(metrics(kept=(35, 37)), Settings(gate_kept=0.9, gate_kept_any=0.9)).passed
    lost_more = gate.judge(metrics(kept=(30, 37)), Settings(gate_kept=0.9, gate_kept_any=0.8))
    assert not lost_more.passed and lost_more.reason == "gated out: kept 30/37 (needs 90%)"
    # One lost, within what kept allows: numerics alone move that much.
    within = gate.judge(metrics(kept=(36, 37)), Settings(gate_kept=0.95))
    assert within.passed and within.reason == "passed: learned 4/4, kept 36/37, kept any 36/37"
    assert gate.judge(metrics(kept=(0, 37)), Settings(gate_kept=0.0, gate_kept_any=0.0)).passed


def test_near_tie_answers_may_flip_within_their_looser_bar_but_not_beyond_it():
    # the base's firm answers all kept; 3 of its 40 right ones lost, all near ties: what any change does
    churn = gate.judge(metrics(kept=(23, 23), kept_any=(37, 40)), SETTINGS)
    assert churn.passed and churn.reason == "passed: learned 4/4, kept 23/23, kept any 37/40"
    forgetting = gate.judge(metrics(kept=(23, 23), kept_any=(32, 40)), SETTINGS)
    assert not forgetting.passed and forgetting.reason == "gated out: kept any 32/40 (needs 85%)"
    assert not gate.judge(metrics(kept=(21, 23), kept_any=(38, 40)), SETTINGS).passed


def test_articles_are_checked_only_when_there_were_held_out_article_questions():
    assert gate.judge(metrics(articles=(1, 2)), SETTINGS).reason == \
        "passed: learned 4/4, kept 37/37, kept any 37/37, articles 1/2"
    verdict = gate.judge(metrics(articles=(2, 5)), SETTINGS)
    assert not verdict.passed and verdict.reason == "gated out: articles 2/5 (needs 50%)"


def test_every_failed_check_is_named():
    verdict = gate.judge(metrics(learned=(0, 2), kept=(30, 37), articles=(0, 4), kept_any=(30, 40)), SETTINGS)
    assert verdict.reason == ("gated out: learned 0/2 (needs 80%), kept 30/37 (needs 95%), kept any 30/40 (needs 85%), "
                              "articles 0/4 (needs 50%)")


def test_nothing_taught_is_nothing_to_miss():
    # Article facts alone: no corrections were asked, so learned has nothing to fail on.
    assert gate.judge(metrics(learned=(0, 0), articles=(3, 4)), SETTINGS).passed


def test_the_general_knowledge_set_is_split_once_and_no_question_gives_its_answer_away():
    from learner.items import says, same_question
    from learner.learning import retention

    parts = {split: retention.general_knowledge(split) for split in (retention.REPLAY, retention.GATE, retention.BENCHMARK)}
    questions = [same_question(item["question"]) for part in parts.values() for item in part]
    assert len(questions) == len(set(questions))  # in one part only: what replay trains on is never what kept asks
    assert len(parts[retention.BENCHMARK]) > 4 * len(parts[retention.GATE]) > 200
    for item in (item for part in parts.values() for item in part):
        assert item["expect"] and not any(says(item["question"], term) for term in item["expect"]), item
