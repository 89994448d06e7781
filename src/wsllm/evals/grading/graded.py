"""Model-graded and semantic assertions, with promptfoo's semantics: llm-rubric, g-eval,
factuality, answer-relevance, model-graded-closedqa, and similar (cosine, dot, euclidean)."""

from __future__ import annotations

from typing import Any

from wsllm.errors import ConfigError
from wsllm.evals.grading.context import GradingContext, verdict
from wsllm.evals.grading.registry import AsyncHandler, assertion
from wsllm.evals.jsvalues import map_strings, parse_json, stringify
from wsllm.evals.results import GradingResult
from wsllm.evals.schema import Assertion
from wsllm.evals.templates import render
from wsllm.evals.validate import Where
from wsllm.graders import prompts
from wsllm.graders.embeddings import check_embedder, cosine, dot, euclidean
from wsllm.graders.models import parse_grader_id


def _check_grader(spec: dict[str, Any], where: Where) -> None:
    if spec.get("provider") is not None:
        try:
            parse_grader_id(spec["provider"])
        except ConfigError as exc:
            raise where.key("provider").error(str(exc)) from exc


def _check_embedder(spec: dict[str, Any], where: Where) -> None:
    if spec.get("provider") is not None:
        try:
            check_embedder(spec["provider"])
        except ConfigError as exc:
            raise where.key("provider").error(str(exc)) from exc


def _provider(a: Assertion, c: GradingContext, purpose: str) -> Any:
    """The assertion's provider, else the test's `options.provider` (or its `text`/`embedding`)."""
    if a.raw.get("provider") is not None:
        return a.raw["provider"]
    chosen = c.test.options.get("provider")
    if isinstance(chosen, dict) and ("text" in chosen or "embedding" in chosen):
        return chosen.get(purpose)
    return chosen if purpose == "text" else None


def _as_asked(task: prompts.GradeTask, a: Assertion, c: GradingContext,
              context: dict[str, Any]) -> prompts.GradeTask:  # fmt: skip
    """`task`, or, with a `rubricPrompt` (the assertion's, else the test's options'), the same
    task asked in that prompt's words, rendered as promptfoo renders it: a JSON prompt has each
    string in it rendered, and a JSON list of messages is sent as those chat messages."""
    template = a.raw.get("rubricPrompt") or c.test.options.get("rubricPrompt")
    if template is None:
        return task
    values = {key: _for_template(value) for key, value in {**context, **c.variables}.items()}
    try:
        parsed = parse_json(template)
    except ValueError:
        text = render(template, values)
    else:
        text = stringify(map_strings(parsed, lambda string: render(string, values)))
    return prompts.GradeTask(task.kind, _messages(text), task.fields)


def _for_template(value: Any) -> Any:
    """Objects reach a grading prompt as JSON text (lists item by item), as in promptfoo."""
    if isinstance(value, list):
        return [stringify(v) if isinstance(v, dict | list) else v for v in value]
    return stringify(value) if isinstance(value, dict) else value


def _parsed(text: str) -> Any:
    """The output as promptfoo hands it to a grading prompt: JSON parsed when it is JSON."""
    try:
        return parse_json(text)
    except ValueError:
        return text


def _messages(text: str) -> tuple[tuple[str, str], ...]:
    """A rendered grading prompt as chat messages: a JSON list of messages, else one user turn."""
    try:
        parsed = parse_json(text)
    except ValueError:
        parsed = None
    if (
        isinstance(parsed, list)
        and parsed
        and all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and "content" in m
            for m in parsed
        )
    ):
        return tuple((m["role"], _content(m["content"])) for m in parsed)
    return (("user", text),)


def _content(content: Any) -> str:
    return content if isinstance(content, str) else stringify(content)


@assertion("llm-rubric", needs="value", check=_check_grader, uses_grader=True)
async def llm_rubric(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """The grader decides whether the rubric holds for the output."""
    assert c.graders is not None
    task = prompts.rubric_task(c.text, str(value))
    task = _as_asked(task, a, c, {"output": _parsed(c.text), "rubric": value})
    answer = await c.graders.get(_provider(a, c, "text")).ask(task)
    passed, score, reason = prompts.read_rubric(answer)
    if a.threshold is not None:
        passed = passed and score >= a.threshold
    return verdict(
        passed, a, score=score, reason=reason or ("Rubric met" if passed else "Rubric not met")
    )


@assertion("model-graded-closedqa", needs="value", check=_check_grader, uses_grader=True)
async def closedqa(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """The grader answers Y or N: does the output meet the criterion?"""
    assert c.graders is not None
    task = prompts.closedqa_task(c.prompt, c.text, str(value))
    context = {"input": c.prompt, "criteria": value, "completion": _parsed(c.text)}
    task = _as_asked(task, a, c, context)
    passed, reasoning = prompts.read_closedqa(
        await c.graders.get(_provider(a, c, "text")).ask(task)
    )
    fallback = "Meets the criterion" if passed else "Does not meet the criterion"
    return verdict(passed, a, reason=reasoning or fallback)


@assertion("factuality", needs="value", check=_check_grader, uses_grader=True)
async def factuality(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """The grader places the output against the reference: subset, superset, same, disagree..."""
    assert c.graders is not None
    task = prompts.factuality_task(c.prompt, c.text, str(value))
    context = {"input": c.prompt, "ideal": value, "completion": _parsed(c.text)}
    task = _as_asked(task, a, c, context)
    category, reason = prompts.read_factuality(
        await c.graders.get(_provider(a, c, "text")).ask(task)
    )
    scores = {**prompts.FACT_DEFAULT_SCORES, **(c.test.options.get("factuality") or {})}
    kind = prompts.FACT_CATEGORIES[category]
    score = float(scores.get(kind, 0.0))
    threshold = a.threshold if a.threshold is not None else 0.5
    return verdict(
        score >= threshold, a, score=score, reason=f"Category {category} ({kind}): {reason}"
    )


@assertion("g-eval", needs="value", check=_check_grader, uses_grader=True)
async def g_eval(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """The grader writes evaluation steps for each criterion, then scores the output 0 to 10."""
    assert c.graders is not None
    grader = c.graders.get(_provider(a, c, "text"))
    criteria = [str(v) for v in value] if isinstance(value, list) else [str(value)]
    scores, reasons = [], []
    for criterion in criteria:
        steps = prompts.read_steps(await grader.ask(prompts.geval_steps_task(criterion)))
        score, reason = prompts.read_score(
            await grader.ask(prompts.geval_score_task(criterion, steps, c.prompt, c.text))
        )
        scores.append(score / 10)
        reasons.append(reason)
    score = sum(scores) / len(scores)
    threshold = a.threshold if a.threshold is not None else 0.7
    reason = " | ".join(r for r in reasons if r) or f"Score {score:.2f}"
    return verdict(score >= threshold, a, score=score, reason=reason)


@assertion("answer-relevance", check=_check_grader, uses_grader=True)
async def answer_relevance(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """Questions the output answers, generated by the grader, compared with the real query."""
    assert c.graders is not None
    assert c.embedders is not None
    query = str(c.test.vars.get("query") or c.prompt)
    questions = prompts.read_questions(
        await c.graders.get(_provider(a, c, "text")).ask(prompts.questions_task(c.text))
    )
    vectors = await c.embedders.get(_provider(a, c, "embedding")).embed([query, *questions])
    score = sum(cosine(vectors[0], v) for v in vectors[1:]) / len(questions)
    threshold = a.threshold if a.threshold is not None else 0.7
    passed = score >= threshold
    reason = f"Relevance {score:.2f} is {'at least' if passed else 'below'} {threshold:g}"
    return verdict(passed, a, score=score, reason=reason)


def similar(measure: str) -> AsyncHandler:
    """`similar` (cosine), `similar:dot` and `similar:euclidean` (a distance: lower passes)."""

    async def handler(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
        assert c.embedders is not None
        expected = [str(v) for v in value] if isinstance(value, list) else [str(value)]
        vectors = await c.embedders.get(_provider(a, c, "embedding")).embed([c.text, *expected])
        threshold = a.threshold if a.threshold is not None else 0.75
        if measure == "euclidean":
            best = min(euclidean(vectors[0], v) for v in vectors[1:])
            passed = best <= threshold
            reason = f"Distance {best:.2f} is {'within' if passed else 'over'} {threshold:g}"
            return verdict(passed, a, score=1.0 / (1.0 + best), reason=reason)
        compare = cosine if measure == "cosine" else dot
        best = max(compare(vectors[0], v) for v in vectors[1:])
        passed = best >= threshold
        reason = f"Similarity {best:.2f} is {'at least' if passed else 'below'} {threshold:g}"
        return verdict(passed, a, score=best, reason=reason)

    return handler


for _name, _measure in (("similar", "cosine"), ("similar:cosine", "cosine"),
                       ("similar:dot", "dot"), ("similar:euclidean", "euclidean")):  # fmt: skip
    assertion(_name, needs="value", check=_check_embedder)(similar(_measure))
