"""The user's settings: a typed, documented dataclass stored as `settings.json` in the data dir.

Every value is checked: its type, finiteness and range. A problem in the file (an unknown
key, an invalid value) is reported with the key's name, and only that key falls back to its
default: a typo in a hand-edited file neither quietly changes nothing nor throws the rest of
the file away, and no value can crash the window or every learning cycle.
"""

import ast
import dataclasses
import functools
import inspect
import json
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, fields
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from learner import paths
from learner.files import atomic_write_text


class SettingsError(ValueError):
    """settings.json cannot be read or holds an invalid value."""


QUANTS = ("Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "F16")
SCHEDULES = ("daily", "after_corrections", "manual")
WIKI_LANGUAGES = ("en", "simple")


def default_system_prompt() -> str:
    return files("resources").joinpath("system_prompt.txt").read_text(encoding="utf-8").strip()


@dataclass
class Settings:
    n_ctx: int = 4096
    """Context window in tokens; the oldest turns are dropped to fit a long chat into it."""

    n_threads: int | None = None
    """CPU threads for llama.cpp; None lets llama.cpp choose."""

    n_gpu_layers: int | None = None
    """Layers of the chat model llama.cpp puts on the GPU, where llama-cpp-python was built with GPU support
    (CUDA): None puts them all there, 0 keeps chat on the CPU. Without GPU support chat runs on the CPU
    whatever this says. While a learning cycle trains on the GPU, chat moves to the CPU and comes back after."""

    temperature: float = 0.2
    """Sampling temperature; 0 always picks the most likely token."""

    top_p: float = 0.9
    """Nucleus sampling: keep the smallest set of tokens whose probability reaches top_p."""

    top_k: int = 40
    """Sample only among the k most likely tokens (0 = no limit)."""

    max_tokens: int = 512
    """The longest reply, in tokens."""

    repeat_penalty: float = 1.1
    """Penalty on repeating recent tokens; small models loop without it."""

    system_prompt: str = dataclasses.field(default_factory=default_system_prompt)
    """The system prompt of new conversations (each conversation can override it)."""

    api_port: int = 8765
    """The port of the local OpenAI-compatible API (`grokling serve`, or the window's toggle); it listens on
    127.0.0.1 only, so only apps on this computer reach it."""

    api_key: str | None = None
    """The key other apps must send to the local API (Authorization: Bearer KEY). None: any app on this
    computer may use it."""

    quant: str = "Q8_0"
    """Quantization of learned versions. Q8_0 is near-lossless on a 135M model and quantizes fastest."""

    train_epochs: float = 3.0
    """Passes over the training rows per learning cycle (CPU time grows with it)."""

    learning_rate: float = 5e-4
    """LoRA learning rate."""

    article_learning_rate: float = 2.5e-4
    """LoRA learning rate of a cycle that learns only article facts (no correction, no thumbs-up). Instant
    memory answers from the articles anyway, so the weights learn them gently and keep what they knew.
    Measured on benchmarks/wiki_bench.py (three articles, one cycle): at 5e-4 every cycle was gated out
    (kept 33-36/40; the weights alone answered 10-15/33); at 2.5e-4 it went live (kept 38/40; weights
    alone 7/33); with memory both answered 27/33. On the held-out articles: kept 36/40 against 35/40."""

    replay_ratio: float = 4.0
    """Replay rows (the base model's own right answers) per new training row; guards against forgetting.
    It decides a cycle's size only while the taught rows are few: from about 35 of them (four corrections with
    their rehearsal, or an accumulate_bench round) the replay set's right answers (134 on the embedded model) are
    all used at any ratio from 4 up, and each then weighs more, as the ratio's share of the rows would have
    (learner.learning.train.replay_weight). Measured on 7 Dec, evening (learn_bench, dev facts 0, 5, 6, 7, 1,
    bfloat16; firm kept of 115, any kept of 185, training seconds of fact 1): at 6, 114 firm, 180 any, 39.0 s (warm totals
    36-49 s); at 5, 114, 175, 33.6 s (30-42 s); at 4, 113, 176, 25.5 s (27-39 s). All fifteen went live, each
    learning its fact with the same dev rewordings (8/10) and reverse questions (2-3/5). At 4 a correction
    loses about one more near-tie answer of the base's 37 for a third less training: one correction through
    `grokling learn --now` fits in 45 s where at 6 it took 50.
    Earlier (kept of the base's 40 right gate answers, training seconds on 2 cores): one correction,
    0 kept 32/40 (14 s), 2 kept 36/40 (34 s), 6 kept 36/40 (73 s); two corrections, 2 kept 34/40 where
    6 kept 38/40. Each learned what it was taught. With replay held to the base's distribution (KL,
    learner.learning.train.completion_loss), single corrections (dev facts 5, 6, 7): 2 kept 34, 35, 35/40 in
    24-39 s of training, 6 kept 39, 36, 38/40 in 58-100 s. On 7 Dec, of the base's 23 firm right gate answers
    (learner.learning.retention.FIRM_MARGIN), five corrections (dev facts 0, 5, 6, 7, 1) kept: at 6, all 115
    (training 45-83 s); at 2, 109 (19-42 s); at 1, 104 (16-28 s). Choosing the replay rows nearest the taught
    question in the base's hidden states instead of at random did not help (at 2: 108)."""

    continue_from_live: bool = True
    """Train each cycle on from the live version's adapter: the items it has not learned, rehearsing those it
    has (every one, up to learner.learning.strategy.REHEARSED_AT_MOST), so a cycle's cost stops growing with the
    history. Off: every cycle trains from the base on everything taught so far. On by measurement
    (benchmarks/accumulate_bench.py, rounds of 5 facts): from the base, the rows grew with the history under the
    step cap (171 at round 1, 483 at round 9), round 10 was gated out (learned 11/15) and the live version knew
    34/50 facts, 41% of their rewordings; continuing (replay held to the base by KL), the weights knew 50/50 at
    round 10 (65% reworded) and 100/100 at round 20 (76%), keeping 23/23 firm general answers, and round 20
    took 0.90x round 1's time. Rehearsing each earlier fact from its other side too (7 Dec, bfloat16): 99/100 at
    round 20, 82% reworded, 60% asked the other way round (16% before), kept 22/23; round 20 took 197 s."""

    gate_learned: float = 0.8
    """A candidate goes live only if at least this share of taught items is answered as taught."""

    gate_kept: float = 0.95
    """A candidate goes live only if at least this share of the retention questions the base model answers
    right, and firmly (learner.learning.retention.FIRM_MARGIN), stays right (against the base, so losses
    cannot add up unseen over versions; learner.learning.gate). On 7 Dec (learn_bench, dev facts 0, 5, 6, 7, 1)
    every correction kept 23/23 of those and went live, losing 1-3 of the base's 17 near-tie answers; with one
    replay row per taught row instead of six, two others lost 5 of the 23 (kept any 26 and 32/40) and were
    gated out.
    Before, on all 40 right answers: honest
    cycles kept 34-38 of the base's 40 right answers while gaining 6-10 of its 33 wrong ones (an export
    with no training kept 40/40), so 0.95 gates many out; but at 0.9 five poisoned corrections ("the
    capital of France is Berlin") went live at kept 37/40 with 49 right in all. It stays at 0.95 until
    poisoning is told apart some other way. Measured again on 6 Dec on single corrections (dev_facts 5-7):
    each learned, kept 34-35/40 and answered 47-50 right in all, and was gated out. With replay held to the
    base's distribution (KL; same day, dev facts 5, 6, 7, 0, 1): each learned, kept 39, 36, 38, 37, 39/40,
    and three of the five went live."""

    gate_kept_any: float = 0.85
    """A candidate goes live only if it also keeps at least this share of all the retention questions the base
    model answers right, however near a tie. Any change to the weights flips some of the base's near-tie
    answers, 1-3 of its 40 for an honest correction (7 Dec, learn_bench; 0-4 in earlier runs), but losing many
    is forgetting too: with one replay row per taught row, two corrections kept all 23 firm answers and lost
    7 and 8 of the 40."""

    keep_versions: int = 3
    """Learned versions kept on disk (the live one and the one before it are never removed)."""

    versions_budget_mb: int = 1500
    """Disk for learned versions: the oldest go first beyond it (never the live or the rollback one)."""

    learn_from_chats: bool = True
    """Learn from your corrections, thumbs-up and topics. Off: only topics you add yourself are learned."""

    instant_memory: bool = True
    """Recall what you taught into the very next reply, in any chat, before a cycle has learned it
    (learner.chat.memory). Off: only the learned weights answer, so they can be measured alone."""

    scrub_personal_data: bool = True
    """Replace e-mail addresses, phone and card numbers with placeholders before text enters training data."""

    scrub_patterns: list = dataclasses.field(default_factory=list)
    """More regular expressions to scrub (e.g. an employee id format)."""

    max_corrections_per_cycle: int = 20
    """New corrections learned per cycle, oldest first; more wait for later cycles (limits poisoning)."""

    require_approval: bool = False
    """A candidate that passed the gate waits for you to accept it (learning panel, `grokling accept`)."""

    learning_paused: bool = False
    """Pause the background learner (the tray's Start/Pause learning; kept across restarts)."""

    learn_schedule: str = "after_corrections"
    """When the background learner runs: "after_corrections", "daily" (at learn_daily_at) or "manual"."""

    learn_after_corrections: int = 3
    """With "after_corrections": this many new corrections since the live version start a cycle."""

    learn_daily_at: str = "03:00"
    """With "daily": the local time (HH:MM) a cycle becomes due."""

    learn_when_idle_min: float = 5.0
    """Start a due cycle only once the user has not touched the window for this many minutes."""

    learn_only_on_ac: bool = False
    """Start a due cycle only on mains power (laptops)."""

    learn_min_interval_min: float = 60.0
    """At most one cycle per this many minutes."""

    learn_from_wikipedia: bool = True
    """Read the Wikipedia articles on the topics the user keeps asking about, and learn from them."""

    wikipedia_consent: bool = False
    """The user agreed that topic names may be sent to Wikipedia as searches. Until then the learner makes
    no request to Wikipedia at all; the window asks once, on first run (`grokling topics --consent yes|no`)."""

    auto_approve_topics: bool = False
    """Read about a mined topic once it is mentioned in topic_min_mentions messages, without waiting for
    the user's approval. A topic that looks like a person's name or a health matter waits all the same."""

    wiki_api_url: str = "https://{language}.wikipedia.org/w/api.php"
    """The MediaWiki API to read articles from ({language} is filled in): a mirror, or a local server."""

    wiki_language: str = "en"
    """Wikipedia language edition: "en" or "simple" (Simple English). Topics are picked with an English
    lexicon and facts asked with English question forms, so other editions are refused, not half-read."""

    wiki_min_interval_s: float = 1.0
    """At least this long between two requests to the wiki (be polite to a volunteer-run service)."""

    wiki_timeout_s: float = 10.0
    """Give up on a request after this long (it is retried with backoff a few times)."""

    topic_min_mentions: int = 3
    """With auto_approve_topics, a mined topic is read about once the user has asked about it in this many messages."""

    topic_half_life_days: float = 14.0
    """A mention's weight halves every this many days, so current interests rank first."""

    topics_per_cycle: int = 3
    """Topics (and so articles) learned per cycle: each adds training time."""

    facts_per_article: int = 24
    """Facts taken from one article at most: what it is, then a question for each sentence that answers one
    (learner.learning.questions), so the budget covers the article before any sentence gets a second."""

    model_written_facts: bool = True
    """Also let the chat model write quiz questions about each article passage, each checked against
    the passage (learner.learning.fact_writer), on top of the templates' facts. Measured on the embedded model
    (benchmarks/fact_writer_bench.py, three invented articles): 3 of 31 written pairs passed the
    checks, and with them the model answered 9/16 user questions about the articles against 6/16
    for the templates alone, keeping 100% of the retention set against 97%. About 4 s per article."""

    gate_articles: float = 0.5
    """A candidate goes live only if at least this share of held-out questions about the fetched articles
    is answered."""

    def __post_init__(self) -> None:
        problems = self.problems({f.name: getattr(self, f.name) for f in fields(self)})
        if problems:
            raise SettingsError("; ".join(problems.values()))
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, int) and not isinstance(value, bool) and float in _runtime_types(f.type):
                setattr(self, f.name, float(value))

    @classmethod
    def problems(cls, values: dict[str, Any]) -> dict[str, str]:
        """What is wrong with each of these values, by setting name; empty when all are valid.

        max_tokens is also checked against n_ctx when both are given (and valid on their own).
        The Preferences dialog shows each problem beside its field."""
        by_name = {f.name: f for f in fields(cls)}
        found = {name: problem for name, value in values.items()
                 if (problem := _problem(by_name[name], value)) is not None}
        both = {"max_tokens", "n_ctx"}
        if both <= values.keys() and not both & found.keys() and not values["max_tokens"] < values["n_ctx"]:
            found["max_tokens"] = (f"setting 'max_tokens' must be less than n_ctx ({values['n_ctx']}), "
                                   f"not {values['max_tokens']}")
        return found

    @classmethod
    def load_with_problems(cls, path: Path | None = None) -> tuple["Settings", list[str]]:
        """Read settings.json (defaults where it does not exist), and what is wrong in it.

        An unknown key is reported and ignored; an invalid value is reported and that one
        setting keeps its default; the rest of the file applies. The file is not changed.
        Raises SettingsError only when the file is not a readable JSON object."""
        path = path or paths.settings_path()
        data = _read_object(path)
        by_name = {f.name: f for f in fields(cls)}
        problems = [f"{path.name}: {RETIRED[name](data)}" if name in RETIRED else
                    f"{path.name}: unknown setting {name!r}, ignored" for name in data if name not in by_name]
        usable = {}
        for name, value in data.items():
            if name in by_name:
                if (problem := _problem(by_name[name], value)) is not None:
                    problems.append(f"{path.name}: {problem}; using the default, {getattr(DEFAULTS, name)!r}")
                else:
                    usable[name] = value
        try:
            return cls(**usable), problems
        except SettingsError as e:  # only the settings checked together are left: max_tokens against n_ctx
            usable.pop("max_tokens", None)
            usable.pop("n_ctx", None)
            settings = cls(**usable)
            return settings, problems + [f"{path.name}: {e}; using max_tokens {settings.max_tokens} and "
                                         f"n_ctx {settings.n_ctx}"]

    @classmethod
    def load(cls, path: Path | None = None) -> "Settings":
        """load_with_problems, each problem written to stderr: for the command line and the learning
        processes, whose standard error the user reads (the window shows them instead)."""
        settings, problems = cls.load_with_problems(path)
        for problem in problems:
            print(f"grokling: {problem}", file=sys.stderr)
        return settings

    def save(self, path: Path | None = None, answered: tuple[str, ...] = ()) -> None:
        """Write the settings that differ from the defaults into the file, over what it holds.

        Every other key in the file stays as it is (a default the user wrote down stays theirs
        to change; an unknown key or an invalid value stays for them to fix, unless this
        object holds a chosen value for it), so pausing learning does not write every default
        into the file for good. The names in `answered` are written even at their default: the
        user's answer to a question ("not now") is recorded, so it is not asked again.
        Raises SettingsError, writing nothing, if the file is not a JSON object."""
        path = path or paths.settings_path()
        stored = _read_object(path)
        for f in fields(self):
            value, default = getattr(self, f.name), getattr(DEFAULTS, f.name)
            if f.name in stored and _problem(f, stored[f.name]) is not None and value == default \
                    and f.name not in answered:
                continue
            if value != default or f.name in stored or f.name in answered:
                stored[f.name] = value
        atomic_write_text(path, json.dumps(stored, indent=2, ensure_ascii=False))

    @classmethod
    def change(cls, path: Path | None = None, **values) -> "Settings":
        """Set `values` in settings.json over the file as it is now (not as a window loaded it long ago),
        each recorded even where it is the default; the settings as the file now has them.
        Raises SettingsError, writing nothing, for an invalid value or a file that is not a JSON object."""
        settings = dataclasses.replace(cls.load_with_problems(path)[0], **values)
        settings.save(path, answered=tuple(values))
        return settings

    @staticmethod
    def retired(path: Path | None = None) -> dict[str, Any]:
        """The settings of an older grokling that models replaced (RETIRED) which the file still holds."""
        try:
            return {k: v for k, v in _read_object(path or paths.settings_path()).items() if k in RETIRED}
        except SettingsError:
            return {}

    @staticmethod
    def drop_retired(path: Path | None = None) -> None:
        """Take the RETIRED settings out of the file, once what they said lives elsewhere."""
        path = path or paths.settings_path()
        stored = _read_object(path)
        atomic_write_text(path, json.dumps({k: v for k, v in stored.items() if k not in RETIRED}, indent=2,
                                           ensure_ascii=False))

    @staticmethod
    def in_file(name: str, path: Path | None = None) -> bool:
        """Whether settings.json sets `name`: the user (or the window, for them) chose its value."""
        try:
            return name in _read_object(path or paths.settings_path())
        except SettingsError:
            return False


GROUPS: dict[str, tuple[str, ...]] = {
    "Chat": ("system_prompt", "temperature", "top_p", "top_k", "max_tokens", "repeat_penalty", "instant_memory"),
    "Model": ("n_ctx", "n_threads", "n_gpu_layers", "quant"),
    "Learning": ("learning_paused", "learn_schedule", "learn_after_corrections", "learn_daily_at",
                 "learn_when_idle_min", "learn_min_interval_min", "learn_only_on_ac", "require_approval",
                 "max_corrections_per_cycle", "train_epochs", "learning_rate", "article_learning_rate", "replay_ratio",
                 "continue_from_live", "gate_learned",
                 "gate_kept", "gate_kept_any", "keep_versions", "versions_budget_mb"),
    "Privacy": ("learn_from_chats", "scrub_personal_data", "scrub_patterns"),
    "Local API": ("api_port", "api_key"),
    "Wikipedia": ("learn_from_wikipedia", "wikipedia_consent", "auto_approve_topics", "wiki_api_url", "wiki_language", "wiki_min_interval_s", "wiki_timeout_s",
                  "topic_min_mentions", "topic_half_life_days", "topics_per_cycle", "facts_per_article",
                  "model_written_facts", "gate_articles"),
}
"""The Preferences dialog's tabs, in order, and the settings on each; every setting is in exactly one
(tests/test_settings.py), so a new setting cannot be left out of the dialog."""


@functools.cache
def field_help() -> dict[str, str]:
    """Each setting's docstring (the string under it in the Settings class), by name: the Preferences
    dialog's help text. Read from this module's source, which the bundle ships beside its bytecode
    (packaging/grokling.spec)."""
    tree = ast.parse(inspect.getsource(sys.modules[__name__]))
    [body] = [node.body for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "Settings"]
    return {field.target.id: inspect.cleandoc(doc.value.value) for field, doc in zip(body, body[1:])
            if isinstance(field, ast.AnnAssign) and isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant)}


def _read_object(path: Path) -> dict:
    """The file's JSON object; {} where there is no file."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SettingsError(f"{path} is not valid JSON: {e}") from e
    if not isinstance(data, dict):
        raise SettingsError(f"{path} must hold a JSON object, not {type(data).__name__}")
    return data


def _problem(f: dataclasses.Field, value) -> str | None:
    """What is wrong with `value` for the setting `f`, or None."""
    expected = _runtime_types(f.type)
    numeric = float in expected and isinstance(value, int) and not isinstance(value, bool)
    if (isinstance(value, bool) and bool not in expected) or not (isinstance(value, expected) or numeric):
        return f"setting {f.name!r} must be {' or '.join(t.__name__ for t in expected)}, not {value!r}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"setting {f.name!r} must be a finite number, not {value!r}"
    check = CHECKS.get(f.name)
    if value is not None and check is not None and not check[0](value):
        return f"setting {f.name!r} must be {check[1]}, not {value!r}"
    return None


def _runtime_types(annotation) -> tuple[type, ...]:
    # Annotations are real types here (no `from __future__ import annotations`).
    args = getattr(annotation, "__args__", None)
    return tuple(type(None) if a is None else a for a in args) if args else (annotation,)


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


def _is_clock(text: str) -> bool:
    # Not str.isdigit: it accepts "²" and other digits int() refuses.
    if re.fullmatch(r"[0-9]{1,2}:[0-9]{2}", text) is None:
        return False
    hour, minute = (int(part) for part in text.split(":"))
    return hour < 24 and minute < 60


def _is_api_url(url: str) -> bool:
    """An http(s) URL with a host once {language} is filled in, and no other placeholder."""
    try:
        parts = urlsplit(url.format(language="en"))
    except (KeyError, IndexError, ValueError):
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


@dataclass(frozen=True)
class Range:
    """A number's allowed interval (the Preferences dialog sets its spin box from it)."""

    low: float
    high: float
    open_low: bool = False
    """The low end itself is refused (0 < value)."""
    open_high: bool = False

    def __call__(self, value) -> bool:
        above = self.low < value if self.open_low else self.low <= value
        below = value < self.high if self.open_high else value <= self.high
        return above and below


@dataclass(frozen=True)
class OneOf:
    """A value from a fixed set (the Preferences dialog offers them in a list)."""

    values: tuple

    def __call__(self, value) -> bool:
        return value in self.values


CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "n_ctx": (Range(256, 131072), "between 256 and 131072"),
    "n_threads": (Range(1, 1024), "between 1 and 1024, or null"),
    "n_gpu_layers": (Range(0, 10_000), "between 0 and 10000, or null for all"),
    "temperature": (Range(0, 5), "between 0 and 5"),
    "top_p": (Range(0, 1, open_low=True), "in (0, 1]"),
    "top_k": (Range(0, 100_000), "between 0 and 100000"),
    "max_tokens": (Range(1, 131071), "between 1 and n_ctx - 1"),
    "repeat_penalty": (Range(0, 5, open_low=True), "in (0, 5]"),
    "system_prompt": (lambda v: v.strip() != "", "a non-empty text"),
    "api_port": (Range(1024, 65535), "between 1024 and 65535"),
    # It travels in an HTTP header: printable ASCII, and no space to split "Bearer KEY" on.
    "api_key": (lambda v: re.fullmatch(r"[!-~]+", v) is not None, "printable ASCII without spaces, or null"),
    "quant": (OneOf(QUANTS), f"one of {', '.join(QUANTS)}"),
    "train_epochs": (Range(0, 100, open_low=True), "in (0, 100]"),
    "learning_rate": (Range(0, 1, open_low=True, open_high=True), "in (0, 1)"),
    "article_learning_rate": (Range(0, 1, open_low=True, open_high=True), "in (0, 1)"),
    "replay_ratio": (Range(0, 100), "between 0 and 100"),
    "gate_learned": (Range(0, 1), "between 0 and 1"),
    "gate_kept": (Range(0, 1), "between 0 and 1"),
    "gate_kept_any": (Range(0, 1), "between 0 and 1"),
    "keep_versions": (Range(1, 1000), "between 1 and 1000"),
    "versions_budget_mb": (Range(1, 10_000_000), "between 1 and 10000000"),
    "scrub_patterns": (lambda v: all(isinstance(p, str) and _compiles(p) for p in v), "a list of valid regular expressions"),
    "max_corrections_per_cycle": (Range(1, 10_000), "between 1 and 10000"),
    "learn_schedule": (OneOf(SCHEDULES), f"one of {', '.join(SCHEDULES)}"),
    "learn_after_corrections": (Range(1, 10_000), "between 1 and 10000"),
    "learn_daily_at": (_is_clock, "a time HH:MM"),
    "learn_when_idle_min": (Range(0, 24 * 60), "between 0 and 1440 (a day)"),
    "learn_min_interval_min": (Range(0, 30 * 24 * 60), "between 0 and 43200 (30 days)"),
    "wiki_api_url": (_is_api_url, "an http(s) URL, with {language} where the language goes"),
    # It is filled into the host name of wiki_api_url: anything but a known code would send requests elsewhere.
    "wiki_language": (OneOf(WIKI_LANGUAGES), "en or simple: grokling reads English Wikipedia only, as it "
                      "picks topics and asks questions in English"),
    "wiki_min_interval_s": (Range(0, 3600), "between 0 and 3600"),
    "wiki_timeout_s": (Range(0, 600, open_low=True), "in (0, 600]"),
    "topic_min_mentions": (Range(1, 10_000), "between 1 and 10000"),
    "topic_half_life_days": (Range(0, 3650, open_low=True), "in (0, 3650]"),
    "topics_per_cycle": (Range(0, 100), "between 0 and 100"),
    "facts_per_article": (Range(1, 1000), "between 1 and 1000"),
    "gate_articles": (Range(0, 1), "between 0 and 1"),
}
"""Each setting's range beyond its type (the type and finiteness are checked for every one)."""


RETIRED: dict[str, Callable[[dict], str]] = {
    "model_path": lambda file: (
        "setting 'model_path' is retired: a GGUF is added as a model together with the checkpoint it came from "
        f"(Model > Models…, or grokling models add {file.get('base_model') or 'CHECKPOINT'} "
        f"--gguf {file['model_path']}); ignored"),
    "base_model": lambda file: (
        "setting 'base_model' is retired: add it as a model, which grokling converts "
        f"(Model > Models…, or grokling models add {file['base_model']}); ignored"),
}
"""Settings of older versions that models replaced (learner.models): a file that still has them gets the
command that does what they did. model_path with a local base_model is adopted as a model on its own
(learner.models.adding.adopt_retired_settings)."""


DEFAULTS = Settings()
"""What a setting the file does not set (or sets wrongly) is: compared against, never changed."""
