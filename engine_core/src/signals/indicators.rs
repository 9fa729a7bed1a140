//! Streaming technical indicators, O(1) per update.
//!
//! Each one reproduces TA-Lib's algorithm (C library 0.8, default settings): the same warm-up,
//! seeds and recurrences; SMA, ATR, ADX and STOCH in TA-Lib's order of floating-point
//! operations. Where speed asked for it, a step is rearranged at the cost of an ulp or so per
//! step, which the recurrences do not accumulate (tests bound it at 1e-9 relative): the EMA
//! (and MACD) as `ema·(1−k) + x·k`, Wilder's RSI smoothing as `avg·(n−1)/n + x/n`, BBANDS'
//! divisions as multiplications by 1/n. Rolling variances and the WMA are computed
//! drift-free, as TA-Lib 0.8 does (shifted sums, re-based every window). A batch run over an
//! array is the streaming update applied to each value, so batch and streaming agree exactly.
//!
//! Conventions:
//! - `update` returns the value after the new input, NaN while warming up (as many leading
//!   NaNs as TA-Lib's lookback);
//! - a non-finite input (NaN, ±inf) is skipped: the output at that position is NaN and the
//!   state is unchanged, so the next value continues as if the input were absent (TA-Lib would
//!   instead poison every later value of a running sum);
//! - TA-Lib treats |x| < 1e-14 as zero in a few divisions (RSI, DX): so do these.

// Exact float compares reproduce TA-Lib's (`diff != 0.0`, equal band widths, a flat window).
#![allow(clippy::float_cmp)]

use super::ring::{Ring, RollingExtreme};
use crate::error::{Error, Result};

/// TA-Lib's `TA_EPSILON` (C library >= 0.6.1).
const EPSILON: f64 = 1e-14;

/// TA-Lib's `TA_IS_ZERO`.
#[inline]
fn is_zero(v: f64) -> bool {
    -EPSILON < v && v < EPSILON
}

/// A drift-free rolling mean and population variance: sums of `x - base` over the window,
/// where `base` is re-set to the newest value and the sums recomputed once per window
/// (amortised O(1)), so neither cancellation nor accumulated rounding grows. A flat window
/// (all values equal, common in trade prices) has a variance of exactly 0.
#[derive(Debug, Clone)]
struct Moments {
    window: Ring,
    base: f64,
    s1: f64,
    s2: f64,
    since_rebase: usize,
    /// How many of the newest values are equal (the window is flat once it covers it).
    run: usize,
    last: f64,
    inv_n: f64,
}

impl Moments {
    fn new(n: usize) -> Self {
        Moments {
            window: Ring::new(n),
            base: 0.0,
            s1: 0.0,
            s2: 0.0,
            since_rebase: 0,
            run: 0,
            last: f64::NAN,
            inv_n: 1.0 / n.max(1) as f64,
        }
    }

    /// Adds `x`; true once the window is full.
    #[inline(always)]
    fn push(&mut self, x: f64) -> bool {
        self.push_out(x);
        self.window.is_full()
    }

    /// Adds `x`; returns the value it pushed out of a full window.
    #[inline(always)]
    fn push_out(&mut self, x: f64) -> Option<f64> {
        self.run = if x == self.last { self.run + 1 } else { 1 };
        self.last = x;
        if self.window.is_empty() {
            self.base = x;
        }
        let d = x - self.base;
        let popped = self.window.push(x);
        if let Some(old) = popped {
            let o = old - self.base;
            self.s1 += d - o;
            self.s2 += d * d - o * o;
            self.since_rebase += 1;
            if self.since_rebase >= self.window.len() {
                self.rebase(x);
            }
        } else {
            self.s1 += d;
            self.s2 += d * d;
        }
        popped
    }

    fn rebase(&mut self, base: f64) {
        self.base = base;
        self.since_rebase = 0;
        let (mut s1, mut s2) = (0.0, 0.0);
        for v in self.window.iter() {
            let d = v - base;
            s1 += d;
            s2 += d * d;
        }
        self.s1 = s1;
        self.s2 = s2;
    }

    #[inline(always)]
    fn var(&self) -> f64 {
        if self.run >= self.window.len() {
            return 0.0;
        }
        // Multiplications by 1/n: divisions were the bottleneck (throughput-bound loop).
        let inv = self.inv_n;
        ((self.s2 - self.s1 * self.s1 * inv) * inv).max(0.0)
    }

    #[inline(always)]
    fn mean(&self) -> f64 {
        self.base + self.s1 * self.inv_n
    }

    fn clear(&mut self) {
        self.run = 0;
        self.last = f64::NAN;
        self.window.clear();
        self.s1 = 0.0;
        self.s2 = 0.0;
        self.since_rebase = 0;
    }
}

/// Checks a period parameter.
pub fn period(field: &'static str, n: i64, min: i64) -> Result<usize> {
    if n < min || n > 100_000 {
        return Err(Error::invalid(
            field,
            n,
            format!("must be between {min} and 100000"),
        ));
    }
    Ok(n as usize)
}

/// A streaming indicator over one series.
pub trait Indicator {
    /// Feeds one value; returns the indicator after it (NaN while warming up or for a skipped,
    /// non-finite input).
    fn update(&mut self, x: f64) -> f64;
    /// The last value (NaN while warming up).
    fn value(&self) -> f64;
    /// Back to the state of a new indicator.
    fn reset(&mut self);
}

/// Simple moving average (TA-Lib `SMA`).
#[derive(Debug, Clone)]
pub struct Sma {
    n: usize,
    window: Ring,
    sum: f64,
    value: f64,
}

impl Sma {
    /// `n` >= 1 values.
    pub fn new(n: i64) -> Result<Self> {
        let n = period("period", n, 1)?;
        Ok(Sma {
            n,
            window: Ring::new(n),
            sum: 0.0,
            value: f64::NAN,
        })
    }
}

impl Indicator for Sma {
    #[inline(always)]
    fn update(&mut self, x: f64) -> f64 {
        if !x.is_finite() {
            return f64::NAN;
        }
        self.window.push(x);
        self.sum += x;
        if self.window.is_full() {
            self.value = self.sum / self.n as f64;
            // TA-Lib drops the oldest value right after each output.
            self.sum -= self.window.oldest().unwrap_or(0.0);
            self.value
        } else {
            f64::NAN
        }
    }

    fn value(&self) -> f64 {
        self.value
    }

    fn reset(&mut self) {
        self.window.clear();
        self.sum = 0.0;
        self.value = f64::NAN;
    }
}

/// Exponential moving average (TA-Lib `EMA`): seeded with the SMA of the first `n` values,
/// then `ema = ema * (1 - k) + x * k` with `k = 2 / (n + 1)`.
#[derive(Debug, Clone)]
pub struct Ema {
    n: usize,
    k: f64,
    one_minus_k: f64,
    seen: usize,
    sum: f64,
    value: f64,
}

impl Ema {
    /// `n` >= 1 values.
    pub fn new(n: i64) -> Result<Self> {
        let n = period("period", n, 1)?;
        Ok(Self::with_k(n, 2.0 / (n as f64 + 1.0)))
    }

    fn with_k(n: usize, k: f64) -> Self {
        Ema {
            n,
            k,
            one_minus_k: 1.0 - k,
            seen: 0,
            sum: 0.0,
            value: f64::NAN,
        }
    }
}

impl Indicator for Ema {
    #[inline(always)]
    fn update(&mut self, x: f64) -> f64 {
        if !x.is_finite() {
            return f64::NAN;
        }
        if self.seen < self.n {
            self.seen += 1;
            self.sum += x;
            if self.seen < self.n {
                return f64::NAN;
            }
            self.value = self.sum / self.n as f64;
        } else {
            // TA-Lib's `(x - ema) * k + ema` rearranged as `ema * (1 - k) + x * k`: the
            // product with x leaves the loop-carried chain, which drops from three dependent
            // operations to two (the EMA is latency-bound); an ulp of difference per step,
            // not accumulated (the recurrence contracts).
            self.value = self.value * self.one_minus_k + x * self.k;
        }
        self.value
    }

    fn value(&self) -> f64 {
        self.value
    }

    fn reset(&mut self) {
        *self = Self::with_k(self.n, self.k);
    }
}

/// Weighted moving average (TA-Lib `WMA`): weights 1..n, the newest heaviest. Running sums
/// of `x - base`, re-based once per window (drift-free, as TA-Lib 0.8).
#[derive(Debug, Clone)]
pub struct Wma {
    n: usize,
    window: Ring,
    base: f64,
    /// Σ (x - base) over the window.
    sum: f64,
    /// Σ i·(`x_i` - base), i = 1 for the oldest.
    wsum: f64,
    since_rebase: usize,
    value: f64,
}

impl Wma {
    /// `n` >= 1 values.
    pub fn new(n: i64) -> Result<Self> {
        let n = period("period", n, 1)?;
        Ok(Wma {
            n,
            window: Ring::new(n),
            base: 0.0,
            sum: 0.0,
            wsum: 0.0,
            since_rebase: 0,
            value: f64::NAN,
        })
    }

    fn rebase(&mut self, base: f64) {
        self.base = base;
        self.since_rebase = 0;
        let (mut sum, mut wsum) = (0.0, 0.0);
        for (i, v) in self.window.iter().enumerate() {
            let d = v - base;
            sum += d;
            wsum += (i + 1) as f64 * d;
        }
        self.sum = sum;
        self.wsum = wsum;
    }
}

impl Indicator for Wma {
    #[inline(always)]
    fn update(&mut self, x: f64) -> f64 {
        if !x.is_finite() {
            return f64::NAN;
        }
        if self.window.is_empty() {
            self.base = x;
        }
        let d = x - self.base;
        match self.window.push(x) {
            None => {
                self.sum += d;
                self.wsum += self.window.len() as f64 * d;
                if !self.window.is_full() {
                    return f64::NAN;
                }
            }
            Some(old) => {
                // Every weight drops by one (the oldest's to zero), the new value weighs n.
                self.wsum += self.n as f64 * d - self.sum;
                self.sum += d - (old - self.base);
                self.since_rebase += 1;
                if self.since_rebase >= self.n {
                    self.rebase(x);
                }
            }
        }
        let divider = (self.n * (self.n + 1)) as f64 / 2.0;
        self.value = self.base + self.wsum / divider;
        self.value
    }

    fn value(&self) -> f64 {
        self.value
    }

    fn reset(&mut self) {
        self.window.clear();
        self.sum = 0.0;
        self.wsum = 0.0;
        self.since_rebase = 0;
        self.value = f64::NAN;
    }
}

/// Relative strength index with Wilder's smoothing (TA-Lib `RSI`).
#[derive(Debug, Clone)]
pub struct Rsi {
    n: usize,
    prev: f64,
    seen: usize,
    gain: f64,
    loss: f64,
    value: f64,
}

impl Rsi {
    /// `n` >= 2 values.
    pub fn new(n: i64) -> Result<Self> {
        let n = period("period", n, 2)?;
        Ok(Rsi {
            n,
            prev: f64::NAN,
            seen: 0,
            gain: 0.0,
            loss: 0.0,
            value: f64::NAN,
        })
    }

    #[inline(always)]
    fn output(&mut self) -> f64 {
        let total = self.gain + self.loss;
        self.value = if is_zero(total) {
            0.0
        } else {
            100.0 * (self.gain / total)
        };
        self.value
    }
}

impl Indicator for Rsi {
    #[inline(always)]
    fn update(&mut self, x: f64) -> f64 {
        if !x.is_finite() {
            return f64::NAN;
        }
        if self.seen == 0 {
            self.seen = 1;
            self.prev = x;
            return f64::NAN;
        }
        let diff = x - self.prev;
        self.prev = x;
        let n = self.n as f64;
        // TA-Lib: `if diff < 0 loss -= diff else gain += diff`. Written without a branch
        // (a random walk mispredicts half of them); adding 0.0 leaves the other sum exact.
        if self.seen <= self.n {
            self.seen += 1;
            self.loss -= diff.min(0.0);
            self.gain += diff.max(0.0);
            if self.seen <= self.n {
                return f64::NAN;
            }
            self.loss /= n;
            self.gain /= n;
            return self.output();
        }
        // Wilder's smoothing, `(avg * (n-1) + x) / n` as TA-Lib, written
        // `avg * ((n-1)/n) + x * (1/n)`: two dependent operations per step instead of three
        // (the RSI is latency-bound), for an ulp or so of difference per step that the
        // smoothing does not accumulate.
        let (keep, inv) = ((n - 1.0) / n, 1.0 / n);
        self.loss = self.loss * keep - diff.min(0.0) * inv;
        self.gain = self.gain * keep + diff.max(0.0) * inv;
        self.output()
    }

    fn value(&self) -> f64 {
        self.value
    }

    fn reset(&mut self) {
        self.prev = f64::NAN;
        self.seen = 0;
        self.gain = 0.0;
        self.loss = 0.0;
        self.value = f64::NAN;
    }
}

/// MACD line, signal and histogram (TA-Lib `MACD`). As in TA-Lib, the fast EMA starts
/// `slow - fast` values late so that both EMAs produce their first value together, and the
/// three outputs start once the signal line has warmed up.
#[derive(Debug, Clone)]
pub struct Macd {
    fast: Ema,
    slow: Ema,
    signal: Ema,
    /// Values to let pass before the fast EMA starts.
    fast_delay: usize,
    seen: usize,
    /// All three EMAs are seeded.
    warm: bool,
    value: (f64, f64, f64),
}

impl Macd {
    /// Periods >= 2 each; `fast` and `slow` are swapped when `fast > slow` (as TA-Lib does).
    pub fn new(fast: i64, slow: i64, signal: i64) -> Result<Self> {
        let mut f = period("fast_period", fast, 2)?;
        let mut s = period("slow_period", slow, 2)?;
        let g = period("signal_period", signal, 1)?;
        if s < f {
            std::mem::swap(&mut f, &mut s);
        }
        Ok(Macd {
            fast: Ema::with_k(f, 2.0 / (f as f64 + 1.0)),
            slow: Ema::with_k(s, 2.0 / (s as f64 + 1.0)),
            signal: Ema::with_k(g, 2.0 / (g as f64 + 1.0)),
            fast_delay: s - f,
            seen: 0,
            warm: false,
            value: (f64::NAN, f64::NAN, f64::NAN),
        })
    }

    /// Feeds one value: (macd, signal, histogram), NaN while warming up.
    #[inline(always)]
    pub fn update(&mut self, x: f64) -> (f64, f64, f64) {
        const NONE: (f64, f64, f64) = (f64::NAN, f64::NAN, f64::NAN);
        if !x.is_finite() {
            return NONE;
        }
        if self.warm {
            // Steady state: the three EMA steps, the same arithmetic as `Ema::update`, with
            // none of its warm-up checks.
            let (f, s, g) = (&mut self.fast, &mut self.slow, &mut self.signal);
            s.value = s.value * s.one_minus_k + x * s.k;
            f.value = f.value * f.one_minus_k + x * f.k;
            let line = f.value - s.value;
            g.value = g.value * g.one_minus_k + line * g.k;
            // (`value()` derives the outputs from the EMAs: nothing else to store.)
            return (line, g.value, line - g.value);
        }
        let slow = self.slow.update(x);
        let fast = if self.seen >= self.fast_delay {
            self.fast.update(x)
        } else {
            f64::NAN
        };
        self.seen += 1;
        if slow.is_nan() {
            return NONE;
        }
        let line = fast - slow;
        let signal = self.signal.update(line);
        if signal.is_nan() {
            return NONE;
        }
        self.warm = true;
        self.value = (line, signal, line - signal);
        self.value
    }

    /// The last (macd, signal, histogram).
    pub fn value(&self) -> (f64, f64, f64) {
        if self.warm {
            let line = self.fast.value - self.slow.value;
            return (line, self.signal.value, line - self.signal.value);
        }
        self.value
    }
}

/// Population variance over a rolling window (TA-Lib `VAR`), drift-free.
#[derive(Debug, Clone)]
pub struct Var {
    moments: Moments,
    value: f64,
}

impl Var {
    /// `n` >= 1 values.
    pub fn new(n: i64) -> Result<Self> {
        let n = period("period", n, 1)?;
        Ok(Var {
            moments: Moments::new(n),
            value: f64::NAN,
        })
    }
}

impl Indicator for Var {
    #[inline(always)]
    fn update(&mut self, x: f64) -> f64 {
        if !x.is_finite() {
            return f64::NAN;
        }
        if !self.moments.push(x) {
            return f64::NAN;
        }
        self.value = self.moments.var();
        self.value
    }

    fn value(&self) -> f64 {
        self.value
    }

    fn reset(&mut self) {
        self.moments.clear();
        self.value = f64::NAN;
    }
}

/// Population standard deviation times `nbdev` (TA-Lib `STDDEV`).
#[derive(Debug, Clone)]
pub struct StdDev {
    var: Var,
    nbdev: f64,
    value: f64,
}

impl StdDev {
    /// `n` >= 2 values, `nbdev` finite.
    pub fn new(n: i64, nbdev: f64) -> Result<Self> {
        if !nbdev.is_finite() {
            return Err(Error::invalid("nbdev", nbdev, "must be finite"));
        }
        Ok(StdDev {
            var: Var::new(period("period", n, 2)? as i64)?,
            nbdev,
            value: f64::NAN,
        })
    }
}

impl Indicator for StdDev {
    #[inline(always)]
    fn update(&mut self, x: f64) -> f64 {
        let v = self.var.update(x);
        if v.is_nan() {
            return f64::NAN;
        }
        self.value = v.sqrt() * self.nbdev;
        self.value
    }

    fn value(&self) -> f64 {
        self.value
    }

    fn reset(&mut self) {
        self.var.reset();
        self.value = f64::NAN;
    }
}

/// Bollinger bands over an SMA (TA-Lib `BBANDS`, `matype=0`): (upper, middle, lower), the
/// middle band from TA-Lib's SMA running sum (times 1/n), the width from the drift-free
/// population deviation.
#[derive(Debug, Clone)]
pub struct BBands {
    /// TA-Lib's SMA running sum.
    sum: f64,
    moments: Moments,
    up: f64,
    down: f64,
    value: (f64, f64, f64),
}

impl BBands {
    /// `n` >= 2 values; the band widths in standard deviations.
    pub fn new(n: i64, nbdev_up: f64, nbdev_down: f64) -> Result<Self> {
        for (field, v) in [("nbdev_up", nbdev_up), ("nbdev_down", nbdev_down)] {
            if !v.is_finite() {
                return Err(Error::invalid(field, v, "must be finite"));
            }
        }
        let n = period("period", n, 2)?;
        Ok(BBands {
            sum: 0.0,
            moments: Moments::new(n),
            up: nbdev_up,
            down: nbdev_down,
            value: (f64::NAN, f64::NAN, f64::NAN),
        })
    }

    /// Feeds one value: (upper, middle, lower), NaN while warming up.
    #[inline(always)]
    pub fn update(&mut self, x: f64) -> (f64, f64, f64) {
        const NONE: (f64, f64, f64) = (f64::NAN, f64::NAN, f64::NAN);
        if !x.is_finite() {
            return NONE;
        }
        // The middle band is TA-Lib's SMA: the running sum drops the value leaving the window
        // before adding the new one, in that order.
        if let Some(old) = self.moments.push_out(x) {
            self.sum -= old;
        }
        self.sum += x;
        if !self.moments.window.is_full() {
            return NONE;
        }
        // × 1/n rather than ÷ n: with the square root, two divider operations per value were
        // the loop's bottleneck (an ulp from TA-Lib's rounding).
        let middle = self.sum * self.moments.inv_n;
        let sd = self.moments.var().sqrt();
        self.value = if self.up == self.down {
            let w = sd * self.up;
            (middle + w, middle, middle - w)
        } else {
            (middle + sd * self.up, middle, middle - sd * self.down)
        };
        self.value
    }

    /// The last (upper, middle, lower).
    pub fn value(&self) -> (f64, f64, f64) {
        self.value
    }
}

/// z-score of the newest value against a rolling window: `(x - mean) / stddev`
/// (population), 0 on a flat window. Not in TA-Lib.
#[derive(Debug, Clone)]
pub struct ZScore {
    moments: Moments,
    value: f64,
}

impl ZScore {
    /// `n` >= 2 values.
    pub fn new(n: i64) -> Result<Self> {
        Ok(ZScore {
            moments: Moments::new(period("period", n, 2)?),
            value: f64::NAN,
        })
    }
}

impl Indicator for ZScore {
    #[inline(always)]
    fn update(&mut self, x: f64) -> f64 {
        if !x.is_finite() {
            return f64::NAN;
        }
        if !self.moments.push(x) {
            return f64::NAN;
        }
        let sd = self.moments.var().sqrt();
        self.value = if sd > 0.0 {
            (x - self.moments.mean()) / sd
        } else {
            0.0
        };
        self.value
    }

    fn value(&self) -> f64 {
        self.value
    }

    fn reset(&mut self) {
        self.moments.clear();
        self.value = f64::NAN;
    }
}

/// An indicator over (high, low, close) bars.
pub trait BarIndicator {
    /// Feeds one bar; returns the indicator after it (NaN while warming up or for a bar with
    /// a non-finite field).
    fn update_bar(&mut self, high: f64, low: f64, close: f64) -> f64;
}

#[inline(always)]
fn bar_ok(high: f64, low: f64, close: f64) -> bool {
    high.is_finite() && low.is_finite() && close.is_finite()
}

/// Average true range with Wilder's smoothing (TA-Lib `ATR`).
#[derive(Debug, Clone)]
pub struct Atr {
    n: usize,
    prev_close: f64,
    seen: usize,
    sum: f64,
    value: f64,
}

impl Atr {
    /// `n` >= 1 bars.
    pub fn new(n: i64) -> Result<Self> {
        let n = period("period", n, 1)?;
        Ok(Atr {
            n,
            prev_close: f64::NAN,
            seen: 0,
            sum: 0.0,
            value: f64::NAN,
        })
    }
}

/// True range against the previous close.
#[inline(always)]
fn true_range(high: f64, low: f64, prev_close: f64) -> f64 {
    let mut tr = high - low;
    let a = (high - prev_close).abs();
    if a > tr {
        tr = a;
    }
    let b = (low - prev_close).abs();
    if b > tr {
        tr = b;
    }
    tr
}

impl BarIndicator for Atr {
    #[inline(always)]
    fn update_bar(&mut self, high: f64, low: f64, close: f64) -> f64 {
        if !bar_ok(high, low, close) {
            return f64::NAN;
        }
        let prev = std::mem::replace(&mut self.prev_close, close);
        if self.seen == 0 {
            self.seen = 1;
            return f64::NAN;
        }
        let tr = true_range(high, low, prev);
        let n = self.n as f64;
        if self.seen <= self.n {
            self.seen += 1;
            self.sum += tr;
            if self.seen <= self.n {
                return f64::NAN;
            }
            self.value = self.sum / n;
            return self.value;
        }
        self.value *= n - 1.0;
        self.value += tr;
        self.value /= n;
        self.value
    }
}

/// Stochastic oscillator, slow %K and %D with SMAs (TA-Lib `STOCH`, `slowk_matype =
/// slowd_matype = 0`).
#[derive(Debug, Clone)]
pub struct Stoch {
    n: u64,
    highest: RollingExtreme,
    lowest: RollingExtreme,
    slow_k: Sma,
    slow_d: Sma,
    value: (f64, f64),
}

impl Stoch {
    /// Periods >= 1 each.
    pub fn new(fastk: i64, slowk: i64, slowd: i64) -> Result<Self> {
        let fk = period("fastk_period", fastk, 1)?;
        Ok(Stoch {
            n: fk as u64,
            highest: RollingExtreme::new(fk, true),
            lowest: RollingExtreme::new(fk, false),
            slow_k: Sma::new(period("slowk_period", slowk, 1)? as i64)?,
            slow_d: Sma::new(period("slowd_period", slowd, 1)? as i64)?,
            value: (f64::NAN, f64::NAN),
        })
    }

    /// Feeds one bar: (slow %K, slow %D), NaN while warming up.
    #[inline(always)]
    pub fn update(&mut self, high: f64, low: f64, close: f64) -> (f64, f64) {
        const NONE: (f64, f64) = (f64::NAN, f64::NAN);
        if !bar_ok(high, low, close) {
            return NONE;
        }
        let hh = self.highest.push(high);
        let ll = self.lowest.push(low);
        if self.highest.count() < self.n {
            return NONE;
        }
        let diff = (hh - ll) / 100.0;
        let fast_k = if diff == 0.0 {
            0.0
        } else {
            (close - ll) / diff
        };
        let k = self.slow_k.update(fast_k);
        if k.is_nan() {
            return NONE;
        }
        let d = self.slow_d.update(k);
        if d.is_nan() {
            return NONE;
        }
        self.value = (k, d);
        self.value
    }

    /// The last (slow %K, slow %D).
    pub fn value(&self) -> (f64, f64) {
        self.value
    }
}

/// Average directional index (TA-Lib `ADX`): Wilder-smoothed +DM, -DM and true range, DX
/// averaged over the first `n` values, then Wilder-smoothed.
#[derive(Debug, Clone)]
pub struct Adx {
    n: usize,
    seen: usize,
    prev: (f64, f64, f64),
    plus_dm: f64,
    minus_dm: f64,
    tr: f64,
    sum_dx: f64,
    value: f64,
}

impl Adx {
    /// `n` >= 2 bars.
    pub fn new(n: i64) -> Result<Self> {
        let n = period("period", n, 2)?;
        Ok(Adx {
            n,
            seen: 0,
            prev: (f64::NAN, f64::NAN, f64::NAN),
            plus_dm: 0.0,
            minus_dm: 0.0,
            tr: 0.0,
            sum_dx: 0.0,
            value: f64::NAN,
        })
    }

    /// DX from the smoothed sums, if defined.
    #[inline(always)]
    fn dx(&self) -> Option<f64> {
        if is_zero(self.tr) {
            return None;
        }
        let minus_di = 100.0 * (self.minus_dm / self.tr);
        let plus_di = 100.0 * (self.plus_dm / self.tr);
        let sum = minus_di + plus_di;
        (!is_zero(sum)).then(|| 100.0 * ((minus_di - plus_di).abs() / sum))
    }
}

impl BarIndicator for Adx {
    #[inline(always)]
    fn update_bar(&mut self, high: f64, low: f64, close: f64) -> f64 {
        if !bar_ok(high, low, close) {
            return f64::NAN;
        }
        let (prev_high, prev_low, prev_close) =
            std::mem::replace(&mut self.prev, (high, low, close));
        let seen = self.seen;
        self.seen += 1;
        if seen == 0 {
            return f64::NAN;
        }
        let n = self.n as f64;
        let diff_p = high - prev_high;
        let diff_m = prev_low - low;
        let tr = true_range(high, low, prev_close);
        if seen < self.n {
            // The first n-1 moves: plain sums.
            if diff_m > 0.0 && diff_p < diff_m {
                self.minus_dm += diff_m;
            } else if diff_p > 0.0 && diff_p > diff_m {
                self.plus_dm += diff_p;
            }
            self.tr += tr;
            return f64::NAN;
        }
        self.minus_dm -= self.minus_dm / n;
        self.plus_dm -= self.plus_dm / n;
        if diff_m > 0.0 && diff_p < diff_m {
            self.minus_dm += diff_m;
        } else if diff_p > 0.0 && diff_p > diff_m {
            self.plus_dm += diff_p;
        }
        self.tr = self.tr - (self.tr / n) + tr;
        if seen < 2 * self.n {
            // The next n: DX summed, then averaged into the first ADX.
            if let Some(dx) = self.dx() {
                self.sum_dx += dx;
            }
            if seen < 2 * self.n - 1 {
                return f64::NAN;
            }
            self.value = self.sum_dx / n;
            return self.value;
        }
        if let Some(dx) = self.dx() {
            self.value = ((self.value * (n - 1.0)) + dx) / n;
        }
        self.value
    }
}

/// Volume-weighted average price over a rolling window of time, or since the UTC day began
/// (a session VWAP, `window_ns = None`). Not in TA-Lib.
#[derive(Debug, Clone)]
pub struct Vwap {
    window: Option<i64>,
    items: std::collections::VecDeque<(i64, f64, f64)>,
    pq: f64,
    q: f64,
    day: i64,
    value: f64,
}

impl Vwap {
    /// `window_ns` > 0, or `None` for the session (UTC day).
    pub fn new(window_ns: Option<i64>) -> Result<Self> {
        if let Some(w) = window_ns {
            if w <= 0 {
                return Err(Error::invalid("window_ns", w, "must be > 0"));
            }
        }
        Ok(Vwap {
            window: window_ns,
            items: std::collections::VecDeque::new(),
            pq: 0.0,
            q: 0.0,
            day: i64::MIN,
            value: f64::NAN,
        })
    }

    /// Feeds one trade (price, quantity, time in ns); returns the VWAP after it. A trade with a
    /// non-finite or negative field is skipped (NaN).
    #[inline]
    pub fn update(&mut self, price: f64, qty: f64, ts: i64) -> f64 {
        if !price.is_finite() || !qty.is_finite() || qty < 0.0 {
            return f64::NAN;
        }
        match self.window {
            None => {
                let day = ts.div_euclid(86_400_000_000_000);
                if day != self.day {
                    self.day = day;
                    self.pq = 0.0;
                    self.q = 0.0;
                }
                self.pq += price * qty;
                self.q += qty;
            }
            Some(w) => {
                self.items.push_back((ts, price * qty, qty));
                self.pq += price * qty;
                self.q += qty;
                while let Some(&(t, pq, q)) = self.items.front() {
                    if t > ts - w {
                        break;
                    }
                    self.items.pop_front();
                    self.pq -= pq;
                    self.q -= q;
                }
                if self.items.is_empty() {
                    self.pq = 0.0;
                    self.q = 0.0;
                }
            }
        }
        self.value = if self.q > 0.0 {
            self.pq / self.q
        } else {
            f64::NAN
        };
        self.value
    }

    /// The last value.
    pub fn value(&self) -> f64 {
        self.value
    }
}

/// Realized volatility: the square root of the sum of the last `n` squared log returns of a
/// series (not annualised). Not in TA-Lib.
#[derive(Debug, Clone)]
pub struct RealizedVol {
    prev: f64,
    window: Ring,
    sum: f64,
    since_rebase: usize,
    value: f64,
}

impl RealizedVol {
    /// `n` >= 1 returns; the values must be positive.
    pub fn new(n: i64) -> Result<Self> {
        let n = period("period", n, 1)?;
        Ok(RealizedVol {
            prev: f64::NAN,
            window: Ring::new(n),
            sum: 0.0,
            since_rebase: 0,
            value: f64::NAN,
        })
    }
}

impl Indicator for RealizedVol {
    #[inline(always)]
    fn update(&mut self, x: f64) -> f64 {
        if !x.is_finite() || x <= 0.0 {
            return f64::NAN;
        }
        let prev = std::mem::replace(&mut self.prev, x);
        if prev.is_nan() {
            return f64::NAN;
        }
        let r = (x / prev).ln();
        let r2 = r * r;
        self.sum += r2;
        if let Some(old) = self.window.push(r2) {
            self.sum -= old;
            self.since_rebase += 1;
            if self.since_rebase >= self.window.len() {
                // Re-sum once per window: no drift from the running subtraction.
                self.since_rebase = 0;
                self.sum = self.window.iter().sum();
            }
        }
        if !self.window.is_full() {
            return f64::NAN;
        }
        self.value = self.sum.max(0.0).sqrt();
        self.value
    }

    fn value(&self) -> f64 {
        self.value
    }

    fn reset(&mut self) {
        self.prev = f64::NAN;
        self.window.clear();
        self.sum = 0.0;
        self.since_rebase = 0;
        self.value = f64::NAN;
    }
}
