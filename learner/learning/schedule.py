"""When the background learner runs a cycle: a pure policy over settings and a few facts.

The app asks `decide` every minute (APScheduler) with what it knows: is learning paused,
is a cycle running, when did the last one end, how many corrections are new, how long
the user has been idle, whether the machine is on mains power, whether the last cycle
failed on settings.json as it still is. The answer says whether
to start now and, either way, a status line for the tray and the window.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Decision:
    start: bool
    status: str


@dataclass(frozen=True)
class Facts:
    now: datetime
    paused: bool
    running: bool
    last_cycle_ended: datetime | None
    new_corrections: int
    idle_s: float
    on_ac_power: bool
    settings_unusable: bool = False
    """The last cycle could not use settings.json, and the file has not changed since."""
    awaiting_approval: bool = False
    """A candidate waits for the user: no new cycle until it is accepted or rejected."""


def _daily_due(now: datetime, at: str, last: datetime | None) -> tuple[bool, datetime]:
    hour, minute = (int(x) for x in at.split(":"))
    today = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    slot = today if now >= today else today - timedelta(days=1)
    due = last is None or last < slot
    return due, (slot if due else slot + timedelta(days=1))


def decide(settings, facts: Facts) -> Decision:
    """Start a cycle now? Never while paused or running; then the policy, the spacing, idleness and power."""
    if facts.running:
        return Decision(False, "Learning…")
    if facts.paused:
        return Decision(False, "Learning paused")
    if facts.settings_unusable:  # a cycle started now would fail the same way, every minute
        return Decision(False, "Learning stopped: the last cycle could not use settings.json; "
                               "it starts again once the file changes")
    if facts.awaiting_approval:
        return Decision(False, "A new version waits for your approval (Learning panel)")
    policy = settings.learn_schedule
    if policy == "manual":
        return Decision(False, "Learning: manual only (Learn now)")
    if policy == "after_corrections":
        missing = settings.learn_after_corrections - facts.new_corrections
        if missing > 0:
            return Decision(False, f"Next learning after {missing} more correction{'s' if missing != 1 else ''}")
        wanted = "Learning due"
    else:
        due, when = _daily_due(facts.now, settings.learn_daily_at, facts.last_cycle_ended)
        if not due:
            return Decision(False, f"Next learning {when:%a %H:%M}")
        wanted = "Learning due"
    if facts.last_cycle_ended is not None:
        ready = facts.last_cycle_ended + timedelta(minutes=settings.learn_min_interval_min)
        if facts.now < ready:
            return Decision(False, f"{wanted}; not before {ready:%H:%M} (at most one cycle per "
                                   f"{settings.learn_min_interval_min} min)")
    idle_needed = settings.learn_when_idle_min * 60
    if facts.idle_s < idle_needed:
        return Decision(False, f"{wanted}; waiting until you have been idle {settings.learn_when_idle_min} min")
    if settings.learn_only_on_ac and not facts.on_ac_power:
        return Decision(False, f"{wanted}; waiting for mains power")
    return Decision(True, "Learning starting")


def new_corrections(store) -> int:
    """Corrections made since the active model's live version's watermark (what it learned, or what was
    judged against it)."""
    from learner import models
    from learner.learning.collect import watermark
    from learner.store import learning as learning_store

    return learning_store.new_corrections(store, watermark(store, models.active().lineage))


def last_cycle_ended() -> datetime | None:
    """When the newest cycle last wrote anything (its run folder), or None before the first."""
    from learner import paths

    runs = [p for p in (paths.data_dir() / "runs").glob("*") if p.is_dir()]
    return datetime.fromtimestamp(max(p.stat().st_mtime for p in runs)) if runs else None


def settings_file_hash() -> str:
    """The hash of settings.json's bytes ("" without one): whether the user changed it since a cycle failed on it."""
    from learner import paths
    from learner.files import file_sha256

    path = paths.settings_path()
    return file_sha256(path) if path.exists() else ""


def on_ac_power(battery=None) -> bool:
    """True on mains power, or where there is no battery to tell (desktops). psutil reads it on Linux,
    macOS and Windows; `battery` (psutil's reading) is for tests."""
    import psutil

    battery = battery if battery is not None else psutil.sensors_battery()
    return battery is None or bool(battery.power_plugged is not False)
