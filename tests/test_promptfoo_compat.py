"""promptfoo 0.120.27 itself against `wsllm serve`, and promptfoo and `wsllm eval` side by side on
the same configs and targets: same verdicts, scores and outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from tests.cli_process import clean_env, run_wsllm
from tests.conftest import ServerFactory
from tests.evals.helpers import SEED_STREAM
from tests.promptfoo import promptfoo_eval

pytestmark = [pytest.mark.promptfoo, pytest.mark.timeout(600)]

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "websockets-streaming"


def config_for(base: str, tmp_path: Path, name: str = "promptfooconfig.yaml") -> Path:
    """An example config, pointed at the server under test instead of port 3300."""
    port = base.rsplit(":", 1)[1]
    text = (EXAMPLE / name).read_text().replace("localhost:3300", f"localhost:{port}")
    config = tmp_path / "promptfooconfig.yaml"
    config.write_text(text)
    return config


def outcomes(results: dict[str, Any]) -> list[tuple[str, bool, str]]:
    rows = results["results"]["results"]
    return [
        (row["vars"]["question"], row["success"], (row.get("response") or {}).get("output", ""))
        for row in rows
    ]


async def test_promptfoo_passes_the_seed_example_against_wsllm(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    base = await start_server(sim_ttft_ms="5", sim_itl_ms="1", sim_tokens="24")
    results = await promptfoo_eval(config_for(base, tmp_path), tmp_path / "out.json", tmp_path)
    rows = outcomes(results)
    assert len(rows) == 4
    assert all(success for _, success, _ in rows), rows
    assert all(output.startswith("Simulated reply to") for _, _, output in rows)


async def test_promptfoo_on_ws_with_the_documented_stream_response(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    base = await start_server(sim_ttft_ms="5", sim_itl_ms="1", sim_tokens="24")
    config = config_for(base, tmp_path, "promptfooconfig.ws.yaml")
    rows = outcomes(await promptfoo_eval(config, tmp_path / "out.json", tmp_path))
    assert len(rows) == 4
    assert all(success for _, success, _ in rows), rows
    assert all(output.startswith("Simulated reply to") for _, _, output in rows)


async def test_promptfoo_reports_server_errors_as_errors(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    base = await start_server(max_frame_bytes="10")
    results = await promptfoo_eval(config_for(base, tmp_path), tmp_path / "out.json", tmp_path)
    rows = results["results"]["results"]  # type: ignore[index]
    assert len(rows) == 4
    assert all("over the limit" in (row.get("error") or "") for row in rows), rows


# Passing and failing cases of every deterministic assertion, and one request the server refuses.
COMPAT_TESTS: list[dict[str, Any]] = [
    {"description": "contains", "vars": {"question": "alpha"}, "assert": [{"type": "contains", "value": "alpha"}]},
    {"description": "contains fails", "vars": {"question": "beta"}, "assert": [{"type": "contains", "value": "gamma"}]},
    {"description": "icontains", "vars": {"question": "Delta"}, "assert": [{"type": "icontains", "value": "SIMULATED"}]},
    {"description": "not-contains", "vars": {"question": "eps"}, "assert": [{"type": "not-contains", "value": "eps"}]},
    {"description": "contains-any", "vars": {"question": "zeta"}, "assert": [{"type": "contains-any", "value": ["nope", "zeta"]}]},
    {"description": "contains-all", "vars": {"question": "eta"}, "assert": [{"type": "contains-all", "value": "eta, nope"}]},
    {"description": "icontains-any", "vars": {"question": "theta"}, "assert": [{"type": "icontains-any", "value": "THETA, x"}]},
    {"description": "icontains-all", "vars": {"question": "iota"}, "assert": [{"type": "icontains-all", "value": ["IOTA", "reply"]}]},
    {"description": "regex", "vars": {"question": "kappa"}, "assert": [{"type": "regex", "value": "^Simulated reply to \\\"kappa\\\""}]},
    {"description": "starts-with", "vars": {"question": "lambda"}, "assert": [{"type": "starts-with", "value": "Simulated"}]},
    {"description": "equals fails", "vars": {"question": "mu"}, "assert": [{"type": "equals", "value": "mu"}]},
    {"description": "is-json fails", "vars": {"question": "nu"}, "assert": [{"type": "is-json"}]},
    {"description": "not-is-json", "vars": {"question": "xi"}, "assert": [{"type": "not-is-json"}]},
    {"description": "contains-json fails", "vars": {"question": "omicron"}, "assert": [{"type": "contains-json"}]},
    {"description": "javascript", "vars": {"question": "pi"}, "assert": [{"type": "javascript", "value": "output.length > 20 && context.vars.question === 'pi'"}]},
    {"description": "javascript score", "vars": {"question": "rho"}, "assert": [{"type": "javascript", "value": "0.3", "threshold": 0.5}]},
    {"description": "python", "vars": {"question": "sigma"}, "assert": [{"type": "python", "value": "'sigma' in output"}]},
    {"description": "levenshtein fails", "vars": {"question": "tau"}, "assert": [{"type": "levenshtein", "value": "tau", "threshold": 3}]},
    {"description": "rouge-n", "vars": {"question": "upsilon"}, "assert": [{"type": "rouge-n", "value": "Simulated reply", "threshold": 0.05}]},
    {"description": "latency", "vars": {"question": "phi"}, "assert": [{"type": "latency", "threshold": 30000}]},
    {"description": "weights", "vars": {"question": "chi"}, "threshold": 0.7, "assert": [
        {"type": "contains", "value": "chi", "weight": 3}, {"type": "contains", "value": "nope", "weight": 1}]},
    {"description": "assert-set", "vars": {"question": "psi"}, "assert": [{"type": "assert-set", "threshold": 0.5, "assert": [
        {"type": "contains", "value": "psi"}, {"type": "contains", "value": "nope"}]}]},
    {"description": "server refuses", "vars": {"question": "x" * 3000}, "assert": [{"type": "contains", "value": "x"}]},
]  # fmt: skip


async def test_wsllm_eval_and_promptfoo_agree_on_every_test(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    base = await start_server(
        sim_ttft_ms="2", sim_itl_ms="0", sim_tokens="30", max_frame_bytes="2000"
    )
    port = base.rsplit(":", 1)[1]
    config = {
        "description": "compatibility",
        "prompts": ["{{question}}"],
        "providers": [{
            "id": f"ws://localhost:{port}/ws-stream",
            "config": {"messageTemplate": '{"input": {{prompt | dump}}}', "streamResponse": SEED_STREAM},
        }],
        "tests": COMPAT_TESTS,
    }  # fmt: skip
    path = tmp_path / "promptfooconfig.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    theirs = await promptfoo_eval(path, tmp_path / "promptfoo.json", tmp_path)
    code, _, err = await run_wsllm(
        "eval", "-c", str(path), "-o", str(tmp_path / "wsllm.json"), cwd=tmp_path, env=clean_env()
    )
    assert code == 100, err
    ours = orjson.loads((tmp_path / "wsllm.json").read_bytes())
    mine, reference = verdicts(ours), verdicts(theirs)
    assert len(mine) == len(COMPAT_TESTS)
    assert mine == reference
    assert [success for _, success, _, _ in mine].count(True) == 14


def verdicts(document: dict[str, Any]) -> list[tuple[str, bool, str, int]]:
    """(description, success, output, failure reason: 0 none, 1 assertion, 2 error) per test."""
    rows = sorted(document["results"]["results"], key=lambda r: r["testIdx"])
    return [
        (
            r["testCase"].get("description", ""),
            r["success"],
            (r.get("response") or {}).get("output") or "",
            r["failureReason"],
        )
        for r in rows
    ]


# promptfoo and `wsllm eval` on the same configs and targets, one test per kind of config.


async def both(
    folder: Path,
    config: dict[str, Any],
    *flags: str,
    files: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Run promptfoo and wsllm on `config` (and its `files`); both JSON documents, and
    wsllm's terminal output."""
    for name, text in (files or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    path = folder / "promptfooconfig.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    theirs = await promptfoo_eval(
        path, folder / "promptfoo.json", folder / "pf-state", *flags, extra_env=env
    )
    code, out, err = await run_wsllm(
        "eval", "-c", str(path), "-o", str(folder / "wsllm.json"), "--no-progress", *flags,
        cwd=folder, env=clean_env(**(env or {})),
    )  # fmt: skip
    assert code in (0, 100), out + err
    assert "Traceback" not in out + err
    return theirs, orjson.loads((folder / "wsllm.json").read_bytes()), out


def cells(document: dict[str, Any]) -> dict[tuple[int, int], tuple[Any, ...]]:
    """(testIdx, promptIdx) -> (success, score, output, failure reason) of every result."""
    return {
        (r["testIdx"], r["promptIdx"]): (
            r["success"],
            round(r["score"], 6),
            (r.get("response") or {}).get("output"),
            r["failureReason"],
        )
        for r in document["results"]["results"]
    }


def columns(document: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Each `results.prompts` entry: label, raw, target, id and the pass/fail/error counts."""
    return [
        (
            p["label"], p["raw"], p["provider"], p["id"], p["metrics"]["score"],
            p["metrics"]["testPassCount"], p["metrics"]["testFailCount"],
            p["metrics"]["testErrorCount"],
        )
        for p in document["results"]["prompts"]
    ]  # fmt: skip


def agree(theirs: dict[str, Any], ours: dict[str, Any]) -> dict[tuple[int, int], tuple[Any, ...]]:
    """Assert both runs gave the same cells and columns; return the cells."""
    assert cells(ours) == cells(theirs)
    assert columns(ours) == columns(theirs)
    stats = ("successes", "failures", "errors")
    assert [ours["results"]["stats"][k] for k in stats] == [
        theirs["results"]["stats"][k] for k in stats
    ]
    return cells(ours)


async def test_two_targets_two_prompts_and_repeats_make_the_same_columns_and_rows(
    ws_targets: str, tmp_path: Path
) -> None:
    config = {
        "prompts": ["P1 {{q}}", {"id": "p2id", "label": "second", "raw": "P2 {{q}}"}],
        "providers": [
            {"id": f"{ws_targets}/echo/a", "label": "tA",
             "config": {"messageTemplate": '{"input": {{ prompt | dump }}}'}},
            {"id": f"{ws_targets}/echo/b", "config": {"messageTemplate": "{{prompt}}"}},
        ],
        "tests": [
            {"vars": {"q": "one"}, "assert": [{"type": "contains", "value": "one"}]},
            {"vars": {"q": ["two", "three"]}, "assert": [{"type": "contains", "value": "nope"}]},
        ],
        "evaluateOptions": {"repeat": 2},
    }  # fmt: skip
    theirs, ours, out = await both(tmp_path, config)
    found = agree(theirs, ours)
    assert len(found) == 6 * 4  # (1 + 2 combinations) x 2 repeats, x 4 columns
    assert found[(0, 0)] == (True, 1, '/echo/a|{"input": "P1 one"}', 0)
    assert found[(5, 3)] == (False, 0, "/echo/b|P2 three", 1)
    assert [r["promptIdx"] for r in ours["results"]["results"][:4]] == [0, 1, 2, 3]
    assert "[tA] P1 {{q}}" in out
    assert "[tA] second" in out


def echo_target(base: str, path: str = "b", template: str = "{{prompt}}") -> dict[str, Any]:
    """A target that answers with what it was sent, behind its own path."""
    return {"id": f"{base}/echo/{path}", "config": {"messageTemplate": template}}


CHAT_FILES = {
    "chat.json": '[\n  {"role": "system", "content": "You are {{ persona }}."},\n'
    '  {"role": "user", "content": "Q: {{ q }}"}\n]\n',
    "chat.yaml": '- role: system\n  content: "You are {{ persona }}."\n- role: user\n'
    "  content: |\n    Q: {{ q }}\n",
    "chat.jsonl": '[{"role": "user", "content": "L1 {{ q }}"}]\n'
    '[{"role": "user", "content": "L2 {{ q }}"}]\n',
    "one.jsonl": '[{"role": "user", "content": "only {{ q }}"}]\n',
    "prompts.txt": "T1 {{ q }}\n---\nT2 line1\nT2 {{ q }}\n\n---\n\n",
    "plain.yaml": "Just text {{ q }}\nsecond line\n",
    "page.md": "# Title {{ q }}\n\nbody\n",
}


async def test_chat_prompt_files_are_sent_as_promptfoo_sends_them(
    ws_targets: str, tmp_path: Path
) -> None:
    config = {
        "prompts": [
            "file://chat.json", "file://chat.yaml", "file://chat.jsonl", "file://prompts.txt",
            "file://one.jsonl", "file://plain.yaml", "file://page.md",
            {"id": "file://chat.json", "label": "chatLabel"},
            {"raw": "file://prompts.txt", "label": "txtLabel"},
            '{"plain": "{{ q }}"}', "42", '"quoted {{ q }}"',
        ],
        "providers": [echo_target(ws_targets)],
        "tests": [{"vars": {"persona": 'a "quoted" bot', "q": "line1\nline2 \\ end\n"}}],
    }  # fmt: skip
    theirs, ours, _ = await both(tmp_path, config, files=CHAT_FILES)
    found = agree(theirs, ours)
    assert len(found) == 15
    first = json.loads(found[(0, 0)][2].split("|", 1)[1])
    assert first[1] == {"role": "user", "content": "Q: line1\nline2 \\ end"}
    assert found[(0, 0)][2].split("|", 1)[1].startswith('[\n  {\n    "role": "system"')


async def test_vars_are_prepared_as_promptfoo_prepares_them(
    ws_targets: str, tmp_path: Path
) -> None:
    files = {
        "data/t.txt": "  text file content  \n",
        "data/j.json": '{\n  "k": "v",\n  "n": [1, 2]\n}\n',
        "data/y.yaml": 'k: v\nn:\n  - 1\n  - 2\ns: "x\\ny"\n',
        "data/v.js": "module.exports = function (varName, prompt, vars, provider) {\n"
        "  return { output: `JS(${varName}; ${prompt}; ${Object.keys(vars).join(',')}; "
        "${provider.id()})` };\n};\n",
        "data/v.py": "def get_var(var_name, prompt, other_vars):\n"
        "    keys = ','.join(sorted(other_vars))\n"
        "    return {'output': 'PY(%s; %s; %s)\\n' % (var_name, prompt, keys)}\n",
    }
    tests = [
        {"vars": {"v": "a\n\n"}}, {"vars": {"v": "a\r\n"}},
        {"vars": {"a": "A", "b": "B={{ a }}", "c": "C={{b}}",
                  "v": "{{ c }} / {{ a | lower }} / {{ env.MYENV }}"}},
        {"vars": {"v": ["x", "y"], "w": ["1", "2"]}},
        {"vars": {"v": "file://data/t.txt"}}, {"vars": {"v": "file://data/j.json"}},
        {"vars": {"v": "file://data/y.yaml"}}, {"vars": {"v": "file://data/v.js", "other": "o"}},
        {"vars": {"v": "file://data/v.py", "other": "o"}}, {"vars": {"v": 3.5}},
        {"vars": {"other": 1}},
    ]  # fmt: skip
    config = {
        "prompts": ["[{{ v }}]"], "providers": [echo_target(ws_targets)],
        "env": {"MYENV": "cfgenv"}, "tests": tests,
    }  # fmt: skip
    theirs, ours, _ = await both(tmp_path, config, files=files)
    found = agree(theirs, ours)
    outputs = [found[(i, 0)][2] for i in range(len(found))]
    assert outputs[:3] == ["/echo/b|[a\n]", "/echo/b|[a\r]", "/echo/b|[C=B=A / a / cfgenv]"]
    assert outputs[7] == "/echo/b|[text file content]"
    assert [r["vars"] for r in ours["results"]["results"]] == [
        r["vars"] for r in theirs["results"]["results"]
    ]  # results keep the vars as written: file:// references, untrimmed newlines


async def test_the_message_template_sees_the_prepared_vars(ws_targets: str, tmp_path: Path) -> None:
    template = "{{ prompt }}#q={{ q | dump }}#f={{ f | dump }}#r={{ r }}#o2={{ o | dump }}"
    config = {
        "prompts": ["P {{ q }}"], "providers": [echo_target(ws_targets, template=template)],
        "tests": [{"vars": {"q": "x\n", "f": "file://f.txt", "r": "R={{ q }}", "o": {"k": 1},
                            "prompt": "varPrompt"}}],
    }  # fmt: skip
    theirs, ours, _ = await both(tmp_path, config, files={"f.txt": "filecontent\n"})
    found = agree(theirs, ours)
    assert found[(0, 0)][2] == '/echo/b|P x#q="x"#f="filecontent"#r=R=x#o2={"k":1}'


TRANSFORM_FILES = {
    "t.js": "module.exports = (output, context) => output + '|JS ' + Object.keys(context).join(',');\n"
    "module.exports.named = (output, context) => output + '|JSnamed';\n",
    "t.py": "import json\n"
    "def fn(output, context):\n"
    "    return output + '|PY ' + ','.join(sorted(context)) + json.dumps(context['vars'], sort_keys=True)\n"
    "def get_transform(output, context):\n    return output + '|PYdefault'\n"
    "def tv(vars, context):\n    return {'q': vars['q'] + '-pytv', 'ctx': ','.join(sorted(context))}\n",
}


async def test_transforms_run_where_and_in_the_order_promptfoo_runs_them(
    ws_targets: str, tmp_path: Path
) -> None:
    two = (
        "const k = Object.keys(context).join(',');\n"
        "return output + '|T2 ' + k + JSON.stringify(context.vars) + JSON.stringify(context.prompt);\n"
    )
    tv = '{...vars, q: vars.q + "!", extra: Object.keys(context).join(",") + JSON.stringify(context.prompt)}'
    tests = [
        {"vars": {"q": "one"}},
        {"vars": {"q": "two"}, "options": {"transform": two}},
        {"vars": {"q": "three"}, "options": {"transform": "file://t.js"}},
        {"vars": {"q": "four"}, "options": {"transform": "file://t.js:named"}},
        {"vars": {"q": "five"}, "options": {"transform": "file://t.py:fn"}},
        {"vars": {"q": "six"}, "options": {"transform": "file://t.py"}},
        {"vars": {"q": "seven"}, "options": {"transformVars": tv}},
        {"vars": {"q": "eight"}, "options": {"transformVars": "file://t.py:tv"}},
        {"vars": {"q": "nine"}, "assert": [
            {"type": "equals", "value": "P nine |TR|PT|DT", "transform": 'output.replace("/echo/b|", "")'},
            {"type": "javascript", "value": 'output.startsWith("/echo/b|") && context.vars.q === "nine"'},
            {"type": "contains", "value": "NINE", "transform": "output.toUpperCase()"}]},
        {"vars": {"q": "ten"}, "options": {"prefix": "PRE:", "suffix": ":SUF"}},
        {"vars": {"q": "eleven"}, "options": {"transform": "undefined"}},
        {"vars": {"q": "twelve"}, "options": {"transform": "output.nope.x"}},
        {"vars": {"q": "thirteen"}, "options": {"transform": "({text: output, n: 1})"},
         "assert": [{"type": "javascript", "value": 'typeof output === "object" && output.n === 1'}]},
        {"vars": {"q": "fourteen"}, "options": {"transform": '""'}},
        {"vars": {"q": "fifteen"}, "options": {"postprocess": 'output + "|post"'}},
    ]  # fmt: skip
    target = echo_target(ws_targets)
    target.update(label="A", transform='output + "|PT"')
    target["config"]["transformResponse"] = 'data + "|TR"'
    config = {
        "prompts": ["P {{ q }} {{ extra }}"], "providers": [target],
        "defaultTest": {"vars": {"extra": ""}, "options": {"transform": 'output + "|DT"'}},
        "tests": tests,
    }  # fmt: skip
    theirs, ours, _ = await both(tmp_path, config, files=TRANSFORM_FILES)
    found = agree(theirs, ours)
    assert found[(0, 0)][2] == "/echo/b|P one |TR|PT|DT"
    assert found[(9, 0)][2] == "/echo/b|PRE:P ten :SUF|TR|PT|DT"
    assert [found[(i, 0)][3] for i in (10, 11)] == [2, 2]  # a transform that fails: an error
    key = ("testIdx", "promptIdx")
    assert {
        tuple(r[k] for k in key): r["prompt"]["config"] for r in ours["results"]["results"]
    } == {tuple(r[k] for k in key): r["prompt"]["config"] for r in theirs["results"]["results"]}


EXTENSION_FILES = {
    "ext.js": "module.exports.legacy = (hookName, context) => {\n"
    "  if (hookName === 'beforeEach') {\n"
    "    return { test: { ...context.test, vars: { ...context.test.vars, q: context.test.vars.q + '+BE' } } };\n"
    "  }\n"
    "  if (hookName === 'beforeAll') {\n"
    "    return { suite: { ...context.suite, tests: [...context.suite.tests, { vars: { q: 'added' } }] } };\n"
    "  }\n"
    "};\n"
    "module.exports.beforeEach = (context, extra) => undefined;\n",
    "ext.py": "import json, os\n"
    "def hook(hook_name, context):\n"
    "    with open(os.path.join(os.path.dirname(__file__), 'ext.log'), 'a') as f:\n"
    "        seen = {'hook': hook_name, 'keys': sorted(context)}\n"
    "        if hook_name == 'afterEach':\n"
    "            seen['vars'] = context['result']['vars']\n"
    "            seen['output'] = context['result']['response']['output']\n"
    "        if hook_name == 'afterAll':\n"
    "            seen['results'] = len(context['results'])\n"
    "        f.write(json.dumps(seen) + '\\n')\n",
}


async def test_extension_hooks_are_called_as_promptfoo_calls_them(
    ws_targets: str, tmp_path: Path
) -> None:
    config = {
        "prompts": ["P {{ q }}"], "providers": [echo_target(ws_targets)],
        "extensions": ["file://ext.js:legacy", "file://ext.js:beforeEach", "file://ext.py:hook"],
        "tests": [{"vars": {"q": "one"}}],
    }  # fmt: skip
    theirs, ours, _ = await both(tmp_path, config, "-j", "1", files=EXTENSION_FILES)
    found = agree(theirs, ours)
    assert [v[2] for v in found.values()] == ["/echo/b|P one+BE", "/echo/b|P added+BE"]
    lines = (tmp_path / "ext.log").read_text().splitlines()  # promptfoo's calls, then wsllm's
    half = len(lines) // 2
    pf_lines, ws_lines = lines[:half], lines[half:]
    assert ws_lines == pf_lines
    assert [json.loads(line)["hook"] for line in pf_lines] == [
        "beforeAll", "beforeEach", "afterEach", "beforeEach", "afterEach", "afterAll",
    ]  # fmt: skip


async def test_select_best_and_max_score_compare_a_tests_outputs_as_promptfoo_does(
    ws_targets: str, tmp_path: Path, fake_grader: Any
) -> None:
    fake_grader.reply = lambda messages: "The best is 1."
    grader = {"id": "openai:chat:gpt-4o-mini",
              "config": {"apiBaseUrl": fake_grader.base_url, "apiKey": "sk-test"}}  # fmt: skip
    tests = [
        {"vars": {"out": "x"}, "assert": [
            {"type": "select-best", "value": "shortest answer", "provider": grader},
            {"type": "contains", "value": "x"}]},
        {"vars": {"out": "x"}, "assert": [
            {"type": "max-score"}, {"type": "contains", "value": "extra"},
            {"type": "icontains", "value": "b:"}]},
        {"vars": {"out": "x"}, "assert": [
            {"type": "max-score", "value": {"method": "sum", "weights": {"contains": 3},
                                            "threshold": 5}},
            {"type": "contains", "value": "extra"}, {"type": "icontains", "value": "a:"}]},
        {"vars": {"out": "x"}, "assert": [{"type": "max-score"}, {"type": "contains", "value": "x"}]},
        {"vars": {"out": "x"}, "assert": [{"type": "max-score", "weight": 5},
                                          {"type": "icontains", "value": "a:", "metric": "m1"}]},
    ]  # fmt: skip
    config = {
        "prompts": ["A:{{out}}", "B:{{out}} extra words here"],
        "providers": [{"id": f"{ws_targets}/json/c", "config": {
            "messageTemplate": '{"t": {{ prompt | dump }}}', "transformResponse": "JSON.parse(data.echo).t"}}],
        "tests": tests,
    }  # fmt: skip
    theirs, ours, _ = await both(tmp_path, config, "-j", "1")
    found = agree(theirs, ours)
    assert [found[(0, c)][0] for c in (0, 1)] == [False, True]  # the grader picked output 1
    assert [found[(3, c)][0] for c in (0, 1)] == [True, False]  # a tie goes to the first


async def test_the_command_line_flags_choose_the_same_tests_and_targets(
    ws_targets: str, tmp_path: Path
) -> None:
    (tmp_path / "my.env").write_text("FROMFILE=from-env-file\n")
    config = {
        "prompts": ["P {{ q }} {{ z }} {{ env.FROMFILE }}"],
        "providers": [{**echo_target(ws_targets, "a"), "label": "alpha"}, echo_target(ws_targets)],
        "tests": [
            {"description": "x-one", "vars": {"q": "one"}},
            {"description": "x-two", "vars": {"q": "two", "z": "own"}},
            {"description": "y-three", "vars": {"q": "three"}},
        ],
    }  # fmt: skip
    flags = ["--filter-pattern", "^x-", "-n", "1", "--var", "z=cli", "--env-file",
             str(tmp_path / "my.env"), "--filter-targets", "alpha"]  # fmt: skip
    theirs, ours, _ = await both(tmp_path, config, *flags)
    found = agree(theirs, ours)
    assert found == {(0, 0): (True, 1, "/echo/a|P one cli from-env-file", 0)}
    _, ours, _ = await both(tmp_path, config, "--filter-providers", "echo/b$", "--var", "z=cli")
    assert {k[1] for k in cells(ours)} == {0}
    assert cells(ours)[(1, 0)][2] == "/echo/b|P two own "  # a test's own var wins over --var


async def test_filter_failing_reruns_what_failed_in_a_results_file(
    ws_targets: str, tmp_path: Path
) -> None:
    config = {
        "prompts": ["P {{ q }}"], "providers": [echo_target(ws_targets)],
        "tests": [{"vars": {"q": q}, "assert": [{"type": "contains", "value": "two"}]}
                  for q in ("one", "two", "three")],
    }  # fmt: skip
    first, _, _ = await both(tmp_path, config)
    (tmp_path / "before.json").write_text(json.dumps(first))
    theirs, ours, _ = await both(
        tmp_path, config, "--filter-failing", str(tmp_path / "before.json")
    )
    found = agree(theirs, ours)
    assert [v[2] for v in found.values()] == ["/echo/b|P one", "/echo/b|P three"]


def output_target(base: str) -> dict[str, Any]:
    """A target whose output is exactly the prompt it was sent."""
    return {"id": f"{base}/json/t", "config": {"messageTemplate": '{"t": {{ prompt | dump }}}',
                                               "transformResponse": "JSON.parse(data.echo).t"}}  # fmt: skip


ASSERTION_CASES: list[tuple[str, dict[str, Any]]] = [
    ("one two three", {"type": "word-count", "value": 3}),
    ("one two three", {"type": "word-count", "value": {"min": 1, "max": 2}}),
    ("one two three", {"type": "not-word-count", "value": {"max": 2}}),
    ("<root><a>1</a><b k='v'>t</b></root>", {"type": "is-xml", "value": "root.a, root.b.@_k"}),
    ("<root><a>1</a></root>", {"type": "is-xml", "value": ["root.c"]}),
    (" <a/>", {"type": "is-xml"}),
    ("<root/>", {"type": "not-is-xml"}),
    ("Here is <root><a>1</a></root> ok", {"type": "contains-xml", "value": "root.a"}),
    ("no xml", {"type": "contains-xml"}),
    ("x <foo>y</foo>", {"type": "contains-html"}),
    ("a &amp; b", {"type": "contains-html"}),
    ("<div><p>hi</p></div>", {"type": "is-html"}),
    ("Hello <b>x</b>", {"type": "is-html"}),
    ("the cat sat on the mat", {"type": "bleu", "value": "the cat sat on the mat"}),
    ("the cat", {"type": "bleu", "value": ["the cat", "a dog"]}),
    ("the cat sat on the mat", {"type": "not-bleu", "value": "the cat sat on the mat"}),
    ("the cat sat on the mat", {"type": "gleu", "value": "the cat is on the mat"}),
    ("the cat sat on the mat", {"type": "gleu", "value": "a dog", "threshold": 0.1}),
    ("I cannot help with that request", {"type": "is-refusal"}),
    ("Sure, here it is", {"type": "is-refusal"}),
    ("Sure, here it is", {"type": "not-is-refusal"}),
    ("done", {"type": "finish-reason", "value": "stop"}),
    ("done", {"type": "is-valid-function-call"}),
    ("done", {"type": "cost", "threshold": 1}),
    ("done", {"type": "perplexity"}),
    ("café", {"type": "regex", "value": "caf\\w"}),
    ("café", {"type": "regex", "value": "\\bcaf\\b"}),
    ("a 😀 b", {"type": "regex", "value": "^a . b$"}),
    ("AbC", {"type": "not-regex", "value": "abc"}),
    ("hello world", {"type": "contains", "value": "file://hello.txt"}),
    ("hello world", {"type": "contains-any", "value": "file://words.yaml"}),
    ("hello world", {"type": "equals", "value": "file://value.js"}),
    ("hello world", {"type": "icontains", "value": "file://value.py:upper"}),
]
ASSERTION_FILES = {
    "hello.txt": "  hello  \n",
    "words.yaml": "- nope\n- world\n",
    "value.js": "module.exports = (output, context) => output + '';\n",
    "value.py": "def upper(output, context):\n    return context['vars']['out'].upper()\n",
}


async def test_assertion_types_give_promptfoos_verdicts(ws_targets: str, tmp_path: Path) -> None:
    config = {
        "prompts": ["{{out}}"], "providers": [output_target(ws_targets)],
        "tests": [{"vars": {"out": out}, "assert": [check]} for out, check in ASSERTION_CASES],
    }  # fmt: skip
    theirs, ours, _ = await both(tmp_path, config, files=ASSERTION_FILES)
    found = agree(theirs, ours)
    verdicts = [found[(i, 0)][0] for i in range(len(ASSERTION_CASES))]
    assert verdicts.count(True) >= 14
    assert [found[(i, 0)][3] for i in (23, 24)] == [2, 2]  # cost, perplexity: no such figures


async def test_config_shapes_give_the_same_columns_and_rows(
    ws_targets: str, tmp_path: Path
) -> None:
    files = {
        "targets.yaml": yaml.safe_dump([
            {**echo_target(ws_targets, "a"), "label": "alpha", "prompts": ["first"]},
            {**echo_target(ws_targets, "b"), "label": "beta"},
        ]),
        "default.yaml": yaml.safe_dump({"vars": {"d": "D"}, "assert": [
            {"type": "contains", "value": "P", "metric": "m"}]}),
    }  # fmt: skip
    config = {
        "prompts": [{"raw": "P {{ q }} {{ d }}", "label": "first"},
                    {"raw": "Q {{ q }}", "label": "second"}],
        "providers": "file://targets.yaml",
        "defaultTest": "file://default.yaml",
        "tests": [
            {"vars": {"q": "one"}},
            {"vars": {"q": "two"}, "providers": ["beta"], "prompts": ["second"]},
        ],
        "scenarios": [{"config": [{"vars": {"q": "s1"}}, {"vars": {"q": "s2"}}],
                       "tests": [{"assert": [{"type": "contains", "value": "s"}]}]}],
        "derivedMetrics": [{"name": "share", "value": "m / __count"}],
    }  # fmt: skip
    theirs, ours, _ = await both(tmp_path, config, files=files)
    found = agree(theirs, ours)
    assert sorted(found) == [(0, 0), (0, 1), (0, 2), (1, 2), (2, 0), (2, 1), (2, 2),
                             (3, 0), (3, 1), (3, 2)]  # fmt: skip
    named = [p["metrics"]["namedScores"] for p in ours["results"]["prompts"]]
    assert named == [p["metrics"]["namedScores"] for p in theirs["results"]["prompts"]]


PROMPT_FUNCTIONS = {
    "pf.js": "module.exports = (context) => [{role: 'user', content: 'U ' + context.vars.q + ' {{ q }}'}];\n"
    "module.exports.text = (context) => 'tmpl={{ q }} ' + Object.keys(context).join(',');\n"
    "module.exports.object = (context) => ({prompt: 'O ' + context.vars.q, config: {temperature: 0.5}});\n",
    "pf.py": "def make(context):\n    return 'py {{ q }} ' + context['provider']['id'][:5]\n",
}


async def test_prompt_functions_are_called_with_promptfoos_arguments(
    ws_targets: str, tmp_path: Path
) -> None:
    config = {
        "prompts": ["file://pf.js", "file://pf.js:text", "file://pf.js:object", "file://pf.py:make"],
        "providers": [echo_target(ws_targets)],
        "tests": [{"vars": {"q": "hi\n"}}],
    }  # fmt: skip
    theirs, ours, _ = await both(tmp_path, config, files=PROMPT_FUNCTIONS)
    found = agree(theirs, ours)
    assert found[(0, 1)][2] == "/echo/b|tmpl=hi vars,provider,config"
    assert found[(0, 3)][2] == "/echo/b|py hi ws://"
    # Rows of one test come in the order they finished: compare them by column.
    assert {r["promptIdx"]: r["prompt"]["config"] for r in ours["results"]["results"]} == {
        r["promptIdx"]: r["prompt"]["config"] for r in theirs["results"]["results"]
    }


async def test_nunjucks_templates_and_custom_filters_render_as_promptfoo_renders_them(
    ws_targets: str, tmp_path: Path
) -> None:
    files = {"upper.js": "module.exports = (s) => String(s).toUpperCase() + '!';\n"}
    prompts = [
        "{% for k, v in obj %}[{{ k }}={{ v }}]{% endfor %}",
        "a={{ missing.attr }} e={% if [] %}yes{% endif %} d={{ missing | dump }} o={{ obj }}",
        "{{ long | truncate(8) }}|{{ long | truncate(11) }}|{{ 2.5 | round }}|{{ 'x' + 1 }}",
        "text {{ q | shout }} {{ b }}",
        '[{"role":"user","content":"{{ q | shout }}"}]',
        "{{ nums }} {{ nums | dump }} {{ flag }} {{ none_val }}",
    ]
    config = {
        "prompts": prompts, "providers": [echo_target(ws_targets)],
        "nunjucksFilters": {"shout": "./upper.js"},
        "tests": [{"vars": {"obj": {"b": 1, "2": 2, "a": 3}, "long": "hello world foo",
                            "q": "hi", "b": "B={{ q }}", "nums": [1, 2], "flag": True,
                            "none_val": None}}],
    }  # fmt: skip
    theirs, ours, _ = await both(tmp_path, config, files=files)
    found = agree(theirs, ours)
    assert found[(0, 0)][2] == "/echo/b|[2=2][b=1][a=3]"
    assert found[(0, 3)][2] == "/echo/b|text HI! B=hi"


RESPONSES_EXAMPLE = EXAMPLE.parent / "responses-api"
RESPONSES_CONFIGS = ("promptfooconfig.yaml", "promptfooconfig.builtin.yaml")


async def responses_example(
    base: str, tmp_path: Path, exit_code: int
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The Responses example pointed at `base`: promptfoo's results on the JavaScript fold,
    and wsllm's on it and on the built-in fold (each run checked for `exit_code`)."""
    port = base.rsplit(":", 1)[1]
    documents = {}
    for name in RESPONSES_CONFIGS:
        text = (RESPONSES_EXAMPLE / name).read_text().replace("localhost:3300", f"localhost:{port}")
        (tmp_path / name).write_text(text)
        code, _, err = await run_wsllm(
            "eval", "-c", name, "-o", f"{name}.json", "--no-progress", cwd=tmp_path,
            env=clean_env(),
        )  # fmt: skip
        assert code == exit_code, err
        documents[name] = orjson.loads((tmp_path / f"{name}.json").read_bytes())
    theirs = await promptfoo_eval(tmp_path / RESPONSES_CONFIGS[0], tmp_path / "pf.json", tmp_path)
    return theirs, documents


async def test_the_responses_example_gives_the_same_verdicts_in_promptfoo_and_wsllm_and_the_builtin_fold(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    base = await start_server(sim_ttft_ms="2", sim_itl_ms="0", sim_tokens="24")
    theirs, documents = await responses_example(base, tmp_path, 0)
    for document in documents.values():
        assert cells(document) == cells(theirs)
    outputs = [output for _, _, output, _ in cells(theirs).values()]
    assert len(outputs) == 4
    assert all(output.startswith("Simulated reply to") for output in outputs)


async def test_the_builtin_responses_fold_reports_a_refused_request_as_promptfoo_would(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    # A frame over the server's limit: an `error` event, which both folds make the test's error.
    base = await start_server(max_frame_bytes="60")
    theirs, documents = await responses_example(base, tmp_path, 100)
    errors = [row.get("error") or "" for row in theirs["results"]["results"]]
    assert len(errors) == 4
    assert all("frame_too_large" in error for error in errors), errors
    for document in documents.values():
        assert cells(document) == cells(theirs)
        assert [row.get("error") for row in document["results"]["results"]] == errors
