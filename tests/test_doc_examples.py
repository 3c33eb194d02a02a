"""Every Python example in README.md and docs/*.md runs.

The ```python blocks of one file run in order in one namespace (a later block may use the names of
an earlier one), in a temporary working directory of that file. A block whose fence is preceded,
on the line before, by ``<!-- not-run: <reason> -->`` is skipped; the reason must not be empty.
Shell blocks are not run here, except that the README's first block must hold the two commands
that CI runs (``.ci/run``). Pages are found by glob, so new pages are picked up as they appear.
"""

from __future__ import annotations

import re
import sys
import traceback
import types
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PYTHON_LANGS = {"python", "py", "python3"}
NOT_RUN = re.compile(r"^\s*<!--\s*not-run\s*:(?P<reason>.*?)-->\s*$")
ANY_MARKER = re.compile(r"^\s*<!--\s*not-run\b", re.IGNORECASE)  # a line that is such a comment
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")

# The README's first code block: the main job and the test command (the latter is what .ci/run calls).
MAIN_COMMAND = ("python3 -m pip install . && python3 -m distributed_resource_optimization market-clearing "
                "--out dro-output")
TEST_COMMAND = 'python3 -m pip install ".[test]" && python3 -m pytest -q'


@dataclass
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    marker: str | None  # the line before the fence if it is a not-run marker (or looks like one)
    end: int = 0  # 1-based line of the closing fence

    @property
    def first_code_line(self) -> int:
        return self.line + 1

    @property
    def reason(self) -> str | None:
        if self.marker is None:
            return None
        m = NOT_RUN.match(self.marker)
        return m.group("reason").strip() if m else ""


def parse_blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a Markdown file (CommonMark fences, also indented in lists)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, info = len(m["indent"]), m["fence"], m["info"].strip()
        close = re.compile(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            j += 1
        body = [ln[indent:] if ln[:indent].strip() == "" else ln.lstrip() for ln in lines[i + 1:j]]
        before = lines[i - 1] if i > 0 else ""
        lang = info.split()[0].lower() if info else ""
        blocks.append(Block(path, i + 1, lang, "\n".join(body) + "\n",
                            before if ANY_MARKER.search(before) else None, end=j + 1))
        i = j + 1
    return blocks


def doc_files() -> list[Path]:
    return [README, *sorted((ROOT / "docs").glob("*.md"))]


def python_blocks() -> list[Block]:
    return [b for f in doc_files() for b in parse_blocks(f) if b.lang in PYTHON_LANGS]


def _id(block: Block) -> str:
    return f"{block.path.relative_to(ROOT).as_posix()}:{block.line}"


@dataclass
class FileState:
    """One namespace and working directory per file; blocks are run in order, each at most once."""

    module: types.ModuleType
    cwd: Path
    done: dict[int, BaseException | None] = field(default_factory=dict)  # line -> error of that block


@pytest.fixture(scope="module")
def file_states(tmp_path_factory):
    states: dict[Path, FileState] = {}

    def get(path: Path) -> FileState:
        if path not in states:
            slug = re.sub(r"\W", "_", path.relative_to(ROOT).as_posix())
            module = types.ModuleType(f"doc_example_{slug}")
            module.__file__ = str(path)
            states[path] = FileState(module, tmp_path_factory.mktemp(slug))
        return states[path]

    yield get
    for state in states.values():
        sys.modules.pop(state.module.__name__, None)


def _execute(block: Block, state: FileState, monkeypatch) -> None:
    """Run one block; on an error fail with the block's own traceback (Markdown line numbers)."""
    with monkeypatch.context() as m:
        m.chdir(state.cwd)
        m.setenv("MPLBACKEND", "Agg")
        m.setitem(sys.modules, state.module.__name__, state.module)
        error = None
        try:
            # Leading newlines keep the Markdown file's line numbers in tracebacks.
            code = compile("\n" * (block.first_code_line - 1) + block.code, str(block.path), "exec")
            exec(code, state.module.__dict__)
        except (Exception, SystemExit) as exc:
            error = exc
    state.done[block.line] = error
    if error is not None:
        tb = "".join(traceback.format_exception(type(error), error, error.__traceback__.tb_next))
        pytest.fail(f"the block at {_id(block)} failed:\n{tb}", pytrace=False)


def _run(block: Block, state: FileState, monkeypatch) -> None:
    """Run the file's earlier runnable blocks not run yet (e.g. under -k), then this one."""
    for earlier in BY_FILE[block.path]:
        if earlier.line >= block.line:
            break
        if earlier.line in state.done and state.done[earlier.line] is not None:
            pytest.fail(f"an earlier block of this file failed: {_id(earlier)}", pytrace=False)
        if earlier.marker is None and earlier.line not in state.done:
            _execute(earlier, state, monkeypatch)
    _execute(block, state, monkeypatch)


BLOCKS = python_blocks()
BY_FILE: dict[Path, list[Block]] = {}
for _b in BLOCKS:
    BY_FILE.setdefault(_b.path, []).append(_b)


@pytest.mark.parametrize("block", BLOCKS, ids=[_id(b) for b in BLOCKS])
def test_python_block_runs(block: Block, file_states, monkeypatch) -> None:
    if block.marker is not None:
        if not block.reason:
            pytest.fail(f"{_id(block)}: a not-run marker needs a reason: "
                        f"'<!-- not-run: <reason> -->', found {block.marker.strip()!r}", pytrace=False)
        pytest.skip(f"not-run ({_id(block)}): {block.reason}")
    _run(block, file_states(block.path), monkeypatch)


def test_every_not_run_marker_has_a_reason() -> None:
    """Every skipped block (of any language) says why; a marker not directly above a fence is an
    error (lines inside code blocks, e.g. an example of the marker, are not markers)."""
    problems = []
    for path in doc_files():
        blocks = parse_blocks(path)
        marked = {b.line - 1 for b in blocks if b.marker is not None}
        inside = {n for b in blocks for n in range(b.line, b.end + 1)}
        for b in blocks:
            if b.marker is not None and not b.reason:
                problems.append(f"{_id(b)}: empty or malformed marker {b.marker.strip()!r}")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if ANY_MARKER.search(line) and number not in marked and number not in inside:
                problems.append(f"{path.relative_to(ROOT)}:{number}: not-run marker not on the line "
                                f"before a code fence")
    assert not problems, "\n".join(problems)


def test_parser_finds_blocks_markers_and_line_numbers(tmp_path) -> None:
    page = tmp_path / "page.md"
    page.write_text("text\n```python\nx = 1\n```\n<!-- not-run: needs two hosts -->\n```python\n"
                    "y = x\n```\n- item\n\n  ```py\n  z = 2\n  ```\n<!-- not-run: -->\n```bash\nls\n```\n")
    blocks = parse_blocks(page)
    assert [(b.line, b.end, b.lang, b.code, b.reason) for b in blocks] == [
        (2, 4, "python", "x = 1\n", None), (6, 8, "python", "y = x\n", "needs two hosts"),
        (11, 13, "py", "z = 2\n", None), (15, 17, "bash", "ls\n", "")]


def test_readme_starts_with_the_ci_commands() -> None:
    """The README's first code block holds the main job and the test command, verbatim, in this
    order; CI runs them separately (.ci/run has the test command as a line of its own)."""
    first = parse_blocks(README)[0]
    assert first.lang in {"bash", "sh", "shell", "console"}, _id(first)
    lines = [ln for ln in first.code.splitlines() if ln.strip()]
    assert len(lines) == 2, _id(first)
    assert lines[0].split("#")[0].strip() == MAIN_COMMAND, lines[0]
    assert lines[1].split("#")[0].strip() == TEST_COMMAND, lines[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert TEST_COMMAND in [ln.strip() for ln in ci.splitlines()]


@pytest.mark.parametrize("page", ["index.md", "getting_started.md"])
def test_docs_pages_repeat_the_readme_commands(page: str) -> None:
    """The site's landing page and its getting-started page show the same two commands as the README."""
    path = ROOT / "docs" / page
    if not path.exists():
        pytest.skip(f"no docs/{page}")
    shell = [b for b in parse_blocks(path) if b.lang in {"bash", "sh"}]
    assert shell and shell[0].code == parse_blocks(README)[0].code


README_MAX_LINES = 120  # "on two screens": the rest of the README's old text lives in docs/
IMAGE = re.compile(r"!\[(?P<alt>[^\]]*)\]\((?P<src>[^)\s]+)\)")


def test_readme_is_short_and_its_picture_is_committed() -> None:
    """The README stays on about two screens, and every picture it shows is a committed file under
    docs/ with an alt text, small enough for a README (< 150 kB)."""
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= README_MAX_LINES, "move details into a docs/ page"
    images = list(IMAGE.finditer(text))
    assert images, "the README shows a figure the package draws"
    for m in images:
        path = ROOT / m["src"]
        assert m["alt"].strip(), f"{m['src']}: no alt text"
        assert m["src"].startswith("docs/") and path.is_file(), m["src"]
        assert path.stat().st_size < 150_000, f"{m['src']}: {path.stat().st_size} bytes"
