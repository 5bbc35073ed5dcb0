"""settings.json: each problem reported by key, only that key on its default, and saving keeps the file's own content."""

import json
from dataclasses import fields

import pytest

from learner import paths
from learner.settings import GROUPS, Settings, SettingsError, field_help

FLOATS = [f.name for f in fields(Settings) if float in getattr(f.type, "__args__", (f.type,))]


def write(grokling_home, text: str) -> None:
    grokling_home.mkdir(parents=True, exist_ok=True)
    paths.settings_path().write_text(text)


def test_an_unknown_key_is_reported_and_the_rest_of_the_file_applies(grokling_home):
    write(grokling_home, '{"temprature": 1.0, "temperature": 0.7, "learning_paused": true}')
    settings, problems = Settings.load_with_problems()
    assert (settings.temperature, settings.learning_paused) == (0.7, True)
    assert problems == ["settings.json: unknown setting 'temprature', ignored"]


def test_a_retired_setting_says_what_replaced_it_and_leaves_with_drop_retired(grokling_home):
    write(grokling_home, '{"model_path": "/m/mine.gguf", "base_model": "/m/mine-hf", "temperature": 0.5}')
    settings, problems = Settings.load_with_problems()
    assert settings.temperature == 0.5
    assert problems == [
        "settings.json: setting 'model_path' is retired: a GGUF is added as a model together with the checkpoint "
        "it came from (Model > Models…, or grokling models add /m/mine-hf --gguf /m/mine.gguf); ignored",
        "settings.json: setting 'base_model' is retired: add it as a model, which grokling converts "
        "(Model > Models…, or grokling models add /m/mine-hf); ignored"]
    assert Settings.retired() == {"model_path": "/m/mine.gguf", "base_model": "/m/mine-hf"}
    Settings.drop_retired()
    assert json.loads(paths.settings_path().read_text()) == {"temperature": 0.5}
    assert Settings.load_with_problems()[1] == []


def test_an_invalid_value_puts_that_key_alone_on_its_default_and_leaves_the_file_as_it_is(grokling_home):
    text = '{"top_p": "high", "temperature": 0.7, "n_ctx": 100}'
    write(grokling_home, text)
    settings, problems = Settings.load_with_problems()
    assert (settings.top_p, settings.n_ctx, settings.temperature) == (0.9, 4096, 0.7)
    assert len(problems) == 2 and "'top_p'" in problems[0] and "'n_ctx'" in problems[1]
    assert paths.settings_path().read_text() == text


@pytest.mark.parametrize("name", FLOATS)
@pytest.mark.parametrize("number", ["Infinity", "-Infinity", "NaN"])
def test_no_float_setting_takes_a_number_that_is_not_finite(grokling_home, name, number):
    write(grokling_home, f'{{"{name}": {number}}}')  # json.loads accepts these
    settings, problems = Settings.load_with_problems()
    assert getattr(settings, name) == getattr(Settings(), name)
    assert len(problems) == 1 and "finite" in problems[0]


@pytest.mark.parametrize("name, value", [
    ("learn_daily_at", "²:00"), ("learn_daily_at", "3:00\n"), ("learn_daily_at", "24:00"),
    ("wiki_language", "evil.com/x#"), ("wiki_language", "en\n"), ("wiki_language", "EN"),
    ("wiki_api_url", "https://{lang}.wikipedia.org/w/api.php"), ("wiki_api_url", "file:///etc/passwd"),
    ("system_prompt", ""), ("system_prompt", "   "), ("n_gpu_layers", -1),
    ("n_ctx", 10**9), ("n_threads", 0), ("top_k", -1), ("max_tokens", 0), ("repeat_penalty", 0),
    ("train_epochs", 1e6), ("replay_ratio", -1), ("keep_versions", 0), ("versions_budget_mb", 0),
    ("learn_after_corrections", 0), ("max_corrections_per_cycle", 0), ("learn_when_idle_min", -1),
    ("learn_min_interval_min", 1e9), ("wiki_min_interval_s", -1), ("wiki_timeout_s", 0),
    ("topic_min_mentions", 0), ("topic_half_life_days", 0), ("topics_per_cycle", -1), ("facts_per_article", 0),
    ("gate_learned", 1.5), ("gate_kept", -0.1), ("gate_articles", 2), ("quant", "Q3"), ("learn_schedule", "hourly"),
    ("scrub_patterns", ["(unclosed"]), ("learning_paused", "yes"), ("keep_versions", 2.0),
    ("api_port", 80), ("api_port", 70000), ("api_key", "two words"), ("api_key", ""), ("api_key", "clé"),
])
def test_every_setting_refuses_a_value_out_of_its_range(grokling_home, name, value):
    with pytest.raises(SettingsError, match=name):
        Settings(**{name: value})
    write(grokling_home, json.dumps({name: value}))
    settings, problems = Settings.load_with_problems()
    assert getattr(settings, name) == getattr(Settings(), name) and len(problems) == 1


@pytest.mark.parametrize("code", ["en", "simple"])
def test_english_wikipedias_are_accepted(code):
    assert Settings(wiki_language=code).wiki_language == code


@pytest.mark.parametrize("code", ["de", "fr", "zh-yue", "be-tarask"])
def test_other_wikipedia_languages_are_refused_with_the_reason(grokling_home, code):
    with pytest.raises(SettingsError, match="English Wikipedia only"):
        Settings(wiki_language=code)
    write(grokling_home, json.dumps({"wiki_language": code}))
    settings, [problem] = Settings.load_with_problems()
    assert settings.wiki_language == "en" and "picks topics and asks questions in English" in problem


def test_max_tokens_must_fit_in_the_context_and_both_fall_back_together(grokling_home):
    write(grokling_home, '{"n_ctx": 512, "max_tokens": 1024, "temperature": 0.1}')
    settings, [problem] = Settings.load_with_problems()
    assert (settings.n_ctx, settings.max_tokens, settings.temperature) == (4096, 512, 0.1)
    assert "max_tokens" in problem


def test_a_file_that_is_not_a_json_object_is_still_an_error(grokling_home):
    write(grokling_home, "{broken")
    with pytest.raises(SettingsError, match="not valid JSON"):
        Settings.load_with_problems()


def test_save_writes_what_differs_from_the_defaults_into_the_file_keeping_its_other_keys(grokling_home):
    Settings(learning_paused=True).save()
    assert json.loads(paths.settings_path().read_text()) == {"learning_paused": True}

    write(grokling_home, '{"temperature": 0.2, "my_note": "keep", "top_p": "high"}')
    settings, _ = Settings.load_with_problems()
    settings.learning_paused = True
    settings.save()
    assert json.loads(paths.settings_path().read_text()) == {
        "temperature": 0.2, "my_note": "keep", "top_p": "high", "learning_paused": True}
    settings.learning_paused = False
    settings.save()
    assert json.loads(paths.settings_path().read_text())["learning_paused"] is False  # the user's choice, kept


def test_every_setting_is_in_exactly_one_preferences_group_and_has_its_help():
    names = [f.name for f in fields(Settings)]
    assert sorted(name for group in GROUPS.values() for name in group) == sorted(names)
    assert all(field_help()[name] for name in names)
    assert field_help()["n_ctx"].startswith("Context window in tokens")


def test_problems_are_named_by_setting_and_max_tokens_is_checked_against_n_ctx():
    assert Settings.problems({"temperature": 0.7, "n_ctx": 4096, "max_tokens": 512}) == {}
    problems = Settings.problems({"top_p": 0, "n_ctx": 1024, "max_tokens": 2048})
    assert set(problems) == {"top_p", "max_tokens"} and "less than n_ctx (1024)" in problems["max_tokens"]


def test_an_answer_is_recorded_even_at_its_default(grokling_home):
    assert not Settings.in_file("wikipedia_consent") and not Settings().wikipedia_consent
    Settings.change(wikipedia_consent=False)  # "not now": recorded, so the window does not ask again
    assert Settings.in_file("wikipedia_consent")
    assert json.loads((grokling_home / "settings.json").read_text()) == {"wikipedia_consent": False}
    assert Settings.change(wikipedia_consent=True).wikipedia_consent and Settings.load().wikipedia_consent
    with pytest.raises(SettingsError, match="topics_per_cycle"):
        Settings.change(topics_per_cycle=-1)
    assert json.loads((grokling_home / "settings.json").read_text()) == {"wikipedia_consent": True}
