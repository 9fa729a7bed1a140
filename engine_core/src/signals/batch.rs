//! Batch runs of the streaming indicators over arrays: the same `update` applied to every
//! value, inlined into one loop per indicator, so batch and streaming agree exactly.

use super::indicators::{BBands, BarIndicator, Indicator, Macd, Stoch};

/// Defines a batch function (the loop is inlined with every `update` it calls).
macro_rules! batch_fn {
    ($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty $body:block) => {
        batch_fn!($name<>($($arg: $ty),*) -> $ret $body);
    };
    ($name:ident<$($g:ident: $bound:path),*>($($arg:ident: $ty:ty),*) -> $ret:ty $body:block) => {
        /// See the module documentation.
        pub fn $name<$($g: $bound),*>($($arg: $ty),*) -> $ret $body
    };
}

batch_fn!(series<I: Indicator>(ind: &mut I, x: &[f64]) -> Vec<f64> {
    x.iter().map(|&v| ind.update(v)).collect()
});

batch_fn!(macd(ind: &mut Macd, x: &[f64]) -> [Vec<f64>; 3] {
    let n = x.len();
    let (mut a, mut b, mut c) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    for (i, &v) in x.iter().enumerate() {
        (a[i], b[i], c[i]) = ind.update(v);
    }
    [a, b, c]
});

batch_fn!(bbands(ind: &mut BBands, x: &[f64]) -> [Vec<f64>; 3] {
    let n = x.len();
    let (mut a, mut b, mut c) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    for (i, &v) in x.iter().enumerate() {
        (a[i], b[i], c[i]) = ind.update(v);
    }
    [a, b, c]
});

batch_fn!(bars<I: BarIndicator>(ind: &mut I, high: &[f64], low: &[f64], close: &[f64]) -> Vec<f64> {
    (0..high.len().min(low.len()).min(close.len()))
        .map(|i| ind.update_bar(high[i], low[i], close[i]))
        .collect()
});

batch_fn!(stoch(ind: &mut Stoch, high: &[f64], low: &[f64], close: &[f64]) -> [Vec<f64>; 2] {
    let n = high.len().min(low.len()).min(close.len());
    let (mut k, mut d) = (vec![0.0; n], vec![0.0; n]);
    for i in 0..n {
        (k[i], d[i]) = ind.update(high[i], low[i], close[i]);
    }
    [k, d]
});
