"""When the bot answers, and when it keeps quiet.

Two moments decide: at intake, what kind of message it is (a status, the
account's own message, a group message that does not mention the account,
something with nothing to answer); at reply time, whether now is the time (the
thread is paused, the contact's quiet hours, the reply rate guard). Whatever
the reason, it is recorded with the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from parley.domain.messages import InboundMessage, MessageKind
from parley.domain.profiles import Relationship

STATUS_BROADCAST = "status broadcast"
OWN_MESSAGE = "own message"
GROUP_NOT_MENTIONED = "group message without a mention"
NOTHING_TO_ANSWER = "nothing to answer"
BOT_PAUSED = "bot paused"
QUIET_HOURS = "quiet hours"
RATE_LIMITED = "reply rate limit"


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time  # before start: the quiet period runs past midnight

    def contains(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        """'21:00-08:00'; raises ValueError for anything else."""
        start, sep, end = text.strip().partition("-")
        if not sep:
            msg = f"quiet hours must look like 21:00-08:00, not {text!r}"
            raise ValueError(msg)
        return cls(time.fromisoformat(start.strip()), time.fromisoformat(end.strip()))


DEFAULT_QUIET_HOURS: Mapping[Relationship, QuietHours] = {
    Relationship.CLIENT: QuietHours(time(21, 0), time(8, 0)),
    Relationship.COLLEAGUE: QuietHours(time(21, 0), time(7, 0)),
}


@dataclass(frozen=True)
class BotRules:
    timezone: str = "UTC"
    quiet_hours: Mapping[Relationship, QuietHours] = field(
        default_factory=lambda: dict(DEFAULT_QUIET_HOURS)
    )
    max_replies: int = 10  # per contact thread within rate_window
    rate_window: timedelta = timedelta(minutes=10)
    max_processed_chars: int = 4_000  # longer texts are cut for analysis and the model
    enabled_groups: frozenset[str] = frozenset()  # chat ids where the bot always answers

    def local_time(self, moment: datetime) -> datetime:
        return moment.astimezone(ZoneInfo(self.timezone))


def intake_withhold_reason(
    message: InboundMessage, *, rules: BotRules, group_enabled: bool, bot_paused: bool
) -> str:
    """Why this message gets no reply whatever the time, or "" if it may get one."""
    if message.is_status_broadcast:
        return STATUS_BROADCAST
    if message.from_me:
        return OWN_MESSAGE
    if (
        message.is_group
        and not message.mentions_me
        and not group_enabled
        and message.chat_id not in rules.enabled_groups
    ):
        return GROUP_NOT_MENTIONED
    if message.kind is MessageKind.REACTION or (
        message.kind is MessageKind.TEXT and not message.text.strip()
    ):
        return NOTHING_TO_ANSWER
    if bot_paused:
        return BOT_PAUSED
    return ""


def reply_withhold_reason(
    *,
    rules: BotRules,
    relationship: Relationship,
    bot_paused: bool,
    replies_in_window: int,
    now: datetime,
) -> str:
    """Why no reply should go out now, or "" if one may."""
    if bot_paused:
        return BOT_PAUSED
    quiet = rules.quiet_hours.get(relationship)
    if quiet is not None and quiet.contains(rules.local_time(now).time()):
        return f"{QUIET_HOURS} ({relationship.value})"
    if replies_in_window >= rules.max_replies:
        minutes = int(rules.rate_window.total_seconds() // 60)
        return f"{RATE_LIMITED}: {rules.max_replies} replies in {minutes} minutes"
    return ""
