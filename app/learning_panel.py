"""The learning panel: versions with their scores and a chart, what each taught item answers
before and after and why the model knows it, rollback, the topics list with whether Wikipedia may
be read about them, and the training data.

Everything it shows is read from the version folders' meta.json and the store by the core
(learner.versions, learner.learning.topics) off the UI thread; rollback and topic changes go
through the same core calls as the CLI.
"""

import html
from datetime import datetime

from app.qt import (
    QAbstractItemView,
    QColor,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPainter,
    QPen,
    QPointF,
    QPushButton,
    QSplitter,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
    Signal,
)

from app.background import run_in_background
from app.dialogs import WIKIPEDIA_QUESTION
from app.render import Theme, markdown_html
from learner import models, versions
from learner.items import ARTICLE, ItemResult, TaughtItem
from learner.learning import collect, topics
from learner.settings import Settings
from learner.store import Store

SERIES = [("learned", "#2b7bb9", "learned"), ("kept", "#3a9e4f", "kept"), ("article_held_out", "#c77c12", "articles")]


def version_rows(lineage: versions.Lineage) -> list[dict]:
    """Base, then every kept version of one model oldest first, with what the panel shows of each."""
    live = lineage.live_name()
    waiting = set(lineage.pending_names())
    rows = [{"name": versions.BASE, "live": live == versions.BASE, "waiting": False, "meta": {}, "results": []}]
    rows += [{"name": v.name, "live": v.name == live, "waiting": v.name in waiting, "meta": v.meta,
              "results": v.results} for v in lineage.all_versions()]
    return rows


class ScoreChart(QWidget):
    """Learned / kept / article scores per version, as lines on a 0-100% scale."""

    def __init__(self):
        super().__init__()
        self.rows: list[dict] = []
        self.setMinimumHeight(150)

    def set_rows(self, rows: list[dict]) -> None:
        self.rows = [r for r in rows if r["meta"].get("metrics")]
        self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        left, top, right, bottom = 40, 12, self.width() - 90, self.height() - 24
        painter.setPen(QPen(QColor("#999")))
        for share in (0, 0.5, 1.0):
            y = bottom - share * (bottom - top)
            painter.drawLine(left, int(y), right, int(y))
            painter.drawText(4, int(y) + 4, f"{share:.0%}")
        if not self.rows:
            painter.drawText(left + 10, (top + bottom) // 2, "No learned versions yet")
            return
        step = (right - left) / max(1, len(self.rows) - 1)
        for i, row in enumerate(self.rows):
            painter.drawText(int(left + i * step) - 8, bottom + 16, row["name"])
        for n, (key, color, label) in enumerate(SERIES):
            points = [QPointF(left + i * step, bottom - r["meta"]["metrics"][key] * (bottom - top))
                      for i, r in enumerate(self.rows) if r["meta"]["metrics"].get(key) is not None]
            painter.setPen(QPen(QColor(color), 2))
            for a, b in zip(points, points[1:]):
                painter.drawLine(a, b)
            for p in points:
                painter.drawEllipse(p, 3, 3)
            painter.drawText(right + 10, top + 14 + 16 * n, label)


def read_only_table(headers: list[str], stretch: int | None = None) -> QTableWidget:
    """A table of whole-row selections that the user reads but does not edit; `stretch` takes the spare width."""
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    if stretch is None:
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    else:
        table.horizontalHeader().setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    return table


def _percent(value) -> str:
    return "–" if value is None else f"{value:.0%}"


def item_html(results: list[ItemResult], theme: Theme) -> str:
    """Before/after answers and the reason the model knows each taught item. Answers go through the chat's
    renderer (markdown, any HTML in them shown as text); everything else is escaped."""
    parts = []
    for r in results:
        item, source = r.item, r.item.source
        why = html.escape(source.describe())
        if source.kind == ARTICLE and source.url:
            why = f'{why} (<a href="{html.escape(source.url, quote=True)}">open</a>)'
        elif item.answer:
            why += f": “{html.escape(item.answer)}”"
        right = sum(p.right for p in r.held_out)
        parts.append(
            f"<p><b>{html.escape(item.question)}</b> {'✔' if r.right else '✘'}<br>"
            f"<i>before:</i> {markdown_html(r.answer_before, theme) if r.answer_before is not None else '(not recorded)'}"
            f"<i>after:</i> {markdown_html(r.answer, theme)}"
            f"<i>unseen phrasings:</i> {right}/{len(r.held_out)} answered<br>"
            f"<i>why do you know this?</i> {why}</p>")
    return "".join(parts) or "<p>Nothing taught in this version.</p>"


STATE_LABELS = {"train": "", "dropped": "dropped", "conflict": "conflict: choose", "waiting": "waits for a later cycle"}


class LearningPanel(QDialog):
    rolled_back = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Learning")
        self.resize(900, 640)
        self.rows: list[dict] = []
        self.model: models.Model | None = None
        """The model whose versions are shown (the active one when the panel last refreshed)."""
        tabs = QTabWidget()
        tabs.addTab(self._versions_tab(), "Versions")
        tabs.addTab(self._topics_tab(), "Topics")
        tabs.addTab(self._data_tab(), "Training data")
        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        self.refresh()

    def show_error(self, error: BaseException) -> None:
        QMessageBox.warning(self, "grokling", str(error))

    # -- versions ------------------------------------------------------------------------

    def _versions_tab(self) -> QWidget:
        self.table = read_only_table(["Version", "Created", "Rows", "Corrections", "Articles", "Learned", "Kept",
                                      "Cycle time"])
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.itemSelectionChanged.connect(self._show_selected)
        self.chart = ScoreChart()
        self.details = QTextBrowser(openExternalLinks=True)
        self.rollback_button = QPushButton("Make this version live")
        self.rollback_button.clicked.connect(self.rollback_selected)
        self.reject_button = QPushButton("Reject: delete it")
        self.reject_button.clicked.connect(self.reject_selected)
        self.reject_button.hide()
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.table)
        top_layout.addWidget(self.chart)
        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        bottom_layout.addWidget(self.details)
        buttons = QHBoxLayout()
        buttons.addStretch()
        buttons.addWidget(self.reject_button)
        buttons.addWidget(self.rollback_button)
        bottom_layout.addLayout(buttons)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(bottom)
        return splitter

    def refresh(self) -> None:
        def load(_):
            model = models.active()
            return model, version_rows(model.lineage), *self._store_rows()

        run_in_background(load, self._show, self.show_error)

    def _show(self, loaded) -> None:
        self.model, self.rows, topic_rows, data_rows, settings = loaded
        self.setWindowTitle(f"Learning · {self.model.name}")
        self._fill_data(data_rows)
        self._show_consent(settings)
        self.table.setRowCount(len(self.rows))
        for r, row in enumerate(self.rows):
            meta, metrics = row["meta"], row["meta"].get("metrics") or {}
            created = datetime.fromtimestamp(meta["created_at"]).strftime("%Y-%m-%d %H:%M") if meta.get("created_at") else ""
            total = sum((meta.get("timings") or {}).values())
            mark = "  (live)" if row["live"] else "  (awaiting approval)" if row["waiting"] else ""
            cells = [f"{row['name']}{mark}", created, str(meta.get("dataset_rows", "")),
                     str(meta.get("corrections", "")), str(len(meta.get("articles", []))) if meta else "",
                     _percent(metrics.get("learned")) if meta else "", _percent(metrics.get("kept")) if meta else "",
                     f"{total:.0f} s" if total else ""]
            for c, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.chart.set_rows(self.rows)
        self._fill_topics(topic_rows)
        if self.rows:
            self.table.selectRow(len(self.rows) - 1)

    def _show_selected(self) -> None:
        selected = self.table.selectionModel().selectedRows()
        if not selected:
            return
        row = self.rows[selected[0].row()]
        meta = row["meta"]
        if not meta:
            self.details.setHtml("<p>The base model: what grokling started from. Always there to roll back to.</p>")
        else:
            metrics = meta.get("metrics") or {}
            timings = ", ".join(f"{k} {v:.0f} s" for k, v in (meta.get("timings") or {}).items())
            self.details.setHtml(
                f"<p><b>{row['name']}</b>: learned {_percent(metrics.get('learned'))}, unseen phrasings "
                f"{_percent(metrics.get('paraphrased'))}, kept {_percent(metrics.get('kept'))}, articles "
                f"{_percent(metrics.get('article_held_out'))}; replay perplexity "
                f"{metrics.get('replay_perplexity_before', '–')} → {metrics.get('replay_perplexity_after', '–')}."
                f"<br>Stages: {timings}</p>" + item_html(row["results"], Theme.of(self.palette())))
        self.rollback_button.setEnabled(not row["live"])
        self.rollback_button.setText("Accept: make it live" if row["waiting"] else "Make this version live")
        self.reject_button.setVisible(row["waiting"])

    def rollback_selected(self) -> None:
        selected = self.table.selectionModel().selectedRows()
        if not selected:
            return
        row, lineage = self.rows[selected[0].row()], self.model.lineage

        def change(_) -> str:
            if row["waiting"]:
                lineage.accept(row["name"])
                return row["name"]
            with Store() as store:
                return lineage.rollback(store, row["name"])

        def done(live: str) -> None:
            self.rolled_back.emit(live)
            self.refresh()

        run_in_background(change, done, self.show_error)

    def reject_selected(self) -> None:
        selected = self.table.selectionModel().selectedRows()
        if selected and self.rows[selected[0].row()]["waiting"]:
            name, lineage = self.rows[selected[0].row()]["name"], self.model.lineage
            run_in_background(lambda _: lineage.reject(name), lambda _: self.refresh(), self.show_error)

    # -- topics --------------------------------------------------------------------------

    def _topics_tab(self) -> QWidget:
        self.topic_table = read_only_table(["Topic", "Status", "Score", "Why"], stretch=3)
        self.consent_label = QLabel()
        self.consent_label.setWordWrap(True)
        self.consent_button = QPushButton()
        self.consent_button.clicked.connect(self.toggle_wikipedia_consent)
        consent = QHBoxLayout()
        consent.addWidget(self.consent_label, 1)
        consent.addWidget(self.consent_button)
        buttons = QHBoxLayout()
        for label, status in (("Approve", "approved"), ("Block", "blocked")):
            button = QPushButton(label)
            button.clicked.connect(lambda _=False, s=status: self.set_selected_topic(s))
            buttons.addWidget(button)
        add = QPushButton("Add topic…")
        add.clicked.connect(self.add_topic)
        buttons.addWidget(add)
        buttons.addStretch()
        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.addLayout(consent)
        self.approval_label = QLabel()
        self.approval_label.setWordWrap(True)
        layout.addWidget(self.approval_label)
        layout.addWidget(self.topic_table)
        layout.addLayout(buttons)
        return tab

    @staticmethod
    def _store_rows() -> tuple[list[topics.Topic], list[tuple[TaughtItem, str]], Settings]:
        settings, _ = Settings.load_with_problems()  # the window reported the problems as it opened
        with Store() as store:
            topics.mine(store, settings)
            curriculum = collect.preview(store, settings)
            items = [(i, curriculum.state(i)) for i in curriculum.all_items()]
            return topics.listing(store, limit=200), items, settings

    def _show_consent(self, settings: Settings) -> None:
        self.wikipedia_consent = settings.wikipedia_consent
        if settings.wikipedia_consent:
            self.consent_label.setText("Wikipedia reading is on: the topics below that you approve or add are "
                                       "searched for on Wikipedia and their articles learned.")
            self.consent_button.setText("Stop reading Wikipedia")
        else:
            self.consent_label.setText("Wikipedia reading is off until you agree: nothing is sent to Wikipedia.")
            self.consent_button.setText("Allow reading Wikipedia…")
        self.approval_label.setText(
            "Topics mined from your messages, and why. " + (
                "They are read about once mentioned often enough, except those that look like a person's name "
                "or a health matter, which wait for your approval." if settings.auto_approve_topics else
                "They wait for your approval; topics you add are read about too. Blocked ones never are."))

    def toggle_wikipedia_consent(self) -> None:
        agree = not self.wikipedia_consent
        if agree and QMessageBox.question(self, "Read Wikipedia about your topics?", WIKIPEDIA_QUESTION) != (
                QMessageBox.StandardButton.Yes):
            return
        run_in_background(lambda _: Settings.change(wikipedia_consent=agree), lambda _: self.refresh(),
                          self.show_error)

    def _fill_topics(self, rows: list[topics.Topic]) -> None:
        self.topic_rows = rows
        self.topic_table.setRowCount(len(rows))
        for r, t in enumerate(rows):
            why = t.why() + (f" → {t.article_title}" if t.article_title else "")
            for c, text in enumerate([t.name, t.status, f"{t.score:.2f}", why]):
                item = QTableWidgetItem(text)
                if t.flag and t.status == "mined":
                    item.setToolTip(f"{t.flag}: never searched for unless you approve it")
                self.topic_table.setItem(r, c, item)

    def _change_topic(self, name: str, status: str) -> None:
        def change(_):
            with Store() as store:
                return topics.set_status(store, name, status)

        run_in_background(change, lambda _: self.refresh(), self.show_error)

    def set_selected_topic(self, status: str) -> None:
        selected = self.topic_table.selectionModel().selectedRows()
        if selected:
            self._change_topic(self.topic_rows[selected[0].row()].name, status)

    # -- training data -------------------------------------------------------------------

    def _data_tab(self) -> QWidget:
        self.data_table = read_only_table(["", "Question", "Answer", "From"], stretch=2)
        toggle = QPushButton("Drop / restore selected")
        toggle.clicked.connect(self.toggle_selected_item)
        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.addWidget(QLabel("What the next cycle teaches. Dropped items are never trained on, in any phrasing; "
                                "a question taught two different ways is left out until you drop one side."))
        layout.addWidget(self.data_table)
        layout.addWidget(toggle, alignment=Qt.AlignmentFlag.AlignRight)
        return tab

    def _fill_data(self, items: list[tuple[TaughtItem, str]]) -> None:
        self.data_items = items
        self.data_table.setRowCount(len(items))
        for r, (item, state) in enumerate(items):
            for c, text in enumerate([STATE_LABELS[state], item.question, item.answer, item.source.describe()]):
                self.data_table.setItem(r, c, QTableWidgetItem(text))

    def toggle_selected_item(self) -> None:
        selected = self.data_table.selectionModel().selectedRows()
        if not selected:
            return
        item, state = self.data_items[selected[0].row()]

        def toggle(_):
            with Store() as store:
                if state == "dropped":
                    collect.restore(store, item.key)
                else:
                    collect.drop(store, item)

        run_in_background(toggle, lambda _: self.refresh(), self.show_error)

    def add_topic(self) -> None:
        name, ok = QInputDialog.getText(self, "Add a topic", "A subject to read about on Wikipedia:")
        if ok and name.strip():
            self._change_topic(name.strip(), "added")
