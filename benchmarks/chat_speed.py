"""Chat speed through grokling's engine versus raw llama-cpp-python, same GGUF, same run.

    python benchmarks/chat_speed.py [--gguf PATH] [--runs 5] [--max-tokens 128]

Both sides load the same file with the same context size and threads, stream the same
greedy reply, and are measured interleaved (raw, engine, raw, engine, ...) so machine
drift hits both alike. Each run starts its prompt with a different line so neither side
reuses the previous run's KV cache. Prints medians and the ratios the targets are about:
engine tokens/s >= 0.97 x raw, engine first token <= raw + 50 ms.
"""

import argparse
import statistics
import time
from pathlib import Path

from llama_cpp import Llama

from learner.chat.engine import Engine, Sampling, default_threads, without_amx_kernels
from learner.chat.served import ModelChoice, embedded_model

QUESTION = "Write a detailed, 300-word essay about the history of tea, from ancient China to today."


def messages(run: int) -> list[dict]:
    return [{"role": "system", "content": f"Session {run}. You are a helpful assistant."},
            {"role": "user", "content": QUESTION}]


def measure(pieces) -> tuple[float, float, int]:
    """(milliseconds to the first piece, decode tokens/s after it, pieces)."""
    start = time.perf_counter()
    first = last = None
    count = 0
    for _ in pieces:
        last = time.perf_counter()
        first = first or last
        count += 1
    return (first - start) * 1000, (count - 1) / (last - first), count


def raw_stream(llm: Llama, run: int, sampling: Sampling):
    for chunk in llm.create_chat_completion(
        messages(run), stream=True, temperature=sampling.temperature, top_p=sampling.top_p,
        top_k=sampling.top_k, repeat_penalty=sampling.repeat_penalty, max_tokens=sampling.max_tokens,
    ):
        if chunk["choices"][0]["delta"].get("content"):
            yield chunk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gguf", type=Path, help="GGUF to measure (default: the embedded SmolLM2)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--n-ctx", type=int, default=4096)
    args = parser.parse_args()

    model = ModelChoice(args.gguf, args.gguf.stem) if args.gguf else embedded_model()
    threads = default_threads()
    sampling = Sampling(temperature=0.0, max_tokens=args.max_tokens)
    without_amx_kernels()  # the peer is llama.cpp as this build can run it, as the engine is
    raw = Llama(model_path=str(model.path), n_ctx=args.n_ctx, n_threads=threads, verbose=False)
    engine = Engine(model, n_ctx=args.n_ctx, n_threads=threads)

    results = {"raw": [], "engine": []}
    for run in range(args.runs + 1):  # run 0 warms both up and is not counted
        raw_figures = measure(raw_stream(raw, run, sampling))
        engine_figures = measure(engine.chat(messages(run), sampling))
        if run:
            results["raw"].append(raw_figures)
            results["engine"].append(engine_figures)

    def median(side: str, index: int) -> float:
        return statistics.median(r[index] for r in results[side])

    print(f"model: {model.path.name}   threads: {threads}   n_ctx: {args.n_ctx}   runs: {args.runs}")
    print(f"{'':8}{'first token ms':>16}{'tokens/s':>12}{'tokens':>8}")
    for side in ("raw", "engine"):
        print(f"{side:8}{median(side, 0):16.1f}{median(side, 1):12.1f}{median(side, 2):8.0f}")
    tps_ratio = median("engine", 1) / median("raw", 1)
    ttft_delta = median("engine", 0) - median("raw", 0)
    print(f"engine/raw tokens/s: {tps_ratio:.3f}  (target >= 0.97: {'met' if tps_ratio >= 0.97 else 'MISSED'})")
    print(f"engine - raw first token: {ttft_delta:+.1f} ms  (target <= +50 ms: {'met' if ttft_delta <= 50 else 'MISSED'})")
    engine.close()
    raw.close()


if __name__ == "__main__":
    main()
