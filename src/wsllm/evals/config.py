"""Load a promptfoo-style config: parse, check every key, resolve files, compile functions.

Every problem is a ConfigError naming the file, the path to the key and what was expected, raised
before any request is made.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from wsllm.errors import ConfigError
from wsllm.evals import suites
from wsllm.evals.config_yaml import SAFE_LOADER
from wsllm.evals.functions import STREAM_PARAMS, TRANSFORM_PARAMS, FunctionCompiler
from wsllm.evals.model import EvalConfig, Options, Target
from wsllm.evals.templates import compile_template
from wsllm.evals.validate import Where, check_keys, expect, number

DEFAULT_CONFIG_NAMES = ("promptfooconfig.yaml", "promptfooconfig.yml", "promptfooconfig.json")

TOP_LEVEL = (
    "description", "prompts", "providers", "targets", "tests", "defaultTest", "evaluateOptions",
    "outputPath", "env", "sharing", "tags", "metadata", "writeLatestResults",
)  # fmt: skip
TARGET_KEYS = ("id", "label", "config", "delay", "transform")
TARGET_CONFIG_KEYS = (
    "url", "messageTemplate", "streamResponse", "transformResponse", "responseParser", "timeoutMs",
    "headers", "protocols",
)  # fmt: skip
EVALUATE_KEYS = ("maxConcurrency", "repeat", "delay", "timeoutMs", "showProgressBar", "cache")
DEFAULT_TIMEOUT_MS = 300_000.0


def find_config(path: Path | None) -> Path:
    """The config file to run: the one given, else promptfooconfig.yaml in this folder."""
    if path is not None:
        if path.is_dir():
            return find_config_in(path)
        if not path.is_file():
            raise ConfigError(f"{path}: no such config file")
        return path
    return find_config_in(Path.cwd())


def find_config_in(folder: Path) -> Path:
    """The default-named config in `folder`."""
    for name in DEFAULT_CONFIG_NAMES:
        if (folder / name).is_file():
            return folder / name
    raise ConfigError(f"no promptfooconfig.yaml in {folder}: give one with -c PATH")


def read_yaml(path: Path, label: str) -> Any:
    """A YAML (or JSON) file's content; a ConfigError with the line of a syntax error."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{label}: cannot read: {exc.strerror}") from exc
    try:
        return yaml.load(text, Loader=SAFE_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        place = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(f"{label}: {place}invalid YAML: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{label}: invalid YAML: {exc}") from exc


def load_config(path: Path) -> EvalConfig:
    """Load and check the config at `path`."""
    where = Where(path.name)
    raw = read_yaml(path, path.name)
    raw = expect(raw, (dict,), where)
    check_keys(raw, TOP_LEVEL, where)
    base = path.parent.resolve()
    env = _env(raw.get("env"), where.key("env"))
    os.environ.update(env)
    compiler = FunctionCompiler(base)
    targets = _targets(raw, where, compiler)
    config = EvalConfig(
        path=path,
        description=_optional_str(raw.get("description"), where.key("description")),
        prompts=suites.load_prompts(raw.get("prompts"), where.key("prompts"), base),
        targets=targets,
        tests=suites.load_tests(raw, where, base, compiler),
        options=_options(raw.get("evaluateOptions"), where.key("evaluateOptions")),
        output_paths=_output_paths(raw.get("outputPath"), where.key("outputPath")),
        env=env,
        raw=raw,
    )
    config.js = compiler.started_engine
    return config


def _optional_str(value: Any, where: Where) -> str | None:
    return None if value is None else str(expect(value, (str,), where))


def _env(value: Any, where: Where) -> dict[str, str]:
    if value is None:
        return {}
    env = expect(value, (dict,), where)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def _output_paths(value: Any, where: Where) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    items = expect(value, (list,), where)
    return [str(expect(v, (str,), where.item(i))) for i, v in enumerate(items)]


def _options(value: Any, where: Where) -> Options:
    if value is None:
        return Options()
    raw = expect(value, (dict,), where)
    check_keys(raw, EVALUATE_KEYS, where)
    return Options(
        max_concurrency=int(number(raw.get("maxConcurrency", 4), where.key("maxConcurrency"), 1)),
        repeat=int(number(raw.get("repeat", 1), where.key("repeat"), 1)),
        delay_ms=number(raw.get("delay", 0), where.key("delay"), 0),
        timeout_ms=number(raw.get("timeoutMs", 0), where.key("timeoutMs"), 0),
    )


def _targets(raw: dict[str, Any], where: Where, compiler: FunctionCompiler) -> list[Target]:
    key = "targets" if "targets" in raw else "providers"
    if "targets" in raw and "providers" in raw:
        raise where.error("give `providers` or `targets`, not both")
    value = raw.get(key)
    if value is None:
        raise where.key("providers").error("missing: name at least one ws:// or wss:// target")
    items = [value] if isinstance(value, str | dict) else expect(value, (list,), where.key(key))
    if not items:
        raise where.key(key).error("empty: name at least one ws:// or wss:// target")
    return [_target(item, where.key(key).item(i), compiler) for i, item in enumerate(items)]


def _target(item: Any, where: Where, compiler: FunctionCompiler) -> Target:
    spec = {"id": item} if isinstance(item, str) else expect(item, (dict,), where)
    check_keys(spec, TARGET_KEYS, where)
    target_id = str(expect(spec.get("id"), (str,), where.key("id")))
    config = expect(spec.get("config") or {}, (dict,), where.key("config"))
    check_keys(config, TARGET_CONFIG_KEYS, where.key("config"))
    url = str(expect(config.get("url", target_id), (str,), where.key("config.url")))
    if not url.startswith(("ws://", "wss://")):
        raise where.key("id").error(
            f"{target_id!r} is not a WebSocket target: wsllm eval runs ws:// and wss:// endpoints"
        )
    return Target(
        id=target_id,
        label=str(spec.get("label") or target_id),
        url=_template(url, where.key("config.url")),
        message_template=_message_template(config, where.key("config")),
        stream_response=_function(config, "streamResponse", STREAM_PARAMS, where, compiler),
        transform_response=_transform(config, where, compiler),
        timeout_ms=number(
            config.get("timeoutMs", DEFAULT_TIMEOUT_MS), where.key("config.timeoutMs"), 1
        ),
        headers=_headers(config.get("headers"), where.key("config.headers")),
        protocols=_protocols(config.get("protocols"), where.key("config.protocols")),
    )


def _template(source: str, where: Where) -> str:
    try:
        compile_template(source)
    except ConfigError as exc:
        raise where.error(str(exc)) from exc
    return source


def _message_template(config: dict[str, Any], where: Where) -> str:
    if "messageTemplate" not in config:
        raise where.key("messageTemplate").error(
            "missing: a WebSocket target needs a messageTemplate, such as "
            "'{\"input\": {{prompt | dump}}}'"
        )
    value = config["messageTemplate"]
    if isinstance(value, dict | list):  # a structured template is sent as JSON
        import json

        value = json.dumps(value)
    return _template(
        str(expect(value, (str,), where.key("messageTemplate"))), where.key("messageTemplate")
    )


def _function(
    config: dict[str, Any],
    key: str,
    params: tuple[str, ...],
    where: Where,
    compiler: FunctionCompiler,
) -> Any:
    if config.get(key) is None:
        return None
    source = expect(config[key], (str,), where.key(f"config.{key}"))
    return compiler.target_function(source, params, where.key(f"config.{key}"))


def _transform(config: dict[str, Any], where: Where, compiler: FunctionCompiler) -> Any:
    key = "transformResponse" if "transformResponse" in config else "responseParser"
    return _function(config, key, TRANSFORM_PARAMS, where, compiler)


def _headers(value: Any, where: Where) -> dict[str, str]:
    if value is None:
        return {}
    headers = expect(value, (dict,), where)
    return {str(k): str(v) for k, v in headers.items()}


def _protocols(value: Any, where: Where) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    items = expect(value, (list,), where)
    return tuple(str(expect(v, (str,), where.item(i))) for i, v in enumerate(items))
