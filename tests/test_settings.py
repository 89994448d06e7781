"""Settings: defaults, .env, environment and flags, in that rising order, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from wsllm.errors import ConfigError
from wsllm.settings import load_settings


def test_defaults_match_the_seed() -> None:
    settings = load_settings(environ={}, env_file=None)
    assert settings.port == 3300
    assert settings.model == "gpt-4.1-mini"
    assert settings.effective_backend == "simulated"


def test_an_api_key_selects_the_openai_backend() -> None:
    settings = load_settings(environ={"OPENAI_API_KEY": "sk-x"}, env_file=None)
    assert settings.effective_backend == "openai"


def test_env_file_then_environment_then_flags(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=4000\nCHATBOT_MODEL=from-file\nOPENAI_API_KEY='sk-file'\n")
    from_file = load_settings(environ={}, env_file=env_file)
    assert (from_file.port, from_file.model, from_file.openai_api_key) == (
        4000,
        "from-file",
        "sk-file",
    )
    from_env = load_settings(environ={"CHATBOT_MODEL": "from-env"}, env_file=env_file)
    assert (from_env.port, from_env.model) == (4000, "from-env")
    from_flag = load_settings(
        {"model": "from-flag"}, environ={"CHATBOT_MODEL": "e"}, env_file=env_file
    )
    assert from_flag.model == "from-flag"


def test_blank_environment_values_fall_back_to_defaults() -> None:
    assert load_settings(environ={"CHATBOT_MODEL": "  "}, env_file=None).model == "gpt-4.1-mini"


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"PORT": "abc"}, "PORT"),
        ({"PORT": "70000"}, "65535"),
        ({"WSLLM_BACKEND": "gpt"}, "openai, openai-chat, simulated"),
        ({"WSLLM_MAX_FRAME_BYTES": "-1"}, "WSLLM_MAX_FRAME_BYTES"),
        ({"WSLLM_SIM_ITL_MS": "fast"}, "WSLLM_SIM_ITL_MS"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        load_settings(environ=env, env_file=None)
