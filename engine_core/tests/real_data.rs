//! Checks against the real recorded Binance data (`TRADECORE_TEST_DATA`, default
//! `../shared/data` from the repository root). Skipped, with a message, when it is absent.

use std::path::PathBuf;

use engine_core::event::{flags, kind, Event};
use engine_core::feed::capture::{CaptureReader, ReadOptions};
use engine_core::fixed::parse_decimal;
use engine_core::L2Book;

fn data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("TRADECORE_TEST_DATA").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"),
        PathBuf::from,
    );
    if dir.join("binance").is_dir() {
        Some(dir.join("binance"))
    } else if std::env::var_os("TRADECORE_REQUIRE_DATA").is_some() {
        panic!(
            "TRADECORE_REQUIRE_DATA is set but there is no recorded data at {}",
            dir.display()
        );
    } else {
        eprintln!(
            "skipped: no recorded data at {} (set TRADECORE_TEST_DATA)",
            dir.display()
        );
        None
    }
}

fn read(paths: &[PathBuf]) -> (Vec<Event>, engine_core::feed::capture::CaptureReport) {
    let mut r = CaptureReader::open(paths, ReadOptions::default()).unwrap();
    let events = r.read_all().unwrap();
    (events, r.report().clone())
}

#[test]
fn usdm_book_matches_every_book_ticker_at_the_same_update_id() {
    let Some(dir) = data_dir() else { return };
    let (events, report) = read(&[dir.join("usdm_btcusdt_20240808.gz")]);
    assert_eq!(report.sync.gap_count, 0);
    assert_eq!(
        report.messages_of(engine_core::feed::binance::MsgKind::Depth),
        6551
    );
    let mut book = L2Book::new(
        parse_decimal(b"0.1").unwrap(),
        parse_decimal(b"0.001").unwrap(),
    )
    .unwrap();
    let mut depth_u = 0;
    let mut checked = 0;
    let mut i = 0;
    while i < events.len() {
        let e = events[i];
        if e.kind == kind::BBO {
            let (bid, ask) = (events[i], events[i + 1]);
            if bid.last_update_id == depth_u {
                let b = book.best_bid().unwrap();
                let a = book.best_ask().unwrap();
                assert_eq!(
                    (b.price, b.qty, a.price, a.qty),
                    (bid.price, bid.qty, ask.price, ask.qty),
                    "u={depth_u}"
                );
                checked += 1;
            }
            i += 2;
            continue;
        }
        book.apply(&events[i..=i]).unwrap();
        if e.kind == kind::DEPTH && e.has(flags::LAST_IN_MESSAGE) {
            depth_u = e.last_update_id;
        }
        i += 1;
    }
    assert_eq!(checked, 126);
}

#[test]
fn every_pair_replays_without_gaps() {
    let Some(dir) = data_dir() else { return };
    for pair in [
        ["spot_btcusdt_20240808.gz", "spot_btcusdt_20240809.gz"],
        ["usdm_btcusdt_20240718.gz", "usdm_btcusdt_20240719.gz"],
        ["cm_btcusd_perp_20240808.gz", "cm_btcusd_perp_20240809.gz"],
    ] {
        let start = std::time::Instant::now();
        let (events, report) = read(&pair.map(|f| dir.join(f)));
        let secs = start.elapsed().as_secs_f64();
        eprintln!(
            "{pair:?}: {} events, {:.2} M events/s, stale {}, unsynced {}",
            events.len(),
            events.len() as f64 / secs / 1e6,
            report.sync.stale_messages,
            report.sync.unsynced_events
        );
        assert_eq!(report.sync.gap_count, 0, "{pair:?}");
        assert_eq!(report.sync.snapshots, 1, "{pair:?}");
        assert!(report.market.is_some());
    }
}
