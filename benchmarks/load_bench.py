"""A long-time user's database: 100,000 messages in 1,000 chats, 1,000 of them corrected.

    python benchmarks/load_bench.py [--messages 100000]

Prints, for each thing the user waits on, its time on the big database and a ratio against a
peer measured in the same run:
- window open (QApplication offscreen, window built and its chat list filled) against the same
  on an empty database;
- switching to a conversation of 100 messages (rendered) against reading those rows with raw SQL;
- search (the sidebar's filter) against the raw FTS5 query it runs;
- the scheduler's tick (is learning due?) with 1,000 corrections against a raw count of them.
"""

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

WORDS = ("river mountain ledger quantum violet harbor cipher meadow lantern orbit basalt willow tundra prism "
         "falcon ember saffron glacier nebula cobalt juniper atlas").split()


def fill(home: Path, messages: int, per_chat: int = 100, corrections: int = 1000) -> None:
    from learner.store import Store, now

    with Store(home / "grokling.db") as store:
        stamp = now()
        with store.transaction() as db:
            for c in range(messages // per_chat):
                cid = db.execute("INSERT INTO conversations (title, created_at, updated_at) VALUES (?, ?, ?)",
                                 [f"Chat {c} about {WORDS[c % len(WORDS)]}", stamp, stamp]).lastrowid
                for m in range(per_chat):
                    text = " ".join(WORDS[(c * 7 + m * 3 + k) % len(WORDS)] for k in range(30)) + f" number {c}-{m}"
                    db.execute("INSERT INTO messages (conversation_id, role, content, created_at) VALUES (?, ?, ?, ?)",
                               [cid, "user" if m % 2 == 0 else "assistant", text, stamp])
            replies = [r[0] for r in db.execute("SELECT id FROM messages WHERE role = 'assistant' ORDER BY id LIMIT ?",
                                                [corrections])]
            for message_id in replies:
                db.execute("INSERT INTO feedback (message_id, correction, created_at) VALUES (?, ?, ?)",
                           [message_id, "The right answer, as the user wrote it.", stamp])


def best(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def open_window_s(app) -> float:
    from app.main_window import MainWindow
    from learner.settings import Settings
    from learner.store import Store

    def build():
        window = MainWindow(Store(), Settings())
        window.show()
        app.processEvents()
        assert window.conversation_list.count() >= 0
        window.host.close()
        window.store.close()
        window.deleteLater()
        app.processEvents()

    return best(build, 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()
    from app.qt import QApplication

    app = QApplication.instance() or QApplication([])
    empty, big = Path(tempfile.mkdtemp(prefix="grokling-load-empty-")), Path(tempfile.mkdtemp(prefix="grokling-load-"))
    os.environ["GROKLING_HOME"] = str(empty)
    from learner.store import Store

    Store().close()
    empty_open = open_window_s(app)
    started = time.perf_counter()
    fill(big, args.messages)
    print(f"filled {args.messages:,} messages in {time.perf_counter() - started:.1f} s "
          f"({(big / 'grokling.db').stat().st_size / 1e6:.0f} MB)")
    os.environ["GROKLING_HOME"] = str(big)
    big_open = open_window_s(app)

    from app.main_window import MainWindow
    from learner.learning import schedule
    from learner.settings import Settings

    window = MainWindow(Store(), Settings())
    window.show()
    app.processEvents()
    raw = sqlite3.connect(big / "grokling.db")
    middle = window.sidebar.ids()[len(window.sidebar.ids()) // 2]
    switch = best(lambda: (window.open_conversation(middle), app.processEvents()))
    switch_raw = best(lambda: raw.execute("SELECT * FROM messages WHERE conversation_id = ? ORDER BY id",
                                          [middle]).fetchall())
    def search_once():
        window.sidebar.search.clear()
        started = time.perf_counter()
        window.sidebar.search.setText("glacier prism 500-42")
        return time.perf_counter() - started

    search = min(search_once() for _ in range(5))
    search_raw = best(lambda: raw.execute("SELECT DISTINCT m.conversation_id FROM messages_fts JOIN messages m "
                                          "ON m.id = messages_fts.rowid WHERE messages_fts MATCH ?",
                                          ['"glacier" "prism" "500-42"']).fetchall())
    store = Store()
    tick = best(lambda: schedule.new_corrections(store))
    tick_raw = best(lambda: raw.execute("SELECT count(*) FROM feedback WHERE correction IS NOT NULL").fetchone())
    assert schedule.new_corrections(store) == 1000

    print(f"\n{'what the user waits on':<44}{'big db':>10}{'peer':>10}{'ratio':>8}")
    for name, value, peer, peer_name in [
        ("window open", big_open, empty_open, "empty db"),
        ("switch to a 100-message chat", switch, switch_raw, "raw SQL"),
        ("search the sidebar", search, search_raw, "raw FTS5"),
        ("scheduler tick, 1,000 corrections", tick, tick_raw, "raw count"),
    ]:
        print(f"{name:<44}{value * 1000:>8.1f}ms{peer * 1000:>8.1f}ms{value / peer:>7.1f}x  (peer: {peer_name})")
    window.host.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
