"""The Preferences dialog, generated from learner.settings so it cannot drift from it: one tab per
group (settings.GROUPS), one field per setting, its widget chosen by the setting's type and
rule (a check box, a spin box over the rule's range, a list of the allowed values, a line, or
one line per item), its help the setting's docstring (settings.field_help).

Save checks every value (Settings.problems) and shows each problem beside its field, saving
nothing; otherwise it writes the file off the UI thread (Settings.save writes only what
changed) and emits `saved` with the new Settings, which the window hands to the model host
and the learner.
"""

import dataclasses
from decimal import Decimal
from typing import Any, get_args

from app.background import run_in_background
from app.qt import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
    Signal,
)
from learner.settings import CHECKS, DEFAULTS, GROUPS, OneOf, Range, Settings, field_help

PROSE = frozenset({"system_prompt"})
"""Text settings that are paragraphs, not values: edited in a box, not on one line."""

_WORDS = {"n": "", "ctx": "context", "gpu": "GPU", "min": "minimum", "api": "API", "url": "URL", "ac": "AC power"}
_UNITS = {"min": "minutes", "s": "seconds", "mb": "MB", "days": "days"}
ERROR_COLOR = "#d93025"


def label_of(name: str) -> str:
    """'learn_min_interval_min' -> 'Learn minimum interval (minutes)'."""
    *words, last = name.split("_")
    unit = _UNITS.get(last)
    words = [_WORDS.get(w, w) for w in (words if unit else [*words, last])]
    text = " ".join(w for w in words if w) + (f" ({unit})" if unit else "")
    return text[:1].upper() + text[1:]


def _decimals(default: float) -> int:
    """Two places, or two more than the default needs (a learning rate of 0.0005 shows as 0.000500)."""
    places = max(0, -Decimal(repr(default)).as_tuple().exponent)
    return 2 if places <= 2 else places + 2


class SettingField:
    """One setting's editor: its widget, how to read and show a value, where its problem is written."""

    def __init__(self, f: dataclasses.Field):
        self.name = f.name
        types = set(get_args(f.type)) or {f.type}
        self.optional = type(None) in types
        kind = (types - {type(None)}).pop()
        rule = CHECKS.get(f.name, (None, ""))[0]
        default = getattr(DEFAULTS, f.name)
        if kind is bool:
            self.editor = QCheckBox()
        elif isinstance(rule, OneOf):
            self.editor = QComboBox()
            self.editor.addItems(list(rule.values))
        elif kind in (int, float):
            self.editor = QSpinBox() if kind is int else QDoubleSpinBox(decimals=_decimals(default))
            low, high = (rule.low, rule.high) if isinstance(rule, Range) else (-2**31 + 1, 2**31 - 1)
            if self.optional:  # the lowest step means None ("automatic"), e.g. llama.cpp's own thread count
                low -= 1
                self.editor.setSpecialValueText("automatic")
            self.editor.setRange(low, high)
            self.editor.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
        elif kind is list or f.name in PROSE:
            self.editor = QPlainTextEdit()
            self.editor.setFixedHeight(90)
            if kind is list:
                self.editor.setPlaceholderText("One per line")
        else:
            self.editor = QLineEdit()
            if self.optional:
                self.editor.setPlaceholderText("none")
        self.kind = kind
        help_text = field_help()[f.name]
        self.label = QLabel(label_of(f.name))
        self.label.setBuddy(self.editor)
        for widget in (self.label, self.editor):
            widget.setToolTip(f"{help_text}\n\n(settings.json: {f.name})")
        self.editor.setAccessibleName(self.label.text())
        self.editor.setAccessibleDescription(help_text)
        self.help = QLabel(help_text.split("\n\n")[0].replace("\n", " "), wordWrap=True)
        self.help.setEnabled(False)  # the palette's muted text
        self.problem = QLabel(wordWrap=True)
        self.problem.setStyleSheet(f"color:{ERROR_COLOR};")
        self.problem.hide()
        self.widget = QWidget()
        layout = QVBoxLayout(self.widget)
        layout.setContentsMargins(0, 0, 0, 6)
        layout.addWidget(self.editor)
        layout.addWidget(self.help)
        layout.addWidget(self.problem)

    def value(self) -> Any:
        e = self.editor
        if isinstance(e, QCheckBox):
            return e.isChecked()
        if isinstance(e, QComboBox):
            return e.currentText()
        if isinstance(e, (QSpinBox, QDoubleSpinBox)):
            return None if self.optional and e.value() == e.minimum() else e.value()
        if isinstance(e, QPlainTextEdit):
            text = e.toPlainText()
            return [line for line in text.splitlines() if line.strip()] if self.kind is list else text
        return (e.text().strip() or None) if self.optional else e.text()

    def set_value(self, value: Any) -> None:
        e = self.editor
        if isinstance(e, QCheckBox):
            e.setChecked(value)
        elif isinstance(e, QComboBox):
            e.setCurrentText(value)
        elif isinstance(e, (QSpinBox, QDoubleSpinBox)):
            e.setValue(e.minimum() if value is None else value)
        elif isinstance(e, QPlainTextEdit):
            e.setPlainText("\n".join(value) if self.kind is list else value)
        else:
            e.setText(value or "")

    def show_problem(self, problem: str | None) -> None:
        self.problem.setText(problem or "")
        self.problem.setVisible(problem is not None)


class PreferencesDialog(QDialog):
    saved = Signal(object)
    """The new learner.settings.Settings, once written to settings.json."""

    def __init__(self, settings: Settings, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.resize(640, 560)
        self.fields: dict[str, SettingField] = {}
        self.tabs = QTabWidget()
        self._tab_of: dict[str, int] = {}
        by_name = {f.name: f for f in dataclasses.fields(Settings)}
        for group, names in GROUPS.items():
            page = QWidget()
            form = QFormLayout(page)
            for name in names:
                field = self.fields[name] = SettingField(by_name[name])
                form.addRow(field.label, field.widget)
                self._tab_of[name] = self.tabs.count()
            scroll = QScrollArea(widgetResizable=True)
            scroll.setWidget(page)
            self.tabs.addTab(scroll, group)
        self.problem = QLabel(wordWrap=True)
        self.problem.setStyleSheet(f"color:{ERROR_COLOR};")
        self.problem.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
                                   | QDialogButtonBox.StandardButton.RestoreDefaults)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(
            lambda: self.show_settings(DEFAULTS))
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)
        self.show_settings(settings)

    def show_settings(self, settings: Settings) -> None:
        for name, field in self.fields.items():
            field.set_value(getattr(settings, name))
            field.show_problem(None)

    def values(self) -> dict[str, Any]:
        return {name: field.value() for name, field in self.fields.items()}

    def save(self) -> None:
        """Check every value; show the problems beside their fields, or write the file and emit `saved`."""
        values = self.values()
        problems = Settings.problems(values)
        for name, field in self.fields.items():
            field.show_problem(problems.get(name))
        if problems:
            first = next(iter(problems))
            self.tabs.setCurrentIndex(self._tab_of[first])
            self.tabs.currentWidget().ensureWidgetVisible(self.fields[first].widget)
            self._say(f"Nothing was saved: {len(problems)} setting{'s' * (len(problems) > 1)} to fix.")
            return
        settings = Settings(**values)
        self.save_button.setEnabled(False)

        def saved(_) -> None:
            self.saved.emit(settings)
            self.accept()

        def failed(error: BaseException) -> None:
            self.save_button.setEnabled(True)
            self._say(f"Nothing was saved: {error}")

        run_in_background(lambda _: settings.save(), saved, failed)

    def _say(self, text: str) -> None:
        self.problem.setText(text)
        self.problem.show()
