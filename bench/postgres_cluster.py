"""A throw-away PostgreSQL cluster for the tests and the benchmarks: initdb + pg_ctl in a temporary folder.

It listens on a unix socket in its own folder only (no TCP port to collide with), trusts local
connections, and is stopped and removed at the end. initdb refuses to run as root, so under
root (CI containers) the server runs as ``nobody``: the folder is handed to it, and the tests,
root, reach its socket all the same.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

PORT = 5432  # only names the socket file, inside the cluster's own folder
SUPERUSER = "kiosk_test"


def postgres_bin() -> Path | None:
    """The newest installed server's programs (Debian: /usr/lib/postgresql/<major>/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PostgresCluster:
    def __init__(self, durable: bool = False) -> None:
        """``durable``: the server's defaults (fsync, full-page writes, synchronous commit) as a real
        office runs it, for the benchmarks; without, the tests' faster unsafe settings."""
        binaries = postgres_bin()
        if binaries is None:
            raise RuntimeError("PostgreSQL is not installed: `make test` installs Debian's postgresql package")
        self.bin = binaries
        self.folder = Path(tempfile.mkdtemp(prefix="kiosk-pg-"))
        self.data, self.socket = self.folder / "data", self.folder
        self.user = pwd.getpwnam("nobody") if os.geteuid() == 0 else None
        self._counter = 0
        self.durable = durable

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.user is not None:
            command = ["runuser", "-u", self.user.pw_name, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=self.folder)
        if result.returncode:
            raise RuntimeError(f"{args[0]} failed: {result.stdout}\n{result.stderr}")

    def start(self) -> "PostgresCluster":
        if self.user is not None:
            os.chown(self.folder, self.user.pw_uid, self.user.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8",
                  "--locale=C", "--no-sync")
        options = f"-c listen_addresses='' -c unix_socket_directories={self.socket} -p {PORT} -c max_connections=60"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "server.log"),
                  "-w", "-t", "120", "start")
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@/{database}?host={self.socket}&port={PORT}"

    def new_database(self) -> str:
        """A fresh, empty database's URL."""
        return self.copy_database(self.url("template1"))

    def copy_database(self, url: str) -> str:
        """A fresh database holding what the one at ``url`` holds (nobody may be connected to it)."""
        self._counter += 1
        name = f"office_{os.getpid()}_{self._counter}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {psycopg.conninfo.conninfo_to_dict(url)['dbname']}")
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
