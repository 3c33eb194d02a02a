"""``dro data export``: the embedded district's data as a folder to start from (edit it, then
``--data DIR``); ``dro data split``: one data folder per market entity, for agents that hold only
their own data; ``dro data generate``: a synthetic district of any size (buildings drawn from the
embedded ones on generated, planned grids)."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

from distributed_resource_optimization.cli.common import (
    add_overwrite_option,
    add_verbosity_options,
    progress,
)
from distributed_resource_optimization.market.names import AGENT_MODES

NAME = "data"
HELP = "data folders: export the embedded district, split one per entity, generate one"
#: The notes beside the embedded district that an export carries along.
EXPORTED_NOTES: tuple[str, ...] = ("README.md", "LICENSE")

#: Examples shown by ``dro data --help``.
EXAMPLES = """\
  dro data export --out mydistrict
      the embedded district's data files, to edit and run with --data mydistrict
  dro data split --out parts
      the embedded district as one folder per market entity (parts/<entity>/)
  dro data split --data mydistrict --agents per-building --out parts
      your district's data, one folder per building and grid operator
  dro data generate --buildings 200 --seed 1 --out city
      200 buildings drawn from the embedded ones on a generated, planned network;
      run it with dro market-clearing --data city --scenario unconstrained"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``dro data``'s own commands (``export``, ``split``), each with its options."""
    sub = parser.add_subparsers(dest="data_command", required=True, parser_class=type(parser))
    _command(sub, "export", "the embedded district's data files, to start from",
             "copy the embedded district's data (grids, buildings, time series, with its README "
             "and licence) into DIR, to edit and run with --data DIR",
             "folder to write the data files to")
    split = _command(sub, "split", "one data folder per market entity, DIR/<entity>/",
                     "one data folder per market entity, DIR/<entity>/",
                     "folder to write the entity folders to")
    split.add_argument("--data", default=None, type=Path, metavar="DIR",
                       help="the district's data folder (default: embedded test case)")
    split.add_argument("--agents", default=AGENT_MODES[0], choices=AGENT_MODES,
                       help="entities (default) or per-building")
    generate = _command(sub, "generate", "a synthetic district of N buildings",
                        "write a synthetic district: N buildings drawn (seeded) from the "
                        "archetypes' buildings, on a generated radial feeder and cooling network "
                        "whose cables and pipes are sized from standard catalogues for the "
                        "buildings' peaks (docs/district.md, 'Generated districts')",
                        "folder to write the data files to")
    generate.add_argument("--buildings", required=True, type=int, metavar="N",
                          help="number of buildings")
    generate.add_argument("--seed", default=0, type=int, metavar="S",
                          help="seed of the draw and the sites (default 0)")
    generate.add_argument("--archetypes", default=None, type=Path, metavar="DIR",
                          help="district data folder whose buildings are drawn (default: the "
                          "embedded district)")


def _command(sub: Any, name: str, help: str, description: str, out_help: str
             ) -> argparse.ArgumentParser:
    """One of ``dro data``'s commands with the options all of them take (``-q``/``-v``,
    ``--out``, ``--overwrite``)."""
    parser = sub.add_parser(name, help=help, description=description,
                            epilog=f"examples:\n{EXAMPLES}",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    add_verbosity_options(parser)
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help=out_help)
    add_overwrite_option(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    """``dro data export`` / ``split`` / ``generate``: every file appears together, or none."""
    # pandas is heavy: the table reader, the split and the generator are imported when the
    # command runs
    from distributed_resource_optimization.energy.synthetic import (
        check_generation,
        generate_district,
    )
    from distributed_resource_optimization.energy.tables import DEFAULT_DATA_DIR
    from distributed_resource_optimization.io.output import OutputFolder
    from distributed_resource_optimization.market.split import split_data

    if args.data_command == "generate":
        archetypes = args.archetypes or DEFAULT_DATA_DIR
        check_generation(args.buildings, args.seed)  # before the output folder is touched
        output = OutputFolder(args.out, f"{args.command} {args.data_command}",
                              inputs={"--archetypes": archetypes}, overwrite=args.overwrite)
        output.check()
        with output as tmp:
            made = generate_district(tmp, args.buildings, args.seed, archetypes=archetypes)
        feeders = len(made.feeders)
        progress(f"wrote a district of {made.n_buildings} buildings on {feeders} feeder"
                 f"{'s' if feeders != 1 else ''} into {args.out}; run it with --data {args.out}")
        return 0
    if args.data_command == "export":
        output = OutputFolder(args.out, f"{args.command} {args.data_command}",
                              inputs={"--data": DEFAULT_DATA_DIR}, overwrite=args.overwrite)
        output.check()
        with output as tmp:
            # The district's folder as it is, and its README and licence (credit and terms).
            shutil.copytree(DEFAULT_DATA_DIR, tmp, dirs_exist_ok=True)
            for name in EXPORTED_NOTES:
                shutil.copy2(DEFAULT_DATA_DIR.parent / name, tmp / name)
        files = sum(1 for p in args.out.rglob("*.csv"))
        progress(f"wrote the embedded district's data into {args.out} ({files} CSV files); "
                 f"run it with --data {args.out}")
        return 0
    data = args.data or DEFAULT_DATA_DIR
    output = OutputFolder(args.out, f"{args.command} {args.data_command}", inputs={"--data": data},
                          overwrite=args.overwrite)
    output.check()
    with output as tmp:  # all entity folders appear together, or none
        folders = split_data(tmp, data, agents=args.agents)
    progress(f"wrote {len(folders)} entity folders into {args.out}: {', '.join(folders)}")
    return 0
