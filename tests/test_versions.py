import shutil

import pytest

from learner import versions
from learner.models import embedded_gguf, live_model
from learner.settings import Settings


@pytest.fixture
def make_version(promote_embedded):
    return promote_embedded


def test_promotion_makes_an_immutable_folder_live(make_version):
    assert versions.live_version() is None and live_model(Settings()).version == "base"
    v1 = make_version()
    assert v1.name == "v1" and v1.gguf.stat().st_size == embedded_gguf().stat().st_size
    assert {p.name for p in v1.path.iterdir()} == {"model.gguf", "adapter", "train.jsonl", "meta.json"}
    assert versions.live_version().name == "v1"
    assert live_model(Settings()).path == v1.gguf and live_model(Settings()).version == "v1"
    assert versions.live_pointer()["previous"] == "base"


def test_rollback_goes_to_the_previous_version_then_base(make_version):
    make_version()
    make_version()
    assert versions.live_version().name == "v2"
    assert versions.rollback() == "v1"
    assert versions.rollback() == "base"
    assert live_model(Settings()).version == "base"
    with pytest.raises(versions.VersionError, match="nothing older"):
        versions.rollback()
    assert versions.rollback("v2") == "v2"
    with pytest.raises(versions.VersionError, match="no version 'v9'"):
        versions.rollback("v9")


def test_pruning_keeps_the_newest_and_never_the_live_or_previous(make_version):
    for _ in range(3):
        make_version(keep=5)
    versions.rollback("v1")  # live v1, previous v3
    make_version(keep=2)  # v4 live, previous v1
    names = [v.name for v in versions.all_versions()]
    assert names == ["v1", "v4"]


def test_an_interrupted_promotion_is_ignored_and_cleaned_up(make_version):
    make_version()
    half = versions.versions_dir() / ".v2.partial"
    half.mkdir()
    (half / "model.gguf").write_bytes(b"GGUF half")
    incomplete = versions.versions_dir() / "v7"  # renamed but without meta.json: not a version
    incomplete.mkdir()
    assert [v.name for v in versions.all_versions()] == ["v1"]
    assert versions.live_version().name == "v1"
    assert make_version().name == "v2"
    assert not half.exists()
    shutil.rmtree(incomplete)


def test_a_corrupt_pointer_means_base(make_version):
    make_version()
    (versions.versions_dir() / "live.json").write_text("{half")
    assert versions.live_version() is None and live_model(Settings()).version == "base"
