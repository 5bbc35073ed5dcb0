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
