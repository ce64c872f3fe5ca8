"""The Prometheus endpoint of `huracan-tui --headless`: GET /metrics on `metrics.host:metrics.port`
(127.0.0.1:9464 by default) when `metrics.enabled`.

Every headless process so configured serves it, the leader and each standby: the numbers come
from the brain, so a standby's are the same, and `huracan_leader` says which process leads (1) and
which stands by (0: the brain's lease is held by another). A leader a console embeds
(`--exit-with`) serves none: it would fight the monitored leader for the port. Each serves it from
a process of its own (metrics_process.py, which runs `serve_metrics` here): the page's making
costs the leader's interpreter nothing.

What a scrape costs: it reads the brain in the HTTP server's thread through a Brain of its own
(its own connections); one read answers every scrape for `metrics.cache_seconds`, so a scrape
storm costs one read. The per-slot numbers are the console's
overview (scheduler/services/overview.py), read in batch queries and, between whole reads, only
for the slots the brain's change marks name; their text is written again only for the slots whose
overview changed (SlotSamples), since prometheus_client's writer costs tens of microseconds a
sample and a big brain has thousands. The brain-wide families (jobs, feeds, the lead) go through
prometheus_client's own collector and writer. Job counts and durations are one grouped query over
the jobs table (brain.job_tallies), so they are right after a leader restart and each job's
duration is observed once.
"""

from __future__ import annotations

import errno
import logging
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from brain import Brain, BrainError, open_brain
from brain.jobs import JobTally
from brain.records import FINAL_JOB_STATES, JobState
from scheduler.config import HuracanConfig, MetricsConfig
from scheduler.services.health import FeedLag, feed_lags
from scheduler.services.overview import BrainSnapshot, Clock, SlotOverview, read_snapshot, utc_now

log = logging.getLogger("huracan.metrics")

# Scrapes are answered at most this often (4 a second; Prometheus asks once every 15 s by default),
# however fast a scraper asks: within cache_seconds they all get the same bytes, and each answer
# costs the leader's interpreter a little (a thread, the request parsed, the page sent), which a
# scraper asking back to back turns into a slower live tick (at 20 a second: p95 1.2x). A scrape
# beyond the rate waits (sleeping, not holding the interpreter).
SCRAPE_GAP_SECONDS = 0.25

# Upper bounds (seconds) of the job duration histogram: a quick compare to a day-long neural retrain.
DURATION_BOUNDS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 24 * 3600.0)


class MetricsUnavailable(RuntimeError):
    """The endpoint cannot listen where the config says, worded as one line."""


@dataclass(frozen=True)
class BrainReading:
    """One read of the brain for a scrape: the console's overview, the job tallies, the feeds."""

    snapshot: BrainSnapshot
    tallies: tuple[JobTally, ...]
    feeds: tuple[FeedLag, ...]
    at: datetime
    seconds: float  # how long the read took


class BrainReader:
    """Reads the brain for scrapes, one read at a time: the overview is read in part against the
    previous read, which two threads must not share half-updated."""

    def __init__(self, brain: Brain, config: HuracanConfig, *, clock: Clock = utc_now):
        self.brain = brain
        self.config = config
        self.clock = clock
        self._previous: BrainSnapshot | None = None
        self._lock = threading.Lock()

    def read(self) -> BrainReading:
        with self._lock:
            started = time.perf_counter()
            now = self.clock()
            snapshot = read_snapshot(self.brain, self.clock, previous=self._previous)
            self._previous = snapshot
            tallies = tuple(self.brain.job_tallies(DURATION_BOUNDS))
            feeds = feed_lags(self.brain, self.config, now=now, states=snapshot.feeds)
            return BrainReading(snapshot, tallies, feeds, now, time.perf_counter() - started)

    def forget_previous(self) -> None:
        """Read every slot next time (benchmarks: what the overview's whole read costs)."""
        with self._lock:
            self._previous = None


class BrainCollector(Collector):
    """The brain-wide families of one reading (jobs, feeds, the lead), as prometheus_client
    collectors yield them; a number the brain does not have (no bar yet) is left out, not 0."""

    def __init__(self, reading: BrainReading, *, leading: bool, holder: str):
        self.reading = reading
        self.leading = leading
        self.holder = holder

    def collect(self) -> Iterator[Metric]:
        reading = self.reading
        yield GaugeMetricFamily("huracan_slots", "slots in the brain",
                                value=float(len(reading.snapshot.slots)))
        yield from _job_families(reading.tallies)
        yield from _feed_families(reading.feeds)
        leader = GaugeMetricFamily("huracan_leader", "1 when this process leads the brain, 0 when it "
                                   "stands by", labels=["holder"])
        leader.add_metric([self.holder], 1.0 if self.leading else 0.0)
        yield leader
        yield GaugeMetricFamily("huracan_leader_alive", "1 when some process leads the brain (the lease "
                                "is held)", value=1.0 if reading.snapshot.leader is not None else 0.0)
        yield GaugeMetricFamily("huracan_metrics_read_seconds", "how long this page's read of the brain "
                                "took", value=reading.seconds)


# The per-slot families (label `slot`, queue items also `queue`), in the order they are written.
SLOT_FAMILIES = (
    ("huracan_slot_live_sharpe", "the champion's newest live Sharpe (after costs, annualised)"),
    ("huracan_slot_live_hit_rate", "the champion's newest live win rate"),
    ("huracan_slot_live_samples", "matured forecasts the live numbers rest on"),
    ("huracan_slot_drift", "1 when features drifted at the newest drift check"),
    ("huracan_slot_queue_items", "open queue items"),
    ("huracan_slot_last_forecast_age_seconds", "seconds since the newest forecast was made"),
)


class SlotSamples:
    """The per-slot families' exposition text, each slot's lines kept with the overview record
    they were written from and written again only when it changed. prometheus_client's writer
    checks and escapes every sample of every scrape (some 6,000 at 1,000 slots, about 100 ms of the
    leader's interpreter); an unchanged slot costs a comparison here. Only the forecast's age, which
    moves with the clock, is written on each scrape. Not thread-safe: MetricsPage serialises."""

    def __init__(self) -> None:
        self._kept: dict[str, tuple[SlotOverview, str, tuple[str, ...]]] = {}

    def text(self, slots: tuple[SlotOverview, ...], now: datetime) -> str:
        lines: list[list[str]] = [[] for _ in SLOT_FAMILIES]
        kept = {}
        for slot in slots:
            entry = self._kept.get(slot.slot)
            # `is` first: read_snapshot hands an unchanged slot its very record again.
            if entry is None or (entry[0] is not slot and entry[0] != slot):
                label = _label_value(slot.slot)
                entry = (slot, label, _slot_lines(slot, label))
            kept[slot.slot] = entry
            for family, line in zip(lines, entry[2], strict=False):
                if line:
                    family.append(line)
            if slot.last_forecast is not None:
                age = max(0.0, (now - slot.last_forecast).total_seconds())
                lines[-1].append(f'huracan_slot_last_forecast_age_seconds{{slot="{entry[1]}"}} '
                                 f"{floatToGoString(age)}\n")
        self._kept = kept
        return "".join(f"# HELP {name} {doc}\n# TYPE {name} gauge\n" + "".join(family)
                       for (name, doc), family in zip(SLOT_FAMILIES, lines, strict=True))


def _slot_lines(slot: SlotOverview, label: str) -> tuple[str, ...]:
    """A slot's lines of the families that do not move with the clock ("" where it has no number)."""

    def line(name: str, value: float | None) -> str:
        return "" if value is None else f'{name}{{slot="{label}"}} {floatToGoString(value)}\n'

    live = slot.live
    drifted = slot.drift is not None and slot.drift.drifted > 0
    return (
        line("huracan_slot_live_sharpe", live.sharpe if live else None),
        line("huracan_slot_live_hit_rate", live.win_rate if live else None),
        line("huracan_slot_live_samples", live.n if live else None),
        line("huracan_slot_drift", 1.0 if drifted else 0.0),
        "".join(f'huracan_slot_queue_items{{slot="{label}",queue="{_label_value(queue)}"}} '
                f"{floatToGoString(items)}\n" for queue, items in slot.queue),
    )


def _label_value(value: str) -> str:
    """A label value as the text format escapes it."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _job_families(tallies: tuple[JobTally, ...]) -> Iterator[Metric]:
    def count(state: str) -> float:
        return float(sum(tally.jobs for tally in tallies if tally.state == state))

    yield GaugeMetricFamily("huracan_jobs_running", "jobs running now", value=count(JobState.RUNNING))
    yield GaugeMetricFamily("huracan_jobs_queued", "jobs waiting for a worker", value=count(JobState.QUEUED))
    finished = sum(tally.jobs for tally in tallies if tally.state in FINAL_JOB_STATES)
    yield CounterMetricFamily("huracan_jobs_finished", "jobs that ended, in any final state (succeeded, "
                              "failed, interrupted, cancelled)", value=float(finished))
    yield CounterMetricFamily("huracan_jobs_failed", "jobs that ended failed", value=count(JobState.FAILED))
    durations = HistogramMetricFamily("huracan_job_duration_seconds", "how long finished jobs ran, "
                                      "start to end", labels=["kind"])
    for kind in sorted({tally.kind for tally in tallies}):
        ended = [tally for tally in tallies if tally.kind == kind and tally.state in FINAL_JOB_STATES]
        if not any(tally.timed for tally in ended):
            continue
        within = [sum(tally.within[index] for tally in ended) for index in range(len(DURATION_BOUNDS))]
        timed = sum(tally.timed for tally in ended)
        buckets = [(floatToGoString(bound), float(n))
                   for bound, n in zip(DURATION_BOUNDS, within, strict=True)]
        durations.add_metric([kind], [*buckets, ("+Inf", float(timed))],
                             sum_value=sum(tally.duration_sum for tally in ended))
    yield durations


def _feed_families(feeds: tuple[FeedLag, ...]) -> Iterator[Metric]:
    lag = GaugeMetricFamily("huracan_feed_lag_seconds", "seconds since the newest stored bar of the feed's "
                            "series (its bar time)", labels=["feed"])
    state = GaugeMetricFamily("huracan_feed_state", "1 for the feed's last known state",
                              labels=["feed", "state"])
    for feed in feeds:
        if feed.lag_seconds is not None:
            lag.add_metric([feed.feed], feed.lag_seconds)
        if feed.state is not None:
            state.add_metric([feed.feed, feed.state], 1.0)
    yield lag
    yield state


class MetricsPage:
    """The exposition text. With `cache_seconds` > 0 a thread of its own makes it again every
    `cache_seconds` while scrapers keep coming (`start`), and a scrape is answered with the newest
    page at once: it never waits on the brain (at 1,000 slots a whole overview read takes hundreds
    of ms). The first scrape, and every scrape with `cache_seconds` 0, makes the page itself."""

    # The background thread stops making pages after this long without a scrape, and the next
    # scrape makes one itself again (a leader nobody scrapes reads nothing for its metrics).
    IDLE_SECONDS = 300.0

    def __init__(self, reader: BrainReader, *, leading: Callable[[], bool] | None, holder: str,
                 cache_seconds: float, before_page: Callable[[], None] | None = None):
        self.reader = reader
        self.before_page = before_page  # returns when a page may be made (metrics_process.TickGate)
        self.leading = leading
        self.holder = holder
        self.cache_seconds = cache_seconds
        self._slots = SlotSamples()
        self._lock = threading.Lock()  # one maker at a time (SlotSamples is not thread-safe)
        self._gap = threading.Lock()
        self._body = b""
        self._made_at = float("-inf")
        self._answered_at = float("-inf")
        self._scraped_at = float("-inf")
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.cache_seconds > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._refresh, name="huracan-metrics-page", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def body(self) -> bytes:
        self._scraped_at = time.monotonic()
        with self._gap:  # at most one answer per SCRAPE_GAP_SECONDS, made or not
            wait = self._answered_at + SCRAPE_GAP_SECONDS - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._answered_at = time.monotonic()
        if self.cache_seconds > 0 and self._body and time.monotonic() - self._made_at < self.IDLE_SECONDS:
            self._wake.set()  # a refresher that went idle starts again
            return self._body
        with self._lock:
            if time.monotonic() - self._made_at >= self.cache_seconds:
                self._make()
            self._wake.set()
            return self._body

    def _make(self) -> None:
        if self.before_page is not None:
            self.before_page()
        reading = self.reader.read()
        leader = reading.snapshot.leader
        # Without a word from the process itself, the reading says: `holder` holds the lease.
        leading = self.leading() if self.leading is not None else (
            leader is not None and leader.holder == self.holder)
        brain_wide = generate_latest(BrainCollector(reading, leading=leading, holder=self.holder))
        self._body = brain_wide + self._slots.text(reading.snapshot.slots, reading.at).encode()
        self._made_at = time.monotonic()

    def _refresh(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            if self._stop.is_set():
                return
            if time.monotonic() - self._scraped_at > self.IDLE_SECONDS:
                self._wake.clear()  # nobody scrapes: wait for the next scrape
                continue
            if time.monotonic() - self._made_at >= self.cache_seconds:
                try:
                    with self._lock:
                        self._make()
                except Exception as error:  # the page kept is the last good one; the next try soon
                    log.warning("metrics: the page could not be made: %s: %s", type(error).__name__, error)
            self._stop.wait(self.cache_seconds)


class _MetricsHTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a scrape in flight never holds the process up at exit
    allow_reuse_port = False  # a second process on the port is refused, not silently shared
    page: MetricsPage

    def handle_error(self, request, client_address) -> None:
        # One line in the log, never a traceback on the headless process's stderr.
        error = sys.exc_info()[1]
        log.warning("metrics: a request from %s failed: %s", client_address[0], error)

    def server_bind(self) -> None:
        # http.server names itself by socket.getfqdn(host): a DNS lookup at start-up for a name
        # nothing here uses.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])


class _MetricsHTTPServer6(_MetricsHTTPServer):
    address_family = socket.AF_INET6  # metrics.host an IPv6 address (::1)


class _MetricsHandler(BaseHTTPRequestHandler):
    server: _MetricsHTTPServer

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        if self.path.split("?", 1)[0] != "/metrics":
            self._send(404, b"not found: the metrics are at /metrics\n", "text/plain; charset=utf-8")
            return
        try:
            body = self.server.page.body()
        except BrainError as error:
            log.warning("metrics: the brain could not be read: %s", error)
            self._send(503, f"the brain could not be read: {error}\n".encode(), "text/plain; charset=utf-8")
            return
        except Exception as error:  # a scrape must never take the server thread down
            log.warning("metrics: scrape failed: %s: %s", type(error).__name__, error)
            self._send(500, b"scrape failed (see the headless log)\n", "text/plain; charset=utf-8")
            return
        # The classic text format every Prometheus reads (our names need none of 1.0.0's escaping).
        self._send(200, body, CONTENT_TYPE_PLAIN_0_0_4)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the scraper went away (gave up, was stopped): nothing to tell it

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (http.server's signature)
        log.debug("metrics: %s - %s", self.address_string(), format % args)


class MetricsServer:
    """The endpoint, serving in a daemon thread until `close()`."""

    def __init__(self, httpd: _MetricsHTTPServer, brain: Brain, reader: BrainReader):
        self._httpd = httpd
        self._brain = brain
        self.reader = reader
        self._thread = threading.Thread(target=httpd.serve_forever, name="huracan-metrics", daemon=True)
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._httpd.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{f'[{host}]' if ':' in host else host}:{port}/metrics"

    def close(self) -> None:
        self._httpd.page.stop()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        self._brain.close()


def serve_metrics(brain_url: str, config: HuracanConfig, *, holder: str,
                  leading: Callable[[], bool] | None = None,
                  before_page: Callable[[], None] | None = None) -> MetricsServer | None:
    """Start the endpoint the config asks for in this process (None when `metrics.enabled` is
    false): `huracan-tui --headless` runs it in a process of its own (metrics_process.py).
    `leading`: whether the process `holder` leads (default: the brain's lease says so);
    `before_page`: called before each page is made, returning when it may be. Raises
    MetricsUnavailable, one line, when it cannot listen there: checked first, before the brain is
    opened for it, so a headless process that cannot serve its metrics stops having done nothing."""
    settings = config.metrics
    if not settings.enabled:
        return None
    httpd = _listen(settings)
    try:
        brain = open_brain(brain_url, migrate=False)  # a pool of its own: scrapes never queue on the leader's
    except BaseException:
        httpd.server_close()
        raise
    reader = BrainReader(brain, config)
    httpd.page = MetricsPage(reader, leading=leading, holder=holder, cache_seconds=settings.cache_seconds,
                             before_page=before_page)
    httpd.page.start()
    server = MetricsServer(httpd, brain, reader)
    log.info("metrics: serving %s", server.url)
    return server


def _listen(settings: MetricsConfig) -> _MetricsHTTPServer:
    host, port = settings.host, settings.port
    server_class = _MetricsHTTPServer6 if ":" in host else _MetricsHTTPServer
    try:
        return server_class((host, port), _MetricsHandler)
    except socket.gaierror:
        raise MetricsUnavailable(f"metrics: host {host!r} is not an address of this machine; "
                                 f"set metrics.host in the config") from None
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            why = f"port {port} on {host} is already in use; set metrics.port in the config"
        elif error.errno == errno.EADDRNOTAVAIL:
            why = f"{host} is not an address of this machine; set metrics.host in the config"
        elif error.errno == errno.EACCES:
            why = f"port {port} on {host} needs privileges this process lacks; set metrics.port above 1023"
        else:
            why = f"cannot listen on {host}:{port}: {error.strerror or error}"
        raise MetricsUnavailable(f"metrics: {why}") from None
