"""Model-graded assertions against a fake grader: the prompt we send, our reading of good and bad
answers, retries, the cache, token counts, and the simulated stand-in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.evals.helpers import load, target_config
from wsllm.errors import ConfigError
from wsllm.evals.results import TestResult as Result
from wsllm.evals.runner import Judges, RunOptions, plan, run_context, run_jobs
from wsllm.graders.embeddings import Embedders
from wsllm.graders.models import Graders


async def grade(ws_targets: str, tmp_path: Path, asserts: list[dict[str, Any]], grader: Any,
                cache: Path | None = None) -> tuple[Result, Graders]:  # fmt: skip
    text = target_config(f"{ws_targets}/seed") + f"    assert: {json.dumps(asserts)}\n"
    config = load(tmp_path, text)
    graders, embedders = Graders(grader, cache), Embedders()
    import asyncio

    options = RunOptions()
    try:
        context = run_context(config, options, Judges(graders, embedders))
        [result], _ = await run_jobs(plan(config, options), context, options, lambda i, r: None,
                                     asyncio.Event())  # fmt: skip
    finally:
        await graders.aclose()
        await embedders.aclose()
    return result, graders


def chat_grader(fake: Any) -> dict[str, Any]:
    return {"id": "openai:chat:judge-1", "config": {"apiBaseUrl": fake.base_url, "apiKey": "gk"}}


async def test_llm_rubric_sends_output_and_rubric_and_reads_the_verdict(
    ws_targets: str, tmp_path: Path, fake_grader: Any
) -> None:
    fake_grader.reply = lambda messages: (
        '{"reason": "It thanks the user.", "pass": true, "score": 0.9}'
    )
    result, graders = await grade(
        ws_targets,
        tmp_path,
        [{"type": "llm-rubric", "value": "Thanks the user"}],
        chat_grader(fake_grader),
    )
    assert result.status == "pass"
    assert result.grading is not None
    assert result.grading.components[0].reason == "It thanks the user."
    [sent] = fake_grader.requests
    assert sent["model"] == "judge-1"
    prompt = json.dumps(sent["messages"])
    assert "You said: hello there. Thanks for asking." in prompt
    assert "Thanks the user" in prompt
    assert (graders.usage.requests, graders.usage.prompt, graders.usage.completion) == (1, 100, 20)


async def test_a_malformed_grader_answer_fails_the_assertion_with_a_reason(
    ws_targets: str, tmp_path: Path, fake_grader: Any
) -> None:
    fake_grader.reply = lambda messages: "Looks good to me!"
    result, _ = await grade(
        ws_targets, tmp_path, [{"type": "llm-rubric", "value": "Polite"}], chat_grader(fake_grader)
    )
    assert result.status == "fail"
    assert result.grading is not None
    assert "no JSON object in the grader's answer" in result.grading.reason


async def test_rubric_threshold_and_not(ws_targets: str, tmp_path: Path, fake_grader: Any) -> None:
    fake_grader.reply = lambda messages: '{"reason": "partly", "pass": true, "score": 0.6}'
    asserts = [{"type": "llm-rubric", "value": "x", "threshold": 0.8}]
    assert (await grade(ws_targets, tmp_path, asserts, chat_grader(fake_grader)))[
        0
    ].status == "fail"
    asserts = [{"type": "not-llm-rubric", "value": "x", "threshold": 0.8}]
    assert (await grade(ws_targets, tmp_path, asserts, chat_grader(fake_grader)))[
        0
    ].status == "pass"


async def test_retries_on_429_and_5xx_then_succeeds(
    ws_targets: str, tmp_path: Path, fake_grader: Any
) -> None:
    fake_grader.failures = [429, 503]
    result, graders = await grade(
        ws_targets, tmp_path, [{"type": "llm-rubric", "value": "x"}], chat_grader(fake_grader)
    )
    assert result.status == "pass"
    assert len(fake_grader.requests) == 3
    assert graders.usage.requests == 1


async def test_a_grader_that_keeps_failing_fails_the_assertion(
    ws_targets: str, tmp_path: Path, fake_grader: Any
) -> None:
    fake_grader.failures = [500] * 10
    result, _ = await grade(
        ws_targets, tmp_path, [{"type": "llm-rubric", "value": "x"}], chat_grader(fake_grader)
    )
    assert result.status == "fail"
    assert result.grading is not None
    assert "the grader openai:chat:judge-1 at http" in result.grading.reason
    assert "failed (500): boom" in result.grading.reason
    assert len(fake_grader.requests) == 5  # the first try and 4 retries


async def test_answers_are_cached_by_model_and_prompt(
    ws_targets: str, tmp_path: Path, fake_grader: Any
) -> None:
    cache = tmp_path / "cache.db"
    first, _ = await grade(
        ws_targets,
        tmp_path,
        [{"type": "llm-rubric", "value": "x"}],
        chat_grader(fake_grader),
        cache,
    )
    second, graders = await grade(
        ws_targets,
        tmp_path,
        [{"type": "llm-rubric", "value": "x"}],
        chat_grader(fake_grader),
        cache,
    )
    assert first.status == second.status == "pass"
    assert len(fake_grader.requests) == 1
    assert (graders.usage.requests, graders.usage.cached) == (0, 1)
    await grade(
        ws_targets,
        tmp_path,
        [{"type": "llm-rubric", "value": "other rubric"}],
        chat_grader(fake_grader),
        cache,
    )
    assert len(fake_grader.requests) == 2


async def test_the_responses_api_as_grader(
    ws_targets: str, tmp_path: Path, fake_grader: Any
) -> None:
    grader = {"id": "openai:responses:judge-2", "config": {"apiBaseUrl": fake_grader.base_url}}
    result, graders = await grade(
        ws_targets, tmp_path, [{"type": "llm-rubric", "value": "x"}], grader
    )
    assert result.status == "pass"
    assert fake_grader.requests[0]["path"] == "/v1/responses"
    assert graders.usage.prompt == 90


async def test_closedqa_factuality_and_g_eval(
    ws_targets: str, tmp_path: Path, fake_grader: Any
) -> None:
    def reply(messages: list[dict[str, str]]) -> str:
        text = messages[-1]["content"]
        if "[Criterion]" in text:
            return "The reply thanks the user.\nY"
        if "[Expert answer]" in text:
            return '{"category": "D", "reason": "It contradicts the expert."}'
        if "steps an evaluator" in text:
            return '{"steps": ["Check politeness", "Check brevity"]}'
        return '{"score": 8, "reason": "polite and short"}'

    fake_grader.reply = reply
    asserts = [
        {"type": "model-graded-closedqa", "value": "Thanks the user"},
        {"type": "factuality", "value": "The sky is green."},
        {"type": "g-eval", "value": "Polite and brief"},
    ]
    result, graders = await grade(ws_targets, tmp_path, asserts, chat_grader(fake_grader))
    assert result.grading is not None
    closedqa, fact, geval = result.grading.components
    assert (closedqa.passed, closedqa.reason) == (True, "The reply thanks the user.")
    assert (fact.passed, fact.score) == (False, 0.0)
    assert "Category D (disagree)" in fact.reason
    assert (geval.passed, geval.score) == (True, 0.8)
    assert graders.usage.requests == 4  # g-eval asks twice


async def test_answer_relevance_and_similar_with_an_embeddings_endpoint(
    ws_targets: str, tmp_path: Path, fake_grader: Any
) -> None:
    fake_grader.reply = lambda messages: '{"questions": ["hello there"]}'
    embedding = {"id": "openai:embedding:embed-1", "config": {"apiBaseUrl": fake_grader.base_url}}
    asserts = [
        {"type": "answer-relevance", "threshold": 0.99, "provider": None},
        {
            "type": "similar",
            "value": "You said: hello there. Thanks for asking.",
            "provider": embedding,
        },
        {
            "type": "similar",
            "value": "something else entirely",
            "provider": embedding,
            "threshold": 0.99,
        },
        {
            "type": "similar:euclidean",
            "value": "You said: hello there. Thanks for asking.",
            "provider": embedding,
            "threshold": 0.01,
        },
    ]
    text = target_config(f"{ws_targets}/seed") + (
        f"    options: {{provider: {{text: {json.dumps(chat_grader(fake_grader))}, embedding: {json.dumps(embedding)}}}}}\n"
        f"    assert: {json.dumps(asserts)}\n"
    )
    config = load(tmp_path, text)
    import asyncio

    graders, embedders = Graders("simulated", None), Embedders()
    options = RunOptions()
    [result], _ = await run_jobs(
        plan(config, options),
        run_context(config, options, Judges(graders, embedders)),
        options,
        lambda i, r: None,
        asyncio.Event(),
    )
    await graders.aclose()
    await embedders.aclose()
    assert result.grading is not None
    relevance, same, other, distance = result.grading.components
    assert relevance.passed  # the question equals the query, so the vectors match exactly
    assert same.passed
    assert same.score > 0.999
    assert not other.passed
    assert distance.passed
    assert any(r["path"] == "/v1/embeddings" for r in fake_grader.requests)


async def test_the_simulated_grader_says_it_is_no_judge(ws_targets: str, tmp_path: Path) -> None:
    result, graders = await grade(
        ws_targets, tmp_path, [{"type": "llm-rubric", "value": "thanks for asking"}], "simulated"
    )
    assert result.grading is not None
    assert result.grading.components[0].reason.startswith("[simulated grader: not a real judge]")
    assert graders.used_simulated


async def test_a_rubric_prompt_of_chat_messages_is_rendered_and_sent_as_those_messages(
    ws_targets: str, tmp_path: Path, fake_grader: Any
) -> None:
    messages = [
        {"role": "system", "content": "Judge answers to {{ question }}. Reply in JSON."},
        {"role": "user", "content": "Output: {{ output }}\nRubric: {{ rubric }}"},
    ]
    asserts = [{"type": "llm-rubric", "value": "Polite", "rubricPrompt": messages}]
    result, _ = await grade(ws_targets, tmp_path, asserts, chat_grader(fake_grader))
    assert result.status == "pass"
    [sent] = fake_grader.requests
    assert sent["messages"] == [
        {"role": "system", "content": "Judge answers to hello there. Reply in JSON."},
        {"role": "user",
         "content": "Output: You said: hello there. Thanks for asking.\nRubric: Polite"},
    ]  # fmt: skip


async def test_a_rubric_prompt_of_text_from_a_file_is_one_user_message(
    ws_targets: str, tmp_path: Path, fake_grader: Any
) -> None:
    (tmp_path / "grade.txt").write_text("Does '{{ completion }}' meet: {{ criteria }}? Y or N")
    fake_grader.reply = lambda messages: "It does.\nY"
    asserts = [{"type": "model-graded-closedqa", "value": "greets",
                "rubricPrompt": "file://grade.txt"}]  # fmt: skip
    result, _ = await grade(ws_targets, tmp_path, asserts, chat_grader(fake_grader))
    assert result.status == "pass"
    [sent] = fake_grader.requests
    assert sent["messages"] == [
        {"role": "user",
         "content": "Does 'You said: hello there. Thanks for asking.' meet: greets? Y or N"},
    ]  # fmt: skip


async def test_a_rubric_prompt_where_it_cannot_be_used_is_refused(
    ws_targets: str, tmp_path: Path
) -> None:
    text = target_config(f"{ws_targets}/seed") + (
        '    assert: [{"type": "g-eval", "value": "clear", "rubricPrompt": "Rate {{ output }}"}]\n'
    )
    with pytest.raises(ConfigError, match="g-eval does not take one"):
        load(tmp_path, text)
    text = target_config(f"{ws_targets}/seed") + (
        '    options: {"rubricPrompt": "Rate {{ output }}"}\n'
        '    assert: [{"type": "answer-relevance"}]\n'
    )
    with pytest.raises(ConfigError, match="answer-relevance assertion does not take one"):
        load(tmp_path, text)
