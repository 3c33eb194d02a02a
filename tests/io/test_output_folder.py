"""``--out`` never destroys what dro did not write: manifest, refusals, ``--overwrite``,
atomic replacement and folder permissions (io.output.OutputFolder and the commands using it)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from distributed_resource_optimization.cli import main
from distributed_resource_optimization.energy.tables import DEFAULT_DATA_DIR
from distributed_resource_optimization.io.output import (
    MANIFEST_FILE,
    OutputFolder,
    read_manifest,
    write_manifest,
)

FLEX = ["flex-sharing", "--actors", "20"]


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) with its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _error(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("dro: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _no_leftovers(parent: Path) -> None:
    """No temporary (``.X.tmp-``), swapped-out (``.X.old-``) or probe folders beside the output."""
    assert not [p.name for p in parent.iterdir() if ".tmp-" in p.name or ".old-" in p.name
                or ".probe-" in p.name]


# -- a folder dro did not write ----------------------------------------------------------------

def test_an_unrelated_file_is_refused_and_survives_overwrite(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "thesis.tex").write_text("x\n")
    assert main([*FLEX, "--out", "keep"]) == 2
    line = _error(capsys)
    assert "--out keep" in line and "thesis.tex" in line and "--overwrite" in line
    assert _snapshot(keep) == {"thesis.tex": b"x\n"}  # refused before any work

    assert main([*FLEX, "--out", "keep", "--overwrite"]) == 0
    assert (keep / "thesis.tex").read_bytes() == b"x\n"
    assert json.loads((keep / "summary.json").read_text())["actors"] == 20
    manifest = read_manifest(keep)
    assert manifest is not None and manifest.command == "flex-sharing"
    assert "thesis.tex" not in manifest.files and "summary.json" in manifest.files
    _no_leftovers(tmp_path)


def test_overwrite_replaces_only_files_of_the_new_outputs_names(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text("mine")
    (out / "notes").mkdir()
    (out / "notes" / "a.txt").write_text("a")
    with OutputFolder(out, "test", overwrite=True) as tmp:
        (tmp / "summary.json").write_text("new")
    assert _snapshot(out) == {"summary.json": b"new", "notes/a.txt": b"a",
                              MANIFEST_FILE: (out / MANIFEST_FILE).read_bytes()}


# -- folders refused even with --overwrite ------------------------------------------------------

def test_overwrite_refuses_the_data_folder_and_a_folder_containing_it(tmp_path, capsys):
    data = tmp_path / "district"
    shutil.copytree(DEFAULT_DATA_DIR, data)
    before = _snapshot(data)
    for out in (data, tmp_path):
        for command in (["market-clearing"], ["data", "split"]):
            assert main([*command, "--data", str(data), "--out", str(out), "--overwrite"]) == 2
            line = _error(capsys)
            assert f"--out {out}" in line and "--data" in line, line
    assert _snapshot(data) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["district"]


def test_the_agents_file_folder_is_refused_a_warm_start_from_the_same_folder_is_not(
        tmp_path, capsys):
    (tmp_path / "agents.toml").write_text('aggregator = "127.0.0.1:1"\n')
    assert main(["market-clearing", "--runtime", "tcp", "--agents-file",
                 str(tmp_path / "agents.toml"), "--out", str(tmp_path), "--overwrite"]) == 2
    line = _error(capsys)
    assert "--out" in line and "--agents-file" in line
    # A chain of runs, each from the last one's state, into one folder: the state is read
    # before any work, and the folder is the command's own earlier output.
    out = tmp_path / "chain"
    assert main([*FLEX, "--out", str(out)]) == 0
    cold = json.loads((out / "summary.json").read_text())["iterations"]
    assert main([*FLEX, "--warm-start", str(out / "admm_state.csv"), "--out", str(out)]) == 0
    assert json.loads((out / "summary.json").read_text())["iterations"] < cold  # warm


@pytest.mark.parametrize("where", ["home", "root", "cwd", "above cwd", "mount point"])
def test_home_root_and_working_directory_are_refused(where, tmp_path, monkeypatch, capsys):
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    out = {"home": home, "root": Path("/"), "cwd": work, "above cwd": tmp_path,
           "mount point": Path("/proc")}[where]
    if where == "mount point" and not os.path.ismount(out):
        pytest.skip("no /proc mount point here")
    assert main([*FLEX, "--out", str(out), "--overwrite"]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("dro: error:")]
    assert len(lines) == 1 and "--out" in lines[0] and "flex sharing:" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "work"]


# -- earlier outputs of dro ----------------------------------------------------------------------

def test_a_second_run_replaces_its_own_earlier_output(tmp_path, capsys):
    out = tmp_path / "out"
    assert main([*FLEX, "--out", str(out)]) == 0
    # An earlier version wrote stale.csv (the manifest lists it); the user added notes.txt.
    (out / "stale.csv").write_text("old")
    data = json.loads((out / MANIFEST_FILE).read_text())
    data["files"].append("stale.csv")
    (out / MANIFEST_FILE).write_text(json.dumps(data))
    (out / "notes.txt").write_text("mine")
    first = (out / "summary.json").read_text()
    assert main([*FLEX, "--seed", "1", "--out", str(out)]) == 0
    assert not (out / "stale.csv").exists()
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "summary.json").read_text() != first
    assert json.loads((out / "summary.json").read_text())["seed"] == 1
    assert "stale.csv" not in read_manifest(out).files
    _no_leftovers(tmp_path)


def test_a_flex_run_does_not_replace_a_market_output(tmp_path, monkeypatch, capsys):
    """Both commands default to ./dro-output: the second is refused, naming the first."""
    monkeypatch.chdir(tmp_path)
    market = tmp_path / "dro-output"
    market.mkdir()
    (market / "dispatch.csv").write_text("d")
    (market / "summary.json").write_text("{}")
    write_manifest(market, "market-clearing")
    (market / "notes.txt").write_text("mine")
    before = _snapshot(market)
    assert main(FLEX) == 2
    line = _error(capsys)
    assert "--out dro-output" in line and "market-clearing" in line and "--overwrite" in line
    assert _snapshot(market) == before
    # --overwrite: the market run's listed files go, the user's stay.
    assert main([*FLEX, "--overwrite"]) == 0
    assert not (market / "dispatch.csv").exists() and (market / "notes.txt").read_text() == "mine"
    assert read_manifest(market).command == "flex-sharing"


def test_a_user_file_of_an_output_name_is_not_replaced_without_overwrite(tmp_path):
    out = tmp_path / "out"
    with OutputFolder(out, "test") as tmp:
        (tmp / "a.csv").write_text("1")
    (out / "b.csv").write_text("mine")  # not listed by the manifest
    with pytest.raises(ValueError, match="b.csv was not written by dro"):
        with OutputFolder(out, "test") as tmp:
            (tmp / "b.csv").write_text("2")
    assert (out / "b.csv").read_text() == "mine" and (out / "a.csv").read_text() == "1"
    _no_leftovers(tmp_path)


def test_an_unreadable_manifest_is_not_trusted(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / MANIFEST_FILE).write_text("{not json")
    (out / "x.csv").write_text("mine")
    with pytest.raises(ValueError, match=f"--out {out}: .*cannot be read.*--overwrite"):
        OutputFolder(out, "test").check()
    with OutputFolder(out, "test", overwrite=True) as tmp:
        (tmp / "y.csv").write_text("new")
    assert (out / "x.csv").read_text() == "mine" and (out / "y.csv").read_text() == "new"


# -- atomic replacement --------------------------------------------------------------------------

def _earlier_output(out: Path) -> dict[str, bytes]:
    with OutputFolder(out, "test") as tmp:
        (tmp / "result.csv").write_text("old result")
        (tmp / "sub").mkdir()
        (tmp / "sub" / "r.csv").write_text("old sub")
    (out / "notes.txt").write_text("mine")
    (out / "sub" / "mine.txt").write_text("mine too")
    (out / "private").mkdir()
    (out / "private" / "p.txt").write_text("p")
    return _snapshot(out)


def test_an_error_inside_the_block_leaves_the_previous_result(tmp_path):
    out = tmp_path / "out"
    before = _earlier_output(out)
    for error in (RuntimeError, KeyboardInterrupt):
        with pytest.raises(error):
            with OutputFolder(out, "test") as tmp:
                (tmp / "result.csv").write_text("half")
                raise error
        assert _snapshot(out) == before
        _no_leftovers(tmp_path)


def test_a_failing_swap_puts_every_file_back(tmp_path, monkeypatch):
    """The unlisted files are moved into the new folder before the swap: if the swap fails,
    they go back and the previous result is as it was."""
    out = tmp_path / "out"
    before = _earlier_output(out)
    rename = os.rename
    failed = []

    def failing(src, dst, *args, **kwargs):
        if Path(src).name.startswith(".out.tmp-") and Path(dst) == out.resolve():
            failed.append(src)
            raise OSError(5, "Input/output error")
        return rename(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "rename", failing)
    with pytest.raises(OSError, match="Input/output error"):
        with OutputFolder(out, "test") as tmp:
            (tmp / "result.csv").write_text("new result")
    monkeypatch.undo()
    assert failed  # the swap itself failed, after the user's files were moved over
    assert _snapshot(out) == before
    _no_leftovers(tmp_path)
    # And the next run replaces it, keeping the user's files (nested ones too).
    with OutputFolder(out, "test") as tmp:
        (tmp / "result.csv").write_text("new result")
    assert _snapshot(out) == {"result.csv": b"new result", "notes.txt": b"mine",
                              "sub/mine.txt": b"mine too", "private/p.txt": b"p",
                              MANIFEST_FILE: (out / MANIFEST_FILE).read_bytes()}


def test_folders_follow_the_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        with OutputFolder(tmp_path / "a" / "out", "test") as tmp:
            (tmp / "sub").mkdir()
    finally:
        os.umask(previous)
    assert (tmp_path / "a" / "out").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "a" / "out" / "sub").stat().st_mode & 0o777 == 0o755
    # A folder that is replaced keeps the permissions its owner gave it.
    (tmp_path / "a" / "out").chmod(0o750)
    with OutputFolder(tmp_path / "a" / "out", "test"):
        pass
    assert (tmp_path / "a" / "out").stat().st_mode & 0o777 == 0o750


# -- dro data split ------------------------------------------------------------------------------

def test_data_split_refuses_a_foreign_file_and_writes_a_manifest(tmp_path, capsys):
    out = tmp_path / "split"
    out.mkdir()
    (out / "readme.md").write_text("mine")
    assert main(["data", "split", "--out", str(out)]) == 2
    line = _error(capsys)
    assert f"--out {out}" in line and "readme.md" in line
    assert sorted(p.name for p in out.iterdir()) == ["readme.md"]
    assert main(["data", "split", "--out", str(out), "--overwrite"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [MANIFEST_FILE, "readme.md", "aggregator", "electric_grid_operator",
         "thermal_grid_operator"])
    assert read_manifest(out).command == "data split"


def test_a_failing_split_leaves_no_entity_folders(tmp_path, capsys):
    src = tmp_path / "district"
    shutil.copytree(DEFAULT_DATA_DIR, src)
    (src / "buildings" / "zones.csv").unlink()  # read after the grid operators' folders
    out = tmp_path / "split"
    assert main(["data", "split", "--data", str(src), "--out", str(out)]) == 2
    assert "zones.csv" in _error(capsys)
    assert not out.exists()
    _no_leftovers(tmp_path)
    # An earlier split stays as it was.
    assert main(["data", "split", "--out", str(out)]) == 0
    before = _snapshot(out)
    assert main(["data", "split", "--data", str(src), "--out", str(out)]) == 2
    assert _snapshot(out) == before
    _no_leftovers(tmp_path)


# -- writability, before any work ----------------------------------------------------------------

@pytest.mark.skipif(not os.path.isdir("/proc"), reason="no /proc")
def test_an_unwritable_out_is_refused_at_once(capsys):
    assert main([*FLEX, "--out", "/proc/x"]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("dro: error:")]
    assert len(lines) == 1 and "--out /proc/x" in lines[0]
    assert "flex sharing:" not in err  # no work started
