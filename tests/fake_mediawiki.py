"""A small MediaWiki API server over real HTTP on 127.0.0.1, for tests and benchmarks.

It answers the queries wikipedia-api sends (list=search; prop=info, extracts, categories;
redirects=1) from an in-memory wiki, records every request, and can be told to misbehave
per title: answer 429 (with Retry-After) or 500 a number of times first, send malformed
JSON, or stall past the client's timeout.
"""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Page:
    title: str
    text: str
    """The plain-text extract: the lead, then '== Section ==' headings."""
    revision: int = 1
    categories: list[str] = field(default_factory=list)


@dataclass
class FakeWiki:
    pages: dict[str, Page] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    failures: dict[str, list[int]] = field(default_factory=dict)
    """title (or 'search') -> HTTP statuses to answer before answering properly."""
    retry_after: int = 1
    malformed: set[str] = field(default_factory=set)
    stall_s: dict[str, float] = field(default_factory=dict)
    requests: list[dict] = field(default_factory=list)

    def add(self, title: str, text: str, revision: int = 1, categories: list[str] | None = None) -> Page:
        self.pages[title] = Page(title, text, revision, categories or [])
        return self.pages[title]

    def page_id(self, title: str) -> int:
        return 1000 + sorted(self.pages).index(title)

    def answer(self, params: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        key = params.get("titles") or ("search" if params.get("list") == "search" else "")
        if self.failures.get(key):
            status = self.failures[key].pop(0)
            headers = {"Retry-After": str(self.retry_after)} if status == 429 else {}
            return status, headers, b'{"error": "try again"}'
        if key in self.stall_s:
            time.sleep(self.stall_s[key])
        if key in self.malformed:
            return 200, {}, b'{"query": {"pages": '
        if params.get("list") == "search":
            body = self._search(params["srsearch"], int(params.get("srlimit", 10)))
        else:
            body = self._prop(params["prop"], params["titles"])
        return 200, {}, json.dumps(body).encode()

    def _search(self, query: str, limit: int) -> dict:
        words = query.lower().split()
        scored = []
        for page in self.pages.values():
            title, text = page.title.lower(), page.text.lower()
            if all(w in title or w in text for w in words):
                scored.append((-sum(w in title for w in words), page.title))
        hits = [{"ns": 0, "title": t, "pageid": self.page_id(t), "size": len(self.pages[t].text),
                 "wordcount": len(self.pages[t].text.split()), "snippet": "", "timestamp": "2026-11-01T00:00:00Z"}
                for _, t in sorted(scored)[:limit]]
        return {"batchcomplete": "", "query": {"searchinfo": {"totalhits": len(scored)}, "search": hits}}

    def _prop(self, prop: str, title: str) -> dict:
        query: dict = {}
        if title in self.redirects:
            query["redirects"] = [{"from": title, "to": self.redirects[title]}]
            title = self.redirects[title]
        page = self.pages.get(title)
        if page is None:
            query["pages"] = {"-1": {"ns": 0, "title": title, "missing": ""}}
            return {"batchcomplete": "", "query": query}
        entry = {"pageid": self.page_id(title), "ns": 0, "title": title}
        if prop == "info":
            entry.update(lastrevid=page.revision, length=len(page.text), contentmodel="wikitext",
                         fullurl=f"https://wiki.test/wiki/{title.replace(' ', '_')}",
                         canonicalurl=f"https://wiki.test/wiki/{title.replace(' ', '_')}")
        elif prop == "extracts":
            entry["extract"] = page.text
        elif prop == "categories":
            entry["categories"] = [{"ns": 14, "title": c} for c in page.categories]
        query["pages"] = {str(entry["pageid"]): entry}
        return {"batchcomplete": "", "query": query}


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
