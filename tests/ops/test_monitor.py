"""ByteMonitor: free without watchers, bounded per watcher, writes queued for the reader thread."""

from __future__ import annotations

import asyncio
import threading

import pytest

from rpi_ess.devices.monitor import MAX_PENDING_WRITES, ByteMonitor


def test_publish_without_watchers_keeps_nothing() -> None:
    monitor = ByteMonitor()
    monitor.publish("rx", b"abc")
    assert not monitor.watched
    late = monitor.subscribe(100)
    assert late.take().chunks == []  # what was published before subscribing is not replayed


def test_both_directions_in_order_and_filters() -> None:
    monitor = ByteMonitor(clock=iter(range(100)).__next__)
    both, rx_only = monitor.subscribe(100), monitor.subscribe(100, ("rx",))
    monitor.publish("tx", b"\x7e\x00\x03\x00\xfc\x7e")
    monitor.publish("rx", b"C01=1\r\n")
    monitor.publish("rx", b"")  # an empty read is not an event
    assert [(c.time, c.direction, c.data) for c in both.take().chunks] == [
        (0, "tx", b"\x7e\x00\x03\x00\xfc\x7e"), (1, "rx", b"C01=1\r\n")]
    assert [c.data for c in rx_only.take().chunks] == [b"C01=1\r\n"]


def test_slow_watcher_drops_counts_and_learns_it_once() -> None:
    monitor = ByteMonitor()
    slow, fast = monitor.subscribe(10), monitor.subscribe(1000)
    for data in (b"12345", b"67890", b"abcdefgh", b"ij"):  # the third does not fit in 10 bytes
        monitor.publish("rx", data)
    batch = slow.take()
    assert [c.data for c in batch.chunks] == [b"12345", b"67890"]
    assert batch.dropped_bytes == 10 and slow.dropped_chunks == 2
    assert slow.take().dropped_bytes == 0  # told once
    monitor.publish("rx", b"k")
    assert [c.data for c in slow.take().chunks] == [b"k"]  # room again after the take
    assert b"".join(c.data for c in fast.take().chunks) == b"1234567890abcdefghijk"  # others unaffected
    assert slow.dropped_bytes == 10


def test_unsubscribe_and_close() -> None:
    monitor = ByteMonitor()
    gone, ended = monitor.subscribe(100), monitor.subscribe(100)
    monitor.unsubscribe(gone)
    monitor.unsubscribe(gone)  # twice is harmless
    monitor.publish("rx", b"x")
    assert gone.take().chunks == []
    monitor.close()
    assert not monitor.watched
    batch = ended.take()
    assert [c.data for c in batch.chunks] == [b"x"] and batch.closed


def test_subscription_needs_room() -> None:
    with pytest.raises(ValueError):
        ByteMonitor().subscribe(0)


def test_writes_are_bounded_and_taken_once() -> None:
    monitor = ByteMonitor()
    assert monitor.take_writes() == b""
    assert monitor.submit_write(b"ab") and monitor.submit_write(b"cd")
    assert not monitor.submit_write(b"x" * MAX_PENDING_WRITES)  # would overflow: refused whole
    assert monitor.writes_refused == MAX_PENDING_WRITES
    assert monitor.take_writes() == b"abcd"
    assert monitor.take_writes() == b""
    assert monitor.submit_write(b"x" * MAX_PENDING_WRITES)  # room again


async def test_next_batch_returns_what_another_thread_published_meanwhile() -> None:
    monitor = ByteMonitor()
    subscription = monitor.subscribe(100)
    assert (await subscription.next_batch(0.01)).chunks == []  # nothing: returns after the timeout
    waiting = asyncio.ensure_future(subscription.next_batch(30.0, poll=0.01))
    await asyncio.sleep(0.05)
    threading.Thread(target=monitor.publish, args=("rx", b"late")).start()
    batch = await asyncio.wait_for(waiting, 10.0)  # long before the 30 s timeout
    assert [c.data for c in batch.chunks] == [b"late"]


async def test_next_batch_returns_when_the_monitor_closes() -> None:
    monitor = ByteMonitor()
    subscription = monitor.subscribe(100)
    waiting = asyncio.ensure_future(subscription.next_batch(30.0, poll=0.01))
    await asyncio.sleep(0.05)
    threading.Thread(target=monitor.close).start()
    assert (await asyncio.wait_for(waiting, 10.0)).closed
