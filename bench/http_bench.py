"""Concurrent load on a real server over loopback: /v1/ask latency and time to first SSE event."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
import numpy as np

from assistant.config import Settings
from assistant.embeddings import SentenceTransformerEmbedder
from bench.ask_bench import embedding_ceiling, questions
from bench.servers import BIN, free_port, stop, wait_until_up


async def _load(url: str, path: str, asked: list[str], clients: int, total: int) -> dict:
    """`clients` closed-loop clients on one event loop: a client's own cost stays small, so
    the figures are the server's and not the load generator's (threads of httpx cost ~4 ms of
    CPU per request on this machine, which the server would then have to share)."""
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))
    stream = path.endswith("/stream")
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=60)

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        for index in counter:
            started = time.perf_counter()
            try:
                body = {"question": asked[index % len(asked)]}
                async with session.post(path, json=body) as response:
                    if stream:
                        async for line in response.content:
                            if line.startswith(b"event: start"):
                                break
                        elapsed = time.perf_counter() - started
                    payload = await response.read()
                    if not stream:
                        elapsed = time.perf_counter() - started
                    ok = response.status == 200 and (not stream or b"event: done" in payload)
            except (aiohttp.ClientError, TimeoutError):
                ok, elapsed = False, time.perf_counter() - started
            latencies.append(elapsed * 1000)
            errors += not ok

    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(clients)))
        seconds = time.perf_counter() - started
    return summary(latencies, errors, seconds)


def summary(latencies: list[float], errors: int, seconds: float) -> dict:
    values = np.asarray(latencies)
    return {
        "requests": len(latencies),
        "errors": errors,
        "throughput_rps": len(latencies) / seconds,
        "p50_ms": float(np.percentile(values, 50)),
        "p95_ms": float(np.percentile(values, 95)),
        "latencies_ms": latencies,
        "seconds": seconds,
    }


def interleaved(
    url: str, asked: list[str], embedder: SentenceTransformerEmbedder, rounds: int = 4
) -> dict:
    """The three sides of the judged ratios, measured in turn in each round (as in the ingest
    bench), so a neighbour's load that comes and goes falls on all of them alike: the batched
    query-embedding rate, `/v1/ask` at 16 clients, and the stream's first event at 16."""
    ask: list[dict] = []
    first: list[dict] = []
    ceilings: list[float] = []
    for _ in range(rounds):
        ceilings.append(embedding_ceiling(embedder, asked, each=10))
        ask.append(load(url, "/v1/ask", asked, 16, 120))
        first.append(load(url, "/v1/ask/stream", asked, 16, 60))
    result: dict = {"embedding_16_threads_queries_per_s": statistics.median(ceilings)}
    for name, parts in (("ask_16", ask), ("first_event_16", first)):
        merged = summary(
            [ms for part in parts for ms in part["latencies_ms"]],
            sum(part["errors"] for part in parts),
            sum(part["seconds"] for part in parts),
        )
        for key, value in merged.items():
            if key not in ("latencies_ms", "seconds"):
                result[f"{name}_{key}"] = value
    # Each round's own ratio, then their median: both sides of a ratio share a round.
    result["ask_16_vs_embedding_ratio"] = statistics.median(
        part["throughput_rps"] / ceiling for part, ceiling in zip(ask, ceilings, strict=True)
    )
    result["first_event_vs_ask_16_p95_ratio"] = statistics.median(
        f["p95_ms"] / a["p95_ms"] for f, a in zip(first, ask, strict=True)
    )
    return result


def load(url: str, path: str, asked: list[str], clients: int, total: int) -> dict:
    """Figures of one load, with each request's latency (`latencies_ms`) for merging."""
    return asyncio.run(_load(url, path, asked, clients, total))


def run(settings: Settings, embedder: SentenceTransformerEmbedder) -> dict:
    """The configured backend (ONNX Runtime) under every load, then PyTorch at 16 clients in the
    same run for comparison; each against its own server process on one shared index.

    Judged by ratios measured in this run, so a slower or busier machine moves both sides:
    `/v1/ask` throughput at 16 clients against the raw rate of batched query embeddings (16
    threads through the service's batcher, in this process while the server idles: the most
    `/v1/ask` could serve here), and the first SSE event's p95 against `/v1/ask`'s p95."""
    asked = questions(settings)
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "NURTURE_DATA_DIR": tmp,
            "NURTURE_CORPUS_DIR": str(settings.corpus_dir.resolve()),
            "NURTURE_CHROMA_URL": "",
            "NURTURE_RATE_LIMIT_PER_MINUTE": "100000000",
            "HF_HUB_OFFLINE": "1",
        }
        subprocess.run([str(BIN / "nurture"), "ingest"], env=env, check=True, capture_output=True)
        result = {}
        with _server({**env, "NURTURE_EMBED_BACKEND": settings.embed_backend}, asked) as url:
            result.update(interleaved(url, asked, embedder))
            for key, value in load(url, "/v1/ask", asked, 64, 480).items():
                if key not in ("latencies_ms", "seconds"):
                    result[f"ask_64_{key}"] = value
        other = "torch" if settings.embed_backend == "onnx" else "onnx"
        with _server({**env, "NURTURE_EMBED_BACKEND": other}, asked) as url:
            for key, value in load(url, "/v1/ask", asked, 16, 480).items():
                if key in ("throughput_rps", "p50_ms", "p95_ms"):
                    result[f"{other}_ask_16_{key}"] = value
    return result


@contextmanager
def _server(env: dict[str, str], asked: list[str]) -> Iterator[str]:
    """`nurture serve` on a free port, ready and warmed up; stopped on exit."""
    port = free_port()
    server = subprocess.Popen(
        [str(BIN / "nurture"), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_until_up(f"{url}/readyz", server, timeout=120, interval=0.3):
            raise RuntimeError("the server did not become ready")
        load(url, "/v1/ask", asked, 4, 40)  # warm up
        yield url
    finally:
        stop(server, timeout=20)
