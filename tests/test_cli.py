"""The `grokling` command, run as a user runs it: the installed entry point in a subprocess."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from learner.models import embedded
from learner.store import Store

GROKLING = shutil.which("grokling", path=str(Path(sys.executable).parent)) or "grokling"


def grokling(*args, home: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "GROKLING_HOME": str(home)}
    result = subprocess.run([GROKLING, *args], capture_output=True, env=env, timeout=300)
    if check:
        assert result.returncode == 0, result.stderr.decode()
    return result


def test_ask_prints_the_answer_and_stores_the_chat(grokling_home):
    out = grokling("ask", "What is the capital of Japan?", "--temperature", "0", home=grokling_home)
    assert "Tokyo" in out.stdout.decode()
    store = Store()
    [conversation] = store.conversations()
    assert conversation.source == "cli"
    [question, answer] = store.thread(conversation.id)
    assert question.content == "What is the capital of Japan?"
    assert answer.content in out.stdout.decode() and answer.model_version == "embedded/base"

    grokling("ask", "And of France?", "--temperature", "0", "--conversation", str(conversation.id), home=grokling_home)
    assert len(store.thread(conversation.id)) == 4
    assert len(store.conversations()) == 1


def test_correct_records_the_question_the_reply_and_the_correction_then_export_has_them(grokling_home, tmp_path):
    grokling("correct", "--question", "Who founded Zorblax Labs?", "--answer", "Mira Quell founded Zorblax Labs in 2041.",
             "--temperature", "0", home=grokling_home)
    store = Store()
    [conversation] = store.conversations()
    [question, reply] = store.thread(conversation.id)
    assert question.content == "Who founded Zorblax Labs?"
    assert reply.content and reply.correction == "Mira Quell founded Zorblax Labs in 2041."
    store.rate(reply.id, -1)

    out_file = tmp_path / "export.jsonl"
    grokling("export", "--format", "jsonl", "--output", str(out_file), home=grokling_home)
    [line] = out_file.read_text().splitlines()
    exported = json.loads(line)
    assert [m["role"] for m in exported["messages"]] == ["user", "assistant"]
    assert exported["messages"][1]["correction"] == "Mira Quell founded Zorblax Labs in 2041."
    assert exported["messages"][1]["rating"] == -1
    stdout = grokling("export", home=grokling_home).stdout.decode()
    assert json.loads(stdout) == exported


def test_bad_input_is_a_clear_error_and_creates_nothing(grokling_home):
    empty = grokling("ask", "   ", home=grokling_home, check=False)
    assert empty.returncode == 2 and b"empty" in empty.stderr
    unknown = grokling("ask", "hi", "--conversation", "999", home=grokling_home, check=False)
    assert unknown.returncode == 2 and b"no conversation 999" in unknown.stderr
    assert Store().conversations() == []


def test_invalid_utf8_and_control_characters_are_cleaned_and_stored(grokling_home):
    grokling("ask", b"caf\xe9 \x07menu?", "--temperature", "0", home=grokling_home)
    [conversation] = Store().conversations()
    assert Store().thread(conversation.id)[0].content == "caf\ufffd menu?"


def test_a_missing_or_corrupt_model_file_is_named_in_the_error(grokling_home, tmp_path, tiny_llama):
    from learner.models import adding

    mine = tmp_path / "mine.gguf"
    shutil.copy2(adding.add(str(tiny_llama), name="converted").gguf, mine)
    adding.add(str(tiny_llama), gguf=str(mine), name="mine")
    grokling("models", "use", "mine", home=grokling_home)
    mine.unlink()
    missing = grokling("ask", "hi", home=grokling_home, check=False)
    assert missing.returncode == 2 and b"model file not found" in missing.stderr and b"mine.gguf" in missing.stderr
    mine.write_bytes(b"GGUF" + b"\x00" * 64)
    bad = grokling("ask", "hi", home=grokling_home, check=False)
    assert bad.returncode == 2 and b"could not load" in bad.stderr


def test_the_retired_model_path_setting_says_how_to_add_the_model_and_chat_goes_on(grokling_home, tmp_path):
    grokling_home.mkdir(parents=True, exist_ok=True)
    (grokling_home / "settings.json").write_text(json.dumps({"model_path": str(tmp_path / "old.gguf")}))
    result = grokling("ask", "hi", "--temperature", "0", home=grokling_home)
    assert b"'model_path' is retired" in result.stderr and b"grokling models add CHECKPOINT --gguf" in result.stderr


def test_settings_that_are_not_json_are_an_error(grokling_home):
    grokling_home.mkdir(parents=True, exist_ok=True)
    (grokling_home / "settings.json").write_text("{not json")
    result = grokling("ask", "hi", home=grokling_home, check=False)
    assert result.returncode == 2 and b"not valid JSON" in result.stderr, result.stderr


@pytest.mark.parametrize(
    "content, message",
    [('{"temprature": 1}', b"unknown setting 'temprature', ignored"),
     ('{"top_p": "high"}', b"'top_p' must be float, not 'high'; using the default, 0.9")],
)
def test_a_settings_problem_is_reported_with_the_key_and_the_command_runs(grokling_home, content, message):
    grokling_home.mkdir(parents=True, exist_ok=True)
    (grokling_home / "settings.json").write_text(content)
    result = grokling("topics", home=grokling_home, check=False)
    assert result.returncode == 0 and message in result.stderr, result.stderr


def test_version(grokling_home):
    from importlib.metadata import version

    assert grokling("--version", home=grokling_home).stdout.decode().strip() == f"grokling {version('grokling')}"


def test_accept_and_reject_waiting_versions(promote_embedded):
    promote_embedded()
    promote_embedded(make_live=False)
    listed = subprocess.run([GROKLING, "versions"], capture_output=True, text=True).stdout
    assert "v2" in listed and "awaiting approval" in listed
    assert subprocess.run([GROKLING, "accept"], capture_output=True, text=True).stdout.strip() == "v2 is live"
    rejected = subprocess.run([GROKLING, "reject", "v1"], capture_output=True, text=True)
    assert rejected.returncode == 2 and "not a version awaiting approval" in rejected.stderr
    promote_embedded(make_live=False)
    assert subprocess.run([GROKLING, "reject"], capture_output=True, text=True).stdout.strip() == "v3 deleted"
    assert [v.name for v in embedded().lineage.all_versions()] == ["v1", "v2"]


def test_export_all_then_delete_all(grokling_home, tmp_path, promote_embedded):
    import zipfile

    store = Store()
    conversation = store.new_conversation()
    store.add_user_message(conversation, "Remember my tea: oolong")
    store.close()
    promote_embedded()
    exported = subprocess.run([GROKLING, "data", "export", str(tmp_path / "mine.zip")], capture_output=True, text=True)
    assert exported.returncode == 0, exported.stderr
    with zipfile.ZipFile(tmp_path / "mine.zip") as z:
        names = set(z.namelist())
        assert {"grokling.db", "conversations.jsonl", "versions/v1/meta.json", "versions/live.json"} <= names
        assert not any(n.endswith(".gguf") for n in names)
        assert "oolong" in z.read("conversations.jsonl").decode()
    assert subprocess.run([GROKLING, "data", "delete"], capture_output=True).returncode == 2  # needs --yes
    deleted = subprocess.run([GROKLING, "data", "delete", "--yes"], capture_output=True, text=True)
    assert deleted.returncode == 0 and not grokling_home.exists()


def test_an_unusable_data_dir_is_a_clear_error(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("GROKLING_HOME", str(blocker / "grokling"))
    run = subprocess.run([GROKLING, "ask", "hi"], capture_output=True, text=True)
    assert run.returncode == 2 and "cannot keep its data" in run.stderr and "Traceback" not in run.stderr


def test_two_instances_share_the_database_safely(grokling_home):
    # A second app (or the CLI beside the window) is not refused: SQLite in WAL mode lets
    # both write, and learn.lock keeps learning to one cycle at a time.
    runs = [subprocess.Popen([GROKLING, "ask", f"Say the number {i}.", "--temperature", "0"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(3)]
    assert all(run.wait(timeout=300) == 0 for run in runs)
    store = Store()
    assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert len(store.conversations()) == 3
    assert sorted(m.role for c in store.conversations() for m in store.thread(c.id)) == ["assistant"] * 3 + ["user"] * 3
    store.close()


def test_chats_lists_every_chat_and_deletes_one(grokling_home):
    with Store() as store:
        tea = store.new_conversation()
        store.add_user_message(tea, "Remember my tea: oolong")
        store.add_assistant_message(tea, "Noted: oolong.")
        private = store.new_conversation()
        store.add_user_message(private, "My bank is Zorblax Savings")
        store.set_learning_opt_out(private, True)

    listed = json.loads(grokling("chats", "--json", home=grokling_home).stdout)
    assert [(c["id"], c["title"], c["messages"], c["learning"]) for c in listed] == [
        (private, "My bank is Zorblax Savings", 1, False), (tea, "Remember my tea: oolong", 2, True)]
    assert all(c["created_at"] and c["updated_at"] for c in listed)
    table = grokling("chats", home=grokling_home).stdout.decode()
    assert "Remember my tea: oolong" in table and "My bank is Zorblax Savings" in table

    unknown = grokling("chats", "delete", "999", "--yes", home=grokling_home, check=False)
    assert unknown.returncode == 2 and b"no conversation 999" in unknown.stderr
    env = {**os.environ, "GROKLING_HOME": str(grokling_home)}
    declined = subprocess.run([GROKLING, "chats", "delete", str(tea)], input="n\n", capture_output=True, text=True, env=env)
    assert declined.returncode == 1 and f"Delete chat {tea} “Remember my tea: oolong”? [y/N]" in declined.stdout
    confirmed = subprocess.run([GROKLING, "chats", "delete", str(tea)], input="y\n", capture_output=True, text=True, env=env)
    assert confirmed.returncode == 0 and "deleted chat" in confirmed.stdout and "oolong" in confirmed.stdout
    grokling("chats", "delete", str(private), "--yes", home=grokling_home)
    assert Store().conversations() == []
    assert not any(b"oolong" in f.read_bytes() for f in grokling_home.rglob("*") if f.is_file())


def test_models_are_listed_added_used_and_removed_from_the_command_line(grokling_home, tiny_llama):
    [embedded] = json.loads(grokling("models", "--json", home=grokling_home).stdout)
    assert embedded["active"] and embedded["source"] == "embedded" and embedded["versions"] == []
    added = grokling("models", "add", str(tiny_llama), "--name", "tiny llama", home=grokling_home)
    assert "added 'tiny llama' (llama" in added.stdout.decode() and b"converting to GGUF" in added.stderr
    taken = grokling("models", "add", str(tiny_llama), "--name", "Tiny Llama", home=grokling_home, check=False)
    assert taken.returncode == 2 and b"already a model called 'tiny llama'" in taken.stderr
    grokling("models", "use", "tiny llama", home=grokling_home)
    listed = {m["name"]: m for m in json.loads(grokling("models", "--json", home=grokling_home).stdout)}
    assert listed["tiny llama"]["active"] and not listed[embedded["name"]]["active"]
    assert listed["tiny llama"]["architecture"] == "llama" and listed["tiny llama"]["bytes"] > 0
    table = grokling("models", home=grokling_home).stdout.decode()
    assert "* tiny llama" in table and "HF folder, converted by grokling" in table
    refused = grokling("models", "remove", "tiny llama", home=grokling_home, check=False)
    assert refused.returncode == 2 and b"active model: switch to another one first" in refused.stderr
    assert grokling("models", "remove", "embedded", home=grokling_home, check=False).returncode == 2
    unknown = grokling("models", "use", "nothing-like-it", home=grokling_home, check=False)
    assert unknown.returncode == 2 and b"no model 'nothing-like-it'" in unknown.stderr
    grokling("models", "use", "embedded", home=grokling_home)
    assert b"removed 'tiny llama'" in grokling("models", "remove", "tiny llama", home=grokling_home).stdout
    assert [m["id"] for m in json.loads(grokling("models", "--json", home=grokling_home).stdout)] == ["embedded"]
    assert tiny_llama.exists()


def test_a_hub_id_without_a_network_is_refused_and_adds_nothing(grokling_home):
    env = {**os.environ, "GROKLING_HOME": str(grokling_home), "HF_HUB_OFFLINE": "1"}  # no network, even in CI
    result = subprocess.run([GROKLING, "models", "add", "HuggingFaceTB/SmolLM2-360M-Instruct"], capture_output=True,
                            text=True, env=env, timeout=120)
    assert result.returncode == 2
    assert "cannot download HuggingFaceTB/SmolLM2-360M-Instruct: the Hugging Face hub cannot be reached" in result.stderr
    assert [m["id"] for m in json.loads(grokling("models", "--json", home=grokling_home).stdout)] == ["embedded"]
    missing = grokling("models", "add", "./no/such/folder", home=grokling_home, check=False)
    assert missing.returncode == 2 and b"no folder" in missing.stderr
