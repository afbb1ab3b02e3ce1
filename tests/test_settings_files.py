"""Secret settings read from files (``HERALD_<NAME>_FILE``), as Docker secrets are mounted."""

from __future__ import annotations

from pathlib import Path

import pytest

from herald.cli import main
from herald.core.settings import SECRET_SETTINGS, SecretFileError, Settings, get_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No secret variable of the machine running the tests leaks in."""
    for name in SECRET_SETTINGS:
        monkeypatch.delenv(f"HERALD_{name.upper()}", raising=False)
        monkeypatch.delenv(f"HERALD_{name.upper()}_FILE", raising=False)


def secret_file(tmp_path: Path, name: str, content: str) -> str:
    path = tmp_path / name
    path.write_text(content)
    return str(path)


def test_each_secret_setting_is_read_from_its_file_stripped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        "HERALD_API_KEYS_FILE": "key-one, key-two\n",
        "HERALD_API_KEY_FILE": "key-one\n",
        "HERALD_PROVIDER_SECRET_FILE": "whsec_cHJvdmlkZXI=\n",
        "HERALD_GATEWAY_SECRET_FILE": "  whsec_Z2F0ZXdheQ==  \n",
        "HERALD_DATABASE_URL_FILE": "postgresql://herald:s3cret@postgres:5432/herald\n",
    }
    for variable, content in files.items():
        monkeypatch.setenv(variable, secret_file(tmp_path, variable, content))
    settings = Settings(_env_file=None)
    # Each value goes through the setting's own parsing, as the plain variable's would.
    assert settings.api_keys == ["key-one", "key-two"]
    assert settings.api_key == "key-one"
    assert settings.provider_secret == "whsec_cHJvdmlkZXI="
    assert settings.gateway_secret == "whsec_Z2F0ZXdheQ=="
    assert settings.database_url == "postgresql+asyncpg://herald:s3cret@postgres:5432/herald"
    assert {
        variable.removeprefix("HERALD_").removesuffix("_FILE").lower() for variable in files
    } == set(SECRET_SETTINGS)


def test_the_plain_variable_still_works_and_an_empty_file_variable_is_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HERALD_PROVIDER_SECRET", "whsec_cGxhaW4=")
    monkeypatch.setenv("HERALD_PROVIDER_SECRET_FILE", "")
    assert Settings(_env_file=None).provider_secret == "whsec_cGxhaW4="


def test_setting_both_the_variable_and_its_file_is_an_error_that_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HERALD_API_KEYS", "from-the-variable")
    monkeypatch.setenv("HERALD_API_KEYS_FILE", secret_file(tmp_path, "keys", "from-the-file"))
    with pytest.raises(SecretFileError) as raised:
        Settings(_env_file=None)
    message = str(raised.value)
    assert "HERALD_API_KEYS and HERALD_API_KEYS_FILE are both set" in message
    assert "from-the" not in message, "never the secret itself"


def test_both_set_across_the_environment_and_dotenv_is_an_error_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("HERALD_GATEWAY_SECRET=whsec_ZG90ZW52\n")
    monkeypatch.setenv("HERALD_GATEWAY_SECRET_FILE", secret_file(tmp_path, "gw", "whsec_eA=="))
    with pytest.raises(SecretFileError, match="HERALD_GATEWAY_SECRET and"):
        Settings(_env_file=dotenv)


def test_a_file_variable_in_dotenv_works(tmp_path: Path) -> None:
    path = secret_file(tmp_path, "url", "postgresql://u:p@db/herald")
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"HERALD_DATABASE_URL_FILE={path}\n")
    assert Settings(_env_file=dotenv).database_url == "postgresql+asyncpg://u:p@db/herald"


@pytest.mark.parametrize(
    ("content", "says"),
    [(None, "cannot be read"), ("  \n", "is empty")],
    ids=["missing", "empty"],
)
def test_a_missing_or_empty_file_is_an_error_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str | None, says: str
) -> None:
    path = tmp_path / "secret"
    if content is not None:
        path.write_text(content)
    monkeypatch.setenv("HERALD_PROVIDER_SECRET_FILE", str(path))
    with pytest.raises(SecretFileError, match=f"HERALD_PROVIDER_SECRET_FILE: {path} {says}"):
        Settings(_env_file=None)


def test_arguments_win_over_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Code that builds its own settings (the tests do) is not overridden by a file."""
    monkeypatch.setenv("HERALD_API_KEYS_FILE", secret_file(tmp_path, "keys", "from-file"))
    assert Settings(_env_file=None, api_keys=["given"]).api_keys == ["given"]


def test_only_secret_settings_have_a_file_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HERALD_TASK_QUEUE_FILE", secret_file(tmp_path, "queue", "elsewhere"))
    assert Settings(_env_file=None).task_queue == "herald"


def test_the_herald_command_prints_the_error_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HERALD_DATABASE_URL", "postgresql://u:p@db/herald")
    monkeypatch.setenv("HERALD_DATABASE_URL_FILE", secret_file(tmp_path, "url", "x"))
    monkeypatch.chdir(tmp_path)  # no .env of the working copy
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as exited:
            main(["migrate"])
    finally:
        get_settings.cache_clear()
    assert str(exited.value).startswith(
        "herald migrate: HERALD_DATABASE_URL and HERALD_DATABASE_URL_FILE are both set"
    )
