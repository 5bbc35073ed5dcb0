"""Chat speed through the local API (`grokling serve`, streamed to a client) versus the engine directly.

    python benchmarks/api_speed.py [--runs 9] [--max-tokens 64]

Both sides load the embedded SmolLM2 with the same context size. The API side is `grokling
serve` in its own process with a scratch data folder, as another app meets it: every
exchange pays what a real one pays (the question committed to SQLite before generating,
instant memory's lookup, the reply stored before the last chunk). Two clients, in this
process (in the server's, every chunk they parse would hold its GIL): the official openai
client, and plain HTTP reading the event lines, which costs the machine next to nothing, so
it shows what serving itself costs; the openai client's parsing competes with llama.cpp for
the cores. The engine side runs on a worker thread, as the window's turn does. Measured
interleaved (engine, openai, HTTP, engine, ...), each prompt opening with its own line so
no run reuses the previous one's KV cache. Prints medians, the best run (on a shared
machine a run that stalls on other work drags a median down), and the ratios the targets
are about, for serving itself: tokens/s >= 0.95 x engine, first token <= engine + 50 ms.
"""

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from chat_speed import QUESTION, measure  # this folder is on sys.path when run as a script


def messages(run: int) -> list[dict]:
    return [{"role": "system", "content": f"Session {run}. You are a helpful assistant."},
            {"role": "user", "content": QUESTION}]


def on_worker_thread(measured):
    figures = {}
    worker = threading.Thread(target=lambda: figures.update(result=measured()))
    worker.start()
    worker.join()
    return figures["result"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args()
    scratch = tempfile.TemporaryDirectory(prefix="grokling-api-bench-")
    os.environ["GROKLING_HOME"] = scratch.name

    import httpx
    import openai

    from learner.chat.engine import Engine, Sampling
    from learner.chat.served import embedded_model
    from learner.settings import Settings

    settings = Settings(temperature=0.0, max_tokens=args.max_tokens, n_ctx=2048)
    settings.save()  # the server's settings too
    grokling = Path(sys.executable).with_name("grokling")
    server = subprocess.Popen([grokling, "serve", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True)
    url = re.search(r"http://127\.0\.0\.1:\d+/v1", server.stdout.readline())[0]
    client = openai.OpenAI(base_url=url, api_key="bench", max_retries=0)
    engine = Engine(embedded_model(), n_ctx=settings.n_ctx)

    def through_api(run: int):
        # A generator, so the request is sent when `measure` starts iterating (its clock is running).
        stream = client.chat.completions.create(model="grokling", messages=messages(run), stream=True,
                                                temperature=0, max_tokens=args.max_tokens)
        yield from (c for c in stream if c.choices and c.choices[0].delta.content)

    def through_http(run: int):
        body = {"messages": messages(run), "stream": True, "temperature": 0, "max_tokens": args.max_tokens}
        with httpx.stream("POST", f"{url}/chat/completions", json=body, timeout=120) as answer:
            for line in answer.iter_lines():
                if line.startswith("data: {") and json.loads(line[6:])["choices"][0]["delta"].get("content"):
                    yield line

    sides = {"engine": lambda run: on_worker_thread(lambda: measure(engine.chat(messages(run), sampling))),
             "api, openai client": lambda run: measure(through_api(run)),
             "api, plain HTTP": lambda run: measure(through_http(run))}
    results = {side: [] for side in sides}
    sampling = Sampling.from_settings(settings)
    for run in range(args.runs + 1):  # run 0 warms every side up and is not counted
        for i, (side, measured) in enumerate(sides.items()):
            figures = measured(len(sides) * run + i)
            if run:
                results[side].append(figures)
    engine.close()
    server.send_signal(signal.SIGINT)
    server.wait(60)
    scratch.cleanup()

    def median(side: str, index: int) -> float:
        return statistics.median(r[index] for r in results[side])

    print(f"model: {embedded_model().path.name}   runs: {args.runs}   max tokens: {args.max_tokens}")
    print(f"{'':30}{'first token ms':>16}{'tokens/s':>10}{'best':>8}{'pieces':>8}")
    for side in sides:
        best = max(r[1] for r in results[side])
        print(f"{side:30}{median(side, 0):16.1f}{median(side, 1):10.1f}{best:8.1f}{median(side, 2):8.0f}")
    for side in ("api, plain HTTP", "api, openai client"):
        ratio = median(side, 1) / median("engine", 1)
        delta = median(side, 0) - median("engine", 0)
        line = f"{side}: tokens/s {ratio:.3f} x engine, first token {delta:+.1f} ms"
        if side == "api, plain HTTP":  # the targets are about serving itself
            line += f"  (targets >= 0.95 x, <= +50 ms: {'met' if ratio >= 0.95 and delta <= 50 else 'MISSED'})"
        print(line)


if __name__ == "__main__":
    main()
