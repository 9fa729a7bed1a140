//! The backtest replay loop over the real BTCUSDT capture held in memory, in pieces of
//! 8,192 events (as the Python driver hands them over): both clocks, the local book, the
//! simulator (its book is fed while an order of ours is there) and the risk engine on.
//!
//! - `noop`: no subscription, nothing wakes (the loop's own cost per event).
//! - `maker_in_rust`: woken on every book message, requotes at the touch through the risk
//!   checks and the simulator (orders, queue positions, fills, answers).
//!
//! `cargo bench -p engine_core --bench replay`

#[path = "common.rs"]
mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use engine_core::execution::{AccountSetup, Bracket};
use engine_core::replay::{
    FeedLatency, InstrumentSetup, OrderRequest, Replay, ReplayConfig, Subscriptions, Wake,
};
use engine_core::risk::{ContractKind, ContractSpec, OrderSide, RiskLimits};
use engine_core::sim::{LatencyModel, OrderType, QueueModel, TimeInForce};
use engine_core::Event;
use std::hint::black_box;

const CHUNK: usize = 8_192;
const MS: i64 = 1_000_000;

fn replay(subs: Subscriptions) -> Replay {
    let setup = InstrumentSetup {
        tick: 100_000_000,
        lot: 1_000_000,
        book_lot: 0,
        spec: ContractSpec::new(ContractKind::Linear, 1.0, -0.0001, 0.0004).unwrap(),
        filters: engine_core::instrument::OrderFilters::default(),
    };
    Replay::new(
        &[setup],
        ReplayConfig {
            latency: LatencyModel::constant(5 * MS, 5 * MS).unwrap(),
            queue: QueueModel::Conservative,
            feed: FeedLatency::Recorded { offset: None },
            initial: 100_000.0,
            sample_ns: 1_000 * MS,
            limits: RiskLimits {
                max_position: Some(1_000_000_000),
                ..RiskLimits::default()
            },
            subscriptions: subs,
            // accounts on: a USD-M margin account (Binance's first BTCUSDT brackets)
            account: AccountSetup::Margin {
                asset: "USDT".into(),
                wallet: 100_000.0,
                leverage: vec![20.0],
                brackets: vec![vec![
                    Bracket {
                        notional_floor: 0.0,
                        notional_cap: 50_000.0,
                        maint_margin_ratio: 0.004,
                        cum: 0.0,
                        max_leverage: 125.0,
                    },
                    Bracket {
                        notional_floor: 50_000.0,
                        notional_cap: f64::INFINITY,
                        maint_margin_ratio: 0.005,
                        cum: 50.0,
                        max_leverage: 100.0,
                    },
                ]],
                liquidation_fee: 0.0125,
            },
        },
    )
    .unwrap()
}

fn run(events: &[Event], subs: Subscriptions, mut on_wake: impl FnMut(&mut Replay, Wake)) -> u64 {
    let mut r = replay(subs);
    let mut chunks = events.chunks(CHUNK);
    loop {
        match r.step().unwrap() {
            Wake::NeedData => match chunks.next() {
                Some(c) => r.push(c).unwrap(),
                None => r.finish(),
            },
            Wake::End => break,
            w => on_wake(&mut r, w),
        }
    }
    r.events()
}

fn maker(r: &mut Replay, w: Wake) {
    if let Wake::Book(0) = w {
        let book = r.book(0).unwrap();
        let (Some(bid), Some(ask)) = (book.best_bid(), book.best_ask()) else {
            return;
        };
        for id in r.open_orders().to_vec() {
            let o = *r.order(id).unwrap();
            let want = if o.side == OrderSide::Buy {
                bid.price
            } else {
                ask.price
            };
            if o.price != want {
                let _ = r.cancel(id);
            }
        }
        if r.open_orders().len() < 2 {
            let pos = r.portfolio().position(0).unwrap().qty;
            let side = if pos > 0 {
                OrderSide::Sell
            } else {
                OrderSide::Buy
            };
            let price = if side == OrderSide::Buy {
                bid.price
            } else {
                ask.price
            };
            let _ = r.submit(OrderRequest {
                instrument: 0,
                side,
                order_type: OrderType::Limit,
                price,
                qty: 1_000_000,
                tif: TimeInForce::PostOnly,
                reduce_only: false,
                client_id: None,
                trigger: None,
            });
        }
    }
}

fn bench(c: &mut Criterion) {
    let (path, label) = common::usdm_capture();
    let events = common::read_events(&path);
    eprintln!("replay: {} events of {label}", events.len());
    let mut g = c.benchmark_group("replay");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.sample_size(20);
    g.bench_function("noop", |b| {
        b.iter(|| black_box(run(&events, Subscriptions::default(), |_, _| {})));
    });
    let subs = Subscriptions {
        book: true,
        orders: true,
        ..Subscriptions::default()
    };
    g.bench_function("maker_in_rust", |b| {
        b.iter(|| black_box(run(&events, subs, maker)));
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
