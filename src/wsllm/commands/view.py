"""`wsllm view`: serve the stored runs, on 127.0.0.1 unless told otherwise."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from wsllm.commands import parser, path

if TYPE_CHECKING:
    from wsllm.commands import Subcommands


def add_parser(commands: Subcommands) -> None:
    """The `view` subcommand's flags."""
    p = parser(
        commands, "view", help="browse stored eval runs in a web page",
        description="Serve the results database on 127.0.0.1. Beyond this machine (--host "
        "0.0.0.0 or an address) it needs WSLLM_VIEW_TOKEN, a secret every request must carry.",
    )  # fmt: skip
    p.add_argument(
        "--db", type=path, help="results database (default: $WSLLM_DB or the user data folder)"
    )
    p.add_argument("--port", type=int, default=15500, help="port (default 15500; 0 picks one)")
    p.add_argument(
        "--host", default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; any other address "
        "needs WSLLM_VIEW_TOKEN)",
    )  # fmt: skip
    p.add_argument(
        "--allow-host", action="append", default=[], metavar="NAME",
        help="a host name the page may be reached by, besides localhost, IP addresses and this "
        "machine's name (repeatable; other names are refused, against DNS rebinding)",
    )  # fmt: skip
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C."""
    from wsllm.store import default_db_path
    from wsllm.viewer.serve import serve_viewer

    serve_viewer(args.db or default_db_path(), args.host, args.port, args.allow_host)
    return 0
