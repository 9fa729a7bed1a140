"""One pre-trade check from Python (every limit on, the accepting path)."""

from __future__ import annotations

from pytest_benchmark.fixture import BenchmarkFixture

import tradecore


def test_risk_check_from_python(benchmark: BenchmarkFixture) -> None:
    e = tradecore.RiskEngine(max_order_qty=10, max_order_notional=1e9, max_position=1e6, max_gross_exposure=1e12,
                             price_band_bps=500, max_submits_per_sec=10**9, max_open_orders=10**6,
                             max_data_age_ms=1e12, self_trade_prevention=True)
    i = e.add_instrument()
    e.on_market(i, 60_000.0, local_ts=0)
    n = 20_000
    benchmark.extra_info.update(items=n, unit="check")
    ids = iter(range(1, 10**9))

    def run() -> None:
        check = e.check
        for _ in range(n):
            k = next(ids)
            check(k, i, "buy", 0.1, 59_990.0, now=1)
            e.order_closed(k)

    benchmark.pedantic(run, rounds=9, iterations=1, warmup_rounds=1)
