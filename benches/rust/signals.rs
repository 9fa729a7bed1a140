//! Signals: one streaming indicator update (per value), and a feature set of ten features
//! updated on every event of the recorded capture.
//!
//! `cargo bench -p engine_core --bench signals`

#[path = "common.rs"]
mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use engine_core::signals::features::{FeatureSet, FeatureSpec, Sample};
use engine_core::signals::indicators::{BBands, Ema, Indicator, Macd, Rsi};
use std::hint::black_box;

fn walk(n: usize) -> Vec<f64> {
    // A deterministic random walk (xorshift), no dependency.
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let mut x = 100.0;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            x += (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            x
        })
        .collect()
}

fn bench_indicators(c: &mut Criterion) {
    let x = walk(1_000_000);
    let mut g = c.benchmark_group("indicator_update");
    g.throughput(Throughput::Elements(x.len() as u64));
    g.bench_function("ema_30", |b| {
        b.iter(|| {
            let mut e = Ema::new(30).unwrap();
            x.iter().fold(0.0, |acc, v| acc + e.update(*v))
        });
    });
    g.bench_function("rsi_14", |b| {
        b.iter(|| {
            let mut e = Rsi::new(14).unwrap();
            x.iter().fold(0.0, |acc, v| acc + e.update(*v))
        });
    });
    g.bench_function("macd_12_26_9", |b| {
        b.iter(|| {
            let mut e = Macd::new(12, 26, 9).unwrap();
            x.iter().fold(0.0, |acc, v| acc + e.update(*v).2)
        });
    });
    g.bench_function("bbands_20", |b| {
        b.iter(|| {
            let mut e = BBands::new(20, 2.0, 2.0).unwrap();
            x.iter().fold(0.0, |acc, v| acc + e.update(*v).0)
        });
    });
    g.finish();
}

fn spec(name: &str, kind: &str, ints: &[(&str, i64)], texts: &[(&str, &str)]) -> FeatureSpec {
    FeatureSpec {
        name: name.into(),
        kind: kind.into(),
        ints: ints.iter().map(|(k, v)| ((*k).into(), *v)).collect(),
        texts: texts
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
        reals: Vec::new(),
    }
}

/// The ten features of the benchmark (also used by the Python one).
fn ten_features() -> Vec<FeatureSpec> {
    vec![
        spec("mid", "mid", &[], &[]),
        spec("spread", "spread", &[], &[]),
        spec("micro", "microprice", &[], &[]),
        spec("imb5", "imbalance", &[("levels", 5)], &[]),
        spec("ofi", "ofi", &[("window_ns", 1_000_000_000)], &[]),
        spec(
            "flow",
            "trade_imbalance",
            &[("window_ns", 5_000_000_000)],
            &[],
        ),
        spec("ret", "mid_return", &[("horizon_ns", 1_000_000_000)], &[]),
        spec("ema", "ema", &[("period", 50)], &[]),
        spec("rsi", "rsi", &[("period", 14)], &[("source", "last_price")]),
        spec("vwap", "vwap", &[("window_ns", 5_000_000_000)], &[]),
    ]
}

fn bench_feature_set(c: &mut Criterion) {
    let (path, label) = common::usdm_capture();
    let events = common::read_events(&path);
    eprintln!("signals bench data: {label}, {} events", events.len());
    let mut g = c.benchmark_group("feature_set");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.sample_size(20);
    g.bench_function("ten_features_every_message", |b| {
        b.iter(|| {
            let mut fs = FeatureSet::new(
                &ten_features(),
                100_000_000,
                1_000_000,
                None,
                Sample::Message,
                None,
            )
            .unwrap();
            let (mut ts, mut rows) = (Vec::new(), Vec::new());
            fs.update(&events, &mut ts, &mut rows).unwrap();
            black_box(rows.len())
        });
    });
    g.finish();
}

criterion_group!(benches, bench_indicators, bench_feature_set);
criterion_main!(benches);
