"""A small MediaWiki API server over real HTTP on 127.0.0.1, for tests and benchmarks.

It answers, as the real Action API does with formatversion=2, the queries grokling sends:
`generator=search` (hits ranked by `index`, listed in page-id order as the real API lists
them) and `titles=A|B` (at most 50, normalised, redirects followed), each with `prop=info`
(`inprop=url`), `pageprops` (`ppprop` filters; a disambiguation page has the `disambiguation`
property whatever the wiki's language) and `extracts` (`explaintext`, "== Section ==" headings).
It records every request, and can be told to misbehave per title (or 'search'): answer 429
(with Retry-After) or 500 a number of times first, send malformed JSON, or stall past the
client's timeout.
"""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MAX_TITLES = 50


@dataclass
class Page:
    title: str
    text: str
    """The plain-text extract: the lead, then '== Section ==' headings."""
    revision: int = 1
    disambiguation: bool = False


@dataclass
class FakeWiki:
    pages: dict[str, Page] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    failures: dict[str, list[int]] = field(default_factory=dict)
    """title(s) as asked (or 'search') -> HTTP statuses to answer before answering properly."""
    retry_after: int = 1
    malformed: set[str] = field(default_factory=set)
    stall_s: dict[str, float] = field(default_factory=dict)
    requests: list[dict] = field(default_factory=list)

    def add(self, title: str, text: str, revision: int = 1, disambiguation: bool = False) -> Page:
        self.pages[title] = Page(title, text, revision, disambiguation)
        return self.pages[title]

    def page_id(self, title: str) -> int:
        return 1000 + sorted(self.pages).index(title)

    def answer(self, params: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        key = params.get("titles") or ("search" if params.get("generator") == "search" else "")
        if self.failures.get(key):
            status = self.failures[key].pop(0)
            headers = {"Retry-After": str(self.retry_after)} if status == 429 else {}
            return status, headers, b'{"error": "try again"}'
        if key in self.stall_s:
            time.sleep(self.stall_s[key])
        if key in self.malformed:
            return 200, {}, b'{"query": {"pages": '
        if params.get("action") != "query" or params.get("formatversion") != "2":
            return 200, {}, json.dumps(self._error("badparams", "only action=query with formatversion=2")).encode()
        if params.get("generator") == "search":
            body = self._search(params)
        elif "titles" in params:
            body = self._titles(params)
        else:
            body = self._error("missingparam", "one of titles or generator is needed")
        return 200, {}, json.dumps(body).encode()

    @staticmethod
    def _error(code: str, info: str) -> dict:
        return {"error": {"code": code, "info": info}}

    def _entry(self, page: Page, params: dict[str, str]) -> dict:
        """A page as the real API describes it, with the props asked for."""
        props = params.get("prop", "").split("|")
        entry: dict = {"pageid": self.page_id(page.title), "ns": 0, "title": page.title}
        if "info" in props:
            entry.update(contentmodel="wikitext", pagelanguage="en", touched="2026-11-01T00:00:00Z",
                         lastrevid=page.revision, length=len(page.text))
            if "url" in params.get("inprop", "").split("|"):
                url = f"https://wiki.test/wiki/{page.title.replace(' ', '_')}"
                entry.update(fullurl=url, editurl=f"{url}?action=edit", canonicalurl=url)
        if "pageprops" in props:
            wanted = params.get("ppprop")
            found = {"disambiguation": ""} if page.disambiguation else {}
            found = {k: v for k, v in found.items() if wanted is None or k in wanted.split("|")}
            if found:
                entry["pageprops"] = found
        if "extracts" in props and params.get("explaintext") == "1":
            entry["extract"] = page.text
        return entry

    def _search(self, params: dict[str, str]) -> dict:
        words = params["gsrsearch"].lower().split()
        scored = []
        for page in self.pages.values():
            title, text = page.title.lower(), page.text.lower()
            if all(w in title or w in text for w in words):
                scored.append((-sum(w in title for w in words), page.title))
        hits = [self.pages[t] for _, t in sorted(scored)[:int(params.get("gsrlimit", 10))]]
        if not hits:
            return {"batchcomplete": True}
        pages = [{**self._entry(p, params), "index": rank} for rank, p in enumerate(hits, 1)]
        return {"batchcomplete": True, "query": {"pages": sorted(pages, key=lambda p: p["pageid"])}}

    def _titles(self, params: dict[str, str]) -> dict:
        titles = params["titles"].split("|")
        if len(titles) > MAX_TITLES:
            return self._error("toomanyvalues", f'Too many values supplied for parameter "titles". '
                                                f"The limit is {MAX_TITLES}.")
        query: dict = {"pages": []}
        for asked in titles:
            title = asked.replace("_", " ").strip()
            title = title[:1].upper() + title[1:]
            if title != asked:
                query.setdefault("normalized", []).append({"fromencoded": False, "from": asked, "to": title})
            if title in self.redirects:
                query.setdefault("redirects", []).append({"from": title, "to": self.redirects[title]})
                title = self.redirects[title]
            page = self.pages.get(title)
            entry = self._entry(page, params) if page else {"ns": 0, "title": title, "missing": True}
            if entry not in query["pages"]:
                query["pages"].append(entry)
        return {"batchcomplete": True, "query": query}


class FakeMediaWikiServer:
    """`with FakeMediaWikiServer(wiki) as server:` serves `wiki` at `server.api_url`."""

    def __init__(self, wiki: FakeWiki):
        self.wiki = wiki
        fake = wiki

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                url = urlsplit(self.path)
                params = {k: v[-1] for k, v in parse_qs(url.query).items()}
                fake.requests.append({"time": time.monotonic(), "path": url.path, "params": params,
                                      "user_agent": self.headers.get("User-Agent", "")})
                status, headers, body = fake.answer(params) if url.path == "/w/api.php" else (404, {}, b"")
                try:
                    self.send_response(status)
                    for name, value in {"Content-Type": "application/json", **headers}.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (the timeout test)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.api_url = f"http://127.0.0.1:{self.server.server_port}/w/api.php"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeMediaWikiServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
