"""SimulatedLine on an explicit clock: what arrives when, without sleeping."""

from __future__ import annotations

import pytest

from rpi_ess.devices.shdlc import build_request, next_frame, parse_reply
from rpi_ess.simulation.instruments import SIMULATORS, create_simulator
from rpi_ess.simulation.line import PACKET_TIME, RECEIVE_BUFFER, Faults, SimulatedLine, garble

T0 = 1000.0
STREAMING = [sensor_type for sensor_type in SIMULATORS if sensor_type != "Sps30"]


def drain(line: SimulatedLine, start: float, end: float, step: float = 0.01) -> bytes:
    """What a host polling every ``step`` seconds reads from ``start`` to ``end``."""
    data, now = b"", start
    while now <= end:
        line.advance(now)
        data += line.take(RECEIVE_BUFFER)
        now += step
    return data


@pytest.mark.parametrize("sensor_type", STREAMING)
def test_streams_the_simulators_exact_bytes_at_its_period(sensor_type: str) -> None:
    line = SimulatedLine(sensor_type, 4, seed=3, baud_rate=115200)
    line.open(T0)
    assert line.waiting == 0  # what was sent before the open reached nobody
    received = drain(line, T0, T0 + 20.0)
    reference = create_simulator(sensor_type, 4, seed=3)
    records = [reference.next_bytes() for _ in range(round(20.0 / reference.period) + 2)]
    stream = b"".join(records)
    # after the record cut by the open, the bytes are the simulator's, record after record
    whole = records[1] + records[2]
    assert whole in received and received in stream
    assert abs(len(received) - 20.0 / reference.period * len(records[1])) <= 3 * max(len(r) for r in records)


def test_bytes_arrive_at_the_baud_rate_in_packets() -> None:
    line = SimulatedLine("Temperature", 8, seed=1, baud_rate=19200)
    line.open(T0)
    line.advance(T0 + 0.5)  # the rest of the record the open cut, and nothing more (period 1.33 s)
    assert line.take(RECEIVE_BUFFER).endswith(b"\r\n")
    start = line.next_arrival()  # the next record's first bit
    line.advance(start + 0.010)  # 10 ms at 19200 baud (0.52 ms per character): 19 characters
    assert line.waiting == 19
    assert line.next_arrival() == pytest.approx(start + 0.010 + PACKET_TIME)
    line.advance(start + 0.010 + PACKET_TIME / 2)  # within a packet: nothing new
    assert line.waiting == 19


@pytest.mark.parametrize("seed", range(5))
def test_every_open_lands_inside_a_record(seed: int) -> None:
    line = SimulatedLine("Aurora", seed=seed, baud_rate=9600)
    line.open(T0)
    first = create_simulator("Aurora", seed=seed).next_bytes()
    tail = drain(line, T0, T0 + 0.1)
    assert 0 < len(tail) < len(first) and first.endswith(tail)


def test_a_reader_that_stops_loses_bytes_not_memory() -> None:
    line = SimulatedLine("EFM100C", seed=1, baud_rate=19200)
    line.open(T0)
    line.advance(T0 + 3600.0)
    assert line.waiting == RECEIVE_BUFFER
    assert line.overrun_bytes > 0
    assert line.skipped_records > 3600 / 0.05 - RECEIVE_BUFFER


def test_silent_instrument_sends_nothing() -> None:
    line = SimulatedLine("LD250", faults=Faults(silent=True))
    line.open(T0)
    assert drain(line, T0, T0 + 5.0, step=0.5) == b""
    assert line.next_arrival() == float("inf")


def test_wrong_baud_rate_garbles_every_byte() -> None:
    line = SimulatedLine("HX85A", seed=4, baud_rate=9600, faults=Faults(baud=19200))
    line.open(T0)
    received = drain(line, T0, T0 + 5.0)
    assert received and all(byte & 0x80 for byte in received)
    assert garble(b"\r\n") and b"\n" not in garble(bytes(range(128)))


@pytest.mark.parametrize(("ratio", "low", "high"), [(0.0, 50, 50), (0.5, 15, 35), (1.0, 0, 0)])
def test_garbage_replaces_the_given_fraction_of_records(ratio: float, low: int, high: int) -> None:
    line = SimulatedLine("CSAT3B", seed=5, baud_rate=115200, faults=Faults(garbage=ratio))
    line.open(T0)
    received = drain(line, T0, T0 + 6.0)
    reference = create_simulator("CSAT3B", seed=5)  # every record differs (counter, turbulence)
    records = [reference.next_bytes() for _ in range(52)][1:51]  # the first one is cut by the open
    assert low <= sum(record in received for record in records) <= high


def test_fail_after() -> None:
    line = SimulatedLine("Aurora", faults=Faults(fail_after=2.0))
    line.open(T0)
    assert not line.lost(T0 + 1.9) and line.lost(T0 + 2.0)


def read_reply(line: SimulatedLine, now: float) -> tuple[bytes | None, float]:
    buffer = b""
    while now < T0 + 60:
        now = line.next_arrival()
        line.advance(now)
        buffer += line.take(RECEIVE_BUFFER)
        frame, buffer = next_frame(buffer)
        if frame is not None:
            return frame, now
    return None, now


def test_sps30_answers_and_has_new_data_once_per_period() -> None:
    line = SimulatedLine("Sps30", seed=1, baud_rate=115200)
    line.open(T0)
    assert line.next_arrival() == float("inf")  # does not stream
    line.host_wrote(build_request(0x00, b"\x01\x03"), T0)
    frame, now = read_reply(line, T0)
    assert frame is not None and parse_reply(frame).state == 0
    assert now - T0 < 0.01  # a few ms, as the real sensor
    line.host_wrote(build_request(0x03), now)
    frame, now = read_reply(line, now)
    assert frame is not None and parse_reply(frame).data == b""  # the first measurement takes a second
    line.host_wrote(build_request(0x03), T0 + 1.0)
    frame, _ = read_reply(line, T0 + 1.0)
    assert frame is not None and len(parse_reply(frame).data) == 40


def test_sps30_polled_late_has_one_new_measurement_not_a_backlog() -> None:
    line = SimulatedLine("Sps30", seed=1, baud_rate=115200)
    line.open(T0)
    line.host_wrote(build_request(0x00, b"\x01\x03"), T0)
    read_reply(line, T0)
    sizes = []
    for now in (T0 + 3.5, T0 + 3.6, T0 + 4.1):
        line.host_wrote(build_request(0x03), now)
        frame, _ = read_reply(line, now)
        assert frame is not None
        sizes.append(len(parse_reply(frame).data))
    assert sizes == [40, 0, 40]
