"""benchmarks/gpu_cycle.py keeps working where there is no GPU: at its tiny shape on the CPU (slow: one real
cycle). On a CUDA machine the benchmark itself is run by hand at the real shapes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_the_gpu_cycle_benchmark_runs_at_its_tiny_size_on_a_cpu():
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu_cycle.py"
    result = subprocess.run([sys.executable, str(script), "--shape", "tiny"], capture_output=True, text=True,
                            timeout=1200)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["shape"] == "tiny" and figures["code"] == 0
    # The tiny base keeps its converted GGUF, so the export patches it (converted in this, its first cycle).
    for stage in ("train", "base gguf", "patch", "quantize", "evaluate"):
        assert f"  {stage:<10}" in result.stdout
    assert all(figures["stages"][stage] > 0 for stage in ("train", "base gguf", "quantize", "evaluate"))
    assert "correction -> live:" in result.stdout
