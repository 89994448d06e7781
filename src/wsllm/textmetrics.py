"""Text comparisons used by assertions (no I/O): edit distance, ROUGE-N, JSON found in text."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

_TOKEN = re.compile(r"\w+(?:[-']\w+)*|[^\w\s]")


def levenshtein(a: str, b: str) -> int:
    """The number of single-character edits that turn `a` into `b`."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            cost = 0 if char_a == char_b else 1
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost))
        previous = current
    return previous[-1]


def tokens(text: str) -> list[str]:
    """Words and punctuation marks, case kept, as a treebank-style tokenizer splits them."""
    return _TOKEN.findall(text)


def rouge_n(candidate: str, reference: str, n: int = 1) -> float:
    """ROUGE-N F1: the n-grams shared by candidate and reference, over each one's count."""
    cand, ref = _ngrams(tokens(candidate), n), _ngrams(tokens(reference), n)
    if not cand or not ref:
        return 0.0
    overlap = sum((cand & ref).values())
    if overlap == 0:
        return 0.0
    precision = overlap / sum(cand.values())
    recall = overlap / sum(ref.values())
    return 2 * precision * recall / (precision + recall)


def _ngrams(words: list[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def json_values_in(text: str) -> list[Any]:
    """Every JSON object or array embedded in `text`, outermost first."""
    decoder = json.JSONDecoder()
    found: list[Any] = []
    index = 0
    while index < len(text):
        start = _next_opening(text, index)
        if start < 0:
            break
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            index = start + 1
            continue
        found.append(value)
        index = end
    return found


def _next_opening(text: str, index: int) -> int:
    brace, bracket = text.find("{", index), text.find("[", index)
    candidates = [i for i in (brace, bracket) if i >= 0]
    return min(candidates) if candidates else -1
