//! A feature set: named signals over the book, the trades and bars of one instrument,
//! computed event by event and sampled into rows (research matrices in replay, the same
//! values incrementally live).
//!
//! The state advances on every event: book events update the L2 book, trades the trade-flow
//! windows and the bars. Series features move at defined points: book-derived values (mid,
//! microprice, OFI, the indicators over them) when a book message ends (`LAST_IN_MESSAGE`),
//! trade-derived ones on each trade, bar indicators when a bar completes. A row of every
//! feature's current value is emitted at each sample point. Undefined values are NaN.
//!
//! Feeding a stream in one call or piece by piece gives the same rows: the state is the same.

// Exact float compares are intended here (a zero return, equal prices).
#![allow(clippy::float_cmp)]

use std::collections::VecDeque;

use super::bars::{Bar, BarBuilder, BarSpec};
use super::definition::{Definition, FeatureDef, Param};
use super::indicators::{
    Adx, Atr, BBands, BarIndicator, Ema, Indicator, Macd, Rsi, Sma, StdDev, Stoch, Wma, ZScore,
};
use crate::book::L2Book;
use crate::error::{Error, Result};
use crate::event::{flags, kind, Event, BID};
use crate::merge::merge_key;

const NS: f64 = 1e9;

/// One feature's declaration: a name, a kind and its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureSpec {
    /// Column name.
    pub name: String,
    /// What it computes (see [`FeatureSet::KINDS`]).
    pub kind: String,
    /// Integer parameters (`period`, `levels`, `window_ns`, `horizon_ns`, ...).
    pub ints: Vec<(String, i64)>,
    /// Text parameters (`source`).
    pub texts: Vec<(String, String)>,
    /// Real parameters (`nbdev`).
    pub reals: Vec<(String, f64)>,
}

/// A spec's parameters as a kind reads them: each read records the value used (the
/// default when absent), so the definition holds every effective parameter, and a parameter
/// no read asked for is refused ([`Params::finish`]).
struct Params<'a> {
    spec: &'a FeatureSpec,
    used: std::cell::RefCell<Vec<(String, Param)>>,
}

impl<'a> Params<'a> {
    fn new(spec: &'a FeatureSpec) -> Self {
        Params {
            spec,
            used: std::cell::RefCell::new(Vec::new()),
        }
    }

    fn record(&self, key: &str, value: Param) {
        self.used.borrow_mut().push((key.to_owned(), value));
    }

    fn int(&self, key: &str, default: Option<i64>) -> Result<i64> {
        let s = self.spec;
        let other = s
            .reals
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| format!("{v:?}"))
            .or_else(|| {
                s.texts
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| format!("{v:?}"))
            });
        if let Some(v) = other {
            return Err(Error::invalid(
                key_name(key),
                v,
                format!("must be an integer (feature {})", s.name),
            ));
        }
        let v = match s.ints.iter().find(|(k, _)| k == key) {
            Some((_, v)) => *v,
            None => default.ok_or_else(|| {
                Error::invalid(
                    "feature",
                    &s.name,
                    format!("{} needs the parameter '{key}'", s.kind),
                )
            })?,
        };
        self.record(key, Param::Int(v));
        Ok(v)
    }

    fn real(&self, key: &str, default: f64) -> Result<f64> {
        let s = self.spec;
        if let Some((_, v)) = s.texts.iter().find(|(k, _)| k == key) {
            return Err(Error::invalid(
                "parameter",
                format!("{key}={v:?}"),
                format!("must be a number (feature {})", s.name),
            ));
        }
        let v = match (
            s.reals.iter().find(|(k, _)| k == key),
            s.ints.iter().find(|(k, _)| k == key),
        ) {
            (Some((_, v)), _) => *v,
            (None, Some((_, v))) => *v as f64,
            (None, None) => default,
        };
        self.record(key, Param::Real(v));
        Ok(v)
    }

    /// A text parameter, one of `choices` (`(accepted, canonical)`), or `default`.
    fn text(
        &self,
        key: &str,
        default: &str,
        choices: &[(&str, &'static str)],
    ) -> Result<&'static str> {
        let s = self.spec;
        if s.ints.iter().any(|(k, _)| k == key) || s.reals.iter().any(|(k, _)| k == key) {
            return Err(Error::invalid(
                "parameter",
                key,
                format!("must be a text (feature {})", s.name),
            ));
        }
        let given = s
            .texts
            .iter()
            .find(|(k, _)| k == key)
            .map_or(default, |(_, v)| v.as_str());
        let Some(&(_, canonical)) = choices.iter().find(|(a, _)| *a == given) else {
            let mut known: Vec<&str> = choices.iter().map(|(_, c)| *c).collect();
            known.dedup();
            return Err(Error::invalid(
                if key == "source" { "source" } else { "output" },
                given,
                format!("one of {} (feature {})", known.join(", "), s.name),
            ));
        };
        self.record(key, Param::Text(canonical.to_owned()));
        Ok(canonical)
    }

    fn source(&self, default: &str) -> Result<Source> {
        Ok(
            match self.text(
                "source",
                default,
                &[
                    ("mid", "mid"),
                    ("microprice", "microprice"),
                    ("last_price", "last_price"),
                    ("trade", "last_price"),
                    ("bar_close", "bar_close"),
                    ("bar", "bar_close"),
                ],
            )? {
                "mid" => Source::Mid,
                "microprice" => Source::Microprice,
                "last_price" => Source::LastPrice,
                _ => Source::BarClose,
            },
        )
    }

    fn positive(&self, key: &str, default: Option<i64>) -> Result<i64> {
        let v = self.int(key, default)?;
        if v <= 0 {
            return Err(Error::invalid(
                key_name(key),
                v,
                format!("must be > 0 (feature {})", self.spec.name),
            ));
        }
        Ok(v)
    }

    /// The column's definition; refuses a parameter the kind never read.
    fn finish(self) -> Result<FeatureDef> {
        let s = self.spec;
        let mut params = self.used.into_inner();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        params.dedup_by(|a, b| a.0 == b.0);
        let given = s
            .ints
            .iter()
            .map(|(k, _)| k)
            .chain(s.reals.iter().map(|(k, _)| k))
            .chain(s.texts.iter().map(|(k, _)| k));
        for k in given {
            if !params.iter().any(|(p, _)| p == k) {
                let known: Vec<&str> = params.iter().map(|(p, _)| p.as_str()).collect();
                return Err(Error::invalid(
                    "parameter",
                    k,
                    format!(
                        "{} takes {} (feature {})",
                        s.kind,
                        if known.is_empty() {
                            "no parameter".to_owned()
                        } else {
                            known.join(", ")
                        },
                        s.name
                    ),
                ));
            }
        }
        Ok(FeatureDef {
            name: s.name.clone(),
            kind: s.kind.clone(),
            params,
        })
    }
}

fn key_name(key: &str) -> &'static str {
    match key {
        "levels" => "levels",
        "window_ns" => "window_ns",
        "horizon_ns" => "horizon_ns",
        "period" => "period",
        _ => "parameter",
    }
}

/// The series a streaming indicator follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Mid price, at each book message.
    Mid,
    /// Microprice, at each book message.
    Microprice,
    /// Trade price, at each trade.
    LastPrice,
    /// Bar close, at each completed bar.
    BarClose,
}

/// A sum over a sliding window of time, amortised O(1).
#[derive(Debug, Clone, Default)]
struct TimeWindow {
    window: i64,
    items: VecDeque<(i64, f64, f64)>,
    a: f64,
    b: f64,
}

impl TimeWindow {
    fn new(window: i64) -> Self {
        TimeWindow {
            window,
            ..Self::default()
        }
    }

    #[inline]
    fn add(&mut self, t: i64, a: f64, b: f64) {
        self.items.push_back((t, a, b));
        self.a += a;
        self.b += b;
        self.evict(t);
    }

    #[inline]
    fn evict(&mut self, now: i64) {
        while let Some(&(t, a, b)) = self.items.front() {
            if t > now - self.window {
                break;
            }
            self.items.pop_front();
            self.a -= a;
            self.b -= b;
        }
        if self.items.is_empty() {
            // No residue of rounding once the window is empty.
            self.a = 0.0;
            self.b = 0.0;
        }
    }
}

enum Calc {
    Mid,
    Spread,
    Microprice,
    Imbalance(usize),
    LastPrice,
    /// Order-flow imbalance (Cont, Kukanov & Stoikov) at the best levels, summed over a window.
    Ofi(TimeWindow),
    /// (buy - sell) / (buy + sell) aggressor volume over a window.
    TradeImbalance(TimeWindow),
    /// Buy minus sell aggressor volume over a window.
    SignedVolume(TimeWindow),
    /// Σ price·qty / Σ qty over a window (`None`: since the UTC day began).
    Vwap(Option<TimeWindow>, i64, f64, f64),
    /// log(mid / mid `horizon` ago).
    MidReturn(i64, VecDeque<(i64, f64)>),
    /// sqrt(Σ r²) of the mid's log returns between book messages, over a window.
    RealizedVol(TimeWindow),
    Series(Source, Box<dyn Indicator + Send + Sync>),
    Macd(Source, Macd, usize),
    Bands(Source, BBands, usize),
    Atr(Atr),
    Adx(Adx),
    Stoch(Stoch, usize),
}

/// When rows are emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sample {
    /// After every event.
    Event,
    /// After each exchange message (an event flagged `LAST_IN_MESSAGE`).
    Message,
    /// After each trade.
    Trade,
    /// After each completed bar.
    Bar,
    /// At the first event at or after each multiple of this many ns.
    Every(i64),
}

/// A set of features over one instrument's events.
pub struct FeatureSet {
    /// What the columns compute, how bars are cut, when rows are sampled.
    definition: Definition,
    names: Vec<String>,
    calcs: Vec<Calc>,
    values: Vec<f64>,
    book: L2Book,
    bars: Option<BarBuilder>,
    sample: Sample,
    instrument: Option<u32>,
    next_sample: Option<i64>,
    /// Best (bid price, bid qty, ask price, ask qty) at the last book message, for the OFI.
    last_top: Option<(i64, i64, i64, i64)>,
    last_mid: f64,
    last_price: f64,
    events: u64,
}

impl std::fmt::Debug for FeatureSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeatureSet")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

impl FeatureSet {
    /// The feature kinds this set knows.
    pub const KINDS: [&'static str; 23] = [
        "mid",
        "spread",
        "microprice",
        "imbalance",
        "last_price",
        "ofi",
        "trade_imbalance",
        "signed_volume",
        "vwap",
        "mid_return",
        "realized_vol",
        "sma",
        "ema",
        "wma",
        "rsi",
        "zscore",
        "stddev",
        "macd",
        "bbands",
        "atr",
        "adx",
        "stoch",
        "stoch_d",
    ];

    /// A feature set over a book of `tick` and `lot` (fixed point), with optional bars.
    pub fn new(
        specs: &[FeatureSpec],
        tick: i64,
        lot: i64,
        bars: Option<BarSpec>,
        sample: Sample,
        instrument: Option<u32>,
    ) -> Result<Self> {
        if specs.is_empty() {
            return Err(Error::invalid(
                "features",
                "[]",
                "at least one feature is needed",
            ));
        }
        if let Sample::Every(ns) = sample {
            if ns <= 0 {
                return Err(Error::invalid("sample", ns, "an interval must be > 0 ns"));
            }
        }
        let mut names: Vec<String> = Vec::new();
        let mut calcs = Vec::new();
        let mut defs = Vec::with_capacity(specs.len());
        for s in specs {
            if names.contains(&s.name) {
                return Err(Error::invalid("feature", &s.name, "names must be unique"));
            }
            let params = Params::new(s);
            let calc = Self::calc(&params)?;
            defs.push(params.finish()?);
            let needs_bars = matches!(calc, Calc::Atr(_) | Calc::Adx(_) | Calc::Stoch(..))
                || matches!(
                    &calc,
                    Calc::Series(Source::BarClose, _)
                        | Calc::Macd(Source::BarClose, ..)
                        | Calc::Bands(Source::BarClose, ..)
                );
            if needs_bars && bars.is_none() {
                return Err(Error::invalid(
                    "feature",
                    &s.name,
                    "uses bars: give the feature set a bar interval or volume",
                ));
            }
            names.push(s.name.clone());
            calcs.push(calc);
        }
        if sample == Sample::Bar && bars.is_none() {
            return Err(Error::invalid(
                "sample",
                "bar",
                "needs a bar interval or volume",
            ));
        }
        Ok(FeatureSet {
            definition: Definition {
                features: defs,
                bars,
                sample,
            },
            values: vec![f64::NAN; names.len()],
            names,
            calcs,
            book: L2Book::new(tick, lot)?,
            bars: bars.map(BarBuilder::new),
            sample,
            instrument,
            next_sample: None,
            last_top: None,
            last_mid: f64::NAN,
            last_price: f64::NAN,
            events: 0,
        })
    }

    #[allow(clippy::too_many_lines)] // one arm per kind: a table, clearer whole
    fn calc(s: &Params<'_>) -> Result<Calc> {
        let period = |min: i64| -> Result<i64> {
            let p = s.int("period", None)?;
            if p < min {
                return Err(Error::invalid(
                    "period",
                    p,
                    format!("must be >= {min} (feature {})", s.spec.name),
                ));
            }
            Ok(p)
        };
        Ok(match s.spec.kind.as_str() {
            "mid" => Calc::Mid,
            "spread" => Calc::Spread,
            "microprice" => Calc::Microprice,
            "imbalance" => Calc::Imbalance(s.positive("levels", Some(1))? as usize),
            "last_price" => Calc::LastPrice,
            "ofi" => Calc::Ofi(TimeWindow::new(s.positive("window_ns", None)?)),
            "trade_imbalance" => {
                Calc::TradeImbalance(TimeWindow::new(s.positive("window_ns", None)?))
            }
            "signed_volume" => Calc::SignedVolume(TimeWindow::new(s.positive("window_ns", None)?)),
            "vwap" => {
                let w = s.int("window_ns", Some(0))?;
                if w < 0 {
                    return Err(Error::invalid(
                        "window_ns",
                        w,
                        "must be > 0, or 0 for the UTC day",
                    ));
                }
                Calc::Vwap((w > 0).then(|| TimeWindow::new(w)), i64::MIN, 0.0, 0.0)
            }
            "mid_return" => Calc::MidReturn(s.positive("horizon_ns", None)?, VecDeque::new()),
            "realized_vol" => Calc::RealizedVol(TimeWindow::new(s.positive("window_ns", None)?)),
            "sma" => Calc::Series(s.source("mid")?, Box::new(Sma::new(period(1)?)?)),
            "ema" => Calc::Series(s.source("mid")?, Box::new(Ema::new(period(1)?)?)),
            "wma" => Calc::Series(s.source("mid")?, Box::new(Wma::new(period(1)?)?)),
            "rsi" => Calc::Series(s.source("mid")?, Box::new(Rsi::new(period(2)?)?)),
            "zscore" => Calc::Series(s.source("mid")?, Box::new(ZScore::new(period(2)?)?)),
            "stddev" => Calc::Series(
                s.source("mid")?,
                Box::new(StdDev::new(period(2)?, s.real("nbdev", 1.0)?)?),
            ),
            "macd" => {
                let output = match s.text(
                    "output",
                    "macd",
                    &[("macd", "macd"), ("signal", "signal"), ("hist", "hist")],
                )? {
                    "macd" => 0,
                    "signal" => 1,
                    _ => 2,
                };
                Calc::Macd(
                    s.source("mid")?,
                    Macd::new(
                        s.int("fast_period", Some(12))?,
                        s.int("slow_period", Some(26))?,
                        s.int("signal_period", Some(9))?,
                    )?,
                    output,
                )
            }
            "bbands" => {
                let output = match s.text(
                    "output",
                    "upper",
                    &[("upper", "upper"), ("middle", "middle"), ("lower", "lower")],
                )? {
                    "upper" => 0,
                    "middle" => 1,
                    _ => 2,
                };
                Calc::Bands(
                    s.source("mid")?,
                    BBands::new(
                        period(2)?,
                        s.real("nbdev_up", 2.0)?,
                        s.real("nbdev_down", 2.0)?,
                    )?,
                    output,
                )
            }
            "atr" => Calc::Atr(Atr::new(period(1)?)?),
            "adx" => Calc::Adx(Adx::new(period(2)?)?),
            "stoch" | "stoch_d" => Calc::Stoch(
                Stoch::new(
                    s.int("fastk_period", Some(5))?,
                    s.int("slowk_period", Some(3))?,
                    s.int("slowd_period", Some(3))?,
                )?,
                usize::from(s.spec.kind == "stoch_d"),
            ),
            other => {
                return Err(Error::invalid(
                    "kind",
                    other,
                    format!(
                        "unknown feature kind (feature {}); known: {}",
                        s.spec.name,
                        Self::KINDS.join(", ")
                    ),
                ))
            }
        })
    }

    /// The definition (names, kinds, effective parameters, bars, sampling): what a model
    /// trained on these rows must be run with.
    pub fn definition(&self) -> &Definition {
        &self.definition
    }

    /// Column names, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The book the features read.
    pub fn book(&self) -> &L2Book {
        &self.book
    }

    /// The current values (the last row's, or newer).
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Events consumed so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Consumes `events`; appends a timestamp and a row to `ts` / `rows` at each sample point.
    /// A book event that does not fit the book stops the call with its index.
    pub fn update(
        &mut self,
        events: &[Event],
        ts: &mut Vec<i64>,
        rows: &mut Vec<f64>,
    ) -> std::result::Result<(), (usize, Error)> {
        for (i, e) in events.iter().enumerate() {
            if self.instrument.is_some_and(|want| e.instrument != want) {
                continue;
            }
            self.events += 1;
            let t = merge_key(e);
            let mut sample = matches!(self.sample, Sample::Event);
            match e.kind {
                kind::DEPTH | kind::SNAPSHOT | kind::CLEAR => {
                    self.book
                        .apply(std::slice::from_ref(e))
                        .map_err(|(_, err)| (i, err))?;
                    if e.flags & flags::LAST_IN_MESSAGE != 0 {
                        self.on_book_message(t);
                    }
                }
                kind::TRADE => {
                    self.on_trade(t, e);
                    sample |= self.sample == Sample::Trade;
                    if let Some(bar) = self.bars.as_mut().and_then(|b| b.update(e)) {
                        self.on_bar(&bar);
                        sample |= self.sample == Sample::Bar;
                    }
                }
                _ => {}
            }
            if e.flags & flags::LAST_IN_MESSAGE != 0 && self.sample == Sample::Message {
                sample = true;
            }
            if let Sample::Every(every) = self.sample {
                let next = *self.next_sample.get_or_insert(t.div_euclid(every) * every);
                if t >= next {
                    sample = true;
                    self.next_sample = Some((t.div_euclid(every) + 1) * every);
                }
            }
            if sample {
                self.refresh(t);
                ts.push(t);
                rows.extend_from_slice(&self.values);
            }
        }
        Ok(())
    }

    /// Recomputes the point-in-time features (book state, window sums at time `t`).
    fn refresh(&mut self, t: i64) {
        let bb = self.book.best_bid();
        let ba = self.book.best_ask();
        for (v, c) in self.values.iter_mut().zip(self.calcs.iter_mut()) {
            match c {
                Calc::Mid => *v = mid(bb, ba),
                Calc::Spread => {
                    *v = match (bb, ba) {
                        (Some(b), Some(a)) => (a.price - b.price) as f64 / NS,
                        _ => f64::NAN,
                    }
                }
                Calc::Microprice => *v = microprice(bb, ba),
                Calc::Imbalance(levels) => *v = self.book.imbalance(*levels).unwrap_or(f64::NAN),
                Calc::LastPrice => *v = self.last_price,
                Calc::Ofi(w) => {
                    w.evict(t);
                    *v = w.a;
                }
                Calc::TradeImbalance(w) => {
                    w.evict(t);
                    let total = w.a + w.b;
                    *v = if total > 0.0 {
                        (w.a - w.b) / total
                    } else {
                        f64::NAN
                    };
                }
                Calc::SignedVolume(w) => {
                    w.evict(t);
                    *v = w.a - w.b;
                }
                Calc::Vwap(Some(w), ..) => {
                    w.evict(t);
                    *v = if w.b > 0.0 { w.a / w.b } else { f64::NAN };
                }
                Calc::RealizedVol(w) => {
                    w.evict(t);
                    *v = if w.items.is_empty() {
                        f64::NAN
                    } else {
                        w.a.max(0.0).sqrt()
                    };
                }
                _ => {}
            }
        }
    }

    fn on_book_message(&mut self, t: i64) {
        let bb = self.book.best_bid();
        let ba = self.book.best_ask();
        let (m, mp) = (mid(bb, ba), microprice(bb, ba));
        let top = match (bb, ba) {
            (Some(b), Some(a)) => Some((b.price, b.qty, a.price, a.qty)),
            _ => None,
        };
        let ofi = match (self.last_top, top) {
            (Some((pb0, qb0, pa0, qa0)), Some((pb, qb, pa, qa))) => {
                let mut e = 0i128;
                if pb >= pb0 {
                    e += i128::from(qb);
                }
                if pb <= pb0 {
                    e -= i128::from(qb0);
                }
                if pa <= pa0 {
                    e -= i128::from(qa);
                }
                if pa >= pa0 {
                    e += i128::from(qa0);
                }
                Some(e as f64 / NS)
            }
            _ => None,
        };
        if top.is_some() {
            self.last_top = top;
        }
        let prev_mid = self.last_mid;
        if !m.is_nan() {
            self.last_mid = m;
        }
        for (v, c) in self.values.iter_mut().zip(self.calcs.iter_mut()) {
            match c {
                Calc::Ofi(w) => {
                    if let Some(e) = ofi {
                        w.add(t, e, 0.0);
                    }
                }
                Calc::MidReturn(horizon, hist) if !m.is_nan() => {
                    hist.push_back((t, m));
                    // Keep the newest point at or before t - horizon as the reference.
                    while hist.len() > 1 && hist[1].0 <= t - *horizon {
                        hist.pop_front();
                    }
                    *v = match hist.front() {
                        Some(&(t0, m0)) if t0 <= t - *horizon => (m / m0).ln(),
                        _ => f64::NAN,
                    };
                }
                Calc::RealizedVol(w) if !m.is_nan() && !prev_mid.is_nan() => {
                    let r = (m / prev_mid).ln();
                    if r != 0.0 {
                        w.add(t, r * r, 0.0);
                    }
                }
                Calc::Series(src @ (Source::Mid | Source::Microprice), ind) => {
                    let x = if *src == Source::Mid { m } else { mp };
                    if !x.is_nan() {
                        ind.update(x);
                        *v = ind.value();
                    }
                }
                Calc::Macd(src @ (Source::Mid | Source::Microprice), ind, k) => {
                    let x = if *src == Source::Mid { m } else { mp };
                    if !x.is_nan() {
                        ind.update(x);
                        *v = pick3(ind.value(), *k);
                    }
                }
                Calc::Bands(src @ (Source::Mid | Source::Microprice), ind, k) => {
                    let x = if *src == Source::Mid { m } else { mp };
                    if !x.is_nan() {
                        ind.update(x);
                        *v = pick3(ind.value(), *k);
                    }
                }
                _ => {}
            }
        }
    }

    fn on_trade(&mut self, t: i64, e: &Event) {
        let price = e.price as f64 / NS;
        let qty = e.qty as f64 / NS;
        self.last_price = price;
        let (buy, sell) = if e.side == BID {
            (qty, 0.0)
        } else if e.side != 0 {
            (0.0, qty)
        } else {
            (0.0, 0.0)
        };
        for (v, c) in self.values.iter_mut().zip(self.calcs.iter_mut()) {
            match c {
                Calc::TradeImbalance(w) | Calc::SignedVolume(w) => w.add(t, buy, sell),
                Calc::Vwap(Some(w), ..) => w.add(t, price * qty, qty),
                Calc::Vwap(None, day, pq, q) => {
                    let d = t.div_euclid(86_400 * 1_000_000_000);
                    if d != *day {
                        *day = d;
                        *pq = 0.0;
                        *q = 0.0;
                    }
                    *pq += price * qty;
                    *q += qty;
                    *v = if *q > 0.0 { *pq / *q } else { f64::NAN };
                }
                Calc::Series(Source::LastPrice, ind) => {
                    ind.update(price);
                    *v = ind.value();
                }
                Calc::Macd(Source::LastPrice, ind, k) => {
                    ind.update(price);
                    *v = pick3(ind.value(), *k);
                }
                Calc::Bands(Source::LastPrice, ind, k) => {
                    ind.update(price);
                    *v = pick3(ind.value(), *k);
                }
                _ => {}
            }
        }
    }

    fn on_bar(&mut self, bar: &Bar) {
        let (h, l, c) = (
            bar.high as f64 / NS,
            bar.low as f64 / NS,
            bar.close as f64 / NS,
        );
        for (v, calc) in self.values.iter_mut().zip(self.calcs.iter_mut()) {
            match calc {
                Calc::Series(Source::BarClose, ind) => {
                    ind.update(c);
                    *v = ind.value();
                }
                Calc::Macd(Source::BarClose, ind, k) => {
                    ind.update(c);
                    *v = pick3(ind.value(), *k);
                }
                Calc::Bands(Source::BarClose, ind, k) => {
                    ind.update(c);
                    *v = pick3(ind.value(), *k);
                }
                Calc::Atr(ind) => {
                    let x = ind.update_bar(h, l, c);
                    if !x.is_nan() {
                        *v = x;
                    }
                }
                Calc::Adx(ind) => {
                    let x = ind.update_bar(h, l, c);
                    if !x.is_nan() {
                        *v = x;
                    }
                }
                Calc::Stoch(ind, k) => {
                    let (a, b) = ind.update(h, l, c);
                    let x = if *k == 0 { a } else { b };
                    if !x.is_nan() {
                        *v = x;
                    }
                }
                _ => {}
            }
        }
    }
}

#[inline]
fn pick3(v: (f64, f64, f64), k: usize) -> f64 {
    match k {
        0 => v.0,
        1 => v.1,
        _ => v.2,
    }
}

#[inline]
fn mid(bb: Option<crate::book::Level>, ba: Option<crate::book::Level>) -> f64 {
    match (bb, ba) {
        (Some(b), Some(a)) => f64::midpoint(b.price as f64, a.price as f64) / NS,
        _ => f64::NAN,
    }
}

#[inline]
fn microprice(bb: Option<crate::book::Level>, ba: Option<crate::book::Level>) -> f64 {
    match (bb, ba) {
        (Some(b), Some(a)) if b.qty + a.qty > 0 => {
            let (pb, pa, qb, qa) = (b.price as f64, a.price as f64, b.qty as f64, a.qty as f64);
            (pb * qa + pa * qb) / (qa + qb) / NS
        }
        _ => f64::NAN,
    }
}
