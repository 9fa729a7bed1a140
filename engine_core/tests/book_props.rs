//! Property tests of `L2Book` against the `BTreeBook` reference model.
//!
//! Random event streams on a narrow price band (so levels are removed, re-inserted and
//! overwritten all the time), with occasional clears and snapshot runs, split into random
//! batches and applied either through `apply` or level by level through `set_level`. After
//! every step the whole book is compared with the reference: both ladders level by level,
//! best bid/ask, depth, `qty_at`, `is_crossed`, `cost_to_fill`, `imbalance`, the last update id
//! and the sync flag. Rare "moves" shift the band by thousands of ticks so the book's dense
//! window has to re-centre and park levels in its overflow.
//!
//! A second property checks the documented contract of a batch with one bad event: `apply`
//! stops there, reporting its index and field; the events before it stay applied, it and the
//! rest do not (so a bad first event leaves the book exactly as it was).

use std::collections::BTreeMap;

use engine_core::book::reference::BTreeBook;
use engine_core::event::{flags, kind, Event, ASK, BID};
use engine_core::{Error, L2Book, Level, Side};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// Tick 0.1 and lot 0.001 in fixed point.
const TICK: i64 = 100_000_000;
const LOT: i64 = 1_000_000;

// ---------------------------------------------------------------------------------------------
// The reference model: BTreeBook plus the two pieces of state the book tracks besides levels.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Default)]
struct Model {
    levels: BTreeBook,
    last_update_id: u64,
    in_sync: bool,
}

impl Model {
    fn new() -> Self {
        Model {
            levels: BTreeBook::default(),
            last_update_id: 0,
            in_sync: true,
        }
    }

    fn apply(&mut self, events: &[Event]) {
        self.levels.apply(events);
        for e in events.iter().filter(|e| e.is_book()) {
            if e.last_update_id != 0 {
                self.last_update_id = e.last_update_id;
            }
            self.in_sync = !e.has(flags::OUT_OF_SYNC);
        }
    }

    /// Levels of a side from the best outwards.
    fn side_levels(&self, side: Side) -> Vec<Level> {
        let to_level = |(p, q): (&i64, &i64)| Level { price: *p, qty: *q };
        match side {
            Side::Bid => self.levels.bids.iter().rev().map(to_level).collect(),
            Side::Ask => self.levels.asks.iter().map(to_level).collect(),
        }
    }

    fn map(&self, side: Side) -> &BTreeMap<i64, i64> {
        match side {
            Side::Bid => &self.levels.bids,
            Side::Ask => &self.levels.asks,
        }
    }

    /// Hand-computed cost to fill: walk the opposite side from its best level.
    fn cost_to_fill(&self, side: Side, qty: i64) -> Option<(f64, i64)> {
        let mut left = i128::from(qty);
        let mut notional: i128 = 0;
        for l in self.side_levels(side.opposite()) {
            let take = left.min(i128::from(l.qty));
            notional += take * i128::from(l.price);
            left -= take;
            if left == 0 {
                break;
            }
        }
        let filled = i128::from(qty) - left;
        (filled > 0).then(|| (notional as f64 / filled as f64 / 1e9, filled as i64))
    }

    fn imbalance(&self, n: usize) -> Option<f64> {
        let vol = |side| -> i128 {
            self.side_levels(side)
                .iter()
                .take(n)
                .map(|l| i128::from(l.qty))
                .sum()
        };
        let (b, a) = (vol(Side::Bid), vol(Side::Ask));
        (b + a > 0).then(|| (b - a) as f64 / (b + a) as f64)
    }
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1.0)
}

/// Compares every observable of the book with the model.
fn check(book: &L2Book, m: &Model, band: (i64, i64), ctx: &str) -> Result<(), TestCaseError> {
    for side in [Side::Bid, Side::Ask] {
        let got: Vec<Level> = book.levels(side).collect();
        let want = m.side_levels(side);
        prop_assert_eq!(&got, &want, "{:?} levels differ {}", side, ctx);
        prop_assert_eq!(book.depth(side), want.len(), "{:?} depth {}", side, ctx);
        prop_assert_eq!(
            book.best(side),
            want.first().copied(),
            "{:?} best {}",
            side,
            ctx
        );
        // qty_at over the band and just outside it, and at every price either side holds
        // (absent levels read 0).
        let probes = (band.0 - 2..=band.1 + 2)
            .map(|t| t * TICK)
            .chain(m.levels.bids.keys().copied())
            .chain(m.levels.asks.keys().copied());
        for p in probes {
            let want_q = m.map(side).get(&p).copied().unwrap_or(0);
            prop_assert_eq!(
                book.qty_at(side, p),
                want_q,
                "{:?} qty_at {} {}",
                side,
                p,
                ctx
            );
        }
    }
    let to_pair = |l: Option<Level>| l.map(|l| (l.price, l.qty));
    prop_assert_eq!(
        to_pair(book.best_bid()),
        m.levels.best_bid(),
        "best bid {}",
        ctx
    );
    prop_assert_eq!(
        to_pair(book.best_ask()),
        m.levels.best_ask(),
        "best ask {}",
        ctx
    );
    let crossed =
        matches!((m.levels.best_bid(), m.levels.best_ask()), (Some(b), Some(a)) if b.0 >= a.0);
    prop_assert_eq!(book.is_crossed(), crossed, "is_crossed {}", ctx);
    prop_assert_eq!(
        book.last_update_id(),
        m.last_update_id,
        "last_update_id {}",
        ctx
    );
    prop_assert_eq!(book.in_sync(), m.in_sync, "in_sync {}", ctx);
    check_derived(book, m, ctx)
}

/// `cost_to_fill` and `imbalance` against values computed by hand from the model.
fn check_derived(book: &L2Book, m: &Model, ctx: &str) -> Result<(), TestCaseError> {
    for side in [Side::Bid, Side::Ask] {
        let total: i64 = m.map(side.opposite()).values().sum();
        let half = (total / 2 / LOT) * LOT;
        for q in [
            1,
            LOT / 2 + 1,
            LOT,
            3 * LOT,
            7 * LOT,
            half,
            total,
            total + LOT,
            i64::MAX / 4,
        ] {
            if q <= 0 {
                continue;
            }
            let got = book
                .cost_to_fill(side, q)
                .expect("positive qty is accepted");
            let want = m.cost_to_fill(side, q);
            match (got, want) {
                (None, None) => {}
                (Some((ga, gf)), Some((wa, wf))) => {
                    prop_assert_eq!(gf, wf, "{:?} cost_to_fill({}) filled {}", side, q, ctx);
                    prop_assert!(
                        close(ga, wa, 1e-12),
                        "{:?} cost_to_fill({}) avg {} != {} {}",
                        side,
                        q,
                        ga,
                        wa,
                        ctx
                    );
                    // The average lies between the best and the worst level taken.
                    let prices: Vec<f64> = m
                        .side_levels(side.opposite())
                        .iter()
                        .map(|l| l.price as f64 / 1e9)
                        .collect();
                    let (lo, hi) = prices
                        .iter()
                        .fold((f64::MAX, f64::MIN), |(lo, hi), p| (lo.min(*p), hi.max(*p)));
                    prop_assert!(
                        ga >= lo - 1e-9 && ga <= hi + 1e-9,
                        "avg {} outside [{}, {}] {}",
                        ga,
                        lo,
                        hi,
                        ctx
                    );
                }
                (g, w) => prop_assert!(
                    false,
                    "{:?} cost_to_fill({}) {:?} != {:?} {}",
                    side,
                    q,
                    g,
                    w,
                    ctx
                ),
            }
        }
    }
    let deepest = book.depth(Side::Bid).max(book.depth(Side::Ask));
    for n in [0, 1, 2, 3, 5, 10, deepest, deepest + 1, usize::MAX] {
        let (got, want) = (book.imbalance(n), m.imbalance(n));
        match (got, want) {
            (None, None) => {}
            (Some(g), Some(w)) => {
                prop_assert!(
                    (g - w).abs() <= 1e-12,
                    "imbalance({}) {} != {} {}",
                    n,
                    g,
                    w,
                    ctx
                );
                prop_assert!(
                    (-1.0..=1.0).contains(&g),
                    "imbalance({}) {} out of range {}",
                    n,
                    g,
                    ctx
                );
            }
            (g, w) => prop_assert!(false, "imbalance({}) {:?} != {:?} {}", n, g, w, ctx),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Strategies.
// ---------------------------------------------------------------------------------------------

/// A narrow band of ticks: (lowest tick, highest tick) inclusive. Low bases include prices of
/// one or a few ticks; high ones go up to 100k.
fn band() -> impl Strategy<Value = (i64, i64)> {
    (prop_oneof![1i64..=50, 1_000i64..=1_000_000], 20i64..=40).prop_map(|(lo, w)| (lo, lo + w - 1))
}

/// Quantity in lots: 0 (a removal) often, 1..=5 mostly, rarely a huge one (i128 notional).
fn lots() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => Just(0i64),
        6 => 1i64..=5,
        1 => 1_000_000i64..=1_000_000_000,
    ]
}

fn side() -> impl Strategy<Value = i8> {
    prop_oneof![Just(BID), Just(ASK)]
}

/// One generated piece of the stream, before it is laid out as events.
#[derive(Debug, Clone)]
enum Op {
    /// A depth update at `tick_off` within the band.
    Depth {
        side: i8,
        tick_off: i64,
        lots: i64,
        oos: bool,
    },
    /// A clear, alone.
    Clear { oos: bool },
    /// A clear followed by snapshot levels.
    Snapshot(Vec<(i8, i64, i64)>),
    /// A trade or BBO: not a book event, and garbage as far as the book's grid goes.
    Noise {
        kind: u8,
        price: i64,
        qty: i64,
        side: i8,
    },
    /// Moves the band by this many ticks for the events that follow (far levels stay behind).
    Move(i64),
}

/// Band moves around the sizes of the book's dense window (2^15 ticks, re-centred with the
/// best level 3/4 up, re-centred again when the best falls below 1/4).
fn jump() -> impl Strategy<Value = i64> {
    prop_oneof![
        prop::sample::select(vec![
            -100_000i64,
            -32_768,
            -24_577,
            -24_576,
            -8_193,
            -40,
            40,
            8_192,
            8_193,
            24_576,
            32_767,
            32_768,
            100_000
        ]),
        -70_000i64..=70_000,
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        60 => (side(), 0i64..40, lots(), prop::bool::weighted(0.05))
            .prop_map(|(side, tick_off, lots, oos)| Op::Depth { side, tick_off, lots, oos }),
        1 => prop::bool::weighted(0.3).prop_map(|oos| Op::Clear { oos }),
        2 => prop::collection::vec((side(), 0i64..40, 1i64..=5), 0..30).prop_map(Op::Snapshot),
        3 => (prop_oneof![Just(kind::TRADE), Just(kind::BBO), Just(0u8), Just(200u8)], any::<i64>(), any::<i64>(), any::<i8>())
            .prop_map(|(kind, price, qty, side)| Op::Noise { kind, price, qty, side }),
        1 => jump().prop_map(Op::Move),
    ]
}

/// Lays the ops out as events on the band (tick offsets wrap into its width), with strictly
/// increasing, sometimes absent, update ids.
fn events_of(ops: &[Op], band: (i64, i64)) -> Vec<Event> {
    let width = band.1 - band.0 + 1;
    let mut shift = 0i64;
    // Prices stay positive: a move below tick 1 lands the band at tick 1.
    let price = |shift: i64, off: i64| (band.0 + shift).max(1).saturating_add(off % width) * TICK;
    let mut out = Vec::new();
    let mut uid = 0u64;
    let mut next_uid = |i: usize| {
        uid += 1 + (i as u64 % 3);
        if i % 4 == 3 {
            0
        } else {
            uid
        }
    };
    let oos_flag = |oos: bool| if oos { flags::OUT_OF_SYNC } else { 0 };
    for (i, op) in ops.iter().enumerate() {
        match op {
            Op::Depth {
                side,
                tick_off,
                lots,
                oos,
            } => out.push(Event {
                kind: kind::DEPTH,
                side: *side,
                price: price(shift, *tick_off),
                qty: lots * LOT,
                last_update_id: next_uid(i),
                flags: oos_flag(*oos),
                ..Event::default()
            }),
            Op::Clear { oos } => {
                out.push(Event {
                    kind: kind::CLEAR,
                    last_update_id: next_uid(i),
                    flags: oos_flag(*oos),
                    ..Event::default()
                });
            }
            Op::Snapshot(levels) => {
                let u = next_uid(i);
                out.push(Event {
                    kind: kind::CLEAR,
                    last_update_id: u,
                    ..Event::default()
                });
                for (j, (side, off, lots)) in levels.iter().enumerate() {
                    out.push(Event {
                        kind: kind::SNAPSHOT,
                        side: *side,
                        price: price(shift, *off),
                        qty: lots * LOT,
                        last_update_id: u,
                        flags: if j + 1 == levels.len() {
                            flags::LAST_IN_MESSAGE
                        } else {
                            0
                        },
                        ..Event::default()
                    });
                }
            }
            Op::Noise {
                kind,
                price,
                qty,
                side,
            } => out.push(Event {
                kind: *kind,
                side: *side,
                price: *price,
                qty: *qty,
                last_update_id: u64::MAX,
                flags: flags::OUT_OF_SYNC,
                ..Event::default()
            }),
            Op::Move(by) => shift = (shift + by).clamp(-band.0, 10_000_000),
        }
    }
    out
}

/// How the stream is cut: batch lengths (0 allowed: an empty batch) and, per batch, whether
/// it goes through `apply` (true) or event by event through `set_level` / `clear` (false).
/// The cuts are cycled over the stream; the last one is never empty, so a cycle always makes
/// progress.
fn splits() -> impl Strategy<Value = Vec<(usize, bool)>> {
    let cut = prop_oneof![3 => 1usize..=4, 2 => 5usize..=40, 1 => Just(0usize)];
    (
        prop::collection::vec((cut, prop::bool::weighted(0.8)), 0..120),
        1usize..=40,
    )
        .prop_map(|(mut v, last)| {
            v.push((last, true));
            v
        })
}

/// Replays `events` into `book` and `model`, cut by `splits`, checking after every step.
fn replay(
    book: &mut L2Book,
    m: &mut Model,
    events: &[Event],
    splits: &[(usize, bool)],
    band: (i64, i64),
) -> Result<(), TestCaseError> {
    let mut at = 0;
    let mut cuts = splits.iter().cycle();
    while at < events.len() {
        let &(len, via_apply) = cuts.next().expect("cycle of a non-empty vec");
        let end = (at + len).min(events.len());
        let batch = &events[at..end];
        if via_apply {
            prop_assert!(
                book.apply(batch).is_ok(),
                "valid batch refused at {}..{}",
                at,
                end
            );
            m.apply(batch);
            check(book, m, band, &format!("after apply(events[{at}..{end}])"))?;
        } else {
            for (j, e) in batch.iter().enumerate() {
                match e.kind {
                    kind::DEPTH | kind::SNAPSHOT => {
                        let side = Side::from_i8(e.side).expect("generated sides are valid");
                        prop_assert!(book.set_level(side, e.price, e.qty).is_ok());
                        m.levels.set(e.side, e.price, e.qty);
                    }
                    kind::CLEAR => {
                        book.clear();
                        m.levels.bids.clear();
                        m.levels.asks.clear();
                    }
                    _ => {}
                }
                check(
                    book,
                    m,
                    band,
                    &format!("after event {} by set_level", at + j),
                )?;
            }
        }
        at = end;
    }
    Ok(())
}

fn snapshot(book: &L2Book) -> (Vec<Level>, Vec<Level>, u64, bool) {
    (
        book.levels(Side::Bid).collect(),
        book.levels(Side::Ask).collect(),
        book.last_update_id(),
        book.in_sync(),
    )
}

/// Ways to spoil one valid level event, and the field the error must name.
#[derive(Debug, Clone, Copy)]
enum Bad {
    OffTickPrice(i64),
    ZeroPrice,
    NegativePrice(i64),
    NegativeQty(i64),
    OffLotQty(i64),
    Side(i8),
}

fn bad() -> impl Strategy<Value = Bad> {
    prop_oneof![
        (1i64..TICK).prop_map(Bad::OffTickPrice),
        Just(Bad::ZeroPrice),
        prop_oneof![
            -1_000_000i64..=-1,
            Just(-TICK),
            Just(-i64::MAX),
            Just(i64::MIN)
        ]
        .prop_map(Bad::NegativePrice),
        prop_oneof![-10 * LOT..=-1i64, Just(-i64::MAX), Just(i64::MIN)].prop_map(Bad::NegativeQty),
        (1i64..LOT).prop_map(Bad::OffLotQty),
        prop_oneof![Just(0i8), Just(2), Just(-2), Just(i8::MAX), Just(i8::MIN)].prop_map(Bad::Side),
    ]
}

fn spoil(mut e: Event, bad: Bad) -> (Event, &'static str) {
    let field = match bad {
        Bad::OffTickPrice(d) => {
            e.price += d;
            "price"
        }
        Bad::ZeroPrice => {
            e.price = 0;
            "price"
        }
        Bad::NegativePrice(p) => {
            e.price = p;
            "price"
        }
        Bad::NegativeQty(q) => {
            e.qty = q;
            "qty"
        }
        Bad::OffLotQty(d) => {
            e.qty += d;
            "qty"
        }
        Bad::Side(s) => {
            e.side = s;
            "side"
        }
    };
    (e, field)
}

fn config(cases: u32) -> ProptestConfig {
    // No persistence file: a failure is reported with its minimal case on stderr.
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// Random streams, random batch cuts, both entry points: the book equals the reference
    /// after every step.
    #[test]
    fn book_matches_reference_after_every_step(
        band in band(),
        ops in prop::collection::vec(op(), 0..300),
        splits in splits(),
    ) {
        let events = events_of(&ops, band);
        let mut book = L2Book::new(TICK, LOT).unwrap();
        let mut m = Model::new();
        check(&book, &m, band, "on the empty book")?;
        replay(&mut book, &mut m, &events, &splits, band)?;
        for side in [Side::Bid, Side::Ask] {
            prop_assert!(book.cost_to_fill(side, 0).is_err());
            prop_assert!(book.cost_to_fill(side, -LOT).is_err());
        }
    }

    /// A batch with a bad level event stops there (the documented contract of `apply`): the
    /// error names its index and field, the events before it are applied, it and everything
    /// after it are not. Resuming after it then gives the same book as the reference model.
    #[test]
    fn a_bad_event_stops_the_batch_exactly_there(
        band in band(),
        prefix in prop::collection::vec(op(), 0..80),
        batch in prop::collection::vec(op(), 1..40),
        pick in any::<prop::sample::Index>(),
        bad in bad(),
        via_snapshot in any::<bool>(),
        second_bad in proptest::option::of((any::<prop::sample::Index>(), bad())),
    ) {
        let mut book = L2Book::new(TICK, LOT).unwrap();
        let mut m = Model::new();
        let prefix = events_of(&prefix, band);
        prop_assert!(book.apply(&prefix).is_ok());
        m.apply(&prefix);

        let mut batch = events_of(&batch, band);
        // Spoil one level event (insert one if the batch has none).
        let level_at: Vec<usize> =
            (0..batch.len()).filter(|&i| matches!(batch[i].kind, kind::DEPTH | kind::SNAPSHOT)).collect();
        let valid = Event {
            kind: if via_snapshot { kind::SNAPSHOT } else { kind::DEPTH },
            side: BID,
            price: band.0 * TICK,
            qty: LOT,
            last_update_id: u64::MAX - 1,
            flags: flags::OUT_OF_SYNC,
            ..Event::default()
        };
        let i = if level_at.is_empty() {
            let i = pick.index(batch.len() + 1);
            batch.insert(i, valid);
            i
        } else {
            level_at[pick.index(level_at.len())]
        };
        let (spoiled, field) = spoil(batch[i], bad);
        batch[i] = spoiled;
        // Optionally a second bad event after the first: the first one is reported.
        if let Some((at, bad2)) = second_bad {
            if i + 1 < batch.len() {
                let j = i + 1 + at.index(batch.len() - i - 1);
                batch[j] = spoil(valid, bad2).0;
            }
        }

        let (index, err) = match book.apply(&batch) {
            Ok(()) => return Err(TestCaseError::fail(format!("bad event accepted: {:?}", batch[i]))),
            Err(x) => x,
        };
        prop_assert_eq!(index, i, "wrong index, error: {}", err);
        match &err {
            Error::InvalidInput { field: f, .. } => prop_assert_eq!(*f, field, "wrong field: {}", err),
            other => prop_assert!(false, "not InvalidInput: {:?}", other),
        }
        // Exactly the events before the bad one took effect (levels, update id, sync flag).
        m.apply(&batch[..i]);
        check(&book, &m, band, &format!("after a batch stopped at its event {i}"))?;

        // A batch whose first event is bad changes nothing at all.
        let before = snapshot(&book);
        let (index, _) = book.apply(&batch[i..]).expect_err("bad first event");
        prop_assert_eq!(index, 0);
        prop_assert_eq!(&snapshot(&book), &before, "a batch refused at its first event changed the book");

        // set_level refuses the same values (a bad side cannot even be expressed as a Side).
        if field == "side" {
            prop_assert!(Side::from_i8(spoiled.side).is_err());
        } else {
            let side = Side::from_i8(spoiled.side).unwrap();
            prop_assert!(book.set_level(side, spoiled.price, spoiled.qty).is_err());
            prop_assert_eq!(&snapshot(&book), &before, "a refused set_level changed the book");
        }

        // Resuming after the bad event (skipping any other bad one) matches the model.
        let rest: Vec<Event> = batch[i + 1..]
            .iter()
            .filter(|e| !matches!(e.kind, kind::DEPTH | kind::SNAPSHOT) || (e.price > 0
                && e.price % TICK == 0 && e.qty >= 0 && e.qty % LOT == 0 && (e.side == BID || e.side == ASK)))
            .copied()
            .collect();
        prop_assert!(book.apply(&rest).is_ok());
        m.apply(&rest);
        check(&book, &m, band, "after resuming past the bad event")?;
    }
}

#[test]
fn constructor_refuses_non_positive_steps() {
    assert!(L2Book::new(0, LOT).is_err());
    assert!(L2Book::new(TICK, 0).is_err());
    assert!(L2Book::new(-TICK, LOT).is_err());
    assert!(L2Book::new(TICK, -1).is_err());
}
