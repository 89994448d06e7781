"""Eval throughput and memory: `wsllm eval` and promptfoo on the same streaming suite, alternating.

    python benchmarks/eval_vs_promptfoo.py --promptfoo-cmd "npx promptfoo@0.120.27" --rounds 3

The suite is TESTS tests (default 500) against one `/ws-stream` endpoint, each answered with
TOKENS deltas (default 64), folded by the seed's streamResponse and checked with `icontains`.
Without `--target`, an instant `wsllm serve` (simulated model, no delays) is started; give
`--target ws://...` to use another instant server. Each tool runs as a child process; wall time
and peak resident memory (the largest process of the run) are measured around it.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import yaml

from wsllm.server.spawn import spawned_server

SEED_STREAM = """(accumulator, event, context) => {
  const { message, type } = JSON.parse(event.data);
  if (type === 'message') { return [{ output: message }, true]; }
  if (type === 'error')   { return [{ error: message }, true]; }
  return [{output: message}, false];
}
"""


def write_suite(folder: Path, target: str, tests: int) -> Path:
    """The benchmark config."""
    provider = {
        "id": target,
        "config": {
            "messageTemplate": '{"input": {{prompt | dump}}}',
            "streamResponse": SEED_STREAM,
        },
    }
    cases = [
        {
            "vars": {"question": f"question number {i}"},
            "assert": [{"type": "icontains", "value": "e"}],
        }
        for i in range(tests)
    ]
    config = {"prompts": ["{{question}}"], "providers": [provider], "tests": cases}
    path = folder / "promptfooconfig.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@contextmanager
def instant_server(tokens: int) -> Iterator[str]:
    """`wsllm serve` with the simulated model at full speed; yields its /ws-stream URL."""
    args = ["--port", "0", "--backend", "simulated", "--sim-ttft-ms", "0", "--sim-itl-ms", "0",
            "--sim-tokens", str(tokens)]  # fmt: skip
    with spawned_server(args) as base:
        yield base.replace("http://", "ws://") + "/ws-stream"


def measure(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MB and exit code of `command`, run in a fresh measuring process."""
    probe = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
        "wall = time.perf_counter() - t\n"
        "print(wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, *command], cwd=cwd, env=env,
                         capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    return float(out[0]), int(out[1]) / 1024, int(out[2])


def outcome(results: Path) -> str:
    """What a run's results file says: tests passed, failed and in error."""
    try:
        stats = orjson.loads(results.read_bytes())["results"]["stats"]
    except (OSError, ValueError, KeyError, TypeError):
        return "no results file"
    return f"{stats['successes']} passed, {stats['failures']} failed, {stats['errors']} errors"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", help="an instant seed-protocol /ws-stream URL")
    parser.add_argument("--tests", type=int, default=500)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("-j", "--concurrency", type=int, default=4)
    parser.add_argument("--promptfoo-cmd", default=os.environ.get("WSLLM_PROMPTFOO_CMD"),
                        help="how to run promptfoo (or $WSLLM_PROMPTFOO_CMD)")  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, _target(args) as target:
        folder = Path(tmp)
        write_suite(folder, target, args.tests)
        env = {**os.environ, "PROMPTFOO_DISABLE_TELEMETRY": "1", "PROMPTFOO_DISABLE_UPDATE": "1",
               "PROMPTFOO_CONFIG_DIR": str(folder / "pf"), "CI": "true"}  # fmt: skip
        common = ["-j", str(args.concurrency), "--no-table"]
        # Runs are stored, as a user's would be, but in a database of the benchmark's own.
        store = ["--db", str(folder / "bench-results.db")]
        wsllm = [sys.executable, "-m", "wsllm", "eval", "--no-progress", *store, *common]
        tools = {"wsllm": [*wsllm, "-o", str(folder / "wsllm.json")]}
        if args.promptfoo_cmd:
            promptfoo = [
                *shlex.split(args.promptfoo_cmd),
                "eval",
                "--no-cache",
                "--no-progress-bar",
            ]
            tools["promptfoo"] = [*promptfoo, *common, "-o", str(folder / "promptfoo.json")]
        runs: dict[str, list[tuple[float, float, int]]] = {name: [] for name in tools}
        for round_number in range(args.rounds):
            for name, command in tools.items():
                wall, rss, code = measure(command, folder, env)
                runs[name].append((wall, rss, code))
                print(f"round {round_number + 1} {name}: {wall:.2f} s, {rss:.0f} MB peak, "
                      f"exit {code}, {outcome(folder / f'{name}.json')}")  # fmt: skip
        report(runs, args.tests)


@contextmanager
def _target(args: argparse.Namespace) -> Iterator[str]:
    if args.target:
        yield args.target
    else:
        with instant_server(args.tokens) as url:
            yield url


def report(runs: dict[str, list[tuple[float, float, int]]], tests: int) -> None:
    """Medians, tests per second and the ratios."""
    medians = {
        n: (statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs))
        for n, rs in runs.items()
    }
    for name, (wall, rss) in medians.items():
        print(f"{name:<10} {wall:6.2f} s  {tests / wall:7.1f} tests/s  {rss:6.0f} MB peak")
    if "promptfoo" in medians:
        (ours, our_rss), (theirs, their_rss) = medians["wsllm"], medians["promptfoo"]
        print(
            f"wsllm/promptfoo: {theirs / ours:.1f}x tests/s, {our_rss / their_rss:.2f}x peak memory"
        )


if __name__ == "__main__":
    main()
