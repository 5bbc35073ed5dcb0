import shutil
from pathlib import Path

import pytest

from learner import versions
from learner.chat.served import embedded_gguf, live_model
from learner.models import embedded


@pytest.fixture
def make_version(promote_embedded):
    return promote_embedded


def test_promotion_makes_an_immutable_folder_live(make_version):
    assert embedded().lineage.live_version() is None and live_model().version == "base"
    v1 = make_version()
    assert v1.name == "v1" and v1.gguf.stat().st_size == embedded_gguf().stat().st_size
    assert {p.name for p in v1.path.iterdir()} == {"model.gguf", "adapter", "train.jsonl", "meta.json"}
    assert embedded().lineage.live_version().name == "v1"
    assert live_model().path == v1.gguf and live_model().version == "v1"
    assert embedded().lineage.live_pointer()["previous"] == "base"


def test_rollback_goes_to_the_previous_version_then_base(make_version, store):
    make_version()
    make_version()
    assert embedded().lineage.live_version().name == "v2"
    assert embedded().lineage.rollback(store) == "v1"
    assert embedded().lineage.rollback(store) == "base"
    assert live_model().version == "base"
    with pytest.raises(versions.VersionError, match="nothing older"):
        embedded().lineage.rollback(store)
    assert embedded().lineage.rollback(store, "v2") == "v2"
    with pytest.raises(versions.VersionError, match="no version 'v9'"):
        embedded().lineage.rollback(store, "v9")


def test_pruning_keeps_the_newest_and_never_the_live_or_previous(make_version, store):
    for _ in range(3):
        make_version(keep=5)
    embedded().lineage.rollback(store, "v1")  # live v1, previous v3
    make_version(keep=2)  # v4 live, previous v1
    names = [v.name for v in embedded().lineage.all_versions()]
    assert names == ["v1", "v4"]


def test_an_interrupted_promotion_is_ignored_and_cleaned_up(make_version):
    make_version()
    half = embedded().lineage.folder / ".v2.partial"
    half.mkdir()
    (half / "model.gguf").write_bytes(b"GGUF half")
    incomplete = embedded().lineage.folder / "v7"  # renamed but without meta.json: not a version
    incomplete.mkdir()
    assert [v.name for v in embedded().lineage.all_versions()] == ["v1"]
    assert embedded().lineage.live_version().name == "v1"
    assert make_version().name == "v2"
    assert not half.exists()
    shutil.rmtree(incomplete)


def test_a_corrupt_pointer_means_base(make_version):
    make_version()
    (embedded().lineage.folder / "live.json").write_text("{half")
    assert embedded().lineage.live_version() is None and live_model().version == "base"


KILL_AT_NTH_WRITE = """
import os, pathlib, shutil, sys
from learner.chat.served import embedded_gguf
from learner.models import embedded

kill_at, calls = int(sys.argv[1]), [0]

def dying(fn):
    def step(*args, **kwargs):
        result = fn(*args, **kwargs)
        calls[0] += 1
        if calls[0] == kill_at:
            os._exit(137)  # as abrupt as kill -9: no cleanup, no finally blocks
        return result
    return step

os.replace, shutil.copy2, pathlib.Path.rename = dying(os.replace), dying(shutil.copy2), dying(pathlib.Path.rename)
home = pathlib.Path(os.environ["GROKLING_HOME"])
(home / "adapter").mkdir(exist_ok=True)
(home / "adapter" / "adapter_model.safetensors").write_bytes(b"weights")
(home / "dataset").mkdir(exist_ok=True)
(home / "dataset" / "train.jsonl").write_text("{}\\n")
sys.path.insert(0, sys.argv[2])  # the tests folder, for conftest
from conftest import version_record
lineage = embedded().lineage
lineage.promote(embedded_gguf(), home / "adapter", home / "dataset", version_record(previous=lineage.live_name()),
                keep=3)
"""


def test_a_kill_at_any_point_of_promotion_leaves_a_working_live_model(make_version, grokling_home):
    import subprocess
    import sys

    from learner.chat.engine import Engine

    make_version()  # v1 live: the version a killed promotion must not lose
    kill_at, outcomes = 1, []
    while True:
        child = subprocess.run([sys.executable, "-c", KILL_AT_NTH_WRITE, str(kill_at), str(Path(__file__).parent)], capture_output=True, text=True)
        assert child.returncode in (0, 137), child.stderr
        live = live_model()
        assert live.version in {v.name for v in embedded().lineage.all_versions()}  # a complete version, never a partial
        assert all((v.path / "meta.json").exists() and v.gguf.stat().st_size > 0 for v in embedded().lineage.all_versions())
        outcomes.append(live.version)
        if child.returncode == 0:
            break
        kill_at += 1
    assert kill_at >= 4  # copies, the meta write, the rename, the pointer write: each was a kill point
    Engine(live_model(), n_ctx=256).close()  # the live model loads
    newest = make_version()  # and the next promotion works
    assert embedded().lineage.live_version().name == newest.name
    assert not list(embedded().lineage.folder.glob(".v*.partial"))


def test_the_disk_budget_removes_the_oldest_but_never_live_or_rollback(promote_embedded):
    from learner import versions as v

    promote_embedded(keep=10)
    promote_embedded(keep=10)
    size = v.folder_bytes(embedded().lineage.all_versions()[0].path)
    v3 = promote_embedded(keep=10)
    embedded().lineage.prune(keep=10, budget_bytes=int(size * 2.5))
    assert [x.name for x in embedded().lineage.all_versions()] == ["v2", "v3"] and v3.name == "v3"
    embedded().lineage.prune(keep=10, budget_bytes=1)  # over any budget: live (v3) and rollback (v2) still stay
    assert [x.name for x in embedded().lineage.all_versions()] == ["v2", "v3"]


def test_every_file_of_a_version_is_on_disk_before_the_pointer_moves(promote_embedded, monkeypatch):
    import os

    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append(("sync", os.readlink(f"/proc/self/fd/{fd}"))),
                                                 real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda src, dst: (events.append(("replace", str(dst))), real_replace(src, dst))[1])
    version = promote_embedded()
    pointer_at = next(i for i, (kind, path) in enumerate(events) if kind == "replace" and path.endswith("live.json"))
    synced_before = {path for kind, path in events[:pointer_at] if kind == "sync"}
    staging = str(version.path.with_name(f".{version.name}.partial"))
    for f in version.path.rglob("*"):
        assert str(f).replace(str(version.path), staging) in synced_before, f  # synced in place, then renamed
    assert str(embedded().lineage.folder) in synced_before  # the rename itself


def test_a_promotion_never_goes_live_over_a_change_made_during_the_cycle(promote_embedded, tmp_path):
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from conftest import version_record

    promote_embedded()  # v1 live; a cycle that started from base must not replace it
    (tmp_path / "adapter").mkdir(exist_ok=True)
    with pytest.raises(versions.VersionError, match="live version changed during the cycle"):
        embedded().lineage.promote(embedded_gguf(), tmp_path / "adapter", tmp_path / "dataset", version_record(previous="base"), 3)
    assert embedded().lineage.live_pointer()["version"] == "v1" and [v.name for v in embedded().lineage.all_versions()] == ["v1", "v2"]


def test_rollback_is_recorded_waits_for_a_running_cycle_and_is_not_undone_by_the_scheduler(promote_embedded, store):
    from learner.learning import schedule

    promote_embedded()
    conversation = store.new_conversation()
    store.add_user_message(conversation, "Who founded Zorblax Labs?")
    store.correct(store.add_assistant_message(conversation, "Nobody."), "Mira Quell founded it.")
    assert schedule.new_corrections(store) == 1
    with versions.learning_lock():
        with pytest.raises(versions.VersionError, match="a learning cycle is running"):
            embedded().lineage.rollback(store)
    assert embedded().lineage.rollback(store) == "base"
    assert schedule.new_corrections(store) == 0  # what was rolled back is not relearned at once
    store.correct(store.add_assistant_message(conversation, "Hm."), "Later feedback.")
    assert schedule.new_corrections(store) == 1
