//! `tradecore.OrderBook`: a thin wrapper over `engine_core::L2Book`. Floats at the edge,
//! fixed point inside; batches applied with the GIL released.

use engine_core::{fixed, L2Book, Side};
use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::detach_if;
use crate::errors::{invalid, CoreErr};
use crate::event::events_from;

/// Parses a side: 'bid'/'buy' or 'ask'/'sell' (any case), or 1 / -1.
pub fn parse_side(obj: &Bound<'_, PyAny>) -> PyResult<Side> {
    if let Ok(s) = obj.cast::<PyString>() {
        let s = s.to_cow()?;
        return match s.to_ascii_lowercase().as_str() {
            "bid" | "buy" | "b" => Ok(Side::Bid),
            "ask" | "sell" | "a" | "s" => Ok(Side::Ask),
            _ => Err(invalid(
                "side",
                format!("'{s}'"),
                "must be 'bid' or 'ask' ('buy' or 'sell')",
            )),
        };
    }
    if let Ok(v) = obj.extract::<i64>() {
        return match v {
            1 => Ok(Side::Bid),
            -1 => Ok(Side::Ask),
            _ => Err(invalid("side", v, "must be 'bid' or 'ask' (or 1 / -1)")),
        };
    }
    Err(invalid(
        "side",
        obj.repr()?,
        "must be 'bid' or 'ask' (or 1 / -1)",
    ))
}

fn price_in(field: &'static str, x: f64) -> PyResult<i64> {
    fixed::from_f64(field, x).map_err(|e| CoreErr(e).into())
}

pub(crate) fn level_out(l: engine_core::Level) -> (f64, f64) {
    (fixed::to_f64(l.price), fixed::to_f64(l.qty))
}

/// Book imbalance over `levels` (>= 1) levels a side.
pub(crate) fn checked_imbalance(book: &L2Book, levels: i64) -> PyResult<Option<f64>> {
    if levels < 1 {
        return Err(invalid("levels", levels, "must be at least 1"));
    }
    Ok(book.imbalance(levels as usize))
}

/// The best `n` levels of a side as an (n, 2) array of (price, qty).
pub(crate) fn book_levels<'py>(
    py: Python<'py>,
    book: &L2Book,
    side: Side,
    n: i64,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    if n < 0 {
        return Err(invalid("n", n, "must not be negative"));
    }
    let mut flat = Vec::with_capacity(2 * (n as usize).min(book.depth(side)));
    for l in book.levels(side).take(n as usize) {
        flat.push(fixed::to_f64(l.price));
        flat.push(fixed::to_f64(l.qty));
    }
    let rows = flat.len() / 2;
    PyArray1::from_vec(py, flat).reshape([rows, 2])
}

/// Quantity at a price of a side.
pub(crate) fn book_qty_at(book: &L2Book, side: Side, price: f64) -> PyResult<f64> {
    Ok(fixed::to_f64(book.qty_at(side, price_in("price", price)?)))
}

/// L2 price-level order book of one instrument.
#[pyclass(module = "tradecore._core")]
pub struct OrderBook {
    pub(crate) inner: L2Book,
}

#[pymethods]
impl OrderBook {
    #[new]
    fn new(tick_size: f64, lot_size: f64) -> PyResult<Self> {
        let tick = price_in("tick_size", tick_size)?;
        let lot = price_in("lot_size", lot_size)?;
        Ok(OrderBook {
            inner: L2Book::new(tick, lot).map_err(CoreErr)?,
        })
    }

    /// Applies depth, snapshot and clear events (other kinds are ignored).
    fn apply(&mut self, py: Python<'_>, events: &Bound<'_, PyAny>) -> PyResult<()> {
        let view = events_from(events, "events")?;
        let slice = view.as_slice()?;
        let book = &mut self.inner;
        // The GIL is released only for a large batch in memory no other Python thread can
        // write (a read-only array, or our own copy); set `events.flags.writeable = False`
        // to let a large apply run beside other Python threads.
        let release = slice.len() >= crate::DETACH_MIN_ITEMS && view.private()?;
        let work = if release { slice.len() } else { 0 };
        detach_if(py, work, || book.apply(slice)).map_err(|(i, e)| {
            let err: PyErr = CoreErr(e).into();
            let msg = format!("events[{i}]: {}", err.value(py));
            PyErr::from_type(err.get_type(py), msg)
        })
    }

    fn set_level(&mut self, side: &Bound<'_, PyAny>, price: f64, qty: f64) -> PyResult<()> {
        let side = parse_side(side)?;
        let (p, q) = (price_in("price", price)?, price_in("qty", qty)?);
        self.inner
            .set_level(side, p, q)
            .map_err(|e| CoreErr(e).into())
    }

    fn clear(&mut self) {
        self.inner.clear();
    }

    fn best_bid(&self) -> Option<(f64, f64)> {
        self.inner.best_bid().map(level_out)
    }

    fn best_ask(&self) -> Option<(f64, f64)> {
        self.inner.best_ask().map(level_out)
    }

    fn mid(&self) -> Option<f64> {
        self.inner.mid()
    }

    fn spread(&self) -> Option<f64> {
        self.inner.spread().map(fixed::to_f64)
    }

    fn microprice(&self) -> Option<f64> {
        self.inner.microprice()
    }

    #[pyo3(signature = (levels = 5))]
    fn imbalance(&self, levels: i64) -> PyResult<Option<f64>> {
        checked_imbalance(&self.inner, levels)
    }

    fn levels<'py>(
        &self,
        py: Python<'py>,
        side: &Bound<'_, PyAny>,
        n: i64,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        book_levels(py, &self.inner, parse_side(side)?, n)
    }

    fn qty_at(&self, side: &Bound<'_, PyAny>, price: f64) -> PyResult<f64> {
        book_qty_at(&self.inner, parse_side(side)?, price)
    }

    fn cost_to_fill(&self, side: &Bound<'_, PyAny>, qty: f64) -> PyResult<Option<(f64, f64)>> {
        let side = parse_side(side)?;
        let q = price_in("qty", qty)?;
        let r = self.inner.cost_to_fill(side, q).map_err(CoreErr)?;
        Ok(r.map(|(avg, filled)| (avg, fixed::to_f64(filled))))
    }

    fn is_crossed(&self) -> bool {
        self.inner.is_crossed()
    }

    #[getter]
    fn last_update_id(&self) -> u64 {
        self.inner.last_update_id()
    }

    #[getter]
    fn in_sync(&self) -> bool {
        self.inner.in_sync()
    }

    #[getter]
    fn bid_levels(&self) -> usize {
        self.inner.depth(Side::Bid)
    }

    #[getter]
    fn ask_levels(&self) -> usize {
        self.inner.depth(Side::Ask)
    }

    #[getter]
    fn tick_size(&self) -> f64 {
        fixed::to_f64(self.inner.tick_size())
    }

    #[getter]
    fn lot_size(&self) -> f64 {
        fixed::to_f64(self.inner.lot_size())
    }

    fn __repr__(&self) -> String {
        let fmt = |l: Option<engine_core::Level>| {
            l.map_or("-".to_string(), |l| {
                format!("{} x {}", fixed::format(l.qty), fixed::format(l.price))
            })
        };
        format!(
            "OrderBook(tick_size={}, lot_size={}, bid={}, ask={}, levels={}/{})",
            fixed::format(self.inner.tick_size()),
            fixed::format(self.inner.lot_size()),
            fmt(self.inner.best_bid()),
            fmt(self.inner.best_ask()),
            self.inner.depth(Side::Bid),
            self.inner.depth(Side::Ask),
        )
    }
}
