"""Serving throughput: `rung serve-model` (batching) vs `transformers serve --continuous-batching`.

Starts both servers as subprocesses on the same SmolLM2-135M-Instruct folder, then sends the same
prompts (default 32, 48 new tokens, temperature 0) at each concurrency (default 1, 4, 8), the
two servers interleaved inside every repetition (default 3). Prints, per server and concurrency,
the median completion tokens/s and p50 latency, then the ratios the serving issue asks for:
rung c8 / rung c1 (target >= 3x) and rung / transformers serve at each concurrency (target
>= 1.0x at 8). No assertions; the machine's load average is printed beside the figures.

    python bench/serve_throughput.py [--prompts 32] [--max-tokens 48] [--concurrency 1 4 8]
        [--repeats 3] [--only rung|hf]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

TOPICS = [
    "why the sky is blue",
    "how a refund is processed",
    "what a checksum is",
    "how to reset a password",
    "why bread rises",
    "what a mortgage is",
    "how vaccines work",
    "what an API rate limit is",
]


def prompts(n: int) -> list[list[dict[str, str]]]:
    return [
        [
            {
                "role": "user",
                "content": f"In a few sentences, explain {TOPICS[i % len(TOPICS)]}. ({i})",
            }
        ]
        for i in range(n)
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


class Server:
    def __init__(self, name: str, command: list[str], port: int, model: str) -> None:
        self.name = name
        self.port = port
        self.model = model
        self.log = open(f"/tmp/serve_throughput_{name}_{port}.log", "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            command, stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT, env=os.environ.copy()
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def wait_ready(self, timeout_s: float = 300) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.log.name}")
            try:
                response = httpx.post(
                    f"{self.base_url}/chat/completions",
                    json={
                        "model": self.model,
                        "messages": [{"role": "user", "content": "hi"}],
                        "max_tokens": 4,
                        "temperature": 0,
                    },
                    timeout=120,
                )
                if response.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        raise RuntimeError(f"{self.name} not ready after {timeout_s}s; see {self.log.name}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


async def run_load(
    server: Server, batch: list[list[dict[str, str]]], *, concurrency: int, max_tokens: int
) -> dict[str, float]:
    semaphore = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    tokens = 0

    async with httpx.AsyncClient(timeout=600) as client:

        async def one(messages: list[dict[str, str]]) -> None:
            nonlocal tokens
            async with semaphore:
                start = time.perf_counter()
                response = await client.post(
                    f"{server.base_url}/chat/completions",
                    json={
                        "model": server.model,
                        "messages": messages,
                        "max_tokens": max_tokens,
                        "temperature": 0,
                    },
                )
                response.raise_for_status()
                latencies.append(time.perf_counter() - start)
                tokens += int(response.json()["usage"]["completion_tokens"])

        start = time.perf_counter()
        await asyncio.gather(*(one(m) for m in batch))
        wall = time.perf_counter() - start
    return {
        "tok_s": tokens / wall,
        "p50_s": statistics.median(latencies),
        "tokens": tokens,
        "wall_s": wall,
    }


def start_servers(folder: str, only: str | None) -> list[Server]:
    servers: list[Server] = []
    bin_dir = Path(sys.executable).parent
    if only in (None, "rung"):
        port = free_port()
        rung = shutil.which("rung", path=str(bin_dir)) or "rung"
        servers.append(
            Server("rung", [rung, "serve-model", folder, "--port", str(port)], port, "base")
        )
    if only in (None, "hf"):
        port = free_port()
        hf = shutil.which("transformers", path=str(bin_dir)) or "transformers"
        command = [hf, "serve", folder, "--continuous-batching", "--port", str(port)]
        command += ["--host", "127.0.0.1", "--device", "cpu", "--dtype", "float32"]
        # its paged KV cache otherwise sizes itself from free memory (14 GB RSS seen on a
        # 24 GB machine, swapping everything); 512 blocks x 32 tokens fit 8 requests x 2,048
        command += ["--cb-num-blocks", "512", "--cb-block-size", "32"]
        servers.append(Server("transformers-serve", command, port, folder))
    return servers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=["rung", "hf"], default=None)
    args = parser.parse_args()

    from recipes.base_models import DEFAULT_BASE_MODEL, resolve_base_model

    folder = str(resolve_base_model(DEFAULT_BASE_MODEL))
    batch = prompts(args.prompts)
    servers = start_servers(folder, args.only)
    results: dict[tuple[str, int], list[dict[str, float]]] = {}
    try:
        for server in servers:
            server.wait_ready()
        print(f"model {folder}; {args.prompts} prompts x {args.max_tokens} tokens, temperature 0")
        for repeat in range(args.repeats):
            for concurrency in args.concurrency:
                order = servers if repeat % 2 == 0 else list(reversed(servers))
                for server in order:
                    row = asyncio.run(
                        run_load(server, batch, concurrency=concurrency, max_tokens=args.max_tokens)
                    )
                    results.setdefault((server.name, concurrency), []).append(row)
                    print(
                        f"  rep {repeat + 1} c={concurrency} {server.name:>18}: "
                        f"{row['tok_s']:6.1f} tok/s  p50 {row['p50_s']:5.2f}s  "
                        f"({row['tokens']} tokens, load {load_average()})",
                        flush=True,
                    )
    finally:
        for server in servers:
            server.stop()

    def median(name: str, concurrency: int, key: str = "tok_s") -> float | None:
        rows = results.get((name, concurrency))
        return statistics.median(r[key] for r in rows) if rows else None

    print(f"\nmedians of {args.repeats} (load average now {load_average()}):")
    print("| concurrency | rung serve-model | transformers serve --cb | rung / transformers |")
    print("|---|---|---|---|")
    for concurrency in args.concurrency:
        rung, hf = median("rung", concurrency), median("transformers-serve", concurrency)
        ratio = f"{rung / hf:.2f}x" if rung and hf else "-"
        cells = [
            f"{v:.1f} tok/s (p50 {median(n, concurrency, 'p50_s'):.2f} s)" if v else "-"
            for v, n in ((rung, "rung"), (hf, "transformers-serve"))
        ]
        print(f"| {concurrency} | {cells[0]} | {cells[1]} | {ratio} |")
    low, high = min(args.concurrency), max(args.concurrency)
    for name in ("rung", "transformers-serve"):
        first, last = median(name, low), median(name, high)
        if first and last:
            print(f"{name}: c{high} / c{low} = {last / first:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
