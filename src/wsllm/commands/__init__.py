"""The subcommands: argparse adapters, each importing what it runs only when it runs.

Each module's `add_parser` declares its flags and sets `func`, the function `wsllm` calls with
the parsed arguments; building the parser imports nothing heavier than argparse.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]


def path(text: str) -> os.PathLike[str]:
    """An argparse type: a path (pathlib is imported only when a flag is used)."""
    from pathlib import Path

    return Path(text)


def parser(commands: Subcommands, name: str, **kwargs: Any) -> argparse.ArgumentParser:
    """A subcommand's parser; its errors print its own usage, not the top-level one."""
    made: argparse.ArgumentParser = commands.add_parser(name, **kwargs)
    return made
