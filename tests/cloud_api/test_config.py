from __future__ import annotations

import pytest
from parley.bridge.cloud_api.config import from_env
from parley.tools.config import ConfigError

GOOD = {
    "PARLEY_CLOUD_PHONE_NUMBER_ID": "106540352242922",
    "PARLEY_CLOUD_ACCESS_TOKEN": "EAAG-token",
    "PARLEY_CLOUD_APP_SECRET": "app-secret",
    "PARLEY_CLOUD_VERIFY_TOKEN": "verify-token",
}


def test_defaults_point_at_metas_graph_api() -> None:
    config = from_env(GOOD)
    assert config.messages_url == "https://graph.facebook.com/v21.0/106540352242922/messages"
    assert (config.webhook_host, config.webhook_port, config.webhook_path) == (
        "127.0.0.1",
        8081,
        "/webhook",
    )
    assert "EAAG-token" not in repr(config)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"PARLEY_CLOUD_ACCESS_TOKEN": ""}, "PARLEY_CLOUD_ACCESS_TOKEN is required"),
        ({"PARLEY_CLOUD_PHONE_NUMBER_ID": "+1555"}, "PARLEY_CLOUD_PHONE_NUMBER_ID must be digits"),
        ({"PARLEY_CLOUD_VERIFY_TOKEN": "short"}, "PARLEY_CLOUD_VERIFY_TOKEN must be at least 8"),
        ({"PARLEY_CLOUD_API_VERSION": "21"}, "PARLEY_CLOUD_API_VERSION must look like v21.0"),
        ({"PARLEY_CLOUD_GRAPH_URL": "graph.local"}, "PARLEY_CLOUD_GRAPH_URL must be an http"),
        ({"PARLEY_CLOUD_WEBHOOK_PORT": "70000"}, "PARLEY_CLOUD_WEBHOOK_PORT must be a number"),
        ({"PARLEY_CLOUD_SEND_TIMEOUT": "soon"}, "PARLEY_CLOUD_SEND_TIMEOUT must be a number"),
        ({"PARLEY_CLOUD_WEBHOOK_PATH": "hook"}, "PARLEY_CLOUD_WEBHOOK_PATH must start with '/'"),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_variable(change: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        from_env({**GOOD, **change})
