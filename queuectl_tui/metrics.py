"""`queuectl metrics`: the queue's figures (Queue.figures, as status shows them) in the Prometheus
text format, printed once or served read-only on GET /metrics.

prometheus-client writes the format (names, escaping, HELP/TYPE lines); it is imported only here.
The server answers GET (and HEAD) /metrics and nothing else but a 404: no other path, no write.
"""

from __future__ import annotations

import http.server
import signal
import socket
import sys
import threading
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from core.errors import InvalidInput, QueueError
from core.queue import Queue

DEFAULT_HOST = "127.0.0.1"
MAX_CLIENTS = 16  # connections served at once; a scrape takes milliseconds
CLIENT_TIMEOUT = 10.0  # seconds a connection may stay silent before it is closed


class QueueCollector:
    """Reads the figures afresh at each scrape."""

    def __init__(self, queue: Queue) -> None:
        self.queue = queue

    def collect(self):
        f = self.queue.figures(per_queue=True)
        jobs = GaugeMetricFamily("queuectl_jobs", "Jobs by queue and state.", labels=["queue", "state"])
        latency = GaugeMetricFamily("queuectl_queue_latency_seconds",
                                    "Age of the oldest job that is due and waiting to run (0: none).",
                                    labels=["queue"])
        finished = CounterMetricFamily("queuectl_finished", "Jobs that reached completed or dead, ever.",
                                       labels=["queue", "state"])
        totals = {(info.name, state): 0 for info in f.queues for state in ("completed", "dead")}
        totals.update(f.finished)
        for info in f.queues:
            for state, n in info.counts.items():
                jobs.add_metric([info.name, state], n)
            latency.add_metric([info.name], f.latencies.get(info.name, 0.0))
        for (queue, state), n in sorted(totals.items()):
            finished.add_metric([queue, state], n)
        workers = GaugeMetricFamily("queuectl_workers", "Live workers, busy or idle.", labels=["state"])
        workers.add_metric(["busy"], f.busy)
        workers.add_metric(["idle"], len(f.workers) - f.busy)
        return [jobs, latency, workers, finished]


def registry(queue: Queue) -> CollectorRegistry:
    found = CollectorRegistry(auto_describe=False)
    found.register(QueueCollector(queue))
    return found


def exposition(queue: Queue) -> bytes:
    return generate_latest(registry(queue))


def parse_address(text: str) -> tuple[str, int]:
    """[HOST:]PORT, HOST an IPv4 address, a name, or [IPv6]; InvalidInput if it is not that."""
    host, colon, port = text.rpartition(":")
    host = host.strip("[]") if colon else DEFAULT_HOST
    if not port.isdigit() or not 1 <= int(port) <= 65535 or (colon and not host):
        raise InvalidInput(f"--serve takes [HOST:]PORT with PORT 1..65535, e.g. 9100 or 0.0.0.0:9100; got {text!r}")
    return host, int(port)


def handler(metrics: CollectorRegistry) -> type[http.server.BaseHTTPRequestHandler]:
    """GET and HEAD /metrics; anything else, any other method included, a 404: read-only."""

    class Handler(http.server.BaseHTTPRequestHandler):
        timeout = CLIENT_TIMEOUT  # a client that sends nothing does not keep its thread

        def parse_request(self) -> bool:
            ok = super().parse_request()  # the request line and headers are read
            self.server.answering(self.request)  # type: ignore[attr-defined]
            return ok

        def do_GET(self) -> None:
            self.answer(body=True)

        def do_HEAD(self) -> None:
            self.answer(body=False)

        def answer(self, body: bool) -> None:
            if self.path.split("?", 1)[0] != "/metrics":
                self.send_error(404)
                return
            data = generate_latest(metrics)
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE_LATEST)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body:
                self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # scrapes are not news
            pass

    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        setattr(Handler, f"do_{method}", lambda self: self.send_error(404))
    return Handler


class BoundedServer(http.server.ThreadingHTTPServer):
    """A thread per connection, at most MAX_CLIENTS at once, so that connections (anyone's who can
    reach the port) cannot take every thread this user may start, which the workers need for their
    jobs. When all are taken, a new connection closes the oldest one still sending its request: idle
    or slow clients (a byte now and then) cannot keep a scrape out, as a scraper sends its request
    at once and is answered in milliseconds."""

    daemon_threads = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.slots = threading.BoundedSemaphore(MAX_CLIENTS)
        self.lock = threading.Lock()
        self.unanswered: dict[Any, None] = {}  # connections still sending their request, oldest first

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            self.close_oldest_unanswered()
            if not self.slots.acquire(timeout=1.0):  # every connection is being answered: really busy
                self.shutdown_request(request)
                return
        with self.lock:
            self.unanswered[request] = None
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.answering(request)
            self.slots.release()
            raise

    def answering(self, request: Any) -> None:
        with self.lock:
            self.unanswered.pop(request, None)

    def close_oldest_unanswered(self) -> None:
        with self.lock:
            oldest = next(iter(self.unanswered), None)
            if oldest is None:
                return
            del self.unanswered[oldest]
        try:
            oldest.shutdown(socket.SHUT_RDWR)  # its thread's read ends; the thread gives its slot back
        except OSError:
            pass

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.answering(request)
            self.slots.release()


def serve(queue: Queue, address: str) -> None:
    """Answer GET /metrics on address until SIGINT or SIGTERM."""
    host, port = parse_address(address)
    server_class: type[BoundedServer] = BoundedServer
    if ":" in host:
        server_class = type("Server6", (server_class,), {"address_family": socket.AF_INET6})
    try:
        server = server_class((host, port), handler(registry(queue)))
    except socket.gaierror as exc:  # a host name that does not resolve: the argument is wrong
        raise InvalidInput(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
    except OSError as exc:  # the port is taken, the address is not this machine's: the operation failed
        raise QueueError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None

    def stop(signum: int, frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()  # shutdown() from the serving thread would hang

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    shown = f"[{host}]" if ":" in host else host
    print(f"serving metrics of {queue.location} on http://{shown}:{port}/metrics", file=sys.stderr)
    with server:
        server.serve_forever()
