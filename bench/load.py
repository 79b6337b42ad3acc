"""Load and durability bench: a team's traffic against a real `rung serve` on loopback.

    python bench/load.py --requests 10000 --concurrency 64 --database sqlite
    python bench/load.py --requests 10000 --concurrency 64 --database postgres
    python bench/load.py --mode recommendation-scale --database sqlite

`--mode mix` (default): `--concurrency` clients share `--requests` requests: 50% case batches of
1-5 cases (each with an Idempotency-Key; a lost answer or a 503 is retried with the same key),
30% list or get, 20% recommendation. It prints requests/s, p50/p95/p99 of reads and writes,
answers by status, /healthz latency under the load, and checks from the database that every
acknowledged case is stored, none is lost and none is stored twice.

`--mode recommendation-scale`: GET .../recommendation p50 for a project of 100 cases and one of
10,000 (triaged: 100 distinct cases triaged by the engine, repeated), once the worker stored
each project's recommendation.

The server is `rung serve --workers N` (N uvicorn API processes, default one per CPU; the
triage and job workers run once beside them) on a fresh SQLite file or a fresh PostgreSQL
database (`--postgres-url`, dropped afterwards), on 127.0.0.1 only. It prints the CPU seconds
the API processes, the triage worker, this load generator (it shares the machine) and the
PostgreSQL backends spent, and the load average before and after (the machine may be shared).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from app.cases.models import Case  # noqa: E402
from app.core import migrations  # noqa: E402
from app.db import session_scope  # noqa: E402
from app.projects.models import Project  # noqa: E402
from app.teams import service as teams  # noqa: E402

PROJECT = "loadbench"


# ----------------------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def database(kind: str, postgres_url: str) -> Iterator[str]:
    """A fresh, migrated database: a SQLite file or a new PostgreSQL database."""
    if kind == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="rung-load-"))
        url = f"sqlite:///{folder / 'rung.db'}"
        migrations.upgrade(url)
        try:
            yield url
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    name = f"rung_load_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    try:
        migrations.upgrade(url)
        yield url
    finally:
        from app.db import engine_for

        engine_for(url).dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


SERVER_PIDS: list[int] = []


@contextmanager
def rung_serve(url: str, *, triage: bool, workers: int = 1) -> Iterator[str]:
    """`rung serve` on a free loopback port; yields its base URL."""
    port = _free_port()
    home = Path(tempfile.mkdtemp(prefix="rung-load-home-"))
    env = {
        **os.environ,
        "RUNG_DATABASE_URL": url,
        "RUNG_HOME": str(home),
        "RUNG_TRIAGE_ON_INGEST": "true" if triage else "false",
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    rung = Path(sys.executable).parent / "rung"
    log = (home / "serve.log").open("wb")  # a file, never a pipe nobody reads (it would block)
    process = subprocess.Popen(
        [str(rung), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        env=env,
        stderr=log,
        stdout=log,
    )
    base = f"http://127.0.0.1:{port}"
    SERVER_PIDS.append(process.pid)
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError((home / "serve.log").read_text()[-3000:])
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("rung serve did not start")
            time.sleep(0.2)
        yield base
        lines = (home / "serve.log").read_text(errors="replace").splitlines()
        noise = Counter(
            line[:90] for line in lines if " 200 OK" not in line and " 201 Created" not in line
        )
        for line, n in noise.most_common(5):
            print(f"server log x{n}: {line}")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(home, ignore_errors=True)


def make_team(url: str) -> str:
    with session_scope(url) as session:
        team, key = teams.create_team(session, name=f"load-{uuid.uuid4().hex[:8]}")
        session.add(Project(team_id=team.id, name=PROJECT))
        session.add(Project(team_id=team.id, name="warmup"))
    return key


def warm_up(base: str, key: str, timeout_s: float = 600) -> None:
    """Steady state first: the worker has loaded the triage engine (one case triaged)."""
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60
    ) as http:
        case_id = http.post("/v1/projects/warmup/cases", json=[_case("warm", 0)]).json()["ids"][0]
        deadline = time.monotonic() + timeout_s
        while http.get(f"/v1/projects/warmup/cases/{case_id}").json()["triage_state"] != "done":
            if time.monotonic() > deadline:
                raise RuntimeError("the triage worker did not triage the warm-up case")
            time.sleep(0.5)


# ----------------------------------------------------------------------------- the mix


@dataclass
class Stats:
    reads: list[float] = field(default_factory=list)
    by_kind: dict[str, list[float]] = field(default_factory=dict)
    writes: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    acknowledged: set[str] = field(default_factory=set)
    known_ids: list[str] = field(default_factory=list)
    healthz: list[float] = field(default_factory=list)
    gave_up: int = 0


def _case(tag: str, i: int) -> dict:
    return {
        "input": f"[{tag}-{i}] how long do refunds take for order {random.randint(1, 99999)}?",
        "output": "Refunds take 3 days.",
        "expected": "Refunds take 5-10 business days.",
        "context": ["Refunds are returned within 5-10 business days."],
        "feedback": random.choice(["wrong number", "outdated", "too long", None]),
        "source": random.choice(["thumbs_down", "support_ticket", "eval"]),
    }


async def _write(http: httpx.AsyncClient, stats: Stats) -> None:
    tag = uuid.uuid4().hex[:12]
    batch = [_case(tag, i) for i in range(random.randint(1, 5))]
    headers = {"Idempotency-Key": tag}
    for attempt in range(8):
        start = time.perf_counter()
        try:
            response = await http.post(f"/v1/projects/{PROJECT}/cases", json=batch, headers=headers)
        except httpx.TransportError as exc:
            stats.statuses[type(exc).__name__] += 1
            await asyncio.sleep(0.2 * 2**attempt)
            continue
        stats.writes.append(time.perf_counter() - start)
        stats.statuses[str(response.status_code)] += 1
        if response.status_code == 201:
            ids = response.json()["ids"]
            stats.acknowledged.update(ids)
            stats.known_ids.extend(ids)
            return
        if response.status_code == 503:
            await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
            continue
        return
    stats.gave_up += 1


async def _read(http: httpx.AsyncClient, stats: Stats, kind: str) -> None:
    if kind == "recommendation":
        path = f"/v1/projects/{PROJECT}/recommendation"
    elif kind == "get" and stats.known_ids:
        path = f"/v1/projects/{PROJECT}/cases/{random.choice(stats.known_ids)}"
    else:
        path = f"/v1/projects/{PROJECT}/cases?limit=20"
    start = time.perf_counter()
    try:
        response = await http.get(path)
    except httpx.TransportError as exc:
        stats.statuses[type(exc).__name__] += 1
        return
    elapsed = time.perf_counter() - start
    stats.reads.append(elapsed)
    stats.by_kind.setdefault(kind if kind != "get" or stats.known_ids else "list", []).append(
        elapsed
    )
    stats.statuses[str(response.status_code)] += 1


async def _probe_healthz(base: str, stats: Stats, done: asyncio.Event) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        while not done.is_set():
            start = time.perf_counter()
            await http.get("/healthz")
            stats.healthz.append(time.perf_counter() - start)
            await asyncio.sleep(0.25)


async def run_mix(base: str, key: str, *, requests: int, concurrency: int) -> tuple[Stats, float]:
    stats = Stats()
    plan = ["write"] * 50 + ["list"] * 15 + ["get"] * 15 + ["recommendation"] * 20
    queue: asyncio.Queue[str] = asyncio.Queue()
    for _ in range(requests):
        queue.put_nowait(random.choice(plan))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def client() -> None:
        async with httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120, limits=limits
        ) as http:
            while not queue.empty():
                kind = queue.get_nowait()
                if kind == "write":
                    await _write(http, stats)
                else:
                    await _read(http, stats, kind)

    done = asyncio.Event()
    probe = asyncio.create_task(_probe_healthz(base, stats, done))
    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    done.set()
    await probe
    return stats, elapsed


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _line(name: str, values: list[float]) -> str:
    return (
        f"{name:<8} n={len(values):>6}  p50 {_pct(values, 50) * 1000:8.1f} ms  "
        f"p95 {_pct(values, 95) * 1000:8.1f} ms  p99 {_pct(values, 99) * 1000:8.1f} ms"
    )


def check_storage(url: str, stats: Stats) -> tuple[int, int, int]:
    """(stored, lost, duplicated): cases in the project, acknowledged but missing, and cases
    stored more than once (each batch's inputs are unique, so a repeat is a duplicate)."""
    with session_scope(url) as session:
        project_id = session.scalar(select(Project.id).where(Project.name == PROJECT))
        stored_ids = set(session.scalars(select(Case.id).where(Case.project_id == project_id)))
        dupes = session.execute(
            select(Case.input, func.count())
            .where(Case.project_id == project_id)
            .group_by(Case.input)
            .having(func.count() > 1)
        ).all()
    lost = len(stats.acknowledged - stored_ids)
    return len(stored_ids), lost, sum(n - 1 for _, n in dupes)


def _stat(path: str) -> list[str]:
    return Path(path).read_text().rsplit(")", 1)[1].split()


def _descendants(pid: int) -> list[int]:
    """pid and every process below it (Linux /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents.setdefault(int(_stat(f"{entry}/stat")[1]), []).append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(parents.get(current, []))
    return found


def server_cpu(pid: int) -> tuple[float, float]:
    """CPU seconds (user + system) of `rung serve`'s process tree: (API, triage worker). The
    worker's threads run at nice 10 (app/workers/triage_worker.py); everything else is the API
    (its processes' own totals, exited threads included, less the niced threads)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = niced = 0.0
    for process in _descendants(pid):
        try:
            fields = _stat(f"/proc/{process}/stat")
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{process}/task").iterdir():
                fields = _stat(f"{task}/stat")
                if int(fields[16]) > 0:
                    niced += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            continue
    return total - niced, niced


def postgres_cpu(url: str) -> float:
    """CPU seconds of the PostgreSQL backends serving the bench's database (by process title;
    0 for SQLite or where the server's processes are not visible)."""
    if not url.startswith("postgresql"):
        return 0.0
    name = make_url(url).database
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if title.startswith("postgres:") and f" {name} " in title:
                fields = _stat(f"{entry}/stat")
                total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            continue
    return total


def client_cpu() -> float:
    """CPU seconds of this load generator (its own process: the clients and the probe)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _profile(out: str | None) -> subprocess.Popen[bytes] | None:
    """py-spy on the server's processes for 20 s from 5 s into the load: collapsed stacks of
    the threads holding the GIL (where its CPU goes) to `out` (`out`.PID per API process)."""
    if not out:
        return None
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    pids = _descendants(SERVER_PIDS[-1])
    command = " & ".join(
        f"{spy} record -p {pid} -d 20 -r 100 -f raw --gil --nonblocking -o {out}.{pid}"
        for pid in pids
    )
    return subprocess.Popen(
        ["bash", "-c", f"sleep 5; {command}; wait"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def mix(args: argparse.Namespace) -> int:
    with (
        database(args.database, args.postgres_url) as url,
        rung_serve(url, triage=args.triage == "on", workers=args.workers) as base,
    ):
        key = make_team(url)
        if args.triage == "on":
            warm_up(base, key)
        api_before, worker_before = server_cpu(SERVER_PIDS[-1])
        client_before, load_before = client_cpu(), os.getloadavg()[0]
        pg_before = postgres_cpu(url)
        profiler = _profile(args.profile)
        stats, elapsed = asyncio.run(
            run_mix(base, key, requests=args.requests, concurrency=args.concurrency)
        )
        api_after, worker_after = server_cpu(SERVER_PIDS[-1])
        client = client_cpu() - client_before
        pg = postgres_cpu(url) - pg_before
        load_after = os.getloadavg()[0]
        stored, lost, duplicated = check_storage(url, stats)
        if profiler is not None:
            profiler.wait()
    answered = len(stats.reads) + len(stats.writes)
    five = sum(n for s, n in stats.statuses.items() if s.startswith("5"))
    api, worker = api_after - api_before, worker_after - worker_before
    print(
        f"database {args.database}, {args.concurrency} clients, {args.requests} requests, "
        f"{args.workers} API process(es), triage on the worker: {args.triage}, "
        f"{os.cpu_count()} CPUs, load average {load_before:.2f} before, {load_after:.2f} after"
    )
    print(f"throughput {answered / elapsed:8.1f} req/s  ({answered} answers in {elapsed:.1f} s)")
    print(
        f"cpu      API {api:.1f} s ({api / answered * 1000:.2f} ms per answer), triage worker "
        f"{worker:.1f} s, this client {client:.1f} s ({client / answered * 1000:.2f} ms per "
        f"answer), PostgreSQL backends {pg:.1f} s; {(os.cpu_count() or 1) * elapsed:.0f} "
        "CPU s were there"
    )
    print(_line("reads", stats.reads))
    for kind, values in sorted(stats.by_kind.items()):
        print(_line(f" {kind[:7]}", values))
    print(_line("writes", stats.writes))
    print(_line("healthz", stats.healthz))
    print("answers  " + ", ".join(f"{s}: {n}" for s, n in sorted(stats.statuses.items())))
    print(
        f"cases    acknowledged {len(stats.acknowledged)}, stored {stored}, lost {lost}, "
        f"duplicated {duplicated}, batches given up {stats.gave_up}"
    )
    ok = five == 0 and lost == 0 and duplicated == 0 and stored == len(stats.acknowledged)
    print(
        "RESULT   " + ("ok" if ok else "FAILED") + f": {five} x 5xx, {lost} lost, "
        f"{duplicated} duplicated"
    )
    return 0 if ok else 1


# ----------------------------------------------------------------------------- scale


def _seed(url: str, key_team_project: tuple[str, str], n: int, triaged: list[tuple]) -> None:
    """n cases in the project, with the engine's triage of `triaged` repeated."""
    _, project_id = key_team_project
    from app.db import utcnow

    with session_scope(url, write=True) as session:
        for i in range(n):
            case, result = triaged[i % len(triaged)]
            session.add(
                Case(
                    project_id=project_id,
                    input=f"{case.input} #{i}",
                    output=case.output,
                    expected=case.expected,
                    context=case.context,
                    feedback=case.feedback,
                    attempted=list(case.attempted),
                    source=case.source,
                    meta=case.metadata,
                    triage=result.model_dump(mode="json"),
                    triage_version=result.engine_version,
                    created_at=utcnow(),
                )
            )


def scale(args: argparse.Namespace) -> int:
    from app.cases.schemas import FailureCase
    from app.triage.service import triage_cases

    distinct = [
        FailureCase.model_validate({**_case(uuid.uuid4().hex[:6], i), "feedback": fb})
        for i, fb in enumerate(["wrong number", "outdated", "not JSON", "too long"] * 25)
    ]
    triaged = list(zip(distinct, triage_cases(distinct), strict=True))
    with database(args.database, args.postgres_url) as url:
        with session_scope(url) as session:
            team, key = teams.create_team(session, name=f"scale-{uuid.uuid4().hex[:6]}")
            small = Project(team_id=team.id, name="small")
            large = Project(team_id=team.id, name="large")
            session.add_all([small, large])
            session.flush()
            ids = {"small": small.id, "large": large.id}
        _seed(url, (key, ids["small"]), 100, triaged)
        _seed(url, (key, ids["large"]), 10_000, triaged)
        with (
            rung_serve(url, triage=True) as base,
            httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120
            ) as http,
        ):
            from app.advisory.stored import StoredRecommendation

            deadline = time.monotonic() + 600
            while True:  # the worker's sweep stores both projects' recommendations
                with session_scope(url) as session:
                    rows = {
                        r.project_id: r.cases_triaged
                        for r in session.scalars(select(StoredRecommendation))
                    }
                if rows.get(ids["small"]) == 100 and rows.get(ids["large"]) == 10_000:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the worker did not store the recommendations: {rows}")
                time.sleep(1)
            p50 = {}
            for name in ("small", "large"):
                times = []
                for _ in range(args.scale_requests):
                    start = time.perf_counter()
                    response = http.get(f"/v1/projects/{name}/recommendation")
                    times.append(time.perf_counter() - start)
                    assert response.status_code == 200, response.text
                p50[name] = statistics.median(times)
                print(
                    f"{name:<6} {response.json()['counts']['total']:>6} cases: "
                    f"GET recommendation p50 {p50[name] * 1000:.1f} ms "
                    f"(p95 {_pct(times, 95) * 1000:.1f} ms, n={len(times)})"
                )
    ratio = p50["large"] / p50["small"]
    print(
        f"RESULT   p50 at 10,000 cases / p50 at 100 cases = {ratio:.2f} "
        f"({'ok' if ratio <= 2 else 'FAILED'}: target <= 2)"
    )
    return 0 if ratio <= 2 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["mix", "recommendation-scale"], default="mix")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--database", choices=["sqlite", "postgres", "postgresql"], default="sqlite"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=min(os.cpu_count() or 1, 4),
        help="`rung serve --workers N` (default: one API process per CPU, at most 4)",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "RUNG_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument(
        "--triage",
        choices=["on", "off"],
        default="on",
        help="RUNG_TRIAGE_ON_INGEST of the server (on: the worker triages)",
    )
    parser.add_argument("--scale-requests", type=int, default=200)
    parser.add_argument("--profile", metavar="OUT", help="py-spy the server (collapsed stacks)")
    args = parser.parse_args()
    if args.database == "postgresql":
        args.database = "postgres"
    return mix(args) if args.mode == "mix" else scale(args)


if __name__ == "__main__":
    sys.exit(main())
