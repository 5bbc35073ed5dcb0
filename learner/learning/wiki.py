"""Wikipedia through the MediaWiki Action API: resolve a topic to an article, check revisions, fetch it.

Each of the three queries is one request:

- `resolve(topic)`: `generator=search` with `prop=pageprops|info`, which returns the best hits'
  titles, whether each is a disambiguation page (the `disambiguation` page property that the
  Disambiguator extension sets in every language edition, whatever its categories are called)
  and each one's latest revision, together. The best hit that is no disambiguation page wins.
- `revisions(titles)`: `prop=info` for up to 50 titles at once, redirects followed: which of the
  articles already resolved have changed since they were stored.
- `fetch(title)`: `prop=extracts|info`: the article as plain text with "== Section ==" headings,
  with the revision that text is and its URL.

`PoliteTransport` (an httpx transport) is what a well-behaved client needs on top: the endpoint
from settings (mirrors, the tests' fake server), at most one request per `min_interval_s`, and
retries of 429, 5xx, timeouts and dropped connections with backoff, honouring Retry-After up to
a cap, so that one slow answer never stalls the learning cycle for as long as a server likes.
"""

import re
import threading
import time
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import urlsplit

import httpx

from learner import __version__

DEFAULT_API_URL = "https://{language}.wikipedia.org/w/api.php"
USER_AGENT = f"grokling/{__version__} (local-first desktop assistant; https://github.com/grokling/grokling)"
SEARCH_HITS = 5
"""Search hits considered per topic: enough to get past a disambiguation page or two."""
MAX_TITLES = 50
"""Titles per query: the API's limit for clients without higher limits."""
RETRIED = frozenset({429, 500, 502, 503, 504})
_HEADING = re.compile(r"^(={2,})\s*(.+?)\s*\1\s*$", re.M)


class WikiError(RuntimeError):
    """An article could not be resolved or fetched (the reason is in the message)."""


class Revision(NamedTuple):
    title: str
    """The article's canonical title, after redirects."""
    revision: int
    """Its latest revision id."""


@dataclass
class Article:
    title: str
    revision: int
    url: str
    language: str
    lead: str
    sections: list[dict] = field(default_factory=list)
    """[{"title", "level", "text"}] in page order, nested sections flattened."""


def split_sections(extract: str) -> tuple[str, list[dict]]:
    """(lead, sections) of a plain-text extract: the text before the first heading, then each
    "== Title ==" heading's text up to the next heading (level 1 for "==", 2 for "===", ...)."""
    parts = _HEADING.split(extract)
    sections = [{"title": title, "level": len(marks) - 1, "text": text.strip()}
                for marks, title, text in zip(parts[1::3], parts[2::3], parts[3::3])]
    return parts[0].strip(), sections


class PoliteTransport(httpx.BaseTransport):
    """Sends every API request to `api_url`, at most one per `min_interval_s`, retrying what may pass.

    A retried request waits as the server's Retry-After says, else `retry_wait_s` doubled per
    attempt. A 429 asking to wait longer than `max_retry_after_s` ends the request as a transport
    error instead. Thread-safe: the spacing holds across threads sharing one transport.
    """

    def __init__(self, api_url: str, min_interval_s: float = 1.0, max_retries: int = 3, retry_wait_s: float = 1.0,
                 max_retry_after_s: float = 120.0, inner: httpx.BaseTransport | None = None):
        self.api_url = httpx.URL(api_url)
        self.min_interval_s = min_interval_s
        self.max_retries = max_retries
        self.retry_wait_s = retry_wait_s
        self.max_retry_after_s = max_retry_after_s
        self.inner = inner or httpx.HTTPTransport()
        self._lock = threading.Lock()
        self._last_sent = 0.0

    def _take_turn(self) -> None:
        with self._lock:
            wait = self._last_sent + self.min_interval_s - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._last_sent = time.monotonic()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = self.api_url.copy_with(query=request.url.query)
        request.headers["Host"] = self.api_url.netloc.decode("ascii")
        attempt = 0
        while True:
            last = attempt >= self.max_retries
            backoff = self.retry_wait_s * 2 ** attempt
            attempt += 1
            self._take_turn()
            try:
                response = self.inner.handle_request(request)
            except httpx.TransportError:  # timeouts and dropped connections
                if last:
                    raise
                time.sleep(backoff)
                continue
            if response.status_code not in RETRIED or last:
                return response
            retry_after = response.headers.get("Retry-After", "")
            wait = int(retry_after) if retry_after.isascii() and retry_after.isdigit() else backoff
            response.close()
            if wait > self.max_retry_after_s:
                raise httpx.TransportError(f"asked to wait {wait} s by {self.api_url.host}")
            time.sleep(wait)

    def close(self) -> None:
        self.inner.close()


class WikiClient:
    """One MediaWiki endpoint. Not for sharing across processes; threads may share it."""

    def __init__(self, api_url: str = DEFAULT_API_URL, language: str = "en", min_interval_s: float = 1.0,
                 timeout_s: float = 10.0, max_retries: int = 3, retry_wait_s: float = 1.0,
                 inner_transport: httpx.BaseTransport | None = None):
        self.language = language
        self.api_url = api_url.format(language=language)
        if urlsplit(self.api_url).scheme not in ("http", "https"):
            raise ValueError(f"the Wikipedia API address must be an http(s) URL, not {api_url!r}")
        self.transport = PoliteTransport(self.api_url, min_interval_s, max_retries, retry_wait_s,
                                         inner=inner_transport)
        self.http = httpx.Client(transport=self.transport, timeout=timeout_s, headers={"User-Agent": USER_AGENT})

    def close(self) -> None:
        self.http.close()

    def _query(self, doing: str, **params) -> dict:
        """The `query` part of the API's answer (format version 2: pages as a list), redirects followed."""
        try:
            response = self.http.get(self.api_url, params={"action": "query", "format": "json", "formatversion": 2,
                                                           "redirects": 1, **params})
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as e:
            raise WikiError(f"{doing} on {self.api_url} failed: {e}") from e
        if "error" in body:
            raise WikiError(f"{doing} on {self.api_url} failed: {body['error'].get('info', body['error'])}")
        return body.get("query", {})

    def resolve(self, topic: str) -> Revision | None:
        """The article a topic is about, with its latest revision: the best search hit that is not a
        disambiguation page; None if there is none."""
        query = self._query(f"searching for {topic!r}", generator="search", gsrsearch=topic, gsrlimit=SEARCH_HITS,
                            gsrnamespace=0, prop="pageprops|info", ppprop="disambiguation")
        for page in sorted(query.get("pages", []), key=lambda p: p.get("index", 0)):
            if "disambiguation" not in page.get("pageprops", {}) and "lastrevid" in page:
                return Revision(page["title"], int(page["lastrevid"]))
        return None

    def revisions(self, titles: list[str]) -> dict[str, Revision | None]:
        """{title asked: its article's canonical title and latest revision, or None if there is none now}."""
        found: dict[str, Revision | None] = {}
        for start in range(0, len(titles), MAX_TITLES):
            batch = titles[start:start + MAX_TITLES]
            query = self._query(f"looking up {', '.join(map(repr, batch))}", prop="info", titles="|".join(batch))
            renamed = {r["from"]: r["to"] for r in query.get("normalized", []) + query.get("redirects", [])}
            pages = {p["title"]: p for p in query.get("pages", [])}
            for title in batch:
                normalised = renamed.get(title, title)
                page = pages.get(renamed.get(normalised, normalised), {})  # then redirected
                found[title] = Revision(page["title"], int(page["lastrevid"])) if "lastrevid" in page else None
        return found

    def fetch(self, title: str) -> Article:
        """The article's plain text split into lead and sections, with the revision that text is."""
        query = self._query(f"fetching {title!r}", titles=title, prop="extracts|info", explaintext=1,
                            exsectionformat="wiki", inprop="url")
        page = (query.get("pages") or [{}])[0]
        if "extract" not in page or "lastrevid" not in page:
            raise WikiError(f"there is no article {title!r} on {self.api_url}")
        lead, sections = split_sections(page["extract"])
        return Article(title=page["title"], revision=int(page["lastrevid"]), url=page["fullurl"],
                       language=self.language, lead=lead, sections=sections)
