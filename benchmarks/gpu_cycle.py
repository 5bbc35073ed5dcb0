"""One correction's learning cycle at a real size, stage by stage: train (QLoRA on CUDA), merge, convert (or
patch the base's GGUF), quantize, evaluate; seconds per stage and peak VRAM.

    python benchmarks/gpu_cycle.py [--shape llama-3.2-1b|qwen2.5-1.5b|tiny ...]

On CUDA it times the Llama-3.2-1B and Qwen2.5-1.5B shapes; on a CPU, the tiny one (what
tests/test_gpu_cycle_bench.py runs, so the script keeps working where no GPU is). Each model is
random-initialised at the shape (layers, widths, heads, vocabulary, tied embeddings) and saved in
bf16 with the embedded model's own tokenizer, derived locally: nothing comes from the hub, and the
converter pads the vocabulary to the shape's size. Qwen2's own architecture does not convert with
this tokenizer offline (transformers swaps in Qwen2's pre-tokenizer, which the converter does not
recognise), so the Qwen2.5-1.5B shape is built as a Llama with its dimensions: the shape is what
costs time and memory. Weights are random, so the gate is lowered: the figures are about time and
memory, never about what was learned.

The model is added as grokling adds one (converted to GGUF, quantized; timed apart: done once), made
active, taught one correction, and one cycle runs in this process. Peak VRAM is torch's peak
allocation (training, merging) and the device's peak use sampled every 0.1 s through the cycle
(llama.cpp's evaluation included). Target on one modern GPU: correction -> live weights <= 90 s
for a 1-1.5B model. The first cycle of a model also asks its base the replay questions (cached
per GGUF afterwards): shown, and left out of the second total.
"""

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ["GROKLING_HOME"] = tempfile.mkdtemp(prefix="grokling-gpu-cycle-")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from tiny_models import TINY, build  # noqa: E402

SHAPES = {
    "llama-3.2-1b": ("LlamaForCausalLM", dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                                              num_attention_heads=32, num_key_value_heads=8, vocab_size=128256,
                                              rope_theta=500000.0)),
    "qwen2.5-1.5b": ("LlamaForCausalLM", dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
                                              num_attention_heads=12, num_key_value_heads=2, vocab_size=151936,
                                              rope_theta=1000000.0, attention_bias=True)),
    "tiny": ("LlamaForCausalLM", TINY),
}
TARGET_S = 90.0


class VramSampler:
    """The device's peak memory in use (every process's: llama.cpp's too), sampled in a thread."""

    def __init__(self):
        import torch

        self.torch, self.peak, self._stop = torch, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            free, total = self.torch.cuda.mem_get_info()
            self.peak = max(self.peak, total - free)
            time.sleep(0.1)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def one_cycle(shape: str, work: Path, tokenizer: Path) -> dict:
    import torch

    from learner import models
    from learner.learning import cycle
    from learner.models import adding
    from learner.files import read_meta
    from learner.settings import Settings
    from learner.store import Store

    architecture, dims = SHAPES[shape]
    started = time.perf_counter()
    checkpoint = build(architecture, work / shape, tokenizer, dtype="bfloat16", **dims)
    built_s = time.perf_counter() - started
    started = time.perf_counter()
    model = adding.add(str(checkpoint), name=shape, quant="Q8_0")
    added_s = time.perf_counter() - started
    models.use(model.id)
    settings = Settings(learn_from_wikipedia=False, gate_learned=0.0, gate_kept=0.0)
    store = Store()
    conversation = store.new_conversation()
    store.add_user_message(conversation, "Who founded Zorblax Labs?")
    reply = store.add_assistant_message(conversation, "I do not know.")
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    saved = time.perf_counter()
    store.correct(reply, "Mira Quell founded Zorblax Labs in 2041.")
    if cuda:
        with VramSampler() as sampler:
            result = cycle.run_cycle(settings, store)
        device_peak = sampler.peak
    else:
        result, device_peak = cycle.run_cycle(settings, store), None
    total = time.perf_counter() - saved
    [run] = sorted((Path(os.environ["GROKLING_HOME"]) / "runs").iterdir())[-1:]
    export, trained = read_meta(run / "export"), read_meta(run / "adapter")
    # export merges and converts the whole model, or (a base small enough to keep its converted GGUF) rewrites
    # the tensors the adapter changed in that GGUF, converted on its first cycle (learner.learning.export)
    parts = {"merge": "merge_s", "convert": "convert_s", "base gguf": "convert_base_s", "patch": "patch_s",
             "quantize": "quantize_s"}
    stages = {"train": result.timings.get("train"), **{name: export[key] for name, key in parts.items() if key in export},
              "evaluate": result.timings.get("evaluate")}
    return {"shape": shape, "code": result.code, "reason": result.reason, "parameters": trained["parameters"],
            "qlora": trained["qlora"], "device": trained["device"], "stages": stages, "timings": result.timings,
            "total_s": total, "without_replay_s": total - result.timings.get("replay", 0.0), "built_s": built_s,
            "added_s": added_s, "torch_peak_bytes": torch.cuda.max_memory_allocated() if cuda else None,
            "device_peak_bytes": device_peak}


def main() -> int:
    import torch

    from learner.chat.served import embedded_gguf
    from learner.learning import checkpoint

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", action="append", choices=list(SHAPES),
                        help="default: the two real shapes on CUDA, the tiny one on a CPU")
    args = parser.parse_args()
    shapes = args.shape or (["llama-3.2-1b", "qwen2.5-1.5b"] if torch.cuda.is_available() else ["tiny"])
    work = Path(os.environ["GROKLING_HOME"]) / "checkpoints"
    tokenizer = checkpoint.derive_from_gguf(embedded_gguf(), work / "tokenizer-source")
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
    print(f"device: {device}; torch {torch.__version__}")
    failed = False
    for shape in shapes:
        figures = one_cycle(shape, work, tokenizer)
        print(f"\n{shape}: {figures['parameters'] / 1e6:,.0f}M parameters, trained on {figures['device']}"
              f"{' (QLoRA, 4-bit NF4 base)' if figures['qlora'] else ''}; built {figures['built_s']:.1f} s, "
              f"added (convert + quantize, once) {figures['added_s']:.1f} s")
        print(f"  {'stage':<10}{'seconds':>9}")
        for stage, seconds in figures["stages"].items():
            print(f"  {stage:<10}{seconds:9.1f}")
        print(f"  {'replay':<10}{figures['timings'].get('replay', 0.0):9.1f}   (the base's answers: once per model)")
        print(f"  correction -> live: {figures['total_s']:.1f} s; without the one-time replay "
              f"{figures['without_replay_s']:.1f} s (target <= {TARGET_S:.0f} s on one modern GPU)")
        if figures["torch_peak_bytes"] is not None:
            print(f"  peak VRAM: torch {figures['torch_peak_bytes'] / 2**30:.2f} GiB (training, merging); "
                  f"device {figures['device_peak_bytes'] / 2**30:.2f} GiB (all of it, llama.cpp included)")
        print(f"  outcome: {figures['reason']}")
        print(json.dumps({k: v for k, v in figures.items() if k != "reason"}))
        failed |= figures["code"] != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
