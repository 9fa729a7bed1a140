//! A deterministic, seeded synthetic market written as a raw Binance USD-M capture (the
//! embedded default of `make demo` and of tests that must run without recorded data).
//!
//! The model is deliberately simple but coherent: a latent fair price follows a random walk;
//! order flow arrives as a Poisson process — limit orders concentrated near the touch,
//! cancellations of resting liquidity, and market orders (leaning towards the fair price)
//! that walk the book and print trades. A share of the market orders is informed
//! ([`SynthConfig::informed_share`]): it trades in the direction of the latent price's move
//! over the next [`SynthConfig::informed_horizon`] events, so a liquidity provider that quotes
//! both sides meets adverse selection (it is filled more often just before the price moves
//! against it). Every book change is published as a depth diff with a
//! consistent `U`/`u`/`pu` chain; the top of book as bookTicker; the REST snapshot arrives a
//! few messages after the depth stream starts, as in a real recording. The reader must see
//! zero gaps in it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};
use crate::fixed;

/// Parameters of the synthetic market.
#[derive(Debug, Clone)]
pub struct SynthConfig {
    /// Seed: the same seed gives the same file, byte for byte.
    pub seed: u64,
    /// Simulated duration, seconds.
    pub seconds: f64,
    /// Symbol written in the messages.
    pub symbol: String,
    /// Tick size, fixed point.
    pub tick_size: i64,
    /// Lot size, fixed point.
    pub lot_size: i64,
    /// Starting mid price, fixed point.
    pub start_price: i64,
    /// Exchange time of the first event, ms since the epoch.
    pub start_ms: i64,
    /// Mean order-flow events per second.
    pub events_per_second: f64,
    /// Standard deviation of the latent price's step per order-flow event, in ticks.
    pub volatility_ticks: f64,
    /// Share of market orders that know the latent price's next move (0 to 1).
    pub informed_share: f64,
    /// How far ahead the informed market orders see: order-flow events.
    pub informed_horizon: u32,
    /// Size of an informed market order, as a multiple of an uninformed one's (mean).
    pub informed_size: f64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            seed: 7,
            seconds: 60.0,
            symbol: "BTCUSDT".into(),
            tick_size: 100_000_000, // 0.1
            lot_size: 1_000_000,    // 0.001
            start_price: 60_000 * fixed::SCALE,
            start_ms: 1_723_161_600_000, // 2024-08-09 00:00:00 UTC
            events_per_second: 400.0,
            volatility_ticks: 2.5,
            informed_share: 0.5,
            informed_horizon: 2000,
            informed_size: 1.0,
        }
    }
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SynthSummary {
    /// Lines written.
    pub lines: u64,
    /// Depth diff messages.
    pub depth_messages: u64,
    /// Trade messages.
    pub trades: u64,
    /// bookTicker messages.
    pub book_tickers: u64,
    /// Level updates inside the depth messages.
    pub level_updates: u64,
    /// Trade messages printed by informed market orders.
    pub informed_trades: u64,
}

/// `SplitMix64`: tiny, fast, and stable across versions (the output must not change when a
/// dependency does).
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.uniform()).ln()
    }
    fn normal(&mut self) -> f64 {
        let (u1, u2) = (1.0 - self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
    /// Geometric number of failures before a success with probability `p`.
    fn geometric(&mut self, p: f64) -> i64 {
        ((1.0 - self.uniform()).ln() / (1.0 - p).ln()).floor() as i64
    }
    fn lots(&mut self, mean: f64) -> i64 {
        1 + self.exp(mean) as i64
    }
}

/// The simulated book in ticks and lots. Bids keyed by tick, asks too.
struct Book {
    bids: BTreeMap<i64, i64>,
    asks: BTreeMap<i64, i64>,
}

impl Book {
    fn best_bid(&self) -> i64 {
        self.bids.keys().next_back().copied().unwrap_or(i64::MIN)
    }
    fn best_ask(&self) -> i64 {
        self.asks.keys().next().copied().unwrap_or(i64::MAX)
    }
}

struct Writer<W: Write> {
    out: W,
    line: String,
    cfg: SynthConfig,
    summary: SynthSummary,
    last_local_ns: i64,
    update_id: u64,
    prev_u: u64,
    trade_id: u64,
}

impl<W: Write> Writer<W> {
    fn px(&self, ticks: i64) -> String {
        fixed::format(ticks * self.cfg.tick_size)
    }
    fn qty(&self, lots: i64) -> String {
        fixed::format(lots * self.cfg.lot_size)
    }

    fn emit(&mut self, exch_ms: i64, rng: &mut Rng) -> Result<()> {
        // Local receive time: exchange time + 5..30 ms of network, never going backwards.
        let latency = 5_000_000 + (rng.uniform() * 25_000_000.0) as i64;
        let local = (exch_ms * 1_000_000 + latency).max(self.last_local_ns + 1_000);
        self.last_local_ns = local;
        writeln!(self.out, "{local} {}", self.line).map_err(|e| Error::Io {
            path: "synthetic capture".into(),
            source: e,
        })?;
        self.summary.lines += 1;
        Ok(())
    }

    fn levels_json(&self, levels: &[(i64, i64)]) -> String {
        let mut s = String::from("[");
        for (i, (p, q)) in levels.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(s, "[\"{}\",\"{}\"]", self.px(*p), self.qty(*q));
        }
        s.push(']');
        s
    }

    fn depth(
        &mut self,
        exch_ms: i64,
        bids: &[(i64, i64)],
        asks: &[(i64, i64)],
        rng: &mut Rng,
    ) -> Result<()> {
        if bids.is_empty() && asks.is_empty() {
            return Ok(());
        }
        let first = self.update_id + 1;
        self.update_id += (bids.len() + asks.len()) as u64;
        let sym = self.cfg.symbol.clone();
        self.line = format!(
            "{{\"stream\":\"{}@depth@0ms\",\"data\":{{\"e\":\"depthUpdate\",\"E\":{},\"T\":{exch_ms},\"s\":\"{sym}\",\"U\":{first},\"u\":{},\"pu\":{},\"b\":{},\"a\":{}}}}}",
            sym.to_lowercase(),
            exch_ms + 1,
            self.update_id,
            self.prev_u,
            self.levels_json(bids),
            self.levels_json(asks)
        );
        self.prev_u = self.update_id;
        self.summary.depth_messages += 1;
        self.summary.level_updates += (bids.len() + asks.len()) as u64;
        self.emit(exch_ms, rng)
    }

    fn trade(
        &mut self,
        exch_ms: i64,
        price: i64,
        lots: i64,
        buyer_maker: bool,
        rng: &mut Rng,
    ) -> Result<()> {
        self.trade_id += 1;
        let sym = self.cfg.symbol.clone();
        self.line = format!(
            "{{\"stream\":\"{}@trade\",\"data\":{{\"e\":\"trade\",\"E\":{},\"T\":{exch_ms},\"s\":\"{sym}\",\"t\":{},\"p\":\"{}\",\"q\":\"{}\",\"X\":\"MARKET\",\"m\":{buyer_maker}}}}}",
            sym.to_lowercase(),
            exch_ms + 1,
            self.trade_id,
            self.px(price),
            self.qty(lots)
        );
        self.summary.trades += 1;
        self.emit(exch_ms, rng)
    }

    fn ticker(&mut self, exch_ms: i64, book: &Book, rng: &mut Rng) -> Result<()> {
        let (b, a) = (book.best_bid(), book.best_ask());
        let sym = self.cfg.symbol.clone();
        self.line = format!(
            "{{\"stream\":\"{}@bookTicker\",\"data\":{{\"e\":\"bookTicker\",\"u\":{},\"s\":\"{sym}\",\"b\":\"{}\",\"B\":\"{}\",\"a\":\"{}\",\"A\":\"{}\",\"T\":{exch_ms},\"E\":{}}}}}",
            sym.to_lowercase(),
            self.update_id,
            self.px(b),
            self.qty(book.bids[&b]),
            self.px(a),
            self.qty(book.asks[&a]),
            exch_ms + 1
        );
        self.summary.book_tickers += 1;
        self.emit(exch_ms, rng)
    }

    fn snapshot(&mut self, exch_ms: i64, id: u64, book: &Book, rng: &mut Rng) -> Result<()> {
        let bids: Vec<(i64, i64)> = book
            .bids
            .iter()
            .rev()
            .take(1000)
            .map(|(p, q)| (*p, *q))
            .collect();
        let asks: Vec<(i64, i64)> = book.asks.iter().take(1000).map(|(p, q)| (*p, *q)).collect();
        self.line = format!(
            "{{\"lastUpdateId\":{id},\"E\":{},\"T\":{exch_ms},\"bids\":{},\"asks\":{}}}",
            exch_ms + 1,
            self.levels_json(&bids),
            self.levels_json(&asks)
        );
        self.emit(exch_ms, rng)
    }
}

/// Writes the synthetic market to `path` as a gzip raw capture.
#[allow(clippy::too_many_lines)] // one event loop, read top to bottom
pub fn write_binance_usdm(path: &Path, cfg: &SynthConfig) -> Result<SynthSummary> {
    if !(cfg.seconds > 0.0 && cfg.seconds <= 7.0 * 86_400.0) {
        return Err(Error::invalid(
            "seconds",
            cfg.seconds,
            "must be positive and at most a week (604800)",
        ));
    }
    if !(cfg.events_per_second > 0.0 && cfg.events_per_second <= 100_000.0) {
        return Err(Error::invalid(
            "events_per_second",
            cfg.events_per_second,
            "must be in (0, 100000]",
        ));
    }
    if !(cfg.volatility_ticks >= 0.0 && cfg.volatility_ticks <= 1000.0) {
        return Err(Error::invalid(
            "volatility_ticks",
            cfg.volatility_ticks,
            "must be in [0, 1000]",
        ));
    }
    if !(0.0..=1.0).contains(&cfg.informed_share) {
        return Err(Error::invalid(
            "informed_share",
            cfg.informed_share,
            "must be in [0, 1]",
        ));
    }
    if !(1..=1_000_000).contains(&cfg.informed_horizon) {
        return Err(Error::invalid(
            "informed_horizon",
            cfg.informed_horizon,
            "must be in [1, 1000000] events",
        ));
    }
    if !(cfg.informed_size >= 1.0 && cfg.informed_size <= 1000.0) {
        return Err(Error::invalid(
            "informed_size",
            cfg.informed_size,
            "must be in [1, 1000]",
        ));
    }
    if cfg.symbol.is_empty()
        || cfg.symbol.len() > 20
        || !cfg.symbol.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(Error::invalid(
            "symbol",
            format!("{:?}", cfg.symbol),
            "must be 1 to 20 ASCII letters or digits (a USD-M symbol)",
        ));
    }
    if cfg.tick_size <= 0 || cfg.lot_size <= 0 {
        let bad = if cfg.tick_size <= 0 {
            ("tick_size", cfg.tick_size)
        } else {
            ("lot_size", cfg.lot_size)
        };
        return Err(Error::invalid(
            bad.0,
            fixed::format(bad.1),
            "must be positive",
        ));
    }
    if cfg
        .tick_size
        .checked_mul(2000)
        .is_none_or(|floor| cfg.start_price <= floor)
    {
        return Err(Error::invalid(
            "start_price",
            fixed::format(cfg.start_price),
            "must be above 2000 ticks",
        ));
    }
    let io = |source| Error::Io {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::File::create(path).map_err(io)?;
    let gz =
        flate2::write::GzEncoder::new(std::io::BufWriter::new(file), flate2::Compression::fast());
    let mut w = Writer {
        out: gz,
        line: String::new(),
        cfg: cfg.clone(),
        summary: SynthSummary::default(),
        last_local_ns: 0,
        update_id: 1_000_000,
        prev_u: 999_999,
        trade_id: 5_000_000,
    };
    let mut rng = Rng(cfg.seed ^ 0xD1B5_4A32_D192_ED03);
    // The latent price's steps, drawn ahead (informed traders see the next ones) from their
    // own stream, and the informed traders' own draws: the rest of the market is unchanged
    // by how many of its takers are informed.
    let mut steps_rng = Rng(cfg.seed ^ 0x5851_F42D_4C95_7F2D);
    let mut informed_rng = Rng(cfg.seed ^ 0x1405_7B7E_F767_814F);
    let mut steps: std::collections::VecDeque<f64> = (0..cfg.informed_horizon)
        .map(|_| steps_rng.normal() * cfg.volatility_ticks)
        .collect();
    let mut ahead: f64 = steps.iter().sum();
    let mid = cfg.start_price / cfg.tick_size;
    let mut book = Book {
        bids: BTreeMap::new(),
        asks: BTreeMap::new(),
    };
    for d in 0..400 {
        let depth_boost = 1.0 + f64::from(d) / 20.0;
        book.bids
            .insert(mid - 1 - i64::from(d), rng.lots(40.0 * depth_boost));
        book.asks
            .insert(mid + i64::from(d), rng.lots(40.0 * depth_boost));
    }
    let mut fair = mid as f64;
    let mut t_ms = cfg.start_ms as f64;
    let end_ms = cfg.start_ms as f64 + cfg.seconds * 1000.0;
    let snapshot_at_ms = cfg.start_ms as f64 + 250.0;
    let mut snapshot: Option<(u64, Book)> = None;
    let mut snapshot_written = false;
    let mut messages_since_snapshot = 0;
    let mut burst = 1.0;
    while t_ms < end_ms {
        // Bursts: the arrival rate switches between calm and busy regimes.
        if rng.uniform() < 0.002 {
            burst = if burst > 1.0 { 1.0 } else { 4.0 };
        }
        t_ms += rng.exp(1000.0 / (cfg.events_per_second * burst));
        let now = t_ms as i64;
        let (bb, ba) = (book.best_bid(), book.best_ask());
        // The latent price drifts, loosely tied to the traded mid.
        let step = steps.pop_front().unwrap_or(0.0);
        let next = steps_rng.normal() * cfg.volatility_ticks;
        steps.push_back(next);
        ahead += next - step;
        fair += step + 0.01 * ((bb + ba) as f64 / 2.0 - fair);
        let top_before = (bb, book.bids[&bb], ba, book.asks[&ba]);
        let mut bids: Vec<(i64, i64)> = Vec::new();
        let mut asks: Vec<(i64, i64)> = Vec::new();
        let u = rng.uniform();
        if u < 0.5 {
            // A limit order near the fair price: liquidity refills the touch, so the spread
            // stays tight; deeper prices are less likely (geometric distance).
            let bid = rng.uniform() < 0.5;
            let d = rng.geometric(0.3);
            let lots = rng.lots(30.0);
            if bid {
                let p = ((fair - 0.5).floor() as i64 - d).min(ba - 1);
                let q = book.bids.entry(p).or_insert(0);
                *q += lots;
                bids.push((p, *q));
            } else {
                let p = ((fair + 0.5).ceil() as i64 + d).max(bb + 1);
                let q = book.asks.entry(p).or_insert(0);
                *q += lots;
                asks.push((p, *q));
            }
        } else if u < 0.88 {
            // A cancellation, more likely near the top.
            let bid = rng.uniform() < 0.5;
            let k = rng.geometric(0.15) as usize;
            let side = if bid { &mut book.bids } else { &mut book.asks };
            if side.len() > 20 {
                let p = if bid {
                    *side.keys().rev().nth(k.min(side.len() - 1)).unwrap_or(&bb)
                } else {
                    *side.keys().nth(k.min(side.len() - 1)).unwrap_or(&ba)
                };
                let q = side[&p];
                let left = if rng.uniform() < 0.4 {
                    0
                } else {
                    q - 1 - (rng.uniform() * (q - 1) as f64) as i64
                };
                let left = left.clamp(0, q);
                if left == 0 {
                    side.remove(&p);
                } else {
                    side.insert(p, left);
                }
                if bid {
                    bids.push((p, left));
                } else {
                    asks.push((p, left));
                }
            }
        } else {
            // A market order, leaning towards the fair price, or (informed) in the direction
            // of the latent price's next move; it walks the book.
            let mid_now = (bb + ba) as f64 / 2.0;
            let mut buy = rng.uniform() < (0.5 + (fair - mid_now) * 0.05).clamp(0.1, 0.9);
            let informed = informed_rng.uniform() < cfg.informed_share;
            if informed {
                buy = ahead > 0.0;
            }
            let mut left = rng.lots(25.0) * if rng.uniform() < 0.05 { 20 } else { 1 };
            if informed {
                left = ((left as f64) * cfg.informed_size).round() as i64;
            }
            while left > 0 {
                let side = if buy { &mut book.asks } else { &mut book.bids };
                if side.len() <= 20 {
                    break;
                }
                let p = if buy {
                    *side.keys().next().unwrap_or(&ba)
                } else {
                    *side.keys().next_back().unwrap_or(&bb)
                };
                let q = side[&p];
                let take = q.min(left);
                left -= take;
                w.trade(now, p, take, !buy, &mut rng)?;
                if informed {
                    w.summary.informed_trades += 1;
                }
                if take == q {
                    side.remove(&p);
                } else {
                    side.insert(p, q - take);
                }
                let level = (p, q - take);
                if buy {
                    asks.push(level);
                } else {
                    bids.push(level);
                }
            }
        }
        // Keep both sides deep: refill far levels that market orders and cancels ate.
        for (is_bid, side) in [(true, &mut book.bids), (false, &mut book.asks)] {
            while side.len() < 300 {
                let far = if is_bid {
                    side.keys().next().copied().unwrap_or(mid) - 1
                } else {
                    side.keys().next_back().copied().unwrap_or(mid) + 1
                };
                let q = rng.lots(80.0);
                side.insert(far, q);
                if is_bid {
                    bids.push((far, q));
                } else {
                    asks.push((far, q));
                }
            }
        }
        w.depth(now, &bids, &asks, &mut rng)?;
        if !bids.is_empty() || !asks.is_empty() {
            messages_since_snapshot += 1;
        }
        let (nb, na) = (book.best_bid(), book.best_ask());
        if (nb, book.bids[&nb], na, book.asks[&na]) != top_before {
            w.ticker(now, &book, &mut rng)?;
        }
        if snapshot.is_none() && t_ms >= snapshot_at_ms {
            snapshot = Some((
                w.update_id,
                Book {
                    bids: book.bids.clone(),
                    asks: book.asks.clone(),
                },
            ));
            messages_since_snapshot = 0;
        }
        if !snapshot_written && messages_since_snapshot >= 3 {
            if let Some((id, snap)) = &snapshot {
                w.snapshot(now, *id, snap, &mut rng)?;
                snapshot_written = true;
            }
        }
    }
    let gz = w.out;
    let mut inner = gz.finish().map_err(io)?;
    inner.flush().map_err(io)?;
    Ok(w.summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::capture::{CaptureReader, ReadOptions};
    use crate::L2Book;

    #[test]
    fn synthetic_capture_replays_without_gaps_and_is_deterministic() {
        let dir = std::env::temp_dir().join(format!("tradecore-synth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("a.gz"), dir.join("b.gz"));
        let cfg = SynthConfig {
            seconds: 5.0,
            ..SynthConfig::default()
        };
        let sa = write_binance_usdm(&a, &cfg).unwrap();
        write_binance_usdm(&b, &cfg).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        let mut r = CaptureReader::open(&[&a], ReadOptions::default()).unwrap();
        let events = r.read_all().unwrap();
        let rep = r.report();
        assert_eq!(rep.sync.gap_count, 0);
        assert_eq!(rep.sync.snapshots, 1);
        assert!(sa.trades > 100 && sa.depth_messages > 1000, "{sa:?}");
        let mut book = L2Book::new(cfg.tick_size, cfg.lot_size).unwrap();
        book.apply(&events).unwrap();
        assert!(!book.is_crossed());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn informed_flow_is_a_share_of_the_trades_and_seeded() {
        let dir = std::env::temp_dir().join(format!("tradecore-synth-inf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.gz");
        let run = |share: f64| {
            let cfg = SynthConfig {
                seconds: 5.0,
                informed_share: share,
                ..SynthConfig::default()
            };
            write_binance_usdm(&path, &cfg).unwrap()
        };
        let none = run(0.0);
        assert_eq!(none.informed_trades, 0);
        let half = run(0.5);
        let f = half.informed_trades as f64 / half.trades as f64;
        assert!(f > 0.3 && f < 0.7, "{half:?}");
        let all = run(1.0);
        assert_eq!(all.informed_trades, all.trades);
        assert_eq!(run(0.5), half, "the same seed gives the same market");
        let bad = SynthConfig {
            informed_share: 1.5,
            ..SynthConfig::default()
        };
        assert!(write_binance_usdm(&path, &bad).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
