"""`extensions`: hook functions called before and after the run and each test, as promptfoo calls
them. A function named for a hook (`file://x.js:beforeEach`) is called for that hook alone, as
`fn(context, {hookName})`; any other is called for all four, as `fn(hookName, context)`. Each
extension sees the hook's original context; the last one to return something wins. A hook that
throws stops the run."""

from __future__ import annotations

import dataclasses
from typing import Any

from wsllm.errors import HookError, WsllmError
from wsllm.evals.schema import EvalConfig, Extension, TestCase

# What a beforeEach hook may change in a test (assertions and options are compiled at load).
MUTABLE_TEST_KEYS = ("vars", "description", "metadata", "threshold")


def call_hook(extensions: list[Extension], hook: str, context: dict[str, Any]) -> Any:
    """Call every extension for `hook`; the last truthy return value (or None)."""
    chosen: Any = None
    for extension in extensions:
        if extension.only is not None and extension.only != hook:
            continue
        try:
            if extension.only is not None:
                result = extension.function(context, {"hookName": hook})
            else:
                result = extension.function(hook, context)
        except WsllmError as exc:
            raise HookError(
                f'extension hook "{hook}" failed for {extension.reference}: {exc}'
            ) from exc
        except Exception as exc:
            raise HookError(
                f'extension hook "{hook}" failed for {extension.reference}: '
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if result:
            chosen = result
    return chosen


def suite_context(config: EvalConfig) -> dict[str, Any]:
    """beforeAll's `{suite}`: the config as loaded (prompts, targets, tests as written)."""
    raw = config.raw
    return {"suite": {
        "description": config.description, "tags": raw.get("tags"),
        "prompts": [{"raw": p.raw, "label": p.label, "id": p.id, "config": p.config}
                    for p in config.prompts],
        "providers": [{"id": t.id, "label": t.given_label, "config": t.config}
                      for t in config.targets],
        "tests": raw.get("tests"), "scenarios": raw.get("scenarios"),
        "defaultTest": raw.get("defaultTest"), "derivedMetrics": raw.get("derivedMetrics"),
        "nunjucksFilters": raw.get("nunjucksFilters"), "extensions": raw.get("extensions"),
    }}  # fmt: skip


def changed_suite(result: Any, config: EvalConfig) -> dict[str, Any] | None:
    """What a beforeAll hook changed, as config keys to load again: tests, defaultTest,
    scenarios. None when it changed nothing."""
    if not result:
        return None
    if not isinstance(result, dict) or not isinstance(result.get("suite"), dict):
        raise HookError(f"a beforeAll hook must return {{suite: ...}}, got {result!r}")
    suite = result["suite"]
    before = suite_context(config)["suite"]
    changes = {k: suite.get(k) for k in ("tests", "defaultTest", "scenarios")
               if suite.get(k) != before[k]}  # fmt: skip
    fixed = [k for k in ("prompts", "providers", "derivedMetrics", "nunjucksFilters")
             if k in suite and suite[k] != before[k]]  # fmt: skip
    if fixed:
        raise HookError(
            f"a beforeAll hook changed {', '.join(fixed)}: it may change tests, defaultTest "
            "and scenarios"
        )
    return changes or None


def test_from_hook(result: Any, test: TestCase) -> TestCase:
    """The test a beforeEach hook returned (`{test}`), or the test as it was."""
    if not result:
        return test
    if not isinstance(result, dict) or not isinstance(result.get("test"), dict):
        raise HookError(f"a beforeEach hook must return {{test: ...}}, got {result!r}")
    new = result["test"]
    for key in ("assert", "options"):
        if key in new and new[key] != test.raw.get(key):
            raise HookError(f"a beforeEach hook changed the test's `{key}`: it may change "
                            f"{', '.join(MUTABLE_TEST_KEYS)}")  # fmt: skip
    variables = new.get("vars", test.vars)
    if not isinstance(variables, dict):
        raise HookError(f"a beforeEach hook returned vars that are not an object: {variables!r}")
    threshold = new.get("threshold", test.threshold)
    return dataclasses.replace(
        test, vars=dict(variables), description=new.get("description", test.description),
        metadata=dict(new.get("metadata") or {}), raw={**test.raw, **new},
        threshold=float(threshold) if isinstance(threshold, int | float) else None,
    )  # fmt: skip
