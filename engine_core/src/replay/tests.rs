use super::*;
use crate::event::{ASK, BID};
use crate::types::OrderStatus;

const Q: i64 = SCALE; // 1.0
const T: i64 = SCALE / 10; // tick 0.1
const LOT: i64 = SCALE / 1000;

fn setup() -> InstrumentSetup {
    InstrumentSetup {
        tick: T,
        lot: LOT,
        book_lot: 0,
        spec: ContractSpec::new(ContractKind::Linear, 1.0, -0.0001, 0.0004).unwrap(),
        filters: OrderFilters::default(),
    }
}

fn config(entry: i64, response: i64, feed: FeedLatency) -> ReplayConfig {
    ReplayConfig {
        latency: LatencyModel::constant(entry, response).unwrap(),
        queue: QueueModel::Conservative,
        feed,
        initial: 10_000.0,
        sample_ns: 1_000,
        limits: RiskLimits::default(),
        subscriptions: Subscriptions {
            book: true,
            trade: true,
            bbo: false,
            orders: true,
            timer_ns: 0,
            market: 0,
        },
        account: AccountSetup::Unchecked,
    }
}

fn level(x: i64, l: i64, side: i8, price: i64, qty: i64) -> Event {
    Event {
        exch_ts: x,
        local_ts: l,
        kind: kind::DEPTH,
        side,
        price,
        qty,
        flags: flags::LAST_IN_MESSAGE,
        ..Event::default()
    }
}

fn trade(x: i64, l: i64, aggressor: i8, price: i64, qty: i64) -> Event {
    Event {
        exch_ts: x,
        local_ts: l,
        kind: kind::TRADE,
        side: aggressor,
        price,
        qty,
        flags: flags::LAST_IN_MESSAGE,
        ..Event::default()
    }
}

/// Runs `events` in chunks of `chunk`, calling `on_wake` at each wake-up; returns the wakes.
fn run(
    events: &[Event],
    chunk: usize,
    cfg: ReplayConfig,
    mut on_wake: impl FnMut(&mut Replay, &Wake),
) -> (Replay, Vec<Wake>) {
    let mut r = Replay::new(&[setup()], cfg).unwrap();
    let mut wakes = Vec::new();
    let mut chunks = events.chunks(chunk.max(1));
    loop {
        match r.step().unwrap() {
            Wake::NeedData => match chunks.next() {
                Some(c) => r.push(c).unwrap(),
                None => r.finish(),
            },
            Wake::End => break,
            w => {
                on_wake(&mut r, &w);
                wakes.push(w);
            }
        }
    }
    (r, wakes)
}

fn buy(price: i64, qty: i64, tif: TimeInForce) -> OrderRequest {
    OrderRequest {
        instrument: 0,
        side: OrderSide::Buy,
        order_type: if price == 0 {
            OrderType::Market
        } else {
            OrderType::Limit
        },
        price,
        qty,
        tif,
        reduce_only: false,
        client_id: None,
        trigger: None,
    }
}

/// Bid 100.0 x 5, ask 100.1 x 3 at exchange time 0, seen locally at 10.
fn opening() -> Vec<Event> {
    vec![
        Event {
            flags: 0,
            ..level(0, 10, BID, 1000 * T, 5 * Q)
        },
        level(0, 10, ASK, 1001 * T, 3 * Q),
    ]
}

#[test]
fn no_look_ahead_an_order_never_fills_on_data_from_before_it_arrived() {
    // The strategy sees the book at 10 and bids 100.0 at once; with 50 ns entry latency the
    // order reaches the exchange at 60. A sell of 9 at 100.0 at exchange time 40 (before the
    // order arrived, though the strategy only sees it at 70) must not fill it, nor count as
    // queue ahead consumed; a later sell of 6 at 100 trades the 5 ahead of it and 1 of ours.
    let mut events = opening();
    events.push(trade(40, 70, ASK, 1000 * T, 9 * Q));
    events.push(level(41, 71, BID, 1000 * T, 5 * Q)); // the level refills to 5
    events.push(trade(100, 130, ASK, 1000 * T, 6 * Q));
    events.push(level(200, 230, BID, 999 * T, Q));
    let mut sent = false;
    let (r, _) = run(
        &events,
        100,
        config(50, 5, FeedLatency::Recorded { offset: Some(0) }),
        |r, w| {
            if matches!(w, Wake::Book(0)) && !sent {
                sent = true;
                assert_eq!(r.now(), 10);
                r.submit(buy(1000 * T, 2 * Q, TimeInForce::Gtc))
                    .unwrap()
                    .unwrap();
            }
        },
    );
    let fills = r.fills();
    assert_eq!(fills.len(), 1, "{fills:?}");
    assert_eq!(
        (fills[0].exch_ts, fills[0].qty, fills[0].maker),
        (100, Q, true)
    );
    // The strategy learns of it a response latency later.
    assert_eq!(fills[0].local_ts, 105);
    assert_eq!(r.portfolio().position(0).unwrap().qty, Q);
}

#[test]
fn latency_puts_a_taker_behind_the_price_move() {
    // The ask 100.1 is taken away at exchange time 30; a buy at 100.1 sent at local 10 with
    // 25 ns entry latency arrives at 35 and finds nothing to take: it rests.
    let mut events = opening();
    events.push(level(30, 40, ASK, 1001 * T, 0));
    events.push(level(30, 40, ASK, 1003 * T, 2 * Q));
    events.push(level(90, 95, BID, 999 * T, Q));
    let mut sent = false;
    let (r, wakes) = run(
        &events,
        3,
        config(25, 0, FeedLatency::Recorded { offset: Some(0) }),
        |r, w| {
            if matches!(w, Wake::Book(0)) && !sent {
                sent = true;
                r.submit(buy(1001 * T, Q, TimeInForce::Ioc))
                    .unwrap()
                    .unwrap();
            }
        },
    );
    assert!(r.fills().is_empty());
    let cancelled = wakes.iter().any(|w| {
        matches!(w, Wake::Order(u) if u.kind == UpdateKind::Cancelled && u.exch_ts == 35 && u.remaining == Q)
    });
    assert!(cancelled, "{wakes:?}");
    // With no latency the same order takes the ask.
    let mut sent = false;
    let (r, _) = run(
        &events,
        3,
        config(0, 0, FeedLatency::Constant(0)),
        |r, w| {
            if matches!(w, Wake::Book(0)) && !sent {
                sent = true;
                r.submit(buy(1001 * T, Q, TimeInForce::Ioc))
                    .unwrap()
                    .unwrap();
            }
        },
    );
    assert_eq!(r.fills().len(), 1);
    assert_eq!((r.fills()[0].price, r.fills()[0].maker), (1001 * T, false));
}

#[test]
fn the_local_clock_follows_the_feed_latency_and_the_clock_offset() {
    // The recorder's clock is 1000 ns behind the exchange's: local_ts = exch_ts - 1000 + 7.
    let events: Vec<Event> = (0..5)
        .map(|i| level(100 * i, 100 * i - 1000 + 7, BID, 1000 * T, Q + i * Q))
        .collect();
    let (r, _) = run(
        &events,
        2,
        config(0, 0, FeedLatency::Recorded { offset: None }),
        |r, w| {
            if let Wake::Book(_) = w {
                // The estimated offset makes the feed latency 0 here.
                assert_eq!(r.now() % 100, 0);
            }
        },
    );
    assert_eq!(r.clock_offset(), Some(-993));
    let (r, _) = run(
        &events,
        2,
        config(0, 0, FeedLatency::Constant(30)),
        |r, w| {
            if let Wake::Book(_) = w {
                assert_eq!(r.now() % 100, 30);
            }
        },
    );
    assert_eq!(r.events(), 5);
}

/// A random market: a book around a drifting mid with trades at the touch.
fn market(n: usize, seed: u64) -> Vec<Event> {
    let mut s = seed;
    let mut rnd = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let mut mid = 10_000i64; // ticks
    let mut out = Vec::new();
    let mut t = 0;
    for _ in 0..n {
        t += 1 + (rnd() % 1000) as i64;
        let lat = 50 + (rnd() % 300) as i64;
        match rnd() % 10 {
            0 => mid += if rnd() % 2 == 0 { 1 } else { -1 },
            1..=3 => {
                let up = rnd() % 2 == 0;
                let (_, px) = if up { (ASK, mid + 1) } else { (BID, mid) };
                out.push(trade(
                    t,
                    t + lat,
                    if up { BID } else { ASK },
                    px * T,
                    (1 + rnd() % 3) as i64 * LOT * 100,
                ));
                continue;
            }
            _ => {}
        }
        for k in 0..3 {
            out.push(Event {
                flags: 0,
                ..level(
                    t,
                    t + lat,
                    BID,
                    (mid - k) * T,
                    (1 + rnd() % 9) as i64 * LOT * 100,
                )
            });
            out.push(Event {
                flags: 0,
                ..level(
                    t,
                    t + lat,
                    ASK,
                    (mid + 1 + k) * T,
                    (1 + rnd() % 9) as i64 * LOT * 100,
                )
            });
        }
        // Levels beyond the window, and those left on the wrong side by a move, are removed.
        for k in 0..2 {
            out.push(Event {
                flags: 0,
                ..level(t, t + lat, ASK, (mid - k) * T, 0)
            });
            out.push(Event {
                flags: 0,
                ..level(t, t + lat, BID, (mid + 1 + k) * T, 0)
            });
        }
        out.push(Event {
            flags: 0,
            ..level(t, t + lat, BID, (mid - 3) * T, 0)
        });
        out.push(level(t, t + lat, ASK, (mid + 4) * T, 0));
    }
    out
}

/// A small market maker: quotes at the touch, refreshes on each book message.
fn maker(r: &mut Replay, w: &Wake) {
    if let Wake::Book(0) = w {
        let (Some(bid), Some(ask)) = (r.book(0).unwrap().best_bid(), r.book(0).unwrap().best_ask())
        else {
            return;
        };
        let open: Vec<u64> = r.open_orders().to_vec();
        for id in open {
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
                side,
                order_type: if price == 0 {
                    OrderType::Market
                } else {
                    OrderType::Limit
                },
                price,
                ..buy(price, LOT * 100, TimeInForce::PostOnly)
            });
        }
    }
}

#[test]
fn deterministic_and_independent_of_the_chunk_size() {
    let events = market(3_000, 42);
    let cfg = || config(300, 200, FeedLatency::Recorded { offset: None });
    let (a, wa) = run(&events, 1_000, cfg(), maker);
    let (b, wb) = run(&events, 1_000, cfg(), maker);
    assert_eq!(a.fills(), b.fills());
    assert_eq!(wa, wb);
    let st: Vec<(OrderStatus, bool)> = a
        .orders()
        .iter()
        .take(20)
        .map(|o| (o.status, o.accepted))
        .collect();
    assert!(a.fills().len() > 10, "{st:?}");
    assert!(
        a.fills().len() > 10,
        "the maker should trade: {}",
        a.fills().len()
    );
    assert!(a.fills().iter().any(|f| f.maker));
    for chunk in [1, 7, 333, events.len()] {
        let (c, wc) = run(&events, chunk, cfg(), maker);
        assert_eq!(c.fills().len(), a.fills().len(), "chunk {chunk}");
        assert!(c.fills() == a.fills(), "chunk {chunk}");
        assert_eq!(wc, wa, "chunk {chunk}");
        assert_eq!(c.equity(), a.equity(), "chunk {chunk}");
    }
    // Every fill happened at the exchange after its order arrived, and was learnt later.
    for f in a.fills() {
        let o = a.order(f.client_id).unwrap();
        assert!(f.exch_ts >= o.sent_ts + 300, "{f:?} {o:?}");
        assert!(f.local_ts >= f.exch_ts + 200);
    }
    // Equity samples every 1000 ns of local time, positions alongside.
    let eq = a.equity();
    assert!(eq.len() > 100);
    assert!(eq.windows(2).all(|w| w[1].ts > w[0].ts));
    assert_eq!(a.positions().len(), eq.len());
    let last = eq.last().unwrap();
    assert!((last.equity - a.portfolio().equity()).abs() < 1e-9);
    // The buffer holds what lies between the clocks, and no more than a chunk beyond it.
    let (c, _) = run(
        &events,
        100,
        config(300, 200, FeedLatency::Constant(300)),
        maker,
    );
    assert!(c.buf.len() < 200, "{}", c.buf.len());
    assert!(a.buf.len() <= OFFSET_WINDOW + 1_000);
}

#[test]
fn bad_requests_get_named_errors_and_risk_refusals_are_recorded() {
    let events = opening();
    let cfg = ReplayConfig {
        limits: RiskLimits {
            max_order_qty: Some(2 * Q),
            ..RiskLimits::default()
        },
        ..config(0, 0, FeedLatency::Constant(0))
    };
    let mut checked = false;
    let (r, _) = run(&events, 10, cfg, |r, w| {
        if matches!(w, Wake::Book(0)) && !checked {
            checked = true;
            let e = r
                .submit(buy(1000 * T + 1, Q, TimeInForce::Gtc))
                .unwrap_err()
                .to_string();
            assert!(e.contains("price"), "{e}");
            let e = r
                .submit(buy(1000 * T, Q + 1, TimeInForce::Gtc))
                .unwrap_err()
                .to_string();
            assert!(e.contains("qty"), "{e}");
            let e = r
                .submit(OrderRequest {
                    instrument: 3,
                    ..buy(1000 * T, Q, TimeInForce::Gtc)
                })
                .unwrap_err()
                .to_string();
            assert!(e.contains("instrument"), "{e}");
            let refused = r.submit(buy(1000 * T, 3 * Q, TimeInForce::Gtc)).unwrap();
            assert!(refused.is_err());
            let e = r.cancel(999).unwrap_err().to_string();
            assert!(e.contains("client_id"), "{e}");
        }
    });
    assert!(checked);
    assert_eq!(r.orders().len(), 1);
    assert_eq!(r.orders()[0].status, OrderStatus::Refused);
    let mut r2 = Replay::new(&[setup()], config(0, 0, FeedLatency::Constant(0))).unwrap();
    r2.push(&[Event {
        instrument: 2,
        ..level(0, 0, BID, T, Q)
    }])
    .unwrap();
    r2.finish();
    let e = r2.step().unwrap_err().to_string();
    assert!(e.contains("instrument"), "{e}");
}

#[test]
fn timers_fire_on_the_local_clock_while_data_lasts() {
    let events = market(200, 7);
    let cfg = ReplayConfig {
        subscriptions: Subscriptions {
            timer_ns: 10_000,
            ..Subscriptions::default()
        },
        ..config(0, 0, FeedLatency::Constant(0))
    };
    let (r, wakes) = run(&events, 50, cfg, |_, _| {});
    let times: Vec<i64> = wakes
        .iter()
        .filter_map(|w| {
            if let Wake::Timer(t) = w {
                Some(*t)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(times.len(), wakes.len(), "only timers were subscribed");
    assert!(times.windows(2).all(|w| w[1] - w[0] == 10_000));
    let last = events.iter().map(|e| e.exch_ts).max().unwrap();
    assert!(*times.last().unwrap() <= last && last - times.last().unwrap() < 10_000);
    assert_eq!(r.events(), events.len() as u64);
}

#[test]
fn an_idle_exchange_book_is_rebuilt_exactly_when_an_order_comes() {
    // A taker that sends an IOC at the touch every 600th trade: between its orders, the
    // exchange's book is not fed (after DORMANT_AFTER idle events) and is rebuilt at each
    // order. The outcome equals a run that feeds it all the time.
    let events = market(6_000, 5);
    let taker = |r: &mut Replay, w: &Wake, n: &mut u32| {
        if let Wake::Trade(_) = w {
            *n += 1;
            if *n % 600 == 0 {
                let book = r.book(0).unwrap();
                let (Some(bid), Some(ask)) = (book.best_bid(), book.best_ask()) else {
                    return;
                };
                let (side, price) = if *n % 1200 == 0 {
                    (OrderSide::Sell, bid.price)
                } else {
                    (OrderSide::Buy, ask.price)
                };
                r.submit(OrderRequest {
                    side,
                    order_type: if price == 0 {
                        OrderType::Market
                    } else {
                        OrderType::Limit
                    },
                    price,
                    ..buy(price, LOT * 500, TimeInForce::Ioc)
                })
                .unwrap()
                .unwrap();
            }
        }
    };
    let go = |keep: bool| {
        let mut r = Replay::new(&[setup()], config(300, 200, FeedLatency::Constant(100))).unwrap();
        r.keep_exchange_books = keep;
        let mut n = 0;
        let mut chunks = events.chunks(4096);
        let mut dormant_seen = false;
        loop {
            match r.step().unwrap() {
                Wake::NeedData => match chunks.next() {
                    Some(c) => r.push(c).unwrap(),
                    None => r.finish(),
                },
                Wake::End => break,
                w => {
                    dormant_seen |= !r.venues[0].live;
                    taker(&mut r, &w, &mut n);
                }
            }
        }
        (r, dormant_seen)
    };
    let (a, dormant) = go(false);
    let (b, never) = go(true);
    assert!(dormant && !never);
    assert!(a.fills().len() >= 3, "{}", a.fills().len());
    assert_eq!(a.fills(), b.fills());
    assert_eq!(a.orders(), b.orders());
    assert_eq!(a.equity(), b.equity());
}

#[test]
fn several_instruments_each_have_their_own_exchange_and_book() {
    // Instrument 0 around 100.0, instrument 1 around 50.0, interleaved in one stream.
    let on = |inst: u32, e: Event| Event {
        instrument: inst,
        ..e
    };
    let events = vec![
        on(
            0,
            Event {
                flags: 0,
                ..level(0, 10, BID, 1000 * T, 5 * Q)
            },
        ),
        on(0, level(0, 10, ASK, 1001 * T, 3 * Q)),
        on(
            1,
            Event {
                flags: 0,
                ..level(1, 11, BID, 500 * T, 2 * Q)
            },
        ),
        on(1, level(1, 11, ASK, 501 * T, 2 * Q)),
        // A sell at 50.0 on instrument 1 (after our order arrives); the same price means
        // nothing to instrument 0.
        on(0, trade(50, 60, ASK, 1000 * T, Q)),
        on(1, trade(60, 70, ASK, 500 * T, 3 * Q)),
        on(0, level(90, 100, BID, 999 * T, Q)),
    ];
    let setups = [setup(), setup()];
    let mut r = Replay::new(
        &setups,
        config(5, 5, FeedLatency::Recorded { offset: Some(0) }),
    )
    .unwrap();
    r.push(&events).unwrap();
    r.finish();
    let mut sent = false;
    loop {
        match r.step().unwrap() {
            Wake::End => break,
            Wake::Book(1) if !sent => {
                sent = true;
                assert_eq!(r.book(1).unwrap().best_bid().unwrap().price, 500 * T);
                assert_eq!(r.book(0).unwrap().best_bid().unwrap().price, 1000 * T);
                r.submit(OrderRequest {
                    instrument: 1,
                    ..buy(500 * T, Q, TimeInForce::Gtc)
                })
                .unwrap()
                .unwrap();
            }
            _ => {}
        }
    }
    // 2 ahead on instrument 1, a sell of 3: ours fills 1; instrument 0 is untouched.
    let f = r.fills();
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!((f[0].instrument, f[0].price, f[0].qty), (1, 500 * T, Q));
    assert_eq!(r.portfolio().position(1).unwrap().qty, Q);
    assert_eq!(r.portfolio().position(0).unwrap().qty, 0);
    assert_eq!(r.positions().len(), 2 * r.equity().len());
}

// ---- accounts -------------------------------------------------------------------------------

fn bracket(mmr: f64) -> crate::execution::Bracket {
    crate::execution::Bracket {
        notional_floor: 0.0,
        notional_cap: f64::INFINITY,
        maint_margin_ratio: mmr,
        cum: 0.0,
        max_leverage: 125.0,
    }
}

fn margin(wallet: f64, leverage: f64, liquidation_fee: f64) -> AccountSetup {
    AccountSetup::Margin {
        asset: "USDT".into(),
        wallet,
        leverage: vec![leverage],
        brackets: vec![vec![bracket(0.004)]],
        liquidation_fee,
    }
}

fn sell(price: i64, qty: i64) -> OrderRequest {
    OrderRequest {
        side: OrderSide::Sell,
        ..buy(
            price,
            qty,
            if price == 0 {
                TimeInForce::Ioc
            } else {
                TimeInForce::Gtc
            },
        )
    }
}

#[test]
fn a_spot_order_the_cash_account_cannot_pay_for_is_refused_naming_the_asset() {
    let cfg = ReplayConfig {
        account: AccountSetup::Cash {
            balances: vec![("USDT".into(), 1000.0)],
            assets: vec![("BTC".into(), "USDT".into())],
        },
        ..config(0, 0, FeedLatency::Constant(0))
    };
    let mut out = Vec::new();
    let (r, _) = run(&opening(), 10, cfg, |r, w| {
        if matches!(w, Wake::Book(0)) && out.is_empty() {
            // no BTC to sell; 20 x 100.0 = 2000 USDT with 1000; 5 x 100.0 = 500 is fine
            out.push(r.submit(sell(1000 * T, Q)).unwrap().unwrap_err());
            out.push(
                r.submit(buy(1000 * T, 20 * Q, TimeInForce::Gtc))
                    .unwrap()
                    .unwrap_err(),
            );
            assert!(r
                .submit(buy(1000 * T, 5 * Q, TimeInForce::Gtc))
                .unwrap()
                .is_ok());
        }
    });
    assert_eq!(out[0].code, RejectCode::InsufficientBalance);
    assert_eq!(out[0].message, "insufficient BTC: needs 1, 0 available");
    assert_eq!(
        out[1].message,
        "insufficient USDT: needs 2000, 1000 available"
    );
    let cash = r.account().cash().unwrap();
    let usdt = cash.asset_id("USDT").unwrap();
    assert!((cash.locked(usdt).unwrap() - 500.0).abs() < 1e-9);
    assert!((cash.free(usdt).unwrap() - 500.0).abs() < 1e-9);
    let refused: Vec<_> = r.orders().iter().map(|o| o.status).collect();
    assert_eq!(
        refused[..2],
        [OrderStatus::Refused, OrderStatus::Refused],
        "refused orders are recorded, never sent"
    );
}

#[test]
fn an_order_beyond_the_available_margin_is_refused() {
    // Wallet 1000 USDT at 10x: at most 10,000 of notional. 150 at 100.1 = 15,015 needs
    // 1501.5 of initial margin; 50 (5005, 500.5) passes.
    let cfg = ReplayConfig {
        account: margin(1000.0, 10.0, 0.01),
        ..config(0, 0, FeedLatency::Constant(0))
    };
    let mut out = Vec::new();
    let (r, _) = run(&opening(), 10, cfg, |r, w| {
        if matches!(w, Wake::Book(0)) && out.is_empty() {
            out.push(r.submit(buy(1001 * T, 150 * Q, TimeInForce::Gtc)).unwrap());
            out.push(r.submit(buy(1001 * T, 50 * Q, TimeInForce::Gtc)).unwrap());
        }
    });
    let e = out[0].clone().unwrap_err();
    assert_eq!(e.code, RejectCode::InsufficientMargin);
    assert!(
        e.message.starts_with("insufficient USDT: needs 1501.5"),
        "{}",
        e.message
    );
    assert!(out[1].is_ok());
    assert_eq!(r.risk().rejected()[&RejectCode::InsufficientMargin], 1);
}

#[test]
fn a_leveraged_long_is_liquidated_at_the_book_when_equity_falls_below_maintenance() {
    // Long 150 at 100.0 (taker 0.0004: fee 6), wallet 1000 -> 994, leverage 20, MMR 0.004.
    // Binance's USD-M one-way formula: LP = (WB + cum - P*EP) / (P*MMR - P)
    //   = (994 - 15000) / (0.6 - 150) = 93.7483...
    let wb: f64 = 1000.0 - 150.0 * 100.0 * 0.0004;
    let lp = (wb - 150.0 * 100.0) / (150.0 * 0.004 - 150.0);
    let msg = |x: i64, l: i64, side: i8, price: i64, qty: i64, last: bool| Event {
        flags: if last { flags::LAST_IN_MESSAGE } else { 0 },
        ..level(x, l, side, price, qty)
    };
    let events = vec![
        msg(0, 10, BID, 999 * T, 1000 * Q, false),
        msg(0, 10, ASK, 1000 * T, 1000 * Q, true),
        // mid 93.75 > LP: margin balance 994 - 150 * 6.25 = 56.5 > maintenance 56.25
        msg(5000, 5010, BID, 999 * T, 0, false),
        msg(5000, 5010, ASK, 1000 * T, 0, false),
        msg(5000, 5010, BID, 937 * T, 1000 * Q, false),
        msg(5000, 5010, ASK, 938 * T, 1000 * Q, true),
        // mid 93.65 < LP: 41.5 < 56.19 -> liquidated at the best bid 93.6
        msg(10_000, 10_010, BID, 937 * T, 0, false),
        msg(10_000, 10_010, ASK, 938 * T, 0, false),
        msg(10_000, 10_010, BID, 936 * T, 1000 * Q, false),
        msg(10_000, 10_010, ASK, 937 * T, 1000 * Q, true),
        msg(20_000, 20_010, BID, 935 * T, 1000 * Q, true),
    ];
    let cfg = ReplayConfig {
        account: margin(1000.0, 20.0, 0.01),
        ..config(0, 0, FeedLatency::Constant(0))
    };
    let mut sent = false;
    let mut lp_seen = None;
    let mut liquidated = Vec::new();
    let (r, _) = run(&events, 100, cfg, |r, w| match w {
        Wake::Book(0) if !sent => {
            sent = true;
            r.submit(buy(0, 150 * Q, TimeInForce::Ioc))
                .unwrap()
                .unwrap();
        }
        Wake::Order(u) if u.reason == "liquidation" => liquidated.push(*u),
        Wake::Order(u) if u.kind == UpdateKind::Filled => {
            lp_seen = r.account().margin().unwrap().liquidation_price(0).unwrap();
        }
        _ => {}
    });
    assert!((lp_seen.unwrap() - lp).abs() < 1e-9, "{lp_seen:?} vs {lp}");
    let fills = r.fills();
    assert_eq!(fills.len(), 2);
    let l = fills[1];
    assert!(l.liquidation && !fills[0].liquidation);
    assert_eq!((l.price, l.qty, l.side), (936 * T, 150 * Q, -1));
    // clearance fee 1% of 150 * 93.6 = 140.4; realized 150 * (93.6 - 100) = -960
    assert!((l.fee - 140.4).abs() < 1e-9, "{}", l.fee);
    let m = r.account().margin().unwrap();
    assert_eq!(m.position(0).unwrap().qty, 0);
    // 994 - 960 - 140.4 < 0: the insurance fund brings the wallet back to 0
    assert!(m.wallet_balance().abs() < 1e-9);
    let row = r.orders().last().unwrap();
    assert!(row.liquidation && row.status == OrderStatus::Filled);
    assert_eq!(liquidated.len(), 1);
    assert_eq!(liquidated[0].client_id, row.client_id);
    assert_eq!(r.exchange(0).unwrap().position(), 0);
    assert_eq!(r.portfolio().position(0).unwrap().qty, 0);
}

#[test]
fn funding_of_a_long_and_a_short_over_three_funding_times() {
    let cfg = ReplayConfig {
        account: margin(10_000.0, 10.0, 0.01),
        ..config(0, 0, FeedLatency::Constant(0))
    };
    let mut paid = Vec::new();
    let mut step = 0;
    let (r, _) = run(&opening(), 10, cfg, |r, w| {
        if let Wake::Book(0) = w {
            if step == 0 {
                // long 2 at 100.1 (the ask)
                r.submit(buy(0, 2 * Q, TimeInForce::Ioc)).unwrap().unwrap();
                step = 1;
            }
        }
        if let Wake::Order(u) = w {
            if u.kind == UpdateKind::Filled && step == 1 {
                step = 2;
                // three funding times: long 2 pays 2 * mark * rate
                paid.push(r.fund(0, 0.0001, 100 * Q).unwrap()); // 2 * 100 * 0.0001 = 0.02
                paid.push(r.fund(0, -0.0002, 110 * Q).unwrap()); // 2 * 110 * -0.0002 = -0.044
                paid.push(r.fund(0, 0.0003, 90 * Q).unwrap()); // 2 * 90 * 0.0003 = 0.054
            }
        }
    });
    let expected = [0.02, -0.044, 0.054];
    for (p, e) in paid.iter().zip(expected) {
        assert!((p - e).abs() < 1e-12, "{p} vs {e}");
    }
    let total: f64 = expected.iter().sum();
    assert!((r.portfolio().position(0).unwrap().funding - total).abs() < 1e-12);
    let m = r.account().margin().unwrap();
    assert!((m.funding_paid(0).unwrap() - total).abs() < 1e-12);
    // the wallet: 10,000 - taker fee (2 * 100.1 * 0.0004) - funding
    assert!((m.wallet_balance() - (10_000.0 - 0.08008 - total)).abs() < 1e-9);
    // a short of 3 (sold at the bid 100.0) receives a positive rate and pays a negative one
    let mut got = Vec::new();
    let mut sent = false;
    let cfg = ReplayConfig {
        account: margin(10_000.0, 10.0, 0.01),
        ..config(0, 0, FeedLatency::Constant(0))
    };
    run(&opening(), 10, cfg, |r, w| match w {
        Wake::Book(0) if !sent => {
            sent = true;
            r.submit(sell(0, 3 * Q)).unwrap().unwrap();
        }
        Wake::Order(u) if u.kind == UpdateKind::Filled => {
            got.push(r.fund(0, 0.0001, 100 * Q).unwrap()); // -3 * 100 * 0.0001 = -0.03
            got.push(r.fund(0, -0.0002, 110 * Q).unwrap()); // -3 * 110 * -0.0002 = 0.066
            got.push(r.fund(0, 0.0003, 90 * Q).unwrap()); // -3 * 90 * 0.0003 = -0.081
        }
        _ => {}
    });
    for (p, e) in got.iter().zip([-0.03, 0.066, -0.081]) {
        assert!((p - e).abs() < 1e-12, "{p} vs {e}");
    }
    assert_eq!(got.len(), 3);
    let unchecked = Replay::new(&[setup()], config(0, 0, FeedLatency::Constant(0)));
    let e = unchecked.unwrap().fund(0, 0.0001, 100 * Q).unwrap_err();
    assert!(e.to_string().contains("only a margin"), "{e}");
}

#[test]
fn a_restored_fill_sets_position_account_and_the_exchanges_position() {
    let mut r = Replay::new(
        &[setup()],
        ReplayConfig {
            account: margin(1000.0, 10.0, 0.01),
            ..config(0, 0, FeedLatency::Constant(0))
        },
    )
    .unwrap();
    r.restore_fill(0, OrderSide::Buy, 1000 * T, 2 * Q, 0.08)
        .unwrap();
    assert_eq!(r.portfolio().position(0).unwrap().qty, 2 * Q);
    assert!((r.portfolio().position(0).unwrap().fees - 0.08).abs() < 1e-12);
    let m = r.account().margin().unwrap();
    assert_eq!(m.position(0).unwrap().qty, 2 * Q);
    assert!((m.wallet_balance() - (1000.0 - 0.08)).abs() < 1e-12);
    assert_eq!(r.exchange(0).unwrap().position(), 2 * Q);
    assert_eq!(r.risk().position(0), Some(2 * Q));
    assert!(r.restore_fill(1, OrderSide::Buy, 1000 * T, Q, 0.0).is_err());
    // a cash account pays a restored buy from the quote
    let mut c = Replay::new(
        &[setup()],
        ReplayConfig {
            account: AccountSetup::Cash {
                balances: vec![("USDT".into(), 1000.0)],
                assets: vec![("BTC".into(), "USDT".into())],
            },
            ..config(0, 0, FeedLatency::Constant(0))
        },
    )
    .unwrap();
    c.restore_fill(0, OrderSide::Buy, 1000 * T, 2 * Q, 0.0)
        .unwrap();
    let cash = c.account().cash().unwrap();
    let usdt = cash.asset_id("USDT").unwrap();
    assert!((cash.free(usdt).unwrap() - 800.0).abs() < 1e-9);
}

// ---- stop and take-profit orders --------------------------------------------------------------

fn conditional(
    side: OrderSide,
    order_type: OrderType,
    trigger: i64,
    price: i64,
    qty: i64,
    source: crate::sim::TriggerSource,
) -> OrderRequest {
    OrderRequest {
        side,
        order_type,
        price,
        tif: if price == 0 {
            TimeInForce::Ioc
        } else {
            TimeInForce::Gtc
        },
        trigger: Some(crate::sim::Trigger {
            order_type,
            price: trigger,
            source,
            close_position: false,
        }),
        ..buy(price, qty, TimeInForce::Gtc)
    }
}

/// Opening book (bid 100.0, ask 100.1), then trades at the given prices (exchange µs apart;
/// the aggressor buys on a rise, sells on a fall), each followed by a book moved to one tick
/// around it (the previous levels removed).
fn tape(prices: &[i64]) -> Vec<Event> {
    let mut ev = opening();
    let (mut bid, mut ask, mut last) = (1000 * T, 1001 * T, 1000 * T);
    for (k, &p) in prices.iter().enumerate() {
        let x = 1_000 * (k as i64 + 1);
        let aggressor = if p >= last { BID } else { ASK };
        last = p;
        ev.push(trade(x, x + 10, aggressor, p, Q));
        for (side, price, qty) in [(BID, bid, 0), (ASK, ask, 0), (BID, p - T, 10 * Q)] {
            ev.push(Event {
                flags: 0,
                ..level(x + 1, x + 11, side, price, qty)
            });
        }
        ev.push(level(x + 1, x + 11, ASK, p + T, 10 * Q));
        (bid, ask) = (p - T, p + T);
    }
    ev
}

#[test]
fn a_stop_market_sell_waits_for_the_last_price_then_sells_at_the_book() {
    use crate::sim::TriggerSource::LastPrice;
    // Stop sell 1 at 99.5: the trade at 99.8 does not touch it; the one at 99.5 does, and the
    // order sells at once at the best bid then (99.4).
    let events = tape(&[998 * T, 995 * T, 990 * T]);
    let mut sent = false;
    let mut kinds = Vec::new();
    let (r, _) = run(
        &events,
        100,
        config(0, 0, FeedLatency::Constant(0)),
        |r, w| {
            if matches!(w, Wake::Book(0)) && !sent {
                sent = true;
                let req = conditional(
                    OrderSide::Sell,
                    OrderType::StopMarket,
                    995 * T,
                    0,
                    Q,
                    LastPrice,
                );
                r.submit(req).unwrap().unwrap();
            }
            if let Wake::Order(u) = w {
                kinds.push((u.kind, u.exch_ts, u.price));
            }
        },
    );
    assert_eq!(kinds[0].0, UpdateKind::Accepted);
    assert_eq!((kinds[1].0, kinds[1].1), (UpdateKind::Triggered, 2_000));
    assert_eq!(kinds[2].0, UpdateKind::Filled);
    let f = r.fills()[0];
    assert_eq!((f.side, f.qty), (-1, Q));
    // at the trade at 99.5 the exchange's book is still the one after the 99.8 trade (bid
    // 99.7): the market sell takes it
    assert_eq!(f.price, 997 * T);
    let row = r.orders()[0];
    assert_eq!(
        (row.order_type, row.trigger_price),
        (OrderType::StopMarket, 995 * T)
    );
    assert_eq!(row.status, OrderStatus::Filled);
}

#[test]
fn a_take_profit_limit_and_immediate_triggers_and_the_mark() {
    use crate::sim::TriggerSource::{LastPrice, MarkPrice};
    let events = tape(&[1003 * T, 1010 * T, 1012 * T]);
    let mut out = Vec::new();
    let mut step = 0;
    let (mut r, _) = run(
        &events,
        100,
        config(0, 0, FeedLatency::Constant(0)),
        |r, w| {
            if matches!(w, Wake::Trade(_)) && step == 0 {
                step = 1;
                // last price 100.3 now: a stop buy at 100.0 would trigger at once
                out.push(
                    r.submit(conditional(
                        OrderSide::Buy,
                        OrderType::StopMarket,
                        1000 * T,
                        0,
                        Q,
                        LastPrice,
                    ))
                    .unwrap()
                    .unwrap(),
                );
                // take profit: sell 1 at 101.0 once the last price reaches 101.0
                out.push(
                    r.submit(conditional(
                        OrderSide::Sell,
                        OrderType::TakeProfitLimit,
                        1010 * T,
                        1010 * T,
                        Q,
                        LastPrice,
                    ))
                    .unwrap()
                    .unwrap(),
                );
                // a stop sell watching the mark: trades do not move it, the mark does
                out.push(
                    r.submit(conditional(
                        OrderSide::Sell,
                        OrderType::StopMarket,
                        995 * T,
                        0,
                        Q,
                        MarkPrice,
                    ))
                    .unwrap()
                    .unwrap(),
                );
            }
            if matches!(w, Wake::Trade(t) if t.price == 1012 * T) && step == 1 {
                step = 2;
                r.set_mark(0, 994 * T).unwrap();
            }
        },
    );
    let rows: Vec<_> = r.orders().iter().map(|o| (o.client_id, o.status)).collect();
    assert_eq!(rows[0].1, OrderStatus::Rejected, "would trigger at once");
    // the take-profit fired at the 101.0 trade; its limit sell at 101.0 does not cross the bid
    // (100.2): it rests, and the buy at 101.2 goes through it
    assert_eq!(rows[1].1, OrderStatus::Filled);
    let tp = r.fills().iter().find(|f| f.client_id == out[1]).unwrap();
    assert_eq!((tp.price, tp.maker), (1010 * T, true));
    // the mark at 99.4 triggered the third; it sold at the book
    let mk = r.fills().iter().find(|f| f.client_id == out[2]).unwrap();
    assert_eq!(mk.side, -1);
    assert!(r.set_mark(0, 0).is_err());
}

#[test]
fn conditional_orders_are_checked_and_can_be_cancelled_while_parked() {
    use crate::sim::TriggerSource::LastPrice;
    let mut errors = Vec::new();
    let mut id = None;
    let (r, wakes) = run(
        &tape(&[1000 * T, 1001 * T]),
        100,
        config(0, 0, FeedLatency::Constant(0)),
        |r, w| {
            if matches!(w, Wake::Book(0)) && id.is_none() {
                let mut no_trigger = conditional(
                    OrderSide::Sell,
                    OrderType::StopMarket,
                    990 * T,
                    0,
                    Q,
                    LastPrice,
                );
                no_trigger.trigger = None;
                errors.push(r.submit(no_trigger).unwrap_err().to_string());
                let mut off_grid = conditional(
                    OrderSide::Sell,
                    OrderType::StopMarket,
                    990 * T + 1,
                    0,
                    Q,
                    LastPrice,
                );
                errors.push(r.submit(off_grid).unwrap_err().to_string());
                off_grid.order_type = OrderType::Limit;
                off_grid.price = 1000 * T;
                errors.push(r.submit(off_grid).unwrap_err().to_string());
                let req = conditional(
                    OrderSide::Sell,
                    OrderType::StopLimit,
                    990 * T,
                    0,
                    Q,
                    LastPrice,
                );
                errors.push(r.submit(req).unwrap_err().to_string());
                let ok = conditional(
                    OrderSide::Sell,
                    OrderType::StopMarket,
                    990 * T,
                    0,
                    Q,
                    LastPrice,
                );
                id = Some(r.submit(ok).unwrap().unwrap());
            } else if let (Wake::Order(u), Some(i)) = (w, id) {
                if u.kind == UpdateKind::Accepted {
                    r.cancel(i).unwrap();
                }
            }
        },
    );
    assert!(
        errors[0].starts_with("invalid trigger_price: none (a stop_market order needs"),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].starts_with("invalid trigger_price: 99.000000001"),
        "{}",
        errors[1]
    );
    assert!(
        errors[2].starts_with("invalid trigger_price: 99.000000001 (a limit order has no trigger"),
        "{}",
        errors[2]
    );
    assert!(
        errors[3].starts_with("invalid price: 0 (a limit price must be > 0"),
        "{}",
        errors[3]
    );
    assert_eq!(r.orders().last().unwrap().status, OrderStatus::Cancelled);
    assert!(wakes
        .iter()
        .any(|w| matches!(w, Wake::Order(u) if u.kind == UpdateKind::Cancelled)));
    assert!(r.fills().is_empty());
}

#[test]
fn a_triggered_order_the_exchange_refuses_is_over_and_frees_what_it_held() {
    use crate::sim::TriggerSource::LastPrice;
    // A post-only stop-limit buy at 100.3, triggered by the 100.3 trade: it would cross the
    // ask (100.4 after... the book then has ask 100.1 still): refused once triggered, it ends.
    let events = tape(&[1003 * T, 1004 * T]);
    let mut id = None;
    let cfg = ReplayConfig {
        account: margin(10_000.0, 10.0, 0.01),
        ..config(0, 0, FeedLatency::Constant(0))
    };
    let (r, _) = run(&events, 100, cfg, |r, w| {
        if matches!(w, Wake::Book(0)) && id.is_none() {
            let mut req = conditional(
                OrderSide::Buy,
                OrderType::StopLimit,
                1003 * T,
                1003 * T,
                Q,
                LastPrice,
            );
            req.tif = TimeInForce::PostOnly;
            id = Some(r.submit(req).unwrap().unwrap());
        }
    });
    let row = r.orders()[0];
    assert_eq!(row.status, OrderStatus::Cancelled, "{row:?}");
    assert!(r.open_orders().is_empty());
    assert_eq!(r.risk().open_orders(), 0);
    let m = r.account().margin().unwrap();
    assert!(m.order_margin().abs() < 1e-12, "{}", m.order_margin());
}

#[test]
fn a_fill_racing_a_smaller_modification_is_booked_not_an_error() {
    // Bid 1 at 100.0 rests; it is modified down to 0.2 at 20, but a sell of 5 at 100.0 at
    // exchange time 25 fills the whole 1 before the modification arrives (latency 10).
    let mut events = opening();
    events.push(trade(25, 26, ASK, 1000 * T, 10 * Q));
    events.push(level(40, 41, BID, 999 * T, Q));
    let cfg = ReplayConfig {
        account: margin(10_000.0, 10.0, 0.01),
        ..config(10, 0, FeedLatency::Constant(0))
    };
    let mut id = None;
    let (r, _) = run(&events, 100, cfg, |r, w| match w {
        Wake::Book(0) if id.is_none() => {
            id = Some(
                r.submit(buy(1000 * T, Q, TimeInForce::Gtc))
                    .unwrap()
                    .unwrap(),
            );
        }
        Wake::Order(u) if u.kind == UpdateKind::Accepted => {
            r.modify(u.client_id, 1000 * T, Q / 5).unwrap().unwrap();
        }
        _ => {}
    });
    let filled: i64 = r.fills().iter().map(|f| f.qty).sum();
    assert_eq!(filled, r.portfolio().position(0).unwrap().qty);
    let m = r.account().margin().unwrap();
    assert_eq!(m.position(0).unwrap().qty, filled);
    assert!(m.order_margin().abs() < 1e-9);
}

#[test]
fn a_hole_in_the_data_is_one_gap_not_samples() {
    // Two stretches of 10 s of book events, 1 s of sample interval, three weeks apart.
    const S: i64 = 1_000_000_000;
    let hole = 21 * 86_400 * S;
    let mut events = Vec::new();
    for base in [0, hole] {
        for k in 0..100 {
            let x = base + k * S / 10;
            events.push(level(x, x + 1_000, BID, 1000 * T, Q));
            events.push(level(x, x + 1_000, ASK, 1001 * T, Q));
        }
    }
    let mut cfg = config(0, 0, FeedLatency::Constant(1_000));
    cfg.sample_ns = S;
    for chunk in [7, 1_000] {
        let (r, _) = run(&events, chunk, cfg.clone(), |_, _| {});
        // About 10 samples per stretch plus the end, none inside the hole.
        assert!(r.equity().len() <= 25, "{} samples", r.equity().len());
        assert_eq!(r.positions().len(), r.equity().len());
        assert_eq!(r.gaps().len(), 1, "chunk {chunk}");
        let g = r.gaps()[0];
        let last = 99 * S / 10 + 1_000;
        assert!(g.start >= last && g.start <= last + S, "{g:?}");
        assert!((g.start + g.length - hole).abs() <= 1_000, "{g:?}");
        let ts: Vec<i64> = r.equity().iter().map(|e| e.ts).collect();
        assert!(!ts.iter().any(|&t| t > g.start + S && t < hole), "{ts:?}");
        assert!(ts.iter().any(|&t| t > hole));
    }
    // Without the hole (same events, the second stretch right after): no gap.
    let near: Vec<Event> = events
        .iter()
        .map(|e| {
            let mut e = *e;
            if e.exch_ts >= hole {
                e.exch_ts -= hole - 20 * S;
                e.local_ts -= hole - 20 * S;
            }
            e
        })
        .collect();
    let (r, _) = run(&near, 1_000, cfg, |_, _| {});
    assert!(r.gaps().is_empty());
}

/// A mark price message as the feed writes it: MARK (mark, index) then FUNDING (mark, rate in
/// 1e-9 units, next funding time), at exchange time `x`, seen locally at `x + 1`.
fn mark_message(x: i64, mark: i64, rate: i64, next_funding: i64) -> [Event; 2] {
    let m = Event {
        exch_ts: x,
        local_ts: x + 1,
        kind: kind::MARK,
        price: mark,
        qty: mark + T,
        ..Event::default()
    };
    let f = Event {
        kind: kind::FUNDING,
        qty: rate,
        trade_id: next_funding.unsigned_abs(),
        flags: flags::LAST_IN_MESSAGE,
        ..m
    };
    [m, f]
}

#[test]
fn recorded_marks_and_funding_drive_the_margin_account_and_wake_the_strategy() {
    // long 2 at 100.1; funding time 1000: announced at 0.0001 (x 100..300), then 0.0002 (x 900),
    // and the message at 1005 still names 1000 with 0.0003: booked once, 2 * 101 * 0.0003.
    let mut events = opening();
    for (x, mark, rate, next) in [
        (100, 1000 * T, 100_000, 1000),
        (300, 1002 * T, 100_000, 1000),
        (900, 1005 * T, 200_000, 1000),
        (1005, 1010 * T, 300_000, 1000),
        (1100, 1011 * T, 50_000, 2000),
        (2100, 1012 * T, 50_000, 3000),
    ] {
        events.extend(mark_message(x, mark, rate, next));
    }
    let cfg = ReplayConfig {
        account: margin(10_000.0, 10.0, 0.01),
        subscriptions: Subscriptions {
            book: true,
            orders: true,
            market: 1 << kind::MARK,
            ..Subscriptions::default()
        },
        ..config(0, 0, FeedLatency::Constant(1))
    };
    let mut sent = false;
    let mut seen = Vec::new();
    let (r, _) = run(&events, 3, cfg, |r, w| match w {
        Wake::Book(0) if !sent => {
            sent = true;
            r.submit(buy(0, 2 * Q, TimeInForce::Ioc)).unwrap().unwrap();
        }
        Wake::Market(0) => {
            let m = r.market_message(0).unwrap();
            assert_eq!((m[0].kind, m[1].kind), (kind::MARK, kind::FUNDING));
            seen.push((m[0].price, m[1].qty));
        }
        _ => {}
    });
    assert_eq!(seen.len(), 6);
    assert_eq!(seen[3], (1010 * T, 300_000));
    let p = r.portfolio().position(0).unwrap();
    assert_eq!(p.qty, 2 * Q);
    // 2000 was announced at 1100 and booked at 2100 at 0.00005 with the mark 101.2.
    let expected = 2.0 * 101.0 * 0.0003 + 2.0 * 101.2 * 0.00005;
    assert!(
        (p.funding - expected).abs() < 1e-12,
        "{} vs {expected}",
        p.funding
    );
    let m = r.account().margin().unwrap();
    assert!((m.funding_paid(0).unwrap() - expected).abs() < 1e-12);
    // valued at the last recorded mark, not at the book's mid (100.05)
    assert_eq!(p.mark, 1012 * T);
}

#[test]
fn a_mark_below_the_maintenance_margin_liquidates() {
    // 25 of wallet, long 2 at 100.1 (10x: 20.02 initial margin); a mark of 87 loses 26.2.
    let mut events = opening();
    events.extend(mark_message(100, 1000 * T, 0, 10_000));
    events.extend(mark_message(200, 870 * T, 0, 10_000));
    let cfg = ReplayConfig {
        account: margin(25.0, 10.0, 0.01),
        ..config(0, 0, FeedLatency::Constant(1))
    };
    let mut sent = false;
    let (r, _) = run(&events, 64, cfg, |r, w| {
        if matches!(w, Wake::Book(0)) && !sent {
            sent = true;
            r.submit(buy(0, 2 * Q, TimeInForce::Ioc)).unwrap().unwrap();
        }
    });
    let fills = r.fills();
    assert_eq!(fills.len(), 2);
    assert!(fills[1].liquidation && fills[1].exch_ts == 200);
    assert_eq!(r.portfolio().position(0).unwrap().qty, 0);
}
