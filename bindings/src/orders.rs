//! `tradecore.OrderTracker`: the core's order lifecycle (`engine_core::execution::OrderTracker`)
//! for Python — the same rules the backtest and paper replay apply to their orders.

use engine_core::execution::{OrderRow, OrderTracker};
use engine_core::fixed::to_f64;
use engine_core::types::{OrderStatus as CoreStatus, OrderType, TimeInForce};
use pyo3::prelude::*;

use crate::errors::{invalid, CoreErr};
use crate::types::{fixed, order_price, side_of_sign, OrderStatus};

/// Orders and their lifecycle, driven by reports (see the stub).
#[pyclass(module = "tradecore._core", name = "OrderTracker")]
pub struct PyOrderTracker {
    inner: OrderTracker,
}

impl PyOrderTracker {
    fn index(&self, client_id: u64) -> PyResult<usize> {
        self.inner
            .index_of(client_id)
            .ok_or_else(|| invalid("client_id", client_id, "is not an order of this tracker"))
    }
}

#[pymethods]
impl PyOrderTracker {
    #[new]
    fn new() -> Self {
        PyOrderTracker {
            inner: OrderTracker::new(),
        }
    }

    /// A new order, pending: `side` +1 / -1, `price` None for a market order.
    #[pyo3(signature = (client_id, instrument, side, qty, price, ts = 0))]
    fn add(
        &mut self,
        client_id: u64,
        instrument: u32,
        side: i64,
        qty: f64,
        price: Option<f64>,
        ts: i64,
    ) -> PyResult<()> {
        let (order_type, price) = order_price(price)?;
        let qty = fixed("qty", qty)?;
        if qty <= 0 {
            return Err(invalid("qty", to_f64(qty), "must be > 0"));
        }
        self.inner
            .insert(OrderRow {
                client_id,
                instrument,
                side: side_of_sign(side)?,
                tif: TimeInForce::Gtc,
                status: CoreStatus::Pending,
                reduce_only: false,
                sent_ts: ts,
                done_ts: -1,
                price,
                qty,
                filled: 0,
                accepted: false,
                liquidation: false,
                order_type: if order_type == OrderType::Market {
                    OrderType::Market
                } else {
                    OrderType::Limit
                },
                trigger_price: 0,
            })
            .map(|_| ())
            .map_err(|e| CoreErr(e).into())
    }

    /// An order as a journal or a restart has it (any status, `filled` so far): the tracker
    /// goes on from there.
    #[pyo3(signature = (client_id, instrument, side, qty, price, status, filled = 0.0, ts = 0))]
    #[allow(clippy::too_many_arguments)] // a Python signature
    fn restore(
        &mut self,
        client_id: u64,
        instrument: u32,
        side: i64,
        qty: f64,
        price: Option<f64>,
        status: OrderStatus,
        filled: f64,
        ts: i64,
    ) -> PyResult<()> {
        let s = CoreStatus::ALL[status as usize];
        let f = fixed("filled", filled)?;
        if f < 0 {
            return Err(invalid("filled", filled, "must be >= 0"));
        }
        // checked before anything is recorded: a refused restore leaves no row behind
        self.add(client_id, instrument, side, qty, price, ts)?;
        let i = self.index(client_id)?;
        if f > 0 {
            self.inner.filled(i, f, 1);
        }
        if s != CoreStatus::Pending && s != self.inner.row(i).status {
            // a first status may be anything (refused included): set as recorded
            if s == CoreStatus::Refused {
                self.inner.close(client_id, s, ts);
            } else {
                self.inner.set_status(i, s, ts);
            }
        }
        Ok(())
    }

    /// True if `client_id` is an order of this tracker.
    fn __contains__(&self, client_id: u64) -> bool {
        self.inner.contains(client_id)
    }

    /// Moves an order to `status` if its status may become it (only forward; a terminal one
    /// ends it); True if it changed.
    #[pyo3(signature = (client_id, status, ts = 0))]
    fn set_status(&mut self, client_id: u64, status: OrderStatus, ts: i64) -> PyResult<bool> {
        let i = self.index(client_id)?;
        Ok(self
            .inner
            .set_status(i, CoreStatus::ALL[status as usize], ts))
    }

    /// A fill of `qty` (its trade id already checked by the caller, e.g. the journal): returns
    /// (whether the order ended filled, the quantity it has left).
    #[pyo3(signature = (client_id, qty, ts = 0))]
    fn fill_qty(&mut self, client_id: u64, qty: f64, ts: i64) -> PyResult<(bool, f64)> {
        let i = self.index(client_id)?;
        let q = fixed("qty", qty)?;
        if q <= 0 {
            return Err(invalid("qty", qty, "must be > 0"));
        }
        let r = self.inner.row(i);
        let remaining = (r.qty - r.filled - q).max(0);
        let ended = self.inner.fill(i, q, remaining, ts);
        Ok((ended, to_f64(remaining)))
    }

    /// The order now has this limit price and open quantity (a modification the exchange has,
    /// or the record's values put back after it refused one).
    fn modified(&mut self, client_id: u64, price: f64, open_qty: f64) -> PyResult<()> {
        let i = self.index(client_id)?;
        let (p, q) = (fixed("price", price)?, fixed("open_qty", open_qty)?);
        if p <= 0 || q < 0 {
            return Err(invalid(
                "open_qty",
                open_qty,
                "price must be > 0 and open_qty >= 0",
            ));
        }
        self.inner.modified(i, p, q);
        Ok(())
    }

    /// The exchange accepted it (pending or unknown -> open; a late report changes nothing).
    fn accepted(&mut self, client_id: u64) -> PyResult<()> {
        let i = self.index(client_id)?;
        self.inner.accepted(i);
        Ok(())
    }

    /// A fill the exchange numbered `trade_id`, booked once: None for a duplicate, else
    /// whether the order ended filled.
    #[pyo3(signature = (client_id, trade_id, qty, ts = 0))]
    fn fill(&mut self, client_id: u64, trade_id: u64, qty: f64, ts: i64) -> PyResult<Option<bool>> {
        let i = self.index(client_id)?;
        let q = fixed("qty", qty)?;
        if q <= 0 {
            return Err(invalid("qty", qty, "must be > 0"));
        }
        Ok(self.inner.fill_once(i, trade_id, q, ts))
    }

    /// The order ends with `status` (a terminal one) if its status may become it; True if
    /// it changed.
    #[pyo3(signature = (client_id, status, ts = 0))]
    fn close(&mut self, client_id: u64, status: OrderStatus, ts: i64) -> PyResult<bool> {
        self.index(client_id)?;
        let s = CoreStatus::ALL[status as usize];
        if !s.is_terminal() {
            return Err(invalid(
                "status",
                s.name(),
                "must be terminal (filled, cancelled, rejected, refused, expired)",
            ));
        }
        Ok(self.inner.close(client_id, s, ts))
    }

    /// The status of an order.
    fn status(&self, client_id: u64) -> PyResult<OrderStatus> {
        let i = self.index(client_id)?;
        Ok(self.inner.row(i).status.into())
    }

    /// The filled quantity of an order.
    fn filled(&self, client_id: u64) -> PyResult<f64> {
        let i = self.index(client_id)?;
        Ok(to_f64(self.inner.row(i).filled))
    }

    /// Client ids of the open orders, oldest first.
    fn open_orders(&self) -> Vec<u64> {
        self.inner.open().to_vec()
    }
}
