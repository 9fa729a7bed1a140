//! `tradecore.BinanceEncoder`: Binance's signed order request bodies, built in Rust (the
//! tick-to-order path of the native gateway).

use engine_core::fixed::from_f64;
use engine_core::gateway::{BinanceEncoder as CoreEncoder, NewOrder};
use engine_core::risk::OrderSide;
use engine_core::sim::TimeInForce;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::CoreErr;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Signed request bodies of one Binance API secret.
#[pyclass(module = "tradecore._core", name = "BinanceEncoder", frozen)]
pub struct BinanceEncoder {
    pub(crate) inner: CoreEncoder,
}

#[pymethods]
impl BinanceEncoder {
    #[new]
    #[pyo3(signature = (secret, *, recv_window_ms = 5000))]
    fn new(secret: &str, recv_window_ms: i64) -> PyResult<Self> {
        Ok(BinanceEncoder {
            inner: CoreEncoder::new(secret.as_bytes(), recv_window_ms).map_err(CoreErr)?,
        })
    }

    /// The body of a new order: `side` +1 buy / -1 sell, `price` 0.0 for a market order, `tif`
    /// 0 GTC, 1 IOC, 2 FOK, 3 post-only (GTX); `ts_ms` default now.
    #[pyo3(signature = (symbol, side, qty, price, tif, reduce_only, client_order_id, ts_ms = None))]
    #[allow(clippy::too_many_arguments)] // a Python signature
    fn new_order<'py>(
        &self,
        py: Python<'py>,
        symbol: &str,
        side: i64,
        qty: f64,
        price: f64,
        tif: u8,
        reduce_only: bool,
        client_order_id: &str,
        ts_ms: Option<i64>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let side = OrderSide::from_sign(side).map_err(CoreErr)?;
        let o = NewOrder {
            symbol,
            side,
            price: from_f64("price", price).map_err(CoreErr)?,
            qty: from_f64("qty", qty).map_err(CoreErr)?,
            tif: TimeInForce::from_code(tif).map_err(CoreErr)?,
            reduce_only,
            client_order_id,
        };
        let mut out = Vec::with_capacity(256);
        self.inner
            .new_order(&o, ts_ms.unwrap_or_else(now_ms), &mut out)
            .map_err(CoreErr)?;
        Ok(PyBytes::new(py, &out))
    }

    /// The query of a cancel, by the exchange's order id when given, else by the client id.
    #[pyo3(signature = (symbol, order_id, client_order_id, ts_ms = None))]
    fn cancel<'py>(
        &self,
        py: Python<'py>,
        symbol: &str,
        order_id: Option<&str>,
        client_order_id: &str,
        ts_ms: Option<i64>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let mut out = Vec::with_capacity(192);
        self.inner
            .cancel(
                symbol,
                order_id,
                client_order_id,
                ts_ms.unwrap_or_else(now_ms),
                &mut out,
            )
            .map_err(CoreErr)?;
        Ok(PyBytes::new(py, &out))
    }
}
