"""The background learner in the window (pytest-qt, offscreen): pause, Learn now, progress,
notifications, the learning panel and rollback from it."""

import json
import time

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMessageBox

from app.learning import LearningController
from app.main import create_window
from learner.learning import cycle, schedule
from learner.models import embedded
from learner.settings import Settings
from learner.store import Store


class StallMeter:
    """The longest gap between 10 ms timer ticks: how long the event loop was blocked."""

    def __init__(self):
        self.worst_s, self._last = 0.0, time.perf_counter()
        self.timer = QTimer(interval=10)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self):
        now = time.perf_counter()
        self.worst_s = max(self.worst_s, now - self._last - 0.010)
        self._last = now


def open_app(qtbot):
    window = create_window(start_scheduler=False)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.engine is not None, timeout=60_000)
    return window


def test_pause_persists_across_a_restart(qtbot, grokling_home):
    window = open_app(qtbot)
    assert not window.learning.paused
    window.pause_action.trigger()
    qtbot.waitUntil(lambda: window.learn_status.text() == "Learning paused", timeout=10_000)
    window.shutdown()
    assert json.loads((grokling_home / "settings.json").read_text()) == {"learning_paused": True}  # not every default

    again = open_app(qtbot)
    assert again.learning.paused and again.pause_action.isChecked()
    qtbot.waitUntil(lambda: again.learn_status.text() == "Learning paused", timeout=10_000)
    again.pause_action.trigger()
    qtbot.waitUntil(lambda: again.learn_status.text().startswith("Next learning after 3"), timeout=10_000)
    again.shutdown()
    assert not Settings.load().learning_paused


def test_a_cycle_that_cannot_use_the_settings_is_not_started_again_until_they_change(qtbot, grokling_home):
    learner = LearningController(Settings(learn_schedule="daily", learn_when_idle_min=0), start_scheduler=False)
    assert schedule.decide(learner.settings, learner.facts()).start
    grokling_home.mkdir(parents=True, exist_ok=True)
    (grokling_home / "settings.json").write_text("{broken")
    with qtbot.waitSignal(learner.finished, timeout=120_000) as finished:
        learner.learn_now()
    assert finished.args[0].code == cycle.BAD_SETTINGS and "not valid JSON" in finished.args[0].reason

    waiting = schedule.decide(learner.settings, learner.facts())  # what every minute's tick asks
    assert not waiting.start and "settings.json" in waiting.status
    (grokling_home / "settings.json").write_text("{}")
    assert schedule.decide(learner.settings, learner.facts()).start
    learner.shutdown()


def test_learn_now_reports_progress_and_the_outcome(qtbot, grokling_home):
    window = open_app(qtbot)
    stages = []
    window.learning.progress.connect(lambda e: stages.append(e["stage"]))
    with qtbot.waitSignal(window.learning.finished, timeout=120_000) as finished:
        window.learn_now_action.trigger()
        assert not window.learn_now_action.isEnabled() and window.cancel_learning_action.isEnabled()
    assert finished.args[0].code == cycle.NOTHING_TO_LEARN
    assert "collect" in stages
    assert window.last_notification.startswith("Nothing to learn")
    qtbot.waitUntil(lambda: window.learn_now_action.isEnabled(), timeout=10_000)
    window.shutdown()


def test_rollback_from_the_panel_changes_the_live_model(qtbot, grokling_home, promote_embedded):
    promote_embedded()
    promote_embedded()
    window = open_app(qtbot)
    assert window.engine.model.version == "v2"
    panel = window.open_learning_panel()
    qtbot.waitUntil(lambda: panel.table.rowCount() == 3, timeout=10_000)
    assert [panel.table.item(r, 0).text() for r in range(3)] == ["base", "v1", "v2  (live)"]
    assert panel.chart.rows and [r["name"] for r in panel.chart.rows] == ["v1", "v2"]
    panel.table.selectRow(1)
    with qtbot.waitSignal(window.model_swapped, timeout=60_000) as swapped:
        panel.rollback_button.click()
    assert swapped.args == ["v1"] and embedded().lineage.live_version().name == "v1"
    qtbot.waitUntil(lambda: panel.table.item(1, 0).text() == "v1  (live)", timeout=10_000)
    window.shutdown()


@pytest.mark.slow
def test_a_real_cycle_from_the_window_keeps_the_event_loop_and_chat_responsive(qtbot, warm_embedded_home):
    # half an epoch: the step floor, enough for chat to run while it trains (whether it learns: test_learning_cycle)
    Settings(learn_from_wikipedia=False, temperature=0.0, max_tokens=32, train_epochs=0.5).save()
    window = open_app(qtbot)
    window.new_conversation()
    reply = _send(qtbot, window, "Who founded Zorblax Labs?")
    window.store.correct(reply.id, "Mira Quell founded Zorblax Labs in 2041.")
    meter = StallMeter()
    progress = []
    window.learning.progress.connect(lambda e: progress.append((e["stage"], window.learn_progress.value())))
    with qtbot.waitSignal(window.learning.finished, timeout=900_000) as finished:
        window.learn_now_action.trigger()
        qtbot.waitUntil(lambda: any(stage == "train" for stage, _ in progress), timeout=300_000)
        during = _send(qtbot, window, "What is the capital of Japan?")  # chat while it trains
    meter.timer.stop()
    result = finished.args[0]
    print(f"\nworst event-loop stall during the cycle: {meter.worst_s * 1000:.0f} ms; result: {result.reason}")
    assert during.status == "complete" and "Tokyo" in during.content
    assert {"collect", "train", "export", "evaluate"} <= {stage for stage, _ in progress}
    assert result.code in (cycle.PROMOTED, cycle.GATED_OUT)
    assert meter.worst_s < 0.2  # reported figure in the closing note; the target is 50 ms
    window.shutdown()


def _send(qtbot, window, text):
    from test_window import send

    return send(qtbot, window, text)


def test_approval_holds_a_candidate_until_accepted(qtbot, grokling_home, promote_embedded):
    promote_embedded()
    promote_embedded(make_live=False)  # what a cycle does with require_approval on
    promote_embedded(make_live=False)
    assert embedded().lineage.live_version().name == "v1" and [v.name for v in embedded().lineage.awaiting_approval()] == ["v2", "v3"]
    window = open_app(qtbot)
    assert window.engine.model.version == "v1"
    panel = window.open_learning_panel()
    qtbot.waitUntil(lambda: panel.table.rowCount() == 4, timeout=10_000)
    assert panel.table.item(2, 0).text() == "v2  (awaiting approval)"
    panel.table.selectRow(3)
    assert panel.reject_button.isVisible() and panel.rollback_button.text().startswith("Accept")
    panel.reject_button.click()
    qtbot.waitUntil(lambda: panel.table.rowCount() == 3, timeout=10_000)
    panel.table.selectRow(2)
    with qtbot.waitSignal(window.model_swapped, timeout=60_000) as swapped:
        panel.rollback_button.click()
    assert swapped.args == ["v2"] and embedded().lineage.awaiting_approval() == []
    window.shutdown()


def test_training_data_preview_drops_an_item(qtbot, grokling_home):
    store = Store()
    conversation = store.new_conversation()
    store.add_user_message(conversation, "Who founded Zorblax Labs?")
    store.correct(store.add_assistant_message(conversation, "I don't know."), "Mira Quell founded it in 2041.")
    store.close()
    window = open_app(qtbot)
    panel = window.open_learning_panel()
    qtbot.waitUntil(lambda: panel.data_table.rowCount() == 1, timeout=10_000)
    assert panel.data_table.item(0, 1).text() == "Who founded Zorblax Labs?"
    panel.data_table.selectRow(0)
    panel.toggle_selected_item()
    qtbot.waitUntil(lambda: panel.data_table.item(0, 0).text() == "dropped", timeout=10_000)
    with qtbot.waitSignal(window.learning.finished, timeout=120_000) as finished:
        window.learn_now_action.trigger()
    assert finished.args[0].code == cycle.NOTHING_TO_LEARN and "dropped" in finished.args[0].reason
    window.shutdown()


def test_the_first_run_asks_about_wikipedia_once_and_the_topics_tab_changes_the_answer(qtbot, grokling_home,
                                                                                      monkeypatch):
    store = Store()
    conversation = store.new_conversation()
    for _ in range(3):
        store.add_user_message(conversation, "Dana Whitfield says Zorblax Labs is hiring.")
    store.close()
    window = open_app(qtbot)
    box = window.consent_box
    assert box.isVisible() and "never your messages" in box.text()
    box.button(QMessageBox.StandardButton.No).click()  # "Not now"
    assert json.loads((grokling_home / "settings.json").read_text()) == {"wikipedia_consent": False}

    panel = window.open_learning_panel()
    qtbot.waitUntil(lambda: panel.topic_table.rowCount() == 2, timeout=10_000)
    assert "off until you agree" in panel.consent_label.text() and "wait for your approval" in panel.approval_label.text()
    why = {panel.topic_table.item(r, 0).text(): panel.topic_table.item(r, 3).text() for r in range(2)}
    assert "looks like a person's name" in why["Dana Whitfield"] and "person" not in why["Zorblax Labs"]
    monkeypatch.setattr(QMessageBox, "question", lambda *args: QMessageBox.StandardButton.Yes)
    panel.consent_button.click()
    qtbot.waitUntil(lambda: "is on" in panel.consent_label.text(), timeout=10_000)
    assert Settings.load().wikipedia_consent
    window.shutdown()

    again = open_app(qtbot)
    assert again.consent_box is None  # answered once: never asked again
    again.shutdown()
