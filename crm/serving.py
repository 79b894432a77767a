"""`crm serve` on Linux/macOS: a web process per core, and one process for the background work.

    crm serve (this supervisor: the queue server, restarts what dies, stops everything)
    ├── background: job worker, scheduler tick, SMTP listener, the only search-index writer
    └── gunicorn arbiter ── web worker × WEB_WORKERS (default: the number of cores)

One process with eight threads serves *fewer* requests at eight clients than at one (the GIL);
separate processes scale with cores. The web processes and the worker share one queue: the
supervisor runs fakeredis's TCP server on a loopback port and hands its URL to the children as
REDIS_URL (the in-memory fakeredis of one process cannot be shared). The database stays the
source of truth for work in flight, so a child that dies is started again and loses nothing.
Windows has no gunicorn: there `crm serve` stays one waitress process (crm/cli.py).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from flask import Flask

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
_READY = "rapport-background-ready"
_STOP_GRACE_S = 20.0


def available() -> bool:
    """gunicorn runs here (not on Windows)."""
    if os.name == "nt":
        return False
    try:
        import gunicorn  # noqa: F401
    except ImportError:
        return False
    return True


def web_workers(app: Flask) -> int:
    return max(1, int(app.config.get("WEB_WORKERS") or os.cpu_count() or 1))


class QueueServer:
    """The queue the children share, on a loopback port: redis-server when it is installed
    (an RQ enqueue: 1.8 ms median), else fakeredis's TCP server in a thread of this process
    (~120 ms: its connection loop polls every 10 ms and an enqueue is a dozen round trips).
    Nothing is persisted either way: the database holds the work, the sweeps re-enqueue it.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._process: subprocess.Popen | None = None
        self._fake = None
        binary = shutil.which("redis-server")
        if binary:
            port = _free_port(host)
            self._process = subprocess.Popen(
                [binary, "--bind", host, "--port", str(port), "--save", "", "--appendonly", "no"]
                + ["--protected-mode", "yes", "--loglevel", "warning"],
                stdout=subprocess.DEVNULL,
            )
            self.kind = "redis-server"
        else:
            from fakeredis import TcpFakeServer

            self._fake = TcpFakeServer((host, 0), server_type="redis")
            self._fake.daemon_threads = True
            threading.Thread(
                target=self._fake.serve_forever, name="queue-server", daemon=True
            ).start()
            port = self._fake.server_address[1]
            self.kind = "fakeredis"
        self.url = f"redis://{host}:{port}/0"
        self._wait_ready(host, port)

    def _wait_ready(self, host: str, port: int, seconds: float = 10.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                socket.create_connection((host, port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"the queue server did not start on {host}:{port}")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
        if self._fake is not None:
            self._fake.shutdown()
            self._fake.server_close()


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Supervisor:
    """Starts the children, starts again one that dies, and stops them all on SIGINT/SIGTERM."""

    def __init__(self, app: Flask, host: str, port: int, workers: int) -> None:
        self.app = app
        self.host, self.port, self.workers = host, port, workers
        self.stop = threading.Event()
        self.children: dict[str, subprocess.Popen] = {}
        self.env = dict(os.environ)

    def run(self, echo=print) -> int:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stop.set())
        queue_server = None
        if not self.app.config.get("REDIS_URL"):
            queue_server = QueueServer()
            self.env["REDIS_URL"] = queue_server.url
        self.env["RAPPORT_EMBEDDED"] = "1"  # the children are parts of `crm serve`
        try:
            smtp = self._start_background()
            if smtp is None:
                echo("The background process did not start; see the log above.")
                return 1
            self._start_web()
            queue = f"{queue_server.kind}, {queue_server.url}" if queue_server else "REDIS_URL"
            echo(
                f"Rapport is running at http://{self.host}:{self.port} ({self.workers} web "
                f"processes; email-in on {smtp}; queue: "
                f"{queue})."
                " Ctrl-C stops it."
            )
            while not self.stop.wait(0.5):
                self._restart_dead()
        finally:
            echo("Stopping…")
            self._stop_children()
            if queue_server is not None:
                queue_server.stop()
        return 0

    # -- children ------------------------------------------------------------------------

    def _start_background(self) -> str | None:
        """Start the background process and wait until it has opened the search index."""
        process = subprocess.Popen(
            [sys.executable, "-m", "crm.serving", "background"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.children["background"] = process
        for line in process.stdout:  # its stderr (the log) goes where ours goes
            if line.startswith(_READY):
                threading.Thread(
                    target=_drain, args=(process.stdout,), name="background-out", daemon=True
                ).start()
                return line.split(" ", 1)[1].strip()
            sys.stdout.write(line)
        return None

    def _start_web(self) -> None:
        self.children["web"] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                "python:crm.gunicorn_conf",
                "--bind",
                f"{self.host}:{self.port}",
                "--workers",
                str(self.workers),
                "crm:create_app()",
            ],
            cwd=ROOT,
            env=self.env,
        )

    def _restart_dead(self) -> None:
        for name, process in list(self.children.items()):
            if process.poll() is None or self.stop.is_set():
                continue
            log.warning("%s process exited (%s); starting it again", name, process.returncode)
            if name == "background":
                self._start_background()
            else:
                self._start_web()

    def _stop_children(self) -> None:
        for process in self.children.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + _STOP_GRACE_S
        for name, process in self.children.items():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s process did not stop in time; killing it", name)
                process.kill()
                process.wait()


def use_template_cache(app: Flask) -> None:
    """Keep compiled templates under CRM_DATA_DIR/cache/templates, shared by the processes.

    Compiling the 165 templates takes seconds (tens of ms each); loading them from the cache
    takes ~1/30 of that. Jinja checks each entry against its source, so edits are picked up.
    """
    from jinja2 import FileSystemBytecodeCache

    cache = Path(app.config["CRM_DATA_DIR"]) / "cache" / "templates"
    cache.mkdir(parents=True, exist_ok=True)
    app.jinja_env.bytecode_cache = FileSystemBytecodeCache(str(cache))


def compile_templates(app: Flask) -> int:
    """Compile every template into the cache (the background process, after start-up)."""
    count = 0
    for name in app.jinja_env.list_templates(extensions=("html", "txt")):
        try:
            app.jinja_env.get_template(name)
            count += 1
        except Exception:
            log.exception("template %s does not compile", name)
    return count


def _drain(stream) -> None:
    for line in stream:
        sys.stdout.write(line)


def run_background() -> int:
    """The background process: search index (opened, rebuilt if needed), sweeps, job worker,
    scheduler tick and SMTP listener, until SIGINT/SIGTERM."""
    from crm import create_app
    from crm.extensions import db
    from crm.inbound.smtp import start_listener
    from crm.kernel import features
    from crm.queue import EmbeddedRunner
    from crm.sweeps import run_sweeps

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    app = create_app()
    use_template_cache(app)
    features.on_serve(app)  # opens the search index first: web processes only read it
    with app.app_context():
        run_sweeps()  # work left over from the last run is picked up at start-up
    runner = EmbeddedRunner(app)
    runner.start()
    smtp = start_listener(app)
    print(f"{_READY} {smtp.hostname}:{smtp.port}", flush=True)
    threading.Thread(
        target=compile_templates, args=(app,), name="compile-templates", daemon=True
    ).start()
    try:
        stop.wait()
    finally:
        smtp.stop()
        runner.stop()
        with app.app_context():
            db.engine.dispose()
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["background"]:
        sys.exit(run_background())
    sys.exit("usage: python -m crm.serving background (started by `crm serve`)")
