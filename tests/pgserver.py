"""A throwaway PostgreSQL server for the tests and the benchmarks: initdb in a temporary folder, started by an
unprivileged user, reached on 127.0.0.1 over TCP with a password, as a lab's server would be."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


class NoUnprivilegedUser(RuntimeError):
    """Running as root with no user PostgreSQL could run as."""


class NoLocale(RuntimeError):
    """The locale asked for the server's messages cannot be built here."""


def server_binaries() -> Path | None:
    """The folder of initdb and pg_ctl (Debian's newest, else on PATH); None where PostgreSQL is not installed."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if found:
        return found[-1].parent
    return Path(shutil.which("initdb")).parent if shutil.which("initdb") else None


class PostgresServer:
    """A throwaway PostgreSQL cluster (Debian's `postgresql` binaries): initdb in a temporary folder, started by
    an unprivileged user, on 127.0.0.1 over TCP with a password, as a lab's server would be reached."""

    USER, PASSWORD = "yolosweep", "s3cret-pg-pass"

    def __init__(self, bindir: Path, messages: str | None = None, max_connections: int | None = 200):
        """`messages`: a glibc locale (de_DE.UTF-8) for the server's lc_messages, built into the server's folder with
        localedef (LOCPATH), so its errors come in that language as a lab's server's may."""
        import tempfile

        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="yolosweep-pg-"))  # under /tmp: the server's user must reach it
        self.root.chmod(0o755)
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            import pwd

            user = next((u for u in ("postgres", "nobody") if _has_user(u)), None)
            if user is None:
                raise NoUnprivilegedUser()
            os.chown(self.root, pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid)
            self.as_user = ["runuser", "-u", user, "--"]
        (self.root / "pw").write_text(self.PASSWORD)
        if self.as_user:
            shutil.chown(self.root / "pw", user=self.as_user[2])
        self.data, self.port = self.root / "data", free_port()
        self.env = dict(os.environ)
        self.options = f" -c max_connections={max_connections}" if max_connections else ""  # None: the default, 100
        if messages:
            language, charset = messages.split(".")
            (self.root / "locales").mkdir()
            built = subprocess.run(
                [
                    "localedef",
                    "-i",
                    language,
                    "-f",
                    charset.replace("UTF8", "UTF-8"),
                    str(self.root / "locales" / messages),
                ],
                capture_output=True,
                text=True,
            )
            if not (self.root / "locales" / messages).is_dir():
                raise NoLocale(f"localedef {messages}: {built.stderr.strip()}")
            self.env["LOCPATH"] = str(self.root / "locales")
            self.options += f" -c lc_messages={messages}"
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            self.USER,
            f"--pwfile={self.root / 'pw'}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--no-sync",
        )
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run(
            [*self.as_user, str(self.bindir / tool), *args], capture_output=True, text=True, timeout=120, env=self.env
        )
        assert done.returncode == 0, f"{tool}: {done.stdout[-2000:]}{done.stderr[-2000:]}"

    def start(self) -> None:
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-o",
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off{self.options}",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, database: str = "postgres", password: bool = True) -> str:
        secret = f":{self.PASSWORD}" if password else ""
        return f"postgresql://{self.USER}{secret}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        import psycopg

        name = "t_" + os.urandom(5).hex()
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        return self.url(name)


class PgBouncer:
    """Debian's pgbouncer in front of `server`, in transaction pooling: many agents' connections on a few of the
    server's. Started as the server's unprivileged user; `url()` is the server's URL through it."""

    def __init__(self, server: PostgresServer, pool_size: int = 20, max_clients: int = 1000):
        binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        self.server, self.port = server, free_port()
        folder = server.root / "pgbouncer"
        folder.mkdir()
        (folder / "users.txt").write_text(f'"{server.USER}" "{server.PASSWORD}"\n')
        (folder / "pgbouncer.ini").write_text(
            "\n".join(
                [
                    "[databases]",
                    f"* = host=127.0.0.1 port={server.port}",
                    "[pgbouncer]",
                    "listen_addr = 127.0.0.1",
                    f"listen_port = {self.port}",
                    "unix_socket_dir =",
                    "auth_type = scram-sha-256",
                    f"auth_file = {folder / 'users.txt'}",
                    "pool_mode = transaction",
                    f"default_pool_size = {pool_size}",
                    f"max_client_conn = {max_clients}",
                    "ignore_startup_parameters = options",
                    f"logfile = {folder / 'log'}",
                    f"pidfile = {folder / 'pid'}",
                    "",
                ]
            )
        )
        if server.as_user:
            for path in (folder, folder / "users.txt", folder / "pgbouncer.ini"):
                shutil.chown(path, user=server.as_user[2])
        done = subprocess.run(
            [*server.as_user, binary, "-d", str(folder / "pgbouncer.ini")], capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, done.stderr
        self.pidfile = folder / "pid"
        import time

        for _ in range(100):  # daemonised: listening once its pid file is there
            if self.pidfile.exists():
                break
            time.sleep(0.05)

    def url(self, database: str) -> str:
        return f"postgresql://{self.server.USER}:{self.server.PASSWORD}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        import signal

        try:
            os.kill(int(self.pidfile.read_text()), signal.SIGTERM)
        except (OSError, ValueError):
            pass


def _has_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
