//! One pre-trade check with every limit on (the accepting path, the common one), a fill
//! booked in the portfolio, the margin account's pre-trade check (3 instruments, cross), both
//! checks in a row (the whole pre-trade check of a futures order), and the live order path's
//! one call (`OrderEntry::place`: grid, risk check, intent line, signed Binance request).
//!
//! `cargo bench -p engine_core --bench risk`

use criterion::{criterion_group, criterion_main, Criterion};
use engine_core::execution::{Bracket, MarginAccount};
use engine_core::gateway::{
    BinanceEncoder, BinanceOrderRequest, EntryInstrument, EntryMarket, EntryOrder, IntentLog,
    OrderEntry,
};
use engine_core::risk::{
    ContractKind, ContractSpec, Fill, Order, OrderSide, Portfolio, RiskEngine, RiskLimits,
};
use engine_core::sim::{OrderType, TimeInForce};
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

/// A USDT cross-margin account with 3 instruments: BTC long, ETH short, a third flat with an
/// open order.
fn margin_account() -> MarginAccount {
    let brackets = [
        Bracket {
            notional_floor: 0.0,
            notional_cap: 50_000.0,
            maint_margin_ratio: 0.004,
            cum: 0.0,
            max_leverage: 125.0,
        },
        Bracket {
            notional_floor: 50_000.0,
            notional_cap: 250_000.0,
            maint_margin_ratio: 0.005,
            cum: 50.0,
            max_leverage: 100.0,
        },
    ];
    let mut m = MarginAccount::new("USDT", 100_000.0).unwrap();
    for _ in 0..3 {
        m.add_instrument(ContractKind::Linear, 1.0, 20.0, &brackets)
            .unwrap();
    }
    m.fill(0, OrderSide::Buy, Q, 60_000 * Q, 0.0).unwrap();
    m.fill(1, OrderSide::Sell, 10 * Q, 3_000 * Q, 0.0).unwrap();
    m.on_mark(0, 60_100 * Q).unwrap();
    m.on_mark(1, 2_990 * Q).unwrap();
    m.on_mark(2, 100 * Q).unwrap();
    m.place_order(1, 2, OrderSide::Buy, 10 * Q, 99 * Q)
        .unwrap()
        .unwrap();
    m
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
    g.bench_function("order_entry_place_native", |b| {
        let dir = std::env::temp_dir().join(format!("tc-bench-entry-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut log = IntentLog::create(&dir.join("j.intents"), 1 << 20).unwrap();
        let mut e = engine();
        let mut entry = OrderEntry::new(vec![EntryInstrument {
            symbol: "BTCUSDT".into(),
            tick: Q / 10,
            lot: Q / 1000,
        }])
        .unwrap();
        entry
            .set_native(BinanceOrderRequest {
                encoder: BinanceEncoder::new(b"bench-secret", 5000).unwrap(),
                head: b"POST /fapi/v1/order HTTP/1.1\r\nHost: fapi.binance.com\r\nX-MBX-APIKEY: k\r\n\
                        Content-Type: application/x-www-form-urlencoded\r\nConnection: keep-alive\r\n"
                    .to_vec(),
                venue_symbols: vec!["BTCUSDT".into()],
                client_prefix: "tc".into(),
            })
            .unwrap();
        let market = EntryMarket {
            reference: 60_000 * Q,
            data_ts: 1,
            in_sync: true,
        };
        let mut request = Vec::with_capacity(512);
        let mut id = 0u64;
        let order = |client_id| EntryOrder {
            client_id,
            instrument: 0,
            side: OrderSide::Buy,
            order_type: OrderType::Limit,
            price: 59_990 * Q,
            qty: Q / 1000,
            tif: TimeInForce::PostOnly,
            reduce_only: false,
        };
        let first = entry.place(&mut e, &mut log, &order(u64::MAX), market, 1, &mut request);
        assert!(matches!(first, Ok(Ok(()))) && request.len() > 300, "the benched order is accepted");
        e.order_closed(u64::MAX);
        b.iter(|| {
            id += 1;
            request.clear();
            let r = entry.place(&mut e, &mut log, &order(id), market, 1_700_000_000_000_000_000, &mut request);
            e.order_closed(id);
            if id % 1000 == 0 {
                log.reset(); // the journal empties it at each flush
            }
            black_box(matches!(r, Ok(Ok(()))))
        });
        let _ = std::fs::remove_dir_all(dir);
    });
    g.finish();
}

/// The margin account's pre-trade check (an order that needs margin: the available balance
/// is computed over the 3 instruments).
fn margin(c: &mut Criterion) {
    let mut g = c.benchmark_group("risk");
    g.bench_function("margin_check_order", |b| {
        let m = margin_account();
        let mut id = 0u64;
        b.iter(|| {
            id += 1;
            let side = if id % 2 == 0 {
                OrderSide::Buy
            } else {
                OrderSide::Sell
            };
            let r = m.check_order(black_box(2), side, black_box(Q), black_box(100 * Q));
            black_box(matches!(r, Ok(Ok(()))))
        });
    });
    // The whole pre-trade check of a futures order: every risk limit, then the account's
    // margin (what the backtest, paper and the order path run before an order goes out).
    g.bench_function("check_all_limits_and_margin", |b| {
        let mut e = engine();
        let m = margin_account();
        let mut id = 0u64;
        b.iter(|| {
            id += 1;
            let side = if id % 2 == 0 {
                OrderSide::Buy
            } else {
                OrderSide::Sell
            };
            let o = Order {
                client_id: id,
                instrument: 2,
                side,
                price: 60_000 * Q + if id % 2 == 0 { -Q } else { Q },
                qty: Q / 10,
                reduce_only: false,
                modify: false,
            };
            let ok = e.check(&o, 1).is_ok()
                && matches!(m.check_order(2, side, o.qty, o.price), Ok(Ok(())));
            black_box(ok)
        });
    });
    g.finish();
}

criterion_group!(benches, bench, margin);
criterion_main!(benches);
