"""`grokling export-model`: the live GGUF loads in llama.cpp and answers, and the Modelfile reads back as
Ollama's own parser reads it; `--ollama` runs `ollama create` (a fake one on PATH that records its call)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from learner import models, paths
from learner.chat.engine import Engine, Sampling
from learner.chat.served import ModelChoice, embedded_gguf, embedded_model
from learner.files import file_sha256
from learner.model_export import OLLAMA_CHATML_TEMPLATE, export_model, exported_name, modelfile, modelfile_value
from learner.models import adding
from learner.settings import Settings

GROKLING = str(Path(sys.executable).with_name("grokling"))


def parse_modelfile(text: str) -> list[tuple[str, str]]:
    """(command, value) pairs as Ollama reads a Modelfile: a port of ParseFile in ollama/parser/parser.go,
    state for state, so that what passes here is what `ollama create` accepts."""
    commands, state, buffer, name = [], "nil", "", ""

    def unquote(s: str) -> tuple[str, bool]:
        if s[:3] == '"""':
            return (s[3:-3], True) if len(s) >= 6 and s[-3:] == '"""' else ("", False)
        if s[:1] == '"':
            return (s[1:-1], True) if len(s) >= 2 and s[-1] == '"' else ("", False)
        return s, True

    def next_state(r: str) -> tuple[str, str]:
        space, newline = r in " \t", r in "\r\n"
        if state == "nil":
            return ("comment", "") if r == "#" else ("nil", "") if space or newline else ("name", r)
        if state == "name":
            if r.isascii() and r.isalpha():
                return "name", r
            if space:
                return "value", ""
            raise ValueError(f"invalid command at {r!r}")
        if state == "parameter":
            if r.isascii() and (r.isalnum() or r == "_"):
                return "parameter", r
            if space:
                return "value", ""
            raise ValueError(f"unexpected {r!r} in a parameter name")
        if state == "value":
            return ("nil", r) if space or newline else ("value", r)
        return ("nil", "") if newline else ("comment", "")  # comment

    for r in text:
        following, r = next_state(r)
        if following != state:
            if state == "name":
                assert buffer.lower() in ("from", "template", "system", "parameter", "license", "adapter"), buffer
                name = {"from": "model"}.get(buffer.lower(), buffer.lower())
                following = "parameter" if name == "parameter" else following
            elif state == "parameter":
                name = buffer
            elif state == "value":
                value, ok = unquote(buffer.strip())
                if not ok or r in " \t":
                    buffer += r
                    continue
                commands.append((name, value))
            buffer, state = "", following
        if r.isprintable():
            buffer += r
    if state == "value":
        value, ok = unquote(buffer.strip())
        assert ok, f"unterminated value: {buffer!r}"
        commands.append((name, value))
    assert state in ("nil", "comment", "value"), f"the file ends inside a {state}"
    assert any(command == "model" for command, _ in commands), "no FROM line"
    return commands


SYSTEM_PROMPT = 'You are "Grok".\nAnswer in one sentence.\n\nNever say """ at the start of a line.'


def test_export_model_writes_the_live_gguf_which_llama_cpp_loads_and_a_modelfile_ollama_reads(
        grokling_home, promote_embedded, tmp_path):
    promote_embedded()  # v1 is live
    grokling_home.mkdir(parents=True, exist_ok=True)
    paths.settings_path().write_text(json.dumps({"system_prompt": SYSTEM_PROMPT, "temperature": 0.3, "n_ctx": 2048}))
    folder = tmp_path / "grokling-model"
    done = subprocess.run([GROKLING, "export-model", str(folder)], capture_output=True, text=True,
                          env={**os.environ, "GROKLING_HOME": str(grokling_home)}, timeout=120)
    assert done.returncode == 0, done.stderr
    name = "grokling-embedded-v1.gguf"  # the active model's id and its live version
    assert sorted(p.name for p in folder.iterdir()) == ["Modelfile", "README.txt", name]
    gguf = folder / name
    assert file_sha256(gguf) == file_sha256(models.embedded().lineage.live_version().gguf)

    assert parse_modelfile((folder / "Modelfile").read_text()) == [
        ("model", f"./{name}"), ("template", OLLAMA_CHATML_TEMPLATE), ("system", SYSTEM_PROMPT),
        ("temperature", "0.3"), ("top_p", "0.9"), ("top_k", "40"), ("repeat_penalty", "1.1"), ("num_ctx", "2048"),
        ("num_predict", "512"), ("stop", "<|im_start|>"), ("stop", "<|im_end|>")]
    readme = (folder / "README.txt").read_text()
    assert f"lms import {name}" in readme and "ollama create grokling -f Modelfile" in readme

    engine = Engine(ModelChoice(path=gguf, version="exported"), n_ctx=512)
    try:
        answer = "".join(engine.chat([{"role": "user", "content": "What is the capital of Japan?"}],
                                     Sampling(temperature=0.0, max_tokens=16)))
    finally:
        engine.close()
    assert answer.strip() and engine.last_stats.completion_tokens > 0


def test_export_model_exports_the_active_models_live_version_named_after_it(grokling_home, smollm2_checkpoint,
                                                                             promote_embedded, tmp_path):
    mine = adding.add(str(smollm2_checkpoint), gguf=str(embedded_gguf()), name="my SmolLM2")
    promote_embedded()  # the embedded model's v1: not what is exported once another model is active
    promote_embedded(model=mine)
    models.use("my SmolLM2")
    exported = export_model(tmp_path / "out", Settings())
    assert (exported.model.key, exported.gguf.name) == ("my-smollm2/v1", "grokling-my-smollm2-v1.gguf")
    assert exported_name(exported.model) == exported.gguf.name
    assert file_sha256(exported.gguf) == file_sha256(mine.lineage.live_version().gguf)
    assert "my SmolLM2, version v1" in (exported.folder / "README.txt").read_text()
    assert (exported.folder / "Modelfile").read_text().startswith("# Made by grokling ")


def test_the_ollama_template_renders_chats_as_the_ggufs_own_template_does(embedded_engine):
    # No Go here to run it: spell out, for one chat, what Ollama's text/template makes of the template
    # (each action replaced by its value), and compare with llama.cpp's rendering through the GGUF's template.
    chat = [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Capital of Japan?"}]
    system_block, rest = OLLAMA_CHATML_TEMPLATE.split("{{ end }}\n{{- range .Messages }}")
    per_message, ending = rest.split("{{ end }}{{ end }}")
    per_message = per_message.removeprefix('{{ if ne .Role "system" }}')
    rendered = system_block.removeprefix("{{- if .System }}").replace("{{ .System }}", chat[0]["content"])
    rendered += "".join(per_message.replace("{{ .Role }}", m["role"]).replace("{{ .Content }}", m["content"])
                        for m in chat[1:])
    assert rendered + ending == embedded_engine.format_chat(chat)


@pytest.mark.parametrize("text", [
    "plain", 'say "hi"', '""starts with two quotes', "two\nlines", 'a """ inside a line\nand more', 'ends in a quote"',
    "  spaced  ", "blank\n\nline between", 'the last line ends in three quotes\n"""', "tab\tinside", "",
])
def test_values_read_back_from_the_modelfile_unchanged(text):
    assert parse_modelfile(f"FROM ./m.gguf\nSYSTEM {modelfile_value(text)}\nPARAMETER top_k 40\n") == [
        ("model", "./m.gguf"), ("system", text), ("top_k", "40")]


def test_a_value_ollama_cannot_hold_is_refused_with_its_line_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match="three double quotes"):
        modelfile_value('first line ends """\nsecond')
    with pytest.raises(ValueError, match="'first line ends \"\"\"'"):
        export_model(tmp_path / "out", Settings(system_prompt='first line ends """\nsecond'))
    assert not (tmp_path / "out").exists()


def test_a_chat_template_that_is_not_chatml_is_left_to_ollama():
    llama2 = "{% for message in messages %}[INST] {{ message['content'] }} [/INST]{% endfor %}"
    text = modelfile("m.gguf", embedded_model(), Settings(), llama2, "</s>")
    commands = parse_modelfile(text)
    assert "template" not in dict(commands) and [v for c, v in commands if c == "stop"] == ["</s>"]
    assert "# No TEMPLATE" in text


def test_ollama_create_runs_on_the_folder_and_its_absence_or_failure_is_clear(grokling_home, tmp_path):
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    record = tmp_path / "ollama-call.txt"
    ollama = fake_bin / "ollama"
    ollama.write_text('#!/bin/sh\n{ printf "%s\\n" "$@"; pwd; printf "%s\\n" *; } > "$RECORD"\nexit "$STATUS"\n')
    ollama.chmod(0o755)
    folder = tmp_path / "out"

    def export(path: str, status: int = 0) -> subprocess.CompletedProcess:
        env = {**os.environ, "GROKLING_HOME": str(grokling_home), "PATH": path, "RECORD": str(record), "LC_ALL": "C",
               "STATUS": str(status)}
        return subprocess.run([GROKLING, "export-model", str(folder), "--ollama", "my-grokling"], env=env,
                              capture_output=True, text=True, timeout=120)

    done = export(str(fake_bin))
    assert done.returncode == 0, done.stderr
    assert record.read_text().splitlines() == ["create", "my-grokling", "-f", "Modelfile", str(folder),
                                               "Modelfile", "README.txt",
                                               "grokling-embedded-base.gguf"]
    assert "ollama run my-grokling" in done.stdout

    failed = export(str(fake_bin), status=1)
    assert failed.returncode == 1 and "`ollama create my-grokling` failed" in failed.stderr

    missing = export(str(tmp_path / "empty"))
    assert missing.returncode == 1 and "ollama is not installed" in missing.stderr
    assert (folder / "Modelfile").exists() and "Traceback" not in missing.stderr
