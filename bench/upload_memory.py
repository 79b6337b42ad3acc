"""Benchmark: stream a generated JSONL dataset (1 GB by default) to a live `rung serve` and
report the server process's peak RSS (psutil), to show uploads run in bounded memory.

    python bench/upload_memory.py               # 1024 MB
    python bench/upload_memory.py --size-mb 200

It starts its own server (a temporary RUNG_HOME and SQLite database) on a free port, streams the
body from a generator (nothing is written on the client side), samples the server's RSS every
50 ms, and prints one JSON object: bytes sent, rows, seconds, MB/s, RSS before and at peak, and
the HTTP status with the version's row counts. Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil

ROW_TEMPLATE = (
    '{{"messages": [{{"role": "system", "content": "You are the support assistant of shop {s}."}}, '
    '{{"role": "user", "content": "Order {i}: where is my parcel? I ordered item {j} on day {d} '
    'and it has not arrived. Tracking says it left the depot. Can you check the carrier?"}}, '
    '{{"role": "assistant", "content": "Order {i} left our depot on day {d}; the carrier shows '
    'item {j} in transit and due within two working days. I have opened ticket T{i} and will '
    'update you as soon as it is delivered."}}]}}\n'
)


def rows(total_bytes: int, counter: list[int]) -> Iterator[bytes]:
    sent = 0
    i = 0
    buffer: list[str] = []
    size = 0
    while sent < total_bytes:
        line = ROW_TEMPLATE.format(s=i % 97, i=i, j=(i * 7919) % 100_003, d=i % 365)
        buffer.append(line)
        size += len(line)
        i += 1
        if size >= 1 << 20:
            chunk = "".join(buffer).encode()
            sent += len(chunk)
            buffer, size = [], 0
            yield chunk
    if buffer:
        yield "".join(buffer).encode()
    counter.append(i)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    args = parser.parse_args()
    total = args.size_mb * 1024 * 1024
    home = Path(tempfile.mkdtemp(prefix="rung-bench-"))
    port = free_port()
    env = {**os.environ, "RUNG_HOME": str(home), "RUNG_ENV": "dev", "HF_HUB_OFFLINE": "1",
           "RUNG_DATABASE_URL": f"sqlite:///{home / 'rung.db'}"}
    env.pop("RUNG_BROKER_URL", None)
    rung = [sys.executable, "-m", "app.cli"]
    subprocess.run([*rung, "db", "upgrade"], env=env, check=True, capture_output=True)
    key = subprocess.run([*rung, "teams", "create", "bench", "--quiet"], env=env, check=True,
                         capture_output=True, text=True).stdout.strip()
    server = subprocess.Popen([*rung, "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"},
                              timeout=httpx.Timeout(60, read=3600))
        deadline = time.monotonic() + 60
        while True:
            try:
                if client.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.2)
        client.post("/v1/projects", json={"name": "bench"}).raise_for_status()
        process = psutil.Process(server.pid)
        baseline = process.memory_info().rss
        peak = [baseline]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                try:
                    rss = process.memory_info().rss
                    rss += sum(c.memory_info().rss for c in process.children(recursive=True))
                except psutil.Error:
                    break
                peak[0] = max(peak[0], rss)
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        counter: list[int] = []
        started = time.monotonic()
        response = client.post("/v1/projects/bench/datasets", content=rows(total, counter),
                               params={"filename": "bench.jsonl"},
                               headers={"Content-Type": "application/x-ndjson"})
        seconds = time.monotonic() - started
        done.set()
        sampler.join()
        body = response.json()
        version = body.get("version") or {}
        print(json.dumps({
            "bytes_sent": total,
            "rows_sent": counter[0] if counter else None,
            "seconds": round(seconds, 1),
            "mb_per_s": round(total / 1024 / 1024 / seconds, 1),
            "server_rss_before_mb": round(baseline / 1024 / 1024, 1),
            "server_rss_peak_mb": round(peak[0] / 1024 / 1024, 1),
            "status": response.status_code,
            "rows_train": version.get("rows_train"),
            "rows_holdout": version.get("rows_holdout"),
            "warnings": body.get("report", {}).get("counts", {}).get("warnings"),
        }, indent=1))
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
