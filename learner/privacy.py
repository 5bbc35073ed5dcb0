"""Personal data scrubbing: what the user typed is cleaned before it enters any training data
or leaves the machine as a Wikipedia search.

E-mail addresses, IBANs (the ISO 13616 mod-97 check must pass), card-like numbers (13-19 digits
passing the Luhn check), IP addresses (v4 and v6, as Python's ipaddress parses them) and phone
numbers become placeholders; more patterns come from the `scrub_patterns` setting (regular
expressions). Phone numbers are found by libphonenumber (the `phonenumbers` package): any number
written with its country code, and national numbers that are valid in the user's region or in
one of a few large ones, so dates, years, amounts and codes stay as they are. The conversation
store keeps the user's words as typed: they are the user's, on the user's machine. What is
scrubbed is what the model would be taught.
"""

import ipaddress
import locale
import re
from collections.abc import Callable
from functools import lru_cache

import phonenumbers

# Starting only where a run of address characters starts, and never giving characters back: a long
# dotted line ("1.2.3.4…") is scanned once, not once per position (it took 2.8 s for 40 KB).
EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]++@[\w-]++(?:\.[\w-]++)++\b")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b", re.I)
CARD_LIKE = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-F]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-F]{1,4})?(?![\w:.])", re.I)
IPV4 = re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w]|\.\d)")
PHONE_REGIONS = ("US", "GB", "DE", "FR", "IN")
"""Regions whose national number formats are recognised besides the user's own (from the locale)."""
MIN_PHONE_DIGITS = 7
"""Text with fewer digits than this holds no phone number: most messages skip the matcher."""


def luhn_ok(digits: str) -> bool:
    total, double = 0, False
    for d in reversed(digits):
        n = int(d) * (2 if double else 1)
        total += n - 9 if n > 9 else n
        double = not double
    return total % 10 == 0


def iban_ok(text: str) -> bool:
    """ISO 13616: the country code and check digits moved to the end, letters as 10..35, mod 97 is 1."""
    compact = text.replace(" ", "").upper()
    return int("".join(str(int(c, 36)) for c in compact[4:] + compact[:4])) % 97 == 1


def _card(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "[card number]" if 13 <= len(digits) <= 19 and luhn_ok(digits) else match.group()


def _ip(match: re.Match) -> str:
    try:
        ipaddress.ip_address(match.group())
    except ValueError:
        return match.group()
    return "[ip address]"


@lru_cache(maxsize=1)
def _phone_regions() -> tuple[str, ...]:
    """The user's region (from the locale, as "de_DE" -> "DE"), then PHONE_REGIONS."""
    name = locale.getlocale()[0] or ""
    own = name.partition("_")[2][:2].upper()
    return tuple(dict.fromkeys(([own] if own in phonenumbers.SUPPORTED_REGIONS else []) + list(PHONE_REGIONS)))


def _phones(text: str) -> str:
    if sum(c.isdigit() for c in text) < MIN_PHONE_DIGITS:
        return text
    # With a country code, any number of a possible length; without, only numbers valid in a known region.
    spans = {(m.start, m.end) for m in phonenumbers.PhoneNumberMatcher(text, None, phonenumbers.Leniency.POSSIBLE)}
    for region in _phone_regions():
        spans |= {(m.start, m.end) for m in phonenumbers.PhoneNumberMatcher(text, region, phonenumbers.Leniency.VALID)}
    merged: list[list[int]] = []  # regions may read one number with different extents
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(end, merged[-1][1])
        else:
            merged.append([start, end])
    for start, end in reversed(merged):
        text = text[:start] + "[phone number]" + text[end:]
    return text


@lru_cache(maxsize=16)
def _extra(patterns: tuple[str, ...]) -> list[re.Pattern]:
    return [re.compile(p) for p in patterns]


def scrub(text: str, extra_patterns: tuple[str, ...] = ()) -> str:
    """`text` with personal data replaced by placeholders like [email]."""
    text = EMAIL.sub("[email]", text)
    text = IBAN.sub(lambda m: "[iban]" if iban_ok(m.group()) else m.group(), text)
    text = CARD_LIKE.sub(_card, text)
    text = IPV6.sub(_ip, text)
    text = IPV4.sub(_ip, text)
    text = _phones(text)
    for pattern in _extra(tuple(extra_patterns)):
        text = pattern.sub("[redacted]", text)
    return text


def cleaner(settings) -> Callable[[str], str]:
    """What the settings say to do with the user's text before it is taught or searched for."""
    if not settings.scrub_personal_data:
        return lambda text: text
    patterns = tuple(settings.scrub_patterns)
    return lambda text: scrub(text, patterns)


def offline_env() -> dict[str, str]:
    """Environment for the learning process: no telemetry from the Hugging Face libraries, and no hub at
    all (a hub model is downloaded when it is added, learner.models.adding: learning reads it from disk)."""
    return {"HF_HUB_DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "1", "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
