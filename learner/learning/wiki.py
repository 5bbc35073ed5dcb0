"""Wikipedia through the MediaWiki API: resolve a topic to an article and fetch it by section.

wikipedia-api does the protocol: JSON queries, redirects followed, retries with backoff on
429, 5xx, timeouts and dropped connections, honouring Retry-After. `PoliteTransport`
(an httpx transport under it) adds what a well-behaved client and this app need on top:
the endpoint from settings (mirrors, other languages, the tests' fake server), a minimum
interval between requests, and a cap on how long a Retry-After may make the cycle wait.
"""

import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from learner import __version__

DEFAULT_API_URL = "https://{language}.wikipedia.org/w/api.php"
USER_AGENT = f"grokling/{__version__} (local-first desktop assistant; https://github.com/grokling/grokling)"
DISAMBIGUATION_CATEGORIES = {"Category:All disambiguation pages", "Category:Disambiguation pages",
                             "Category:All article disambiguation pages"}


class WikiError(RuntimeError):
    """An article could not be resolved or fetched (the reason is in the message)."""


@dataclass
class Article:
    title: str
    revision: int
    url: str
    language: str
    lead: str
    sections: list[dict] = field(default_factory=list)
    """[{"title", "level", "text"}] in page order, nested sections flattened."""


class PoliteTransport(httpx.BaseTransport):
    """Sends every API request to `api_url`, at most one per `min_interval_s`.

    A 429 asking to wait longer than `max_retry_after_s` ends the request as a transport
    error instead of stalling the learning cycle for as long as the server likes.
    """

    def __init__(self, api_url: str, min_interval_s: float = 1.0, max_retry_after_s: float = 120.0,
                 inner: httpx.BaseTransport | None = None):
        self.api_url = httpx.URL(api_url)
        self.min_interval_s = min_interval_s
        self.max_retry_after_s = max_retry_after_s
        self.inner = inner or httpx.HTTPTransport()
        self._lock = threading.Lock()
        self._last_sent = 0.0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = self.api_url.copy_with(query=request.url.query)
        request.headers["Host"] = self.api_url.netloc.decode("ascii")
        with self._lock:
            wait = self._last_sent + self.min_interval_s - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._last_sent = time.monotonic()
        response = self.inner.handle_request(request)
        retry_after = response.headers.get("Retry-After", "")
        if response.status_code == 429 and retry_after.isdigit() and int(retry_after) > self.max_retry_after_s:
            response.close()
            raise httpx.TransportError(f"rate limited for {retry_after} s by {self.api_url.host}")
        return response

    def close(self) -> None:
        self.inner.close()


class WikiClient:
    def __init__(self, api_url: str = DEFAULT_API_URL, language: str = "en", min_interval_s: float = 1.0,
                 timeout_s: float = 10.0, max_retries: int = 3, retry_wait_s: float = 1.0,
                 inner_transport: httpx.BaseTransport | None = None):
        import wikipediaapi

        self.language = language
        self.api_url = api_url.format(language=language)
        if urlsplit(self.api_url).scheme not in ("http", "https"):
            raise ValueError(f"the Wikipedia API address must be an http(s) URL, not {api_url!r}")
        self.transport = PoliteTransport(self.api_url, min_interval_s, inner=inner_transport)
        self.wiki = wikipediaapi.Wikipedia(user_agent=USER_AGENT, language=language, max_retries=max_retries,
                                           retry_wait=retry_wait_s, timeout=timeout_s, transport=self.transport)

    def close(self) -> None:
        self.transport.close()

    def search(self, query: str, limit: int = 5) -> list[str]:
        """Titles of the best-matching articles, best first."""
        try:
            return list(self.wiki.search(query, limit=limit).pages)
        except Exception as e:
            raise WikiError(f"searching {self.api_url} for {query!r} failed: {e}") from e

    def revision(self, title: str) -> tuple[str, int] | None:
        """(canonical title, latest revision id) after redirects, or None if there is no such article."""
        page = self.wiki.page(title)
        try:
            if not page.exists():
                return None
            return page.title, int(page.lastrevid)
        except Exception as e:
            raise WikiError(f"looking up {title!r} failed: {e}") from e

    def is_disambiguation(self, title: str) -> bool:
        page = self.wiki.page(title)
        try:
            return bool(DISAMBIGUATION_CATEGORIES & set(page.categories)) or "(disambiguation)" in page.title
        except Exception as e:
            raise WikiError(f"reading the categories of {title!r} failed: {e}") from e

    def resolve(self, topic: str) -> str | None:
        """The article a topic is about: the first search hit that is not a disambiguation page."""
        for title in self.search(topic):
            if not self.is_disambiguation(title):
                return title
        return None

    def fetch(self, title: str) -> Article:
        page = self.wiki.page(title)
        try:
            if not page.exists():
                raise WikiError(f"there is no article {title!r}")
            sections = []

            def walk(children):
                for s in children:
                    sections.append({"title": s.title, "level": s.level, "text": s.text})
                    walk(s.sections)

            walk(page.sections)
            return Article(title=page.title, revision=int(page.lastrevid), url=page.fullurl, language=self.language,
                           lead=page.summary, sections=sections)
        except WikiError:
            raise
        except Exception as e:
            raise WikiError(f"fetching {title!r} failed: {e}") from e
