//! `PyO3` bindings: the `tradecore._core` extension module. Thin newtypes around `engine_core`
//! types, numpy conversion, error mapping and GIL release; no trading logic lives here.

mod account;
mod backtest;
mod book;
mod capture;
mod columns;
mod errors;
mod event;
mod feed;
mod gateway;
mod instrument;
mod merge;
mod model;
mod order_entry;
mod orders;
mod risk;
mod signals;
mod sim;
mod synth;
mod types;

use engine_core::event::{flags, kind};
use pyo3::marker::Ungil;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Batches at least this long are processed with the GIL released (when the memory is private
/// to Rust); below it, the cost of releasing and re-acquiring the GIL outweighs the benefit.
pub(crate) const DETACH_MIN_ITEMS: usize = 4096;

/// Runs `f` with the GIL released when the work is large enough to be worth it.
pub(crate) fn detach_if<T: Ungil, F: Ungil + FnOnce() -> T>(
    py: Python<'_>,
    items: usize,
    f: F,
) -> T {
    if items >= DETACH_MIN_ITEMS {
        py.detach(f)
    } else {
        f()
    }
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("EVENT_DTYPE", event::event_dtype(py)?)?;
    m.add("SCALE", engine_core::fixed::SCALE)?;
    let kinds = PyDict::new(py);
    for k in kind::ALL {
        kinds.set_item(kind::name(k).to_uppercase(), k)?;
    }
    m.add("EVENT_KINDS", kinds)?;
    let fl = PyDict::new(py);
    fl.set_item("LAST_IN_MESSAGE", flags::LAST_IN_MESSAGE)?;
    fl.set_item("OUT_OF_SYNC", flags::OUT_OF_SYNC)?;
    fl.set_item("NO_EXCH_TS", flags::NO_EXCH_TS)?;
    fl.set_item("NON_MARKET_TRADE", flags::NON_MARKET_TRADE)?;
    fl.set_item("CLOSED", flags::CLOSED)?;
    m.add("EVENT_FLAGS", fl)?;
    m.add_class::<instrument::PyOrderFilters>()?;
    m.add_class::<types::Side>()?;
    m.add_class::<types::OrderType>()?;
    m.add_class::<types::TimeInForce>()?;
    m.add_class::<types::OrderStatus>()?;
    m.add_class::<book::OrderBook>()?;
    m.add_class::<backtest::Backtest>()?;
    m.add_class::<backtest::BookView>()?;
    m.add_class::<backtest::Trade>()?;
    m.add_class::<backtest::MarkPrice>()?;
    m.add_class::<backtest::Kline>()?;
    m.add_class::<backtest::Liquidation>()?;
    m.add_class::<backtest::OrderUpdate>()?;
    m.add_class::<capture::PyCaptureReader>()?;
    m.add_class::<capture::CaptureReport>()?;
    m.add_class::<capture::Gap>()?;
    m.add_class::<feed::BinanceFeed>()?;
    m.add_function(wrap_pyfunction!(capture::read_capture, m)?)?;
    m.add_function(wrap_pyfunction!(synth::synth_binance, m)?)?;
    m.add_function(wrap_pyfunction!(merge::merge_events, m)?)?;
    m.add_function(wrap_pyfunction!(columns::events_from_columns, m)?)?;
    m.add_function(wrap_pyfunction!(columns::events_to_columns, m)?)?;
    m.add_function(wrap_pyfunction!(columns::gather_columns, m)?)?;
    m.add_class::<risk::PyRiskEngine>()?;
    m.add_class::<risk::PyPortfolio>()?;
    m.add_class::<risk::Position>()?;
    m.add_class::<account::AccountSpec>()?;
    m.add_class::<account::AccountView>()?;
    m.add_class::<orders::PyOrderTracker>()?;
    m.add_class::<risk::Decision>()?;
    m.add_class::<sim::SimExchange>()?;
    m.add_class::<gateway::BinanceEncoder>()?;
    m.add_class::<order_entry::IntentLog>()?;
    m.add_class::<model::Model>()?;
    m.add_class::<model::ModelSignal>()?;
    m.add_class::<model::Prediction>()?;
    m.add_class::<order_entry::OrderEntry>()?;
    signals::register(m)?;
    signals::register_features(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
