"""The Parquet tick store: lossless round trip, partitions, instrument metadata, the merged
replay of several symbols, bounded memory, and errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

import tradecore
from tradecore import Instrument, TickStore
from tradecore.data.store import DAY_NS, sort_key
from tradecore.errors import DataError, InvalidInput

USDM = Instrument("binance-usdm", "BTCUSDT", "0.1", "0.001")


@pytest.fixture(scope="module")
def synthetic_events(synthetic_capture: Path) -> np.ndarray:
    events, _ = tradecore.read_capture(synthetic_capture)
    return events


def test_round_trip_is_lossless(tmp_path: Path, synthetic_events: np.ndarray) -> None:
    store = TickStore(tmp_path)
    paths = store.write(synthetic_events, USDM)
    back = store.read("binance-usdm", "BTCUSDT")
    assert back.dtype == tradecore.EVENT_DTYPE
    assert np.array_equal(back, synthetic_events)  # every field of every event
    assert store.instrument("binance-usdm", "BTCUSDT") == USDM
    # Hive layout, one column per field, times as UTC timestamps, metadata in every file.
    day = paths[0].parent.name
    assert paths[0].relative_to(tmp_path).parts[:2] == ("venue=binance-usdm", "symbol=BTCUSDT")
    assert day.startswith("date=")
    schema = pq.read_schema(paths[0])
    assert schema.names == list(tradecore.EVENT_DTYPE.names)
    assert str(schema.field("exch_ts").type) == "timestamp[ns, tz=UTC]"
    assert json.loads(schema.metadata[b"tradecore.instrument"])["tick_size"] == "0.1"


def test_real_capture_round_trip_across_midnight(tmp_path: Path, binance_dir: Path) -> None:
    events, _ = tradecore.read_binance(binance_dir / "usdm_btcusdt_20240808.gz")
    store = TickStore(tmp_path)
    store.write(events, USDM)
    parts = store.partitions()
    assert [p.date for p in parts] == ["2024-08-08", "2024-08-09"]
    # Each event goes to the UTC date of its exchange time; within a date the order is kept.
    day = sort_key(events) // DAY_NS
    expected = events[np.argsort(day, kind="stable")]
    assert np.array_equal(store.read("binance-usdm", "BTCUSDT"), expected)
    # A time window reads exactly the events inside it.
    lo, hi = "2024-08-08T23:57:00", "2024-08-09T00:00:00.500"
    window = store.read("binance-usdm", "BTCUSDT", start=lo, end=hi)
    key = sort_key(expected)
    lo_ns = int(np.datetime64(lo, "ns").astype(np.int64))
    hi_ns = int(np.datetime64(hi, "ns").astype(np.int64))
    assert np.array_equal(window, expected[(key >= lo_ns) & (key < hi_ns)])
    assert [p.date for p in store.partitions(start="2024-08-09")] == ["2024-08-09"]


def test_chunks_are_exact_and_equal_a_whole_read(tmp_path: Path, synthetic_events: np.ndarray) -> None:
    store = TickStore(tmp_path)
    with store.writer(USDM, row_group_events=5_000) as w:
        for start in range(0, len(synthetic_events), 7_919):
            w.write(synthetic_events[start:start + 7_919])
    chunks = list(store.replay(chunk_events=3_333))
    assert all(len(c) == 3_333 for c in chunks[:-1])
    assert np.array_equal(np.concatenate(chunks), synthetic_events)


def _merge_reference(streams: list[np.ndarray]) -> list[tuple[int, int]]:
    """The merge rule one event at a time: the earliest head first, ties to the lower index."""
    pos = [0] * len(streams)
    keys = [sort_key(s) for s in streams]
    out = []
    while True:
        heads = [(int(keys[i][pos[i]]), i) for i in range(len(streams)) if pos[i] < len(streams[i])]
        if not heads:
            return out
        _, i = min(heads)
        out.append((i, pos[i]))
        pos[i] += 1


def test_several_symbols_replay_merged_by_exchange_time(tmp_path: Path) -> None:
    store = TickStore(tmp_path)
    streams = []
    for seed, symbol in ((1, "BTCUSDT"), (2, "ETHUSDT")):
        path = tmp_path / f"{symbol}.gz"
        tradecore.synth_binance(path, seconds=8, seed=seed, symbol=symbol)
        events, _ = tradecore.read_capture(path)
        store.write(events, Instrument("binance-usdm", symbol, "0.1", "0.001"))
        streams.append(events)
    replay = store.replay([("binance-usdm", "ETHUSDT"), ("binance-usdm", "BTCUSDT")], chunk_events=1_000)
    merged = np.concatenate(list(replay))
    assert [i.symbol for i in replay.instruments] == ["ETHUSDT", "BTCUSDT"]
    order = _merge_reference([streams[1], streams[0]])
    assert len(merged) == len(order)
    assert merged["instrument"].tolist() == [i for i, _ in order]
    for idx, events in ((0, streams[1]), (1, streams[0])):
        mine = merged[merged["instrument"] == idx]
        mine["instrument"] = 0
        assert np.array_equal(mine, events)  # each symbol's own order, untouched


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="peak RSS is read from /proc")
def test_memory_is_bounded_by_the_chunk_size(tmp_path: Path) -> None:
    """Peak RSS of a chunked replay (chunks of 20,000 events, 1.3 MB) does not follow the
    data: about the same on ~0.4 M events as on four times that (95 MB as records, 70x the
    chunk budget), while a whole read grows by the whole array."""
    capture = tmp_path / "big.gz"
    tradecore.synth_binance(capture, seconds=300, seed=5)
    for copies, name in ((1, "one"), (4, "four")):
        store = TickStore(tmp_path / name)
        for _ in range(copies):
            with store.writer(USDM, mode="append", row_group_events=32_768) as w:
                for chunk in tradecore.iter_capture(capture, chunk_events=100_000):
                    w.write(chunk)
    script = textwrap.dedent("""
        import sys
        import tradecore
        store = tradecore.TickStore(sys.argv[1])
        next(store.replay(chunk_events=1000))  # warm up: imports, first buffers
        def peak():
            # This process's own peak RSS (ru_maxrss would start from the parent's peak).
            with open("/proc/self/status") as f:
                return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024
        base = peak()
        if sys.argv[2] == "chunks":
            n = sum(len(c) for c in store.replay(chunk_events=20_000))
        else:
            n = len(store.read("binance-usdm", "BTCUSDT"))
        print(n, peak() - base)
    """)

    def grew(name: str, mode: str) -> tuple[int, float]:
        out = subprocess.run([sys.executable, "-c", script, str(tmp_path / name), mode],
                             capture_output=True, text=True, check=True)
        n, mb = out.stdout.split()
        return int(n), float(mb)

    n1, small = grew("one", "chunks")
    n4, large = grew("four", "chunks")
    nw, whole = grew("four", "whole")
    assert nw == n4
    large_mb = n4 * 64 / 2**20
    assert n4 == 4 * n1 and large_mb > 80
    # Four times the data: 71 MB more as records, a few MB more of peak (allocator slack, and
    # how far the read-ahead thread runs, which varies with the machine's load: 2-16 MB seen).
    assert large - small < 0.3 * (large_mb - large_mb / 4), (small, large)
    assert large < 0.5 * large_mb, (large, large_mb)
    assert whole > max(0.5 * large_mb, 2 * large), (whole, large, large_mb)


def test_writes_refuse_to_mix_data_unless_asked(tmp_path: Path, synthetic_events: np.ndarray) -> None:
    store = TickStore(tmp_path)
    store.write(synthetic_events, USDM)
    with pytest.raises(DataError, match="already holds data"):
        store.write(synthetic_events, USDM)
    store.write(synthetic_events[:10], USDM, mode="append")
    assert len(store.read("binance-usdm", "BTCUSDT")) == len(synthetic_events) + 10
    store.write(synthetic_events[:10], USDM, mode="overwrite")
    assert np.array_equal(store.read("binance-usdm", "BTCUSDT"), synthetic_events[:10])


def test_bad_input_gets_clear_errors(tmp_path: Path, synthetic_events: np.ndarray) -> None:
    store = TickStore(tmp_path)
    with pytest.raises(InvalidInput, match="dtype"):
        store.write(np.zeros(3), USDM)
    with pytest.raises(InvalidInput, match="binance-usdm/NOPE"):
        store.read("binance-usdm", "NOPE")
    with pytest.raises(InvalidInput, match="tick_size: '-1'"):
        Instrument("x", "y", "-1", "1")
    with pytest.raises(InvalidInput, match="kind"):
        Instrument("x", "y", "1", "1", kind="perpetual")
    with pytest.raises(InvalidInput, match="start"):
        list(store.replay([("binance-usdm", "BTCUSDT")], start="yesterday"))
    folder = store.partition_path("binance-usdm", "BTCUSDT", "2024-01-01")
    folder.mkdir(parents=True)
    pq.write_table(pq.read_table(store.write(synthetic_events[:5], USDM, mode="append")[0]).replace_schema_metadata({}),
                   folder / "part-00000.parquet")
    with pytest.raises(DataError, match="not a tradecore event file"):
        store.read("binance-usdm", "BTCUSDT")


def test_instruments_can_be_inferred_from_the_data(synthetic_events: np.ndarray) -> None:
    inst = Instrument.infer(synthetic_events, "binance-usdm", "BTCUSDT")
    assert (inst.tick_size, inst.lot_size, inst.kind, inst.inferred) == ("0.1", "0.001", "linear", True)
    assert Instrument.from_json(inst.to_json()) == inst
