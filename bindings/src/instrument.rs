//! `tradecore.OrderFilters`: an instrument's order filters (a thin wrapper over
//! `engine_core::instrument::OrderFilters`).

use engine_core::instrument::OrderFilters;
use pyo3::prelude::*;

use crate::errors::invalid;
use crate::types::fixed;

/// The venue's order filters of an instrument (0: no bound); see the stub.
#[pyclass(module = "tradecore._core", name = "OrderFilters", frozen)]
pub struct PyOrderFilters {
    pub(crate) inner: OrderFilters,
}

fn bound(field: &'static str, v: f64) -> PyResult<i64> {
    if v < 0.0 {
        return Err(invalid(field, v, "must be >= 0 (0: no bound)"));
    }
    fixed(field, v)
}

fn ratio(field: &'static str, v: f64) -> PyResult<f64> {
    if !(v.is_finite() && v >= 0.0) {
        return Err(invalid(field, v, "must be finite and >= 0 (0: no bound)"));
    }
    Ok(v)
}

#[pymethods]
impl PyOrderFilters {
    #[new]
    #[pyo3(signature = (*, min_price = 0.0, max_price = 0.0, min_qty = 0.0, max_qty = 0.0, market_min_qty = 0.0, market_max_qty = 0.0, market_lot = 0.0, min_notional = 0.0, max_notional = 0.0, min_notional_reduce_only = false, percent_up = 0.0, percent_down = 0.0))]
    #[allow(clippy::too_many_arguments)] // a Python signature
    fn new(
        min_price: f64,
        max_price: f64,
        min_qty: f64,
        max_qty: f64,
        market_min_qty: f64,
        market_max_qty: f64,
        market_lot: f64,
        min_notional: f64,
        max_notional: f64,
        min_notional_reduce_only: bool,
        percent_up: f64,
        percent_down: f64,
    ) -> PyResult<Self> {
        Ok(PyOrderFilters {
            inner: OrderFilters {
                min_price: bound("min_price", min_price)?,
                max_price: bound("max_price", max_price)?,
                min_qty: bound("min_qty", min_qty)?,
                max_qty: bound("max_qty", max_qty)?,
                market_min_qty: bound("market_min_qty", market_min_qty)?,
                market_max_qty: bound("market_max_qty", market_max_qty)?,
                market_lot: bound("market_lot", market_lot)?,
                min_notional: ratio("min_notional", min_notional)?,
                max_notional: ratio("max_notional", max_notional)?,
                min_notional_reduce_only,
                percent_up: ratio("percent_up", percent_up)?,
                percent_down: ratio("percent_down", percent_down)?,
            },
        })
    }

    /// Checks an order (`price` None: a market order; `reference` 0: unknown): None when it
    /// passes, else (filter name, message).
    #[pyo3(signature = (price, qty, reference = 0.0, contract_size = 1.0, inverse = false, reduce_only = false))]
    fn check(
        &self,
        price: Option<f64>,
        qty: f64,
        reference: f64,
        contract_size: f64,
        inverse: bool,
        reduce_only: bool,
    ) -> PyResult<Option<(&'static str, String)>> {
        let p = match price {
            Some(p) if p <= 0.0 => return Err(invalid("price", p, "must be > 0 (None: market)")),
            Some(p) => fixed("price", p)?,
            None => 0,
        };
        let r = self.inner.check(
            p,
            fixed("qty", qty)?,
            bound("reference", reference)?,
            contract_size,
            inverse,
            reduce_only,
        );
        Ok(r.err().map(|f| (f.filter, f.message)))
    }

    fn __repr__(&self) -> String {
        format!("{:?}", self.inner)
    }
}
