"""Output folders that never destroy what dro did not write.

A command writes its results into a temporary folder beside ``--out`` and swaps it into place
only when everything is written (:class:`OutputFolder`). It writes only into a folder that is
absent, empty, or one it wrote itself earlier, recognised by the manifest :data:`MANIFEST_FILE`
it leaves there: which command wrote it, when, the package version and the files it wrote.
Replacing an earlier result removes only the files that manifest lists (and, with
``--overwrite``, files of the same names as the new outputs); every other file in the folder is
moved over into the new one and survives.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import shutil
import signal
import stat
import threading
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

#: The manifest a command writes into its output folder (hidden: not one of the results).
MANIFEST_FILE = ".dro-manifest.json"
#: Format of :data:`MANIFEST_FILE`; a manifest of another format is not trusted.
MANIFEST_FORMAT = 1
#: The distribution whose version the manifest records.
DISTRIBUTION = "distributed-resource-optimization"


def package_version() -> str:
    """The installed package's version (``pyproject.toml``), or ``"?"`` when the package runs
    from a source tree that was never installed (the manifest's version is informative only)."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "?"


@dataclass(frozen=True)
class Manifest:
    """What :data:`MANIFEST_FILE` says: the ``command`` that wrote the folder (e.g.
    ``flex-sharing``; ``None`` for a library caller that named none), when (``written``, ISO 8601
    UTC), the package ``version`` and the ``files`` it wrote (POSIX paths relative to the
    folder, the manifest itself not included)."""

    command: str | None
    written: str
    version: str
    files: frozenset[str]


def read_manifest(folder: Path | str) -> Manifest | None:
    """The manifest of ``folder``; ``None`` if it has none. A manifest that cannot be read or is
    not one of ours raises ``ValueError`` naming the file."""
    path = Path(folder) / MANIFEST_FILE
    if not os.path.lexists(path):
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot be read ({exc})") from None
    if not (isinstance(data, dict) and data.get("format") == MANIFEST_FORMAT
            and isinstance(data.get("files"), list)
            and all(isinstance(f, str) for f in data["files"])
            and isinstance(data.get("command"), (str, type(None)))):
        raise ValueError(f"{path}: not a dro manifest of format {MANIFEST_FORMAT}")
    return Manifest(data["command"], str(data.get("written", "?")), str(data.get("version", "?")),
                    frozenset(data["files"]))


def write_manifest(folder: Path | str, command: str | None) -> Path:
    """Write :data:`MANIFEST_FILE` into ``folder`` listing every file in it (the results just
    written); returns its path."""
    folder = Path(folder)
    data = {"format": MANIFEST_FORMAT, "written_by": "dro", "command": command,
            "written": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "version": package_version(), "files": _files_in(folder)}
    path = folder / MANIFEST_FILE
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def _files_in(folder: Path) -> list[str]:
    """Relative POSIX paths of the files (anything but folders) under ``folder``, sorted."""
    files = []
    for root, dirs, names in os.walk(folder):
        base = Path(root).relative_to(folder)
        # os.walk lists a symbolic link to a folder among dirs without entering it: a file here.
        names = names + [d for d in dirs if os.path.islink(os.path.join(root, d))]
        files += [(base / n).as_posix() for n in names]
    return sorted(f for f in files if f != MANIFEST_FILE)


def _describe(folder: Path, names: list[str]) -> str:
    """``"2 files and 1 folder dro did not write (a.txt, b/, c.pdf)"``."""
    folders = [n for n in names if (folder / n).is_dir() and not (folder / n).is_symlink()]
    n_files = len(names) - len(folders)
    counts = [f"{k} {word}{'' if k == 1 else 's'}"
              for k, word in ((n_files, "file"), (len(folders), "folder")) if k]
    shown = [n + "/" if n in folders else n for n in names[:3]] + (["..."] if len(names) > 3 else [])
    return f"{' and '.join(counts)} dro did not write ({', '.join(shown)})"


class OutputFolder:
    """Write a command's results into a temporary folder beside ``out`` and move it into place
    only when everything is written (a context manager yielding the temporary path).

    ``command`` (e.g. ``"flex-sharing"``) is recorded in the manifest; an earlier output of
    another command, or a non-empty folder without a manifest, is refused unless ``overwrite``.
    ``inputs`` maps options to the files or folders the command reads (``{"--data": path}``;
    ``None`` values are skipped): ``out`` may be none of them and contain none of them, nor be
    the home folder, the working directory or a filesystem root, even with ``overwrite``.

    On error or Ctrl-C the temporary folder is removed and ``out`` keeps its previous contents,
    so a failed run never leaves a result that looks complete. ``check()`` raises
    ``ValueError`` naming ``--out`` before any work for every folder that would be refused.
    """

    def __init__(self, out: Path | str, command: str | None = None, *,
                 inputs: Mapping[str, Path | str | None] | None = None,
                 overwrite: bool = False) -> None:
        self.out = Path(out)
        self.command = command
        self.inputs = {flag: Path(p) for flag, p in (inputs or {}).items() if p is not None}
        self.overwrite = overwrite
        self.tmp: Path | None = None

    def check(self) -> None:
        """``ValueError`` naming ``--out`` unless the results can be written there (the folder is
        allowed and a folder can really be made beside it)."""
        if str(self.out).strip() == "" or self.out.name in ("", ".", ".."):
            # Path("") is ".": the results would replace the current folder's contents.
            raise ValueError(f"--out must name a folder of its own, got {str(self.out)!r} (its "
                             "contents are replaced by the results)")
        if self.out.exists() and not self.out.is_dir():
            raise ValueError(f"--out {self.out} is a file, not a folder")
        if self.out.is_symlink() and not self.out.exists():
            raise ValueError(f"--out {self.out} is a symbolic link to nothing")
        target = self.out.resolve()  # a symbolic link: the folder it points to is replaced
        self._refuse_protected(target)
        parent = target.parent
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir():
            raise ValueError(f"--out {self.out}: {parent} is a file, so no folder can be made "
                             "there")
        probe = parent / f".{target.name}.probe-{uuid.uuid4().hex[:8]}"
        try:  # os.access says yes to root and knows nothing of read-only or virtual filesystems
            os.mkdir(probe)
            os.rmdir(probe)
        except OSError as exc:
            raise ValueError(f"--out {self.out}: cannot create a folder in {parent} "
                             f"({exc.strerror or exc})") from None
        try:
            occupied = target.is_dir() and bool(os.listdir(target))
        except OSError as exc:
            raise ValueError(f"--out {self.out}: cannot read {target} ({exc.strerror or exc})"
                             ) from None
        if occupied:
            self._earlier(target)
            if not os.access(target, os.W_OK | os.X_OK):  # its other files are moved over
                raise ValueError(f"--out {self.out}: cannot write in {target}")

    def _refuse_protected(self, target: Path) -> None:
        """Folders no run may write into, whatever ``overwrite`` says."""
        if target.parent == target or os.path.ismount(target):
            raise ValueError(f"--out {self.out} is a filesystem root ({target}); choose a folder "
                             "of its own")
        try:
            home = [("your home folder", Path.home().resolve())]
        except (RuntimeError, KeyError):  # no home folder known: nothing to protect
            home = []
        for what, path in home + [("the current working directory", Path.cwd().resolve())]:
            if target == path or target in path.parents:
                raise ValueError(f"--out {self.out} {'is' if target == path else 'contains'} "
                                 f"{what} ({path}); choose a folder of its own")
        for flag, given in self.inputs.items():
            path = given.resolve()
            if target == path or target in path.parents:
                raise ValueError(f"--out {self.out} {'is' if target == path else 'contains'} the "
                                 f"input {flag} {given}; choose another folder")

    def _earlier(self, target: Path) -> frozenset[str]:
        """The files of ``target`` an earlier run wrote (removed when the new results replace
        them); ``ValueError`` if ``target`` may not be written into."""
        names = sorted(os.listdir(target)) if target.is_dir() else []
        if not names:
            return frozenset()
        advice = "choose another folder or pass --overwrite"
        try:
            manifest = read_manifest(target)
        except ValueError as exc:
            if self.overwrite:
                return frozenset()  # not trusted: nothing of it is removed
            raise ValueError(f"--out {self.out}: {exc}; {advice}") from None
        if manifest is None:
            if self.overwrite:
                return frozenset()
            raise ValueError(f"--out {self.out}: holds {_describe(target, names)}; {advice}")
        if manifest.command != self.command and not self.overwrite:
            raise ValueError(f"--out {self.out}: holds the output of "
                             f"{_command_name(manifest.command)} (written {manifest.written}); "
                             f"{advice}")
        return manifest.files

    def __enter__(self) -> Path:
        self.check()
        target = self.out.resolve()
        target.parent.mkdir(parents=True, exist_ok=True)
        # os.mkdir follows the umask (mkdtemp's 0700 would hide the results from colleagues).
        tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:8]}"
        os.mkdir(tmp)
        self.tmp = tmp
        return tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self.tmp is not None
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        target = self.out.resolve()
        try:
            write_manifest(self.tmp, self.command)
            # Checked again: the folder may have changed while the command ran.
            earlier = self._earlier(target)
            keep = self._kept(target, earlier) if target.is_dir() else []
            if target.is_dir():  # the folder's own permissions stay
                os.chmod(self.tmp, stat.S_IMODE(target.stat().st_mode))
        except BaseException:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise
        self._swap(target, keep)

    def _kept(self, target: Path, earlier: frozenset[str]) -> list[str]:
        """Relative paths in ``target`` to move into the new folder (whole folders where nothing
        inside is dro's): everything but the files ``earlier`` lists and, with ``overwrite``,
        the files the new results replace. Raises ``ValueError`` where keeping a file and writing
        the results cannot both be done (nothing is moved yet)."""
        assert self.tmp is not None
        tmp = self.tmp
        holds_earlier = {p.as_posix() for f in earlier for p in Path(f).parents}
        keep: list[str] = []

        def blocked(rel: str) -> bool:  # a new file where a folder on the way must be
            return any(os.path.lexists(tmp / p) and not (tmp / p).is_dir()
                       for p in Path(rel).parents if p != Path("."))

        def visit(rel: Path) -> None:
            for name in sorted(os.listdir(target / rel)):
                r = (rel / name).as_posix()
                if r == MANIFEST_FILE:
                    continue  # replaced by the new manifest
                old, new = target / r, tmp / r
                if old.is_dir() and not old.is_symlink():
                    if r not in holds_earlier and not os.path.lexists(new) and not blocked(r):
                        keep.append(r)  # nothing of dro's inside: moved over whole
                    else:
                        visit(Path(r))
                    continue
                if r in earlier:
                    continue  # dro's own earlier output: goes with the old folder
                if os.path.lexists(new) and self.overwrite and not new.is_dir():
                    continue  # --overwrite: replaced by the new output of the same name
                if os.path.lexists(new) or blocked(r):
                    raise ValueError(
                        f"--out {self.out}: {r} was not written by dro and this run's results "
                        "would replace it; nothing was changed "
                        + ("(rename it and run again)" if self.overwrite
                           else "(pass --overwrite to replace it)"))
                keep.append(r)

        visit(Path("."))
        return keep

    def _swap(self, target: Path, keep: list[str]) -> None:
        """Move ``keep`` from ``target`` into the temporary folder and swap that into place; on
        failure everything moved goes back (or, if that fails too, the error says where)."""
        assert self.tmp is not None
        tmp = self.tmp
        old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        moved: list[str] = []
        with _signals_deferred():  # Ctrl-C between the renames would leave no folder at all
            try:
                for rel in keep:
                    _make_parents(target, tmp, rel)
                    os.rename(target / rel, tmp / rel)
                    moved.append(rel)
                if target.is_dir():
                    os.rename(target, old)
                try:
                    os.rename(tmp, target)
                except BaseException:
                    if old.is_dir():
                        os.rename(old, target)
                    raise
            except BaseException as exc:
                try:
                    for rel in reversed(moved):
                        os.rename(tmp / rel, target / rel)
                except OSError:
                    # Removing tmp now would lose the user's files in it.
                    raise OSError(f"--out {self.out}: writing failed ({exc}) and moving the "
                                  f"earlier files back failed too; they are in {tmp} and "
                                  f"{old if old.exists() else target}") from exc
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        # Only dro's earlier outputs and the files the new results replaced are left in it.
        shutil.rmtree(old, ignore_errors=True)


def _make_parents(target: Path, tmp: Path, rel: str) -> None:
    """The folders on the way to ``tmp/rel`` that the new results lack, with the permissions of
    their counterparts in ``target``."""
    for part in reversed(Path(rel).parents):
        if part != Path(".") and not (tmp / part).is_dir():
            os.mkdir(tmp / part)
            shutil.copymode(target / part, tmp / part)


def _command_name(command: str | None) -> str:
    return "another dro run" if command is None else f"`dro {command}`"


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back until the block is done (main thread, where the platform
    allows it; elsewhere the block runs as is)."""
    held = {signal.SIGINT, signal.SIGTERM}
    if not hasattr(signal, "pthread_sigmask") or \
            threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)
