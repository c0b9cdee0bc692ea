"""Reading the reply model's settings from the environment."""

from __future__ import annotations

import pytest
from parley.bridge.replies.config import GeminiSettings, from_env
from parley.tools.config import ConfigError


def test_defaults_need_no_environment() -> None:
    settings = from_env({})

    assert settings == GeminiSettings()
    assert settings.api_key is None
    assert settings.model == "gemini-2.5-flash"
    assert settings.api_version == "v1beta"


def test_google_api_key_wins_over_gemini_api_key_as_in_the_sdk() -> None:
    assert from_env({"GEMINI_API_KEY": "g", "GOOGLE_API_KEY": "o"}).api_key == "o"
    assert from_env({"GEMINI_API_KEY": "g"}).api_key == "g"
    assert from_env({"GEMINI_API_KEY": "  "}).api_key is None


def test_every_setting_is_read() -> None:
    settings = from_env(
        {
            "GEMINI_API_KEY": "k",
            "PARLEY_GEMINI_MODEL": "gemini-2.5-pro",
            "PARLEY_GEMINI_BASE_URL": "http://127.0.0.1:8765",
            "PARLEY_GEMINI_API_VERSION": "v1",
            "PARLEY_GEMINI_TIMEOUT_MS": "2000",
            "PARLEY_GEMINI_DEADLINE_MS": "9000",
            "PARLEY_GEMINI_RETRIES": "1",
            "PARLEY_GEMINI_BACKOFF_MS": "100",
            "PARLEY_GEMINI_BACKOFF_MAX_MS": "900",
            "PARLEY_GEMINI_BREAKER_FAILURES": "7",
            "PARLEY_GEMINI_BREAKER_OPEN_MS": "5000",
            "PARLEY_GEMINI_MAX_CONCURRENCY": "2",
            "PARLEY_GEMINI_HISTORY_TURNS": "6",
            "PARLEY_GEMINI_HISTORY_CHARS": "1500",
            "PARLEY_GEMINI_THINKING_BUDGET": "0",
        }
    )

    assert settings == GeminiSettings(
        api_key="k",
        model="gemini-2.5-pro",
        base_url="http://127.0.0.1:8765",
        api_version="v1",
        timeout_ms=2000,
        deadline_ms=9000,
        retries=1,
        backoff_ms=100,
        backoff_max_ms=900,
        breaker_failures=7,
        breaker_open_ms=5000,
        max_concurrency=2,
        history_turns=6,
        history_chars=1500,
        thinking_budget=0,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PARLEY_GEMINI_TIMEOUT_MS", "fast"),
        ("PARLEY_GEMINI_TIMEOUT_MS", "5"),
        ("PARLEY_GEMINI_RETRIES", "-1"),
        ("PARLEY_GEMINI_MAX_CONCURRENCY", "0"),
        ("PARLEY_GEMINI_BASE_URL", "127.0.0.1:8765"),
        ("PARLEY_GEMINI_MODEL", "models/gemini-2.5-flash"),
        ("PARLEY_GEMINI_API_VERSION", "latest"),
        ("PARLEY_GEMINI_DEADLINE_MS", "200"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        from_env({variable: value})

    message = str(raised.value)
    assert variable in message
    assert "\n" not in message


def test_the_key_stays_out_of_the_settings_repr() -> None:
    assert "sekrit" not in repr(from_env({"GEMINI_API_KEY": "sekrit"}))
