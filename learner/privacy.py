"""Personal data scrubbing: what the user typed is cleaned before it enters any training data
or leaves the machine as a Wikipedia search.

E-mail addresses, phone numbers and card-like numbers (13-19 digits passing the Luhn
check) become placeholders; more patterns come from the `scrub_patterns` setting
(regular expressions). The conversation store keeps the user's words as typed: they are
the user's, on the user's machine. What is scrubbed is what the model would be taught.
"""

import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

# Starting only where a run of address characters starts, and never giving characters back: a long
# dotted line ("1.2.3.4…") is scanned once, not once per position (it took 2.8 s for 40 KB).
EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]++@[\w-]++(?:\.[\w-]++)++\b")
DATE = re.compile(r"\d{1,4}[-./]\d{1,2}[-./]\d{1,4}")
CARD_LIKE = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,4}(?!\w)")


def luhn_ok(digits: str) -> bool:
    total, double = 0, False
    for d in reversed(digits):
        n = int(d) * (2 if double else 1)
        total += n - 9 if n > 9 else n
        double = not double
    return total % 10 == 0


def _card(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "[card number]" if 13 <= len(digits) <= 19 and luhn_ok(digits) else match.group()


def _phone(match: re.Match) -> str:
    text = match.group()
    digits = re.sub(r"\D", "", text)
    groups = len(re.findall(r"\d+", text))
    # Dates, amounts and codes are digits with separators too: a phone number has 7-15 digits and
    # a country or area code, or at least three groups (and is not a date).
    phone_like = text.startswith(("+", "(")) or (groups >= 3 and not DATE.fullmatch(text))
    return "[phone number]" if 7 <= len(digits) <= 15 and phone_like else text


@lru_cache(maxsize=16)
def _extra(patterns: tuple[str, ...]) -> list[re.Pattern]:
    return [re.compile(p) for p in patterns]


def scrub(text: str, extra_patterns: tuple[str, ...] = ()) -> str:
    """`text` with personal data replaced by placeholders like [email]."""
    text = EMAIL.sub("[email]", text)
    text = CARD_LIKE.sub(_card, text)
    text = PHONE.sub(_phone, text)
    for pattern in _extra(tuple(extra_patterns)):
        text = pattern.sub("[redacted]", text)
    return text


def cleaner(settings) -> Callable[[str], str]:
    """What the settings say to do with the user's text before it is taught or searched for."""
    if not settings.scrub_personal_data:
        return lambda text: text
    patterns = tuple(settings.scrub_patterns)
    return lambda text: scrub(text, patterns)


def offline_env(base_model: str | None) -> dict[str, str]:
    """Environment for the learning process: no telemetry from the Hugging Face libraries, and
    no hub at all unless the user named a hub model (a base_model that is not a local folder)."""
    env = {"HF_HUB_DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "1", "HF_DATASETS_OFFLINE": "1"}
    if not base_model or Path(base_model).expanduser().exists():
        env["HF_HUB_OFFLINE"] = "1"
    return env
