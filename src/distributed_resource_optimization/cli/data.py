"""``dro data split``: one data folder per market entity, for agents that hold only their own
data."""

from __future__ import annotations

import argparse
from pathlib import Path

from distributed_resource_optimization.cli.common import (
    add_overwrite_option,
    add_verbosity_options,
    progress,
)
from distributed_resource_optimization.market.names import AGENT_MODES

NAME = "data"
HELP = "data folders"

#: Examples shown by ``dro data --help``.
EXAMPLES = """\
  dro data split --out parts
      the embedded district as one folder per market entity (parts/<entity>/)
  dro data split --data mydistrict --agents per-building --out parts
      your district's data, one folder per building and grid operator"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``dro data``'s own commands (``split``), each with its options."""
    sub = parser.add_subparsers(dest="data_command", required=True, parser_class=type(parser))
    split = sub.add_parser("split", help="one data folder per market entity, DIR/<entity>/",
                           description="one data folder per market entity, DIR/<entity>/",
                           epilog=f"examples:\n{EXAMPLES}",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    add_verbosity_options(split)
    split.add_argument("--out", required=True, type=Path, metavar="DIR",
                       help="folder to write the entity folders to")
    add_overwrite_option(split)
    split.add_argument("--data", default=None, type=Path, metavar="DIR",
                       help="the district's data folder (default: embedded test case)")
    split.add_argument("--agents", default=AGENT_MODES[0], choices=AGENT_MODES,
                       help="entities (default) or per-building")


def run(args: argparse.Namespace) -> int:
    """``dro data split``: every entity folder appears together, or none."""
    # pandas is heavy: the table reader and the split are imported when the command runs
    from distributed_resource_optimization.energy.tables import DEFAULT_DATA_DIR
    from distributed_resource_optimization.io.output import OutputFolder
    from distributed_resource_optimization.market.split import split_data

    data = args.data or DEFAULT_DATA_DIR
    output = OutputFolder(args.out, f"{args.command} {args.data_command}", inputs={"--data": data},
                          overwrite=args.overwrite)
    output.check()
    with output as tmp:  # all entity folders appear together, or none
        folders = split_data(tmp, data, agents=args.agents)
    progress(f"wrote {len(folders)} entity folders into {args.out}: {', '.join(folders)}")
    return 0
