"""Output folders: temporary names for atomic writes and their clean-up, a lock against a second
writer, output folder names made from input names. Plain files and folders only (no torch,
no Pillow), so every layer can use it.

Every output is written under a temporary name and renamed into place (``atomic_path``,
``models.files.save_training``, ``data.datasets.prepare``): ``temp_name`` is that name, and
``remove_stale_temps`` deletes what a process killed mid-write (kill -9, a power cut) left
behind, on the next run over the same folder.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from pathlib import Path

from ganfill.core.errors import GanfillError, os_error_message

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, FolderLock locks nothing
    fcntl = None

TEMP_SUFFIX = ".tmp"
_TEMP = r"\.{name}\.[0-9a-f]{{12}}\.tmp"  # .NAME.<12 hex digits>.tmp, the shape temp_name makes
LOCK_FILE = ".ganfill.lock"
_UNSAFE = re.compile(r"[\\/\x00-\x1f\x7f]")  # path separators (either OS's) and control characters


def temp_name(path: str | os.PathLike) -> Path:
    """A fresh hidden name beside ``path`` to write it under: ``.NAME.<12 hex digits>.tmp``."""
    path = Path(path)
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}")


@contextmanager
def writing(path: str | os.PathLike, tmp: str | os.PathLike):
    """Around the writing of ``path`` through its temporary name ``tmp`` (a file or a folder):
    an operating-system error about either (permissions, a full disk) becomes a GanfillError
    that names ``path``, never the temporary name; one about another file passes through."""
    path, tmp = Path(os.path.abspath(path)), Path(os.path.abspath(tmp))
    try:
        yield
    except OSError as e:
        about = Path(os.path.abspath(e.filename)) if isinstance(e.filename, (str, os.PathLike)) else None
        if about is not None and about not in (path, path.parent, tmp) and tmp not in about.parents:
            raise
        raise GanfillError(f"cannot write {os_error_message(e, path=path)}") from None


def remove_stale_temps(*folders: str | os.PathLike, of: str | Iterable[str] | None = None) -> int:
    """Delete the files and folders named like ``temp_name``'s in each folder (not below), only
    those for the name ``of`` (or the names ``of`` lists) when it is given; missing folders are
    passed over. Returns how many were removed. Only for folders (or names) no other process
    is writing into at the same time."""
    pattern = re.compile(_TEMP.format(name="(?P<name>.+)"))
    names = None if of is None else {of} if isinstance(of, str) else set(of)
    removed = 0
    for folder in map(Path, folders):
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            match = pattern.fullmatch(entry.name)
            if match and (names is None or match["name"] in names):
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
                removed += 1
    return removed


def check_out_folder(path: str | os.PathLike, *, flag: str = "--out") -> Path:
    """``path`` as a Path, unless it exists as something other than a folder (GanfillError):
    checked before any work, so the run does not fail at its first write."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise GanfillError(f"{flag} {path} is a file, not a folder: give a folder for the results (it is made if needed)")
    return path


def output_name(stem: str) -> str:
    """The folder, inside the output folder, of the results of an input named ``stem``: the stem
    itself, made safe. Path separators and control characters become ``_``, and a name that is
    empty or starts with a dot (``.``, ``..``, a hidden name) gets a leading ``_``, so that no
    result lands outside the output folder, on it, or hidden in it. Depends on the name alone,
    so a rerun finds the same folder."""
    name = _UNSAFE.sub("_", stem)
    return name if name and not name.startswith(".") else "_" + name


class FolderLock:
    """An advisory lock on a folder (``fcntl.flock`` on ``FOLDER/.ganfill.lock``), taken at once:
    while one process holds it, another is refused with a GanfillError instead of waiting.

    shared: the processes of one job (torchrun ranks, which write disjoint parts) hold it
    together and exclude only an exclusive holder, and an exclusive holder excludes them.
    The folder is made if needed; on release the lock file goes (unless another process of
    the job still holds it), and so does the folder if this lock made it and nothing else was
    written there (a run that failed before its first result leaves nothing). The operating
    system ends the lock with the process however it ends (kill -9 included), so a lock file
    left by a killed process is never a stale lock: the next run takes it and removes it.
    Where fcntl is missing (Windows) or the file system has no locks, nothing is locked.
    Use it as a context manager, or call ``release``.
    """

    def __init__(self, folder: str | os.PathLike, *, shared: bool = False):
        self.folder = Path(folder)
        self.made = not self.folder.exists()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / LOCK_FILE
        self.fd: int | None = None
        if fcntl is not None:
            self.fd = self._acquire(fcntl.LOCK_SH if shared else fcntl.LOCK_EX)

    def _acquire(self, mode: int) -> int | None:
        for _ in range(5):  # the file can be unlinked by a holder between our open and our flock
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise GanfillError(
                    f"{self.folder} is in use by another ganfill process (it holds {self.path}): "
                    "wait for it to finish, or choose another output folder"
                ) from None
            except OSError:  # a file system without locks (some network and FUSE ones): work unlocked
                os.close(fd)
                return None
            try:
                if os.path.samestat(os.fstat(fd), os.stat(self.path)):
                    return fd
            except FileNotFoundError:
                pass
            os.close(fd)
        raise GanfillError(f"cannot lock {self.path}: other processes keep replacing it; try again")

    def release(self) -> None:
        """Unlock and remove the lock file, unless another process holds it too (a shared
        lock); remove the folder too if this lock made it and nothing else is in it. A process
        that opened the file meanwhile finds it unlinked and takes a fresh one (``_acquire``)."""
        if self.fd is None:
            return
        fd, self.fd = self.fd, None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError: another holder (shared)
            self.path.unlink()
            if self.made and not any(self.folder.iterdir()):
                self.folder.rmdir()
        except OSError:
            pass  # in use, or changed meanwhile: leave it as it is
        finally:
            os.close(fd)

    def __enter__(self) -> FolderLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


@contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary name beside `path`; rename it onto `path` only if the block succeeds.

    An operating-system error on the way (permissions, a full disk) is a GanfillError that
    names `path`, not the temporary name; a folder at `path` is refused before anything is
    written. What a killed process leaves (``files.temp_name``'s shape) goes with
    ``files.remove_stale_temps``.
    """
    path = Path(path)
    if path.is_dir():
        raise GanfillError(f"{path} is a folder, not a file: give the name of the file to write")
    # a fresh hidden name, created by the writer itself (so with the usual permissions)
    tmp = temp_name(path)
    try:
        with writing(path, tmp):
            path.parent.mkdir(parents=True, exist_ok=True)
            yield tmp
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextmanager
def atomic_folder(path: str | os.PathLike, *, before_replace: Callable[[], None] | None = None):
    """Yield a fresh hidden folder beside ``path`` (``temp_name``) to fill; only if the block
    succeeds does it replace ``path`` (an existing folder is moved aside under a temporary name
    first and removed after; ``before_replace()`` may refuse at that moment). On an error,
    nothing of it stays; what a killed process leaves has ``temp_name``'s shape, for
    ``remove_stale_temps``. An operating-system error is a GanfillError that names ``path``."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise GanfillError(f"{path} is a file, not a folder: give another name for the folder to write")
    tmp = temp_name(path)
    try:
        with writing(path, tmp):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.mkdir()
            yield tmp
            if before_replace is not None:
                before_replace()
            old = temp_name(path) if path.exists() else None
            if old is not None:
                os.replace(path, old)
            try:
                os.replace(tmp, path)
            except BaseException:
                if old is not None:
                    os.replace(old, path)
                raise
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def ganfill_home() -> Path:
    """The user's ganfill folder, for models exported by name (``ganfill export RUN NAME``):
    ``$GANFILL_HOME`` when set, else ``$XDG_DATA_HOME/ganfill``, else ``~/.local/share/ganfill``.
    Outside the installed package, so such models survive ``pip uninstall`` and upgrades."""
    if os.environ.get("GANFILL_HOME"):
        return Path(os.environ["GANFILL_HOME"]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base).expanduser() / "ganfill"


def write_json(obj, path: str | os.PathLike, *, indent: int = 1) -> Path:
    """Write ``obj`` as strict JSON (never a NaN or Infinity token, which JSON readers reject:
    a GanfillError instead) atomically."""
    path = Path(path)
    try:
        text = json.dumps(obj, indent=indent, allow_nan=False)
    except ValueError:
        raise GanfillError(f"{path} would hold a number that is not finite (NaN or infinity): it was not written") from None
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path
