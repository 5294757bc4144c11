"""The OpenAI-compatible endpoint with real clients: the official SDK and LangChain."""

from __future__ import annotations

import re

import httpx
from langchain_openai import ChatOpenAI
from openai import OpenAI

QUESTION = "can the baby sleep in our bed just this once?"


def sources_in(text: str) -> dict[int, str]:
    """The numbered lines of the reply's Sources list."""
    assert "\n\nSources:\n" in text
    lines = text.split("\n\nSources:\n", 1)[1].splitlines()
    return {int(m[1]): m[2] for line in lines if (m := re.match(r"\[(\d+)\] (.+)", line))}


def assert_markers_resolve(text: str) -> None:
    body = text.split("\n\nSources:\n", 1)[0]
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", body)}
    assert markers and markers <= set(sources_in(text))


def test_openai_sdk_without_streaming(server: str) -> None:
    client = OpenAI(base_url=f"{server}/v1", api_key="not-needed")
    completion = client.chat.completions.create(
        model="nurture", messages=[{"role": "user", "content": QUESTION}]
    )
    text = completion.choices[0].message.content or ""
    assert_markers_resolve(text)
    citations = completion.model_extra["citations"]
    assert citations[0]["doc_id"] == "guidance/safer-sleep"
    assert citations[0]["anchor"] and citations[0]["quotes"]
    assert {c["n"] for c in citations} == set(sources_in(text))
    assert completion.model_extra["nurture"]["safety"]["category"] == "none"


def test_openai_sdk_streaming(server: str) -> None:
    client = OpenAI(base_url=f"{server}/v1", api_key="not-needed")
    stream = client.chat.completions.create(
        model="nurture", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    text, last = "", None
    for chunk in stream:
        text += chunk.choices[0].delta.content or ""
        last = chunk
    assert last is not None and last.choices[0].finish_reason == "stop"
    assert_markers_resolve(text)
    citations = last.model_extra["citations"]
    assert {c["n"] for c in citations} == set(sources_in(text))


def test_history_in_messages_resolves_a_follow_up(server: str) -> None:
    client = OpenAI(base_url=f"{server}/v1", api_key="x")
    completion = client.chat.completions.create(
        model="nurture",
        messages=[
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "how do I get a baby ready for family time?"},
            {"role": "assistant", "content": "A baby who is fed and rested copes better. [1]"},
            {"role": "user", "content": "and afterwards?"},
        ],
    )
    assert completion.model_extra["citations"][0]["doc_id"] == "guidance/family-time"


def test_langchain_chat_openai(server: str) -> None:
    model = ChatOpenAI(base_url=f"{server}/v1", api_key="not-needed", model="nurture")
    reply = model.invoke(QUESTION)
    assert isinstance(reply.content, str)
    assert_markers_resolve(reply.content)
    assert "Safer sleep for babies" in reply.content
    streamed = "".join(str(chunk.content) for chunk in model.stream(QUESTION))
    assert streamed == reply.content


def test_models_endpoint(client: httpx.Client) -> None:
    assert client.get("/v1/models").json()["data"][0]["id"] == "nurture"


def test_emergency_over_chat_starts_with_the_block(server: str) -> None:
    client = OpenAI(base_url=f"{server}/v1", api_key="x")
    completion = client.chat.completions.create(
        model="nurture", messages=[{"role": "user", "content": "my baby has gone blue and floppy"}]
    )
    text = completion.choices[0].message.content or ""
    assert text.startswith("**This could be an emergency. Call 999 now.**")
    assert completion.model_extra["nurture"]["safety"]["category"] == "emergency"
