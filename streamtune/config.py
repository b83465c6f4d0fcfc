"""Settings: the one place that reads the environment.

Every option comes from ``STREAMTUNE_*`` environment variables or an optional
``.env`` file; nested groups use ``__`` (``STREAMTUNE_KAFKA__BOOTSTRAP_SERVERS``).

Examples
--------
>>> s = Settings(kafka={"bootstrap_servers": "kafka-1:9092"})
>>> s.kafka.embedded
False
"""

from __future__ import annotations

import logging
import os
import socket
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from streamtune.errors import ConfigError

_FROZEN = ConfigDict(frozen=True, extra="forbid")
_RDKAFKA_LOG = logging.getLogger("streamtune.rdkafka")


class KafkaSettings(BaseModel):
    """Where Kafka is and how clients talk to it."""

    model_config = _FROZEN

    bootstrap_servers: str = Field(
        "", description="host:port list; empty means the embedded dev broker"
    )
    dev_broker_host: str = "127.0.0.1"
    dev_broker_port: int = Field(19092, ge=1, le=65535)
    client_options: dict[str, str] = Field(
        default_factory=dict,
        description="extra librdkafka options, e.g. security.protocol, sasl.mechanism",
    )
    sasl_password: SecretStr | None = None

    @property
    def embedded(self) -> bool:
        """True when no bootstrap servers are configured (the dev broker is used)."""
        return not self.bootstrap_servers.strip()

    @property
    def servers(self) -> str:
        """Bootstrap servers actually used."""
        if self.embedded:
            return f"{self.dev_broker_host}:{self.dev_broker_port}"
        return self.bootstrap_servers.strip()

    def client_config(self) -> dict[str, Any]:
        """librdkafka configuration common to producers, consumers and admin clients."""
        conf: dict[str, Any] = {"bootstrap.servers": self.servers, **self.client_options}
        if self.sasl_password is not None:
            conf["sasl.password"] = self.sasl_password.get_secret_value()
        return conf


class TopicSettings(BaseModel):
    """Topic naming and sizing (the catalogue in ``streamtune.schemas.topics`` uses these)."""

    model_config = _FROZEN

    prefix: str = Field("", pattern=r"^[A-Za-z0-9._-]{0,64}$")
    partitions: int = Field(6, ge=1, le=1024)
    replication_factor: int = Field(1, ge=1, le=16)
    raw_retention_hours: int = Field(7 * 24, ge=1)
    dlq_retention_hours: int = Field(30 * 24, ge=1)


class StoreSettings(BaseModel):
    """The ClickHouse target: ``chdb:///path`` (embedded) or ``http(s)://host:port/db``."""

    model_config = _FROZEN

    url: str = Field("", description="empty means chdb:///<data_dir>/chdb")
    database: str = Field("streamtune", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    username: str = "default"
    password: SecretStr | None = None

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in {"chdb", "http", "https"}:
            raise ValueError("store url must start with chdb://, http:// or https://")
        return value


class PipelineSettings(BaseModel):
    """The stream pipeline: batching, windows, de-duplication, redaction, retention."""

    model_config = _FROZEN

    batch_max_events: int = Field(5000, ge=1, le=100_000)
    batch_max_wait_ms: int = Field(200, ge=1, le=60_000)
    window_seconds: int = Field(60, ge=1, le=86_400)
    window_idle_close_s: float = Field(
        10.0, gt=0, description="close every open window after this long without input"
    )
    dedup_horizon_s: int = Field(3600, ge=0, description="drop repeated event_ids this long")
    dedup_max_ids: int = Field(1_000_000, ge=1000)
    raw_ttl_days: int = Field(
        30, ge=1, le=3650, description="event tables, augmented rows and predictions")
    dlq_ttl_days: int = Field(90, ge=1, le=3650, description="dead letters")
    redaction_patterns: list[str] = Field(
        default_factory=list, description="extra regexes whose matches are redacted"
    )
    sink_retry_initial_s: float = Field(0.2, gt=0)
    sink_retry_max_s: float = Field(10.0, gt=0)
    outbox_import_s: float = Field(
        10.0, gt=0, le=3600, description="the worker imports other processes' rows (registry "
        "changes, loop decisions, stage rows on embedded chdb) this often")


class AugmentationSettings(BaseModel):
    """Augmentation of clean events into synthetic training rows, and its quality gates."""

    model_config = _FROZEN

    enabled: bool = True
    rate: float = Field(0.2, ge=0.0, le=1.0, description="share of events augmented")
    techniques: list[str] = Field(
        default_factory=lambda: [
            "synonym_replacement", "word_order_shuffle", "parameter_substitution",
            "style_transformation", "parameter_corruption", "context_modification",
            "resource_constraints", "timing_issues", "state_variation",
            "history_modification", "preference_alteration", "load_simulation",
            "token_drop", "token_swap", "keyboard_typo", "casing_spacing", "class_paraphrase",
        ]
    )
    synonyms: dict[str, list[str]] = Field(
        default_factory=dict, description="extra domain synonyms: word -> alternatives"
    )
    semantic_min_confidence: float = Field(0.9, ge=0.0, le=1.0)
    syntax_error_tolerance: float = Field(0.01, ge=0.0, le=1.0)
    execution_min_success_rate: float = Field(0.95, ge=0.0, le=1.0)
    seed: int = 0
    rare_below: int = Field(
        200, ge=0, description="a command type the augment stage has seen fewer times than "
        "this is rare: its events are augmented like failures")
    budget: float = Field(
        0.3, ge=0.0, le=1.0, description="augmented parents per clean command/error event "
        "of a batch at most, the events where models learn most first")


class ModelTraining(BaseModel):
    """Hyperparameters of one model; the regime's phases are fractions of each stage's budget.

    The issue's seed rates (1e-5, 2e-5) suit pretrained backbones; these models
    train from scratch, where 2e-5 underfits, so the defaults are measured ones
    (docs/performance.md, "Training").
    """

    model_config = _FROZEN

    learning_rate: float = Field(3e-3, gt=0, le=1)
    batch_size: int = Field(32, ge=1, le=4096)
    start_batch: int = Field(4, ge=1, le=4096, description="batch size of the warmup phase")
    epochs_per_stage: float = Field(5.0, gt=0, le=100)
    total_epochs: float = Field(10.0, gt=0, le=300)
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    final_ratio: float = Field(0.1, ge=0, lt=1)
    final_lr_factor: float = Field(0.1, gt=0, le=1)
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0, le=1)
    buckets: int = Field(1 << 16, ge=256, le=1 << 22, description="hashed feature ids")
    dim: int = Field(64, ge=4, le=1024)
    hidden: int = Field(128, ge=4, le=4096)
    max_tokens: int = Field(96, ge=4, le=1024)
    dense_lr_factor: float = Field(1.0, gt=0, le=10, description="the dense layers' learning "
                                   "rate relative to the embedding's")
    skip: bool = Field(False, description="a linear path from the pooled bag to each head")
    pooling: Literal["mean", "sqrt"] = Field("mean", description="bag pooling: mean or "
                                             "sum / sqrt(tokens)")
    teacher: bool = Field(False, description="distil a teacher (pretrained sentence encoder + "
                          "TF-IDF, frozen) into the model; single-head classifiers only")
    distill_weight: float = Field(0.8, ge=0, le=1, description="the distillation share of "
                                  "the first head's loss")
    distill_temperature: float = Field(2.0, gt=0, le=20)
    static: bool = Field(False, description="static sub-word vectors distilled from MiniLM "
                         "(dim wide) in the bag beside the hashed n-grams")
    static_lr_factor: float = Field(0.0, ge=0, le=10, description="the static table's "
                                    "learning rate relative to the embedding's (0: frozen)")
    scope_false_alarm: float = Field(0.0, ge=0, lt=1, description="share of in-scope "
                                     "validation inputs the first head's out-of-scope flag "
                                     "may take (0: no flag)")
    second_opinion_share: float = Field(0.0, ge=0, lt=1, description="with a teacher: share "
                                        "of validation inputs, the student's least confident, "
                                        "below whose confidence the second-opinion stage asks "
                                        "the teacher again (0: no second opinion)")


MODEL_TRAINING: dict[str, dict[str, Any]] = {
    "intent_classifier": {
        "learning_rate": 0.05, "dense_lr_factor": 0.1, "batch_size": 64, "start_batch": 16,
        "final_lr_factor": 0.01, "total_epochs": 20, "label_smoothing": 0.1,
        "max_tokens": 128, "skip": True, "pooling": "sqrt", "teacher": True, "dim": 128,
        "hidden": 256, "static": True, "static_lr_factor": 0.1, "distill_temperature": 4.0,
        "scope_false_alarm": 0.01, "second_opinion_share": 0.15},
    "command_predictor": {"learning_rate": 3e-3, "batch_size": 16, "epochs_per_stage": 5,
                          "warmup_ratio": 0.1},
    "error_recovery": {"learning_rate": 3e-3, "batch_size": 32, "epochs_per_stage": 5},
    "parameter_extractor": {"learning_rate": 3e-3, "batch_size": 32, "epochs_per_stage": 8,
                            "dim": 48, "hidden": 96, "max_tokens": 64},
}
"""Each model's measured defaults; a setting given for a model overrides only that field."""


class TrainingSettings(BaseModel):
    """Per-model hyperparameters and the trainer's shared knobs."""

    model_config = _FROZEN

    seed: int = 0
    threads: int = Field(1, ge=1, le=64, description="torch intra-op threads")
    intent_classifier: ModelTraining = ModelTraining(**MODEL_TRAINING["intent_classifier"])
    command_predictor: ModelTraining = ModelTraining(**MODEL_TRAINING["command_predictor"])
    error_recovery: ModelTraining = ModelTraining(**MODEL_TRAINING["error_recovery"])
    parameter_extractor: ModelTraining = ModelTraining(**MODEL_TRAINING["parameter_extractor"])

    @model_validator(mode="before")
    @classmethod
    def _over_model_defaults(cls, data: Any) -> Any:
        """``{"intent_classifier": {"total_epochs": 4}}`` keeps the model's other defaults."""
        if not isinstance(data, dict):
            return data
        return {key: {**MODEL_TRAINING[key], **value}
                if key in MODEL_TRAINING and isinstance(value, dict) else value
                for key, value in data.items()}

    def for_model(self, name: str) -> ModelTraining:
        """The hyperparameters of model ``name``."""
        value = getattr(self, name, None)
        if not isinstance(value, ModelTraining):
            raise ValueError(f"no hyperparameters for model {name!r}")
        return value


class DatasetSettings(BaseModel):
    """Dataset snapshots: the deterministic train/validation/test split."""

    model_config = _FROZEN

    train_ratio: float = Field(0.70, gt=0.0, lt=1.0)
    validation_ratio: float = Field(0.15, ge=0.0, lt=1.0)
    test_ratio: float = Field(0.15, ge=0.0, lt=1.0)
    split_seed: int = Field(0, description="salt of the hash that orders split groups")

    @model_validator(mode="after")
    def _ratios_sum_to_one(self) -> DatasetSettings:
        total = self.train_ratio + self.validation_ratio + self.test_ratio
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"split ratios must sum to 1, not {total:g}")
        return self


class WebhookEndpoint(BaseModel):
    """One webhook receiver and the alerts it wants."""

    model_config = _FROZEN

    url: str = Field(pattern=r"^https?://\S+$")
    kinds: list[str] = Field(default_factory=list, description="alert kinds; empty = all")
    min_severity: str = Field("info", pattern=r"^(info|warning|critical)$")
    format: str = Field("json", pattern=r"^(json|slack)$")
    secret: SecretStr | None = Field(None, description="overrides the shared signing secret")
    timeout_s: float | None = Field(None, gt=0, le=120)


class WebhookSettings(BaseModel):
    """Where alerts are posted, how they are signed, and how hard delivery tries."""

    model_config = _FROZEN

    endpoints: list[WebhookEndpoint] = Field(default_factory=list)
    signing_secret: SecretStr | None = None
    timeout_s: float = Field(5.0, gt=0, le=120)
    retry_initial_s: float = Field(1.0, gt=0, le=3600)
    retry_max_s: float = Field(60.0, gt=0, le=3600)
    retry_budget_s: float = Field(3600.0, gt=0, description="then the alert goes to the DLQ")

    @field_validator("endpoints", mode="before")
    @classmethod
    def _urls_are_endpoints(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"url": v} if isinstance(v, str) else v for v in value]
        return value


class ScoringSettings(BaseModel):
    """Inline scoring of clean events by the champion ONNX models."""

    model_config = _FROZEN

    enabled: bool = True
    models: list[str] = Field(default_factory=lambda: [
        "intent_classifier", "command_predictor", "error_recovery", "parameter_extractor"])
    history: int = Field(5, ge=1, le=50, description="commands per session the predictor sees")
    max_sessions: int = Field(100_000, ge=100, description="sessions whose history is kept, "
                              "and commands whose intent record is kept for feedback")


class DetectionSettings(BaseModel):
    """River drift detectors on the live signals, and new-pattern mining."""

    model_config = _FROZEN

    enabled: bool = True
    stage: bool = Field(False, description="watch in `streamtune detect` stages (a consumer "
                        "group of their own, reading the clean topics) instead of in the worker")
    binary_detector: str = Field("adwin", description="detector of 0/1 signals")
    continuous_detector: str = Field("adwin", description="detector of continuous signals")
    scope_min_events: int = Field(500, ge=1, description="events before a per-type detector")
    warmup_events: int = Field(300, ge=0, description="events a detector sees before alerting")
    cooldown_events: int = Field(2000, ge=0, description="after an alert, per signal and scope")
    cooldown_s: float = Field(300.0, ge=0)
    state_save_s: float = Field(2.0, gt=0, description="how often detector state is saved, "
                                "at a batch boundary (a save of 28,000 lines' state: ~10 ms); "
                                "a detect stage commits its offsets with each save")
    pattern_min_count: int = Field(20, ge=1, description="most recurrences a new pattern "
                                   "needs (the count adapts to the source's rate up to this)")
    pattern_rate_per_count: float = Field(10.0, gt=0, description="lines/s of a source that "
                                          "add one recurrence to the count a new pattern needs")
    pattern_max_confidence: float = Field(0.7, ge=0, le=1,
                                          description="mean model confidence below this")
    pattern_similarity: float = Field(0.6, gt=0, lt=1, description="share of a template's "
                                      "tokens that stay constant when templates merge")
    pattern_warmup_events: int = Field(2000, ge=0, description="templates seen here are known")
    pattern_warmup_s: float = Field(300.0, ge=0, description="or in this much event time, "
                                    "whichever ends first")
    reorder_idle_s: float = Field(2.0, gt=0, description="a partition silent this long no "
                                  "longer holds back the detectors' event-time order")
    reorder_max_events: int = Field(20_000, ge=1, description="events held for event-time order")


class LoopSettings(BaseModel):
    """The retrain -> canary -> rollout loop and continuous evaluation."""

    model_config = _FROZEN

    triggers: list[str] = Field(default_factory=lambda: [
        "performance_drop", "error_rate", "new_pattern", "resource", "schedule"])
    debounce_s: float = Field(300.0, ge=0, description="quiet time between two trainings")
    schedule_hours: float = Field(24.0, ge=0, description="scheduled retraining; 0 = off")
    recent_events: int = Field(50_000, ge=100, description="events a retraining reads")
    min_train_events: int = Field(1000, ge=10)
    canary_min_events: int = Field(300, ge=10, description="shadow-scored events before a verdict")
    rollout_percents: list[int] = Field(default_factory=lambda: [5, 25, 100])
    stage_min_events: int = Field(300, ge=10, description="live events per rollout step")
    stage_max_events: int = Field(30_000, ge=10, description="paired events a stage may take; "
                                  "undecided by then, the candidate is rolled back")
    margin: float = Field(0.01, gt=0, lt=0.5, description="non-inferiority margin: a stage asks "
                          "whether the candidate is at least champion - margin (accuracy)")
    margins: dict[str, float] = Field(default_factory=dict, description="margin per model "
                                      "(model name -> margin); others take `margin`")
    false_promotion_rate: float = Field(0.05, gt=0, lt=0.5, description="most a candidate "
                                        "2 margins worse is promoted (always-valid bound)")
    false_rollback_rate: float = Field(0.05, gt=0, lt=0.5, description="most a candidate no "
                                       "worse is rolled back by the test (deadline aside)")
    max_p99_latency_ratio: float = Field(2.0, ge=1, description="candidate p99 scoring latency "
                                         "over the champion's, allowed")
    max_failure_rate: float = Field(0.01, ge=0, le=1, description="share of a stage's events a "
                                    "model may leave unscored")
    max_accuracy_drop: float = Field(0.02, ge=0, le=1)
    baseline_gate: bool = Field(True, description="the offline gate also rejects a candidate "
                                "whose test macro-F1 is below the TF-IDF + logistic "
                                "regression baseline's (recorded when it was trained)")
    baseline_margin: float = Field(0.02, ge=0, le=1, description="how far below the "
                                   "baseline's macro-F1 a candidate may be and still pass the "
                                   "gate (as max_accuracy_drop for the champion)")
    significance: float = Field(0.05, gt=0, lt=1)
    eval_threshold: float = Field(0.95, ge=0, le=1)
    hourly_eval_s: float = Field(3600.0, gt=0)
    daily_suite_s: float = Field(86_400.0, gt=0)
    weekly_review_s: float = Field(604_800.0, gt=0)
    review_sample: int = Field(100, ge=1, le=10_000)

    def margin_of(self, model: str) -> float:
        """The non-inferiority margin of ``model``."""
        return self.margins.get(model, self.margin)


def _user_cache() -> Path:
    """``$XDG_CACHE_HOME``, or ``~/.cache``."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


class Settings(BaseSettings):
    """Effective configuration of one streamtune process."""

    model_config = SettingsConfigDict(
        env_prefix="STREAMTUNE_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        frozen=True,
        extra="forbid",
    )

    data_dir: Path = Path(".streamtune")
    cache_dir: Path = Field(default_factory=lambda: _user_cache() / "streamtune",
                            description="what streamtune can rebuild and shares between "
                            "data dirs (the static sub-word table)")
    worker_id: str = Field(
        default_factory=socket.gethostname, pattern=r"^[A-Za-z0-9._-]{1,100}$",
        description="static group member id of a worker; unique per worker (pod name)",
    )
    metrics_port: int = Field(9108, ge=0, le=65535)
    log_level: str = Field("INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    kafka: KafkaSettings = KafkaSettings()
    topics: TopicSettings = TopicSettings()
    store: StoreSettings = StoreSettings()
    pipeline: PipelineSettings = PipelineSettings()
    augmentation: AugmentationSettings = AugmentationSettings()
    datasets: DatasetSettings = DatasetSettings()
    webhooks: WebhookSettings = WebhookSettings()
    training: TrainingSettings = TrainingSettings()
    scoring: ScoringSettings = ScoringSettings()
    detection: DetectionSettings = DetectionSettings()
    loop: LoopSettings = LoopSettings()

    @property
    def store_url(self) -> str:
        """The ClickHouse target actually used."""
        return self.store.url or f"chdb://{(self.data_dir / 'chdb').resolve()}"

    @property
    def broker_dir(self) -> Path:
        """Where the embedded dev broker keeps its data and pid file."""
        return self.data_dir / "broker"

    def masked(self) -> dict[str, Any]:
        """Settings as plain data with every secret replaced by ``**********``."""
        data = self.model_dump(mode="json")
        data["store_url (effective)"] = self.store_url
        data["kafka"]["bootstrap_servers (effective)"] = self.kafka.servers
        return data


def client_config(settings: Settings) -> dict[str, Any]:
    """librdkafka options for any client, with librdkafka's own logs routed to logging.

    Every Kafka client of every process (worker, trainer, webhook thread, CLI)
    starts from this dict.
    """
    return {**settings.kafka.client_config(), "logger": _RDKAFKA_LOG}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Load settings once per process; a bad value becomes a one-line ConfigError."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"bad setting {where}: {first['msg']}") from None
