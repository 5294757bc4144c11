"""Real servers on loopback, for the benchmarks and the tests: a free port, waiting for a server
process to answer, and `chroma run` that can be stopped and started again."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(
    url: str, process: subprocess.Popen, timeout: float, interval: float = 0.2
) -> bool:
    """True once a GET of `url` answers 200; False when `process` exits or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(interval)


def stop(process: subprocess.Popen, timeout: float = 15) -> None:
    """Terminate, and kill if it has not gone within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class ChromaServer:
    """`chroma run` on a fixed port and folder (`path/db`, log `path/server.log`), so it can be
    stopped and started again on the same data."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        chroma = shutil.which("chroma", path=str(BIN)) or shutil.which("chroma")
        if chroma is None:
            raise RuntimeError("the `chroma` command (installed with chromadb) was not found")
        self.path.mkdir(parents=True, exist_ok=True)
        with (self.path / "server.log").open("a") as log:
            self.process = subprocess.Popen(
                [chroma, "run", "--path", str(self.path / "db"), "--host", "127.0.0.1"]
                + ["--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if not wait_until_up(f"{self.url}/api/v2/heartbeat", self.process, timeout=60):
            self.stop()
            tail = (self.path / "server.log").read_text()[-2000:]
            raise RuntimeError(f"chroma did not start on port {self.port}: {tail}")

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None
