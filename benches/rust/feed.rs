//! Feed: raw capture -> normalized events (end to end from the gz file), and raw depth
//! message bytes -> parsed -> synchronised -> applied to the book.
//!
//! `cargo bench -p engine_core --bench feed`

#[path = "common.rs"]
mod common;

use std::io::BufRead;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use engine_core::feed::binance::BinanceFeed;
use engine_core::feed::capture::{CaptureReader, ReadOptions};
use engine_core::fixed::parse_decimal;
use engine_core::L2Book;

/// The snapshot and every depth message of the capture, as raw bytes with local times.
fn depth_messages(path: &std::path::Path) -> Vec<(i64, Vec<u8>)> {
    let file = std::fs::File::open(path).unwrap();
    let reader = std::io::BufReader::new(flate2::read::MultiGzDecoder::new(file));
    let mut out = Vec::new();
    for line in reader.split(b'\n') {
        let line = line.unwrap();
        let Some(sp) = line.iter().position(|b| *b == b' ') else {
            continue;
        };
        let msg = &line[sp + 1..];
        if msg.starts_with(b"{\"lastUpdateId\"") || msg.windows(7).take(40).any(|w| w == b"@depth@")
        {
            let ts: i64 = std::str::from_utf8(&line[..sp]).unwrap().parse().unwrap();
            out.push((ts, msg.to_vec()));
        }
    }
    out
}

fn bench_capture(c: &mut Criterion) {
    let (path, label) = common::usdm_capture();
    let n = common::read_events(&path).len() as u64;
    eprintln!("feed bench data: {label}, {n} events");
    let mut g = c.benchmark_group("capture_read");
    g.throughput(Throughput::Elements(n));
    g.sample_size(10);
    g.bench_function("gz_to_events", |b| {
        b.iter(|| {
            let mut r = CaptureReader::open(&[&path], ReadOptions::default()).unwrap();
            let mut total = 0;
            while let Some(chunk) = r.next_chunk(1 << 16).unwrap() {
                total += chunk.len();
            }
            total
        });
    });
    g.finish();
}

fn bench_depth_message(c: &mut Criterion) {
    let (path, _) = common::usdm_capture();
    let msgs = depth_messages(&path);
    let bytes: usize = msgs.iter().map(|m| m.1.len()).sum();
    eprintln!(
        "depth messages: {}, mean size {} bytes",
        msgs.len(),
        bytes / msgs.len().max(1)
    );
    let mut g = c.benchmark_group("depth_message");
    g.throughput(Throughput::Elements(msgs.len() as u64));
    g.sample_size(20);
    let (tick, lot) = (
        parse_decimal(b"0.1").unwrap(),
        parse_decimal(b"0.001").unwrap(),
    );
    g.bench_function("parse_sync_apply", |b| {
        b.iter(|| {
            let mut book = L2Book::new(tick, lot).unwrap();
            let mut feed = BinanceFeed::default();
            for (ts, m) in &msgs {
                feed.on_message(m, *ts, &mut book).unwrap();
            }
            book.best_bid()
        });
    });
    g.finish();
}

criterion_group!(benches, bench_capture, bench_depth_message);
criterion_main!(benches);
