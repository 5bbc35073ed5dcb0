"""The background learner's policy: when a cycle starts, and what the status line says."""

from datetime import datetime, timedelta

import pytest

from learner.learning.schedule import Facts, decide, on_ac_power
from learner.settings import Settings, SettingsError

NOW = datetime(2026, 11, 23, 14, 0)


def facts(**changes) -> Facts:
    base = dict(now=NOW, paused=False, running=False, last_cycle_ended=None, new_corrections=3, idle_s=3600,
                on_ac_power=True)
    return Facts(**{**base, **changes})


def test_after_corrections_waits_for_enough_and_for_idleness():
    settings = Settings(learn_after_corrections=3, learn_when_idle_min=5)
    assert decide(settings, facts()).start
    assert decide(settings, facts(new_corrections=1)).status == "Next learning after 2 more corrections"
    assert "idle 5" in decide(settings, facts(idle_s=60)).status and not decide(settings, facts(idle_s=60)).start
    assert decide(settings, facts(paused=True)).status == "Learning paused"
    assert not decide(settings, facts(running=True)).start


def test_spacing_power_and_manual():
    settings = Settings(learn_min_interval_min=60, learn_only_on_ac=True)
    recent = decide(settings, facts(last_cycle_ended=NOW - timedelta(minutes=10)))
    assert not recent.start and "not before 14:50" in recent.status
    assert decide(settings, facts(last_cycle_ended=NOW - timedelta(minutes=61))).start
    assert decide(settings, facts(on_ac_power=False)).status.endswith("waiting for mains power")
    assert not decide(Settings(learn_schedule="manual"), facts()).start


def test_daily_runs_once_per_day_after_its_time():
    settings = Settings(learn_schedule="daily", learn_daily_at="03:00")
    assert decide(settings, facts(last_cycle_ended=None)).start
    assert decide(settings, facts(last_cycle_ended=NOW - timedelta(days=1, hours=2))).start
    done_today = decide(settings, facts(last_cycle_ended=NOW.replace(hour=3, minute=30)))
    assert not done_today.start and done_today.status == "Next learning Tue 03:00"
    with pytest.raises(SettingsError, match="learn_daily_at"):
        Settings(learn_daily_at="25:00")


def test_nothing_starts_on_its_own_while_the_settings_a_cycle_failed_on_are_unchanged():
    stopped = decide(Settings(), facts(settings_unusable=True))
    assert not stopped.start and "settings.json" in stopped.status
    assert decide(Settings(), facts(paused=True, settings_unusable=True)).status == "Learning paused"


def test_power_supply_reading():
    from collections import namedtuple

    sbattery = namedtuple("sbattery", "percent secsleft power_plugged")  # the shape psutil.sensors_battery() returns
    assert on_ac_power() in (True, False)  # whatever this machine reports, it is read without error
    assert not on_ac_power(sbattery(percent=40, secsleft=3600, power_plugged=False))
    assert on_ac_power(sbattery(percent=40, secsleft=3600, power_plugged=True))
    assert on_ac_power(sbattery(percent=40, secsleft=3600, power_plugged=None))  # unknown: assume mains
