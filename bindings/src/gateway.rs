//! `tradecore.BinanceEncoder`: Binance's signing key, used by the native order path
//! (`OrderEntry`, which builds new orders' requests) and for cancels' signed queries.

use engine_core::gateway::BinanceEncoder as CoreEncoder;
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
