//! `tradecore.synth_binance`: writes the seeded synthetic market as a raw capture.

use std::collections::BTreeMap;
use std::path::PathBuf;

use engine_core::fixed;
use engine_core::synth::{write_binance_usdm, SynthConfig};
use pyo3::prelude::*;

use crate::errors::CoreErr;

/// Writes `seconds` of a synthetic USD-M market to `path` (gzip raw capture); returns counts.
#[pyfunction]
#[pyo3(signature = (path, *, seconds = 60.0, seed = 7, symbol = "BTCUSDT", tick_size = 0.1, lot_size = 0.001, start_price = 60000.0, events_per_second = 400.0, volatility_ticks = 2.5, informed_share = 0.5, informed_horizon = 2000, informed_size = 1.0))]
#[allow(clippy::too_many_arguments, clippy::needless_pass_by_value)] // a Python signature
pub fn synth_binance(
    py: Python<'_>,
    path: PathBuf,
    seconds: f64,
    seed: u64,
    symbol: &str,
    tick_size: f64,
    lot_size: f64,
    start_price: f64,
    events_per_second: f64,
    volatility_ticks: f64,
    informed_share: f64,
    informed_horizon: u32,
    informed_size: f64,
) -> PyResult<BTreeMap<&'static str, u64>> {
    let cfg = SynthConfig {
        seed,
        seconds,
        symbol: symbol.to_string(),
        tick_size: fixed::from_f64("tick_size", tick_size).map_err(CoreErr)?,
        lot_size: fixed::from_f64("lot_size", lot_size).map_err(CoreErr)?,
        start_price: fixed::from_f64("start_price", start_price).map_err(CoreErr)?,
        events_per_second,
        volatility_ticks,
        informed_share,
        informed_horizon,
        informed_size,
        ..SynthConfig::default()
    };
    let s = py
        .detach(|| write_binance_usdm(&path, &cfg))
        .map_err(CoreErr)?;
    Ok(BTreeMap::from([
        ("lines", s.lines),
        ("depth_messages", s.depth_messages),
        ("trades", s.trades),
        ("book_tickers", s.book_tickers),
        ("level_updates", s.level_updates),
        ("informed_trades", s.informed_trades),
    ]))
}
