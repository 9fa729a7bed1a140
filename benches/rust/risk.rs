//! One pre-trade check with every limit on (the accepting path, the common one), and a fill
//! booked in the portfolio.
//!
//! `cargo bench -p engine_core --bench risk`

use criterion::{criterion_group, criterion_main, Criterion};
use engine_core::risk::{
    ContractKind, ContractSpec, Fill, Order, OrderSide, Portfolio, RiskEngine, RiskLimits,
};
use std::hint::black_box;

const Q: i64 = 1_000_000_000;

fn engine() -> RiskEngine {
    let mut e = RiskEngine::new(RiskLimits {
        max_order_qty: Some(10 * Q),
        max_order_notional: Some(1e9),
        max_position: Some(1_000_000 * Q),
        max_gross_exposure: Some(1e12),
        price_band_bps: Some(500.0),
        max_submits_per_sec: Some(1_000_000_000),
        max_submits_per_min: Some(1_000_000_000),
        max_open_orders: Some(1_000_000),
        max_data_age_ns: Some(i64::MAX / 2),
        self_trade_prevention: true,
        ..RiskLimits::default()
    })
    .unwrap();
    for _ in 0..4 {
        let i = e.add_instrument(1.0, false).unwrap();
        e.on_market(i, 60_000 * Q, 0, true).unwrap();
    }
    e
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("risk");
    g.bench_function("check_all_limits", |b| {
        let mut e = engine();
        let mut id = 0u64;
        b.iter(|| {
            id += 1;
            let o = Order {
                client_id: id,
                instrument: 1,
                side: if id % 2 == 0 {
                    OrderSide::Buy
                } else {
                    OrderSide::Sell
                },
                price: 60_000 * Q + if id % 2 == 0 { -Q } else { Q },
                qty: Q / 10,
                reduce_only: false,
                modify: false,
            };
            black_box(e.check(&o, 1).is_ok())
        });
    });
    g.bench_function("portfolio_fill", |b| {
        let mut p = Portfolio::new(1e6).unwrap();
        p.add_instrument(ContractSpec::new(ContractKind::Linear, 1.0, 0.0002, 0.0005).unwrap());
        let mut k = 0i64;
        b.iter(|| {
            k += 1;
            let f = Fill {
                instrument: 0,
                side: if k % 3 == 0 { -1 } else { 1 },
                price: 60_000 * Q + (k % 7) * Q,
                qty: Q / 10,
                maker: k % 2 == 0,
            };
            black_box(p.fill(&f).is_ok())
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
