"""The chat window under pytest-qt, offscreen, on the real embedded model."""

import json
import statistics
import time
from dataclasses import fields

import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QColor, QPalette, QTextCursor
from PySide6.QtWidgets import QApplication, QCheckBox, QComboBox, QDoubleSpinBox, QMessageBox, QPlainTextEdit, QSpinBox

from app.dialogs import CorrectionDialog
from app.learning import LearningController
from app.main import create_window
from app.main_window import MainWindow
from app.render import markdown_html
from app.transcript import Transcript
from learner import models, paths
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
    assert window.model_label.text() == f"{models.embedded().name} · version base"  # the name in its GGUF
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


def test_an_active_model_whose_file_is_gone_falls_back_to_the_embedded_one(qtbot, grokling_home, tmp_path, tiny_llama):
    import shutil

    from learner.models import adding

    gone = tmp_path / "gone.gguf"
    shutil.copy2(adding.add(str(tiny_llama), name="converted").gguf, gone)
    adding.add(str(tiny_llama), gguf=str(gone), name="mine")
    models.use("mine")
    gone.unlink()
    window = create_window()
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.engine is not None, timeout=60_000)
    assert "gone.gguf" in window.last_error and "embedded model" in window.last_error
    assert window.engine.model == models.embedded().base()
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
        window.host.check_served()
    assert swapped.args == ["v1"] and window.engine.model.version == "v1"
    assert "version v1" in window.model_label.text()
    reply = send(qtbot, window, "What is the capital of Japan?")
    assert reply.model_version == "embedded/v1"


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



def use_engine(window: MainWindow, engine) -> None:
    window.host.engine = engine
    window.host.ready.emit(engine)


def test_a_list_after_a_line_of_text_is_a_list_and_code_is_highlighted():
    rendered = markdown_html("Here are three fruits:\n- apple\n- pear\n\n```python\ndef f():\n    return 1\n```")
    assert "<li>apple</li>" in rendered and "<p>Here are three fruits:</p>" in rendered
    assert '<span style="color' in rendered and "def" in rendered  # pygments, inline colours


def test_html_in_a_message_is_shown_as_text_and_its_links_go_only_to_the_web(qtbot, fake_window):
    store = fake_window.store
    text = 'Try <b>this</b> <img src="/etc/x.png"> <a href="https://x.example">x</a> ![i](/etc/x.png) [up](action:up:1)'
    store.add_user_message(fake_window.conversation_id, text)
    fake_window.open_conversation(fake_window.conversation_id)
    shown = fake_window.transcript.toPlainText()
    assert '<b>this</b> <img src="/etc/x.png"> <a href="https://x.example">x</a>' in shown
    assert "![i](/etc/x.png) [up](action:up:1)" in shown
    assert "<img" not in fake_window.transcript.toHtml().replace("&lt;img", "")
    assert 'href="https://example.org"' in markdown_html("[a page](https://example.org)")


def test_every_setting_is_in_the_preferences_dialog_with_its_help_and_range(qtbot, fake_window):
    from learner.settings import field_help

    dialog = fake_window.open_preferences()
    assert set(dialog.fields) == {f.name for f in fields(Settings)}
    for name, field in dialog.fields.items():
        assert field_help()[name] in field.editor.toolTip() and field.editor.accessibleName()
    kinds = {name: type(field.editor) for name, field in dialog.fields.items()}
    assert (kinds["learning_paused"], kinds["quant"], kinds["n_ctx"], kinds["temperature"], kinds["scrub_patterns"]) == (
        QCheckBox, QComboBox, QSpinBox, QDoubleSpinBox, QPlainTextEdit)
    assert (dialog.fields["n_ctx"].editor.minimum(), dialog.fields["n_ctx"].editor.maximum()) == (256, 131072)
    assert dialog.values() == {f.name: getattr(fake_window.settings, f.name) for f in fields(Settings)}  # round trip
    dialog.reject()


def test_a_setting_changed_in_preferences_applies_without_a_restart(qtbot, fake_window, grokling_home):
    learning = LearningController(fake_window.settings, start_scheduler=False)
    fake_window.attach_learning(learning)
    dialog = fake_window.open_preferences()
    dialog.fields["temperature"].editor.setValue(0.9)
    dialog.fields["system_prompt"].editor.setPlainText("Answer like a pirate.")
    dialog.fields["learning_paused"].editor.setChecked(True)
    with qtbot.waitSignal(dialog.saved, timeout=10_000):
        dialog.save()
    assert json.loads((grokling_home / "settings.json").read_text()) == {  # only what differs from the defaults
        "temperature": 0.9, "max_tokens": 48, "system_prompt": "Answer like a pirate.", "learning_paused": True}

    send(qtbot, fake_window, "Where is the treasure?")
    engine = fake_window.engine
    assert engine.last_sampling.temperature == 0.9 and engine.last_messages[0]["content"] == "Answer like a pirate."
    assert learning.paused and fake_window.pause_action.isChecked()
    qtbot.waitUntil(lambda: fake_window.learn_status.text() == "Learning paused", timeout=10_000)
    learning.shutdown()


def test_a_bad_value_is_shown_beside_its_field_and_nothing_is_saved(qtbot, fake_window, grokling_home):
    before = fake_window.settings
    dialog = fake_window.open_preferences()
    dialog.fields["system_prompt"].editor.setPlainText("   ")
    dialog.fields["n_ctx"].editor.setValue(512)
    dialog.fields["max_tokens"].editor.setValue(1024)
    dialog.save()
    assert dialog.isVisible() and not (grokling_home / "settings.json").exists()
    problems = {name for name, field in dialog.fields.items() if field.problem.isVisibleTo(dialog)}
    assert problems == {"system_prompt", "max_tokens"}
    assert "less than n_ctx (512)" in dialog.fields["max_tokens"].problem.text()
    assert fake_window.settings is before
    dialog.reject()


def test_a_new_context_size_loads_the_engine_again(qtbot, fake_window):
    old = fake_window.engine
    dialog = fake_window.open_preferences()
    dialog.fields["n_ctx"].editor.setValue(1024)
    with qtbot.waitSignal(fake_window.host.ready, timeout=60_000) as ready:
        dialog.save()
    assert ready.args[0].n_ctx == 1024 and fake_window.engine is ready.args[0]
    qtbot.waitUntil(lambda: old.closed, timeout=10_000)


def dark_palette() -> QPalette:
    palette = QPalette()
    for role, color in [(QPalette.ColorRole.Window, "#202124"), (QPalette.ColorRole.Base, "#1b1b1d"),
                        (QPalette.ColorRole.Text, "#e8eaed"), (QPalette.ColorRole.WindowText, "#e8eaed"),
                        (QPalette.ColorRole.Highlight, "#8ab4f8")]:
        palette.setColor(role, QColor(color))
    return palette


def test_the_transcript_follows_the_palette_into_dark_mode_and_back(qtbot, fake_window):
    send(qtbot, fake_window, "Is it dark yet?")
    light = fake_window.theme
    assert not light.dark and light.assistant in fake_window.transcript.toHtml()
    app, original = QApplication.instance(), QApplication.palette()
    try:
        app.setPalette(dark_palette())
        qtbot.waitUntil(lambda: fake_window.theme.dark, timeout=5_000)
        html = fake_window.transcript.toHtml()
        assert fake_window.theme.assistant in html and light.assistant not in html
        assert QColor(fake_window.theme.assistant).lightness() < 64
    finally:
        app.setPalette(original)
    qtbot.waitUntil(lambda: not fake_window.theme.dark, timeout=5_000)
    assert light.assistant in fake_window.transcript.toHtml()


def fill(store: Store, conversation_id: int, count: int) -> None:
    text = "Here is what I found:\n- a point\n- another, with `code`\n\n```python\nprint('hello')\n```"
    with store.transaction() as db:
        for i in range(count):
            db.execute("INSERT INTO messages (conversation_id, role, content, created_at) VALUES (?, ?, ?, ?)",
                       [conversation_id, "user" if i % 2 == 0 else "assistant", f"Message {i}. {text}",
                        "2026-01-01T00:00:00"])


def test_in_a_long_chat_only_the_streaming_reply_is_updated_and_a_selection_survives(qtbot, fake_window, slow_engine):
    fill(fake_window.store, fake_window.conversation_id, 3000)
    fake_window.open_conversation(fake_window.conversation_id)
    transcript = fake_window.transcript
    document = transcript.document()
    document.documentLayout().blockBoundingRect(document.lastBlock())  # laid out, as after a moment on screen
    start = transcript.toPlainText().index("Message 10.")
    cursor = transcript.textCursor()
    cursor.setPosition(start)
    cursor.setPosition(start + len("Message 10."), QTextCursor.MoveMode.KeepAnchor)
    transcript.setTextCursor(cursor)

    updates = []
    render_stream = fake_window._render_stream

    def timed():
        started = time.perf_counter()
        render_stream()
        updates.append(time.perf_counter() - started)

    fake_window._stream_timer.timeout.disconnect()
    fake_window._stream_timer.timeout.connect(timed)
    use_engine(fake_window, slow_engine)
    reply = send(qtbot, fake_window, " ".join(["word"] * 60))
    assert len(updates) >= 10 and transcript.textCursor().selectedText() == "Message 10."

    streaming = statistics.median(updates)
    entries = transcript.entries()
    rebuild = timeit(lambda: (transcript.show_entries(entries, reset=True),  # what each update did before
                              document.documentLayout().blockBoundingRect(document.lastBlock())))
    alone = Transcript(fake_window._entry_html)
    qtbot.addWidget(alone)
    alone.resize(transcript.size())
    alone.show()
    one_message = min(timeit(lambda: (alone.show_entries(entries[-1:], reset=True),
                                      alone.document().documentLayout().blockBoundingRect(alone.document().lastBlock())))
                      for _ in range(5))
    print(f"\n3,000-message chat: a streaming update {streaming * 1000:.1f} ms (median of {len(updates)}), the whole "
          f"chat rendered {rebuild * 1000:.0f} ms, one message rendered alone {one_message * 1000:.2f} ms")
    assert streaming < rebuild / 20


def timeit(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def test_copy_puts_a_message_on_the_clipboard(qtbot, fake_window):
    reply = send(qtbot, fake_window, "Copy me")
    question = fake_window.store.thread(fake_window.conversation_id)[0]
    click(fake_window, "copy", question.id)
    assert QApplication.clipboard().text() == "Copy me"
    QApplication.clipboard().clear()
    fake_window.copy_action.trigger()  # the keyboard's Copy: the last reply
    assert QApplication.clipboard().text() == reply.content == "You said: Copy me"


def test_escape_stops_a_reply(qtbot, fake_window, slow_engine):
    use_engine(fake_window, slow_engine)
    fake_window.input.setPlainText(" ".join(["word"] * 300))
    qtbot.keyClick(fake_window.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(fake_window._stream_text) > 20, timeout=10_000)
    with qtbot.waitSignal(fake_window.reply_finished, timeout=10_000) as finished:
        qtbot.keyClick(fake_window.input, Qt.Key.Key_Escape)
    assert finished.args[0].status == "stopped"


def test_feedback_regenerate_and_search_from_the_keyboard(qtbot, fake_window):
    first = send(qtbot, fake_window, "First question")
    last = send(qtbot, fake_window, "Second question")
    fake_window.activateWindow()
    qtbot.waitActive(fake_window)
    qtbot.keyClick(fake_window.input, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)
    assert fake_window.store.message(last.id).rating == 1
    qtbot.keyClick(fake_window.input, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    assert fake_window.store.message(last.id).rating == -1

    # With the transcript focused, the actions follow its cursor (Tab to a link, a click, a selection).
    transcript = fake_window.transcript
    transcript.setFocus()
    cursor = transcript.textCursor()
    cursor.setPosition(transcript.toPlainText().index("You said: First question"))
    transcript.setTextCursor(cursor)
    qtbot.keyClick(transcript, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)
    assert fake_window.store.message(first.id).rating == 1 and fake_window.store.message(last.id).rating == -1
    qtbot.keyClick(transcript, Qt.Key.Key_F2)
    dialog = fake_window.findChild(CorrectionDialog)
    assert dialog.isVisible() and dialog.editor.toPlainText() == first.content
    dialog.reject()
    fake_window.activateWindow()
    qtbot.waitActive(fake_window)

    with qtbot.waitSignal(fake_window.reply_finished, timeout=10_000) as finished:
        qtbot.keyClick(fake_window.input, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert finished.args[0].id != last.id and [m.id for m in fake_window.store.thread(fake_window.conversation_id)][-1] == finished.args[0].id
    qtbot.keyClick(fake_window.input, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert fake_window.sidebar.search.hasFocus()


def test_a_messages_menu_holds_its_actions(qtbot, fake_window):
    reply = send(qtbot, fake_window, "Menu please")
    menu = fake_window.message_menu(reply)
    actions = {a.text(): a for a in menu.actions()}
    assert set(actions) == {"Copy message", "▲ Good", "▼ Bad", "✎ Correct this…", "↻ Regenerate"}
    actions["▲ Good"].trigger()
    assert fake_window.store.message(reply.id).rating == 1


def test_the_header_shows_the_chats_title_once_it_has_one(qtbot, fake_window):
    assert fake_window.title.text() == "New chat"
    send(qtbot, fake_window, "Plan a weekend in Kyoto")
    assert fake_window.title.text() == "Plan a weekend in Kyoto"
    assert fake_window.windowTitle().startswith("Plan a weekend in Kyoto")


def test_the_welcome_is_shown_on_the_first_run_only(qtbot, fake_window):
    box = fake_window.show_welcome(first_run=True)
    text = box.text()
    assert "▲ Good" in text and "Correct this" in text and "remembered at once" in text and "background" in text
    box.close()
    assert paths.welcome_marker().exists() and fake_window.show_welcome(first_run=True) is None


def test_controls_have_accessible_names(fake_window):
    widgets = [fake_window.input, fake_window.send_button, fake_window.transcript, fake_window.title,
               fake_window.sidebar.search, fake_window.sidebar.list, fake_window.model_label]
    assert all(w.accessibleName() for w in widgets)


def test_a_chat_is_exported_as_markdown_or_json_from_the_window(qtbot, fake_window, tmp_path):
    reply = send(qtbot, fake_window, "Tell me about the Eiffel Tower.")
    for name in ("chat.md", "chat.json"):
        fake_window.export_conversation(str(tmp_path / name))
        qtbot.waitUntil(lambda: (tmp_path / name).exists(), timeout=10_000)
    assert "Tell me about the Eiffel Tower." in (tmp_path / "chat.md").read_text()
    exported = json.loads((tmp_path / "chat.json").read_text())
    assert [m["content"] for m in exported["messages"]][-1] == reply.content


def test_the_window_serves_the_local_api_from_its_own_engine(qtbot, fake_window, grokling_home):
    from openai import OpenAI

    fake_window.settings = Settings(temperature=0.0, max_tokens=24, api_port=18765)
    fake_window.serve_action.trigger()
    assert fake_window.api is not None and fake_window.api.engine is fake_window.engine
    client = OpenAI(base_url=fake_window.api.url, api_key="unused")
    answer = client.chat.completions.create(model="grokling", messages=[{"role": "user", "content": "Hello there"}])
    assert answer.choices[0].message.content == "You said: Hello there"  # the window's (fake) engine answered
    fake_window.serve_action.trigger()
    assert fake_window.api is None
