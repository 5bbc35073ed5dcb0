"""The models registry: the embedded model always there, models added from a checkpoint (converted) or a GGUF
with its checkpoint, what is refused and why (nothing changes), switching, removing, and each model's own
lineage of versions."""

import json
import shutil
from pathlib import Path

import pytest

from learner import models, paths
from learner.chat.engine import Engine
from learner.chat.served import embedded_gguf, live_model
from learner.files import file_sha256
from learner.models import ModelError, adding


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` with its hash: to show something was left exactly as it was."""
    return {str(f.relative_to(folder)): file_sha256(f) for f in sorted(folder.rglob("*")) if f.is_file()}


def registry() -> tuple[list[str], dict]:
    return [m.id for m in models.all_models()], models.active_pointer()


def test_the_embedded_model_is_always_there_named_by_its_gguf_and_keeps_its_old_versions_folder(grokling_home):
    [model] = models.all_models()
    facts = models.gguf_facts(embedded_gguf())
    assert (model.id, model.source, model.name, model.architecture) == ("embedded", "embedded", facts.name, "llama")
    assert "SmolLM2" not in model.name  # the GGUF's general.name, whatever it says, never a hard-coded one
    assert models.active() == model and live_model() == model.base()
    assert model.lineage.root == grokling_home / "versions"  # where every data dir before models had them


def test_a_checkpoint_folder_is_converted_and_quantized_and_the_users_folder_is_left_alone(grokling_home, tiny_llama):
    before = snapshot(tiny_llama)
    progress = []
    model = adding.add(str(tiny_llama), name="tiny llama", quant="Q8_0",
                       progress=lambda message, percent: progress.append(message))
    assert (model.id, model.source, model.architecture, model.quant) == ("tiny-llama", "folder", "llama", "Q8_0")
    assert model.gguf == grokling_home / "models" / "tiny-llama" / "model.gguf"
    assert model.checkpoint == tiny_llama and snapshot(tiny_llama) == before
    assert models.gguf_facts(model.gguf).name == "tiny llama"  # the converter wrote the name given
    assert any("converting" in m for m in progress) and progress[-1] == "added tiny llama"
    assert models.active().id == "embedded"  # added, not yet used
    assert models.find("TINY LLAMA") == models.find("tiny-llama") == model


def test_a_gguf_with_its_checkpoint_is_served_as_it_is(grokling_home, smollm2_checkpoint):
    with pytest.raises(ModelError, match="already a model called"):  # its GGUF name is the embedded model's
        adding.add(str(smollm2_checkpoint), gguf=str(embedded_gguf()))
    model = adding.add(str(smollm2_checkpoint), gguf=str(embedded_gguf()), name="my SmolLM2")
    assert (model.source, model.gguf, model.checkpoint, model.quant) == ("gguf", embedded_gguf(),
                                                                          smollm2_checkpoint, None)
    assert not (grokling_home / "models" / model.id / "model.gguf").exists()  # nothing converted, nothing copied


def test_switching_serves_the_other_model_and_each_keeps_its_versions_and_live_pointer(
        grokling_home, tiny_llama, promote_embedded, store):
    tiny = adding.add(str(tiny_llama), name="tiny")
    promote_embedded()  # the embedded model's v1, live
    models.use("tiny")
    assert live_model() == tiny.base() and live_model().key == "tiny/base"
    promote_embedded(model=tiny)
    promote_embedded(model=tiny)
    assert live_model().key == "tiny/v2" and live_model().path == tiny.lineage.root / "v2" / "model.gguf"
    assert tiny.lineage.rollback(store) == "v1"
    models.use("embedded")
    assert live_model().key == "embedded/v1"
    assert [v.name for v in models.embedded().lineage.all_versions()] == ["v1"]
    models.use("tiny")
    assert live_model().key == "tiny/v1" and [v.name for v in tiny.lineage.all_versions()] == ["v1", "v2"]
    verdicts = store.query("SELECT live_version, code FROM learning_verdicts")
    assert verdicts == [{"live_version": "tiny/v1", "code": 100}]  # the rollback names the model
    engine = Engine(live_model(), n_ctx=256)
    assert engine.model.model == "tiny"
    engine.close()


def test_corrections_are_new_to_a_model_that_has_not_learned_them(grokling_home, tiny_llama, store):
    from learner.learning import schedule

    conversation = store.new_conversation()
    store.add_user_message(conversation, "Who founded Zorblax Labs?")
    store.correct(store.add_assistant_message(conversation, "Nobody."), "Mira Quell founded it.")
    models.embedded().lineage.rollback(store, "base")  # judged against the embedded model: not new to it
    assert schedule.new_corrections(store) == 0
    adding.add(str(tiny_llama), name="tiny")
    models.use("tiny")
    assert schedule.new_corrections(store) == 1  # the new model has learned nothing yet


def test_removing_deletes_what_grokling_made_never_the_users_files_the_embedded_or_the_active_model(
        grokling_home, tiny_llama, promote_embedded):
    tiny = adding.add(str(tiny_llama), name="tiny")
    promote_embedded(model=tiny)
    with pytest.raises(ModelError, match="cannot be removed"):
        models.remove("embedded")
    models.use("tiny")
    with pytest.raises(ModelError, match="active model: switch to another one first"):
        models.remove("tiny")
    models.use("embedded")
    before = snapshot(tiny_llama)
    assert models.remove("tiny") == tiny
    assert not tiny.folder.exists() and snapshot(tiny_llama) == before
    assert [m.id for m in models.all_models()] == ["embedded"]


def test_the_active_model_gone_means_the_embedded_one(grokling_home, tiny_llama):
    adding.add(str(tiny_llama), name="tiny")
    models.use("tiny")
    shutil.rmtree(grokling_home / "models" / "tiny")  # by hand, behind grokling's back
    assert models.active().id == "embedded" and live_model() == models.embedded().base()


def damaged(tiny_llama: Path, tmp_path: Path, damage) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(tiny_llama, copy)
    damage(copy)
    return copy


def truncate(folder: Path) -> None:
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1000])


def rename_architecture(folder: Path) -> None:
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "architectures": ["ZorblaxForCausalLM"]}))


@pytest.mark.parametrize("damage, reason", [
    (lambda f: shutil.rmtree(f), "no folder"),
    (lambda f: (f / "config.json").unlink(), "no config.json: it is not a Hugging Face checkpoint folder"),
    (lambda f: (f / "config.json").write_text("{half"), "config.json is damaged"),
    (lambda f: (f / "tokenizer.json").unlink(), "has no tokenizer"),
    (lambda f: (f / "model.safetensors").unlink(), r"has no weights \(\*.safetensors\)"),
    (truncate, "model.safetensors is truncated or damaged"),
    (rename_architecture, "ZorblaxForCausalLM.*the converter knows no such architecture"),
])
def test_a_missing_damaged_or_unconvertible_checkpoint_is_refused_with_the_reason_and_changes_nothing(
        grokling_home, tiny_llama, tmp_path, damage, reason):
    source = damaged(tiny_llama, tmp_path, damage)
    before = registry()
    with pytest.raises(ModelError, match=reason):
        adding.add(str(source), name="broken")
    assert registry() == before
    assert [p.name for p in (grokling_home / "models").iterdir()] == [".adding.lock"]  # no partial left


def test_a_tokenizer_the_converter_does_not_know_is_refused(grokling_home, smollm2_checkpoint, tmp_path):
    from tiny_models import build

    # transformers gives a Qwen2 checkpoint its own tokenizer class, whose pre-tokenizer llama.cpp does not know.
    qwen2 = build("Qwen2ForCausalLM", tmp_path / "qwen2", smollm2_checkpoint)
    with pytest.raises(ModelError, match="pre-tokenizer is not one llama.cpp knows"):
        adding.add(str(qwen2))
    assert [m.id for m in models.all_models()] == ["embedded"]


def test_a_gguf_that_did_not_come_from_the_checkpoint_is_refused(grokling_home, smollm2_checkpoint, tiny_llama,
                                                                 tmp_path):
    from tiny_models import build

    tiny = adding.add(str(tiny_llama), name="tiny")
    with pytest.raises(ModelError, match="has 2 layers of width 64 but .* has 30 of width 576"):
        adding.add(str(smollm2_checkpoint), gguf=str(tiny.gguf), name="mismatched")
    qwen3 = adding.add(str(build("Qwen3ForCausalLM", tmp_path / "qwen3", smollm2_checkpoint)), name="qwen3")
    with pytest.raises(ModelError, match="is a 'qwen3' model but .* converts to 'llama'"):
        adding.add(str(tiny_llama), gguf=str(qwen3.gguf), name="mismatched")
    wider = build("LlamaForCausalLM", tmp_path / "wider-vocab", smollm2_checkpoint, vocab_size=49280)
    wider_model = adding.add(str(wider), name="wider")
    with pytest.raises(ModelError, match="vocabulary of 49280 tokens but .* has 49152"):
        adding.add(str(tiny_llama), gguf=str(wider_model.gguf), name="mismatched")
    with pytest.raises(ModelError, match="not a GGUF file"):
        adding.add(str(tiny_llama), gguf=str(tiny_llama / "config.json"), name="mismatched")
    assert [m.name for m in models.all_models()][1:] == ["tiny", "qwen3", "wider"]


def test_an_older_settings_files_model_path_with_its_base_model_becomes_a_model(grokling_home, smollm2_checkpoint):
    grokling_home.mkdir(parents=True, exist_ok=True)
    paths.settings_path().write_text(json.dumps({"model_path": str(embedded_gguf()),
                                                 "base_model": str(smollm2_checkpoint), "temperature": 0.3}))
    with pytest.raises(ModelError, match="already a model called"):  # as adopting it would try first
        adding.add(str(smollm2_checkpoint), gguf=str(embedded_gguf()))
    note = adding.adopt_retired_settings()
    assert "could not become a model" in note and "already a model called" in note
    assert json.loads(paths.settings_path().read_text())["model_path"]  # left for the user, with the reason


def test_a_lone_retired_setting_is_not_adopted(grokling_home, tiny_llama):
    grokling_home.mkdir(parents=True, exist_ok=True)
    paths.settings_path().write_text(json.dumps({"base_model": str(tiny_llama)}))
    assert adding.adopt_retired_settings() is None and [m.id for m in models.all_models()] == ["embedded"]


def test_model_path_with_base_model_is_adopted_and_leaves_the_file(grokling_home, tiny_llama):
    tiny_gguf = adding.add(str(tiny_llama), name="tiny").gguf
    kept = tiny_gguf.parent.parent.parent / "kept.gguf"
    shutil.copy2(tiny_gguf, kept)
    models.remove("tiny")
    paths.settings_path().write_text(json.dumps({"model_path": str(kept), "base_model": str(tiny_llama),
                                                 "temperature": 0.3}))
    note = adding.adopt_retired_settings()
    model = models.active()
    assert (model.source, model.gguf, model.checkpoint) == ("gguf", kept, tiny_llama) and model.name in note
    assert json.loads(paths.settings_path().read_text()) == {"temperature": 0.3}
