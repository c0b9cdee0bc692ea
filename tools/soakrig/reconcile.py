"""The final reckoning of a run: every inbound message against the event log and
against what the fake Graph API received.

Must hold, for every message the harness delivered (however often):

* the log records it exactly once (MessageReceived);
* it ends in exactly one outcome: withheld with a reason (empty texts and
  reactions, and nothing else), or a reply that was generated and then recorded
  as sent or as failed;
* the Graph API received at most one send for its reply, and a reply recorded
  as sent was received there, with the WhatsApp id the log holds;
* a failed reply is explained by a fault the harness injected.

Which faults can cause a ReplyFailed, and why: a SIGKILL of the bridge, or the
database stopping, between the Graph API request and the record of its answer
leaves the send "in doubt" (`cloud_api_sends` says pending). After the restart
the reply process asks the transport, which cannot tell (the Cloud API has no
lookup) unless Meta's status webhook for that send has arrived meanwhile; rather
than risk sending twice, the reply is recorded as failed, "sent or not is
unknown". The Graph record then says whether the person got it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from parley.bridge.reply_process import UNKNOWN_OUTCOME
from parley.tools.soakrig.logwatch import LogPicture
from parley.tools.soakrig.meta import Send
from parley.tools.soakrig.traffic import Expect, Planned

IN_DOUBT_FAULTS = ("kill:bridge", "db_outage:database")


@dataclass(frozen=True)
class FailedReply:
    wamid: str
    reason: str
    reached_graph: bool
    explanation: str  # "" when nothing the harness did explains it


@dataclass
class Reconciliation:
    planned: int = 0
    delivered: int = 0  # planned messages whose webhook got a 200
    recorded_once: int = 0
    replied: int = 0  # exactly one send at the Graph API, recorded as sent
    withheld: Counter[str] = field(default_factory=Counter)  # by reason
    fallbacks: Counter[str] = field(default_factory=Counter)  # by reason
    failed: list[FailedReply] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def explained_failures(self) -> int:
        return sum(1 for failure in self.failed if failure.explanation)


def reconcile(
    *,
    plan: list[Planned],
    delivered: set[str],
    picture: LogPicture,
    sends: dict[str, list[Send]],
    sends_without_id: int,
    faults_seen: set[str],
) -> Reconciliation:
    result = Reconciliation(planned=len(plan), delivered=len(delivered))
    _check_intake(result, plan, delivered, picture)
    _check_sends(result, picture, sends, sends_without_id)
    _check_outcomes(result, plan, picture, sends, faults_seen)
    return result


def _problem(result: Reconciliation, kind: str, items: list[str]) -> None:
    if items:
        shown = ", ".join(items[:5]) + (" ..." if len(items) > 5 else "")
        result.problems.append(f"{kind}: {len(items)} ({shown})")


def _check_intake(
    result: Reconciliation, plan: list[Planned], delivered: set[str], picture: LogPicture
) -> None:
    planned_ids = {p.wamid for p in plan}
    received = picture.received
    _problem(result, "delivered but not recorded", sorted(delivered - set(received)))
    _problem(
        result, "never delivered (the webhook kept refusing it)", sorted(planned_ids - delivered)
    )
    _problem(result, "recorded more than once", sorted(w for w, n in received.items() if n > 1))
    _problem(result, "recorded but never posted", sorted(set(received) - planned_ids))
    result.recorded_once = sum(1 for wamid in planned_ids if received.get(wamid) == 1)


def _check_sends(
    result: Reconciliation,
    picture: LogPicture,
    sends: dict[str, list[Send]],
    sends_without_id: int,
) -> None:
    twice = sorted(reply for reply, copies in sends.items() if len(copies) > 1)
    _problem(result, "replies the Graph API received more than once", twice)
    recorded_twice = sorted(reply for reply, count in picture.sent.items() if count > 1)
    _problem(result, "replies recorded as sent more than once", recorded_twice)
    if sends_without_id:
        result.problems.append(f"sends without an outbound id: {sends_without_id}")
    strays = sorted(set(sends) - set(picture.generated))
    _problem(result, "sends at the Graph API for no generated reply", strays)


def _check_outcomes(
    result: Reconciliation,
    plan: list[Planned],
    picture: LogPicture,
    sends: dict[str, list[Send]],
    faults_seen: set[str],
) -> None:
    found: dict[str, list[str]] = {
        "recorded but without an outcome": [],
        "withheld though it needed a reply": [],
        "answered though nothing was to be answered": [],
        "recorded as sent but never received by the Graph API": [],
        "recorded as sent with another WhatsApp id than the Graph API gave": [],
    }
    for item in plan:
        if picture.received.get(item.wamid, 0) == 0:
            continue
        kind = _outcome(result, item, picture, sends, faults_seen)
        if kind:
            found[kind].append(f"{item.wamid} ({item.kind})")
    for kind, items in found.items():
        _problem(result, kind, items)
    _problem(
        result,
        "failed replies no injected fault explains",
        [f"{f.wamid}: {f.reason}" for f in result.failed if not f.explanation],
    )


def _outcome(
    result: Reconciliation,
    item: Planned,
    picture: LogPicture,
    sends: dict[str, list[Send]],
    faults_seen: set[str],
) -> str:
    """Tallies one recorded message's outcome; returns what is wrong with it, or ""."""
    wamid = item.wamid
    if wamid in picture.withheld:
        result.withheld[picture.withheld[wamid]] += 1
        return "withheld though it needed a reply" if item.expect is Expect.REPLY else ""
    if item.expect is Expect.WITHHELD:
        return "answered though nothing was to be answered"
    reply_id = picture.reply_of.get(wamid)
    if reply_id is None:
        return "recorded but without an outcome"
    generated = picture.generated[reply_id]
    if generated.is_fallback:
        result.fallbacks[generated.fallback_reason.split(":")[0]] += 1
    at_graph = sends.get(reply_id, [])
    if reply_id in picture.sent:
        if not at_graph:
            return "recorded as sent but never received by the Graph API"
        if at_graph[0].wamid != picture.sent_wamid[reply_id]:
            return "recorded as sent with another WhatsApp id than the Graph API gave"
        result.replied += 1
        return ""
    if reply_id in picture.failed:
        failure = picture.failed[reply_id]
        explanation = _explain(failure.reason, bool(at_graph), faults_seen)
        result.failed.append(FailedReply(wamid, failure.reason, bool(at_graph), explanation))
        return ""
    return "recorded but without an outcome"


def _explain(reason: str, reached_graph: bool, faults_seen: set[str]) -> str:
    if reason.startswith(UNKNOWN_OUTCOME) and faults_seen & set(IN_DOUBT_FAULTS):
        fate = (
            "the Graph API did receive it, so the person got it once"
            if reached_graph
            else "it never reached the Graph API, so the person got no reply"
        )
        causes = " or ".join(sorted(faults_seen & set(IN_DOUBT_FAULTS)))
        return f"in doubt after {causes}; not resent, to never send twice; {fate}"
    return ""
