"""One user of a data directory at a time: a gateway, or a restore (server/catalog/backup.py).

The lock is an exclusive `flock` on the data directory itself, taken without waiting: it
needs no file of its own (so it works on a read-only file system, where the gateway must
get far enough to say so), and the kernel drops it when its holder exits, however it
exits (kill -9 included). Python opens descriptors close-on-exec, so Triton and other
children do not inherit it. Backups need no lock: they read through SQLite like any reader.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
from pathlib import Path

from server.catalog.sqlite import CatalogError
from server.files import private_dir

_LOGGER = logging.getLogger(__name__)


class DataDirectoryInUseError(CatalogError):
    """Another gateway or a restore holds the data directory."""


class DataDirectoryLock:
    """Held from construction until `release()`; `required=False` tolerates a file
    system without flock (logged), `required=True` refuses it."""

    def __init__(self, data_dir: Path, required: bool = True) -> None:
        self.data_dir = Path(data_dir)
        try:
            self._fd: int | None = os.open(private_dir(self.data_dir), os.O_RDONLY | os.O_DIRECTORY)
        except OSError as error:
            raise CatalogError(f"cannot open the data directory {self.data_dir}: {error.strerror}") from error
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            os.close(self._fd)
            self._fd = None
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise DataDirectoryInUseError(
                    f"data directory {self.data_dir} is in use by a running gateway or restore; stop it first"
                ) from error
            if required:
                raise CatalogError(
                    f"cannot lock the data directory {self.data_dir}: {error.strerror}"
                ) from error
            _LOGGER.warning(
                "cannot lock the data directory %s (%s): nothing stops a second gateway on it",
                self.data_dir,
                error.strerror,
            )

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def __enter__(self) -> DataDirectoryLock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()
