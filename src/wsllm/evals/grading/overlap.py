"""Word-overlap scores against reference texts, with promptfoo's formulas: `bleu` (4-gram,
brevity penalty), `gleu` (Google's sentence GLEU) and `meteor` (unigram alignment with a
fragmentation penalty). Each passes at its threshold (0.5); `not-` inverts it and the score
(1 - score)."""

from __future__ import annotations

import math
import re
from collections import Counter
from itertools import pairwise
from typing import Any

from wsllm.errors import GradingFault
from wsllm.evals.grading.context import GradingContext
from wsllm.evals.grading.registry import assertion
from wsllm.evals.jsvalues import number_text
from wsllm.evals.results import GradingResult
from wsllm.evals.schema import Assertion
from wsllm.evals.validate import Where

_SPACE = re.compile(r"[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+")
# JavaScript's whitespace, which trim() strips and \s matches.
_TRIM = (
    "\t\n\v\f\r \u00a0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + ("\u2028\u2029\u202f\u205f\u3000\ufeff")
)


def _references(kind: str, value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise GradingFault(f'"{kind}" assertion must have a string or array of strings value')


def _check_texts(spec: dict[str, Any], where: Where) -> None:
    value = spec.get("value")
    if not (
        isinstance(value, str)
        or (isinstance(value, list) and all(isinstance(v, str) for v in value))
    ):
        raise where.key("value").error(
            f"a {spec['type'].removeprefix('not-')} assertion needs a string or a list of strings"
        )


def _words(text: str) -> list[str]:
    return _SPACE.split(text.lower().strip(_TRIM))


def _grams(words: list[str], n: int) -> Counter[str]:
    return Counter(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))


def bleu(candidate: str, references: list[str]) -> float:
    """promptfoo's BLEU: clipped n-gram precision (n = 1..4, best reference each), brevity."""
    words = _words(candidate)
    refs = [_words(r) for r in references]
    closest = min(refs, key=lambda r: abs(len(r) - len(words)))  # ties: the earlier one
    logs = 0.0
    for n in range(1, 5):
        grams = _grams(words, n)
        total = sum(grams.values())
        best = max(sum(min(c, _grams(r, n)[g]) for g, c in grams.items()) for r in refs)
        precision = best / total if total else 0.0
        logs += 0.25 * math.log(precision if precision > 0 else 1e-7)
    penalty = 1.0 if len(words) > len(closest) else math.exp(1 - len(closest) / len(words))
    return penalty * math.exp(logs)


def gleu(candidate: str, references: list[str]) -> float:
    """promptfoo's GLEU: pooled 1..4-gram matches over the larger of the two totals."""
    words = [re.sub(r"\.+$", "", w) for w in _words(candidate)]
    best = 0.0
    for reference in references:
        ref = [re.sub(r"\.+$", "", w) for w in _words(reference)]
        if ref == words:
            return 1.0
        matches = cand_total = ref_total = 0
        for n in range(1, 5):
            mine, theirs = _grams(words, n), _grams(ref, n)
            matches += sum(min(c, theirs[g]) for g, c in mine.items())
            cand_total += sum(mine.values())
            ref_total += sum(theirs.values())
        if cand_total and ref_total:
            best = max(best, min(matches / cand_total, matches / ref_total))
    return best


def meteor(candidate: str, references: list[str], alpha: float, beta: float, gamma: float
           ) -> float:  # fmt: skip
    """METEOR on exact word matches (no stems, no synonyms): harmonic mean of precision and
    recall, less a penalty for matches broken into chunks; the best reference counts."""
    cand = [re.sub(r"\.+$", "", w).lower() for w in re.split(r"\s+", candidate)]
    best = 0.0
    for reference in references:
        ref = [re.sub(r"\.+$", "", w).lower() for w in re.split(r"\s+", reference)]
        pairs = _align(cand, ref)
        if not pairs:
            continue
        matched = len(pairs)
        precision, recall = matched / len(cand), matched / len(ref)
        fmean = precision * recall / (alpha * precision + (1 - alpha) * recall)
        pairs.sort()
        chunks = 1 + sum(1 for (a, b), (c, d) in pairwise(pairs) if c != a + 1 or d != b + 1)
        best = max(best, (1 - gamma * (chunks / matched) ** beta) * fmean)
    return best


def _align(cand: list[str], ref: list[str]) -> list[tuple[int, int]]:
    """Exact matches, taken from the end of both texts as promptfoo's stage one does."""
    used: set[int] = set()
    pairs = []
    for i in range(len(cand) - 1, -1, -1):
        for j in range(len(ref) - 1, -1, -1):
            if j not in used and cand[i] == ref[j]:
                used.add(j)
                pairs.append((i, j))
                break
    return pairs


def _judge(a: Assertion, name: str, score: float, threshold: float, passed_reason: str,
           failed: str) -> GradingResult:  # fmt: skip
    passed = (score >= threshold) != a.inverse
    shown = 1 - score if a.inverse else score
    return GradingResult(passed, shown, passed_reason if passed else failed)


def _inputs(kind: str, value: Any, c: GradingContext) -> tuple[str, list[str]]:
    references = _references(kind, value)
    if not c.text or not references:
        raise GradingFault("Invalid inputs")
    return c.text, references


@assertion("bleu", needs="value", check=_check_texts)
def bleu_assertion(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """BLEU against the reference(s) is at least the threshold."""
    score = bleu(*_inputs("bleu", value, c))
    threshold = a.threshold if a.threshold is not None else 0.5
    side = "greater" if a.inverse else "less"
    failed = f"BLEU score {score:.4f} is {side} than threshold {number_text(threshold)}"
    return _judge(a, "BLEU", score, threshold, "Assertion passed", failed)


@assertion("gleu", needs="value", check=_check_texts)
def gleu_assertion(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """GLEU against the reference(s) is at least the threshold."""
    score = gleu(*_inputs("gleu", value, c))
    threshold = a.threshold if a.threshold is not None else 0.5
    side = "greater" if a.inverse else "less"
    failed = f"GLEU score {score:.4f} is {side} than threshold {number_text(threshold)}"
    return _judge(a, "GLEU", score, threshold, "Assertion passed", failed)


@assertion("meteor", needs="value", check=_check_texts)
def meteor_assertion(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """METEOR against the reference(s) is at least the threshold."""
    raw = a.raw
    candidate, references = _inputs("meteor", value, c)
    score = meteor(candidate, references, float(raw.get("alpha", 0.9)),
                   float(raw.get("beta", 3)), float(raw.get("gamma", 0.5)))  # fmt: skip
    threshold = a.threshold if a.threshold is not None else 0.5
    failed = f"METEOR score {score:.4f} did not meet threshold {number_text(threshold)}"
    return _judge(a, "METEOR", score, threshold, "METEOR assertion passed", failed)
