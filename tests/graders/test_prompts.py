"""Reading grader answers: the good, the wrapped, and the malformed."""

from __future__ import annotations

import pytest

from wsllm.errors import GraderAnswerError
from wsllm.graders import prompts


def test_rubric_answers_in_any_wrapping() -> None:
    assert prompts.read_rubric('{"reason": "ok", "pass": true, "score": 0.9}') == (True, 0.9, "ok")
    fenced = 'Sure!\n```json\n{"pass": false, "score": 0.2, "reason": "misses the point"}\n```'
    assert prompts.read_rubric(fenced) == (False, 0.2, "misses the point")
    assert prompts.read_rubric('{"pass": true}') == (True, 1.0, "")
    assert prompts.read_rubric('{"score": 0.3}') == (False, 0.3, "")


@pytest.mark.parametrize("answer", ["I think it passes.", "{not json}", '{"verdict": "yes"}', ""])
def test_malformed_rubric_answers_are_errors(answer: str) -> None:
    with pytest.raises(GraderAnswerError):
        prompts.read_rubric(answer)


def test_closedqa_reads_the_last_line() -> None:
    assert prompts.read_closedqa("It names Paris.\nY") == (True, "It names Paris.")
    assert prompts.read_closedqa("Nope.\nn.") == (False, "Nope.")
    with pytest.raises(GraderAnswerError):
        prompts.read_closedqa("It names Paris, so yes")


def test_factuality_steps_scores_and_questions() -> None:
    assert prompts.read_factuality('{"category": "(C)", "reason": "same"}') == ("C", "same")
    with pytest.raises(GraderAnswerError):
        prompts.read_factuality('{"category": "F"}')
    assert prompts.read_steps('{"steps": ["a", "b"]}') == ["a", "b"]
    assert prompts.read_score('{"score": 7, "reason": "good"}') == (7.0, "good")
    with pytest.raises(GraderAnswerError):
        prompts.read_score('{"score": 11}')
    assert prompts.read_questions('{"questions": ["Why?"]}') == ["Why?"]


def test_prompts_carry_what_is_judged() -> None:
    task = prompts.rubric_task("The answer is Paris.", "Names the capital of France")
    text = "\n".join(content for _, content in task.messages)
    assert "The answer is Paris." in text
    assert "Names the capital of France" in text
    assert task.chat()[0]["role"] == "system"
