"""Where a cycle starts training from, and on what: the live version's adapter, continued on the items
it has not learned plus a rehearsal of those it has; or the base, on every item.

Continuing keeps a cycle's cost bounded as the taught history grows (rows: the new items, at most
REHEARSED_AT_MOST earlier ones, and replay), where training from the base on everything grows with
it until the step cap leaves items under-trained. Every earlier item is rehearsed, up to that bound,
so that a continued adapter does not drift off it: continuing on new items alone lost a fact by the
third round, and rehearsing only a sample of two earlier items per new one let the weights lose 7 of
50 facts by round 10 and 31 of 100 by round 20 (benchmarks/accumulate_bench.py, 7 Dec). An item the
live version learned but the user has since dropped (or corrected again, or contradicted) must be
unlearned, and an adapter cannot be continued into forgetting it: then, and for a live version
trained on another checkpoint, the cycle trains from the base on every item. Not a stage: the cycle
and the dataset stage ask it.

Either way the evaluation asks the items new to the live version and a sample of the earlier ones
(those a continued cycle rehearses in one more phrasing), not the whole history: its cost stays bounded too.

On by default (Settings.continue_from_live): from the base, the growing rows under the step cap left
facts under-trained by round 10, where continuing kept learning (see the setting's measurement).
"""

import json
import random
from dataclasses import dataclass, replace
from pathlib import Path

from learner.items import TaughtItem, from_other_side
from learner.versions import Version

EARLIER_PER_NEW = 2
"""Earlier items asked by the evaluation (and rehearsed in ASKED_REHEARSED_MORE more phrasings) per new item."""
EARLIER_AT_LEAST = 4
"""Earlier items asked however few the new ones, while there are that many."""
ASKED_REHEARSED_MORE = 1
"""Phrasings an earlier item the evaluation asks is rehearsed in besides those every earlier item is: as it was
asked, and from its fact's other side where it has one (_rehearsal)."""
REHEARSED_AT_MOST = 160
"""Earlier items rehearsed in one cycle: every one up to this many, a fresh sample of this many beyond it. With
five new items and the replay rows, the train stage's step cap (TrainSettings.max_steps) then still passes
over each row about one and a half times (twice at round 20 of accumulate_bench: 377 rows)."""


@dataclass(frozen=True)
class Plan:
    items: tuple[TaughtItem, ...]
    """What this cycle trains: the new items whole, then the rehearsed ones."""
    start: Path | None
    """The adapter training continues, or None: a fresh adapter on the base."""
    known: frozenset[str]
    """Keys of the items the start already knows: with this cycle's items, what the new version knows."""
    reason: str
    probed: tuple[TaughtItem, ...]
    """What the evaluation asks: the probed items new to the live version, and a sample of earlier ones."""

    @property
    def new(self) -> tuple[TaughtItem, ...]:
        return tuple(i for i in self.items if i.key not in self.known)


def learned_keys(version: Version) -> frozenset[str]:
    """The keys of every item a version knows: recorded since versions continue one another, else those
    its training rows came from (a version trained from the base trained on everything it knows)."""
    if "learned_keys" in version.meta:
        return frozenset(version.meta["learned_keys"])
    rows = (version.path / "train.jsonl").read_text(encoding="utf-8").splitlines()
    return frozenset(k for k in (json.loads(r)["source"].get("key") for r in rows if r) if k)


def plan(items: list[TaughtItem] | tuple[TaughtItem, ...], live: Version | None, base: str | Path,
         continue_from_live: bool = True) -> Plan:
    """The plan for a cycle over the curriculum's `items` (every item the user wants learned)."""
    same_base = live is not None and live.meta.get("base") == str(base)
    live_knows = learned_keys(live) if same_base else frozenset()
    new = [i for i in items if i.key not in live_knows]
    earlier = [i for i in items if i.key in live_knows]
    # Seeded by what is known, so each cycle rehearses and asks another sample, and a rerun the same one.
    chooser = random.Random(len(live_knows))
    sample = chooser.sample(earlier, min(len(earlier), REHEARSED_AT_MOST,
                                         max(EARLIER_AT_LEAST, EARLIER_PER_NEW * len(new))))
    asked = tuple(i for i in new + sample if i.probed)
    everything = Plan(tuple(items), None, frozenset(), "from the base", asked)
    if not continue_from_live:
        return replace(everything, reason="from the base (continue_from_live is off)")
    if live is None:
        return everything
    if not same_base or not (live.path / "adapter" / "adapter_config.json").exists():
        return replace(everything, reason=f"from the base ({live.name} was trained on another checkpoint)")
    if unwanted := live_knows - {i.key for i in items}:
        return replace(everything, reason=f"from the base: {len(unwanted)} item(s) {live.name} learned were dropped "
                                          "or taught again differently, and must be unlearned")
    sampled = {i.key for i in sample}
    others = [i for i in earlier if i.key not in sampled]
    if len(others) > REHEARSED_AT_MOST - len(sample):
        others = chooser.sample(others, REHEARSED_AT_MOST - len(sample))
    rehearsed = [_rehearsal(i, ASKED_REHEARSED_MORE, chooser) for i in sample] + [_rehearsal(i, 0, chooser) for i in others]
    return Plan(tuple(new + rehearsed), live.path / "adapter", live_knows,
                f"continuing {live.name}: {len(new)} new item(s), {len(rehearsed)} of {len(earlier)} earlier ones rehearsed",
                asked)


def _rehearsal(item: TaughtItem, more: int, chooser: random.Random) -> TaughtItem:
    """`item` as it was asked, from its fact's other side where it has one (items.from_other_side: "What did Mira
    Quell found?"), and in `more` of its other phrasings; those chosen afresh each cycle (`chooser` is seeded by
    what the live version knows), so that over cycles each is rehearsed. Rehearsed as asked alone, the reverse direction
    faded from the weights as the history grew (benchmarks/accumulate_bench.py: 60% of reverse questions at round
    1, 32% at round 5, 16% at round 20)."""
    other_side = from_other_side(item)
    keep = {item.train[0], *chooser.sample(other_side, min(1, len(other_side)))}
    rest = [p for p in (*item.train, *item.about) if p not in keep]
    keep |= set(chooser.sample(rest, min(len(rest), more)))
    return replace(item, train=tuple(p for p in item.train if p in keep), about=tuple(p for p in item.about if p in keep))
