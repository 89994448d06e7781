"""A test's prompt, rendered as promptfoo renders it for one target.

The steps, in promptfoo's order: `file://` vars are read (text trimmed, YAML as compact JSON,
images as data URIs, `.js`/`.py` files called); a prompt function is called; every string var
loses one trailing newline; vars that name other vars (`{{ name }}`) are filled in; then a
template that parses as JSON (a chat prompt) has each of its strings rendered and is written out
again as indented JSON, and any other template is rendered as text.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wsllm.errors import ScriptError, WsllmError
from wsllm.evals.config.files import reference_path
from wsllm.evals.config.yamlsafe import load_yaml
from wsllm.evals.jsvalues import map_strings, parse_json, stringify
from wsllm.evals.schema import Prompt, ScriptFunction, Target, TestCase
from wsllm.evals.templates import render

IMAGE_TYPES = {
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif",
    ".bmp": "image/bmp", ".webp": "image/webp", ".svg": "image/svg+xml", ".tif": "image/tiff",
    ".tiff": "image/tiff", ".ico": "image/x-icon", ".avif": "image/avif", ".heic": "image/heic",
    ".heif": "image/heif",
}  # fmt: skip
MEDIA_SUFFIXES = (".mp3", ".wav", ".ogg", ".m4a", ".flac", ".mp4", ".webm", ".mov")
_REFERENCE = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_PARTIAL = re.compile(r"({%[^%]*$|{{[^}]*$|{#[^#]*$)", re.M)
_RAW = re.compile(r"{%\s*raw\s*%}")
_ENDRAW = re.compile(r"{%\s*endraw\s*%}")


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered prompt, the vars the target's message template sees, and the prompt config."""

    text: str
    vars: dict[str, Any]
    config: dict[str, Any]


@dataclass(slots=True)
class Renderer:
    """Renders prompts for one run: the config's folder, the `env` templates see, the var
    functions compiled at load, and file vars read once."""

    base: Path
    env: Mapping[str, str]
    var_loaders: Mapping[str, ScriptFunction] = field(default_factory=dict)
    filters: Mapping[str, ScriptFunction] = field(default_factory=dict)
    _files: dict[str, str] = field(default_factory=dict)

    def text(self, template: str, variables: Mapping[str, Any], filters: bool = True) -> str:
        """`template` rendered with the vars, `env`, and (unless told not) the config's filters."""
        chosen = self.filters if filters and self.filters else None
        return render(template, variables, filters=chosen, env=self.env)

    def render(self, prompt: Prompt, test: TestCase, target: Target) -> Rendered:
        """The prompt for `test` on `target`; WsllmError (the test's error) when it fails."""
        template = f"{test.prefix}{prompt.raw}{test.suffix}"
        variables = dict(test.vars)
        self._load_files(variables, template, target)
        config = dict(prompt.config)
        if prompt.function is not None:
            template, config = _called(prompt, variables, target, config)
        for name, value in variables.items():
            if isinstance(value, str) and value.endswith("\n"):
                variables[name] = value[:-1]
        resolve_references(variables)
        return Rendered(self._render_template(template, variables), variables, config)

    def _render_template(self, template: str, variables: dict[str, Any]) -> str:
        try:
            parsed = parse_json(template)
        except ValueError:
            parsed = _NOT_JSON
        if parsed is not _NOT_JSON:
            try:  # as promptfoo: a chat prompt's strings see no custom filters
                chat = map_strings(parsed, lambda text: self.text(text, variables, filters=False))
                return stringify(chat, 2)
            except WsllmError:
                pass  # as promptfoo: a chat prompt that fails to render is rendered as text
        rendered = {k: self.text(wrap_partial(v), variables) if isinstance(v, str) else v
                    for k, v in variables.items()}  # fmt: skip
        return self.text(wrap_partial(template), rendered)

    def _load_files(self, variables: dict[str, Any], template: str, target: Target) -> None:
        for name, value in list(variables.items()):
            if isinstance(value, str) and value.startswith("file://"):
                variables[name] = self._file_var(name, value, template, variables, target)

    def _file_var(self, name: str, reference: str, template: str, variables: dict[str, Any],
                  target: Target) -> Any:  # fmt: skip
        loader = self.var_loaders.get(reference)
        if loader is not None:
            return _loaded(loader, reference, name, template, variables, target)
        path = self.base / reference[7:]
        if reference not in self._files:
            self._files[reference] = _read_var_file(path)
        return self._files[reference]


_NOT_JSON = object()


def _read_var_file(path: Path) -> str:
    suffix = path.suffix.lower()
    try:
        if suffix in IMAGE_TYPES:
            data = base64.b64encode(path.read_bytes()).decode()
            return f"data:{IMAGE_TYPES[suffix]};base64,{data}"
        if suffix in MEDIA_SUFFIXES:
            return base64.b64encode(path.read_bytes()).decode()
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScriptError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ScriptError(f"{path} is not UTF-8 text (byte {exc.start})") from exc
    if suffix in (".yaml", ".yml"):
        return stringify(load_yaml(text, path.name))
    return text.strip()


def _loaded(loader: ScriptFunction, reference: str, name: str, template: str,
            variables: dict[str, Any], target: Target) -> Any:  # fmt: skip
    """A var computed by a `.js` or `.py` file: it returns `{output}` (or `{error}`)."""
    python = reference_path(reference).endswith(".py")
    if python:
        result = loader(name, template, variables)
    else:
        provider = {"__provider__": True, "id": target.id, "label": target.given_label,
                    "config": target.config}  # fmt: skip
        result = loader(name, template, variables, provider)
    if isinstance(result, dict) and result.get("error"):
        raise ScriptError(f"{reference[7:]} failed: {result['error']}")
    output = result.get("output") if isinstance(result, dict) else None
    if not output:
        raise ScriptError(f"{reference[7:]} must return {{output: ...}}, got {result!r}")
    return output.strip() if isinstance(output, str) and python else output


def _called(prompt: Prompt, variables: dict[str, Any], target: Target,
            config: dict[str, Any]) -> tuple[str, dict[str, Any]]:  # fmt: skip
    """A prompt function's result as a template (and the config it adds)."""
    assert prompt.function is not None
    context = {"vars": variables, "provider": {"id": target.id, "label": target.given_label},
               "config": config}  # fmt: skip
    result = prompt.function(context)
    if isinstance(result, str):
        return result, config
    if isinstance(result, dict) and "prompt" in result:
        text = result["prompt"]
        extra: dict[str, Any] = result["config"] if isinstance(result.get("config"), dict) else {}
        return (text if isinstance(text, str) else stringify(text)), {**config, **extra}
    if isinstance(result, dict | list):
        return stringify(result), config
    kind = "null" if result is None else type(result).__name__
    raise ScriptError(f"a prompt function must return a string or an object, got {kind}")


def resolve_references(variables: dict[str, Any]) -> None:
    """promptfoo's pass over vars that name other vars: up to five rounds, each filling in the
    first `{{ name }}` of each string var whose name is a var."""
    for _ in range(5):
        changed = False
        for key, value in variables.items():
            if not isinstance(value, str):
                continue
            match = _REFERENCE.search(value)
            if match and match.group(1) in variables:
                replacement = _as_text(variables[match.group(1)])
                variables[key] = value.replace(match.group(0), replacement, 1)
                changed = True
        if not changed:
            return


def _as_text(value: Any) -> str:
    from wsllm.evals.jsvalues import number_text

    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return number_text(float(value)) if isinstance(value, float) else str(value)
    if isinstance(value, list):
        return ",".join("" if v is None else _as_text(v) for v in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


def wrap_partial(text: str) -> str:
    """A template with an unclosed `{{`, `{%` or `{#` is taken literally (promptfoo wraps it in
    `{% raw %}`)."""
    if "{" not in text or not _PARTIAL.search(text):
        return text
    if _RAW.search(text) and _ENDRAW.search(text):
        return text
    return "{% raw %}" + text + "{% endraw %}"
