"""Regenerate this folder's figures: run the Python blocks of docs/market_tutorial.md in order,
in a temporary folder, and keep the figures they write (``tutorial_*.png``).

    python docs/img/tutorial/make_figures.py
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PAGE = HERE.parents[1] / "market_tutorial.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def main() -> None:
    code = BLOCK.findall(PAGE.read_text(encoding="utf-8"))
    start = Path.cwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            namespace: dict = {"__name__": "__tutorial__"}
            for block in code:
                exec(compile(block, str(PAGE), "exec"), namespace)  # noqa: S102 (our own page)
            for figure in sorted(Path(tmp).glob("tutorial_*.png")):
                shutil.copy2(figure, HERE / figure.name)
                print("wrote", HERE / figure.name)
        finally:
            os.chdir(start)


if __name__ == "__main__":
    main()
