"""A private PostgreSQL server for tests and demos, from Debian's `postgresql` package.

The catalog can live in PostgreSQL when gateways scale out (server/catalog/postgres.py);
tests and demos need a real server without touching the machine's own cluster. This one is
initialised into a folder of the caller's, trusts local connections, listens on 127.0.0.1
only, on a free port, and on a unix socket in that folder, and is stopped with its parent
(PR_SET_PDEATHSIG: fast shutdown), so nothing outlives the process that started it.

PostgreSQL refuses to run as root: as root, the folder is given to the `postgres` user
(Debian's package creates it) and the server runs as that user; the folder's parents must
let that user through (a folder under /tmp from `tempfile.mkdtemp` does, pytest's
`tmp_path` under a 0700 /tmp/pytest-of-root does not).
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import logging
import os
import pwd
import re
import signal
import subprocess
import time
from pathlib import Path

from server.triton.runtime import free_port

_LOGGER = logging.getLogger(__name__)

DATABASE = "productsearch"  # created on first start
SUPERUSER = "postgres"
SERVICE_USER = "postgres"  # who runs the server when we are root
_PR_SET_PDEATHSIG = 1


SILENT_EXITS = 3  # starts tried while the postmaster dies before writing its log (`start`)


class PostgresStartError(RuntimeError):
    """The server could not be set up or did not come up (missing package, bad folder)."""


def binaries() -> Path:
    """The newest `/usr/lib/postgresql/<version>/bin` that has initdb and postgres."""
    found = [
        Path(path).parent
        for path in glob.glob("/usr/lib/postgresql/*/bin/initdb")
        if (Path(path).parent / "postgres").exists()
    ]
    if not found:
        raise PostgresStartError(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run `make postgres` "
            "(apt-get install postgresql)"
        )
    return max(found, key=lambda folder: [int(n) for n in re.findall(r"\d+", folder.parent.name)])


def _fast_shutdown_with_parent() -> None:
    """Runs in the child after it changed user, before exec (a change of user clears the
    setting, so it cannot be set earlier): SIGINT, PostgreSQL's fast shutdown, when the
    thread that started it dies."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGINT)


class LocalPostgres:
    """One PostgreSQL server in `directory` (`data/` holds the cluster, the socket and
    `postgres.log` sit beside it). `start()` blocks until it accepts connections; `stop()`
    is idempotent. Started from the main thread: the server stops when the thread that
    started it ends (PR_SET_PDEATHSIG is per thread)."""

    def __init__(
        self,
        directory: Path,
        *,
        port: int | None = None,
        fsync: bool = True,
        startup_timeout_s: float = 60.0,
    ) -> None:
        self.directory = Path(directory).resolve()
        self.port = port or free_port()
        self.fsync = fsync  # off only where a machine crash cannot matter (tests)
        self.startup_timeout_s = startup_timeout_s
        self.bin = binaries()
        self._process: subprocess.Popen[bytes] | None = None
        self._as_service_user = os.geteuid() == 0

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def log_path(self) -> Path:
        return self.directory / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"

    def url_for(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _user_arguments(self) -> dict:
        """Popen arguments that run the child as the service user when we are root.
        (Popen switches user itself, unlike `runuser`, which would stay between us and
        the server as a parent and take the parent-death signal with it.)"""
        if not self._as_service_user:
            return {}
        return {"user": SERVICE_USER, "group": pwd.getpwnam(SERVICE_USER).pw_gid, "extra_groups": []}

    def _prepare_directory(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        if not self._as_service_user:
            return
        try:
            entry = pwd.getpwnam(SERVICE_USER)
        except KeyError as error:
            raise PostgresStartError(f"running as root, but there is no {SERVICE_USER!r} user") from error
        for folder, _, files in os.walk(self.directory):
            os.chown(folder, entry.pw_uid, entry.pw_gid)
            for name in files:
                os.chown(Path(folder) / name, entry.pw_uid, entry.pw_gid)
        reachable = subprocess.run(
            ["test", "-w", str(self.directory)], check=False, **self._user_arguments()
        ).returncode
        if reachable != 0:
            raise PostgresStartError(
                f"user {SERVICE_USER!r} cannot reach {self.directory}: a parent folder shuts it out; "
                "use a folder under /tmp (tempfile.mkdtemp)"
            )

    def _initdb(self) -> None:
        command = [
            str(self.bin / "initdb"),
            f"--pgdata={self.data_dir}",
            f"--username={SUPERUSER}",
            "--auth=trust",  # loopback and our own socket only, see start()
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        ]
        if not self.fsync:
            command.append("--no-sync")
        _LOGGER.info("initialising a PostgreSQL cluster in %s", self.data_dir)
        done = subprocess.run(command, capture_output=True, text=True, check=False, **self._user_arguments())
        if done.returncode != 0:
            raise PostgresStartError(f"initdb failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")

    def start(self) -> None:
        """Start the server (initialising the cluster the first time, then creating the
        `productsearch` database) and wait until it accepts connections."""
        if self.running():
            return
        first = not (self.data_dir / "PG_VERSION").exists()
        self._prepare_directory()
        if first:
            self._initdb()
        command = [
            str(self.bin / "postgres"),
            "-D",
            str(self.data_dir),
            "-c",
            f"port={self.port}",
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={self.directory}",
            "-c",
            "unix_socket_permissions=0700",
            "-c",
            f"fsync={'on' if self.fsync else 'off'}",
        ]
        for attempt in range(1, SILENT_EXITS + 1):
            _LOGGER.info("starting PostgreSQL on 127.0.0.1:%d (%s)", self.port, self.data_dir)
            logged = self.log_path.stat().st_size if self.log_path.exists() else 0
            with self.log_path.open("ab") as log:
                self._process = subprocess.Popen(
                    command,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    preexec_fn=_fast_shutdown_with_parent,
                    start_new_session=True,  # its own process group: kill() takes every backend with it
                    **self._user_arguments(),
                )
            try:
                self._wait_ready()
                if first:
                    self._create_database()
                return
            except PostgresStartError:
                # A postmaster that fails for a reason says it in the log; one that died
                # before its first line (a fault test's restart on a busy machine, exit
                # status unknown) is started again.
                silent = self.log_path.stat().st_size == logged
                self.stop()
                if not silent or attempt == SILENT_EXITS:
                    raise
                _LOGGER.warning(
                    "PostgreSQL exited before writing its log (attempt %d): starting again", attempt
                )
            except BaseException:
                self.stop()
                raise

    def _wait_ready(self) -> None:
        import psycopg

        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                status = None if self._process is None else self._process.returncode
                raise PostgresStartError(
                    f"postgres exited while starting (status {status}):\n{self.log_tail()}"
                )
            try:
                with psycopg.connect(self.url_for("postgres"), connect_timeout=2):
                    _LOGGER.info("PostgreSQL ready on 127.0.0.1:%d (pid %s)", self.port, self.pid)
                    return
            except psycopg.OperationalError:
                time.sleep(0.1)  # not accepting connections yet
        raise PostgresStartError(
            f"PostgreSQL not ready after {self.startup_timeout_s:.0f} s:\n{self.log_tail()}"
        )

    def _create_database(self) -> None:
        import psycopg

        with psycopg.connect(self.url_for("postgres"), autocommit=True) as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)
            ).fetchone()
            if not exists:
                connection.execute(f'CREATE DATABASE "{DATABASE}"')

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, grace_s: float = 30.0) -> None:
        """Fast shutdown (SIGINT to the postmaster: sessions are ended, a checkpoint is
        written) and wait; SIGKILL to its process group after `grace_s`."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGINT)
        try:
            process.wait(grace_s)  # the postmaster exits after every backend
        except subprocess.TimeoutExpired:
            _LOGGER.warning(
                "PostgreSQL (pid %d) not down %.0f s after SIGINT: killing it", process.pid, grace_s
            )
            self._kill_group(process)

    def kill(self) -> None:
        """SIGKILL the postmaster and every backend at once, as a crash would (fault tests);
        the next start() recovers from the WAL."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            self._kill_group(process)

    @staticmethod
    def _kill_group(process: subprocess.Popen[bytes]) -> None:
        """SIGKILL the process group the (not yet reaped) postmaster leads, and reap it."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def restart(self) -> None:
        """Stop (fast) and start again on the same port and folder."""
        self.stop()
        self.start()

    def __enter__(self) -> LocalPostgres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
