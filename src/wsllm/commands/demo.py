"""`wsllm demo`: the whole loop on a fresh machine: serve the built-in model, evaluate the bundled
example against `/ws-stream`, print the table, store the run, say how to browse it, stop."""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from wsllm.commands import parser, path

if TYPE_CHECKING:
    from wsllm.commands import Subcommands

EXAMPLE = "promptfooconfig.yaml"


def add_parser(commands: Subcommands) -> None:
    """The `demo` subcommand's flags."""
    p = parser(commands, "demo", help="serve, evaluate the bundled example, store the run",
               description=__doc__)  # fmt: skip
    p.add_argument("--db", type=path, help="results database (default: the user data folder)")
    p.add_argument("--port", type=int, default=3300, help="server port (3300; another if taken)")
    p.set_defaults(func=run)


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _example_config(port: int, folder: Path) -> Path:
    text = resources.files("wsllm.examples").joinpath(EXAMPLE).read_text()
    path = folder / EXAMPLE
    path.write_text(text.replace("localhost:3300", f"localhost:{port}"))
    return path


def run(args: argparse.Namespace) -> int:
    """Run the demo; return the eval's exit code."""
    from wsllm.server.spawn import spawned_server

    port = args.port if _free(args.port) else 0
    serve = ["--port", str(port), "--backend", "simulated", "--sim-ttft-ms", "150",
             "--sim-itl-ms", "8", "--sim-tokens", "40"]  # fmt: skip
    with spawned_server(serve) as base:
        port = int(base.rsplit(":", 1)[1])
        print(f"wsllm serve is up on {base} (the built-in simulated model)\n", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            command = [
                sys.executable,
                "-m",
                "wsllm",
                "eval",
                "-c",
                str(_example_config(port, Path(tmp))),
            ]
            if args.db:
                command += ["--db", str(args.db)]
            code = subprocess.call(command)
    where = f" --db {args.db}" if args.db else ""
    print(f"\nThe server has stopped. Run `wsllm view{where}` to browse the stored run.")
    return code
