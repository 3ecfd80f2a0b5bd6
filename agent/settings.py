"""One typed configuration tree, read from the environment (prefix `CNAPS_`, nested with `__`).

Examples: `CNAPS_HOME=/data/cnaps`, `CNAPS_RESTORE__DEVICE=cpu`, `CNAPS_LLM__TIMEOUT=30`. The language-model
endpoint also honours the standard `OPENAI_API_KEY` and `OPENAI_BASE_URL` variables and `CNAPS_LLM_MODEL`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, DirectoryPath, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from agent.errors import UsageError


class RestoreSettings(BaseModel):
    device: str = Field("auto", description="'auto' (CUDA when available, else CPU), 'cpu', 'cuda' or 'cuda:N'.",
                        pattern=r"^(?:auto|cpu|cuda(?::\d+)?)$")
    precision: Literal["auto", "fp32", "fp16", "bf16"] = Field(
        "auto", description="'auto' picks the fastest safe precision for the device; fp32 is always available."
    )
    tile: str = Field("auto", description="'auto' (largest tile within the memory budget), 'none', or a size in pixels.")
    max_pixels: int = Field(
        60_000_000, description="Refuse images with more pixels than this (decompression-bomb guard).", ge=1
    )
    cpu_memory_budget_mb: int = Field(1024, description="Peak working memory the CPU engine aims to stay under.",
                                      ge=1)
    enlarge: Literal["auto", "network", "lanczos"] = Field(
        "auto", description="How --scale enlarges: 'auto' runs the network after Lanczos only where the weights "
                            "measured a gain over Lanczos on real photographs at that scale (or were never measured); "
                            "'network' always; 'lanczos' never.")
    backend: Literal["local", "ray"] = Field(
        "local", description="Where restorations run: 'local' (this process's worker threads) or 'ray' (worker "
                             "actors on the Ray cluster of CNAPS_RAY__ADDRESS; needs the `scale` extra).")


class RaySettings(BaseModel):
    address: str = Field("local", description="The Ray cluster, as host:port (or ray://host:port), or 'local' to "
                                              "start a Ray instance inside this process.")
    workers: int = Field(0, description="Worker actors, each holding its networks in memory; 0: one per GPU of the "
                                        "cluster, or 1 on a cluster without GPUs.", ge=0)
    worker_cpus: float = Field(1.0, description="CPUs each worker actor reserves (fractions allowed).", gt=0)
    worker_gpus: float | None = Field(None, description="GPUs each worker reserves; default: 1 when the cluster has "
                                                        "a GPU per worker, an equal share when it has fewer, else 0.",
                                      ge=0)
    batch_size: int = Field(4, description="Jobs a GPU worker takes at once; their images of one size and scale run "
                                           "through the network as one batch. CPU workers take one job at a time.",
                            ge=1)
    timeout: float = Field(600.0, description="Seconds one job may take on a worker before it is failed and the "
                                              "worker restarted.", gt=0)
    local_cpus: int | None = Field(None, description="CPUs a local Ray instance may use; default: all.", ge=1)


class KnowledgeSettings(BaseModel):
    url: str | None = Field(None, description="A Chroma server (`chroma run`) as http://host:port: the knowledge "
                                              "store lives there instead of an embedded chromadb under CNAPS_HOME.",
                            pattern=r"^https?://[^/\s]+/?$")


class LLMSettings(BaseModel):
    mode: Literal["auto", "none", "openai"] = Field(
        "auto", description="'auto' uses the endpoint when OPENAI_API_KEY or OPENAI_BASE_URL is set; 'none' never."
    )
    model: str = Field("gpt-4o-mini", description="Chat model name sent to the endpoint.")
    timeout: float = Field(60.0, description="Seconds one read from the endpoint may wait; a whole request gets three "
                                             "times this, a whole answer eight.", gt=0)
    retries: int = Field(2, description="Retries with exponential backoff after a failed request.", ge=0, le=10)
    max_tokens: int = Field(700, description="Cap on the tokens each request may generate, sent as max_tokens (which "
                                             "OpenAI-compatible servers and llama.cpp honour): a tool call needs a "
                                             "few dozen, a concise JSON answer 400-700; a small model that rambles "
                                             "instead of calling a tool stops here.", ge=1)
    temperature: float = Field(0.1, description="Sampling temperature.", ge=0, le=2)
    history_tokens: int = Field(1500, description="Chat history kept for follow-ups, in tokens (about 4 characters each).",
                                ge=0)


class ServerSettings(BaseModel):
    max_upload_bytes: int = Field(20 * 1024 * 1024, description="Largest accepted upload, in bytes.")
    max_card_bytes: int = Field(256 * 1024, description="Largest accepted card text, in bytes.")
    workers: int = Field(1, description="Restoration jobs that run at once.", ge=1)
    queue_size: int = Field(4, description="Restoration jobs that may wait; beyond this the API answers 429.", ge=0)
    keep_runs: int = Field(200, description="Finished web runs kept on disk; older ones are deleted as new ones start.",
                           ge=1)
    job_timeout: int = Field(3600, description="Seconds one web answer may take, restoration included; a run past it "
                                               "fails, and a run folder left that long unfinished (a killed server's) "
                                               "is deleted.", ge=1)


class WeightsSettings(BaseModel):
    """Where `cnaps weights download` fetches the authors' official checkpoints from (tests point these at loopback).

    SEE: https://github.com/chosj95/MIMO-UNet#model (the authors' README lists their Google Drive links)
    """

    mimo_unet_url: str = Field(
        "https://drive.google.com/file/d/1EQJoQj3YMLFfzrbgzWMD3Xj96RqLdIlx/view?usp=sharing",
        description="The authors' link to MIMO-UNet.pkl (GoPro).")
    mimo_unet_plus_url: str = Field(
        "https://drive.google.com/file/d/166sufeHcdDTgXHNbCRzTC4T6DzuflB5m/view?usp=sharing",
        description="The authors' link to MIMO-UNetPlus.pkl (GoPro).")
    # No default: the copies of the authors' README cnaps was built from list only the two GoPro links.
    realblur_url: str | None = Field(
        None, description="The authors' link to the MIMO-UNet+ RealBlur checkpoint, as their README gives it; unset, "
                          "`cnaps weights download RealBlur` says where to find it.")
    timeout: float = Field(30.0, description="Seconds a download may wait for the server between bytes.", gt=0)
    retries: int = Field(3, description="Reconnections (resuming where the transfer stopped) before a download "
                                        "gives up.", ge=0, le=10)

    def url(self, download: str) -> str | None:
        """The link for one of the zoo's official downloads ('MIMO-UNet', 'MIMO-UNet+', 'RealBlur')."""
        return {"MIMO-UNet": self.mimo_unet_url, "MIMO-UNet+": self.mimo_unet_plus_url,
                "RealBlur": self.realblur_url}.get(download) or None


class Settings(BaseSettings):
    """All of cnaps' configuration."""

    model_config = SettingsConfigDict(env_prefix="CNAPS_", env_nested_delimiter="__", extra="ignore")

    home: Path = Field(
        Path("~/.cache/cnaps").expanduser(),
        description="Where cnaps keeps its knowledge index, outputs and caches.",
    )
    # A folder that does not exist is refused: a mistyped path would silently run the project weights instead.
    weights_dir: DirectoryPath | None = Field(
        None, description="Folder holding official MIMO-UNet checkpoints (MIMO-UNet.pkl, MIMO-UNetPlus.pkl, ...)."
    )
    weights: WeightsSettings = Field(default_factory=WeightsSettings)
    restore: RestoreSettings = Field(default_factory=RestoreSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    ray: RaySettings = Field(default_factory=RaySettings)
    knowledge: KnowledgeSettings = Field(default_factory=KnowledgeSettings)

    openai_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("OPENAI_API_KEY", "CNAPS_OPENAI_API_KEY"), description="Endpoint key."
    )
    openai_base_url: str | None = Field(
        None, validation_alias=AliasChoices("OPENAI_BASE_URL", "CNAPS_OPENAI_BASE_URL"), description="Endpoint URL."
    )
    llm_model: str | None = Field(
        None, validation_alias=AliasChoices("CNAPS_LLM_MODEL"), description="Overrides llm.model when set."
    )

    @property
    def index_dir(self) -> Path:
        return self.home.expanduser() / "index"

    def knowledge_store(self, **options):
        """The knowledge store these settings name: the Chroma server at knowledge.url when set, else the embedded
        index under `home` (`options` go to `KnowledgeStore`: embedder, docs)."""
        from knowledge.store import KnowledgeStore

        return KnowledgeStore(self.index_dir, url=self.knowledge.url, cache_dir=self.home.expanduser() / "cache",
                              **options)

    @property
    def installed_weights_dir(self) -> Path:
        """Where `cnaps weights download` and `cnaps weights import` put verified official checkpoints."""
        return self.home.expanduser() / "weights"

    @property
    def output_dir(self) -> Path:
        return self.home.expanduser() / "outputs"

    @property
    def llm_enabled(self) -> bool:
        if self.llm.mode == "none":
            return False
        if self.llm.mode == "openai":
            return True
        return self.openai_api_key is not None or bool(self.openai_base_url)

    @property
    def chat_model(self) -> str:
        return self.llm_model or self.llm.model


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once. Tests call `get_settings.cache_clear()` after changing the environment.

    A value the environment sets wrong is a `UsageError` that names the variable, what it holds and what it takes.
    """
    try:
        return Settings()
    except SettingsError as error:  # a nested setting given as malformed JSON (CNAPS_LLM='{bad')
        field = re.search(r'field "(\w+)"', str(error))
        variable = f"CNAPS_{field.group(1).upper()}" if field else "a CNAPS_ setting"
        raise UsageError(f"{variable} could not be read (it is not valid JSON): fix or unset {variable}, or set its "
                         f"parts one by one ({variable}__NAME=value)") from None
    except ValidationError as error:
        problem = error.errors()[0]
        variable = "CNAPS_" + "__".join(str(part).upper() for part in problem["loc"])
        given = str(problem.get("input"))[:40]
        raise UsageError(f"{variable}={given!r} is not a valid setting ({problem['msg'][0].lower()}"
                         f"{problem['msg'][1:]}): fix or unset {variable}") from None
