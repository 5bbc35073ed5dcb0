"""The chat window under pytest-qt, offscreen, on the real embedded model."""

import json

import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtWidgets import QMessageBox

from app.dialogs import CorrectionDialog
from app.main import create_window
from app.main_window import MainWindow
from learner.chat.served import embedded_model
from learner.settings import Settings
from learner.store import Store


def open_window(qtbot, settings: Settings) -> MainWindow:
    window = MainWindow(Store(), settings)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.engine_ready, timeout=60_000):
        window.load_model(embedded_model())
    window.show()
    return window


@pytest.fixture
def fake_window(qtbot, greedy_settings, fake_engine):
    """The window over a FakeEngine: for what does not depend on the model's words."""
    window = MainWindow(Store(), greedy_settings)
    qtbot.addWidget(window)
    window.host.engine = fake_engine
    window.host.ready.emit(fake_engine)
    window.show()
    window.new_conversation()
    yield window
    window.shutdown()


@pytest.fixture
def window(qtbot, greedy_settings):
    window = open_window(qtbot, greedy_settings)
    window.new_conversation()
    yield window
    window.shutdown()


def send(qtbot, window: MainWindow, text: str):
    window.input.setPlainText(text)
    with qtbot.waitSignal(window.reply_finished, timeout=120_000) as finished:
        qtbot.keyClick(window.input, Qt.Key.Key_Return)
    return finished.args[0]


def click(window: MainWindow, action: str, message_id: int) -> None:
    window.transcript.anchorClicked.emit(QUrl(f"action:{action}:{message_id}"))


def test_sending_streams_the_reply_into_the_transcript_and_stores_it(qtbot, window):
    renders = []
    window.transcript.textChanged.connect(lambda: renders.append(window.transcript.toPlainText()))
    reply = send(qtbot, window, "What is the capital of Japan?")
    assert reply.status == "complete" and "Tokyo" in reply.content
    streamed = [r for r in renders if "grokling" in r and "Tokyo" not in r]
    assert streamed, "the reply was not shown while it was being generated"
    text = window.transcript.toPlainText()
    assert "What is the capital of Japan?" in text and "Tokyo" in text
    assert window.input.toPlainText() == ""
    assert window.send_button.text() == "Send"
    assert "tok/s" in window.speed_label.text()
    assert "SmolLM2-135M-Instruct" in window.model_label.text()
    [item] = [window.conversation_list.item(i) for i in range(window.conversation_list.count())]
    assert item.text() == "What is the capital of Japan?"


def test_thumbs_and_a_correction_persist_after_reopening(qtbot, window, greedy_settings):
    reply = send(qtbot, window, "Who wrote Hamlet?")
    click(window, "up", reply.id)
    assert window.store.message(reply.id).rating == 1
    click(window, "up", reply.id)  # clicking again clears it
    assert window.store.message(reply.id).rating == 0
    click(window, "down", reply.id)
    assert window.store.message(reply.id).rating == -1

    click(window, "correct", reply.id)
    dialog = window.findChild(CorrectionDialog)
    assert dialog.isVisible() and dialog.editor.toPlainText() == reply.content  # prefilled
    dialog.editor.setPlainText("William Shakespeare wrote Hamlet around 1600.")
    dialog.accept()
    assert window.store.message(reply.id).correction == "William Shakespeare wrote Hamlet around 1600."
    conversation_id = window.conversation_id
    window.shutdown()
    window.close()

    again = open_window(qtbot, greedy_settings)
    again.open_conversation(conversation_id)
    text = again.transcript.toPlainText()
    assert "Your correction" in text and "William Shakespeare wrote Hamlet around 1600." in text
    assert again.store.message(reply.id).rating == -1
    again.shutdown()


def test_stop_ends_the_reply_and_keeps_it_marked_stopped(qtbot, window):
    window.settings = Settings(temperature=0.0, max_tokens=400)
    window.input.setPlainText("Write a very long story about a dragon.")
    qtbot.keyClick(window.input, Qt.Key.Key_Return)
    assert window.send_button.text() == "Stop"
    qtbot.waitUntil(lambda: len(window._stream_text) > 20, timeout=60_000)
    with qtbot.waitSignal(window.reply_finished, timeout=60_000) as finished:
        qtbot.mouseClick(window.send_button, Qt.MouseButton.LeftButton)
    reply = finished.args[0]
    assert reply.status == "stopped" and reply.completion_tokens < 400
    assert "stopped" in window.transcript.toPlainText()


def test_regenerate_replaces_the_last_reply_and_keeps_the_old_one_stored(qtbot, fake_window):
    first = send(qtbot, fake_window, "Name a color.")
    with qtbot.waitSignal(fake_window.reply_finished, timeout=120_000) as finished:
        click(fake_window, "regenerate", first.id)
    second = finished.args[0]
    thread = fake_window.store.thread(fake_window.conversation_id)
    assert [m.id for m in thread] == [thread[0].id, second.id] and second.id != first.id
    assert fake_window.store.message(first.id).content == first.content  # superseded, not deleted


def test_edit_and_resend_replaces_the_message_and_what_followed(qtbot, window):
    send(qtbot, window, "What is the capital of Frnace?")
    question = window.store.thread(window.conversation_id)[0]
    click(window, "edit", question.id)
    assert window.edit_banner.isVisible() and window.input.toPlainText() == question.content
    reply = send(qtbot, window, "What is the capital of Japan?")
    thread = window.store.thread(window.conversation_id)
    assert [m.content for m in thread] == ["What is the capital of Japan?", reply.content]
    assert "Tokyo" in reply.content and not window.edit_banner.isVisible()


def test_an_empty_message_is_not_sent(qtbot, fake_window):
    fake_window.input.setPlainText("   \n  ")
    qtbot.keyClick(fake_window.input, Qt.Key.Key_Return)
    assert not fake_window.generating
    assert fake_window.store.thread(fake_window.conversation_id) == []
    assert "empty" in fake_window.statusBar().currentMessage()


def test_shift_enter_starts_a_new_line_instead_of_sending(qtbot, fake_window):
    qtbot.keyClicks(fake_window.input, "line one")
    qtbot.keyClick(fake_window.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(fake_window.input, "line two")
    assert fake_window.input.toPlainText() == "line one\nline two" and not fake_window.generating


def test_a_huge_paste_is_stored_whole_and_the_failure_shown_in_the_transcript(qtbot, window):
    paste = "x y z " * 200_000
    reply = send(qtbot, window, paste)
    assert reply.status == "error" and "reads at most" in reply.error
    assert window.store.thread(window.conversation_id)[0].content == paste
    assert "Could not answer" in window.transcript.toPlainText()
    assert "more characters not shown" in window.transcript.toPlainText()


def test_conversations_can_be_searched_renamed_and_deleted(qtbot, fake_window):
    send(qtbot, fake_window, "Tell me about the Eiffel Tower.")
    first = fake_window.conversation_id
    fake_window.new_conversation()
    fake_window.store.add_user_message(fake_window.conversation_id, "Boiling eggs")
    fake_window.refresh_conversations()
    assert fake_window.conversation_list.count() == 2
    fake_window.sidebar.search.setText("Eiffel")
    assert fake_window.conversation_list.count() == 1
    fake_window.sidebar.search.clear()
    fake_window.store.rename_conversation(first, "Paris")
    fake_window.refresh_conversations()
    titles = {fake_window.conversation_list.item(i).text() for i in range(2)}
    assert titles == {"Paris", "Boiling eggs"}
    fake_window.delete_conversation(first, confirm=False)
    assert fake_window.conversation_list.count() == 1
    assert [c.title for c in fake_window.store.conversations()] == ["Boiling eggs"]


def test_a_missing_model_in_settings_falls_back_to_the_embedded_one(qtbot, grokling_home, tmp_path):
    grokling_home.mkdir(parents=True, exist_ok=True)
    (grokling_home / "settings.json").write_text(json.dumps({"model_path": str(tmp_path / "gone.gguf")}))
    window = create_window()
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.engine is not None, timeout=60_000)
    assert "gone.gguf" in window.last_error and "embedded model" in window.last_error
    assert window.engine.model.version == "base"
    window.new_conversation()
    assert send(qtbot, window, "What is the capital of Japan?").status == "complete"
    window.shutdown()


def test_malformed_settings_are_reported_and_defaults_used(qtbot, grokling_home):
    grokling_home.mkdir(parents=True, exist_ok=True)
    (grokling_home / "settings.json").write_text("{broken")
    window = create_window()
    qtbot.addWidget(window)
    assert "not valid JSON" in window.last_error
    assert window.settings == Settings()
    assert (grokling_home / "settings.json").read_text() == "{broken"  # the user's file is left alone
    qtbot.waitUntil(lambda: window.engine is not None, timeout=60_000)
    window.shutdown()


def test_a_broken_setting_is_reported_and_only_it_is_on_its_default(qtbot, grokling_home):
    grokling_home.mkdir(parents=True, exist_ok=True)
    # "²".isdigit() is True, and int("²") raised a ValueError that took the window down.
    (grokling_home / "settings.json").write_text('{"learn_daily_at": "²:00", "learn_schedule": "daily"}')
    window = create_window()
    qtbot.addWidget(window)
    assert "'learn_daily_at'" in window.last_error
    assert (window.settings.learn_daily_at, window.settings.learn_schedule) == ("03:00", "daily")
    qtbot.waitUntil(lambda: window.engine is not None, timeout=60_000)
    window.shutdown()


def test_a_version_that_goes_live_is_swapped_in_without_a_restart(qtbot, window, promote_embedded):
    assert window.engine.model.version == "base"
    with qtbot.waitSignal(window.model_swapped, timeout=60_000) as swapped:
        promote_embedded()
        window.host.check_live_version()
    assert swapped.args == ["v1"] and window.engine.model.version == "v1"
    assert "version v1" in window.model_label.text()
    reply = send(qtbot, window, "What is the capital of Japan?")
    assert reply.model_version == "v1"


def test_deleting_a_chat_forgets_its_training_rows_and_says_what_the_live_version_keeps(
        qtbot, fake_window, promote_embedded, grokling_home, monkeypatch):
    promote_embedded()
    reply = send(qtbot, fake_window, "Tell me about the Eiffel Tower.")
    curriculum = grokling_home / "runs" / "20260101-000000" / "collect" / "curriculum.jsonl"
    curriculum.parent.mkdir(parents=True)
    curriculum.write_text(json.dumps({"question": "Tell me about the Eiffel Tower.", "source": {
        "kind": "positive", "message_id": reply.id, "conversation_id": reply.conversation_id}}) + "\n")
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda parent, title, text: asked.append(text) or QMessageBox.StandardButton.Yes)

    fake_window.delete_conversation(reply.conversation_id)

    assert "v1 keeps what it learned from this chat in its weights" in asked[0]
    assert fake_window.store.conversations() == [] and curriculum.read_text() == ""


def test_a_reply_says_what_it_remembered_and_why(qtbot, fake_window):
    store = fake_window.store
    taught_in = store.new_conversation()
    store.add_user_message(taught_in, "Who founded Zorblax Labs?")
    store.correct(store.add_assistant_message(taught_in, "I don't know."), "Mira Quell founded Zorblax Labs in 2041.")
    fake_window.new_conversation()
    reply = send(qtbot, fake_window, "Which person started the company Zorblax Labs?")
    assert reply.recalled and "Remembered from your correction of" in fake_window.transcript.toPlainText()
    click(fake_window, "why", reply.id)
    box = fake_window.findChild(QMessageBox)
    assert "Mira Quell founded Zorblax Labs in 2041." in box.text() and "your correction of" in box.text()
