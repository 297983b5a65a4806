"""The catalog files are checked before a gateway serves them: `PRAGMA quick_check` of the
registry and of every catalog, each within a time budget.

quick_check reads every page of a file and checks each b-tree (integrity_check also checks
that indexes agree with their tables), so it finds damage in pages the gateway would
otherwise only read later — while it serves, and writes, on a damaged file. It costs about
what reading the file costs (274 MB in 0.15 s from the page cache here). A file it cannot
finish within CHECK_SECONDS_PER_FILE is logged as checked only in part and served, so that
start-up time stays bounded (CHECK_SECONDS_TOTAL for all files together; files not reached
then are logged as unchecked). A damaged file stops the start with one line that names it, what
quick_check found and how to recover (`productsearch restore`, server/catalog/backup.py).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from server.catalog.sqlite import CatalogCorruptError, is_corrupt, storage_failure

_LOGGER = logging.getLogger(__name__)

CHECK_SECONDS_PER_FILE = 10.0
CHECK_SECONDS_TOTAL = 60.0
_PROGRESS_STEPS = 1000  # SQLite VM steps between two looks at the clock
_PROBLEMS_SHOWN = 3  # quick_check lines quoted in the refusal


@dataclass(frozen=True)
class Verdict:
    """What quick_check said of one file: `problems` is empty when it found none;
    `complete` is False when the time budget stopped it first."""

    path: Path
    problems: tuple[str, ...]
    complete: bool
    seconds: float

    @property
    def intact(self) -> bool:
        return not self.problems


def quick_check(path: Path, seconds: float | None = None) -> Verdict:
    """Run `PRAGMA quick_check` on the SQLite file at `path`, stopped after `seconds` (None:
    no limit). The file is opened without creating it and nothing is written. Damage is a
    verdict; any other failure (unreadable, read-only folder) raises a CatalogError."""
    started = time.monotonic()
    problems: tuple[str, ...] = ()
    complete = True
    try:
        db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=rw", uri=True, timeout=5)
    except sqlite3.Error as error:
        raise storage_failure(f"cannot check {path}", Path(path).parent, error) from error
    try:
        if seconds is not None:
            deadline = started + seconds
            db.set_progress_handler(lambda: time.monotonic() > deadline, _PROGRESS_STEPS)
        rows = db.execute("PRAGMA quick_check").fetchall()
        problems = tuple(str(line) for (line,) in rows if line != "ok")
    except sqlite3.Error as error:
        if is_corrupt(error):
            problems = (str(error),)
        elif getattr(error, "sqlite_errorname", "") == "SQLITE_INTERRUPT":
            complete = False
        else:
            raise storage_failure(f"cannot check {path}", Path(path).parent, error) from error
    finally:
        db.close()
    return Verdict(Path(path), problems, complete, time.monotonic() - started)


def damaged(what: str, verdict: Verdict, data_dir: Path) -> CatalogCorruptError:
    """The refusal for a damaged file: one line, with the way back."""
    found = "; ".join(" ".join(p.split()) for p in verdict.problems[:_PROBLEMS_SHOWN])
    hidden = len(verdict.problems) - _PROBLEMS_SHOWN
    more = f" (and {hidden} more)" if hidden > 0 else ""
    return CatalogCorruptError(
        f"{what} {verdict.path} is damaged (quick_check: {found[:400]}{more}); refusing to serve it. "
        f"Recover with the last backup: productsearch restore --data-dir {data_dir} BACKUP_DIR, then "
        "start again (index snapshots are rebuilt from the restored catalog); no backup: see README, "
        "Backup, damage and recovery"
    )


class StartCheck:
    """quick_check of the files a gateway is about to open, within one time budget."""

    def __init__(
        self,
        data_dir: Path,
        seconds_per_file: float = CHECK_SECONDS_PER_FILE,
        seconds_total: float = CHECK_SECONDS_TOTAL,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.seconds_per_file = seconds_per_file
        self.deadline = time.monotonic() + seconds_total

    def require_intact(self, files: Iterable[tuple[str, Path]]) -> None:
        """Check each (what, path) that exists; CatalogCorruptError for the first damaged."""
        for what, path in files:
            if not path.exists():
                continue
            left = self.deadline - time.monotonic()
            if left <= 0:
                _LOGGER.warning("%s %s not checked: the start-up check's time is spent", what, path)
                continue
            verdict = quick_check(path, min(self.seconds_per_file, left))
            if not verdict.intact:
                raise damaged(what, verdict, self.data_dir)
            if verdict.complete:
                _LOGGER.info("%s %s: quick_check ok in %.2f s", what, path, verdict.seconds)
            else:
                _LOGGER.warning(
                    "%s %s: quick_check cut short after %.1f s (the budget per file): checked in part only",
                    what,
                    path,
                    verdict.seconds,
                )
