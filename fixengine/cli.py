"""Command line: ``fixengine <command> ...``.

Each command lives in its own module and exposes ``add_arguments(parser)`` and
``run(args) -> int``; this module only wires them together.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

# command path -> module implementing it
COMMANDS: dict[tuple[str, ...], str] = {
    ("bench", "codec"): "fixengine.bench.codec",
    ("bench", "crash"): "fixengine.bench.crash",
    ("bench", "fuzz"): "fixengine.bench.fuzz",
    ("bench", "instructions"): "fixengine.bench.instructions",
    ("bench", "load"): "fixengine.bench.load",
    ("bench", "roundtrip"): "fixengine.bench.roundtrip",
    ("decode",): "fixengine.decode",
    ("demo",): "fixengine.demo",
    ("dictionary", "convert"): "fixengine.dictionary",
    ("sim",): "fixengine.sim.cli",
}


def whole_number(minimum: int = 0, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: an int in [minimum, maximum], with a readable error."""

    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if n < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {n}")
        if maximum is not None and n > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum}, not {n}")
        return n

    return parse


def number_in(minimum: float, maximum: float) -> Callable[[str], float]:
    """An argparse ``type``: a float in [minimum, maximum], with a readable error."""

    def parse(text: str) -> float:
        try:
            x = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not minimum <= x <= maximum:
            lo, hi = (int(v) if float(v).is_integer() else v for v in (minimum, maximum))
            raise argparse.ArgumentTypeError(f"must be from {lo} to {hi}, not {text}")
        return x

    return parse


def positive_number(text: str) -> float:
    """An argparse ``type``: a finite float above 0."""
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < x < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text}")
    return x


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree for every registered command."""
    from . import __version__

    parser = argparse.ArgumentParser(prog="fixengine", description="FIX protocol engine")
    parser.add_argument("--version", action="version", version=f"fixengine {__version__}")
    top = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    groups: dict[str, argparse._SubParsersAction[argparse.ArgumentParser]] = {}
    for path, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        doc = (module.__doc__ or "").strip().splitlines()
        help_text = doc[0] if doc else None
        if len(path) == 1:
            sub = top.add_parser(path[0], help=help_text, description=help_text)
        else:
            if path[0] not in groups:
                grp = top.add_parser(path[0], help=f"{path[0]} commands")
                groups[path[0]] = grp.add_subparsers(
                    dest="subcommand", metavar="SUBCOMMAND", required=True
                )
            sub = groups[path[0]].add_parser(path[1], help=help_text, description=help_text)
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fixengine`` script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
