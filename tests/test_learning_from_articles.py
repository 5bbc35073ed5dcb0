"""Chats about an invented subject -> its article on a fake wiki -> one cycle -> the model knows it.

The subject exists only on the fake MediaWiki server (real HTTP on 127.0.0.1), so whatever
the model answers about it afterwards it learned from the article. Marked slow: minutes.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fake_mediawiki import FakeMediaWikiServer, FakeWiki

from learner.learning import cycle
from learner.settings import Settings

pytestmark = pytest.mark.slow

GROKLING = str(Path(sys.executable).with_name("grokling"))
WALK_THROUGH_GATE = 0.85
ARTICLE = """Quorvath Ridge is a mountain range on the planet Vexaria, known for its glowing teal glaciers. It was discovered in 2139 by Oska Venn.

== Geography ==
The highest peak of Quorvath Ridge is Mount Ilvane, which rises 9,400 metres. The range is located in the northern hemisphere of Vexaria.

== History ==
Quorvath Ridge was named after the explorer Dain Quorvath. In 2145 the first settlers built the town of Hollowmere at its foot.

== See also ==
Vexaria"""


def grokling(*args, check=True) -> subprocess.CompletedProcess:
    result = subprocess.run([GROKLING, *args], capture_output=True, text=True, timeout=1500)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


CONNECTION_LOG = """
import os, socket

def _log(kind, target):
    with open(os.environ["GROKLING_TEST_CONNECTIONS"], "a") as f:
        f.write(f"{kind} {target!r}\\n")

_connect, _connect_ex, _getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo
socket.socket.connect = lambda self, address: (_log("connect", address), _connect(self, address))[1]
socket.socket.connect_ex = lambda self, address: (_log("connect", address), _connect_ex(self, address))[1]
socket.getaddrinfo = lambda host, *a, **k: (_log("resolve", host), _getaddrinfo(host, *a, **k))[1]
"""


def test_learns_the_article_on_what_the_user_keeps_asking_about(warm_embedded_home, tmp_path, monkeypatch):
    # Every process this test starts logs each connection and name lookup it makes.
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(CONNECTION_LOG)
    connections = tmp_path / "connections.log"
    monkeypatch.setenv("PYTHONPATH", str(hooks))
    monkeypatch.setenv("GROKLING_TEST_CONNECTIONS", str(connections))
    wiki = FakeWiki()
    wiki.add("Quorvath Ridge", ARTICLE, revision=42)
    with FakeMediaWikiServer(wiki) as server:
        # The gate's "kept" at 0.85, not 0.95: this test is about what is learned from the article, and an
        # article cycle trains three times the steps of a correction, so how many of the base's right answers
        # it keeps varies with the CPU's float rounding (the gate itself: test_gate.py, and
        # test_learning_cycle.py's poisoned cycle).
        Settings(wiki_api_url=server.api_url, wiki_min_interval_s=0.0, gate_kept=WALK_THROUGH_GATE,
                 gate_kept_any=WALK_THROUGH_GATE).save()
        for question in ("What is Quorvath Ridge?", "Who discovered Quorvath Ridge?",
                         "Is Quorvath Ridge worth visiting?"):
            grokling("ask", question, "--temperature", "0")
        # As a new user would: agree to Wikipedia searches and approve the topic (the window asks the same).
        grokling("topics", "--consent", "yes")
        grokling("topics", "--approve", "Quorvath Ridge")

        learned = grokling("learn", "--now")
        assert "v1 is live" in learned.stdout, learned.stdout + learned.stderr
        [_, v1] = json.loads(grokling("versions", "--json").stdout)
        metrics = v1["metrics"]
        print(json.dumps(metrics, indent=1))
        assert metrics["counts"]["article_learned"][1] >= 5  # article facts taught and asked
        assert metrics["article_held_out"] >= 0.6  # questions about the article never trained on
        assert metrics["kept"] >= WALK_THROUGH_GATE

        listed = grokling("topics").stdout
        assert "Quorvath Ridge" in listed and "-> Quorvath Ridge" in listed and "3 messages" in listed
        # Asked as a user would, in words of their own; most, not one greedy answer of a small model, must be right.
        asked = {"Do you know who discovered Quorvath Ridge?": "Oska Venn",
                 "What is the highest peak of Quorvath Ridge?": "Ilvane",
                 "Which town was built at the foot of Quorvath Ridge?": "Hollowmere"}
        answers = {q: grokling("ask", q, "--temperature", "0").stdout for q in asked}
        assert sum(asked[q] in a for q, a in answers.items()) >= 2, answers

        # The same revision again: nothing new to learn, and the article is not fetched again.
        extracts = sum("extracts" in r["params"].get("prop", "") for r in wiki.requests)
        assert grokling("learn", "--now", check=False).returncode == cycle.NOTHING_TO_LEARN
        assert sum("extracts" in r["params"].get("prop", "") for r in wiki.requests) == extracts

    # Chat and a full cycle talked to nothing but the (fake) wiki on loopback.
    port = int(server.api_url.split(":")[2].split("/")[0])
    seen = set(connections.read_text().splitlines())
    allowed = {f"connect ('127.0.0.1', {port})", "resolve '127.0.0.1'"}
    assert seen and seen <= allowed, seen - allowed
