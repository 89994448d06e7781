"""What `wsllm eval` runs, from its flags: the environment (`--env-file`, or ./.env), the config
with `--var`, `--filter-targets` and `-x` applied, the extensions' beforeAll hook, and the tests
`--filter-failing` keeps."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from wsllm.errors import ConfigError
from wsllm.evals import hooks
from wsllm.evals.config.loading import LoadOptions, find_config, load_config
from wsllm.evals.schema import EvalConfig


def load_env_files(files: list[str]) -> None:
    """`--env-file` files (later ones win, over the environment too); else ./.env, if any,
    under what the environment already says."""
    from dotenv import load_dotenv

    paths = [p.strip() for value in files for p in value.split(",") if p.strip()]
    for name in paths:
        if not Path(name).is_file():
            raise ConfigError(f"--env-file {name}: no such file")
        load_dotenv(name, override=True)
    if not paths and Path(".env").is_file():
        load_dotenv(".env", override=False)


def parse_vars(values: list[str]) -> dict[str, str]:
    """`--var KEY=VALUE` flags (the value may itself hold `=`)."""
    found: dict[str, str] = {}
    for value in values:
        key, equals, rest = value.partition("=")
        if not equals or not key:
            raise ConfigError(f"--var {value!r}: expected KEY=VALUE")
        found[key] = rest
    return found


def load(args: argparse.Namespace) -> EvalConfig:
    """The config to run, as the flags and the beforeAll hook leave it."""
    load_env_files(args.env_file)
    path = find_config(args.config)
    options = LoadOptions(
        extra_vars=parse_vars(args.var),
        targets_pattern=args.filter_targets,
        extensions=tuple(args.extension),
    )
    config = load_config(path, options)
    if config.extensions:
        found = hooks.call_hook(config.extensions, "beforeAll", hooks.suite_context(config))
        changes = hooks.changed_suite(found, config)
        if changes:
            config = load_config(path, LoadOptions(**{**_fields(options), "overrides": changes}))
    if args.filter_failing:
        config.tests = _failing_only(config, args.filter_failing, args.db)
    return config


def _fields(options: LoadOptions) -> dict[str, Any]:
    return {name: getattr(options, name) for name in LoadOptions.__slots__}


def _failing_only(config: EvalConfig, run: str, db: Path | None) -> list[Any]:
    """The tests whose vars match a result that failed or errored in `run`."""
    failing = [_vars_of(row) for row in _stored_rows(run, db) if not _passed(row)]
    kept = [t for t in config.tests if t.vars in failing]
    if not kept:
        print(
            f"wsllm: --filter-failing {run}: no test of this config failed there "
            "(no failures, or the tests changed since)",
            file=sys.stderr,
        )
    return kept


def _passed(row: dict[str, Any]) -> bool:
    return bool(row["success"]) if "success" in row else row.get("status") == "pass"


def _vars_of(row: dict[str, Any]) -> Any:
    value = row.get("vars")
    return json.loads(value) if isinstance(value, str) else value


def _stored_rows(run: str, db: Path | None) -> list[dict[str, Any]]:
    """A results .json file's rows, or a stored run's."""
    if run.endswith(".json") or Path(run).is_file():
        try:
            document = json.loads(Path(run).read_text(encoding="utf-8"))
            return list(document["results"]["results"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"--filter-failing {run}: not a results .json file ({exc})") from exc
    from wsllm.store import ResultStore, default_db_path

    store = ResultStore(db or default_db_path())
    try:
        if store.run(run) is None:
            raise ConfigError(f"--filter-failing {run}: no such run in {store.path}")
        return list(store.all_results(run))
    finally:
        store.close()
