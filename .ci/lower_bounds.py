"""Print the declared lower bounds of the base dependencies as pip constraints (``name==min``),
read from pyproject.toml, the one place they are declared. The extras (test tools) are not
pinned: only what users install with the package."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import tomllib

project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
for requirement in project["project"]["dependencies"]:
    spec, _, marker = requirement.partition(";")
    if marker.strip() and "python_version" in marker and sys.version_info >= (3, 11):
        continue  # e.g. tomli, for older Pythons only
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-\[\]]+)\s*>=\s*([0-9][0-9A-Za-z.\-]*)\s*", spec)
    if match is None:
        raise SystemExit(f"pyproject.toml: {requirement!r} states no lower bound (>=)")
    name = re.sub(r"\[.*\]", "", match.group(1))
    print(f"{name}=={match.group(2)}")
