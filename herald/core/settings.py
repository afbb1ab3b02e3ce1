"""Configuration from the environment (``HERALD_`` prefix) and ``.env``.

There is no module-level settings object: call :func:`get_settings` (cached) in entry points
and pass the result down, so tests can build their own :class:`Settings`.

Secret settings (:data:`SECRET_SETTINGS`) can also be read from a file, as Docker and
Kubernetes secrets are mounted: ``HERALD_API_KEYS_FILE=/run/secrets/api_keys`` makes the
setting the file's content, stripped. Setting both ``HERALD_API_KEYS`` and
``HERALD_API_KEYS_FILE`` is an error, never a silent choice of one.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

__all__ = ["SECRET_SETTINGS", "SecretFileError", "Settings", "get_settings"]

OrderingMode = Literal["best_effort", "strict"]

ENV_PREFIX = "HERALD_"
FILE_SUFFIX = "_FILE"

SECRET_SETTINGS = ("database_url", "api_keys", "api_key", "provider_secret", "gateway_secret")
"""The settings that may come from a file named by ``HERALD_<NAME>_FILE`` (the database URL
carries the database password)."""


class SecretFileError(RuntimeError):
    """A ``HERALD_<NAME>_FILE`` that cannot be used: set together with ``HERALD_<NAME>``,
    unreadable, or empty. A ``RuntimeError``, so the ``herald`` command prints it plainly."""


class Settings(BaseSettings):
    """Every knob of DESIGN §3. Durations are seconds (or hours) and may be fractional."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")

    database_url: str | None = None
    database_pool_size: int = Field(default=20, ge=1, le=1000)
    """Connections each API or worker process keeps open to PostgreSQL, at most: each is
    opened once and reused, and when all are busy a request waits for one."""
    database_pool_wait_seconds: float = Field(default=10, gt=0, le=300)
    """How long a request waits for a connection when all are busy: then the API answers
    503 with ``Retry-After`` (nothing stored), and an activity retries."""
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_ui_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    """The Temporal Web UI's base URL, for the console's links to workflows (admin keys
    only); ``herald dev`` sets it to the UI it starts. Unset: no links."""
    task_queue: str = "herald"
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    api_url: str | None = None
    """Where the ``herald messages|dead-letters|webhooks`` commands reach the API; unset:
    ``http://HERALD_API_HOST:HERALD_API_PORT``."""
    api_key: str | None = None
    """The key those commands use; unset: the first of ``HERALD_API_KEYS``, else the one
    ``herald dev`` keeps in ``HERALD_DATA_DIR``."""
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    max_request_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    """The largest request body the API reads (10 MiB); a bigger one is refused with 413
    before it is parsed. Sized for a full batch: 1000 messages of 1600 characters at 4 bytes
    each (UTF-8's worst case) is 6.4 MB, their other fields and the JSON around them (an
    idempotency key can be 255 characters) about 0.4 MB more, which leaves about 3.5 KB of
    metadata a message."""
    data_dir: Path = Path(".herald")

    provider_url: str | None = None
    provider_secret: str | None = None
    provider_timeout_seconds: float = Field(default=10.0, gt=0)
    max_concurrent_deliveries: int = Field(default=100, ge=1)
    provider_max_per_second: float | None = Field(default=None, gt=0)
    """Deliveries per second across all workers (the task queue's rate limit); unset: none."""
    workflow_sandbox: bool = False
    """Run workflows in Temporal's sandbox, which fails a workflow task that calls something
    non-deterministic (the clock, randomness, I/O). It costs a fifth to a quarter of the
    worker's CPU a message, so it is for development: the test suite runs with it."""

    max_retries: int = Field(default=5, ge=0)
    base_retry_delay_seconds: float = Field(default=5.0, gt=0)
    max_retry_delay_seconds: float = Field(default=300.0, gt=0)
    ack_timeout_seconds: float = Field(default=300.0, gt=0)
    message_ttl_hours: float = Field(default=24.0, gt=0)
    dlq_retention_hours: float = Field(default=24.0, gt=0)
    idempotency_ttl_hours: float = Field(default=24.0, gt=0)

    circuit_breaker_failure_threshold: float = Field(default=0.5, gt=0, le=1)
    circuit_breaker_sample_size: int = Field(default=10, ge=1, le=1000)
    circuit_breaker_timeout_seconds: float = Field(default=30.0, gt=0)

    outbox_interval_seconds: float = Field(default=5.0, gt=0)
    """How often each API process looks for ``pending`` messages to start."""
    batch_size_limit: int = Field(default=1000, ge=1)
    max_schedule_days: float = Field(default=35.0, gt=0)
    """How far ahead a message's ``send_at`` may be."""
    ordering_mode: OrderingMode = "best_effort"
    sequence_history_limit: int = Field(default=2000, ge=20)
    """History events after which a recipient's line continues as new."""
    strict_hold_on_dead_letter: bool = False
    """A dead-lettered strict message holds its line (absolute order) instead of releasing
    it; followers whose validity passes meanwhile end ``expired``."""
    rate_limit_per_second: float = Field(default=200.0, gt=0)
    rate_limit_burst: int = Field(default=400, ge=1)
    rate_limit_high_per_second: float | None = Field(default=None, gt=0)
    """Each tenant's budget for ``high`` messages; unset: ten times its normal rate."""
    rate_limit_high_burst: int | None = Field(default=None, ge=1)
    api_key_cache_seconds: float = Field(default=5.0, ge=0)
    """How long an API process trusts a key lookup: a revoked key stops working on every
    replica within this time."""
    gateway_secret: str | None = None
    """Standard Webhooks secret (``whsec_<base64>``) the provider gateway signs its ack
    callbacks with; unset: acks need a key with the ``acks:write`` scope."""
    webhook_max_attempts: int = Field(default=8, ge=1, le=100)
    """POSTs of one outcome webhook event to one endpoint before it is given up."""
    webhook_retry_base_seconds: float = Field(default=5.0, gt=0)
    """Delay before a send's first retry, doubled for each next one (at most an hour)."""
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    """One POST to an endpoint; no answer in this time is a failed attempt."""
    webhook_max_concurrent_sends: int = Field(default=20, ge=1)
    """Sends one worker runs at once, on their own task queue: never a delivery's slot."""
    webhooks_allow_private_networks: bool = False
    """Send webhooks to loopback, private and other non-public addresses too (``herald dev``
    turns it on unless set): off, an endpoint whose host resolves to one is refused."""
    message_retention_days: float = Field(default=30.0, gt=0)
    """Finished messages (with their attempts) and webhook sends older than this are purged
    by the housekeeping Schedule."""
    housekeeping_interval_minutes: float = Field(default=60.0, gt=0)
    housekeeping_batch_size: int = Field(default=1000, ge=1, le=100_000)
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT", "otel_exporter_otlp_endpoint"),
    )
    """OpenTelemetry's own variable (no ``HERALD_`` prefix): the OTLP/HTTP collector traces go
    to (``<endpoint>/v1/traces``); unset: tracing is off."""
    metrics_log_interval_seconds: float = Field(default=60.0, gt=0)
    metrics_refresh_seconds: float = Field(default=10.0, gt=0)
    """How often each API process recomputes the gauges of ``GET /metrics`` from PostgreSQL
    (a scrape reads them from memory)."""
    metrics_window_seconds: float = Field(default=300.0, gt=0)
    """The sliding window of ``GET /v1/metrics``, ``GET /metrics`` and the worker's log line."""
    worker_metrics_port: int | None = Field(default=9464, ge=1, le=65535)
    """Where the worker serves the Temporal SDK's Prometheus metrics (on ``api_host``);
    ``None`` (an empty ``HERALD_WORKER_METRICS_PORT``) turns the endpoint off."""

    simulator_host: str = "127.0.0.1"
    """Where ``herald simulator`` listens (``0.0.0.0`` in a container); ``herald dev``
    keeps its simulator on the loopback."""
    simulator_port: int = 8099
    simulator_latency_seconds: float = Field(default=0.05, ge=0)
    simulator_ack_delay_seconds: float = Field(default=0.5, ge=0)
    simulator_transient_failure_rate: float = Field(default=0.0, ge=0, le=1)
    simulator_permanent_failure_rate: float = Field(default=0.0, ge=0, le=1)
    simulator_ack_url: str | None = None
    """Base URL of the API the simulator acknowledges to; unset: ``api_base_url``."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments first, then the ``_FILE`` variables (which refuse to be set together
        with the plain ones, so their place among the environment sources is moot), then the
        environment and ``.env`` as usual."""
        files = SecretFilesSource(settings_cls, env_settings, dotenv_settings)
        return init_settings, files, env_settings, dotenv_settings, file_secret_settings

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_api_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        return value

    @field_validator("worker_metrics_port", mode="before")
    @classmethod
    def _empty_port_is_off(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("database_url")
    @classmethod
    def _use_asyncpg(cls, value: str | None) -> str | None:
        """``postgresql://`` (and ``postgres://``) mean asyncpg."""
        if value is None:
            return None
        for plain in ("postgresql://", "postgres://"):
            if value.startswith(plain):
                return "postgresql+asyncpg://" + value.removeprefix(plain)
        return value

    @property
    def api_base_url(self) -> str:
        return f"http://{self.api_host}:{self.api_port}"

    @property
    def simulator_url(self) -> str:
        return f"http://127.0.0.1:{self.simulator_port}/deliver"

    @property
    def effective_provider_url(self) -> str:
        """Where deliveries go: ``HERALD_PROVIDER_URL``, or the simulator."""
        return self.provider_url or self.simulator_url

    def require_database_url(self) -> str:
        if self.database_url is None:
            raise RuntimeError(
                "HERALD_DATABASE_URL is not set; set it, or run `herald dev`, "
                "which starts an embedded PostgreSQL."
            )
        return self.database_url

    def require_gateway_secret(self) -> str:
        if self.gateway_secret is None:
            raise RuntimeError(
                "HERALD_GATEWAY_SECRET is not set; the simulator signs its acks with it, so "
                "set it to a Standard Webhooks secret (whsec_<base64>), or run `herald dev`, "
                "which generates one."
            )
        return self.gateway_secret

    def require_provider_secret(self) -> str:
        if self.provider_secret is None:
            raise RuntimeError(
                "HERALD_PROVIDER_SECRET is not set; set it to a Standard Webhooks secret "
                "(whsec_<base64>), or run `herald dev`, which generates one."
            )
        return self.provider_secret


class SecretFilesSource(PydanticBaseSettingsSource):
    """Each secret setting whose ``HERALD_<NAME>_FILE`` is set (in the environment or
    ``.env``), read from that file. An empty variable counts as unset."""

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
    ) -> None:
        super().__init__(settings_cls)
        self._variables: dict[str, str | None] = {
            **_variables_of(dotenv_settings),
            **_variables_of(env_settings),
        }

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads every field at once

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in SECRET_SETTINGS:
            variable = ENV_PREFIX + name.upper()
            path = self._value(variable + FILE_SUFFIX)
            if path is None:
                continue
            if self._value(variable) is not None:
                raise SecretFileError(
                    f"{variable} and {variable}{FILE_SUFFIX} are both set; set one of them "
                    f"({variable}{FILE_SUFFIX} names a file holding the value)"
                )
            values[name] = _read_secret(variable, path)
        return values

    def _value(self, variable: str) -> str | None:
        return self._variables.get(variable.lower()) or None


def _variables_of(source: PydanticBaseSettingsSource) -> Mapping[str, str | None]:
    """The variables an environment source read (names lowercased: not case-sensitive)."""
    return source.env_vars if isinstance(source, EnvSettingsSource) else {}


def _read_secret(variable: str, path: str) -> str:
    try:
        content = Path(path).read_text(encoding="utf-8").strip()
    except OSError as err:
        raise SecretFileError(
            f"{variable}{FILE_SUFFIX}: {path} cannot be read ({err.strerror or err})"
        ) from None
    if not content:
        raise SecretFileError(f"{variable}{FILE_SUFFIX}: {path} is empty")
    return content


@lru_cache
def get_settings() -> Settings:
    return Settings()
