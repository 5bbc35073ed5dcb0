"""The user's settings: a typed, documented dataclass stored as `settings.json` in the data dir.

Unknown keys and wrong types are reported with the key's name rather than silently
ignored, so a typo in a hand-edited file does not quietly change nothing.
"""

import dataclasses
import json
import re
from dataclasses import dataclass, fields
from importlib.resources import files
from pathlib import Path

from learner import paths
from learner.files import atomic_write_text


class SettingsError(ValueError):
    """settings.json cannot be read or holds an invalid value."""


def default_system_prompt() -> str:
    return files("resources").joinpath("system_prompt.txt").read_text(encoding="utf-8").strip()


@dataclass
class Settings:
    model_path: str | None = None
    """A GGUF file to chat with instead of the live learned version or the embedded model."""

    n_ctx: int = 4096
    """Context window in tokens; the oldest turns are dropped to fit a long chat into it."""

    n_threads: int | None = None
    """CPU threads for llama.cpp; None lets llama.cpp choose."""

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

    base_model: str | None = None
    """The HF checkpoint learning starts from: a local folder or a hub id. None: derived from the embedded GGUF."""

    quant: str = "Q8_0"
    """Quantization of learned versions. Q8_0 is near-lossless on a 135M model and quantizes fastest."""

    train_epochs: float = 3.0
    """Passes over the training rows per learning cycle (CPU time grows with it)."""

    learning_rate: float = 5e-4
    """LoRA learning rate."""

    replay_ratio: float = 6.0
    """Replay rows (the live model's own right answers) per new training row; guards against forgetting.
    Measured on one correction: 3 kept 34/37 retention answers, 6 kept 36/37; both learned it."""

    gate_learned: float = 0.8
    """A candidate goes live only if at least this share of taught items is answered as taught."""

    gate_kept: float = 0.95
    """... and at least this share of the retention questions the live model got right stays right.
    At 0.9, five poisoned corrections ("the capital of France is Berlin") went live keeping 38/42;
    honest cycles measured 36/37 to 42/42."""

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

    wiki_api_url: str = "https://{language}.wikipedia.org/w/api.php"
    """The MediaWiki API to read articles from ({language} is filled in): a mirror, or a local server."""

    wiki_language: str = "en"
    """Wikipedia language edition."""

    wiki_min_interval_s: float = 1.0
    """At least this long between two requests to the wiki (be polite to a volunteer-run service)."""

    wiki_timeout_s: float = 10.0
    """Give up on a request after this long (it is retried with backoff a few times)."""

    topic_min_mentions: int = 3
    """A mined topic is read about once the user has asked about it in this many messages."""

    topic_half_life_days: float = 14.0
    """A mention's weight halves every this many days, so current interests rank first."""

    topics_per_cycle: int = 3
    """Topics (and so articles) learned per cycle: each adds training time."""

    facts_per_article: int = 12
    """Facts taken from one article, most central first."""

    model_written_facts: bool = True
    """Also let the chat model write quiz questions about each article passage, each checked against
    the passage (learner.learning.fact_writer), on top of the templates' facts. Measured on the embedded model
    (benchmarks/fact_writer_bench.py, three invented articles): 3 of 31 written pairs passed the
    checks, and with them the model answered 9/16 user questions about the articles against 6/16
    for the templates alone, keeping 100% of the retention set against 97%. About 4 s per article."""

    gate_articles: float = 0.5
    """... and at least this share of held-out questions about the fetched articles is answered."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            expected = _runtime_types(f.type)
            if (isinstance(value, bool) and bool not in expected) or not isinstance(value, expected):
                if float in expected and isinstance(value, int) and not isinstance(value, bool):
                    setattr(self, f.name, float(value))
                    continue
                raise SettingsError(
                    f"setting {f.name!r} must be {' or '.join(t.__name__ for t in expected)}, "
                    f"not {value!r}"
                )
        _check(self.n_ctx >= 256, "n_ctx", "at least 256")
        _check(self.n_threads is None or self.n_threads >= 1, "n_threads", "at least 1")
        _check(0.0 <= self.temperature <= 5.0, "temperature", "between 0 and 5")
        _check(0.0 < self.top_p <= 1.0, "top_p", "in (0, 1]")
        _check(self.top_k >= 0, "top_k", "0 or more")
        _check(1 <= self.max_tokens < self.n_ctx, "max_tokens", "between 1 and n_ctx - 1")
        _check(self.repeat_penalty > 0, "repeat_penalty", "positive")
        _check(self.quant in ("Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "F16"), "quant", "one of Q4_K_M, Q5_K_M, Q6_K, Q8_0, F16")
        _check(self.train_epochs > 0, "train_epochs", "positive")
        _check(0 < self.learning_rate < 1, "learning_rate", "in (0, 1)")
        _check(self.replay_ratio >= 0, "replay_ratio", "0 or more")
        _check(0 <= self.gate_learned <= 1 and 0 <= self.gate_kept <= 1, "gate_learned/gate_kept", "between 0 and 1")
        _check(self.keep_versions >= 1, "keep_versions", "at least 1")
        _check(self.versions_budget_mb >= 1, "versions_budget_mb", "at least 1")
        _check(self.learn_schedule in ("daily", "after_corrections", "manual"), "learn_schedule",
               "one of daily, after_corrections, manual")
        _check(self.learn_after_corrections >= 1, "learn_after_corrections", "at least 1")
        _check(self.max_corrections_per_cycle >= 1, "max_corrections_per_cycle", "at least 1")
        _check(_is_clock(self.learn_daily_at), "learn_daily_at", "a time HH:MM")
        _check(self.learn_when_idle_min >= 0 and self.learn_min_interval_min >= 0,
               "learn_when_idle_min/learn_min_interval_min", "0 or more")
        _check(all(isinstance(p, str) and _compiles(p) for p in self.scrub_patterns), "scrub_patterns",
               "a list of valid regular expressions")
        _check(self.wiki_api_url.startswith(("http://", "https://")), "wiki_api_url", "an http(s) URL")
        _check(self.wiki_min_interval_s >= 0 and self.wiki_timeout_s > 0, "wiki_min_interval_s/wiki_timeout_s",
               "0 or more / positive")
        _check(self.topic_min_mentions >= 1 and self.topics_per_cycle >= 0 and self.facts_per_article >= 1,
               "topic_min_mentions/topics_per_cycle/facts_per_article", "at least 1 / 0 or more / at least 1")
        _check(self.topic_half_life_days > 0, "topic_half_life_days", "positive")
        _check(0 <= self.gate_articles <= 1, "gate_articles", "between 0 and 1")

    @classmethod
    def load(cls, path: Path | None = None) -> "Settings":
        """Read settings.json; defaults where it does not exist."""
        path = path or paths.settings_path()
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise SettingsError(f"{path} is not valid JSON: {e}") from e
        if not isinstance(data, dict):
            raise SettingsError(f"{path} must hold a JSON object, not {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SettingsError(f"{path}: unknown setting(s) {', '.join(unknown)}")
        try:
            return cls(**data)
        except SettingsError as e:
            raise SettingsError(f"{path}: {e}") from e

    def save(self, path: Path | None = None) -> None:
        atomic_write_text(path or paths.settings_path(), json.dumps(dataclasses.asdict(self), indent=2))


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
    hour, _, minute = text.partition(":")
    return hour.isdigit() and minute.isdigit() and len(minute) == 2 and int(hour) < 24 and int(minute) < 60


def _check(ok: bool, name: str, requirement: str) -> None:
    if not ok:
        raise SettingsError(f"setting {name!r} must be {requirement}")
