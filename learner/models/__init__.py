"""The models the user chats with and teaches: the embedded default, and those they added.

    models/active.json         {"model": "<id>", "previous": "<id>", "changed_at": ...}: the model served
    models/<id>/model.json     what the model is (Model): name, source, checkpoint, GGUF, architecture
    models/<id>/model.gguf     the GGUF grokling converted from the checkpoint (sources "folder" and "hub")
    models/<id>/checkpoint/    the checkpoint downloaded from the hub (source "hub")
    models/<id>/versions/      its lineage: the versions trained from it (learner.versions.Lineage)
    versions/                  the embedded model's lineage

The embedded model is always there and never written down: its GGUF comes with the app,
its checkpoint is derived from that GGUF on first training (learner.learning.checkpoint).
Its lineage stays in `versions/`, where every data dir made before models existed has it:
nothing is moved, so there is no migration to interrupt, and an older grokling still finds
its versions. A checkpoint folder or GGUF the user added stays where they keep it (grokling
never copies or deletes it); what grokling made for a model (a converted GGUF, a download,
its versions) is in the model's folder and goes with it.

Served is the active model's live version (`served()`); switching models only moves
active.json, so every model keeps its versions and its live pointer. Adding a model (the
checks, the download, the conversion) is learner.models.adding.
"""

import ctypes
import functools
import json
import re
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from learner import paths
from learner.chat.engine import quiet_llama_cpp, without_amx_kernels
from learner.chat.served import ModelChoice, ModelNotFoundError, embedded_gguf
from learner.files import atomic_write_text, fsync_dir, read_json
from learner.versions import BASE, Lineage, user_change

EMBEDDED = "embedded"
"""The embedded model's id (its name comes from its GGUF)."""

FOLDER, HUB, GGUF = "folder", "hub", "gguf"
SOURCES = {EMBEDDED: "comes with grokling", FOLDER: "HF folder, converted by grokling",
           HUB: "HF hub, downloaded and converted by grokling", GGUF: "GGUF with its HF checkpoint"}
"""How a model was added, as `grokling models` says it."""

RECORD = "model.json"


class ModelError(ValueError):
    """A model cannot be added, used or removed: the message says why, and nothing changed."""


@dataclass(frozen=True)
class Model:
    id: str
    """Its folder's name and how verdicts and replies name it ("<id>/<version>")."""
    name: str
    """What the window and `grokling models` call it: the name given, else the GGUF's general.name."""
    source: str
    """EMBEDDED, FOLDER or HUB (an HF checkpoint grokling converted), GGUF (a GGUF and its checkpoint)."""
    gguf: Path
    """The GGUF its base is served from."""
    checkpoint: Path | None
    """The HF checkpoint training starts from; None for the embedded model (derived from its GGUF)."""
    architecture: str
    """The GGUF's architecture (general.architecture: llama, qwen3, …)."""
    origin: str = ""
    """What the user gave: the folder, the hub id, or the GGUF file."""
    revision: str | None = None
    """The hub commit a download is pinned to."""
    quant: str | None = None
    """The quantization grokling converted it to (None: the GGUF as it came)."""
    parameters: int | None = None
    added_at: float | None = None

    @property
    def folder(self) -> Path:
        """Where grokling keeps what it made for an added model."""
        return models_dir() / self.id

    @property
    def lineage(self) -> Lineage:
        if self.id == EMBEDDED:  # where it was before there were models (see the module's docstring)
            return Lineage(self.id, paths.data_dir() / "versions")
        return Lineage(self.id, self.folder / "versions")

    def base(self) -> ModelChoice:
        return ModelChoice(path=self.gguf, version=BASE, name=self.name, model=self.id)

    def served(self) -> ModelChoice:
        """Its live learned version, else its base."""
        version = self.lineage.live_version()
        if version is None:
            return self.base()
        return ModelChoice(path=version.gguf, version=version.name, name=self.name, model=self.id)

    def size_bytes(self) -> int:
        return self.gguf.stat().st_size if self.gguf.exists() else 0

    def to_json(self) -> dict:
        record = asdict(self)
        record["gguf"] = str(self.gguf)
        record["checkpoint"] = str(self.checkpoint) if self.checkpoint else None
        return record

    @classmethod
    def from_json(cls, record: dict) -> "Model":
        fields = {k: v for k, v in record.items() if k in cls.__dataclass_fields__}
        return cls(**{**fields, "gguf": Path(record["gguf"]),
                      "checkpoint": Path(record["checkpoint"]) if record.get("checkpoint") else None})


def models_dir() -> Path:
    path = paths.data_dir() / "models"
    path.mkdir(exist_ok=True)
    return path


# -- what a GGUF says about itself --------------------------------------------------------------

@dataclass(frozen=True)
class GgufFacts:
    name: str
    architecture: str
    vocab_size: int
    parameters: int
    layers: int
    """Transformer blocks, and the width of the hidden state (0 where only the vocabulary was read)."""
    width: int


def gguf_facts(path: Path, load_tensors: bool = False) -> GgufFacts:
    """Its general.name, architecture, vocabulary size and parameter count, as llama.cpp reads them.

    With `load_tensors`, llama.cpp loads the whole model (memory-mapped, no context), which is
    what proves it can serve it: an architecture it does not know, or a tensor it expects and
    does not find, fails here. Raises ModelError with the reason."""
    import llama_cpp

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"no GGUF file {path}")
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise ModelError(f"{path} is not a GGUF file")
    without_amx_kernels()
    params = llama_cpp.llama_model_default_params()
    params.vocab_only = not load_tensors
    params.n_gpu_layers = 0
    with quiet_llama_cpp():
        model = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
    if not model:
        raise ModelError(f"llama.cpp cannot load {path.name}: {_why_unloadable(path)}")
    try:
        buffer = ctypes.create_string_buffer(1024)

        def meta(key: str) -> str:
            n = llama_cpp.llama_model_meta_val_str(model, key.encode(), buffer, len(buffer))
            return buffer.value.decode("utf-8", "replace") if n >= 0 else ""

        return GgufFacts(name=meta("general.name"), architecture=meta("general.architecture"),
                         vocab_size=llama_cpp.llama_vocab_n_tokens(llama_cpp.llama_model_get_vocab(model)),
                         parameters=llama_cpp.llama_model_n_params(model),
                         layers=llama_cpp.llama_model_n_layer(model) if load_tensors else 0,
                         width=llama_cpp.llama_model_n_embd(model) if load_tensors else 0)
    finally:
        llama_cpp.llama_model_free(model)


def _why_unloadable(path: Path) -> str:
    """llama.cpp refused a GGUF: say what it is, read with the gguf package (slow, so only on failure)."""
    from gguf import GGUFReader

    try:
        fields = GGUFReader(path).fields
        architecture = fields["general.architecture"].contents()
    except Exception as e:  # a file too damaged to parse: that is the reason
        return f"the file is damaged ({type(e).__name__}: {e})"
    return (f"its architecture {architecture!r} is not one this llama.cpp build supports, "
            "or the file is incomplete")


# -- the registry -------------------------------------------------------------------------------

@functools.cache
def _embedded_facts(path: Path, mtime: float) -> GgufFacts:
    return gguf_facts(path)


def embedded() -> Model:
    """The model that comes with the app: always there."""
    path = embedded_gguf()
    facts = _embedded_facts(path, path.stat().st_mtime)
    return Model(id=EMBEDDED, name=facts.name or path.stem, source=EMBEDDED, gguf=path, checkpoint=None,
                 architecture=facts.architecture, origin=str(path), parameters=facts.parameters)


def added() -> list[Model]:
    """The models the user added, oldest first (a folder being assembled or removed is hidden: .<id>.*)."""
    found = []
    for folder in models_dir().iterdir():
        if folder.is_dir() and not folder.name.startswith(".") and (record := read_json(folder / RECORD)):
            found.append(Model.from_json(record))
    return sorted(found, key=lambda m: (m.added_at or 0, m.id))


def all_models() -> list[Model]:
    return [embedded(), *added()]


def find(name: str) -> Model:
    """A model by its name or id, in any case."""
    wanted = name.strip().casefold()
    for model in all_models():
        if wanted in (model.name.casefold(), model.id):
            return model
    known = ", ".join(repr(m.name) for m in all_models())
    raise ModelError(f"no model {name!r}; the models are {known} (grokling models)")


def _active_file() -> Path:
    return models_dir() / "active.json"


def active() -> Model:
    """The model served and taught: the one last chosen, else the embedded model (also when the chosen
    one was removed)."""
    chosen = read_json(_active_file()) or {}
    model_id = chosen.get("model", EMBEDDED)
    if model_id != EMBEDDED:
        record = read_json(models_dir() / str(model_id) / RECORD)
        if record is not None:
            return Model.from_json(record)
    return embedded()


def active_pointer() -> dict:
    """active.json as it is now: what a window compares to notice a switch made elsewhere."""
    return read_json(_active_file()) or {"model": EMBEDDED}


def use(name: str) -> Model:
    """Serve and teach `name` from now on. Its versions and every other model's stay as they are."""
    model = find(name)
    if not model.gguf.exists():
        raise ModelError(f"{model.name}'s GGUF {model.gguf} is gone: add the model again, or remove it")
    atomic_write_text(_active_file(), json.dumps({"model": model.id, "previous": active().id,
                                                  "changed_at": time.time()}))
    return model


def remove(name: str) -> Model:
    """Delete a model and everything grokling made for it (its versions, its converted GGUF, its download);
    a folder or GGUF of the user's own stays. Never the embedded model, nor the active one: switch first."""
    model = find(name)
    if model.id == EMBEDDED:
        raise ModelError("the embedded model comes with grokling and cannot be removed")
    if active().id == model.id:
        raise ModelError(f"{model.name!r} is the active model: switch to another one first "
                         "(grokling models use NAME), then remove it")
    with user_change():
        trash = models_dir() / f".{model.id}.removing"
        model.folder.rename(trash)  # gone from the list at once, whole
        fsync_dir(models_dir())
        shutil.rmtree(trash)
    return model


def install(staging: Path, model: Model) -> Model:
    """Move a model assembled in `staging` (a hidden folder in models/) into place under its id: the
    record is written last before the rename, so a model is listed whole or not at all."""
    from learner.files import fsync_tree

    atomic_write_text(staging / RECORD, json.dumps(model.to_json(), indent=2))
    fsync_tree(staging)
    target = models_dir() / model.id
    if target.exists():
        raise ModelError(f"a model {model.id!r} appeared meanwhile; nothing was added")
    staging.rename(target)
    fsync_dir(models_dir())
    return model


def new_id(name: str) -> str:
    """A folder name for a model called `name`: lowercase letters, digits and dashes, not taken."""
    base = re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-")[:40] or "model"
    taken = {m.id for m in all_models()} | {p.name.lstrip(".").split(".")[0] for p in models_dir().iterdir()}
    candidate, n = base, 2
    while candidate in taken or candidate == EMBEDDED:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def check_name_free(name: str) -> str:
    """The name, stripped, if no model has it (or it as an id)."""
    name = name.strip()
    if not name:
        raise ModelError("a model needs a name")
    for model in all_models():
        if name.casefold() in (model.name.casefold(), model.id):
            raise ModelError(f"there is already a model called {model.name!r}: choose another name (--name)")
    return name


def checkpoint_of(model: Model) -> Path | None:
    """The checkpoint folder training starts from, if it is there (the embedded model's is derived on
    demand: None)."""
    if model.checkpoint is None:
        return None
    if not (model.checkpoint / "config.json").exists():
        raise ModelNotFoundError(f"the checkpoint of {model.name!r}, {model.checkpoint}, is gone (or has no "
                                 "config.json): put it back, or remove the model and add it again")
    return model.checkpoint


def version_meta(model: Model) -> list[dict]:
    """Each version of the model with what `grokling models` shows of it."""
    live = model.lineage.live_name()
    return [{"version": v.name, "live": v.name == live, "metrics": v.meta.get("metrics")}
            for v in model.lineage.all_versions()]
