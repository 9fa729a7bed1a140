//! Batch runs of the streaming indicators over arrays: the same `update` applied to every
//! value, inlined into one loop per indicator, so batch and streaming agree exactly. The
//! outputs are written into caller-provided slices (the bindings hand numpy's buffers, which
//! numpy backs with huge pages: a fresh 8 MB `Vec` costs ~2,000 page faults, measured at 40%
//! of a BBANDS run).

use super::indicators::{BBands, BarIndicator, Indicator, Macd, Stoch};

/// `out[i] = ind.update(x[i])` (`out` at least as long as `x`).
pub fn series<I: Indicator>(ind: &mut I, x: &[f64], out: &mut [f64]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = ind.update(v);
    }
}

/// MACD into (line, signal, histogram).
pub fn macd(ind: &mut Macd, x: &[f64], out: [&mut [f64]; 3]) {
    let [a, b, c] = out;
    for (((a, b), c), &v) in a.iter_mut().zip(b.iter_mut()).zip(c.iter_mut()).zip(x) {
        (*a, *b, *c) = ind.update(v);
    }
}

/// Bollinger bands into (upper, middle, lower).
pub fn bbands(ind: &mut BBands, x: &[f64], out: [&mut [f64]; 3]) {
    let [a, b, c] = out;
    for (((a, b), c), &v) in a.iter_mut().zip(b.iter_mut()).zip(c.iter_mut()).zip(x) {
        (*a, *b, *c) = ind.update(v);
    }
}

/// A bar indicator over (high, low, close).
pub fn bars<I: BarIndicator>(
    ind: &mut I,
    high: &[f64],
    low: &[f64],
    close: &[f64],
    out: &mut [f64],
) {
    for (i, o) in out
        .iter_mut()
        .enumerate()
        .take(high.len().min(low.len()).min(close.len()))
    {
        *o = ind.update_bar(high[i], low[i], close[i]);
    }
}

/// The slow stochastic into (%K, %D).
pub fn stoch(ind: &mut Stoch, high: &[f64], low: &[f64], close: &[f64], out: [&mut [f64]; 2]) {
    let [k, d] = out;
    let n = high
        .len()
        .min(low.len())
        .min(close.len())
        .min(k.len())
        .min(d.len());
    for i in 0..n {
        (k[i], d[i]) = ind.update(high[i], low[i], close[i]);
    }
}
