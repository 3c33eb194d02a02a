"""The data format as a page: every file the loaders read, its columns, their type, unit, range
and meaning, and the columns of the format that are read past, generated from the schemas
(:data:`.tables.SCHEMAS`), the one place they are stated.

    python -m distributed_resource_optimization.energy.data_format > docs/data_format.md

``tests/energy/test_tables.py`` holds the page in ``docs/`` to what this writes.
"""

from __future__ import annotations

import math

from .tables import SCHEMAS, Range

_TYPES = {float: "number", int: "integer", str: "text"}

_INTRO = """# Data format

<!-- Generated from the table schemas (energy/tables.py) by
`python -m distributed_resource_optimization.energy.data_format > docs/data_format.md`;
tests/energy/test_tables.py fails when this page and the schemas differ. -->

A district is a folder of CSV files in the MESMO / CoBMo format (comma-separated, a header line,
one row per record): `grid/` (both grid operators), `buildings/` (the aggregator's buildings)
and `timeseries/` (price and weather). `dro data export --out DIR` writes the embedded district
as a folder to start from; `--data DIR` (or `load_district(DIR)`) runs it. Each organisation
reads only its own files (`dro data split`).

Every file below is read against this table: a missing required column, a cell that is not a
number, or a value outside its range is reported with file, row and column, every problem of a
file at once, before any work starts. A column that is neither read nor one of the format's
columns the loaders read past draws a warning (a misspelt optional column is never used
silently). Demand is positive in every result; the grid files' nominal powers keep MESMO's sign
(negative = consumption).

Columns: **required**, *optional* (may be absent or empty), or `ignored` (a column of the format
this package reads past).
"""


def _range(r: Range | None) -> str:
    if r is None:
        return ""
    low = "-inf" if math.isinf(r.low) and r.low < 0 else f"{r.low:g}"
    high = "inf" if math.isinf(r.high) else f"{r.high:g}"
    return f"{'[' if r.low_inclusive else '('}{low}, {high}{']' if r.high_inclusive else ')'}"


def data_format_markdown() -> str:
    """The page (Markdown)."""
    parts = [_INTRO]
    for name, schema in SCHEMAS.items():
        parts.append(f"\n## `{name}`\n\nRead by the {schema.owner}.\n\n"
                     "| column | kind | type | unit | range | notes |\n"
                     "| --- | --- | --- | --- | --- | --- |\n")
        rows = [(c, "**required**", t) for c, t in schema.columns.items()]
        rows += [(c, "*optional*", t) for c, t in schema.optional.items()]
        for column, kind, typ in rows:
            parts.append(f"| `{column}` | {kind} | {_TYPES[typ]} | "
                         f"{schema.units.get(column, '')} | "
                         f"{_range(schema.ranges.get(column))} | "
                         f"{schema.notes.get(column, '')} |\n")
        for column in schema.ignored:
            parts.append(f"| `{column}` | `ignored` | | | | {schema.notes.get(column, '')} |\n")
    return "".join(parts)


if __name__ == "__main__":
    print(data_format_markdown(), end="")
