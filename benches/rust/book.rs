//! Order book: level updates per second on real data, tradecore's `L2Book` against a plain
//! `BTreeMap` book (the baseline the data structure was chosen against).
//!
//! `cargo bench -p engine_core --bench book`

#[path = "common.rs"]
mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use engine_core::book::reference::BTreeBook;
use engine_core::event::{kind, Event};
use engine_core::fixed::parse_decimal;
use engine_core::{L2Book, Side};

fn book_events() -> (Vec<Event>, &'static str) {
    let (path, label) = common::usdm_capture();
    let events = common::read_events(&path);
    let book: Vec<Event> = events.into_iter().filter(Event::is_book).collect();
    (book, label)
}

fn bench_apply(c: &mut Criterion) {
    let (events, label) = book_events();
    let updates = events.iter().filter(|e| e.kind != kind::CLEAR).count() as u64;
    eprintln!("book bench data: {label}, {updates} level updates");
    let tick = parse_decimal(b"0.1").unwrap();
    let lot = parse_decimal(b"0.001").unwrap();
    let mut g = c.benchmark_group("book_apply");
    g.throughput(Throughput::Elements(updates));
    g.sample_size(20);
    g.bench_function(BenchmarkId::new("L2Book", "usdm_btcusdt"), |b| {
        let mut book = L2Book::new(tick, lot).unwrap();
        b.iter(|| {
            book.clear();
            book.apply(std::hint::black_box(&events)).unwrap();
            book.best_bid()
        });
    });
    g.bench_function(BenchmarkId::new("BTreeMap", "usdm_btcusdt"), |b| {
        let mut book = BTreeBook::default();
        b.iter(|| {
            book.bids.clear();
            book.asks.clear();
            book.apply(std::hint::black_box(&events));
            book.best_bid()
        });
    });
    g.finish();
}

fn bench_queries(c: &mut Criterion) {
    let (events, _) = book_events();
    let mut book = L2Book::new(
        parse_decimal(b"0.1").unwrap(),
        parse_decimal(b"0.001").unwrap(),
    )
    .unwrap();
    book.apply(&events).unwrap();
    let mut g = c.benchmark_group("book_query");
    g.bench_function("best_bid_ask", |b| {
        b.iter(|| (std::hint::black_box(&book).best_bid(), book.best_ask()));
    });
    g.bench_function("imbalance_10", |b| {
        b.iter(|| std::hint::black_box(&book).imbalance(10));
    });
    g.bench_function("cost_to_fill_5btc", |b| {
        b.iter(|| std::hint::black_box(&book).cost_to_fill(Side::Bid, 5_000_000_000));
    });
    g.finish();
}

criterion_group!(benches, bench_apply, bench_queries);
criterion_main!(benches);
