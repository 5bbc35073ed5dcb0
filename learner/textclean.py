"""Turn whatever a user pasted or piped in into text that is safe to store and tokenize."""

import re
import unicodedata

# C0 and C1 control characters, except tab and newline which are part of normal text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class EmptyMessageError(ValueError):
    """The message has no visible text."""


def clean_text(text: str) -> str:
    """Normalise line endings, drop invisible control characters and replace undecodable bytes.

    Command-line arguments with invalid UTF-8 arrive as lone surrogates (Python's
    surrogateescape); SQLite cannot store them and llama.cpp cannot tokenize them, so each
    becomes U+FFFD, the same thing a text editor shows for it.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _SURROGATE.sub("\ufffd", text)
    text = _CONTROL.sub("", text)
    return unicodedata.normalize("NFC", text)


def clean_message(text: str) -> str:
    """`clean_text`, refusing a message that is empty once cleaned."""
    cleaned = clean_text(text)
    if not cleaned.strip():
        raise EmptyMessageError("The message is empty: type something to send.")
    return cleaned


WORD_JOINER = "\u2060"


def neutralize_special_tokens(text: str, specials: frozenset[str]) -> str:
    """`text` with every control-token string in it ("<|im_end|>") broken by an invisible word joiner.

    Chat templates render message contents into the prompt as text; a tokenizer that parses
    special tokens would turn what a user (or an article) typed into a real end-of-turn or
    role marker. Broken up, it reads the same and stays text.
    """
    if not specials or not any(s in text for s in specials):
        return text
    pattern = "|".join(re.escape(s) for s in sorted(specials, key=len, reverse=True))
    return re.sub(pattern, lambda m: m[0][0] + WORD_JOINER + m[0][1:], text)
