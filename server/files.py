"""File helpers shared by the stores: checksums, durable writes, and private modes.

Everything the gateway keeps in its data directory is private to the user that runs it:
files 0600, folders 0700. New ones are created so (not through the process umask, which
would also reach what the gateway writes elsewhere, such as the model repository an
external Triton reads), and `restrict_tree` fixes existing ones at start.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import stat
from pathlib import Path

_LOGGER = logging.getLogger(__name__)

_BLOCK_BYTES = 1 << 20
PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def fsync_path(path: Path) -> None:
    """fsync a file or a directory (a rename is durable once its directory is synced)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def private_dir(path: Path) -> Path:
    """`path` and its missing parents, created 0700 (mkdir -p would give the parents the
    umask's mode); returns `path`."""
    target = Path(path)
    missing = []
    folder = target
    while not folder.exists() and folder.parent != folder:
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            continue
        os.chmod(folder, PRIVATE_DIR)  # mkdir's mode is masked by the umask
    return target


def private_file(path: Path) -> Path:
    """Create `path` empty and 0600 unless it exists: a writer that then opens it (SQLite,
    hnswlib, numpy) truncates it and keeps the mode. SQLite gives its -wal and -shm files
    the mode of the database file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)
    return Path(path)


def restrict_tree(root: Path) -> int:
    """Make every folder under `root` (and `root`) 0700 and every file 0600; links are not
    followed. Returns how many modes were changed. A file system that refuses (read-only)
    is logged, not raised: opening the stores reports it with its remedy."""
    root = Path(root)
    if not root.is_dir():
        return 0
    entries = [(root, PRIVATE_DIR)]
    for folder, dirs, files in os.walk(root):
        entries += [(Path(folder) / name, PRIVATE_DIR) for name in dirs]
        entries += [(Path(folder) / name, PRIVATE_FILE) for name in files]
    changed = 0
    for path, mode in entries:
        try:
            status = path.lstat()
            if stat.S_ISLNK(status.st_mode) or stat.S_IMODE(status.st_mode) == mode:
                continue
            os.chmod(path, mode)
            changed += 1
        except FileNotFoundError:
            continue
        except OSError as error:
            if error.errno not in (errno.EROFS, errno.EPERM, errno.EACCES):
                raise
            _LOGGER.warning("cannot make %s private (%s)", path, error.strerror)
            break
    if changed:
        _LOGGER.info("made %d files and folders under %s private (0600 / 0700)", changed, root)
    return changed
