"""The real local embedding model (all-MiniLM-L6-v2, shipped in a package), offline."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.evals.helpers import load
from wsllm.evals.runner import Judges, RunOptions, plan, run_context, run_jobs
from wsllm.graders.embeddings import Embedders, LocalEmbedder, cosine
from wsllm.graders.models import Graders

PARAPHRASES = [
    ("How do I reset my password?", "What is the way to reset my password?"),
    ("The capital of France is Paris.", "Paris is the capital city of France."),
    ("The weather today is sunny and warm.", "It is warm and sunny today."),
]
UNRELATED = [
    ("The capital of France is Paris.", "Bananas are rich in potassium."),
    ("How do I reset my password?", "The stock market closed higher on Friday."),
]


@pytest.mark.timeout(300)
async def test_paraphrases_score_above_the_default_threshold_and_unrelated_texts_below() -> None:
    embedder = LocalEmbedder()
    for first, second in PARAPHRASES:
        a, b = await embedder.embed([first, second])
        assert cosine(a, b) > 0.75, (first, second)
    for first, second in UNRELATED:
        a, b = await embedder.embed([first, second])
        assert cosine(a, b) < 0.3, (first, second)
    [vector] = await embedder.embed(["one text"])
    assert len(vector) == 384


@pytest.mark.timeout(300)
async def test_similar_assertions_use_the_local_model_by_default(
    ws_targets: str, tmp_path: Path
) -> None:
    config = load(
        tmp_path,
        f"""
prompts: ['{{{{question}}}}']
providers:
  - id: '{ws_targets}/echo-meta'
    config:
      messageTemplate: '{{"input": {{{{prompt | dump}}}}}}'
      transformResponse: 'data.message'
tests:
  - vars: {{question: The capital of France is Paris.}}
    assert:
      - type: similar
        value: Paris is the capital city of France.
      - type: not-similar
        value: Bananas are rich in potassium.
      - type: similar
        value: [Bananas are rich in potassium., What is the capital of France?]
        threshold: 0.6
""",
    )
    graders, embedders = Graders("simulated", None), Embedders()
    options = RunOptions()
    [result], _ = await run_jobs(
        plan(config, options),
        run_context(config, options, Judges(graders, embedders)),
        options,
        lambda i, r: None,
        asyncio.Event(),
    )
    assert result.response.output == "The capital of France is Paris."
    assert result.grading is not None
    assert [c.passed for c in result.grading.components] == [True, True, True]
    assert result.grading.components[0].score > 0.9
