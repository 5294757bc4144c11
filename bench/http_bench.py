"""Concurrent load on a real server over loopback: /v1/ask latency and time to first SSE event."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from assistant.config import Settings
from assistant.embeddings import SentenceTransformerEmbedder
from bench.ask_bench import questions

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _load(url: str, path: str, asked: list[str], clients: int, total: int, stream: bool) -> dict:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(total))

    def worker() -> None:
        nonlocal errors
        with httpx.Client(base_url=url, timeout=60) as http:
            while True:
                with lock:
                    index = next(counter, None)
                if index is None:
                    return
                body = {"question": asked[index % len(asked)]}
                started = time.perf_counter()
                try:
                    if stream:
                        with http.stream("POST", path, json=body) as response:
                            ok = response.status_code == 200
                            lines = response.iter_lines()
                            for line in lines:
                                if line.startswith("event: start"):
                                    break
                            elapsed = time.perf_counter() - started
                            for _ in lines:
                                pass
                    else:
                        response = http.post(path, json=body)
                        ok = response.status_code == 200
                        elapsed = time.perf_counter() - started
                except httpx.HTTPError:
                    ok, elapsed = False, time.perf_counter() - started
                with lock:
                    latencies.append(elapsed * 1000)
                    errors += not ok

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    values = np.asarray(latencies)
    return {
        "requests": total,
        "errors": errors,
        "throughput_rps": total / seconds,
        "p50_ms": float(np.percentile(values, 50)),
        "p95_ms": float(np.percentile(values, 95)),
    }


def run(settings: Settings, embedder: SentenceTransformerEmbedder) -> dict:  # noqa: ARG001
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
        port = _free_port()
        server = subprocess.Popen(
            [str(BIN / "nurture"), "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the server did not become ready")
                time.sleep(0.3)
            _load(url, "/v1/ask", asked, 4, 40, stream=False)  # warm up
            result = {}
            for clients in (16, 64):
                for key, value in _load(url, "/v1/ask", asked, clients, 480, False).items():
                    result[f"ask_{clients}_{key}"] = value
            for key, value in _load(url, "/v1/ask/stream", asked, 16, 240, True).items():
                result[f"first_event_16_{key}"] = value
        finally:
            server.terminate()
            server.wait(timeout=20)
    return result
