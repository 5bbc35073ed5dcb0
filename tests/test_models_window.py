"""The Models dialog and the model host under pytest-qt, offscreen: add with progress, refuse with the
reason, use (the window loads the model), remove; a switch made from a terminal is followed; chat gives
the GPU to a learning cycle that borrows it and takes it back."""

import os

from app.models_dialog import ModelsDialog
from learner import gpu, models
from learner.models import adding
from test_window import fake_window, send, window  # noqa: F401  (fake_window, window: fixtures)


def open_dialog(qtbot, window) -> ModelsDialog:
    dialog = window.open_models()
    qtbot.waitUntil(lambda: dialog.table.rowCount() == len(models.all_models()), timeout=10_000)
    return dialog


def cells(dialog: ModelsDialog) -> list[list[str]]:
    return [[dialog.table.item(r, c).text() for c in range(dialog.table.columnCount())]
            for r in range(dialog.table.rowCount())]


def test_a_model_added_in_the_dialog_shows_its_progress_and_is_listed(qtbot, window, tiny_llama):
    dialog = open_dialog(qtbot, window)
    [embedded] = cells(dialog)
    assert embedded[:3] == ["●", models.embedded().name, "comes with grokling"]
    assert not dialog.use_button.isEnabled() and not dialog.remove_button.isEnabled()  # the embedded, active one
    seen = []
    dialog.progress_bar.valueChanged.connect(lambda value: seen.append((dialog.progress_label.text(), value)))
    with qtbot.waitSignal(dialog.busy_changed, timeout=120_000, check_params_cb=lambda busy: not busy):
        dialog.add(str(tiny_llama), None, "tiny")
        assert dialog.busy and dialog.progress_bar.isVisible() and not dialog.add_folder_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 2, timeout=10_000)
    assert any("quantizing to Q8_0" in label for label, _ in seen) and dialog.progress_label.text().startswith("Added tiny")
    assert cells(dialog)[1][1:4] == ["tiny", "HF folder, converted by grokling", "llama"]
    assert dialog.add_folder_button.isEnabled()


def test_a_refused_model_is_explained_and_nothing_is_listed(qtbot, window, tmp_path):
    (tmp_path / "not-a-model").mkdir()
    dialog = open_dialog(qtbot, window)
    with qtbot.waitSignal(dialog.busy_changed, timeout=60_000, check_params_cb=lambda busy: not busy):
        dialog.add(str(tmp_path / "not-a-model"), None, "nothing")
    assert "no config.json: it is not a Hugging Face checkpoint folder" in dialog.last_error
    assert dialog.table.rowCount() == 1 and not dialog.progress_bar.isVisible()


def test_using_a_model_loads_it_names_it_in_the_status_bar_and_replies_name_it(qtbot, window, tiny_llama,
                                                                                 promote_embedded):
    adding.add(str(tiny_llama), name="tiny")
    promote_embedded()  # the embedded model's v1: kept while another model answers
    qtbot.waitUntil(lambda: "version v1" in window.model_label.text(), timeout=60_000)  # the host's poll swaps it in
    dialog = open_dialog(qtbot, window)
    dialog.select("tiny")
    assert dialog.use_button.isEnabled() and dialog.remove_button.isEnabled()
    with qtbot.waitSignal(window.model_swapped, timeout=60_000):
        dialog.use_button.click()
    assert window.engine.model.key == "tiny/base" and window.model_label.text() == "tiny · version base"
    assert send(qtbot, window, "Hello?").model_version == "tiny/base"
    qtbot.waitUntil(lambda: cells(dialog)[1][0] == "●", timeout=10_000)
    assert not dialog.remove_button.isEnabled()  # the active one: switch first

    dialog.select(models.embedded().name)
    with qtbot.waitSignal(window.model_swapped, timeout=60_000):
        dialog.use_button.click()
    assert window.engine.model.key == "embedded/v1"  # its live version, kept through the switch
    qtbot.waitUntil(lambda: cells(dialog)[0][5] == "v1 (live)", timeout=10_000)
    dialog.select("tiny")
    dialog.remove_selected(confirm=False)
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 1, timeout=10_000)


def test_a_switch_made_from_a_terminal_is_followed(qtbot, window, tiny_llama):
    adding.add(str(tiny_llama), name="tiny")
    with qtbot.waitSignal(window.model_swapped, timeout=60_000) as swapped:
        models.use("tiny")  # what `grokling models use tiny` does; the host polls every 2 s
    assert swapped.args == ["base"] and window.engine.model.key == "tiny/base"


def test_chat_leaves_the_gpu_while_a_cycle_borrows_it_and_comes_back(qtbot, fake_window, monkeypatch):
    """Without a GPU here, llama.cpp's offload support is what is pretended; the files and the host's moves are
    real (the fake engine stands in for llama.cpp's loads)."""
    monkeypatch.setattr(gpu, "offload_supported", lambda: True)
    host = fake_window.host
    host.engine.n_gpu_layers = -1
    host._held(host.engine)
    mine = gpu._folder() / "holders" / str(os.getpid())
    assert mine.exists() and gpu.holders() == []  # a holder; the test's own loan below waits for others only
    with qtbot.waitSignal(host.gpu_changed, timeout=10_000) as moved:
        with gpu.lent_to_training(True, timeout=10) as still_holding:
            host.poll()  # the timer's look
            assert still_holding == []
            qtbot.waitUntil(lambda: not host.engine.on_gpu, timeout=10_000)
    assert moved.args == [False] and not mine.exists()
    assert "moved to the CPU" in fake_window.statusBar().currentMessage()
    with qtbot.waitSignal(host.gpu_changed, timeout=10_000) as back:
        host.poll()  # the loan is over
    assert back.args == [True] and host.engine.n_gpu_layers == -1 and mine.exists()
