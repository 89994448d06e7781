"""The prompts of a config, as promptfoo reads them: inline templates, objects with a label or an
id, the `{path: label}` map, and files by type (text split on `---`, chat JSON/YAML/JSONL,
Markdown, Jinja, and JavaScript or Python prompt functions)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wsllm.errors import ConfigError
from wsllm.evals.config.files import expand, load_data, read_text, reference_path
from wsllm.evals.functions.compiler import FunctionCompiler
from wsllm.evals.jsvalues import parse_json, stringify
from wsllm.evals.schema import Prompt
from wsllm.evals.templates import compile_template
from wsllm.evals.validate import Where, check_keys, expect

PROMPT_KEYS = ("raw", "label", "id", "config")
_FUNCTION_FILES = (".js", ".cjs", ".mjs", ".py")
_SEPARATOR = re.compile(r"^\s*---\s*$")


@dataclass(frozen=True, slots=True)
class PromptSource:
    """Where prompts come from: the config's folder, and that folder as the user typed it."""

    base: Path
    shown: str
    compiler: FunctionCompiler


def load_prompts(value: Any, where: Where, source: PromptSource) -> list[Prompt]:
    """Every prompt the `prompts` key gives, in order."""
    if value is None:
        raise where.error("missing: give at least one prompt, such as '{{question}}'")
    prompts: list[Prompt] = []
    for spec, place in _entries(value, where):
        prompts += _prompt(spec, place, source)
    if not prompts:
        raise where.error("empty: give at least one prompt")
    return prompts


def _entries(value: Any, where: Where) -> list[tuple[dict[str, Any], Where]]:
    if isinstance(value, str):
        return [({"raw": value}, where)]
    if isinstance(value, dict):  # promptfoo's map form: {template or path: label}
        return [({"raw": str(k), "label": str(v)}, where.key(str(k))) for k, v in value.items()]
    items = expect(value, (list,), where)
    return [(_entry(item, where.item(i)), where.item(i)) for i, item in enumerate(items)]


def _entry(item: Any, where: Where) -> dict[str, Any]:
    if isinstance(item, str):
        return {"raw": item}
    spec = dict(expect(item, (dict,), where))
    check_keys(spec, PROMPT_KEYS, where)
    for key in ("raw", "label", "id"):
        if spec.get(key) is not None:
            expect(spec[key], (str,), where.key(key))
    if spec.get("id") is None and not (spec.get("raw") and spec.get("label")):
        raise where.error(
            "a prompt object needs `raw` and `label` (or an `id`, which `raw` defaults to)"
        )
    spec["raw"] = spec.get("raw") or spec["id"]
    if spec.get("config") is not None:
        expect(spec["config"], (dict,), where.key("config"))
    return spec


def _prompt(spec: dict[str, Any], where: Where, source: PromptSource) -> list[Prompt]:
    raw = str(spec["raw"])
    if raw.startswith("file://") or _names_a_file(raw, source.base):
        return _from_files(raw.removeprefix("file://"), spec, where, source)
    _check_template(raw, where)
    label = spec.get("label") or raw
    return [Prompt(raw, label, spec.get("id"), dict(spec.get("config") or {}))]


def _names_a_file(raw: str, base: Path) -> bool:
    """A one-line prompt without `file://` that names an existing file is read from it."""
    if "\n" in raw or "{{" in raw or "{%" in raw:
        return False
    try:
        return (base / reference_path(raw)).is_file()
    except (OSError, ValueError):
        return False


def _from_files(reference: str, spec: dict[str, Any], where: Where,
                source: PromptSource) -> list[Prompt]:  # fmt: skip
    path_text = reference_path(reference)
    function = reference[len(path_text) + 1 :] if len(reference) > len(path_text) else ""
    prompts: list[Prompt] = []
    for path in expand(path_text, where, source.base):
        shown = os.path.normpath(os.path.join(source.shown, os.path.relpath(path, source.base)))
        prompts += _from_file(path, shown, function, spec, where, source)
    return prompts


def _from_file(path: Path, shown: str, function: str, spec: dict[str, Any], where: Where,
               source: PromptSource) -> list[Prompt]:  # fmt: skip
    label, config = spec.get("label"), dict(spec.get("config") or {})
    suffix = path.suffix.lower()
    if suffix in _FUNCTION_FILES:
        return [_function_prompt(path, shown, function, label, config, where, source)]
    if suffix == ".txt":
        return _text_prompts(path, shown, label, where)
    if suffix == ".jsonl":
        return _jsonl_prompts(path, shown, label, config, where)
    if suffix in (".json", ".yaml", ".yml"):
        raw = _structured_raw(path, where)
        default = f"{shown}: {raw}" if suffix == ".json" else f"{shown}: {raw[:80]}"
        return [_checked(Prompt(raw, label or default, None, config), where)]
    if suffix in (".md", ".j2"):
        raw = read_text(path, where)
        kept = config if suffix == ".j2" else {}
        return [_checked(Prompt(raw, label or f"{shown}: {raw[:50]}...", None, kept), where)]
    raise where.error(
        f"{path.name}: unsupported prompt file type {suffix or '(none)'!r}: use .txt, .json, "
        ".jsonl, .yaml, .yml, .md, .j2, .js, .cjs, .mjs or .py (with :function)"
    )


def _checked(prompt: Prompt, where: Where) -> Prompt:
    _check_template(prompt.raw, where)
    return prompt


def _text_prompts(path: Path, shown: str, label: str | None, where: Where) -> list[Prompt]:
    chunks: list[list[str]] = [[]]
    for line in read_text(path, where).splitlines():
        if _SEPARATOR.match(line):
            chunks.append([])
        else:
            chunks[-1].append(line)
    raws = [text for text in ("\n".join(c).strip() for c in chunks) if text]
    return [
        _checked(Prompt(raw, f"{label}: {shown}: {raw}" if label else f"{shown}: {raw}"), where)
        for raw in raws
    ]


def _jsonl_prompts(path: Path, shown: str, label: str | None, config: dict[str, Any],
                   where: Where) -> list[Prompt]:  # fmt: skip
    lines = [line for line in re.split(r"\r?\n", read_text(path, where)) if line]
    if len(lines) == 1:
        return [_checked(Prompt(lines[0], label or shown, None, config), where)]
    head = label or shown
    return [_checked(Prompt(line, f"{head}: {line}", None, config), where) for line in lines]


def _structured_raw(path: Path, where: Where) -> str:
    """A chat file re-written as compact JSON, as promptfoo sends it; its text if it won't parse."""
    text = read_text(path, where)
    try:
        data = parse_json(text) if path.suffix == ".json" else load_data(path, where)
    except (ValueError, ConfigError):
        return text
    return stringify(data)


def _function_prompt(
    path: Path,
    shown: str,
    function: str,
    label: str | None,
    config: dict[str, Any],
    where: Where,
    source: PromptSource,
) -> Prompt:
    if path.suffix == ".py" and not function:
        raise where.error(
            f"{path.name}: name the Python prompt function, such as file://{path.name}:make_prompt"
        )
    reference = f"file://{path}" + (f":{function}" if function else "")
    compiled = source.compiler.file_function(reference, where, function or "")
    raw = source.compiler.source_of(compiled)
    if raw is None:
        raw = read_text(path, where)
    default = f"{shown}:{function}" if function else shown
    return Prompt(raw, label or default, None, config, compiled)


def _check_template(text: str, where: Where) -> None:
    try:
        compile_template(text)
    except ConfigError as exc:
        raise where.error(str(exc)) from exc
