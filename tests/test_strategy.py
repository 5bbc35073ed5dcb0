"""Where a cycle trains from: the live version's adapter with rehearsal, or the base when it must."""

import json

from learner import items as taught
from learner.learning import strategy
from learner.versions import Version

BASE = "/checkpoints/embedded"


def corrections(n: int, start: int = 0) -> list[taught.TaughtItem]:
    return [taught.correction(f"Who founded Company{i}?", f"Person{i} founded Company{i}.",
                              taught.Provenance(taught.CORRECTION, feedback_id=i + 1)) for i in range(start, start + n)]


def version(tmp_path, known: list[taught.TaughtItem], base: str = BASE, record_keys: bool = True) -> Version:
    folder = tmp_path / "v1"
    (folder / "adapter").mkdir(parents=True)
    (folder / "adapter" / "adapter_config.json").write_text("{}")
    rows = [{"source": {"kind": "correction", "key": i.key}} for i in known for _ in i.train + i.about] + [{"source": {"kind": "replay"}}]
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    meta = {"base": base, **({"learned_keys": [i.key for i in known]} if record_keys else {})}
    return Version("v1", folder, meta)


def test_a_live_version_is_continued_on_what_it_does_not_know_rehearsing_every_earlier_item_up_to_a_bound(tmp_path):
    earlier, new = corrections(30), corrections(3, start=30)
    plan = strategy.plan(earlier + new, version(tmp_path, earlier), BASE)
    assert plan.start == tmp_path / "v1" / "adapter" and plan.known == {i.key for i in earlier}
    assert plan.new == tuple(new) and plan.items[:3] == tuple(new)  # the new items whole, every phrasing
    rehearsed = plan.items[3:]
    assert sorted(i.key for i in rehearsed) == sorted(i.key for i in earlier)  # every earlier item, once
    asked = {i.key for i in plan.probed} - {i.key for i in new}
    assert len(asked) == max(strategy.EARLIER_AT_LEAST, strategy.EARLIER_PER_NEW * len(new))
    turns = set()
    for item in rehearsed:  # as it was asked and from its other side; those the evaluation asks in one more phrasing
        original = next(e for e in earlier if e.key == item.key)
        assert len(item.train + item.about) == 2 + (strategy.ASKED_REHEARSED_MORE if item.key in asked else 0)
        assert item.train[0] == original.train[0]
        assert set(item.train) <= set(original.train) and set(item.about) <= set(original.about)
        assert set(item.about) & set(taught.from_other_side(original))
        assert item.statement == original.statement
        turns |= {taught.from_other_side(original).index(p) for p in item.about if p in taught.from_other_side(original)}
    assert turns == {0, 1}  # chosen afresh: each item's first or second question from the other side, not always one
    # The cost stops growing with the history at the bound: beyond it, a sample of that many earlier items.
    many = corrections(strategy.REHEARSED_AT_MOST + 50, start=100)
    bigger = strategy.plan(many + new, version(tmp_path / "b", many), BASE)
    assert len(bigger.items) == len(new) + strategy.REHEARSED_AT_MOST
    assert len({i.key for i in bigger.items}) == len(bigger.items) and set(bigger.new) == set(new)


def test_the_base_when_something_learned_must_be_unlearned_or_nothing_can_be_continued(tmp_path):
    earlier, new = corrections(5), corrections(1, start=5)
    everything = earlier[1:] + new  # the user dropped earlier[0] (or taught it again differently)
    plan = strategy.plan(everything, version(tmp_path, earlier), BASE)
    assert plan.start is None and plan.items == tuple(everything) and "unlearned" in plan.reason
    assert strategy.plan(earlier + new, None, BASE).start is None  # nothing learned yet
    other = strategy.plan(earlier + new, version(tmp_path / "o", earlier, base="/checkpoints/other"), BASE)
    assert other.start is None and "another checkpoint" in other.reason
    off = strategy.plan(earlier + new, version(tmp_path / "f", earlier), BASE, continue_from_live=False)
    assert off.start is None and off.items == tuple(earlier + new)


def test_what_a_version_knows_is_read_from_its_training_rows_before_versions_recorded_it(tmp_path):
    earlier = corrections(4)
    assert strategy.learned_keys(version(tmp_path, earlier, record_keys=False)) == {i.key for i in earlier}
    plan = strategy.plan(earlier + corrections(1, start=4), version(tmp_path / "r", earlier, record_keys=False), BASE)
    assert plan.start is not None and len(plan.new) == 1


def test_the_evaluation_asks_the_new_items_and_a_bounded_sample_of_the_earlier_ones(tmp_path):
    new = corrections(3, start=200)
    for strategy_is_continuing in (True, False):
        sizes = []
        for n, folder in ((30, "small"), (90, "big")):
            earlier = corrections(n)
            plan = strategy.plan(earlier + new, version(tmp_path / folder / str(strategy_is_continuing), earlier), BASE,
                                 continue_from_live=strategy_is_continuing)
            assert (plan.start is not None) == strategy_is_continuing
            assert set(new) <= set(plan.probed)  # every new item is asked
            sampled = [i for i in plan.probed if i not in new]
            assert {i.key for i in sampled} <= {i.key for i in earlier} and len({i.key for i in sampled}) == len(sampled)
            sizes.append(len(plan.probed))
        assert sizes[0] == sizes[1] == len(new) + strategy.EARLIER_PER_NEW * len(new)  # not growing with the history
    # Nothing learned yet, or learned on another checkpoint: every item is new, so every item is asked.
    everything = corrections(8)
    assert strategy.plan(everything, None, BASE, continue_from_live=False).probed == tuple(everything)
    other = version(tmp_path / "other", everything[:6], base="/checkpoints/other")
    assert strategy.plan(everything, other, BASE, continue_from_live=False).probed == tuple(everything)
