"""What graders are asked, task by task, and how their answers are read (no I/O)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from wsllm.errors import GraderAnswerError

Messages = list[dict[str, str]]


@dataclass(frozen=True, slots=True)
class GradeTask:
    """One question for a grader: its kind, the messages a model gets, and the raw fields."""

    kind: str
    messages: tuple[tuple[str, str], ...]
    fields: dict[str, str] = field(default_factory=dict)

    def chat(self) -> Messages:
        """The messages as Chat Completions wants them."""
        return [{"role": role, "content": content} for role, content in self.messages]


def rubric_task(output: str, rubric: str) -> GradeTask:
    """llm-rubric: is the rubric's statement true of the output?"""
    system = (
        "You grade a model's output against a rubric. The output passes when what the rubric "
        "says holds for it. Reply with one JSON object and nothing else: "
        '{"reason": "<one or two sentences>", "pass": true or false, "score": <0.0 to 1.0>}'
    )
    user = f"<Output>\n{output}\n</Output>\n<Rubric>\n{rubric}\n</Rubric>"
    return GradeTask(
        "llm-rubric", (("system", system), ("user", user)), {"output": output, "rubric": rubric}
    )


def closedqa_task(question: str, output: str, criterion: str) -> GradeTask:
    """model-graded-closedqa: does the submission meet the criterion? Y or N."""
    user = (
        "Judge whether a submitted answer meets a criterion.\n"
        f"[Task]\n{question}\n[Submission]\n{output}\n[Criterion]\n{criterion}\n"
        "Reason about the criterion step by step first. Then give your verdict as the single "
        "letter Y (it meets the criterion) or N (it does not), alone on the last line."
    )
    fields = {"question": question, "output": output, "criterion": criterion}
    return GradeTask("model-graded-closedqa", (("user", user),), fields)


FACT_CATEGORIES = {
    "A": "subset",
    "B": "superset",
    "C": "agree",
    "D": "disagree",
    "E": "differButFactual",
}
FACT_DEFAULT_SCORES = {
    "subset": 1.0,
    "superset": 1.0,
    "agree": 1.0,
    "disagree": 0.0,
    "differButFactual": 1.0,
}


def factuality_task(question: str, output: str, reference: str) -> GradeTask:
    """factuality: how does the submission's content relate to an expert answer?"""
    user = (
        "Compare the factual content of a submitted answer with an expert answer to the same "
        "question. Ignore style, grammar and punctuation.\n"
        f"[Question]\n{question}\n[Expert answer]\n{reference}\n[Submission]\n{output}\n"
        "Choose one:\n"
        "(A) The submission is a subset of the expert answer and fully consistent with it.\n"
        "(B) The submission is a superset of the expert answer and fully consistent with it.\n"
        "(C) The submission contains all the same details as the expert answer.\n"
        "(D) The submission and the expert answer disagree.\n"
        "(E) They differ, but the differences do not matter for factuality.\n"
        'Reply with one JSON object and nothing else: {"category": "<A to E>", "reason": "<why>"}'
    )
    fields = {"question": question, "output": output, "reference": reference}
    return GradeTask("factuality", (("user", user),), fields)


def geval_steps_task(criteria: str) -> GradeTask:
    """g-eval, first call: turn the criteria into evaluation steps."""
    user = (
        "Write 3 to 5 short, concrete steps an evaluator should follow to judge a text against "
        f"these criteria:\n{criteria}\n"
        'Reply with one JSON object and nothing else: {"steps": ["<step>", ...]}'
    )
    return GradeTask("g-eval-steps", (("user", user),), {"criteria": criteria})


def geval_score_task(criteria: str, steps: list[str], question: str, output: str) -> GradeTask:
    """g-eval, second call: score the output from 0 to 10 by the steps."""
    listed = "\n".join(f"{n}. {s}" for n, s in enumerate(steps, 1))
    user = (
        f"Evaluate a reply against these criteria:\n{criteria}\n\nSteps:\n{listed}\n\n"
        f"[Input]\n{question}\n[Reply]\n{output}\n"
        'Reply with one JSON object and nothing else: {"score": <0 to 10>, "reason": "<why>"}'
    )
    fields = {"criteria": criteria, "question": question, "output": output}
    return GradeTask("g-eval-score", (("user", user),), fields)


def questions_task(output: str, count: int = 3) -> GradeTask:
    """answer-relevance: which questions would this output answer?"""
    user = (
        f"Write {count} different questions that the following text answers.\n"
        f"[Text]\n{output}\n"
        'Reply with one JSON object and nothing else: {"questions": ["<question>", ...]}'
    )
    return GradeTask("answer-relevance", (("user", user),), {"output": output, "count": str(count)})


def select_best_task(criteria: str, outputs: list[str]) -> GradeTask:
    """select-best: which of these outputs best fits the criteria? An index."""
    texts = "".join(
        f'\n<Text index="{i}">\n{output}\n</Text>\n' for i, output in enumerate(outputs)
    )
    system = (
        "You are comparing multiple pieces of text to see which best fits the following "
        f"criteria: {criteria}\n\nHere are the pieces of text:\n{texts}\n"
        "Output the index of the text that best fits the criteria. You must output a single "
        "integer."
    )
    fields = {"criteria": criteria, **{f"output{i}": o for i, o in enumerate(outputs)}}
    return GradeTask("select-best", (("system", system),), fields)


def json_object(text: str) -> dict[str, Any]:
    """The first JSON object in a grader's answer (models wrap them in prose and code fences)."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    raise GraderAnswerError(f"no JSON object in the grader's answer: {text[:200]!r}")


def read_rubric(text: str) -> tuple[bool, float, str]:
    """pass, score and reason from an llm-rubric answer."""
    answer = json_object(text)
    verdict = answer.get("pass")
    score = answer.get("score")
    if not isinstance(verdict, bool) and not isinstance(score, int | float):
        raise GraderAnswerError(f'the grader gave neither "pass" nor "score": {text[:200]!r}')
    if not isinstance(verdict, bool):
        verdict = float(score) >= 0.5  # type: ignore[arg-type]
    value = (
        float(score)
        if isinstance(score, int | float) and not isinstance(score, bool)
        else float(verdict)
    )
    return verdict, value, str(answer.get("reason") or "")


def read_closedqa(text: str) -> tuple[bool, str]:
    """pass and reasoning from a Y/N verdict on the last line."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines or lines[-1].rstrip(".").upper() not in ("Y", "N"):
        raise GraderAnswerError(f"the grader's last line is not Y or N: {text[-200:]!r}")
    return lines[-1].rstrip(".").upper() == "Y", "\n".join(lines[:-1])


def read_factuality(text: str) -> tuple[str, str]:
    """The category letter and reason of a factuality answer."""
    answer = json_object(text)
    category = str(answer.get("category", "")).strip().strip("()").upper()
    if category not in FACT_CATEGORIES:
        raise GraderAnswerError(f"the grader's category is not one of A to E: {text[:200]!r}")
    return category, str(answer.get("reason") or "")


def read_steps(text: str) -> list[str]:
    """Evaluation steps from a g-eval answer."""
    steps = json_object(text).get("steps")
    if not isinstance(steps, list) or not steps or not all(isinstance(s, str) for s in steps):
        raise GraderAnswerError(f"the grader gave no list of steps: {text[:200]!r}")
    return steps


def read_score(text: str) -> tuple[float, str]:
    """A 0 to 10 score and reason from a g-eval answer."""
    answer = json_object(text)
    score = answer.get("score")
    if not isinstance(score, int | float) or isinstance(score, bool) or not 0 <= score <= 10:
        raise GraderAnswerError(f"the grader's score is not a number from 0 to 10: {text[:200]!r}")
    return float(score), str(answer.get("reason") or "")


def read_questions(text: str) -> list[str]:
    """Questions from an answer-relevance answer."""
    questions = json_object(text).get("questions")
    if (
        not isinstance(questions, list)
        or not questions
        or not all(isinstance(q, str) for q in questions)
    ):
        raise GraderAnswerError(f"the grader gave no list of questions: {text[:200]!r}")
    return questions
