//! `tradecore._core` signals: batch indicator functions over float64 arrays and streaming
//! indicator objects, thin wrappers over `engine_core::signals`.

// pyo3 hands extracted arguments over by value.
#![allow(clippy::needless_pass_by_value)]

use engine_core::signals::batch;
use engine_core::signals::indicators::{
    Adx, Atr, BBands, BarIndicator, Ema, Indicator, Macd, RealizedVol, Rsi, Sma, StdDev, Stoch,
    Var, Vwap, Wma, ZScore,
};
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1};
use pyo3::prelude::*;

use crate::errors::{invalid, CoreErr};

type Out<'py> = Bound<'py, PyArray1<f64>>;

fn slice<'a>(a: &'a PyReadonlyArray1<'_, f64>, field: &'static str) -> PyResult<&'a [f64]> {
    a.as_slice()
        .map_err(|_| invalid(field, "a strided array", "must be contiguous"))
}

fn same_len(h: &[f64], l: &[f64], c: &[f64]) -> PyResult<()> {
    if h.len() != l.len() || h.len() != c.len() {
        return Err(invalid(
            "low/close",
            format!("lengths {}/{}", l.len(), c.len()),
            &format!("must have the length of high ({})", h.len()),
        ));
    }
    Ok(())
}

/// A float64 array of `n` values allocated by numpy (huge pages for large arrays), filled
/// by `fill` before Python sees it.
fn filled<'py, const N: usize>(
    py: Python<'py>,
    n: usize,
    fill: impl FnOnce([&mut [f64]; N]),
) -> PyResult<[Out<'py>; N]> {
    // SAFETY: the arrays are uninitialised only until `fill` writes every element (the batch
    // functions write one value per input, and `n` is the input length); nothing else sees
    // them before.
    let arrays: [Out<'py>; N] =
        std::array::from_fn(|_| unsafe { PyArray1::<f64>::new(py, n, false) });
    let mut views = Vec::with_capacity(N);
    for a in &arrays {
        // SAFETY: fresh arrays, owned here, contiguous.
        views.push(std::ptr::from_mut::<[f64]>(unsafe { a.as_slice_mut()? }));
    }
    // SAFETY: distinct arrays, so the slices do not overlap.
    let slices: [&mut [f64]; N] = std::array::from_fn(|i| unsafe { &mut *views[i] });
    fill(slices);
    Ok(arrays)
}

fn run1<'py>(py: Python<'py>, mut ind: impl Indicator, x: &[f64]) -> PyResult<Out<'py>> {
    let [out] = filled(py, x.len(), |[o]| batch::series(&mut ind, x, o))?;
    Ok(out)
}

macro_rules! batch1 {
    ($name:ident, $ty:ident, ($($arg:ident: $t:ty = $d:expr),*), $ctor:expr) => {
        #[pyfunction]
        #[pyo3(signature = (x, $($arg = $d),*))]
        pub fn $name<'py>(py: Python<'py>, x: PyReadonlyArray1<'py, f64>, $($arg: $t),*) -> PyResult<Out<'py>> {
            let ind: $ty = $ctor.map_err(CoreErr)?;
            run1(py, ind, slice(&x, "x")?)
        }
    };
}

batch1!(sma, Sma, (period: i64 = 30), Sma::new(period));
batch1!(ema, Ema, (period: i64 = 30), Ema::new(period));
batch1!(wma, Wma, (period: i64 = 30), Wma::new(period));
batch1!(rsi, Rsi, (period: i64 = 14), Rsi::new(period));
batch1!(var, Var, (period: i64 = 5), Var::new(period));
batch1!(stddev, StdDev, (period: i64 = 5, nbdev: f64 = 1.0), StdDev::new(period, nbdev));
batch1!(zscore, ZScore, (period: i64 = 20), ZScore::new(period));
batch1!(realized_vol, RealizedVol, (period: i64 = 20), RealizedVol::new(period));

/// VWAP of trades (price, qty, time ns) over a rolling window, or per UTC day.
#[pyfunction]
#[pyo3(signature = (price, qty, ts, window_ns = None))]
pub fn vwap<'py>(
    py: Python<'py>,
    price: PyReadonlyArray1<'py, f64>,
    qty: PyReadonlyArray1<'py, f64>,
    ts: PyReadonlyArray1<'py, i64>,
    window_ns: Option<i64>,
) -> PyResult<Out<'py>> {
    let mut ind = Vwap::new(window_ns).map_err(CoreErr)?;
    let (p, q) = (slice(&price, "price")?, slice(&qty, "qty")?);
    let t = ts
        .as_slice()
        .map_err(|_| invalid("ts", "a strided array", "must be contiguous"))?;
    if p.len() != q.len() || p.len() != t.len() {
        return Err(invalid(
            "qty/ts",
            format!("lengths {}/{}", q.len(), t.len()),
            &format!("must have the length of price ({})", p.len()),
        ));
    }
    Ok(PyArray1::from_vec(
        py,
        (0..p.len()).map(|i| ind.update(p[i], q[i], t[i])).collect(),
    ))
}

/// MACD line, signal and histogram.
#[pyfunction]
#[pyo3(signature = (x, fast_period = 12, slow_period = 26, signal_period = 9))]
pub fn macd<'py>(
    py: Python<'py>,
    x: PyReadonlyArray1<'py, f64>,
    fast_period: i64,
    slow_period: i64,
    signal_period: i64,
) -> PyResult<(Out<'py>, Out<'py>, Out<'py>)> {
    let mut ind = Macd::new(fast_period, slow_period, signal_period).map_err(CoreErr)?;
    let x = slice(&x, "x")?;
    let [a, b, c] = filled(py, x.len(), |o| batch::macd(&mut ind, x, o))?;
    Ok((a, b, c))
}

/// Bollinger bands (upper, middle, lower) over an SMA.
#[pyfunction]
#[pyo3(signature = (x, period = 5, nbdev_up = 2.0, nbdev_down = 2.0))]
pub fn bbands<'py>(
    py: Python<'py>,
    x: PyReadonlyArray1<'py, f64>,
    period: i64,
    nbdev_up: f64,
    nbdev_down: f64,
) -> PyResult<(Out<'py>, Out<'py>, Out<'py>)> {
    let mut ind = BBands::new(period, nbdev_up, nbdev_down).map_err(CoreErr)?;
    let x = slice(&x, "x")?;
    let [a, b, c] = filled(py, x.len(), |o| batch::bbands(&mut ind, x, o))?;
    Ok((a, b, c))
}

fn run_bars<'py>(
    py: Python<'py>,
    mut ind: impl BarIndicator,
    high: &PyReadonlyArray1<'py, f64>,
    low: &PyReadonlyArray1<'py, f64>,
    close: &PyReadonlyArray1<'py, f64>,
) -> PyResult<Out<'py>> {
    let (h, l, c) = (
        slice(high, "high")?,
        slice(low, "low")?,
        slice(close, "close")?,
    );
    same_len(h, l, c)?;
    Ok(PyArray1::from_vec(
        py,
        (0..h.len())
            .map(|i| ind.update_bar(h[i], l[i], c[i]))
            .collect(),
    ))
}

/// Average true range.
#[pyfunction]
#[pyo3(signature = (high, low, close, period = 14))]
pub fn atr<'py>(
    py: Python<'py>,
    high: PyReadonlyArray1<'py, f64>,
    low: PyReadonlyArray1<'py, f64>,
    close: PyReadonlyArray1<'py, f64>,
    period: i64,
) -> PyResult<Out<'py>> {
    run_bars(py, Atr::new(period).map_err(CoreErr)?, &high, &low, &close)
}

/// Average directional index.
#[pyfunction]
#[pyo3(signature = (high, low, close, period = 14))]
pub fn adx<'py>(
    py: Python<'py>,
    high: PyReadonlyArray1<'py, f64>,
    low: PyReadonlyArray1<'py, f64>,
    close: PyReadonlyArray1<'py, f64>,
    period: i64,
) -> PyResult<Out<'py>> {
    run_bars(py, Adx::new(period).map_err(CoreErr)?, &high, &low, &close)
}

/// Slow stochastic (%K, %D).
#[pyfunction]
#[pyo3(signature = (high, low, close, fastk_period = 5, slowk_period = 3, slowd_period = 3))]
pub fn stoch<'py>(
    py: Python<'py>,
    high: PyReadonlyArray1<'py, f64>,
    low: PyReadonlyArray1<'py, f64>,
    close: PyReadonlyArray1<'py, f64>,
    fastk_period: i64,
    slowk_period: i64,
    slowd_period: i64,
) -> PyResult<(Out<'py>, Out<'py>)> {
    let mut ind = Stoch::new(fastk_period, slowk_period, slowd_period).map_err(CoreErr)?;
    let (h, l, c) = (
        slice(&high, "high")?,
        slice(&low, "low")?,
        slice(&close, "close")?,
    );
    same_len(h, l, c)?;
    let [k, d] = filled(py, h.len(), |o| batch::stoch(&mut ind, h, l, c, o))?;
    Ok((k, d))
}

macro_rules! streaming1 {
    ($py:literal, $rs:ident, $ty:ident, ($($arg:ident: $t:ty = $d:expr),*), $ctor:expr) => {
        /// A streaming indicator: `update(x)` returns the value after `x` (NaN while warming up).
        #[pyclass(module = "tradecore._core", name = $py)]
        pub struct $rs {
            inner: $ty,
        }

        #[pymethods]
        impl $rs {
            #[new]
            #[pyo3(signature = ($($arg = $d),*))]
            fn new($($arg: $t),*) -> PyResult<Self> {
                Ok(Self { inner: $ctor.map_err(CoreErr)? })
            }

            fn update(&mut self, x: f64) -> f64 {
                self.inner.update(x)
            }

            #[getter]
            fn value(&self) -> f64 {
                self.inner.value()
            }

            #[getter]
            fn ready(&self) -> bool {
                !self.inner.value().is_nan()
            }

            fn reset(&mut self) {
                self.inner.reset();
            }
        }
    };
}

streaming1!("SMA", PySma, Sma, (period: i64 = 30), Sma::new(period));
streaming1!("EMA", PyEma, Ema, (period: i64 = 30), Ema::new(period));
streaming1!("WMA", PyWma, Wma, (period: i64 = 30), Wma::new(period));
streaming1!("RSI", PyRsi, Rsi, (period: i64 = 14), Rsi::new(period));
streaming1!("VAR", PyVar, Var, (period: i64 = 5), Var::new(period));
streaming1!("STDDEV", PyStdDev, StdDev, (period: i64 = 5, nbdev: f64 = 1.0), StdDev::new(period, nbdev));
streaming1!("ZSCORE", PyZScore, ZScore, (period: i64 = 20), ZScore::new(period));
streaming1!("REALIZED_VOL", PyRealizedVol, RealizedVol, (period: i64 = 20), RealizedVol::new(period));

/// Streaming VWAP: `update(price, qty, ts)` returns the VWAP after the trade.
#[pyclass(module = "tradecore._core", name = "VWAP")]
pub struct PyVwap {
    inner: Vwap,
}

#[pymethods]
impl PyVwap {
    #[new]
    #[pyo3(signature = (window_ns = None))]
    fn new(window_ns: Option<i64>) -> PyResult<Self> {
        Ok(Self {
            inner: Vwap::new(window_ns).map_err(CoreErr)?,
        })
    }

    fn update(&mut self, price: f64, qty: f64, ts: i64) -> f64 {
        self.inner.update(price, qty, ts)
    }

    #[getter]
    fn value(&self) -> f64 {
        self.inner.value()
    }
}

/// Streaming MACD: `update(x)` returns (macd, signal, histogram).
#[pyclass(module = "tradecore._core", name = "MACD")]
pub struct PyMacd {
    inner: Macd,
}

#[pymethods]
impl PyMacd {
    #[new]
    #[pyo3(signature = (fast_period = 12, slow_period = 26, signal_period = 9))]
    fn new(fast_period: i64, slow_period: i64, signal_period: i64) -> PyResult<Self> {
        Ok(Self {
            inner: Macd::new(fast_period, slow_period, signal_period).map_err(CoreErr)?,
        })
    }

    fn update(&mut self, x: f64) -> (f64, f64, f64) {
        self.inner.update(x)
    }

    #[getter]
    fn value(&self) -> (f64, f64, f64) {
        self.inner.value()
    }
}

/// Streaming Bollinger bands: `update(x)` returns (upper, middle, lower).
#[pyclass(module = "tradecore._core", name = "BBANDS")]
pub struct PyBBands {
    inner: BBands,
}

#[pymethods]
impl PyBBands {
    #[new]
    #[pyo3(signature = (period = 5, nbdev_up = 2.0, nbdev_down = 2.0))]
    fn new(period: i64, nbdev_up: f64, nbdev_down: f64) -> PyResult<Self> {
        Ok(Self {
            inner: BBands::new(period, nbdev_up, nbdev_down).map_err(CoreErr)?,
        })
    }

    fn update(&mut self, x: f64) -> (f64, f64, f64) {
        self.inner.update(x)
    }

    #[getter]
    fn value(&self) -> (f64, f64, f64) {
        self.inner.value()
    }
}

macro_rules! streaming_bars {
    ($py:literal, $rs:ident, $ty:ident) => {
        /// A streaming bar indicator: `update(high, low, close)` returns its value.
        #[pyclass(module = "tradecore._core", name = $py)]
        pub struct $rs {
            inner: $ty,
            value: f64,
        }

        #[pymethods]
        impl $rs {
            #[new]
            #[pyo3(signature = (period = 14))]
            fn new(period: i64) -> PyResult<Self> {
                Ok(Self {
                    inner: $ty::new(period).map_err(CoreErr)?,
                    value: f64::NAN,
                })
            }

            fn update(&mut self, high: f64, low: f64, close: f64) -> f64 {
                let v = self.inner.update_bar(high, low, close);
                if !v.is_nan() {
                    self.value = v;
                }
                v
            }

            #[getter]
            fn value(&self) -> f64 {
                self.value
            }
        }
    };
}

streaming_bars!("ATR", PyAtr, Atr);
streaming_bars!("ADX", PyAdx, Adx);

/// Streaming slow stochastic: `update(high, low, close)` returns (%K, %D).
#[pyclass(module = "tradecore._core", name = "STOCH")]
pub struct PyStoch {
    inner: Stoch,
}

#[pymethods]
impl PyStoch {
    #[new]
    #[pyo3(signature = (fastk_period = 5, slowk_period = 3, slowd_period = 3))]
    fn new(fastk_period: i64, slowk_period: i64, slowd_period: i64) -> PyResult<Self> {
        Ok(Self {
            inner: Stoch::new(fastk_period, slowk_period, slowd_period).map_err(CoreErr)?,
        })
    }

    fn update(&mut self, high: f64, low: f64, close: f64) -> (f64, f64) {
        self.inner.update(high, low, close)
    }

    #[getter]
    fn value(&self) -> (f64, f64) {
        self.inner.value()
    }
}

/// Registers the signals in the `_core` module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    for f in [
        wrap_pyfunction!(sma, m)?,
        wrap_pyfunction!(ema, m)?,
        wrap_pyfunction!(wma, m)?,
        wrap_pyfunction!(rsi, m)?,
        wrap_pyfunction!(var, m)?,
        wrap_pyfunction!(stddev, m)?,
        wrap_pyfunction!(zscore, m)?,
        wrap_pyfunction!(realized_vol, m)?,
        wrap_pyfunction!(vwap, m)?,
        wrap_pyfunction!(macd, m)?,
        wrap_pyfunction!(bbands, m)?,
        wrap_pyfunction!(atr, m)?,
        wrap_pyfunction!(adx, m)?,
        wrap_pyfunction!(stoch, m)?,
    ] {
        m.add_function(f)?;
    }
    m.add_class::<PySma>()?;
    m.add_class::<PyEma>()?;
    m.add_class::<PyWma>()?;
    m.add_class::<PyRsi>()?;
    m.add_class::<PyVar>()?;
    m.add_class::<PyStdDev>()?;
    m.add_class::<PyZScore>()?;
    m.add_class::<PyRealizedVol>()?;
    m.add_class::<PyVwap>()?;
    m.add_class::<PyMacd>()?;
    m.add_class::<PyBBands>()?;
    m.add_class::<PyAtr>()?;
    m.add_class::<PyAdx>()?;
    m.add_class::<PyStoch>()?;
    Ok(())
}

// ---- bars and feature sets ----

use engine_core::signals::bars::{bars as make_bars, BarSpec};
use engine_core::signals::features::{FeatureSet as CoreFeatureSet, FeatureSpec, Sample};
use numpy::PyArray2;
use pyo3::types::{PyDict, PyString};

use crate::event::events_from;

type BarColumns<'py> = (
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<u64>>,
    Bound<'py, PyArray1<f64>>,
);

/// OHLCV bars of the trades in `events`, as columns (start, end, open, high, low, close,
/// volume, `buy_volume`, trades, vwap).
#[pyfunction]
#[pyo3(signature = (events, interval_ns = None, volume = None))]
pub fn bars<'py>(
    py: Python<'py>,
    events: &Bound<'py, PyAny>,
    interval_ns: Option<i64>,
    volume: Option<f64>,
) -> PyResult<BarColumns<'py>> {
    let spec = match (interval_ns, volume) {
        (Some(i), None) => BarSpec::new_time(i).map_err(CoreErr)?,
        (None, Some(v)) => {
            BarSpec::new_volume(engine_core::fixed::from_f64("volume", v).map_err(CoreErr)?)
                .map_err(CoreErr)?
        }
        _ => {
            return Err(invalid(
                "bars",
                "interval_ns/volume",
                "give exactly one of interval_ns and volume",
            ))
        }
    };
    let view = events_from(events, "events")?;
    let b = make_bars(view.as_slice()?, spec);
    let col = |f: fn(&engine_core::signals::bars::Bar) -> i64| {
        PyArray1::from_vec(py, b.iter().map(f).collect())
    };
    Ok((
        col(|b| b.start),
        col(|b| b.end),
        col(|b| b.open),
        col(|b| b.high),
        col(|b| b.low),
        col(|b| b.close),
        col(|b| b.volume),
        col(|b| b.buy_volume),
        PyArray1::from_vec(py, b.iter().map(|b| b.trades).collect()),
        PyArray1::from_vec(
            py,
            b.iter()
                .map(engine_core::signals::bars::Bar::vwap)
                .collect(),
        ),
    ))
}

fn spec_from(item: &Bound<'_, PyAny>) -> PyResult<FeatureSpec> {
    let (name, kind, params): (String, String, Bound<'_, PyDict>) =
        item.extract().map_err(|_| {
            invalid(
                "features",
                item.repr().map_or("?".into(), |r| r.to_string()),
                "each feature must be a (name, kind, params dict) tuple",
            )
        })?;
    let mut spec = FeatureSpec {
        name,
        kind,
        ints: Vec::new(),
        texts: Vec::new(),
        reals: Vec::new(),
    };
    for (k, v) in params.iter() {
        let key: String = k.extract()?;
        if v.is_instance_of::<PyString>() {
            spec.texts.push((key, v.extract()?));
        } else if let Ok(i) = v.extract::<i64>() {
            spec.ints.push((key, i));
        } else if let Ok(f) = v.extract::<f64>() {
            spec.reals.push((key, f));
        } else {
            return Err(invalid(
                "params",
                format!("{key}={}", v.repr()?),
                "values must be int, float or str",
            ));
        }
    }
    Ok(spec)
}

/// Sample timestamps and the feature matrix.
type Rows<'py> = (Bound<'py, PyArray1<i64>>, Bound<'py, PyArray2<f64>>);

/// Named features over one instrument's events, computed in the core (see
/// `tradecore.signals.FeatureSet`).
#[pyclass(module = "tradecore._core", name = "FeatureSet")]
pub struct PyFeatureSet {
    inner: CoreFeatureSet,
    /// What it was made of, for fresh copies ([`PyFeatureSet::fresh`]).
    spec: FeatureSetSpec,
}

/// The arguments of `engine_core`'s `FeatureSet::new`.
#[derive(Clone)]
struct FeatureSetSpec {
    specs: Vec<engine_core::signals::features::FeatureSpec>,
    tick: i64,
    lot: i64,
    bars: Option<BarSpec>,
    sample: Sample,
    instrument: Option<u32>,
}

impl PyFeatureSet {
    /// The core feature set's definition.
    pub(crate) fn core_definition(&self) -> &engine_core::signals::definition::Definition {
        self.inner.definition()
    }

    /// A new feature set of the same definition, from a fresh state (the in-loop signals
    /// of the backtest and the live feeds run their own).
    pub(crate) fn fresh(&self) -> PyResult<CoreFeatureSet> {
        let s = &self.spec;
        CoreFeatureSet::new(&s.specs, s.tick, s.lot, s.bars, s.sample, s.instrument)
            .map_err(|e| CoreErr(e).into())
    }
}

#[pymethods]
impl PyFeatureSet {
    #[new]
    #[pyo3(signature = (features, tick_size, lot_size, *, bar_interval_ns = None, bar_volume = None, sample = "message", sample_every_ns = None, instrument = None))]
    #[allow(clippy::too_many_arguments, clippy::needless_pass_by_value)] // a Python signature
    fn new(
        features: Vec<Bound<'_, PyAny>>,
        tick_size: f64,
        lot_size: f64,
        bar_interval_ns: Option<i64>,
        bar_volume: Option<f64>,
        sample: &str,
        sample_every_ns: Option<i64>,
        instrument: Option<u32>,
    ) -> PyResult<Self> {
        let specs = features
            .iter()
            .map(spec_from)
            .collect::<PyResult<Vec<_>>>()?;
        let bars = match (bar_interval_ns, bar_volume) {
            (None, None) => None,
            (Some(i), None) => Some(BarSpec::new_time(i).map_err(CoreErr)?),
            (None, Some(v)) => Some(
                BarSpec::new_volume(
                    engine_core::fixed::from_f64("bar_volume", v).map_err(CoreErr)?,
                )
                .map_err(CoreErr)?,
            ),
            _ => {
                return Err(invalid(
                    "bars",
                    "both",
                    "give at most one of bar_interval_ns and bar_volume",
                ))
            }
        };
        let sample = match (sample, sample_every_ns) {
            ("event", None) => Sample::Event,
            ("message", None) => Sample::Message,
            ("trade", None) => Sample::Trade,
            ("bar", None) => Sample::Bar,
            ("every", Some(ns)) => Sample::Every(ns),
            (s, _) => {
                return Err(invalid(
                    "sample",
                    s,
                    "one of event, message, trade, bar, or every (with sample_every_ns)",
                ))
            }
        };
        let tick = engine_core::fixed::from_f64("tick_size", tick_size).map_err(CoreErr)?;
        let lot = engine_core::fixed::from_f64("lot_size", lot_size).map_err(CoreErr)?;
        Ok(PyFeatureSet {
            inner: CoreFeatureSet::new(&specs, tick, lot, bars, sample, instrument)
                .map_err(CoreErr)?,
            spec: FeatureSetSpec {
                specs,
                tick,
                lot,
                bars,
                sample,
                instrument,
            },
        })
    }

    /// Consumes `events`; returns (timestamps, rows) of the sample points among them.
    fn update<'py>(&mut self, py: Python<'py>, events: &Bound<'py, PyAny>) -> PyResult<Rows<'py>> {
        let view = events_from(events, "events")?;
        let (mut ts, mut rows) = (Vec::new(), Vec::new());
        let result = self.inner.update(view.as_slice()?, &mut ts, &mut rows);
        if let Err((i, e)) = result {
            return Err(CoreErr(engine_core::Error::Data {
                location: engine_core::error::Location {
                    source: "feature set".into(),
                    line: 0,
                },
                message: format!("events[{i}] does not fit the book: {e}"),
            })
            .into());
        }
        let k = self.inner.names().len();
        let n = ts.len();
        let matrix = PyArray1::from_vec(py, rows).reshape([n, k])?;
        Ok((PyArray1::from_vec(py, ts), matrix))
    }

    /// Column names.
    #[getter]
    fn names(&self) -> Vec<String> {
        self.inner.names().to_vec()
    }

    /// The definition (names, kinds, every parameter with its default, bars, sampling) as
    /// canonical JSON: what a model trained on these rows records.
    #[getter]
    fn definition(&self) -> String {
        self.inner.definition().to_json()
    }

    /// The SHA-256 (hex) of `definition`.
    #[getter]
    fn definition_sha256(&self) -> String {
        self.inner.definition().sha256()
    }

    /// The current value of every feature.
    #[getter]
    fn values<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, self.inner.values())
    }

    /// Events consumed so far.
    #[getter]
    fn events(&self) -> u64 {
        self.inner.events()
    }
}

/// Registers bars and feature sets.
pub fn register_features(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(bars, m)?)?;
    m.add_class::<PyFeatureSet>()?;
    Ok(())
}
