"""Load a promptfoo-style config: parse, check every key, resolve files, compile functions.

Every problem is a ConfigError naming the file, the path to the key and what was expected, raised
before any request is made.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wsllm.errors import ConfigError
from wsllm.evals.config import suites
from wsllm.evals.config.yamlsafe import load_yaml
from wsllm.evals.functions.compiler import FunctionCompiler
from wsllm.evals.schema import EvalConfig, Options, ScriptFunction, Target
from wsllm.evals.templates import compile_template
from wsllm.evals.validate import Where, check_keys, expect, number

DEFAULT_CONFIG_NAMES = ("promptfooconfig.yaml", "promptfooconfig.yml", "promptfooconfig.json")

TOP_LEVEL = (
    "description", "prompts", "providers", "targets", "tests", "defaultTest", "evaluateOptions",
    "outputPath", "env", "sharing", "tags", "metadata", "writeLatestResults",
)  # fmt: skip
TARGET_KEYS = ("id", "label", "config", "delay")
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


def read_text(path: Path, label: str) -> str:
    """A config file's text; a ConfigError naming the file when it cannot be read as UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{label}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{label}: not UTF-8 text (byte {exc.start} cannot be decoded); save it as UTF-8"
        ) from exc


def read_yaml(path: Path, label: str) -> Any:
    """A YAML (or JSON) file's content; a ConfigError with the line of a syntax error."""
    return load_yaml(read_text(path, label), label)


def load_config(path: Path) -> EvalConfig:
    """Load and check the config at `path`."""
    where = Where(path.name)
    raw = read_yaml(path, path.name)
    raw = expect(raw, (dict,), where)
    check_keys(raw, TOP_LEVEL, where)
    base = path.parent.resolve()
    env = _env(raw.get("env"), where.key("env"))
    compiler = FunctionCompiler(base, env)
    targets = _targets(raw, where, compiler)
    return EvalConfig(
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
        show_progress=_flag(raw.get("showProgressBar", True), where.key("showProgressBar")),
        cache=_flag(raw.get("cache", True), where.key("cache")),
    )


def _flag(value: Any, where: Where) -> bool:
    return bool(expect(value, (bool,), where))


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
        stream_response=_stream(config, where, compiler),
        transform_response=_transform(config, where, compiler),
        timeout_ms=number(
            config.get("timeoutMs", DEFAULT_TIMEOUT_MS), where.key("config.timeoutMs"), 1
        ),
        headers=_headers(config.get("headers"), where.key("config.headers")),
        protocols=_protocols(config.get("protocols"), where.key("config.protocols")),
        delay_ms=number(spec.get("delay", 0), where.key("delay"), 0),
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


def _stream(config: dict[str, Any], where: Where, compiler: FunctionCompiler) -> Any:
    if config.get("streamResponse") is None:
        return None
    place = where.key("config.streamResponse")
    return compiler.stream_function(expect(config["streamResponse"], (str,), place), place)


def _transform(
    config: dict[str, Any], where: Where, compiler: FunctionCompiler
) -> ScriptFunction | None:
    key = "transformResponse" if "transformResponse" in config else "responseParser"
    if config.get(key) is None:
        return None
    place = where.key(f"config.{key}")
    return compiler.transform_function(expect(config[key], (str,), place), place)


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
