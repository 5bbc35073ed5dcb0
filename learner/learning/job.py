"""Start the learning cycle as a subprocess and read its JSON-lines progress.

Used by `grokling learn --now` and (through a Qt adapter) by the app. The command is
built by a pure function so tests can assert on it; cancel sends SIGINT, then SIGTERM
if the cycle has not stopped within the grace period.
"""

import json
import os
import signal
import subprocess
import threading
from collections.abc import Callable

from learner.learning.cycle import FAILED, CycleResult
from learner.paths import module_command


def cycle_command() -> list[str]:
    return module_command("learner.learning.cycle")


class LearningJob:
    """One cycle subprocess. Not thread-safe: one reader thread calls run(); any thread may cancel()."""

    def __init__(self, env: dict | None = None):
        self.env = {**os.environ, **(env or {}), "GROKLING_PROGRESS": "jsonl", "PYTHONUNBUFFERED": "1"}
        self.process: subprocess.Popen | None = None
        self.result: CycleResult | None = None

    def run(self, on_event: Callable[[dict], None] = lambda e: None) -> CycleResult:
        self.process = subprocess.Popen(cycle_command(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, env=self.env, start_new_session=True)
        stderr_tail: list[str] = []

        def drain_stderr():
            for line in self.process.stderr:
                stderr_tail.append(line)
                del stderr_tail[:-40]

        drainer = threading.Thread(target=drain_stderr, daemon=True)
        drainer.start()
        done = None
        for line in self.process.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if event.get("event") == "done":
                done = event
            on_event(event)
        code = self.process.wait()
        drainer.join(timeout=5)
        if done is not None:
            self.result = CycleResult(done["code"], done["reason"], done.get("version"), done.get("metrics") or {},
                                      done.get("timings") or {})
        else:
            last = next((l.strip() for l in reversed(stderr_tail) if l.strip()), "no output")
            self.result = CycleResult(FAILED, f"the learning process died (exit {code}): {last}")
        return self.result

    def cancel(self, grace: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.process.terminate()

    def wait(self) -> CycleResult:
        if self.process is not None:
            self.process.wait()
        return self.result or CycleResult(130, "cancelled")
