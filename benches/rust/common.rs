//! Shared by the criterion benches: the real data (or, without it, the synthetic market).

use std::path::PathBuf;

use engine_core::event::Event;
use engine_core::feed::capture::{CaptureReader, ReadOptions};
use engine_core::synth::{write_binance_usdm, SynthConfig};

/// The USD-M BTCUSDT capture of `TRADECORE_TEST_DATA` (default `../shared/data`), or a
/// synthetic capture written to a temporary folder when the recorded data is absent.
pub fn usdm_capture() -> (PathBuf, &'static str) {
    let dir = std::env::var_os("TRADECORE_TEST_DATA").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"),
        PathBuf::from,
    );
    let real = dir.join("binance/usdm_btcusdt_20240808.gz");
    if real.is_file() {
        return (real, "real usdm_btcusdt_20240808");
    }
    let path = std::env::temp_dir().join("tradecore-bench-synthetic.gz");
    if !path.is_file() {
        write_binance_usdm(
            &path,
            &SynthConfig {
                seconds: 300.0,
                ..SynthConfig::default()
            },
        )
        .expect("synthetic capture");
    }
    (path, "synthetic (no recorded data found)")
}

/// Every normalized event of the capture.
pub fn read_events(path: &PathBuf) -> Vec<Event> {
    CaptureReader::open(&[path], ReadOptions::default())
        .and_then(|mut r| r.read_all())
        .expect("readable capture")
}
