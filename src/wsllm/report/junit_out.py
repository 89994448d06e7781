"""The run as JUnit XML: a suite per prompt and target, a case per test, for CI dashboards."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

from wsllm.evals.results import EvalRun, TestResult


def case_name(result: TestResult) -> str:
    """A test's name: its description, else its vars."""
    name = result.test.description or json.dumps(result.test.vars, ensure_ascii=False)[:120]
    return f"{name} (repeat {result.repeat_index + 1})" if result.repeat_index else name


def write_junit(run: EvalRun, path: Path) -> None:
    """Write the XML."""
    counts = run.counts()
    root = ET.Element("testsuites", name=f"wsllm {run.id}", tests=str(len(run.results)),
                      failures=str(counts["fail"]), errors=str(counts["error"]),
                      time=f"{run.duration_s:.3f}")  # fmt: skip
    suites: dict[tuple[int, int], ET.Element] = {}
    for result in run.results:
        key = (result.prompt_index, result.target_index)
        if key not in suites:
            name = f"{result.target.label} / {result.prompt.label[:60]}"
            suites[key] = ET.SubElement(root, "testsuite", name=name)
        _case(suites[key], result)
    for suite in suites.values():
        cases = list(suite)
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
        suite.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _case(suite: ET.Element, result: TestResult) -> None:
    seconds = result.response.metrics.total_ms / 1000
    case = ET.SubElement(suite, "testcase", name=case_name(result), classname=result.target.label,
                         time=f"{seconds:.3f}")  # fmt: skip
    if result.status == "error":
        ET.SubElement(
            case, "error", message=result.response.error or "error"
        ).text = result.response.error
    elif result.status == "fail" and result.grading is not None:
        failure = ET.SubElement(case, "failure", message=result.grading.reason[:500])
        failure.text = f"{result.grading.reason}\n\nOutput:\n{result.response.output}"
    ET.SubElement(case, "system-out").text = json.dumps(result.response.metrics.as_dict())
