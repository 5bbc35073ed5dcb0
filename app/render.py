"""Messages to the HTML a QTextBrowser shows: CommonMark, highlighted code, action links, in the
colours of the user's palette.

Markdown is markdown-it-py's CommonMark, so a list that follows a line of text (the commonest
shape of a model's answer) is a list. Raw HTML in a message is shown as text, never
interpreted, images are not loaded and links go only to the web or to mail: a reply cannot inject
markup, images or links the user did not see written, nor link to a local file or to the
window's own actions. Each message is one top-level
<table>: the transcript (app/transcript.py) replaces one message without touching the others.
"""

import html
from dataclasses import dataclass
from functools import lru_cache

from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import TextLexer, get_lexer_by_name
from pygments.util import ClassNotFound

from app.qt import QColor, QPalette
from learner.items import Provenance
from learner.store import Message

# Links under each reply; the window handles the "action:" scheme.
ACTION_SCHEME = "action"

LINKS_ALLOWED = ("http://", "https://", "mailto:")
"""What a link written in a message may point to; any other stays text."""


@dataclass(frozen=True)
class Theme:
    """The transcript's colours (CSS hex), taken from a palette: the user's light or dark scheme."""

    dark: bool
    text: str
    muted: str
    link: str
    user: str
    assistant: str
    error: str
    correction: str
    code: str

    @classmethod
    def of(cls, palette: QPalette) -> "Theme":
        base, text = palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text)
        dark = base.lightness() < text.lightness()

        def tint(color: QColor, share: float) -> str:
            """`share` of `color` over the base colour."""
            mixed = [round(b + (c - b) * share) for b, c in zip(base.getRgb()[:3], color.getRgb()[:3])]
            return QColor(*mixed).name()

        link = palette.color(QPalette.ColorRole.Link)
        if dark and link.lightness() < 128:  # many dark palettes keep the light scheme's dark blue
            link = link.lighter(180)
        return cls(dark=dark, text=text.name(), muted=tint(text, 0.6), link=link.name(),
                   user=tint(palette.color(QPalette.ColorRole.Highlight), 0.16), assistant=tint(text, 0.05),
                   error=tint(QColor("#d93025"), 0.2), correction=tint(QColor("#1e8e3e"), 0.2),
                   code=tint(text, 0.09))

    @property
    def code_style(self) -> str:
        """The pygments style of code blocks, made for this background."""
        return "github-dark" if self.dark else "default"


LIGHT = Theme(dark=False, text="#000000", muted="#666666", link="#1a73e8", user="#e8f0fe", assistant="#f6f6f6",
              error="#fdecea", correction="#e6f4ea", code="#ececec")
"""For HTML made before any window exists (tests of the renderer)."""


def _code_block(code: str, language: str, theme: Theme) -> str:
    try:
        lexer = get_lexer_by_name(language) if language else TextLexer()
    except ClassNotFound:
        lexer = TextLexer()
    spans = highlight(code.rstrip("\n"), lexer, HtmlFormatter(style=theme.code_style, noclasses=True, nowrap=True))
    return (f'<table width="100%" cellpadding="6" bgcolor="{theme.code}"><tr><td>'
            f"<pre>{spans.rstrip(chr(10))}</pre></td></tr></table>\n")


@lru_cache(maxsize=4)
def _parser(theme: Theme) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable(["table", "strikethrough"]).disable("image")
    md.validateLink = lambda url: url.strip().lower().startswith(LINKS_ALLOWED)
    rules = md.renderer.rules
    rules["fence"] = lambda tokens, i, *_: _code_block(tokens[i].content, tokens[i].info.strip().split(" ")[0], theme)
    rules["code_block"] = lambda tokens, i, *_: _code_block(tokens[i].content, "", theme)
    rules["code_inline"] = lambda tokens, i, *_: (
        f'<code style="background-color:{theme.code};">{html.escape(tokens[i].content)}</code>')
    rules["table_open"] = lambda *_: f'<table border="1" cellspacing="0" cellpadding="4" style="border-color:{theme.muted};">'
    return md


# Longer messages (a pasted log, say) are shown cut: rendering megabytes would freeze the view.
DISPLAY_LIMIT = 20_000


def _markdown(text: str, theme: Theme) -> str:
    if len(text) > DISPLAY_LIMIT:
        hidden = len(text) - DISPLAY_LIMIT
        return (
            f"<pre>{html.escape(text[:DISPLAY_LIMIT])}</pre>"
            f"<p><i>… {hidden:,} more characters not shown here; the whole message is stored.</i></p>"
        )
    return _parser(theme).render(text)


@lru_cache(maxsize=8192)
def markdown_html(text: str, theme: Theme = LIGHT) -> str:
    """A stored message's text as HTML (cached: a chat is re-rendered whole when it opens)."""
    return _markdown(text, theme)


def _link(theme: Theme, action: str, message_id: int, label: str, active: bool = False) -> str:
    style = f"font-weight:bold;color:{theme.link};" if active else f"color:{theme.muted};"
    return f'<a style="text-decoration:none;{style}" href="{ACTION_SCHEME}:{action}:{message_id}">{label}</a>'


def _actions(m: Message, is_last: bool, theme: Theme) -> str:
    if m.role == "user":
        parts = [_link(theme, "edit", m.id, "✎ Edit and resend"), _link(theme, "copy", m.id, "Copy")]
    else:
        parts = [
            _link(theme, "up", m.id, "▲ Good", m.rating == 1),
            _link(theme, "down", m.id, "▼ Bad", m.rating == -1),
            _link(theme, "correct", m.id, "✎ Correct this…", bool(m.correction)),
            _link(theme, "copy", m.id, "Copy"),
        ]
        if is_last:
            parts.append(_link(theme, "regenerate", m.id, "↻ Regenerate"))
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


def recalled_html(m: Message, theme: Theme) -> str:
    """'Remembered from your correction of 23 Nov · why do you know this?' under a reply that used instant memory."""
    if not m.recalled:
        return ""
    sources = "; ".join(dict.fromkeys(Provenance.from_dict(r["source"]).describe() for r in m.recalled))
    why = f'<a style="text-decoration:none;color:{theme.link};" href="{ACTION_SCHEME}:why:{m.id}">why do you know this?</a>'
    return f'<p style="font-size:small;color:{theme.muted};">Remembered from {html.escape(sources)} · {why}</p>'


def why_html(m: Message, theme: Theme) -> str:
    """What instant memory gave the model for this reply, and where each item came from."""
    parts = [f"<p><b>{html.escape(r['question'])}</b><br>{markdown_html(r['answer'], theme)}"
             f"<i>{html.escape(Provenance.from_dict(r['source']).describe())}</i></p>" for r in m.recalled or []]
    return ("<p>You taught grokling this, and it was in front of the model when it answered. "
            "Drop an item in the learning panel's Training data to stop it being used.</p>" + "".join(parts))


def _box(background: str, who: str, body: str) -> str:
    return (f'<table width="100%" cellpadding="8" bgcolor="{background}" style="margin-bottom:6px;"><tr><td>'
            f"<b>{who}</b>{body}</td></tr></table>")


def message_html(m: Message, is_last: bool, theme: Theme) -> str:
    background = theme.error if m.status == "error" else theme.user if m.role == "user" else theme.assistant
    body = markdown_html(m.content, theme) if m.content else ""
    if m.status == "error":
        body += f"<p><b>Could not answer:</b> {html.escape(m.error or 'unknown error')}</p>"
    if m.correction:
        body += (f'<table width="100%" cellpadding="6" bgcolor="{theme.correction}"><tr><td>'
                 f"<b>Your correction</b>{markdown_html(m.correction, theme)}</td></tr></table>")
    footer = _footer(m)
    footer = f'&nbsp;&nbsp;&nbsp;<span style="color:{theme.muted};">{footer}</span>' if footer else ""
    body += f'{recalled_html(m, theme)}<p style="font-size:small;">{_actions(m, is_last, theme)}{footer}</p>'
    return _box(background, "You" if m.role == "user" else "grokling", body)


def streaming_html(text: str, theme: Theme) -> str:
    """The reply being written: not cached, each update is new text."""
    return _box(theme.assistant, "grokling", _markdown(text, theme) if text else "<p>…</p>")


def pending_user_html(text: str, theme: Theme) -> str:
    return _box(theme.user, "You", markdown_html(text, theme))
