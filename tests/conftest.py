import os
import shutil
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from learner.chat.engine import Engine, Sampling
from learner.chat.served import embedded_gguf, embedded_model
from learner.settings import Settings
from learner.store import Store

def pytest_collection_modifyitems(config, items):
    """Tests marked `gpu` need CUDA: skipped, with the reason, where torch sees none."""
    needing = [item for item in items if "gpu" in item.keywords]
    if not needing:
        return
    import torch

    if not torch.cuda.is_available():
        for item in needing:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU (torch.cuda.is_available() is False)"))


@pytest.fixture(autouse=True)
def grokling_home(tmp_path, monkeypatch):
    """Every test gets its own data dir: never the user's."""
    home = tmp_path / "grokling-home"
    monkeypatch.setenv("GROKLING_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def embedded_engine():
    """The embedded SmolLM2 through real llama.cpp, shared: loading it per test would dominate."""
    engine = Engine(embedded_model(), n_ctx=2048)
    yield engine
    engine.close()


class FakeEngine:
    """Stands in for learner.chat.engine.Engine where a test is about the window or the turn, not the
    model: it streams "You said: <the last user message>" word by word, with the real one's stats."""

    def __init__(self, model=None):
        from learner.chat.engine import ReplyStats

        self.model = model or embedded_model()
        self.n_gpu_layers = 0
        self.n_ctx = 2048
        self.last_stats = ReplyStats()
        self.last_messages, self.last_sampling = None, None
        """What the last reply was asked, and with which sampling."""
        self.closed = False

    def chat(self, messages, sampling=Sampling()):
        from learner.chat.engine import EngineError, ReplyStats

        if self.closed:
            raise EngineError("the engine is closed")
        self.last_messages, self.last_sampling = messages, sampling
        self.last_stats = ReplyStats(prompt_tokens=sum(len(m["content"].split()) for m in messages))
        words = f"You said: {messages[-1]['content']}".split()[: sampling.max_tokens]
        for i, word in enumerate(words):
            if i == 0:
                self.last_stats.first_token_ms = 1.0
            self.last_stats.completion_tokens = i + 1
            self.last_stats.duration_ms = 1.0 + i
            yield ("" if i == 0 else " ") + word

    @property
    def on_gpu(self):
        return self.n_gpu_layers != 0

    def swap(self, model, n_gpu_layers=None):
        self.model = model
        self.n_gpu_layers = self.n_gpu_layers if n_gpu_layers is None else n_gpu_layers

    def close(self):
        self.closed = True


@pytest.fixture
def fake_engine():
    return FakeEngine()


class SlowEngine(FakeEngine):
    """A FakeEngine that takes its time over each word, so a test can act while a reply streams."""

    def chat(self, messages, sampling=Sampling(max_tokens=400)):
        for piece in super().chat(messages, sampling):
            time.sleep(0.02)
            yield piece


@pytest.fixture
def slow_engine():
    return SlowEngine()


@pytest.fixture(scope="session")
def count_tokens():
    """Counts a training row's tokens with the embedded model's own tokenizer and chat template."""
    from transformers import AutoTokenizer

    from learner.learning import checkpoint, dataset

    checkpoint._let_transformers_read_gguf()
    gguf = embedded_gguf()
    return dataset.counter_of(AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name))


@pytest.fixture(scope="session")
def smollm2_checkpoint(tmp_path_factory):
    """The embedded model's own weights as an HF checkpoint folder, as learning derives it from the GGUF
    (learner.learning.checkpoint): a real checkpoint to add, and the tokenizer of the tiny models."""
    from learner.learning import checkpoint

    return checkpoint.derive_from_gguf(embedded_gguf(), tmp_path_factory.mktemp("smollm2") / "SmolLM2-hf")


@pytest.fixture(scope="session")
def embedded_learning_cache(tmp_path_factory):
    """A data dir holding what a cycle on the embedded model first works out, the same for every cycle: its
    checkpoint, derived from the GGUF, and the base's answers to the replay and gate questions. Worked out
    once, as a cycle does (the cycle tests would each spend over a minute on it)."""
    from learner import models
    from learner.learning import checkpoint, retention

    home = tmp_path_factory.mktemp("embedded-learning-cache")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("GROKLING_HOME", str(home))
        model = models.embedded()
        checkpoint.resolve(model)
        for split in (retention.REPLAY, retention.GATE):
            retention.answers(model.base(), Settings().system_prompt, split)
    return home


@pytest.fixture
def warm_embedded_home(grokling_home, embedded_learning_cache):
    """This test's data dir, starting with embedded_learning_cache's checkpoint (hard links: it is never
    written to once derived) and cached answers, as a user's has them after the first cycle."""
    grokling_home.mkdir(parents=True, exist_ok=True)
    shutil.copytree(embedded_learning_cache / "base", grokling_home / "base", copy_function=os.link)
    shutil.copytree(embedded_learning_cache / "eval-cache", grokling_home / "eval-cache")
    return grokling_home


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory, smollm2_checkpoint):
    """A random-weight two-layer Llama with the embedded model's tokenizer (tests/tiny_models.py)."""
    from tiny_models import build

    return build("LlamaForCausalLM", tmp_path_factory.mktemp("tiny") / "tiny-llama", smollm2_checkpoint)


@pytest.fixture
def store(grokling_home):
    store = Store()
    yield store
    store.close()


@pytest.fixture
def greedy():
    """Temperature 0: the same answer every run, so tests can assert on it."""
    return Sampling(temperature=0.0, max_tokens=48)


@pytest.fixture
def greedy_settings():
    return Settings(temperature=0.0, max_tokens=48)


def version_record(**changes):
    """The record of a version whose cycle taught nothing and kept everything."""
    from learner.versions import VersionRecord

    fields = dict(metrics={"learned": 1.0, "kept": 1.0}, results=(), timings={}, curriculum_sha256="c" * 64,
                  dataset_sha256="d" * 64, dataset_rows=1, dataset_kinds={}, corrections=0, positives=0, facts=0,
                  last_feedback_id=None, articles=[], base="base", quant="Q8_0", train={}, previous="base")
    return VersionRecord(**{**fields, **changes})


@pytest.fixture
def promote_embedded(tmp_path):
    """Promote a copy of the embedded GGUF into a model's lineage (the embedded model's by default) as if a
    learning cycle had produced it."""
    from learner import models

    def promote(keep: int = 3, make_live: bool = True, model=None):
        lineage = (model or models.embedded()).lineage
        adapter = tmp_path / "adapter"
        adapter.mkdir(exist_ok=True)
        (adapter / "adapter_model.safetensors").write_bytes(b"weights")
        dataset = tmp_path / "dataset"
        dataset.mkdir(exist_ok=True)
        (dataset / "train.jsonl").write_text("{}\n")
        record = version_record(previous=lineage.live_name())
        return lineage.promote(embedded_gguf(), adapter, dataset, record, keep, make_live)

    return promote
