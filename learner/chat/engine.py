"""Chat with a GGUF through llama.cpp: a plain generator of text pieces.

The engine formats a chat with the template stored in the GGUF's own metadata, drops the
oldest turns when a chat outgrows the context window, and streams the reply. It knows
nothing about conversations, the database or Qt; a caller stops a reply by no longer
iterating (and closing the generator).

Threading: one Llama object, one owner. `chat`, `swap` and `close` take the engine's lock,
so a swap waits for the reply in progress to finish on the old model.
"""

import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from learner.chat.served import ModelChoice, ModelNotFoundError
from learner.textclean import neutralize_special_tokens

# For a GGUF without a chat template in its metadata: ChatML, which most small chat models use.
CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


class EngineError(RuntimeError):
    """A problem the user can act on: shown as is in the window and the CLI."""


class ModelLoadError(EngineError):
    """The GGUF cannot be loaded."""


class PromptTooLongError(EngineError):
    """Even the newest message alone does not fit the context window."""


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.2
    top_p: float = 0.9
    top_k: int = 40
    max_tokens: int = 512
    repeat_penalty: float = 1.1
    seed: int | None = None
    stop: tuple[str, ...] = ()
    """Texts that end the reply where they appear (not included in it), besides the model's own end of turn."""

    @classmethod
    def from_settings(cls, settings, **overrides) -> "Sampling":
        values = {k: getattr(settings, k) for k in ("temperature", "top_p", "top_k", "max_tokens", "repeat_penalty")}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


@dataclass
class ReplyStats:
    """Figures of the last reply, for the store and the status bar."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    first_token_ms: float | None = None
    duration_ms: float = 0.0
    dropped_messages: int = 0
    """How many of the oldest messages were left out to fit the context window."""
    finish_reason: str | None = None
    """llama.cpp's reason the reply ended: "stop" (end of turn or a stop text) or "length" (max_tokens)."""


def default_threads() -> int:
    # llama-cpp-python's default is half the logical CPUs (guessing hyper-threading);
    # on the 2- and 4-core laptops grokling targets, that halves the speed.
    return max(1, min(os.cpu_count() or 1, 8))


def check_gguf(path: Path) -> None:
    """Fail early and clearly on a path that is missing or not a GGUF at all."""
    if not path.exists():
        raise ModelNotFoundError(f"model file not found: {path}")
    if not path.is_file():
        raise ModelLoadError(f"{path} is not a file")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"GGUF":
        raise ModelLoadError(f"{path} is not a GGUF model file")


@contextmanager
def quiet_llama_cpp() -> Iterator[None]:
    """Keep llama.cpp's log lines (loading, quantizing) off stderr for a while: llama-cpp-python prints what
    its logger's level lets through."""
    logger = logging.getLogger("llama-cpp-python")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)


@functools.cache
def without_amx_kernels() -> bool:
    """Load models without llama.cpp's extra weight buffers (AMX kernels, weight repacking) where this build of
    llama.cpp has AMX kernels, and say whether it does. Call before loading a model.

    llama-cpp-python compiles llama.cpp for the CPU it is installed on, so on an Intel Xeon with AMX the matrix
    products of Q4_0, Q4_1 and Q8_0 weights go through those kernels, and they crash: a general protection fault
    at the first tile instruction (ldtilecfg), measured on this project's 2-core Xeon machines with llama.cpp as
    pinned (ggml-org/llama.cpp#20824; #26954: the tile configuration and the per-thread permission the kernel
    wants). That takes the chat window down with it. Without the extra buffers llama.cpp uses its AVX-512 code,
    as on any CPU without AMX. llama.cpp offers no setting for this but the model parameters, which Llama() takes
    from llama_model_default_params(), so that is what changes, for this process."""
    import llama_cpp
    import llama_cpp.llama_cpp as bindings

    if b"AMX_INT8 = 1" not in llama_cpp.llama_print_system_info():
        return False
    defaults = bindings.llama_model_default_params

    def model_params():
        params = defaults()
        params.use_extra_bufts = False
        return params

    bindings.llama_model_default_params = llama_cpp.llama_model_default_params = model_params
    return True


LOGPROB_FLOOR = -30.0


def _special_texts(llm) -> frozenset[str]:
    """The text of every control and user-defined token of the model's vocabulary (one pass at load)."""
    import llama_cpp

    kinds = llama_cpp.LLAMA_TOKEN_ATTR_CONTROL | llama_cpp.LLAMA_TOKEN_ATTR_USER_DEFINED
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    texts = (llm.detokenize([t], special=True).decode("utf-8", "replace")
             for t in range(llm.n_vocab()) if llama_cpp.llama_vocab_get_attr(vocab, t) & kinds)
    return frozenset(t for t in texts if len(t.strip()) > 1)


class Engine:
    def __init__(self, model: ModelChoice, *, n_ctx: int = 4096, n_threads: int | None = None, n_gpu_layers: int = 0):
        self.n_ctx = n_ctx
        self.n_threads = n_threads or default_threads()
        self.n_gpu_layers = n_gpu_layers
        """Layers llama.cpp offloads to the GPU (-1: all; 0: the CPU alone)."""
        self._lock = threading.Lock()
        self._llm, self._formatter, self._eos, self._specials = self._load(model.path, n_gpu_layers)
        self.model = model
        self.last_stats = ReplyStats()

    @classmethod
    def from_settings(cls, settings, model: ModelChoice | None = None) -> "Engine":
        """The chat engine: the live model (or `model`), on the GPU where it may be (learner.gpu)."""
        from learner import gpu
        from learner.chat.served import live_model

        return cls(model or live_model(), n_ctx=settings.n_ctx, n_threads=settings.n_threads,
                   n_gpu_layers=gpu.chat_layers(settings))

    @property
    def on_gpu(self) -> bool:
        return self.n_gpu_layers != 0

    def _load(self, path: Path, n_gpu_layers: int):
        check_gguf(path)
        without_amx_kernels()
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        try:
            llm = Llama(model_path=str(path), n_ctx=self.n_ctx, n_threads=self.n_threads, n_gpu_layers=n_gpu_layers,
                        verbose=False)
        except (ValueError, RuntimeError, OSError) as e:
            raise ModelLoadError(f"llama.cpp could not load {path}: {e}") from e
        token_text = lambda token: llm.detokenize([token], special=True).decode("utf-8", "replace")
        eos = token_text(llm.token_eos())
        formatter = Jinja2ChatFormatter(
            template=llm.metadata.get("tokenizer.chat_template") or CHATML_TEMPLATE,
            eos_token=eos,
            bos_token=token_text(llm.token_bos()) if llm.token_bos() >= 0 else "",
        )
        return llm, formatter, eos, _special_texts(llm)

    def format_chat(self, messages: list[dict]) -> str:
        """The prompt text the model sees for `messages`, ready for the reply. Control-token strings
        inside the messages stay text (textclean.neutralize_special_tokens); only the template's are real."""
        safe = [{**m, "content": neutralize_special_tokens(m["content"], self._specials)} for m in messages]
        return self._formatter(messages=safe).prompt

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def fit(self, messages: list[dict], max_tokens: int) -> tuple[list[int], int]:
        """Tokens of the longest tail of the chat that leaves `max_tokens` free; and how many messages were dropped.

        A leading system message is always kept, and the kept part starts at a user turn.
        """
        head = messages[:1] if messages and messages[0]["role"] == "system" else []
        body = messages[len(head):]
        budget = self.n_ctx - max_tokens

        def tokens(start: int) -> list[int]:
            prompt = self.format_chat(head + body[start:])
            return self._llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)

        full = tokens(0)
        if len(full) <= budget:
            return full, 0
        starts = [i for i, m in enumerate(body) if m["role"] == "user" and i > 0]
        if not starts or len(last := tokens(starts[-1])) > budget:
            newest = body[starts[-1] if starts else 0]["content"]
            raise PromptTooLongError(
                f"The message is about {self.count_tokens(newest):,} tokens, but this model reads at most "
                f"{self.n_ctx:,} (with {max_tokens:,} kept for the reply). Shorten it, or raise n_ctx in settings."
            )
        # Binary search for the earliest user turn from which the chat fits.
        # Invariant: `best` holds the tokens from starts[hi].
        lo, hi, best = 0, len(starts) - 1, last
        while lo < hi:
            mid = (lo + hi) // 2
            candidate = tokens(starts[mid])
            if len(candidate) <= budget:
                hi, best = mid, candidate
            else:
                lo = mid + 1
        return best, starts[hi]

    def reply_logprob(self, messages: list[dict], reply: str) -> tuple[float, int]:
        """Log-likelihood of `reply` as the model's answer to `messages`, and its token count: the reply is
        evaluated after the prompt in one batch, each token's log-probability read off the position before it."""
        with self._lock:
            if self._llm is None:
                raise EngineError("the engine is closed")
            tokens = self._llm.tokenize(reply.encode("utf-8"), add_bos=False, special=False)
            rows = self._logprobs_along(self._prompt_tokens(messages), tokens)
        # Floored at e^-30: one token the model rules out entirely (a -inf logit) must not make the sum infinite
        # and drown what every other token says.
        return sum(max(LOGPROB_FLOOR, float(row[token])) for row, token in zip(rows, tokens)), len(tokens)

    def greedy_margins(self, messages: list[dict], max_tokens: int,
                       until: Callable[[list[str]], bool] | None = None,
                       expected: str | None = None) -> list[tuple[str, float]]:
        """The greedy reply to `messages` (what `chat` says at temperature 0, through the same llama.cpp generation)
        a token at a time: the reply so far after each token, and that token's lead over the runner-up in
        log-probability (how near the model came to saying otherwise). It stops early once `until` holds of the
        replies so far. `expected`, a reply the model likely gives (another version's), is checked in one batch
        (only as far as `until` would let it go on), and the reply decoded a token at a time only from where the
        model departs from it: a batch of tokens costs about what one decoded token does. llama.cpp rounds a batch
        of several tokens otherwise than one (as it already does a prompt split otherwise, by the prefix the previous
        question left cached), so a token within a few tenths of a nat of its runner-up may come out either way, here
        as there: of the 40 gate answers of a trained version, 38 read the same both ways."""
        import numpy as np
        from llama_cpp import llama_model_get_vocab, llama_vocab_is_eog

        steps: list[tuple[str, float]] = []
        tokens: list[int] = []

        def step(token: int, logprobs) -> bool:
            """Take `token`; whether the reply goes on."""
            if len(steps) == max_tokens or llama_vocab_is_eog(vocab, token):
                return False
            tokens.append(token)
            steps.append((self._llm.detokenize(tokens).decode("utf-8", "replace"),
                          float(logprobs[token] - np.partition(logprobs, -2)[-2])))
            return until is None or not until([text for text, _ in steps])

        with self._lock:
            if self._llm is None:
                raise EngineError("the engine is closed")
            vocab = llama_model_get_vocab(self._llm.model)
            prompt = self._prompt_tokens(messages)
            if expected:
                guess = self._llm.tokenize(expected.encode("utf-8"), add_bos=False, special=False)[:max_tokens]
                if until is not None:
                    guess = guess[:self._until_holds_at(guess, until)]
                for at, logprobs in enumerate(self._logprobs_along(prompt, guess)):
                    token = int(logprobs.argmax())
                    if not step(token, logprobs):
                        return steps
                    if at == len(guess) or token != guess[at]:
                        break  # the rows after this one follow the guess, not the model
            # generate reuses the cached prompt prefix as chat does; at each token, the logits that chose it
            for token in self._llm.generate(prompt + tokens, top_k=1, temp=0.0, repeat_penalty=1.0):
                if not step(token, self._next_logprobs()):
                    break
        return steps

    def _until_holds_at(self, guess: list[int], until: Callable[[list[str]], bool]) -> int:
        """The first n at which `until` holds of the guess's first n + 1 tokens (len(guess) if it never does): a reply
        that follows the guess stops at its token n, which the row after guess[:n] picks, so the batch needs no more of
        it. (A gate answer, "The capital of Japan is Tokyo, a city of ...", is right and whole a token after
        "Tokyo".)"""
        texts = []
        for n in range(len(guess)):
            texts.append(self._llm.detokenize(guess[: n + 1]).decode("utf-8", "replace"))
            if until(texts):
                return n
        return len(guess)

    def _logprobs_along(self, prompt: list[int], tokens: list[int]) -> list:
        """Next-token log-probabilities at the end of `prompt` and after each of `tokens`: len(tokens) + 1 rows. The
        prompt's cached prefix is reused, as generate does, and its rest evaluated in the same batches as `tokens`."""
        import numpy as np
        import llama_cpp

        llm = self._llm
        cached = llm.input_ids[: llm.n_tokens]
        keep = 0
        while keep < min(len(cached), len(prompt) - 1) and cached[keep] == prompt[keep]:
            keep += 1
        if not llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(llm.ctx), 0, keep, -1):
            keep = 0  # a recurrent model's state cannot be cut back to a prefix: start over, as generate does
            llm.reset()
        llm.n_tokens = keep
        along, first_row = [*prompt[keep:], *tokens], len(prompt) - 1 - keep
        rows = []
        batch = llama_cpp.llama_batch_init(llm.n_batch, 0, 1)
        try:
            for start in range(0, len(along), llm.n_batch):
                chunk = along[start: start + llm.n_batch]
                batch.n_tokens = len(chunk)
                for i, token in enumerate(chunk):
                    batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, llm.n_tokens + i, 1
                    batch.seq_id[i][0], batch.logits[i] = 0, start + i >= first_row
                if code := llama_cpp.llama_decode(llm.ctx, batch):
                    llm.reset()  # what the context holds no longer matches input_ids: nothing of it is reused
                    raise EngineError(f"llama.cpp could not evaluate the reply (llama_decode returned {code})")
                llm.input_ids[llm.n_tokens: llm.n_tokens + len(chunk)] = chunk
                llm.n_tokens += len(chunk)
                for i in range(max(0, first_row - start), len(chunk)):
                    logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, i),
                                                   shape=(llm.n_vocab(),)).astype(np.float64)
                    rows.append(_log_softmax(logits))
        finally:
            llama_cpp.llama_batch_free(batch)
        return rows

    def start_over(self) -> None:
        """Forget the cached prompt: what is asked next is evaluated as by a freshly loaded engine. llama.cpp rounds
        a prompt by how it is split into batches, which the cached prefix decides."""
        with self._lock:
            if self._llm is not None:
                self._llm.reset()

    def _prompt_tokens(self, messages: list[dict]) -> list[int]:
        return self._llm.tokenize(self.format_chat(messages).encode("utf-8"), add_bos=False, special=True)

    def _next_logprobs(self):
        """Log-probabilities of the next token, from the last decoded position's logits (Llama.scores keeps them
        only with logits_all=True)."""
        import numpy as np
        from llama_cpp import llama_get_logits_ith

        return _log_softmax(np.ctypeslib.as_array(llama_get_logits_ith(self._llm.ctx, -1),
                                                  shape=(self._llm.n_vocab(),)).astype(np.float64))

    def chat(self, messages: list[dict], sampling: Sampling = Sampling()) -> Iterator[str]:
        """Stream the reply to `messages` (OpenAI-style role/content dicts) as text pieces."""
        with self._lock:
            if self._llm is None:
                raise EngineError("the engine is closed")
            started = time.perf_counter()
            stats = self.last_stats = ReplyStats()
            prompt, stats.dropped_messages = self.fit(messages, sampling.max_tokens)
            stats.prompt_tokens = len(prompt)
            stream = self._llm.create_completion(
                prompt,
                max_tokens=sampling.max_tokens,
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                top_k=sampling.top_k,
                repeat_penalty=sampling.repeat_penalty,
                seed=sampling.seed,
                stop=[self._eos, *sampling.stop],
                stream=True,
            )
            try:
                for chunk in stream:
                    choice = chunk["choices"][0]
                    stats.finish_reason = choice["finish_reason"] or stats.finish_reason
                    piece = choice["text"]
                    if not piece:
                        continue
                    if stats.first_token_ms is None:
                        stats.first_token_ms = (time.perf_counter() - started) * 1000
                    yield piece
            finally:
                stream.close()
                # llama.cpp evaluates each sampled token on the next step, so the last one of a reply cut at
                # max_tokens is sampled but never evaluated: n_tokens is one short there.
                stats.completion_tokens = (sampling.max_tokens if stats.finish_reason == "length"
                                           else max(0, self._llm.n_tokens - len(prompt)))
                stats.duration_ms = (time.perf_counter() - started) * 1000

    def swap(self, model: ModelChoice, n_gpu_layers: int | None = None) -> None:
        """Load another GGUF (or the same one, with `n_gpu_layers` on the GPU) and serve it from the next
        reply on; the old one is closed.

        Loading happens before taking the lock, so chat goes on meanwhile; if loading fails
        the current model stays and the error is raised.
        """
        layers = self.n_gpu_layers if n_gpu_layers is None else n_gpu_layers
        loaded = self._load(model.path, layers)
        with self._lock:
            old = self._llm
            self._llm, self._formatter, self._eos, self._specials = loaded
            self.model, self.n_gpu_layers = model, layers
        if old is not None:
            old.close()

    def close(self) -> None:
        with self._lock:
            if self._llm is not None:
                self._llm.close()
                self._llm = None


def _log_softmax(logits):
    import numpy as np

    top = logits.max()
    return logits - top - np.log(np.exp(logits - top).sum())
