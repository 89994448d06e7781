"""How `prompts:` and `providers:` filters name prompts and targets, with promptfoo's matching:
the exact label or id, `name*` as a prefix, or `name:` as the start of the label or id."""

from __future__ import annotations

from wsllm.evals.schema import Prompt, Target


def _named(ref: str, name: str | None) -> bool:
    if not name:
        return False
    if name == ref or name.startswith(f"{ref}:"):
        return True
    return ref.endswith("*") and name.startswith(ref[:-1])


def prompt_matches(ref: str, prompt: Prompt) -> bool:
    """Whether `ref` names `prompt` (by its label or its own id)."""
    return _named(ref, prompt.label) or _named(ref, prompt.id)


def target_matches(ref: str, target: Target) -> bool:
    """Whether `ref` names `target` (by its label or its id)."""
    return _named(ref, target.given_label) or _named(ref, target.id)


def prompt_allowed(prompt: Prompt, refs: tuple[str, ...] | None) -> bool:
    """No filter allows every prompt; an empty one allows none."""
    return refs is None or any(prompt_matches(ref, prompt) for ref in refs)


def target_allowed(target: Target, refs: tuple[str, ...] | None) -> bool:
    """No filter allows every target; an empty one allows none."""
    return refs is None or any(target_matches(ref, target) for ref in refs)
