"""Pages over HTTP at one and eight clients: `python -m bench.http_bench`.

Serves the bench data (seed it first: `python -m bench --reuse /tmp/rapport-bench`, and build
its search index: `CRM_DATA_DIR=/tmp/rapport-bench flask --app app crm reindex`) three ways:

- `serve`:     `crm serve` (the embedded default: gunicorn, one web process per core, the
               background process, the queue server);
- `scaled`:    the scaled web tier, `gunicorn --config python:crm.gunicorn_conf` with
               REDIS_URL pointing at a redis-server started here (skipped without redis-server);
- `waitress`:  `crm serve --single-process` (one process, eight threads: the old default).

For each, logged in as the bench team's owner, it runs wrk at c=1 and c=8 on the contact list,
a contact's page, the deal board, a search for `john` and /healthz, and prints req/s,
p50/p90/p99, the load average before and after, and the RSS of every server process.
wrk is http://github.com/wg/wrk (Debian/Ubuntu: `apt-get install wrk`; macOS: `brew install wrk`).

    python -m bench.http_bench --data /tmp/rapport-bench --duration 10 --modes serve,scaled
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench password 123"


def _parse(argv):
    p = argparse.ArgumentParser(prog="python -m bench.http_bench", description=__doc__)
    p.add_argument("--data", default="/tmp/rapport-bench", help="CRM_DATA_DIR of the bench data")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    p.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    p.add_argument("--warmup", type=int, default=3, help="seconds of wrk before each page")
    p.add_argument("--clients", default="1,8")
    p.add_argument("--modes", default="serve,scaled,waitress")
    p.add_argument("--password", default=PASSWORD)
    return p.parse_args(argv)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _family(pid: int) -> list[int]:
    found, todo = [pid], [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*"):
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except OSError:
                continue
            found.extend(kids)
            todo.extend(kids)
    return found


def _rss(pid: int) -> str:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:60]
    except OSError:
        return f"{pid}: gone"
    fields = dict(re.findall(r"^(VmRSS|RssAnon|RssFile):\s+(\d+) kB", status, re.M))
    mb = {k: int(v) // 1024 for k, v in fields.items()}
    return (
        f"pid {pid}: RSS {mb.get('VmRSS')} MB (anon {mb.get('RssAnon')}, "
        f"file {mb.get('RssFile')})  {cmd}"
    )


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _bench_ids(data: Path) -> tuple[str, int]:
    db = data / "rapport.db" if (data / "rapport.db").exists() else data / "bench.db"
    with sqlite3.connect(db) as conn:
        owner = conn.execute(
            "SELECT u.email FROM user u JOIN membership m ON m.user_id = u.id "
            "WHERE m.role = 'owner' ORDER BY m.team_id LIMIT 1"
        ).fetchone()[0]
        team = conn.execute(
            "SELECT team_id FROM membership JOIN user u ON u.id = user_id WHERE u.email = ?",
            (owner,),
        ).fetchone()[0]
        contact = conn.execute("SELECT max(id) FROM contact WHERE team_id = ?", (team,)).fetchone()[
            0
        ]
    return owner, contact


def _login(base: str, email: str, password: str) -> str:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/login", timeout=60).read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"csrf_token": token, "email": email, "password": password})
    opener.open(f"{base}/login", body.encode(), timeout=60).read()
    cookies = "; ".join(f"{c.name}={c.value}" for c in jar)
    if "session" not in cookies:
        raise SystemExit("could not log in as the bench owner (is --password right?)")
    return cookies


def _wait(url: str, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=5).read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer in {seconds:.0f} s")


def _wrk(url: str, clients: int, seconds: int, cookie: str) -> dict:
    out = subprocess.run(
        [
            "wrk",
            "-t",
            str(min(clients, 2)),
            "-c",
            str(clients),
            "-d",
            f"{seconds}s",
            "--latency",
            "-H",
            f"Cookie: {cookie}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    for pct in ("50", "90", "99"):
        value, unit = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out).groups()
        result[f"p{pct}"] = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    result["errors"] = "Non-2xx" in out or "Socket errors" in out
    return result


def _start(mode: str, args, port: int, env: dict) -> tuple[subprocess.Popen, list]:
    extra = []
    flask = [sys.executable, "-m", "flask", "--app", "app", "crm", "serve", "--port", str(port)]
    if mode == "serve":
        cmd = [*flask, "--workers", str(args.workers)]
    elif mode == "waitress":
        cmd = [*flask, "--single-process"]
    else:
        redis_port = _free_port()
        redis = subprocess.Popen(
            ["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        extra.append(redis)
        env = {**env, "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0"}
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "python:crm.gunicorn_conf",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "crm:create_app()",
        ]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL), extra


def main(argv=None) -> int:
    args = _parse(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk (or brew install wrk)", file=sys.stderr)
        return 2
    data = Path(args.data)
    owner, contact = _bench_ids(data)
    env = {
        **os.environ,
        "CRM_DATA_DIR": str(data),
        "LOG_LEVEL": "WARNING",
        "RATELIMIT_ENABLED": "0",
        "SMTP_LISTEN": f"127.0.0.1:{_free_port()}",
    }
    if not (data / "rapport.db").exists():
        env["DATABASE_URL"] = f"sqlite:///{data / 'bench.db'}"
    env.pop("REDIS_URL", None)
    pages = {
        "contact list": "/contacts",
        "contact page": f"/contacts/{contact}",
        "deal board": "/deals",
        "search john": "/search?q=john",
        "/healthz": "/healthz",
    }
    clients = [int(c) for c in args.clients.split(",")]
    print(
        f"HTTP bench: {args.workers} web processes, wrk {args.duration} s per run "
        f"(+{args.warmup} s warm-up), {os.cpu_count()} cores, data {data}"
    )
    for mode in args.modes.split(","):
        if mode == "scaled" and shutil.which("redis-server") is None:
            print("scaled: skipped (redis-server is not installed)")
            continue
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server, extra = _start(mode, args, port, env)
        try:
            _wait(f"{base}/healthz")
            cookie = _login(base, owner, args.password)
            print(f"\n## {mode}   load before: {_load()}")
            print("  RSS at start:")
            for pid in _family(server.pid):
                print("   ", _rss(pid))
            print(
                f"  {'page':<14}"
                + "".join(f"| c={c}: req/s   p50   p90   p99 (ms) " for c in clients)
            )
            for name, path in pages.items():
                _wrk(base + path, 1, args.warmup, cookie)  # a cold first search is not the tail
                row = f"  {name:<14}"
                for c in clients:
                    r = _wrk(base + path, c, args.duration, cookie)
                    flag = " !" if r["errors"] else ""
                    row += (
                        f"| {r['rps']:>10.1f} {r['p50']:>6.1f} {r['p90']:>6.1f} "
                        f"{r['p99']:>6.1f}{flag}      "
                    )
                print(row, flush=True)
            print(f"  load after: {_load()}")
            print("  RSS after:")
            for pid in _family(server.pid):
                print("   ", _rss(pid))
        finally:
            server.send_signal(signal.SIGINT if mode != "scaled" else signal.SIGTERM)
            try:
                server.wait(60)
            except subprocess.TimeoutExpired:
                server.kill()
            for process in extra:
                process.terminate()
                process.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
