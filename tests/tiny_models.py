"""Random-weight HF checkpoints of a given architecture and shape, built offline with a tokenizer from a
local folder (the embedded model's, as learner.learning.checkpoint.derive_from_gguf saves it): what the
architecture tests add as models, and what benchmarks/gpu_cycle.py times at real sizes.

The weights are random, so such a model answers nonsense: it proves the pipeline (add, convert,
serve, train, merge, convert, quantize, evaluate, promote) works for the architecture, never what
it learns.
"""

import shutil
from pathlib import Path

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json",
                   "tokenizer.model")

TINY = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
"""A shape small enough to train and evaluate in seconds on a CPU."""

ARCHITECTURES = {
    # HF architecture: (its config class in transformers, what that architecture needs beside the shape)
    "LlamaForCausalLM": ("LlamaConfig", {}),
    "MistralForCausalLM": ("MistralConfig", {"sliding_window": None}),
    "Qwen2ForCausalLM": ("Qwen2Config", {}),
    "Qwen3ForCausalLM": ("Qwen3Config", {"head_dim": 16}),
    "OlmoForCausalLM": ("OlmoConfig", {}),
    "Olmo2ForCausalLM": ("Olmo2Config", {"tie_word_embeddings": False}),  # llama.cpp wants its output layer
    "GraniteForCausalLM": ("GraniteConfig", {}),
    "StableLmForCausalLM": ("StableLmConfig", {"tie_word_embeddings": False}),
    "Starcoder2ForCausalLM": ("Starcoder2Config", {}),
    "Gemma3ForCausalLM": ("Gemma3TextConfig", {"head_dim": 16}),
    "FalconForCausalLM": ("FalconConfig", {"new_decoder_architecture": True, "num_kv_heads": 2}),
    # llama.cpp's phi2 has no grouped-query attention and a feed-forward 4x the width, as Phi-2 has.
    "PhiForCausalLM": ("PhiConfig", {"tie_word_embeddings": False, "num_key_value_heads": 4, "intermediate_size": 256}),
}


def build(architecture: str, out: Path, tokenizer_from: Path, seed: int = 0, dtype: str = "float32", **shape) -> Path:
    """Save a random-initialised `architecture` model (TINY unless `shape` says otherwise) into `out`, its weights
    in `dtype`, with the tokenizer files of `tokenizer_from`. Its vocabulary is that tokenizer's unless `shape`
    sets a larger vocab_size (the converter pads the vocabulary to it, as real checkpoints' often are)."""
    import json

    import torch
    import transformers

    config_class, extra = ARCHITECTURES[architecture]
    tokenizer_config = json.loads((tokenizer_from / "config.json").read_text())
    ids = {k: tokenizer_config[k] for k in ("bos_token_id", "eos_token_id", "pad_token_id") if k in tokenizer_config}
    config = getattr(transformers, config_class)(**{
        "vocab_size": tokenizer_config["vocab_size"], "max_position_embeddings": 4096, "tie_word_embeddings": True,
        **ids, **TINY, **extra, **shape})
    config.architectures = [architecture]
    torch.manual_seed(seed)
    model = getattr(transformers, architecture)(config).to(getattr(torch, dtype))
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    for name in TOKENIZER_FILES:
        if (tokenizer_from / name).exists():
            shutil.copy2(tokenizer_from / name, out / name)
    return out
