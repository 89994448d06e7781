"""The WebSocket targets of a config (`providers` or `targets`): inline, as `{id: {...}}` maps, or
from YAML/JSON files; each with promptfoo's WebSocket provider settings, a `transform`, a
`delay` and a `prompts` filter. And the result columns they make with the prompts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from wsllm.errors import ConfigError
from wsllm.evals.config.files import expand, load_data
from wsllm.evals.functions.compiler import FunctionCompiler
from wsllm.evals.refs import prompt_allowed, prompt_matches
from wsllm.evals.schema import Column, Prompt, ScriptFunction, Target
from wsllm.evals.templates import compile_template
from wsllm.evals.validate import Where, check_keys, expect, number

TARGET_KEYS = ("id", "label", "config", "delay", "transform", "prompts")
TARGET_CONFIG_KEYS = (
    "url", "messageTemplate", "streamResponse", "transformResponse", "responseParser", "timeoutMs",
    "headers", "protocols", "tools",
)  # fmt: skip
DEFAULT_TIMEOUT_MS = 300_000.0
_WS_NAMES = ("websocket", "ws", "wss")


def load_targets(raw: dict[str, Any], where: Where, base: Path,
                 compiler: FunctionCompiler) -> list[Target]:  # fmt: skip
    """Every target, in order."""
    if "targets" in raw and "providers" in raw:
        raise where.error("give `providers` or `targets`, not both")
    key = "targets" if "targets" in raw else "providers"
    value = raw.get(key)
    if value is None:
        raise where.key("providers").error("missing: name at least one ws:// or wss:// target")
    specs = _specs(value, where.key(key), base)
    if not specs:
        raise where.key(key).error("empty: name at least one ws:// or wss:// target")
    return [_target(spec, place, compiler) for spec, place in specs]


def _specs(value: Any, where: Where, base: Path) -> list[tuple[Any, Where]]:
    if isinstance(value, str) and value.startswith("file://"):
        return _from_files(value, where, base)
    items = [value] if isinstance(value, str | dict) else expect(value, (list,), where)
    specs: list[tuple[Any, Where]] = []
    for i, item in enumerate(items):
        place = where if isinstance(value, str | dict) else where.item(i)
        if isinstance(item, str) and item.startswith("file://"):
            specs += _from_files(item, place, base)
        else:
            specs.append((item, place))
    return specs


def _from_files(reference: str, where: Where, base: Path) -> list[tuple[Any, Where]]:
    specs: list[tuple[Any, Where]] = []
    for path in expand(reference[7:], where, base):
        if path.suffix not in (".yaml", ".yml", ".json"):
            raise where.error(f"{path.name}: a targets file must be .yaml, .yml or .json")
        data = load_data(path, where)
        items = data if isinstance(data, list) else [data]
        for i, item in enumerate(items):
            place = Where(path.name).item(i) if isinstance(data, list) else Where(path.name)
            if not isinstance(item, dict) or "id" not in item:
                raise place.error("a target in a targets file needs an `id`")
            specs.append((item, place))
    return specs


def _unmapped(item: Any, where: Where) -> tuple[dict[str, Any], Where]:
    """`{ws://host/x: {config...}}`, promptfoo's map form, as `{id: ws://host/x, config...}`."""
    if isinstance(item, str):
        return {"id": item}, where
    spec = expect(item, (dict,), where)
    if "id" not in spec and len(spec) == 1:
        ((key, inner),) = spec.items()
        if isinstance(inner, dict):
            return {**inner, "id": inner.get("id", key)}, where.key(str(key))
    return spec, where


def _target(item: Any, where: Where, compiler: FunctionCompiler) -> Target:
    spec, where = _unmapped(item, where)
    check_keys(spec, TARGET_KEYS, where)
    target_id = str(expect(spec.get("id"), (str,), where.key("id")))
    config = expect(spec.get("config") or {}, (dict,), where.key("config"))
    check_keys(config, TARGET_CONFIG_KEYS, where.key("config"))
    url = _url(target_id, config, where)
    label = spec.get("label")
    return Target(
        id=url,
        label=str(label or url),
        url=_template(url, where.key("config.url" if "url" in config else "id")),
        message_template=_message_template(config, where.key("config")),
        stream_response=_stream(config, where, compiler),
        transform_response=_response_transform(config, where, compiler),
        timeout_ms=number(
            config.get("timeoutMs", DEFAULT_TIMEOUT_MS), where.key("config.timeoutMs"), 1
        ),
        headers=_headers(config.get("headers"), where.key("config.headers")),
        protocols=_protocols(config.get("protocols"), where.key("config.protocols")),
        delay_ms=number(spec.get("delay", 0), where.key("delay"), 0),
        given_label="" if label is None else str(expect(label, (str,), where.key("label"))),
        transform=_transform(spec.get("transform"), where.key("transform"), compiler),
        prompts=refs(spec.get("prompts"), where.key("prompts")),
        config=dict(config),
    )


def _url(target_id: str, config: dict[str, Any], where: Where) -> str:
    if "url" in config:
        url = str(expect(config["url"], (str,), where.key("config.url")))
        if target_id not in _WS_NAMES and not target_id.startswith(("ws:", "wss:")):
            raise where.key("id").error(
                f"{target_id!r} is not a WebSocket target: use `websocket` with a config.url"
            )
    else:
        url = target_id
    if not url.startswith(("ws://", "wss://")):
        raise where.key("id").error(
            f"{url!r} is not a WebSocket target: wsllm eval runs ws:// and wss:// endpoints"
        )
    return url


def refs(value: Any, where: Where) -> tuple[str, ...] | None:
    """A `prompts:` or `providers:` filter: a name or a list of names."""
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    items = expect(value, (list,), where)
    return tuple(str(expect(v, (str,), where.item(i))) for i, v in enumerate(items))


def _transform(value: Any, where: Where, compiler: FunctionCompiler) -> ScriptFunction | None:
    if value is None:
        return None
    return compiler.transform(str(expect(value, (str,), where)), where)


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
        value = json.dumps(value)
    return _template(
        str(expect(value, (str,), where.key("messageTemplate"))), where.key("messageTemplate")
    )


def _stream(config: dict[str, Any], where: Where, compiler: FunctionCompiler) -> Any:
    if config.get("streamResponse") is None:
        return None
    place = where.key("config.streamResponse")
    return compiler.stream_function(expect(config["streamResponse"], (str,), place), place)


def _response_transform(config: dict[str, Any], where: Where,
                        compiler: FunctionCompiler) -> ScriptFunction | None:  # fmt: skip
    key = "transformResponse" if "transformResponse" in config else "responseParser"
    if config.get(key) is None:
        return None
    place = where.key(f"config.{key}")
    return compiler.response_transform(expect(config[key], (str,), place), place)


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


def columns(targets: list[Target], prompts: list[Prompt], where: Where) -> list[Column]:
    """The result columns, target by target (promptfoo's order), each target's `prompts`
    filter applied; a filter naming no prompt is an error."""
    found: list[Column] = []
    for t, target in enumerate(targets):
        for ref in target.prompts or ():
            if not any(prompt_matches(ref, p) for p in prompts):
                raise where.error(
                    f"target {target.label!r} names prompt {ref!r}, which does not exist "
                    f"(prompts: {', '.join(repr(p.label) for p in prompts)})"
                )
        found += [Column(t, p) for p, prompt in enumerate(prompts)
                  if prompt_allowed(prompt, target.prompts)]  # fmt: skip
    return found
