"""`select-best` and `max-score`: judged after the run, across one test's outputs (every column of
its row), with promptfoo's semantics: the chosen output keeps its score, the others fail with a
score of 0, and each result gets the comparison as one more component."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from wsllm.errors import EmbeddingError, GraderError
from wsllm.evals.results import GradingResult, TestResult
from wsllm.evals.schema import Assertion
from wsllm.graders import prompts
from wsllm.graders.models import Graders


def _first(result: TestResult, kind: str) -> Assertion | None:
    return next((a for a in result.test.asserts if a.type == kind), None)


def _rows(results: list[TestResult], kind: str) -> list[tuple[Assertion, list[TestResult]]]:
    rows: dict[int, list[TestResult]] = defaultdict(list)
    for result in results:
        rows[result.row].append(result)
    found = []
    for row in rows.values():
        chosen = _first(row[0], kind)
        if chosen is not None:
            found.append((chosen, sorted(row, key=lambda r: r.column)))
    return found


def _merge(result: TestResult, verdict: GradingResult, assertion: Assertion) -> None:
    """Fold a comparison's verdict into a result, as promptfoo does."""
    verdict.assertion = assertion.raw
    grading = result.grading
    if grading is None:  # the call failed: the verdict is all there is, and it cannot pass
        if result.response.error is None:
            result.grading = verdict
        return
    previous = grading.passed
    grading.passed = previous and verdict.passed
    if not verdict.passed:
        grading.score = verdict.score
        if previous:
            grading.reason = verdict.reason
    grading.components.append(verdict)
    grading.named_scores.update(verdict.named_scores)


async def compare(results: list[TestResult], graders: Graders | None) -> None:
    """Judge every select-best, then every max-score, of the run."""
    for assertion, row in _rows(results, "select-best"):
        for result, verdict in zip(row, await _select_best(assertion, row, graders), strict=True):
            _merge(result, verdict, assertion)
    for assertion, row in _rows(results, "max-score"):
        for result, verdict in zip(row, _max_score(assertion, row), strict=True):
            _merge(result, verdict, assertion)


def _too_few(kind: str, row: list[TestResult]) -> list[GradingResult] | None:
    if len(row) >= 2:
        return None
    reason = f"{kind} compares a test's outputs: it needs two or more columns, this test has one"
    return [GradingResult(False, 0.0, reason) for _ in row]


async def _select_best(assertion: Assertion, row: list[TestResult],
                       graders: Graders | None) -> list[GradingResult]:  # fmt: skip
    too_few = _too_few("select-best", row)
    if too_few is not None:
        return too_few
    criteria = str(assertion.value)
    outputs = [_text(r.response.output) for r in row]
    provider = assertion.raw.get("provider") or row[0].test.options.get("provider")
    try:
        assert graders is not None
        answer = await graders.get(provider).ask(prompts.select_best_task(criteria, outputs))
    except (GraderError, EmbeddingError) as exc:
        return [GradingResult(False, 0.0, str(exc)) for _ in row]
    digit = re.search(r"\d", answer.strip())
    chosen = int(digit.group(0)) if digit else None
    if chosen is None or chosen >= len(row):
        shown = "NaN" if chosen is None else str(chosen)
        return [GradingResult(False, 0.0, f"Invalid select-best verdict: {shown}") for _ in row]
    return [
        GradingResult(True, 1.0, f"Output selected as the best: {criteria}")
        if i == chosen
        else GradingResult(False, 0.0, f"Output not selected: {criteria}")
        for i in range(len(row))
    ]


def _text(output: Any) -> str:
    if output is None or output == "":
        return ""
    if isinstance(output, str):
        return output
    import json

    return json.dumps(output, ensure_ascii=False)


def _max_score(assertion: Assertion, row: list[TestResult]) -> list[GradingResult]:
    too_few = _too_few("max-score", row)
    if too_few is not None:
        return too_few
    options = assertion.value if isinstance(assertion.value, dict) else {}
    weights = options.get("weights") or {}
    scores = [_weighted(r, weights, options.get("method") == "sum") for r in row]
    if any(s is None for s in scores):
        reason = "max-score needs at least one other assertion to aggregate scores from"
        return [GradingResult(False, 0.0, reason) for _ in row]
    values = [float(s) for s in scores if s is not None]
    best = max(values)
    winner = values.index(best)
    threshold = options.get("threshold")
    meets = threshold is None or best >= threshold
    verdicts = [_max_verdict(i, s, winner, best, meets, threshold) for i, s in enumerate(values)]
    for verdict, result in zip(verdicts, row, strict=True):
        counted = _counted(result)
        verdict.named_scores["assertionCount"] = len(counted)
        verdict.named_scores["totalWeight"] = sum(float(weights.get(t, 1)) for t in counted)
    return verdicts


def _counted(result: TestResult) -> list[str]:
    """The types of a result's components that a max-score adds up."""
    kinds = [str((c.assertion or {}).get("type")) for c in _components(result)]
    return [k for k in kinds if k not in ("select-best", "max-score")]


def _components(result: TestResult) -> list[GradingResult]:
    return result.grading.components if result.grading is not None else []


def _weighted(result: TestResult, weights: dict[str, Any], total: bool) -> float | None:
    kinds = [str((c.assertion or {}).get("type")) for c in _components(result)]
    pairs = [
        (float(weights.get(kind, 1)), c.score)
        for kind, c in zip(kinds, _components(result), strict=True)
        if kind not in ("select-best", "max-score")
    ]
    if not pairs:
        return None if result.grading is not None else 0.0
    summed = sum(w * s for w, s in pairs)
    if total:
        return summed
    weight = sum(w for w, _ in pairs)
    return summed / weight if weight else 0.0


def _max_verdict(index: int, score: float, winner: int, best: float, meets: bool,
                 threshold: Any) -> GradingResult:  # fmt: skip
    named = {"maxScore": score}
    if index == winner and meets:
        reason = f"Selected as highest scoring output (score: {score:.3f})"
        return GradingResult(True, 1.0, reason, named_scores=named)
    if score == best and not meets:
        reason = f"Not selected - score {score:.3f} below threshold {threshold}"
    else:
        reason = f"Not selected (score: {score:.3f}, max: {best:.3f})"
    return GradingResult(False, 0.0, reason, named_scores=named)
