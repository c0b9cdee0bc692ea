"""The projector's settings, and the rebuild progress line."""

from __future__ import annotations

import io

import pytest
from parley.projections.progress import ProgressBar, format_duration, progress_line
from parley.projections.registry import PROJECTION_NAMES
from parley.projections.settings import ProjectorSettings, from_env
from parley.tools.config import ConfigError


def test_defaults_apply_when_nothing_is_set() -> None:
    settings = from_env({})
    assert settings == ProjectorSettings()
    assert settings.projections == PROJECTION_NAMES
    assert settings.renew_every == pytest.approx(5.0)


def test_values_are_read() -> None:
    settings = from_env(
        {
            "PARLEY_PROJECTOR_BATCH_SIZE": "250",
            "PARLEY_PROJECTOR_LEASE_SECONDS": "2.5",
            "PARLEY_PROJECTOR_POLL_INTERVAL": "0.2",
            "PARLEY_PROJECTOR_CACHE_SIZE": "5000",
            "PARLEY_PROJECTIONS": "threads, messages,threads",
        }
    )
    assert (settings.batch_size, settings.lease_seconds, settings.poll_interval) == (250, 2.5, 0.2)
    assert settings.cache_size == 5000
    assert settings.projections == ("threads", "messages")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PARLEY_PROJECTOR_BATCH_SIZE", "0"),
        ("PARLEY_PROJECTOR_BATCH_SIZE", "many"),
        ("PARLEY_PROJECTOR_BATCH_SIZE", "2.5"),
        ("PARLEY_PROJECTOR_LEASE_SECONDS", "-1"),
        ("PARLEY_PROJECTOR_POLL_INTERVAL", "soon"),
        ("PARLEY_PROJECTOR_CACHE_SIZE", "10"),
        ("PARLEY_PROJECTIONS", "threads,gossip"),
        ("PARLEY_PROJECTIONS", "threads,,"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        from_env({variable: value})
    message = str(caught.value)
    assert message.startswith(variable)
    assert "\n" not in message


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_on_a_terminal_the_line_is_redrawn_in_place() -> None:
    stream, clock = io.StringIO(), Clock()
    bar = ProgressBar(stream, "threads", tty=True, clock=clock)
    bar.update(0, 10_000)
    clock.now += 2
    bar.update(4_000, 10_000)
    assert "\n" not in stream.getvalue()
    assert stream.getvalue().count("\r") == 2
    last = stream.getvalue().rsplit("\r", 1)[-1]
    assert "40%" in last
    assert "2,000 events/s" in last
    assert "ETA 0:03" in last
    bar.finish(10_000, 10_000)
    assert stream.getvalue().endswith("\n")


def test_elsewhere_plain_lines_come_every_few_seconds() -> None:
    stream, clock = io.StringIO(), Clock()
    bar = ProgressBar(stream, "all", tty=False, every=2.0, clock=clock)
    for step in range(10):
        clock.now += 0.5
        bar.update(step * 100, 1_000)
    bar.finish(1_000, 1_000)
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert 3 <= len(lines) <= 5
    assert lines[-1].startswith("all [########################] 100% 1,000/1,000 events")


def test_durations_and_lines_read_well() -> None:
    assert format_duration(59.6) == "1:00"
    assert format_duration(3725) == "1:02:05"
    line = progress_line("context", 50, 200, 25.0)
    assert line == "context [######..................]  25% 50/200 events 25 events/s ETA 0:06"
