"""`queuectl metrics`: the figures in Prometheus' text format, printed or served read-only."""

from __future__ import annotations

import datetime
import json
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import BIN, clean_env


def samples(text: str) -> dict[tuple, float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(found: dict, name: str, **labels: str) -> float:
    return found[name, tuple(sorted(labels.items()))]


def test_metrics_agree_with_status_and_the_totals_never_go_down(cli):
    ago = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=30)).isoformat()
    jobs = [{"id": "ok", "command": "true"}, {"id": "no", "command": "exit 3", "max_retries": 0}]
    assert cli("enqueue", "-", input="".join(json.dumps(j) + "\n" for j in jobs)).code == 0
    assert cli("worker", "start", "--burst").code == 0
    later = [{"id": "late", "command": "true", "run_at": ago}, {"id": "later", "command": "true", "delay": 3600}]
    assert cli("enqueue", "-", input="".join(json.dumps(j) + "\n" for j in later)).code == 0
    found = samples(cli("metrics").out)
    status = cli("status", "--json").json()
    for state, n in status["counts"].items():
        assert value(found, "queuectl_jobs", queue="default", state=state) == n
    assert status["counts"]["pending"] == 2 and status["finished_total"] == {"completed": 1, "dead": 1}
    assert value(found, "queuectl_finished_total", queue="default", state="completed") == 1
    assert value(found, "queuectl_finished_total", queue="default", state="dead") == 1
    assert 29 <= value(found, "queuectl_queue_latency_seconds", queue="default") < 120
    assert 29 <= status["latency_seconds"] < 120
    assert value(found, "queuectl_workers", state="busy") == value(found, "queuectl_workers", state="idle") == 0
    # the dead job retried and dead again, the completed one pruned: counted once more, never less
    assert cli("cancel", "late").code == 0 and cli("cancel", "later").code == 0
    assert cli("dlq", "retry", "no").code == 0
    assert cli("prune", "--state", "completed", "--older-than", "0s").code == 0
    assert cli("worker", "start", "--burst").code == 0
    found = samples(cli("metrics").out)
    assert value(found, "queuectl_jobs", queue="default", state="completed") == 0
    assert value(found, "queuectl_jobs", queue="default", state="dead") == 3
    assert value(found, "queuectl_finished_total", queue="default", state="completed") == 1
    assert value(found, "queuectl_finished_total", queue="default", state="dead") == 4  # no twice, late, later
    assert value(found, "queuectl_queue_latency_seconds", queue="default") == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, method: str = "GET") -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def test_serve_answers_get_metrics_on_loopback_and_nothing_else(db, cli):
    assert cli("enqueue", '{"command": "true"}').code == 0
    port = free_port()
    proc = subprocess.Popen([str(BIN / "queuectl"), "--db", db, "metrics", "--serve", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env())
    try:
        line = proc.stderr.readline()
        assert f"http://127.0.0.1:{port}/metrics" in line
        status, body = get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200 and value(samples(body), "queuectl_jobs", queue="default", state="pending") == 1
        assert cli("enqueue", '{"command": "true"}').code == 0
        assert value(samples(get(f"http://127.0.0.1:{port}/metrics")[1]), "queuectl_jobs",
                     queue="default", state="pending") == 2  # read afresh at each scrape
        assert get(f"http://127.0.0.1:{port}/")[0] == 404
        assert get(f"http://127.0.0.1:{port}/metrics/../admin")[0] == 404
        assert get(f"http://127.0.0.1:{port}/metrics", method="POST")[0] == 404
        assert get(f"http://127.0.0.1:{port}/metrics", method="DELETE")[0] == 404
        assert cli("status", "--json").json()["counts"]["pending"] == 2  # nothing was changed
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_serve_keeps_no_more_than_16_connections_and_slow_ones_never_keep_a_scrape_out(db):
    """Connections (anyone's who can reach the port) do not each take a thread of the owner's:
    enough of them would leave the workers of this user no process or thread to run a job. Nor can
    16 that never finish their request (a byte now and then) keep a scrape out: a new connection
    closes the oldest of them."""
    port = free_port()
    proc = subprocess.Popen([str(BIN / "queuectl"), "--db", db, "metrics", "--serve", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env())
    idle = []
    try:
        proc.stderr.readline()
        for _ in range(60):
            idle.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        assert all(s.recv(1) == b"" for s in idle[:44])  # each closed for a newer one
        for s in idle[44:]:
            s.settimeout(0.3)
            with pytest.raises(TimeoutError):  # still held by the server: open, unanswered
                s.recv(1)
            s.sendall(b"G")  # a request begun, and never finished
        with open(f"/proc/{proc.pid}/status") as status:
            threads = int(next(line.split()[1] for line in status if line.startswith("Threads:")))
        assert threads <= 16 + 2, threads  # and the serving thread, and the main one waiting for it
        for _ in range(3):
            assert get(f"http://127.0.0.1:{port}/metrics")[0] == 200
        for s in idle:
            s.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        for s in idle:
            s.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait()


@pytest.mark.parametrize("address", ["0", "99999", "host:", ":", "abc", "127.0.0.1:x"])
def test_serve_refuses_a_bad_address(cli, address):
    result = cli("metrics", "--serve", address)
    assert result.code == 2 and "[HOST:]PORT" in result.err and len(result.err.strip().splitlines()) == 1


def test_serve_refuses_a_port_in_use(cli):
    """A port in use is an operation that failed (exit 1), a host that does not resolve bad input (2)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = cli("metrics", "--serve", str(taken.getsockname()[1]))
    assert result.code == 1 and "cannot serve on 127.0.0.1" in result.err and "in use" in result.err
    unknown = cli("metrics", "--serve", "no-such-host.invalid:9100")
    assert unknown.code == 2 and "cannot serve on no-such-host.invalid:9100" in unknown.err
