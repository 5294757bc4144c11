"""Where a `/v1/ask` request's Python time goes: `nurture serve` under 16 clients, sampled by
py-spy (all threads, native-free), folded into inclusive time per function.

    python -m bench.profile_ask [--seconds 20] [--out artifacts/profile]

Writes a flame graph (SVG) and the collapsed stacks; prints the functions that hold the most
samples of the request threads. py-spy is a development tool (`pip install py-spy`), not a
dependency of the service."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

from assistant.config import Settings
from bench.ask_bench import questions
from bench.http_bench import BIN, _server, load


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_ask")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("artifacts/profile"))
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    spy = shutil.which("py-spy", path=str(BIN)) or shutil.which("py-spy")
    if spy is None:
        sys.exit("py-spy is not installed: pip install py-spy")
    settings = Settings()
    asked = questions(settings)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "NURTURE_DATA_DIR": tmp,
            "NURTURE_CORPUS_DIR": str(settings.corpus_dir.resolve()),
            "NURTURE_CHROMA_URL": "",
            "NURTURE_RATE_LIMIT_PER_MINUTE": "100000000",
        }
        subprocess.run([str(BIN / "nurture"), "ingest"], env=env, check=True, capture_output=True)
        with _server(env, asked) as url:
            pid = _server_pid(url)
            folded = args.out / "ask.folded"
            record = subprocess.Popen(
                [
                    spy,
                    "record",
                    "--pid",
                    str(pid),
                    "--duration",
                    str(args.seconds),
                    "--rate",
                    "200",
                    "--format",
                    "raw",
                    "--output",
                    str(folded),
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            stop = threading.Event()

            def drive() -> None:
                while not stop.is_set():
                    load(url, "/v1/ask", asked, 16, 160)

            driver = threading.Thread(target=drive, daemon=True)
            driver.start()
            record.wait()
            stop.set()
            driver.join()
    print(f"collapsed stacks: {folded}")
    for line in summarise(folded, args.top):
        print(line)


def _server_pid(url: str) -> int:
    port = url.rsplit(":", 1)[1]
    found = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True)
    return int(found.stdout.split("pid=", 1)[1].split(",", 1)[0])


def summarise(folded: Path, top: int) -> list[str]:
    """Inclusive share of samples per function, over the threads that serve requests."""
    inclusive: Counter[str] = Counter()
    total = 0
    for line in folded.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if not any("api/" in frame or "assistant/" in frame for frame in frames):
            continue  # idle event loop and worker threads waiting for work
        total += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
    lines = [f"request samples: {total}"]
    for frame, count in inclusive.most_common(top):
        lines.append(f"{100 * count / max(total, 1):5.1f}%  {frame}")
    return lines


if __name__ == "__main__":
    main()
