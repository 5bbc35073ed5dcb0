"""learner/ is the Qt-free core: no Qt import anywhere in it, and no heavy import at start-up."""

import ast
import subprocess
import sys
from pathlib import Path

LEARNER = Path(__file__).resolve().parent.parent / "learner"
QT_PACKAGES = {"PySide6", "PyQt5", "PyQt6", "PySide2", "shiboken6", "app"}


def imported_packages(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_module_in_learner_imports_qt_or_the_app():
    offenders = {
        str(path.relative_to(LEARNER.parent)): sorted(imported_packages(path.read_text()) & QT_PACKAGES)
        for path in LEARNER.rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}
    assert len(offenders) >= 8  # the scan really read the package


def test_the_scan_catches_an_import():
    assert imported_packages("from PySide6.QtCore import QObject") == {"PySide6"}
    assert imported_packages("def f():\n    import PySide6.QtWidgets") == {"PySide6"}


def test_importing_the_cli_loads_no_qt_and_no_heavy_library():
    code = (
        "import sys, learner.cli, learner.chat.turn, learner.store, learner.chat.engine;"
        "heavy = {'PySide6', 'torch', 'transformers', 'trl', 'peft', 'llama_cpp'} & set(sys.modules);"
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
