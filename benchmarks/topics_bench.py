"""Topic mining and article fetching speed, each against a peer measured in the same run.

    python benchmarks/topics_bench.py [--messages 10000] [--articles 40]

- Mining: `topics.mine` over N user messages (with replies and feedback) in a real SQLite
  store, against the peer of reading those same rows with the same query and nothing else.
- Fetching: resolve + fetch of M articles, then one revisions check of them all, through
  grokling's client against the fake MediaWiki on loopback with the rate limit off, against
  raw httpx sending the same MediaWiki queries to the same server.
- Politeness: with the default rate limit on, the smallest gap between two requests.
"""

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ["GROKLING_HOME"] = tempfile.mkdtemp(prefix="grokling-topics-bench-")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import httpx  # noqa: E402
from fake_mediawiki import FakeMediaWikiServer, FakeWiki  # noqa: E402

from learner.learning import topics  # noqa: E402
from learner.settings import Settings  # noqa: E402
from learner.store import Store  # noqa: E402
from learner.learning.wiki import WikiClient  # noqa: E402

SUBJECTS = ["Zorblax Labs", "the Quell drive", "Mira Quell", "Byzantine mosaics", "photosynthesis", "Drennport",
            "black holes", "the Roman Empire", "sourdough bread", "Python decorators", "the Vexaria system"]
FRAMES = ["What is {s}?", "Tell me more about {s}.", "How does {s} compare to other things?",
          "Why do people care about {s}?", "Can you explain {s} to a child?"]


def fill_store(store: Store, n: int) -> None:
    rng = random.Random(0)
    with store.transaction() as db:
        for _ in range(n // 10):
            db.execute("INSERT INTO conversations (title, created_at, updated_at) VALUES ('bench', '2026-11-01', '2026-11-01')")
            cid = db.execute("SELECT max(id) FROM conversations").fetchone()[0]
            for _ in range(10):
                text = rng.choice(FRAMES).format(s=rng.choice(SUBJECTS))
                stamp = f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}T12:00:00+00:00"
                db.execute("INSERT INTO messages (conversation_id, role, content, created_at) VALUES (?, 'user', ?, ?)",
                           [cid, text, stamp])
                db.execute("INSERT INTO messages (conversation_id, role, content, created_at) VALUES (?, 'assistant', ?, ?)",
                           [cid, rng.choice(["I don't know.", "Here is an answer."]), stamp])


def bench_mining(n: int) -> None:
    store = Store()
    fill_store(store, n)
    started = time.perf_counter()
    rows = store.query("SELECT u.id, u.content, u.created_at FROM messages u WHERE u.role = 'user'")
    read_s = time.perf_counter() - started
    started = time.perf_counter()
    found = topics.mine(store)
    mine_s = time.perf_counter() - started
    print(f"mining {len(rows):,} user messages: {mine_s:.2f} s ({len(rows) / mine_s:,.0f} messages/s), "
          f"{found} topics; reading them alone {read_s:.3f} s -> mining/reading = {mine_s / read_s:.0f}x")


def bench_fetching(m: int) -> None:
    wiki = FakeWiki()
    body = "{t} is a subject of study. It was founded in 2041 by Mira Quell.\n\n== History ==\n" + "Text. " * 400
    for i in range(m):
        wiki.add(f"Subject {i}", body.format(t=f"Subject {i}"), revision=i + 1)
    with FakeMediaWikiServer(wiki) as server:
        client = WikiClient(server.api_url, min_interval_s=0.0)
        started = time.perf_counter()
        for i in range(m):
            client.fetch(client.resolve(f"Subject {i}").title)
        client.revisions([f"Subject {i}" for i in range(m)])
        ours_s = time.perf_counter() - started
        client.close()
        requests = len(wiki.requests)
        base = {"action": "query", "format": "json", "formatversion": 2, "redirects": 1}
        started = time.perf_counter()
        with httpx.Client() as raw:
            for i in range(m):
                title = f"Subject {i}"
                raw.get(server.api_url, params={**base, "generator": "search", "gsrsearch": title, "gsrlimit": 5,
                                                "gsrnamespace": 0, "prop": "pageprops|info",
                                                "ppprop": "disambiguation"}).json()
                raw.get(server.api_url, params={**base, "titles": title, "prop": "extracts|info", "explaintext": 1,
                                                "exsectionformat": "wiki", "inprop": "url"}).json()
            for start in range(0, m, 50):
                titles = "|".join(f"Subject {i}" for i in range(start, min(m, start + 50)))
                raw.get(server.api_url, params={**base, "prop": "info", "titles": titles}).json()
        raw_s = time.perf_counter() - started
        print(f"fetching {m} articles (rate limit off): {m / ours_s:.1f} articles/s, {requests / ours_s:.0f} requests/s; "
              f"raw httpx, same queries: {m / raw_s:.1f} articles/s -> grokling/raw = {raw_s / ours_s:.2f}")

        wiki.requests.clear()
        interval = Settings().wiki_min_interval_s
        client = WikiClient(server.api_url, min_interval_s=interval)
        client.fetch("Subject 0")
        client.fetch("Subject 1")
        client.close()
        times = [r["time"] for r in wiki.requests]
        gap = min(b - a for a, b in zip(times, times[1:]))
        print(f"rate limit on ({interval:.1f} s): {len(times)} requests, smallest gap {gap:.3f} s "
              f"-> {'holds' if gap >= interval * 0.99 else 'BROKEN'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--articles", type=int, default=40)
    args = parser.parse_args()
    bench_mining(args.messages)
    bench_fetching(args.articles)


if __name__ == "__main__":
    main()
