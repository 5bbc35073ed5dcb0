"""Stage: LoRA-tune the base checkpoint on a dataset with TRL's SFTTrainer.

Run as: python -m learner.learning.train --dataset DIR --out DIR [--base DIR] [--continue-from ADAPTER]

With CUDA, QLoRA: the base is loaded in 4-bit NF4 through bitsandbytes and the adapter
trains in bf16. Without, plain LoRA on the CPU, the frozen base in bfloat16 where the CPU multiplies it natively
and in float32 elsewhere (TrainSettings.cpu_bfloat16). Only the adapter is written;
the export stage merges it into the full-precision base. Loss is computed on the
completion only: cross-entropy on taught rows, KL to the base model on replay rows (completion_loss).
"""

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from learner.items import ARTICLE, MAX_ROW_TOKENS, REPLAY
from learner.learning.stage import done_with, progress
from learner.textclean import neutralize_special_tokens
from learner.files import file_sha256, read_meta, text_sha256, write_meta


@dataclass
class TrainSettings:
    lora_r: int = 16
    """LoRA rank: capacity of the update. 16 learns a handful of facts without touching the rest."""
    lora_alpha: int = 32
    """LoRA scale (alpha / r multiplies the update)."""
    lora_dropout: float = 0.0
    adapted_depth: float = 1.0
    """The share of the layers, the upper ones, that get adapters (a fresh adapter; a continued one keeps its
    own). Nothing below the lowest adapted layer needs a gradient, so the backward pass stops there: at 0.5 a
    step takes a third less. Not the default, measured: one correction at 0.5 kept as much (five dev facts), but
    over 3 rounds of accumulate_bench the reverse direction fell from 9/15 to 5/15 and rewordings from 26/30 to
    24/30: reversing a fact needs the lower layers too."""
    target_modules: str | list[str] = field(default_factory=lambda: ["gate_proj", "up_proj", "down_proj"])
    """Which layers get adapters: the MLPs, where a transformer keeps facts. Measured on three invented
    facts (one cycle, embedded model): MLP-only kept 36/37 retention answers against 35/37 for all
    linear layers, learned the same 3/3 and 9/9 paraphrases, and trained 10% faster. An architecture
    whose MLP layers are named otherwise (Starcoder2's c_fc, c_proj) gets every linear layer instead."""
    epochs: float = 3.0
    """Passes over the rows: enough to learn a fact; more overfits and forgets (measured: 6 epochs
    over one correction plus replay lost 11% of the retention answers, 3 epochs lost 5%)."""
    min_steps: int = 12
    """Floor on optimizer steps: one correction's rows need this many updates to be learned
    (measured at batch 8: 8 steps learned nothing; at batch 4, 15 steps learned it)."""
    max_steps: int = 192
    """Cap on optimizer steps, so a large backlog cannot make a cycle run for hours on a CPU. It still passes over a
    continued cycle's rows about one and a half times when it rehearses the most earlier items (learner.learning.strategy)."""
    batch_size: int = 4
    """Rows per step. Measured on one correction: batch 4 for 15 steps learned what batch 8 for 16
    steps did, with the same retention, in 30 s instead of 60 s (half the tokens)."""
    learning_rate: float = 1e-3
    """High for LoRA on a small model: few steps must move the facts in."""
    warmup_steps: int = 2
    max_length: int = MAX_ROW_TOKENS
    """Rows are cut to this many tokens (the dataset leaves out items whose rows would be)."""
    seed: int = 0
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass: a third more compute to save activation memory,
    worth it only for a large model on a small GPU (TRL turns it on by default)."""
    quantize_4bit_on_cuda: bool = True
    """QLoRA (NF4 base) when a CUDA GPU is present; plain LoRA otherwise."""
    cpu_bfloat16: bool | None = None
    """On a CPU, hold the frozen base in bfloat16 (the adapter stays float32, attention is computed eagerly); None:
    where the CPU multiplies bfloat16 natively (AVX512-BF16, AMX: cpu_multiplies_bfloat16), else float32, since a
    CPU without those instructions emulates bfloat16, slower than float32. Measured on a Xeon with AMX (7 Dec):
    - one correction (dev fact 1, 70 rows, 53 steps) trained in 33 s against 48 s in float32. With PyTorch's SDPA
      attention it took 40 s: its bfloat16 attention backward takes 5 ms a layer for these short rows;
    - five corrections (learn_bench, dev facts 0, 5, 6, 7, 1) kept 114 of 115 firm gate answers as in float32, and
      194 of 200 of any (192), with the same dev rewordings (8/10) and reverse questions (2/5), all five live;
    - an article cycle (wiki_bench's dev set) kept 23/23 firm gate answers as float32, 35/40 of any (36), and the
      weights alone answered 14 of the 33 questions (13), 27 with instant memory (26); training 105 s against 150.
    An earlier article cycle under the walk-through's gate kept 33 of 40 against 36 in float32, with SDPA."""

    @classmethod
    def from_settings(cls, settings, dataset_kinds: dict[str, int] | None = None) -> "TrainSettings":
        """The hyperparameters the user's settings.json exposes; the rest keep these defaults. A dataset of
        article facts alone (its meta's "kinds": rows per source kind) trains at `article_learning_rate`."""
        taught_kinds = set(dataset_kinds or {}) - {REPLAY}
        rate = settings.article_learning_rate if taught_kinds == {ARTICLE} else settings.learning_rate
        return cls(epochs=settings.train_epochs, learning_rate=rate)

    def __post_init__(self):
        for name in ("lora_r", "lora_alpha", "min_steps", "max_steps", "batch_size", "max_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"train setting {name!r} must be at least 1")
        if not 0 < self.adapted_depth <= 1:
            raise ValueError("train setting 'adapted_depth' must be in (0, 1]")
        if self.epochs <= 0:
            raise ValueError("train setting 'epochs' must be positive")
        if not 0 < self.learning_rate < 1:
            raise ValueError("train setting 'learning_rate' must be in (0, 1)")


def special_texts(tokenizer) -> frozenset[str]:
    """The tokenizer's control tokens as text: the chat template writes them, a message never does."""
    added = (t.content for t in tokenizer.added_tokens_decoder.values() if t.special)
    return frozenset(t for t in (*tokenizer.all_special_tokens, *added) if len(t.strip()) > 1)


def safe_messages(messages: list[dict], specials: frozenset[str]) -> list[dict]:
    return [{**m, "content": neutralize_special_tokens(m["content"], specials)} for m in messages]


def adapted_layers(model, wanted: str | list[str]) -> str | list[str]:
    """The layers that get adapters: `wanted` where the model has layers of those names, else every linear
    layer (peft's "all-linear"), so an architecture that names its MLP otherwise still learns."""
    if isinstance(wanted, str):
        return wanted
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    present = [w for w in wanted if w in names]
    return present if present else "all-linear"


def upper_layers(model, depth: float, targets: str | list[str]) -> list[int] | None:
    """The indices of the top `depth` share of the model's layers; None (every layer) for all of them, where the
    config does not say how many there are, or for peft's "all-linear" (which it cannot restrict to layers)."""
    count = getattr(model.config, "num_hidden_layers", None)
    if depth >= 1 or not count or isinstance(targets, str):
        return None
    return list(range(count - max(1, math.ceil(count * depth)), count))


def device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def cpu_multiplies_bfloat16() -> bool:
    import torch

    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def binned(logp, ids):
    """Log-probabilities `logp` at the tokens `ids` of each position, and the log of the mass left over last: the bins
    the KL between base and student is taken over. The rest is log 0 where `ids` hold it all: clamped, so that
    0 * log 0 counts as 0 in the KL."""
    import torch

    rest = logp.scatter(-1, ids, float("-inf")).logsumexp(-1, keepdim=True).clamp(min=-1e4)
    return torch.cat([logp.gather(-1, ids), rest], dim=-1)


def logits_at(model, inputs: dict, positions):
    """The model's logits at `positions` of each row of a right-padded batch. The opening all the rows share (the
    chat template and system prompt: 38 of a correction row's 66 tokens) goes through the model once, and each row
    attends to its keys and values, where a forward over the whole batch computes it once per row: the same logits
    and gradients up to float rounding, for two thirds of the tokens in a batch of 4. Only in float32 on a CPU, where a
    step's time goes to matrix products (one correction's training: 41 s against 48 s); in bfloat16 there the many
    small operations of a second forward outweigh it (37 s against 33 s)."""
    import torch
    from transformers.cache_utils import DynamicLayer, DynamicSlidingWindowLayer

    ids, mask = inputs["input_ids"], inputs.get("attention_mask")
    rows = ids.shape[0]
    whole = lambda: model(**inputs, use_cache=False, logits_to_keep=positions).logits
    # Activation checkpointing drops the cache; QLoRA's autocast wraps only the whole model's forward.
    if ids.device.type != "cpu" or model.get_input_embeddings().weight.dtype != torch.float32 or \
            any(getattr(m, "gradient_checkpointing", False) for m in model.modules()) or not len(positions):
        return whole()
    alike = (ids == ids[:1]).all(0)
    if mask is not None:
        alike &= mask.bool().all(0)
    # Each kept position's logits come from the second forward, which starts where the sharing ends.
    shared = min(int(alike.int().cumprod(0).sum()), int(positions.min()))
    if rows == 1 or shared < 2:
        return whole()
    opening = model.get_decoder()(input_ids=ids[:1, :shared], use_cache=True).past_key_values
    if not all(type(layer) in (DynamicLayer, DynamicSlidingWindowLayer) for layer in opening.layers):
        return whole()  # a recurrent or convolutional state (hybrid architectures) does not repeat per row
    opening.batch_repeat_interleave(rows)
    rest = {k: v[:, shared:] if k != "attention_mask" and v.dim() == 2 else v for k, v in inputs.items()}
    return model(**rest, past_key_values=opening, use_cache=True, logits_to_keep=positions - shared).logits


class BaseDistributions:
    """The base model's next-token distribution at each replay row's completion tokens, kept as its `k` likeliest
    tokens' log-probabilities and the log of the mass left over. A row's is computed the first time it is trained on
    and reused on every later pass: the base does not change within a cycle, and its forward on every step cost a
    quarter of the step (one correction's 63 rows, 48 steps: 98 s of training became 77 s, the same loss to 0.5%).
    Nor does it change between cycles: rows whose `keys` (their text) are in `known` (the earlier cycles' rows,
    load_base_distributions) are not computed again: for dev fact 1's 60 replay rows that took 3.4 s, and the
    training took 36.7 s with them kept against 38.9 s without (part of the 3.4 s was warming up kernels).
    A fixed `k` keeps a cycle's worth small for any vocabulary (150 rows of 40 tokens: 74 MB at 1024), where the
    whole distribution of a 150k-token vocabulary would take GBs. How many tokens the KL must see was measured on
    an article cycle (tests/test_learning_from_articles.py: 15 article rows, 90 replay, 79 steps): the candidate
    kept 33 of the base's 40 right gate answers at k = 64, 36 at 256 and at 1024, 37 with the whole distribution.
    At 64 the student moves mass freely among the tokens the rest lumps together."""

    def __init__(self, k: int = 1024, keys: list[str | None] | None = None, known: dict[str, tuple] | None = None):
        self.k = k
        self.keys = keys or []
        """Each dataset row's key (None for a row that is not replay), by row index."""
        self.rows: dict[int, tuple] = {}
        self.known: dict[int, tuple] = {i: known[key] for i, key in enumerate(self.keys) if key in (known or {})}
        """An earlier cycle's distributions of this cycle's rows, taken where a row scores as many tokens as then
        (another tokenizer or chat template would not: the row is computed again)."""
        self.computed = 0
        """Rows the base has been run on: each replay row once per cycle, unless an earlier cycle had it."""

    def by_key(self) -> dict[str, tuple]:
        """What this cycle had (computed or known), by row key: what the next cycle can reuse."""
        return {self.keys[i]: value for i, value in self.rows.items()}

    def of(self, model, model_inputs: dict, positions, scored, replay, row_ids):
        """(token ids, log-probabilities with the rest's mass last) at the scored positions of the batch's replay
        rows, in their order; rows not seen before go through the base (the adapter switched off) first."""
        import torch
        import torch.nn.functional as F

        wanted = [int(r) for r in row_ids[replay]]
        for row, count in zip(row_ids[replay].tolist(), scored[replay].sum(-1).tolist()):
            if row not in self.rows and row in self.known and len(self.known[row][0]) == count:
                self.rows[row] = self.known.pop(row)
        missing = replay & torch.tensor([int(r) not in self.rows for r in row_ids], device=replay.device)
        if missing.any():
            with torch.no_grad(), model.disable_adapter():
                logits = logits_at(model, {k: v[missing] for k, v in model_inputs.items()}, positions).float()
            for row, row_logits, row_scored in zip(row_ids[missing].tolist(), logits, scored[missing]):
                logp = F.log_softmax(row_logits[row_scored], dim=-1)
                ids = logp.topk(min(self.k, logp.shape[-1]), dim=-1).indices
                self.rows[row] = (ids, binned(logp, ids))
            self.computed += int(missing.sum())
        device = model_inputs["input_ids"].device  # an earlier cycle's rows are loaded onto the CPU
        ids, logp = zip(*(self.rows[r] for r in wanted))
        return torch.cat([i.to(device) for i in ids]), torch.cat([p.to(device) for p in logp])


KEPT_BASE_DISTRIBUTIONS = 400
"""Replay rows whose base distributions are kept between cycles (about 100 KB each): more than the replay set has
(resources/general_knowledge.jsonl), so only rows of an earlier system prompt or length setting fall out."""


def base_distributions_file(base: str | Path, dtype, qlora: bool, settings: "TrainSettings", k: int) -> Path:
    """Where the base distributions of `base`'s replay rows are kept, for the base as training holds it (its folder's
    name and its files as they are now: weights, config, tokenizer; the dtype, 4-bit or not) and the rows as they
    are cut: a change to any makes a new file. Not its full path: a data folder moved, or copied with its files'
    times, keeps what it had."""
    from learner import paths

    files = [(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in sorted(Path(base).iterdir()) if f.is_file()]
    identity = json.dumps([Path(base).name, files, str(dtype), qlora, settings.max_length, k])
    return paths.data_dir() / "eval-cache" / f"base-distributions-{text_sha256(identity)[:24]}.safetensors"


def load_base_distributions(path: Path) -> dict[str, tuple]:
    """{row key: (token ids, log-probabilities)} kept by earlier cycles; {} where there is no readable file (a torn or
    foreign one is recomputed, never trusted in part)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        tensors = load_file(path)
    except (OSError, SafetensorError):
        return {}
    keys = {name.rsplit("/", 1)[0] for name in tensors}
    return {key: (tensors[f"{key}/ids"].long(), tensors[f"{key}/logp"]) for key in keys
            if f"{key}/ids" in tensors and f"{key}/logp" in tensors}


def save_base_distributions(path: Path, this_cycle: dict[str, tuple], earlier: dict[str, tuple]) -> None:
    """Keep this cycle's rows and as many of the earlier ones as KEPT_BASE_DISTRIBUTIONS allows, atomically; other
    bases' files go (one kept: a user who switches models pays a second or two to compute them again), and
    partial files a killed cycle left."""
    import torch
    from safetensors.torch import save_file

    from learner.files import durable_replace, private_file

    kept = {**this_cycle, **{k: v for k, v in earlier.items() if k not in this_cycle}}
    kept = dict(list(kept.items())[:KEPT_BASE_DISTRIBUTIONS])
    tensors = {}
    for key, (ids, logp) in kept.items():
        tensors[f"{key}/ids"], tensors[f"{key}/logp"] = ids.to("cpu", torch.int32).contiguous(), logp.cpu().contiguous()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = private_file(path.with_name(f".{path.name}.partial"))
    try:
        save_file(tensors, str(partial))
        durable_replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    for other in (*path.parent.glob("base-distributions-*.safetensors"), *path.parent.glob(".base-distributions-*.partial")):
        if other != path:
            other.unlink(missing_ok=True)


def completion_loss(model, inputs: dict, replay, row_ids, base: BaseDistributions, replay_weight: float = 1.0):
    """The loss of a batch, summed over its completion tokens: cross-entropy towards the taught answers, and on
    replay rows (`replay`: a bool per row; `row_ids`: each row's index in the dataset) the KL divergence from the
    base model's own next-token distribution (`base`), times `replay_weight`, where cross-entropy would pull towards
    its one greedy answer and sharpen it. Anchoring the whole distribution is what keeps the base's general answers:
    on single corrections (benchmarks/dev_facts.jsonl facts 5, 6, 7, 0, 1; embedded model) the candidates kept 39, 36,
    38, 37, 39 of the base's 40 right gate answers where cross-entropy replay kept 35, 35, 34, 36, 36, each learning
    its fact; the KL over every position of the replay rows, prompt included, kept 36, 34, 36, 36, 40.

    Only the positions some row has a completion token at go through the LM head (`logits_to_keep`, which each
    architecture's own forward applies with its logit scaling): the prompt is most of a row, and the head a
    fifth of a small model's compute. Returns (summed loss, completion tokens)."""
    import torch.nn.functional as F

    labels = inputs["labels"][:, 1:]
    model_inputs = {k: v for k, v in inputs.items() if k != "labels"}
    scored = labels != -100
    positions = scored.any(0).nonzero().flatten()
    logits = logits_at(model, model_inputs, positions).float()
    targets, scored = labels[:, positions], scored[:, positions]
    taught = scored & ~replay[:, None]
    loss = F.cross_entropy(logits[taught], targets[taught], reduction="sum")
    if replay.any():
        ids, base_logp = base.of(model, model_inputs, positions, scored, replay, row_ids)
        student = binned(F.log_softmax(logits[replay][scored[replay]], dim=-1), ids)
        loss = loss + replay_weight * F.kl_div(student, base_logp, log_target=True, reduction="sum")
    return loss, scored.sum()


def replay_weight(replay: list[bool], ratio: float | None) -> float:
    """How much each replay row's KL counts (`replay`: whether each row of the dataset is one): 1 while the replay set
    has the rows the dataset's replay ratio asks for, more once it runs short, so that replay weighs as much as the
    ratio meant against however many taught rows. The embedded model's 134 right replay answers run short from about
    35 taught rows: at round 20 of benchmarks/accumulate_bench.py a continued cycle has 243, and unweighted replay
    had fallen to 36% of the rows. Its weights then drifted into the taught facts' templates ("The capital of
    Slovenia is Lumbreck", a taught name) and kept 96 of the base's 104 firm wide answers at round 10 and 93 at
    round 20; weighted, 102 and 99 (7-8 Dec, 2 cores). What it costs is the weights' reach beyond the taught
    wording: at round 20 they alone answered 68% of rewordings and 31% of reverse questions against 80% and 53%
    (with instant memory 92% and 77% against 94% and 85%). Weighting at half the ratio was no middle way: at round
    10 it kept 98 and answered 40% reversed."""
    replayed = sum(replay)
    if not ratio or not replayed:
        return 1.0
    return max(1.0, ratio * (len(replay) - replayed) / replayed)


def _trainer_class():
    from trl import SFTTrainer

    class ReplayAnchoredTrainer(SFTTrainer):
        """TRL's SFTTrainer (chat template, completion-only labels, LoRA) with `completion_loss`; each row's
        "replay" flag and "row" index ride along to it."""

        def _set_signature_columns_if_needed(self):
            super()._set_signature_columns_if_needed()
            self._signature_columns = [*self._signature_columns, "replay", "row"]

        def __init__(self, *args, base_distributions: BaseDistributions, replay_weight: float, **kwargs):
            import torch

            super().__init__(*args, **kwargs)
            self.replay_weight = replay_weight
            self.tokens_seen = 0
            self.base_distributions = base_distributions
            collate = self.data_collator
            self.data_collator = lambda rows: {**collate(rows), "replay": torch.tensor([bool(r["replay"]) for r in rows]),
                                               "row": torch.tensor([r["row"] for r in rows])}

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            inputs = dict(inputs)
            replay, row_ids = inputs.pop("replay"), inputs.pop("row")
            self.tokens_seen += int(inputs["attention_mask"].sum()) if "attention_mask" in inputs else 0
            loss, tokens = completion_loss(self.accelerator.unwrap_model(model), inputs, replay, row_ids,
                                           self.base_distributions, self.replay_weight)
            return loss / tokens.clamp(min=1)

    return ReplayAnchoredTrainer


def _progress_callback(max_steps: int):
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            loss = (logs or {}).get("loss")
            if loss is not None:
                progress("train", 100 * state.global_step / max_steps, f"step {state.global_step}/{max_steps} loss {loss:.3f}",
                         step=state.global_step, loss=loss)

    return Progress()


def run(base: str | Path, dataset_dir: Path, out: Path, settings: TrainSettings = TrainSettings(),
        continue_from: Path | None = None) -> dict:
    """Train an adapter into `out`: a fresh one, or the adapter `continue_from` (the live version's: see
    learner.learning.strategy) trained further. Skipped if `out` already holds one from the same inputs."""
    dataset_meta = read_meta(dataset_dir) or {}
    start = file_sha256(continue_from / "adapter_model.safetensors") if continue_from else None
    inputs_hash = text_sha256(json.dumps([str(base), dataset_meta.get("sha256"), asdict(settings), start],
                                         sort_keys=True))
    if (earlier := done_with(out, inputs_hash)) and (out / "adapter_model.safetensors").exists():
        return earlier
    started = time.perf_counter()
    progress("train", 0, "loading the base model")
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.trainer_callback import PrinterCallback
    from trl import SFTConfig

    where = device()
    qlora = where == "cuda" and settings.quantize_4bit_on_cuda
    tokenizer = AutoTokenizer.from_pretrained(base)
    if qlora:
        from peft import prepare_model_for_kbit_training
        from transformers import BitsAndBytesConfig

        quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                   bnb_4bit_compute_dtype=torch.bfloat16)
        model = AutoModelForCausalLM.from_pretrained(base, quantization_config=quant, device_map={"": 0},
                                                     dtype=torch.bfloat16)
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=settings.gradient_checkpointing)
    else:
        on_cpu_in_bf16 = where == "cpu" and (cpu_multiplies_bfloat16() if settings.cpu_bfloat16 is None else settings.cpu_bfloat16)
        dtype = torch.bfloat16 if where == "cuda" or on_cpu_in_bf16 else torch.float32
        model = AutoModelForCausalLM.from_pretrained(base, dtype=dtype, **({"attn_implementation": "eager"} if on_cpu_in_bf16 else {}))
        if where == "cuda":
            model.to("cuda")
    rows = [json.loads(line) for line in (dataset_dir / "train.jsonl").read_text().splitlines() if line]
    specials = special_texts(tokenizer)
    train_set = Dataset.from_list([{"prompt": safe_messages(r["prompt"], specials),
                                    "completion": safe_messages(r["completion"], specials),
                                    "replay": r.get("source", {}).get("kind") == REPLAY, "row": i}
                                   for i, r in enumerate(rows)])
    dtype = next(p.dtype for p in model.parameters())
    distributions_file = base_distributions_file(base, dtype, qlora, settings, BaseDistributions().k)
    earlier_distributions = load_base_distributions(distributions_file)
    keys = [text_sha256(json.dumps([r["prompt"], r["completion"]], sort_keys=True)) if r["replay"] else None
            for r in train_set]
    batch_size = min(settings.batch_size, len(rows))
    steps = min(settings.max_steps, max(settings.min_steps, math.ceil(len(rows) * settings.epochs / batch_size)))
    config = SFTConfig(
        output_dir=str(out / "trainer"),
        max_steps=steps,
        per_device_train_batch_size=batch_size,
        learning_rate=settings.learning_rate,
        lr_scheduler_type="constant_with_warmup",
        warmup_steps=settings.warmup_steps,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        seed=settings.seed,
        max_length=settings.max_length,
        use_cpu=where == "cpu",
        bf16=where == "cuda",
        dataloader_num_workers=0,
        disable_tqdm=True,
        gradient_checkpointing=settings.gradient_checkpointing,
    )
    if continue_from:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, continue_from, is_trainable=True)
        targets, lora = model.peft_config["default"].target_modules, None
        targets = sorted(targets) if isinstance(targets, set) else targets
    else:
        targets = adapted_layers(model, settings.target_modules)
        lora = LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha, lora_dropout=settings.lora_dropout,
                          target_modules=targets, layers_to_transform=upper_layers(model, settings.adapted_depth, targets),
                          task_type="CAUSAL_LM")
    trainer = _trainer_class()(model=model, args=config, train_dataset=train_set, processing_class=tokenizer,
                         peft_config=lora, callbacks=[_progress_callback(steps)],
                         base_distributions=BaseDistributions(keys=keys, known=earlier_distributions),
                         replay_weight=replay_weight(train_set["replay"], dataset_meta.get("replay_ratio")))
    trainer.remove_callback(PrinterCallback)  # our progress events report the loss
    result = trainer.train()
    trainer.model.save_pretrained(out)
    if trainer.base_distributions.computed:
        save_base_distributions(distributions_file, trainer.base_distributions.by_key(), earlier_distributions)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    meta = write_meta(out, {
        "stage": "train", "inputs_hash": inputs_hash, "base": str(base), "dataset": str(dataset_dir),
        "dataset_sha256": dataset_meta.get("sha256"), "rows": len(rows), "steps": steps, "device": where, "qlora": qlora,
        "dtype": str(next(p.dtype for p in trainer.model.parameters() if not p.requires_grad)).removeprefix("torch."),
        "target_modules": targets, "continued_from": str(continue_from) if continue_from else None,
        "settings": asdict(settings), "first_loss": losses[0] if losses else None,
        "final_loss": losses[-1] if losses else None, "train_seconds": round(result.metrics["train_runtime"], 2),
        "tokens": trainer.tokens_seen, "replay_weight": trainer.replay_weight,
        "base_rows_computed": trainer.base_distributions.computed,
        "trainable_parameters": sum(p.numel() for p in trainer.model.parameters() if p.requires_grad),
        "parameters": sum(p.numel() for p in trainer.model.parameters()), "seconds": round(time.perf_counter() - started, 2),
        "peak_cuda_bytes": torch.cuda.max_memory_allocated() if where == "cuda" else None,
    })
    progress("train", 100, f"adapter ready (loss {meta['first_loss']:.2f} -> {meta['final_loss']:.2f})")
    return meta


def main(argv: list[str] | None = None) -> None:
    from learner import models
    from learner.learning import checkpoint
    from learner.settings import Settings

    parser = argparse.ArgumentParser(description="LoRA-tune the base checkpoint on a dataset, as the cycle does.")
    parser.add_argument("--base", help="an HF checkpoint folder (default: the active model's checkpoint)")
    parser.add_argument("--dataset", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--continue-from", type=Path, help="an adapter folder to train further (the cycle passes the "
                                                           "live version's when it continues it; default: a fresh one)")
    args = parser.parse_args(argv)
    settings = Settings.load()
    meta = run(args.base or checkpoint.resolve(models.active()), args.dataset, args.out,
               TrainSettings.from_settings(settings, (read_meta(args.dataset) or {}).get("kinds")), args.continue_from)
    print(json.dumps({k: meta[k] for k in ("device", "rows", "steps", "first_loss", "final_loss", "seconds")}, indent=2))


if __name__ == "__main__":
    main()
