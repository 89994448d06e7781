"""Files a config names: globs expanded against the config's folder, text read as UTF-8, data
(YAML, JSON) parsed; every failure a ConfigError naming the file."""

from __future__ import annotations

import glob
import json
from pathlib import Path
from typing import Any

from wsllm.evals.config.yamlsafe import load_yaml
from wsllm.evals.validate import Where


def expand(pattern: str, where: Where, base: Path) -> list[Path]:
    """The files `pattern` names (a path or a glob, relative to `base`), at least one."""
    full = str(base / pattern)
    paths = sorted(Path(p) for p in glob.glob(full)) if glob.has_magic(full) else [Path(full)]
    if not paths or not all(p.is_file() for p in paths):
        missing = next((p for p in paths if not p.is_file()), Path(full))
        raise where.error(f"no such file: {missing}")
    return paths


def read_text(path: Path, where: Where) -> str:
    """A file's text; a ConfigError naming it when it cannot be read or is not UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise where.error(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise where.error(
            f"{path} is not UTF-8 text (byte {exc.start} cannot be decoded); save it as UTF-8"
        ) from exc


def load_data(path: Path, where: Where) -> Any:
    """A JSON or YAML file's data."""
    text = read_text(path, where)
    if path.suffix != ".json":
        return load_yaml(text, path.name)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise Where(path.name).error(f"cannot parse: {exc}") from exc


def reference_path(reference: str) -> str:
    """The path part of `file://x.py:fn` or `x.js:fn` (a drive letter's colon is kept)."""
    text = reference.removeprefix("file://")
    colon = text.rfind(":")
    return text[:colon] if colon > 1 else text
