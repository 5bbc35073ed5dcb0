"""The Models dialog (Model ▸ Models…): every model with its source, architecture, size and versions, the
active one marked; add one (an HF folder, a GGUF with its checkpoint, a hub id), use one, remove one.

What `grokling models` does, through the same core calls (learner.models, learner.models.adding), each
off the UI thread: adding reports its download and conversion as progress under the list. Using a
model only moves the active pointer; the window's model host sees it and loads the new engine.
"""

from collections.abc import Callable

from app.background import run_in_background
from app.qt import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    Signal,
)
from learner import models
from learner.models import adding

COLUMNS = ["", "Name", "Source", "Architecture", "Size", "Versions"]


def model_rows() -> list[dict]:
    """What the dialog shows of each model, read off the UI thread."""
    active = models.active().id
    return [{"model": m, "active": m.id == active, "versions": models.version_meta(m)} for m in models.all_models()]


class ModelsDialog(QDialog):
    activated = Signal(object)
    """The learner.models.Model made active: the window loads it."""
    busy_changed = Signal(bool)
    """An add (download, conversion) started or ended."""

    def __init__(self, settings, parent=None):
        super().__init__(parent)
        self.settings = settings
        self.setWindowTitle("Models")
        self.resize(860, 420)
        self.rows: list[dict] = []
        self.busy = False
        self.last_error: str | None = None

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setAccessibleName("Models")
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.doubleClicked.connect(lambda _: self.use_selected())

        explanation = QLabel(
            "The active model (●) answers and learns. Each model keeps its own learned versions; switching "
            "keeps them all. Add a Hugging Face checkpoint (a folder, or a hub id grokling downloads) and "
            "grokling converts it to GGUF, or add a GGUF with the checkpoint it came from.", wordWrap=True)
        self.add_folder_button = QPushButton("Add HF folder…")
        self.add_folder_button.clicked.connect(self.choose_folder)
        self.add_gguf_button = QPushButton("Add GGUF…")
        self.add_gguf_button.clicked.connect(self.choose_gguf)
        self.download_button = QPushButton("Download from the hub…")
        self.download_button.clicked.connect(self.choose_hub_id)
        self.use_button = QPushButton("Use")
        self.use_button.clicked.connect(self.use_selected)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(lambda: self.remove_selected())
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        self.progress_label = QLabel()
        self.progress_bar = QProgressBar(textVisible=True)
        self.progress_bar.setAccessibleName("Adding a model")
        for widget in (self.progress_label, self.progress_bar):
            widget.hide()

        adds = QHBoxLayout()
        for button in (self.add_folder_button, self.add_gguf_button, self.download_button):
            adds.addWidget(button)
        adds.addStretch()
        for button in (self.use_button, self.remove_button, close):
            adds.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(explanation)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.progress_bar)
        layout.addLayout(adds)
        self.refresh()

    # -- the list -----------------------------------------------------------------------

    def refresh(self, then: Callable[[], None] | None = None,
                failed: Callable[[BaseException], None] | None = None) -> None:
        """List the models again off the UI thread; `then` runs once they are shown."""
        def shown(rows: list[dict]) -> None:
            self._show(rows)
            if then is not None:
                then()

        run_in_background(lambda _: model_rows(), shown, failed or self.show_error)

    def _show(self, rows: list[dict]) -> None:
        selected = self.selected()
        self.rows = rows
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            m = row["model"]
            versions = " ".join(v["version"] + (" (live)" if v["live"] else "") for v in row["versions"])
            cells = ["●" if row["active"] else "", m.name, models.SOURCES[m.source], m.architecture,
                     f"{m.size_bytes() / 1e6:,.0f} MB", versions or "none learned yet"]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(f"{m.name}\n{m.origin}" + (f"\nrevision {m.revision}" if m.revision else "")
                                + (f"\ncheckpoint: {m.checkpoint}" if m.checkpoint else ""))
                if row["active"]:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        keep = next((r for r, row in enumerate(rows) if selected and row["model"].id == selected.id), None)
        self.table.selectRow(keep if keep is not None else next(r for r, row in enumerate(rows) if row["active"]))
        self._update_buttons()

    def selected(self) -> models.Model | None:
        chosen = self.table.selectionModel().selectedRows()
        return self.rows[chosen[0].row()]["model"] if chosen and self.rows else None

    def select(self, name: str) -> None:
        """Select the model called `name` (or with that id)."""
        wanted = name.casefold()
        self.table.selectRow(next(r for r, row in enumerate(self.rows)
                                  if wanted in (row["model"].name.casefold(), row["model"].id)))

    def _update_buttons(self) -> None:
        model = self.selected()
        active = next((row["model"].id for row in self.rows if row["active"]), None)
        self.use_button.setEnabled(model is not None and model.id != active)
        self.remove_button.setEnabled(model is not None and model.id not in (active, models.EMBEDDED))
        self.remove_button.setToolTip("The embedded model cannot be removed, nor the active one: use another first."
                                      if not self.remove_button.isEnabled() else "")
        for button in (self.add_folder_button, self.add_gguf_button, self.download_button):
            button.setEnabled(not self.busy)

    # -- adding -------------------------------------------------------------------------

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "The Hugging Face checkpoint folder (config.json, "
                                                        "tokenizer, safetensors)")
        if folder:
            self._ask_name_then_add(folder, None, folder.rstrip("/").split("/")[-1])

    def choose_gguf(self) -> None:
        gguf, _ = QFileDialog.getOpenFileName(self, "The GGUF to chat with", "", "GGUF models (*.gguf)")
        if not gguf:
            return
        folder = QFileDialog.getExistingDirectory(self, "The Hugging Face checkpoint this GGUF was made from")
        if folder:
            self._ask_name_then_add(folder, gguf, "")

    def choose_hub_id(self) -> None:
        repo, ok = QInputDialog.getText(self, "Download from the Hugging Face hub",
                                        "Model id (owner/name), e.g. HuggingFaceTB/SmolLM2-360M-Instruct:")
        if ok and repo.strip():
            self._ask_name_then_add(repo.strip(), None, repo.strip().split("/")[-1])

    def _ask_name_then_add(self, source: str, gguf: str | None, suggested: str) -> None:
        name, ok = QInputDialog.getText(self, "Name the model", "Name (empty: the GGUF's own name):"
                                        if gguf else "Name:", text=suggested)
        if ok:
            self.add(source, gguf, name.strip() or None)

    def add(self, source: str, gguf: str | None = None, name: str | None = None) -> None:
        """Add a model off the UI thread, showing its progress; the list refreshes when it is there."""
        self._set_busy(True)
        self.progress_label.setText(f"Adding {name or source}…")
        self.progress_bar.setRange(0, 0)

        def work(report):
            return adding.add(source, gguf, name, self.settings.quant, lambda message, percent: report((message, percent)))

        def done(model: models.Model) -> None:
            def listed() -> None:  # not busy once the new model is in the list
                self._set_busy(False)
                self.progress_label.setText(f"Added {model.name} ({model.architecture}, {model.size_bytes() / 1e6:,.0f}"
                                            " MB). Select it and press Use to chat with it.")
                self.progress_label.show()

            self.refresh(listed, failed)

        def failed(error: BaseException) -> None:
            self._set_busy(False)
            self.progress_label.hide()
            self.show_error(error)

        run_in_background(work, done, failed, self._show_progress)

    def _show_progress(self, event: tuple[str, float | None]) -> None:
        message, percent = event
        self.progress_label.setText(message)
        if percent is None:
            self.progress_bar.setRange(0, 0)  # busy, without a measure
        else:
            self.progress_bar.setRange(0, 100)
            self.progress_bar.setValue(int(percent))

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.progress_label.setVisible(busy)
        self.progress_bar.setVisible(busy)
        self._update_buttons()
        self.busy_changed.emit(busy)

    # -- use and remove -----------------------------------------------------------------

    def use_selected(self) -> None:
        model = self.selected()
        if model is None:
            return

        def used(chosen: models.Model) -> None:
            self.activated.emit(chosen)
            self.refresh()

        run_in_background(lambda _: models.use(model.id), used, self.show_error)

    def remove_selected(self, confirm: bool = True) -> None:
        model = self.selected()
        if model is None:
            return
        question = (f"Remove “{model.name}” and its {len(models.version_meta(model))} learned version(s)? What grokling "
                    "made for it is deleted" + ("; your own files (its checkpoint folder, your GGUF) stay."
                                                if model.source in (models.FOLDER, models.GGUF) else "."))
        if confirm and QMessageBox.question(self, "Remove model", question) != QMessageBox.StandardButton.Yes:
            return
        run_in_background(lambda _: models.remove(model.id), lambda _: self.refresh(), self.show_error)

    def show_error(self, error) -> None:
        self.last_error = str(error)
        box = QMessageBox(QMessageBox.Icon.Warning, "grokling", self.last_error, parent=self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
