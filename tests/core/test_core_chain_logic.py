"""A worker's chain (core.chain) as pure logic: what to run next, what to record, what to give back,
when the deadline passes. No threads, no database."""

from __future__ import annotations

from core.chain import CHAIN, CHAIN_SHORT, Chain, may_give_back
from core.models import Job
from core.outcome import Outcome


def job(name: str) -> Job:
    return Job(name, "true", "processing", 1, 0, 0, 0.0, None, 0.0, 0.0, worker="w1")


def done() -> Outcome:
    return Outcome("completed", None, 0, None, 1.0, 2.0)


def test_a_fresh_chain_has_nothing_waiting_and_no_next_job():
    chain = Chain()
    assert chain.time_left(0.0) is None  # a job run alone is never interrupted to write a chain
    assert chain.next(0.0, going_on=True) is None
    assert chain.to_record() == ([], [])


def test_a_claim_of_several_runs_the_backlog_in_order_while_the_time_lasts():
    chain = Chain()
    a, b, c = job("a"), job("b"), job("c")
    chain.recorded([a, b, c], now=100.0)  # a is run at once by the worker; b and c wait
    assert chain.backlog == [b, c] and chain.until == 100.0 + CHAIN_SHORT
    assert abs(chain.time_left(100.0) - CHAIN_SHORT) < 1e-9
    chain.end(a, done())
    assert chain.next(100.01, going_on=True) == b
    chain.end(b, done())
    assert chain.next(100.02, going_on=True) == c
    chain.end(c, done())
    assert chain.next(100.03, going_on=True) is None  # nothing left: record
    ended, unstarted = chain.to_record()
    assert [j.id for j, _ in ended] == ["a", "b", "c"] and unstarted == []


def test_past_the_deadline_the_chain_is_recorded_and_the_rest_given_back():
    chain = Chain()
    a, b = job("a"), job("b")
    chain.recorded([a, b], now=100.0)
    assert chain.time_left(100.0 + 2 * CHAIN_SHORT) == 0.0  # a slow job: write the chain at once
    chain.end(a, done())
    assert chain.next(100.0 + CHAIN_SHORT, going_on=True) is None
    ended, unstarted = chain.to_record()
    assert [j.id for j, _ in ended] == ["a"] and unstarted == [b]


def test_a_stopping_worker_or_a_cancel_in_the_backlog_ends_the_chain():
    chain = Chain()
    chain.recorded([job("a"), job("b"), job("c")], now=0.0)
    assert chain.next(0.0, going_on=False) is None
    chain.cancelled.add("c")  # the heartbeat saw a cancel request for a job not started
    assert chain.next(0.0, going_on=True) is None
    ended, unstarted = chain.to_record()
    assert [j.id for j in unstarted] == ["b", "c"]  # given back: the release ends c dead
    assert chain.cancelled == set()


def test_a_failed_write_forgets_nothing_and_a_written_one_starts_a_new_chain():
    chain = Chain()
    a, b = job("a"), job("b")
    chain.recorded([a, b], now=0.0)
    chain.end(a, done())
    first = chain.to_record()
    assert chain.to_record() == first  # not written yet: all of it is still there
    chain.recorded([job("c")], now=5.0)
    assert chain.to_record() == ([], []) and chain.until == 5.0 + CHAIN_SHORT


def test_how_many_to_claim_with_a_record():
    assert Chain.claim_size(CHAIN_SHORT / 2, going_on=True) == CHAIN
    assert Chain.claim_size(CHAIN_SHORT * 2, going_on=True) == 1
    assert Chain.claim_size(0.0, going_on=False) == 0


def test_another_chain_may_give_back_only_shortly_after_its_claim():
    assert may_give_back(100.0, now=100.0 + CHAIN_SHORT)
    assert not may_give_back(100.0, now=100.0 + 3 * CHAIN_SHORT)
    assert not may_give_back(None, now=100.0)
