"""What one soak run does: its size, its pace, the fake model, and its faults."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

FAULTS = (
    "kill_bridge",  # SIGKILL of the bridge at random moments, then a restart
    "kill_projector",
    "kill_api",
    "db_outage",  # the database stopped, then started again on the same port
    "gemini_outage",  # the fake model fails every request for a while
    "duplicates",  # some webhooks posted twice or more, at once and later
    "odd_messages",  # 64 KiB, lone surrogates, emoji only, empty, captionless media
    "sigterm",  # SIGTERM of each process mid-run; checked, then restarted
)


@dataclass(frozen=True)
class SoakConfig:
    conversations: int = 300
    messages: int = 3_000
    rate: float = 50.0  # inbound messages offered per second
    model_latency_ms: float = 0.0
    model_error_rate: float = 0.0
    faults: frozenset[str] = frozenset()
    kills: int = 2  # SIGKILLs of each process whose kill fault is on
    db_outage_s: float = 20.0
    gemini_outage_s: float = 30.0
    duplicate_share: float = 0.05  # of messages, when duplicates are on
    odd_share: float = 0.05  # of messages, when odd messages are on
    status_webhooks: bool = True  # the fake Graph posts a "sent" status per send
    seed: int = 1
    settle_timeout_s: float = 300.0  # after the traffic, for every outcome to land
    work_dir: Path | None = None  # None: a temporary folder, removed afterwards
    keep_work_dir: bool = False
    log_level: str = "INFO"
    without: frozenset[str] = frozenset()  # "projector" and/or "api": for measuring
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.faults) - set(FAULTS)
        if unknown:
            msg = f"unknown faults {sorted(unknown)}; known: {', '.join(FAULTS)}"
            raise ValueError(msg)
        if self.conversations < 1 or self.messages < self.conversations:
            msg = "need at least one conversation and at least one message per conversation"
            raise ValueError(msg)
        if self.rate <= 0:
            raise ValueError("rate must be positive")
        if not 0 <= self.model_error_rate <= 1:
            raise ValueError("model error rate must be from 0 to 1")
        if not self.without <= {"projector", "api"}:
            raise ValueError("only the projector and the api can be left out")

    def has(self, fault: str) -> bool:
        return fault in self.faults

    @property
    def traffic_seconds(self) -> float:
        return self.messages / self.rate
