"""Messages to the HTML a QTextBrowser shows: markdown, highlighted code, feedback links.

Raw HTML in a message is shown as text, never interpreted: a reply cannot inject markup,
images or links the user did not see written.
"""

import html
from functools import lru_cache

import markdown

from learner.items import Provenance
from learner.store import Message

# Links under each reply; the window handles the "action:" scheme.
ACTION_SCHEME = "action"

_STYLE = {
    "user": "background-color:#e8f0fe;",
    "assistant": "background-color:#f6f6f6;",
    "error": "background-color:#fdecea;",
    "correction": "background-color:#e6f4ea;",
}


def _markdown() -> markdown.Markdown:
    md = markdown.Markdown(
        extensions=["fenced_code", "codehilite", "tables", "sane_lists", "nl2br"],
        extension_configs={"codehilite": {"noclasses": True, "guess_lang": False}},
    )
    # Show HTML found in a message as text instead of rendering it.
    md.preprocessors.deregister("html_block")
    md.inlinePatterns.deregister("html")
    return md


_MD = _markdown()


# Longer messages (a pasted log, say) are shown cut: rendering megabytes would freeze the view.
DISPLAY_LIMIT = 20_000


@lru_cache(maxsize=2048)
def markdown_html(text: str) -> str:
    if len(text) > DISPLAY_LIMIT:
        hidden = len(text) - DISPLAY_LIMIT
        return (
            f"<pre>{html.escape(text[:DISPLAY_LIMIT])}</pre>"
            f"<p><i>… {hidden:,} more characters not shown here; the whole message is stored.</i></p>"
        )
    _MD.reset()
    return _MD.convert(text)


def _actions(m: Message, is_last: bool) -> str:
    def link(action: str, label: str, active: bool = False) -> str:
        style = "font-weight:bold;color:#1a73e8;" if active else "color:#5f6368;"
        return f'<a style="text-decoration:none;{style}" href="{ACTION_SCHEME}:{action}:{m.id}">{label}</a>'

    if m.role == "user":
        return link("edit", "✎ Edit and resend")
    parts = [
        link("up", "▲ Good", m.rating == 1),
        link("down", "▼ Bad", m.rating == -1),
        link("correct", "✎ Correct this…", bool(m.correction)),
    ]
    if is_last:
        parts.append(link("regenerate", "↻ Regenerate"))
    return " &nbsp;&nbsp; ".join(parts)


def _footer(m: Message) -> str:
    if m.role != "assistant":
        return ""
    bits = []
    if m.status == "stopped":
        bits.append("stopped")
    if m.tokens_per_s:
        bits.append(f"{m.tokens_per_s:.1f} tok/s")
    if m.model_version:
        bits.append(f"model {html.escape(m.model_version)}")
    return " · ".join(bits)


def recalled_html(m: Message) -> str:
    """'Remembered from your correction of 23 Nov · why do you know this?' under a reply that used instant memory."""
    if not m.recalled:
        return ""
    sources = "; ".join(dict.fromkeys(Provenance.from_dict(r["source"]).describe() for r in m.recalled))
    why = f'<a style="text-decoration:none;color:#1a73e8;" href="{ACTION_SCHEME}:why:{m.id}">why do you know this?</a>'
    return f'<p style="font-size:small;color:#5f6368;">Remembered from {html.escape(sources)} · {why}</p>'


def why_html(m: Message) -> str:
    """What instant memory gave the model for this reply, and where each item came from."""
    parts = [f"<p><b>{html.escape(r['question'])}</b><br>{markdown_html(r['answer'])}"
             f"<i>{html.escape(Provenance.from_dict(r['source']).describe())}</i></p>" for r in m.recalled or []]
    return ("<p>You taught grokling this, and it was in front of the model when it answered. "
            "Drop an item in the learning panel's Training data to stop it being used.</p>" + "".join(parts))


def message_html(m: Message, is_last: bool) -> str:
    style = _STYLE["error" if m.status == "error" else m.role]
    who = "You" if m.role == "user" else "grokling"
    body = markdown_html(m.content) if m.content else ""
    if m.status == "error":
        body += f"<p><b>Could not answer:</b> {html.escape(m.error or 'unknown error')}</p>"
    correction = ""
    if m.correction:
        correction = (
            f'<table width="100%" cellpadding="6" style="{_STYLE["correction"]}"><tr><td>'
            f"<b>Your correction</b>{markdown_html(m.correction)}</td></tr></table>"
        )
    footer = _footer(m)
    return (
        f'<table width="100%" cellpadding="8" style="{style}margin-bottom:6px;"><tr><td>'
        f'<b>{who}</b>{body}{correction}{recalled_html(m)}'
        f'<p style="font-size:small;">{_actions(m, is_last)}'
        f'{"&nbsp;&nbsp;&nbsp;<span style=color:#80868b;>" + footer + "</span>" if footer else ""}</p>'
        f"</td></tr></table>"
    )


def streaming_html(text: str) -> str:
    return (
        f'<table width="100%" cellpadding="8" style="{_STYLE["assistant"]}"><tr><td>'
        f"<b>grokling</b>{markdown_html(text) if text else '<p>…</p>'}</td></tr></table>"
    )


def pending_user_html(text: str) -> str:
    return (
        f'<table width="100%" cellpadding="8" style="{_STYLE["user"]}"><tr><td>'
        f"<b>You</b>{markdown_html(text)}</td></tr></table>"
    )


def transcript_html(messages: list[Message], tail: str = "") -> str:
    """The whole conversation, then `tail` (a message being sent or streamed)."""
    parts = [message_html(m, i == len(messages) - 1) for i, m in enumerate(messages)]
    return "".join(parts) + tail
