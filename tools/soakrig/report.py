"""The figures of a run, and the text the harness prints."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from parley.tools.soakrig.monitor import MemorySample
from parley.tools.soakrig.run import SoakResult

WINDOW_S = 10.0  # seconds per window of the sustained-throughput figures


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (`share` from 0 to 1); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Spread:
    count: int
    p50: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        return cls(
            len(values),
            percentile(values, 0.50),
            percentile(values, 0.95),
            percentile(values, 0.99),
            max(values) if values else math.nan,
        )

    def ms(self) -> str:
        return (
            f"p50 {self.p50 * 1000:.0f} ms, p95 {self.p95 * 1000:.0f} ms, "
            f"p99 {self.p99 * 1000:.0f} ms, max {self.max * 1000:.0f} ms (n={self.count})"
        )


@dataclass(frozen=True)
class Memory:
    name: str
    peak_mib: float
    first_quarter_mib: float
    last_quarter_mib: float
    incarnations: int
    cpu_s: float  # CPU seconds used from the start of the traffic to the end of the run

    @property
    def growth(self) -> float:
        if self.first_quarter_mib <= 0:
            return math.nan
        return self.last_quarter_mib / self.first_quarter_mib - 1


@dataclass
class Figures:
    latency: Spread  # inbound posted -> reply at the Graph API, model time subtracted
    latency_raw: Spread  # the same, model time included
    model: Spread  # the model's own time, as ReplyGenerated records it
    intake: Spread  # inbound posted -> its webhook answered 200
    offered_rate: float
    intake_rate: float
    reply_rate: float
    sustained_min: float  # the slowest full window of replies, per second
    sustained_median: float
    lag_events_p95: float
    lag_events_max: float
    lag_seconds_p95: float
    lag_seconds_max: float
    memory: list[Memory] = field(default_factory=list)
    machine_busy: float = math.nan  # share of the machine's CPU busy during the traffic
    machine_cores: float = math.nan
    # p99 latency (model time subtracted) of the messages posted in each window:
    # shows whether a queue builds steadily or in bursts.
    latency_p99_by_window: list[float] = field(default_factory=list)


def figures(result: SoakResult) -> Figures:
    picture = result.picture
    graph = result.graph
    latency: list[float] = []
    posted_latency: list[tuple[float, float]] = []  # (posted at, latency)
    raw: list[float] = []
    model: list[float] = []
    send_times: list[float] = []
    if picture is not None and graph is not None:
        send_times.extend(copies[0].at for copies in graph.sends.values())
        for wamid, reply_id in picture.reply_of.items():
            sends = graph.sends.get(reply_id)
            posted = result.first_post.get(wamid)
            if not sends or posted is None:
                continue
            seconds = sends[0].at - posted
            model_s = picture.generated[reply_id].latency_ms / 1000
            raw.append(seconds)
            latency.append(max(0.0, seconds - model_s))
            posted_latency.append((posted, latency[-1]))
            model.append(model_s)
    intake = [
        result.accepted_at[w] - result.first_post[w]
        for w in result.accepted_at
        if w in result.first_post
    ]
    traffic_s = max(1e-9, result.traffic_ended - result.traffic_started)
    accepted = sorted(result.accepted_at.values())
    sends_sorted = sorted(send_times)
    windows = _windows(sends_sorted, result.traffic_started, result.traffic_ended)
    lag = [s for s in result.seen.lag if result.traffic_started <= s.at <= result.traffic_ended]
    return Figures(
        latency=Spread.of(latency),
        latency_raw=Spread.of(raw),
        model=Spread.of(model),
        intake=Spread.of(intake),
        offered_rate=len(result.plan) / traffic_s,
        intake_rate=_rate(accepted, result.traffic_started),
        reply_rate=_rate(sends_sorted, result.traffic_started),
        sustained_min=min(windows) if windows else math.nan,
        sustained_median=percentile(windows, 0.5),
        lag_events_p95=percentile([float(s.head - s.position) for s in lag], 0.95),
        lag_events_max=max((float(s.head - s.position) for s in lag), default=math.nan),
        lag_seconds_p95=percentile([s.seconds for s in lag], 0.95),
        lag_seconds_max=max((s.seconds for s in lag), default=math.nan),
        memory=[
            _memory(name, samples, result.traffic_started)
            for name, samples in sorted(result.seen.memory.items())
        ],
        latency_p99_by_window=_by_window(posted_latency, result.traffic_started),
        **_machine(result),
    )


def _by_window(posted_latency: list[tuple[float, float]], start: float) -> list[float]:
    windows: dict[int, list[float]] = {}
    for posted, seconds in posted_latency:
        windows.setdefault(int((posted - start) // WINDOW_S), []).append(seconds)
    return [percentile(windows[index], 0.99) for index in sorted(windows)]


def _machine(result: SoakResult) -> dict[str, float]:
    window = [
        s
        for s in result.seen.machine
        if result.traffic_started <= s.at <= max(result.traffic_ended, result.deliveries_done)
    ]
    if len(window) < 2:
        return {}
    first, last = window[0], window[-1]
    total = last.total_s - first.total_s
    seconds = last.at - first.at
    if total <= 0 or seconds <= 0:
        return {}
    return {
        "machine_busy": (last.busy_s - first.busy_s) / total,
        "machine_cores": total / seconds,
    }


def _rate(times: list[float], start: float) -> float:
    """Items per second from the start of the traffic to the last item."""
    if not times:
        return 0.0
    return len(times) / max(1e-9, times[-1] - start)


def _windows(times: list[float], start: float, end: float) -> list[float]:
    """Per-second rates over the full windows of the traffic, the first left out
    (the pipeline is filling then)."""
    rates = []
    edge = start + WINDOW_S
    while edge + WINDOW_S <= end:
        count = sum(1 for t in times if edge <= t < edge + WINDOW_S)
        rates.append(count / WINDOW_S)
        edge += WINDOW_S
    return rates


def _memory(name: str, samples: list[MemorySample], since: float) -> Memory:
    by_pid: dict[int, list[MemorySample]] = {}
    for sample in samples:
        by_pid.setdefault(sample.pid, []).append(sample)
    longest = max(by_pid.values(), key=len)
    quarter = max(1, len(longest) // 4)
    first = sum(s.rss_kib for s in longest[:quarter]) / quarter / 1024
    last = sum(s.rss_kib for s in longest[-quarter:]) / quarter / 1024
    cpu = 0.0
    for pid_samples in by_pid.values():
        during = [s for s in pid_samples if s.at >= since]
        if during:
            before = [s for s in pid_samples if s.at < since]
            start = before[-1].cpu_s if before else during[0].cpu_s
            cpu += during[-1].cpu_s - start
    peak = max(s.rss_kib for s in samples) / 1024
    return Memory(name, peak, first, last, len(by_pid), cpu)


def render(result: SoakResult) -> str:
    config = result.config
    found = figures(result)
    lines = [
        f"Parley soak: {len(result.plan)} messages in {config.conversations} conversations "
        f"at {config.rate:g}/s; model latency {config.model_latency_ms:g} ms, "
        f"error rate {config.model_error_rate:g}; faults: "
        + (", ".join(sorted(config.faults)) or "none"),
        f"processes: {', '.join(result.processes_run)} and the embedded database",
        "",
        "latency, inbound posted -> reply at the Graph API, model time subtracted:",
        f"  {found.latency.ms()}",
        f"  model time included: {found.latency_raw.ms()}",
        f"  the model's own time: {found.model.ms()}",
        f"  webhook answered: {found.intake.ms()}",
        f"  p99 by {WINDOW_S:.0f}-second window of posting (ms): "
        + " ".join(f"{seconds * 1000:.0f}" for seconds in found.latency_p99_by_window),
        "throughput:",
        f"  offered {found.offered_rate:.1f}/s; recorded (200s) {found.intake_rate:.1f}/s; "
        f"replies at the Graph API {found.reply_rate:.1f}/s",
        f"  replies per {WINDOW_S:.0f}-second window: slowest {found.sustained_min:.1f}/s, "
        f"median {found.sustained_median:.1f}/s",
        "projection lag (slowest read model, during the traffic):",
        f"  events p95 {found.lag_events_p95:.0f}, max {found.lag_events_max:.0f}; "
        f"seconds p95 {found.lag_seconds_p95:.2f}, max {found.lag_seconds_max:.2f}",
        "memory (RSS; growth = last quarter of the samples against the first):",
    ]
    for memory in found.memory:
        restarts = f", {memory.incarnations} incarnations" if memory.incarnations > 1 else ""
        lines.append(
            f"  {memory.name:<12} peak {memory.peak_mib:7.1f} MiB, "
            f"{memory.first_quarter_mib:6.1f} -> {memory.last_quarter_mib:6.1f} MiB "
            f"({memory.growth:+.0%}){restarts}"
        )
    lines.append(
        "CPU from the start of the traffic to the end of the run "
        f"(ms per message, of {len(result.plan)}):"
    )
    ours = 0.0
    for memory in found.memory:
        ours += memory.cpu_s
        lines.append(
            f"  {memory.name:<12} {memory.cpu_s:7.1f} s  "
            f"{memory.cpu_s * 1000 / max(1, len(result.plan)):6.1f} ms/message"
        )
    lines.append(
        f"  machine: {found.machine_cores:.1f} cores, {found.machine_busy:.0%} busy during the "
        f"traffic (this run's processes used {ours:.0f} CPU-seconds in all)"
    )
    if result.baseline is not None:
        base = result.baseline
        lines.append(
            "database alone, same run, before the traffic (one client thread): "
            f"{base.transactions_per_s:.0f} one-event transactions/s, "
            f"{base.reads_per_s:.0f} aggregate reads/s, {base.inserts_per_s:.0f} inserts/s"
        )
    answers = result.seen.api_answers
    if answers:
        polls = sum(answers.values())
        lines.append(
            f"API health polled {polls} times: "
            + ", ".join(
                f"{'no answer' if code == 0 else code}: {count}"
                for code, count in sorted(answers.items())
            )
        )
    posts = result.inbound_posts
    lines += [
        "webhooks:",
        f"  inbound: {posts.posts} POSTs for {len(result.plan)} messages; "
        f"non-200 {dict(posts.statuses) or 'none'}; connection errors {posts.connection_errors}",
        f"  statuses: {result.status_posts.accepted} accepted of {result.status_posts.posts} POSTs",
        f"  fake Gemini: {result.gemini_stats or 'no stats'}",
    ]
    if result.faults:
        lines.append("faults:")
        for fault in result.faults:
            at = f"{fault.started:.1f}s" if fault.started is not None else "not run"
            lines.append(f"  {fault.label:<22} at {at:>7}: {fault.outcome}")
            lines.extend(f"    PROBLEM: {problem}" for problem in fault.problems)
    lines.append("shutdown on SIGTERM at the end:")
    for name, stopped in result.shutdown.items():
        lines.append(f"  {name:<10} exit code {stopped.exit_code} after {stopped.seconds:.1f}s")
        lines.extend(f"    PROBLEM: {problem}" for problem in stopped.problems)
    lines.extend(f"PROBLEM: {exit_}" for exit_ in result.unexpected_exits)
    lines.extend(_reconciliation(result))
    lines.extend(f"PROBLEM: {problem}" for problem in result.problems)
    lines += ["", "RESULT: " + ("PASS" if result.ok else "FAIL")]
    return "\n".join(lines)


def _reconciliation(result: SoakResult) -> list[str]:
    found = result.reconciliation
    if found is None:
        return ["reconciliation: not reached"]
    settled = (
        f"{result.settled_after:.1f}s after the traffic"
        if result.settled_after is not None
        else "never"
    )
    lines = [
        f"reconciliation (settled {settled}):",
        f"  {found.planned} planned, {found.delivered} delivered, "
        f"{found.recorded_once} recorded exactly once",
        f"  {found.replied} answered exactly once; withheld: {dict(found.withheld) or 'none'}",
        f"  fallback replies: {dict(found.fallbacks) or 'none'}",
        f"  failed replies: {len(found.failed)} ({found.explained_failures} explained)",
    ]
    for failure in found.failed[:10]:
        why = failure.explanation or "UNEXPLAINED"
        lines.append(f"    {failure.wamid}: {failure.reason[:80]} -> {why}")
    lines.extend(f"  PROBLEM: {problem}" for problem in found.problems)
    models = result.read_models
    if models is None:
        lines.append("read models: not checked (no projector)")
    elif not models.available:
        lines.append("read models: PROBLEM: projections not installed")
    else:
        documents = sum(c.live for c in models.collections)
        lines.append(
            f"read models vs a rebuild from event 1: {len(models.collections)} collections, "
            f"{documents} documents, rebuilt to {models.rebuilt_position} in "
            f"{models.rebuild_seconds:.1f}s: " + ("identical" if models.ok else "DIFFERENT")
        )
        lines.extend(f"  PROBLEM: {problem}" for problem in models.problems)
    return lines
