"""Load a promptfoo-style config: parse, check every key, resolve files, compile functions.

Every problem is a ConfigError naming the file, the path to the key and what was expected, raised
before any request is made.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wsllm.errors import ConfigError
from wsllm.evals.config import suites
from wsllm.evals.config.envtemplates import config_env, render_env
from wsllm.evals.config.files import reference_path
from wsllm.evals.config.prompts import PromptSource, load_prompts
from wsllm.evals.config.targets import columns, load_targets
from wsllm.evals.config.yamlsafe import load_yaml
from wsllm.evals.derived import Expression
from wsllm.evals.functions.compiler import FunctionCompiler
from wsllm.evals.schema import (
    DerivedMetric,
    EvalConfig,
    Extension,
    Options,
    ScriptFunction,
    Target,
    TestCase,
)  # fmt: skip
from wsllm.evals.validate import Where, check_keys, expect, number

DEFAULT_CONFIG_NAMES = ("promptfooconfig.yaml", "promptfooconfig.yml", "promptfooconfig.json")

TOP_LEVEL = (
    "description", "prompts", "providers", "targets", "tests", "defaultTest", "evaluateOptions",
    "outputPath", "env", "sharing", "tags", "metadata", "writeLatestResults", "scenarios",
    "derivedMetrics", "nunjucksFilters", "extensions",
)  # fmt: skip
EVALUATE_KEYS = ("maxConcurrency", "repeat", "delay", "timeoutMs", "showProgressBar", "cache")
HOOKS = ("beforeAll", "beforeEach", "afterEach", "afterAll")


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """What the command line adds: `--var` values, `--filter-targets`, extensions (`-x`), the
    environment templates see, and config keys to use instead of the file's (a beforeAll hook's
    tests, defaultTest and scenarios)."""

    extra_vars: dict[str, str] = field(default_factory=dict)
    targets_pattern: str | None = None
    extensions: tuple[str, ...] = ()
    environ: Mapping[str, str] | None = None
    overrides: dict[str, Any] | None = None


def find_config(path: Path | None) -> Path:
    """The config file to run: the one given, else promptfooconfig.yaml in this folder."""
    if path is not None:
        if path.is_dir():
            return find_config_in(path)
        if not path.is_file():
            raise ConfigError(f"{path}: no such config file")
        return path
    return find_config_in(Path())


def find_config_in(folder: Path) -> Path:
    """The default-named config in `folder`."""
    for name in DEFAULT_CONFIG_NAMES:
        if (folder / name).is_file():
            return folder / name
    raise ConfigError(f"no promptfooconfig.yaml in {folder.resolve()}: give one with -c PATH")


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


def load_config(path: Path, options: LoadOptions | None = None) -> EvalConfig:
    """Load and check the config at `path` (as the user typed it: prompt labels show it)."""
    options = options or LoadOptions()
    where = Where(path.name)
    raw = expect(read_yaml(path, path.name), (dict,), where)
    check_keys(raw, TOP_LEVEL, where)
    environ = os.environ if options.environ is None else options.environ
    env = config_env(expect(raw.get("env") or {}, (dict,), where.key("env")), environ)
    raw = render_env(raw, {**environ, **env})
    if options.overrides:
        raw = {**raw, **options.overrides}
    base = path.parent.resolve()
    compiler = FunctionCompiler(base, env)
    targets = _chosen(load_targets(raw, where, base, compiler), options.targets_pattern)
    shown = os.path.dirname(str(path)) or "."
    prompts = load_prompts(raw.get("prompts"), where.key("prompts"),
                           PromptSource(base, shown, compiler))  # fmt: skip
    source = suites.TestSource(base, compiler, prompts, targets, dict(options.extra_vars))
    tests = suites.load_tests(raw, where, source)
    return EvalConfig(
        path=path,
        description=_optional_str(raw.get("description"), where.key("description")),
        prompts=prompts,
        targets=targets,
        tests=tests,
        options=_options(raw.get("evaluateOptions"), where.key("evaluateOptions")),
        output_paths=_output_paths(raw.get("outputPath"), where.key("outputPath")),
        env=env,
        raw=raw,
        columns=columns(targets, prompts, where.key("providers")),
        derived_metrics=_derived(raw.get("derivedMetrics"), where.key("derivedMetrics")),
        extensions=_extensions(
            [*options.extensions, *_listed(raw, "extensions", where)],
            where.key("extensions"),
            compiler,
        ),
        filters=_filters(raw.get("nunjucksFilters"), where.key("nunjucksFilters"), compiler),
        base=base,
        var_loaders=_var_loaders(tests, compiler, where.key("tests")),
    )


def _var_loaders(tests: list[TestCase], compiler: FunctionCompiler,
                 where: Where) -> dict[str, ScriptFunction]:  # fmt: skip
    """The `.js` and `.py` files vars name, compiled; a PDF var is refused."""
    loaders: dict[str, ScriptFunction] = {}
    for test in tests:
        for name, value in test.vars.items():
            if not (isinstance(value, str) and value.startswith("file://")):
                continue
            path = reference_path(value)
            if path.endswith(".pdf"):
                raise where.key(f"vars.{name}").error("PDF vars are not supported: use text")
            if path.endswith((".js", ".cjs", ".mjs", ".py")) and value not in loaders:
                loaders[value] = compiler.file_function(value, where.key(f"vars.{name}"), "get_var")
    return loaders


def _chosen(targets: list[Target], pattern: str | None) -> list[Target]:
    """`--filter-targets`: the targets whose id or label the regular expression finds."""
    if pattern is None:
        return targets
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"--filter-targets: invalid regular expression: {exc}") from exc
    chosen = [t for t in targets if regex.search(t.id) or regex.search(t.given_label)]
    if not chosen:
        names = ", ".join(t.given_label or t.id for t in targets)
        raise ConfigError(f"--filter-targets {pattern!r} matches no target (targets: {names})")
    return chosen


def _optional_str(value: Any, where: Where) -> str | None:
    return None if value is None else str(expect(value, (str,), where))


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


def _listed(raw: dict[str, Any], key: str, where: Where) -> list[Any]:
    value = raw.get(key)
    if value is None:
        return []
    return list(expect(value, (list,), where.key(key)))


def _derived(value: Any, where: Where) -> list[DerivedMetric]:
    metrics: list[DerivedMetric] = []
    for i, item in enumerate(expect(value or [], (list,), where)):
        place = where.item(i)
        check_keys(expect(item, (dict,), place), ("name", "value"), place)
        name = str(expect(item.get("name"), (str,), place.key("name")))
        source = str(expect(item.get("value"), (str,), place.key("value")))
        try:
            expression = Expression(source)
        except ConfigError as exc:
            raise place.key("value").error(str(exc)) from exc
        metrics.append(DerivedMetric(name, source, _evaluator(expression)))
    return metrics


def _evaluator(expression: Expression) -> ScriptFunction:
    return lambda scope, step: expression.evaluate(scope)


def _extensions(items: list[Any], where: Where, compiler: FunctionCompiler) -> list[Extension]:
    found: list[Extension] = []
    for i, item in enumerate(items):
        place = where.item(i)
        reference = str(expect(item, (str,), place))
        if not reference.startswith("file://"):
            raise place.error("an extension is file://path/to/file.js:function (or .py:function)")
        name = reference[7:].rpartition(":")[2] if reference[7:].rfind(":") > 1 else ""
        if reference.removesuffix(f":{name}").endswith(".py") and not name:
            raise place.error("name the Python hook function: file://hooks.py:function_name")
        function = compiler.file_function(reference, place, name)
        found.append(Extension(reference, function, name if name in HOOKS else None))
    return found


def _filters(value: Any, where: Where, compiler: FunctionCompiler) -> dict[str, ScriptFunction]:
    filters: dict[str, ScriptFunction] = {}
    for name, path in expect(value or {}, (dict,), where).items():
        place = where.key(str(name))
        text = str(expect(path, (str,), place))
        reference = text if text.startswith("file://") else f"file://{text}"
        filters[str(name)] = compiler.file_function(reference, place, str(name))
    return filters
