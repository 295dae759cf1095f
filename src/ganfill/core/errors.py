"""The one exception type the CLI turns into a one-line message and exit code 2, and the one
line an operating-system error (permissions, a full disk, a file where a folder should be)
becomes."""

from __future__ import annotations

import errno
import os


class GanfillError(Exception):
    """A problem with the user's input: says what is wrong and what to do about it."""


class GanfillTypeError(GanfillError, TypeError):
    """A value of the wrong type (a list where an array goes, 2.5 where an integer goes): the
    Python API's ``TypeError``, the command line's one line like any ``GanfillError``."""


class GanfillWarning(UserWarning):
    """Something the user should know that does not stop the work (an earlier checkpoint used
    because the latest is damaged, ...): ``warnings.warn(message, GanfillWarning)``; the command
    line prints it as one line, ``ganfill: warning: ...``."""


_DENIED = "permission denied: check its permissions, or write somewhere else"
OS_ADVICE = {  # errno -> what happened and what to do
    errno.EACCES: _DENIED,
    errno.EPERM: _DENIED,
    errno.EROFS: "the file system is read-only: write somewhere else",
    errno.ENOSPC: "no space left on the device: free some space, or write somewhere else",
    getattr(errno, "EDQUOT", errno.ENOSPC): "the disk quota is used up: free some space, or write somewhere else",
    errno.EISDIR: "it is a folder, not a file: give the name of a file",
    errno.ENOTDIR: "a part of the path is a file, not a folder: give another path",
    errno.EEXIST: "it already exists (a file where a folder is needed?): give another path",
    errno.ENOENT: "no such file or folder: check the path",
    errno.ENAMETOOLONG: "the name is too long: use a shorter one",
}


def os_error_message(error: OSError, *, path: str | os.PathLike | None = None) -> str:
    """One line for an OSError: the path it concerns (``path``, else the error's destination or
    file name), what happened and what to do."""
    where = path or error.filename2 or error.filename
    what = OS_ADVICE.get(error.errno) or " ".join(str(error.strerror or error).split()).lower() or type(error).__name__
    return f"{os.fspath(where)}: {what}" if where else what
