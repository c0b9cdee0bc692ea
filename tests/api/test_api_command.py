"""`parley api`: start-up, the local token, and the dashboard link it prints."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from parley.eventstore.embedded import free_port
from parley.http.auth import TOKEN_FILE
from parley.tools.api_command import prepare
from parley.tools.config import load_settings


def settings_for(mongo_uri: str, database: str, data_dir: Path, **extra: str):
    environ = {
        "PARLEY_MONGODB_URI": mongo_uri,
        "PARLEY_DATABASE": database,
        "PARLEY_DATA_DIR": str(data_dir),
        **extra,
    }
    return load_settings(environ, env_file=None), environ


def test_without_configured_tokens_a_local_token_is_made_once_and_kept_private(
    mongo_uri, database_name, tmp_path
):
    settings, environ = settings_for(mongo_uri, database_name, tmp_path)
    config, notice = prepare(settings, environ)
    (token,) = config.tokens
    stored = tmp_path / TOKEN_FILE
    assert stored.read_text().strip() == token
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert f"http://127.0.0.1:{settings.api_port}/#token={token}" in notice
    assert str(stored) in notice

    again, second_notice = prepare(settings, environ)
    assert again.tokens == (token,)
    assert token not in second_notice  # printed once, when it was made
    assert str(stored) in second_notice


def test_configured_tokens_are_used_and_no_local_token_is_made(mongo_uri, database_name, tmp_path):
    tokens = "first-token-0123456789,second-token-0123456789"
    settings, environ = settings_for(mongo_uri, database_name, tmp_path, PARLEY_API_TOKENS=tokens)
    config, notice = prepare(settings, environ)
    assert config.tokens == ("first-token-0123456789", "second-token-0123456789")
    assert not (tmp_path / TOKEN_FILE).exists()
    assert "#token=" not in notice


def test_a_bad_api_setting_is_one_clear_line(mongo_uri, database_name, tmp_path):
    from parley.tools.config import ConfigError

    settings, environ = settings_for(
        mongo_uri, database_name, tmp_path, PARLEY_API_CORS_ORIGINS="*"
    )
    with pytest.raises(ConfigError, match="PARLEY_API_CORS_ORIGINS"):
        prepare(settings, environ)


def get(url: str, token: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.mark.slow
def test_parley_api_serves_the_dashboard_and_the_api_with_its_printed_token(
    mongo_uri, database_name, tmp_path
):
    port = free_port()
    env = {
        **os.environ,
        "PARLEY_MONGODB_URI": mongo_uri,
        "PARLEY_DATABASE": database_name,
        "PARLEY_DATA_DIR": str(tmp_path),
        "PARLEY_API_PORT": str(port),
        "PARLEY_API_TOKENS": "",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "parley.tools.cli", "api"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        printed = process.stdout.readline() + process.stdout.readline()
        found = re.search(rf"http://127\.0\.0\.1:{port}/#token=(\S+)", printed)
        assert found, printed
        token = found.group(1)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _ = get(f"{base}/api/v1/health")
                break
            except urllib.error.URLError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
        assert status == 200
        status, page = get(f"{base}/")
        assert status == 200
        assert "<title>Parley</title>" in page
        assert get(f"{base}/api/v1/threads", token)[0] == 200
        assert get(f"{base}/api/v1/threads")[0] == 401
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout:
            process.stdout.close()
