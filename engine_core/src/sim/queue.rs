//! Queue position models: how much of a price level is ahead of a resting order.
//!
//! A resting order joins the back of its level. Trades at its price consume the quantity
//! ahead first (every model). When the level shrinks without trades (cancellations), the
//! models differ on where the cancelled quantity was:
//!
//! - [`QueueModel::Conservative`]: behind us, unless the level became smaller than the
//!   quantity we thought was ahead (then the level's size is ahead). Never optimistic.
//! - The probabilistic models of hftbacktest: with `front` the quantity ahead and `back` the
//!   quantity behind, a share `p(front, back)` of a cancellation happens behind us and the
//!   rest ahead:
//!   - `Power(n)`:  p = back^n / (back^n + front^n)
//!   - `Power2(n)`: p = back^n / (back + front)^n
//!   - `Power3(n)`: p = 1 - (front / (front + back))^n
//!   - `Log`:       p = ln(1 + back) / (ln(1 + back) + ln(1 + front))
//!   - `Log2`:      p = ln(1 + back) / ln(1 + back + front)
//!
//! Quantities enter the formulas in lots (hftbacktest's convention), so a model behaves the
//! same whatever the fixed-point scale.

use crate::error::{Error, Result};

/// The queue position model of a simulator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum QueueModel {
    /// Cancellations happen behind us (the risk-averse model).
    Conservative,
    /// hftbacktest `PowerProbQueueFunc(n)`.
    Power(f64),
    /// hftbacktest `PowerProbQueueFunc2(n)`.
    Power2(f64),
    /// hftbacktest `PowerProbQueueFunc3(n)`.
    Power3(f64),
    /// hftbacktest `LogProbQueueFunc`.
    Log,
    /// hftbacktest `LogProbQueueFunc2`.
    Log2,
}

impl QueueModel {
    /// Parses `conservative`, `log`, `log2`, `power:N`, `power2:N` or `power3:N`.
    pub fn parse(text: &str) -> Result<Self> {
        let t = text.trim().to_ascii_lowercase();
        let (name, arg) = match t.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (t.as_str(), None),
        };
        let power = |a: Option<&str>| -> Result<f64> {
            let n: f64 = a
                .ok_or_else(|| {
                    Error::invalid("queue", text, "power models need an exponent, e.g. power:2")
                })?
                .parse()
                .map_err(|_| Error::invalid("queue", text, "the exponent must be a number"))?;
            if n.is_finite() && n > 0.0 {
                Ok(n)
            } else {
                Err(Error::invalid("queue", text, "the exponent must be > 0"))
            }
        };
        let model = match (name, arg) {
            ("conservative" | "risk_averse", None) => QueueModel::Conservative,
            ("log", None) => QueueModel::Log,
            ("log2", None) => QueueModel::Log2,
            ("power", a) => QueueModel::Power(power(a)?),
            ("power2", a) => QueueModel::Power2(power(a)?),
            ("power3", a) => QueueModel::Power3(power(a)?),
            _ => {
                return Err(Error::invalid(
                    "queue",
                    text,
                    "expected conservative, log, log2, power:N, power2:N or power3:N",
                ))
            }
        };
        Ok(model)
    }

    /// The share of a cancellation that happened behind us, given the quantities (in lots)
    /// ahead of and behind us.
    pub fn behind_share(self, front: f64, back: f64) -> f64 {
        let p = match self {
            QueueModel::Conservative => 1.0,
            QueueModel::Power(n) => {
                let (b, f) = (back.powf(n), front.powf(n));
                b / (b + f)
            }
            QueueModel::Power2(n) => back.powf(n) / (back + front).powf(n),
            QueueModel::Power3(n) => 1.0 - (front / (front + back)).powf(n),
            QueueModel::Log => {
                let (b, f) = (back.ln_1p(), front.ln_1p());
                b / (b + f)
            }
            QueueModel::Log2 => back.ln_1p() / (back + front).ln_1p(),
        };
        if p.is_finite() {
            p.clamp(0.0, 1.0)
        } else {
            1.0
        }
    }

    /// The quantity ahead after the level went from `prev` to `new` (fixed point), of which
    /// `traded` was already taken off by trades at the level since the last update.
    pub fn on_level_change(self, ahead: i64, prev: i64, new: i64, traded: i64, lot: i64) -> i64 {
        let cancelled = prev - new - traded;
        if cancelled <= 0 || self == QueueModel::Conservative {
            // Growth joins behind us; the conservative model puts cancellations behind too.
            return ahead.min(new).max(0);
        }
        #[allow(clippy::cast_precision_loss)]
        let (front, back, chg) = {
            let l = lot as f64;
            let front = ahead as f64 / l;
            let back = ((prev - traded - ahead) as f64 / l).max(0.0);
            (front, back, cancelled as f64 / l)
        };
        let p = self.behind_share(front, back);
        // hftbacktest's estimate: the share ahead leaves the front; what the back cannot
        // absorb comes from the front too.
        let est = front - (1.0 - p) * chg + (back - p * chg).min(0.0);
        // Kept on the lot grid (quantities ahead are whole lots), so fills stay on it too.
        #[allow(clippy::cast_possible_truncation)]
        let est = est.round() as i64 * lot;
        est.min(new).max(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOT: i64 = 1_000_000; // 0.001

    #[test]
    fn parse_names_and_errors() {
        assert_eq!(
            QueueModel::parse("conservative").unwrap(),
            QueueModel::Conservative
        );
        assert_eq!(
            QueueModel::parse("power:3").unwrap(),
            QueueModel::Power(3.0)
        );
        assert_eq!(QueueModel::parse("LOG2").unwrap(), QueueModel::Log2);
        for bad in ["power", "power:x", "power:-1", "fifo"] {
            let e = QueueModel::parse(bad).unwrap_err().to_string();
            assert!(e.contains("queue"), "{e}");
        }
    }

    #[test]
    fn cancellations_split_between_front_and_back() {
        // 6 lots ahead, 4 behind, 5 cancelled.
        let (ahead, prev, new) = (6 * LOT, 10 * LOT, 5 * LOT);
        let c = QueueModel::Conservative.on_level_change(ahead, prev, new, 0, LOT);
        assert_eq!(c, 5 * LOT); // only capped by the new level size
                                // Power(1): p = 4/10 behind, so 0.6*5 = 3 from the front; back absorbs 2 of its 4.
        let p = QueueModel::Power(1.0).on_level_change(ahead, prev, new, 0, LOT);
        assert_eq!(p, 3 * LOT);
        // A huge exponent: almost all from the side that is bigger (the front here).
        let big = QueueModel::Power(50.0).on_level_change(ahead, prev, new, 0, LOT);
        assert_eq!(big, LOT);
        // Log: p = ln5 / (ln5 + ln7).
        let pl = 5f64.ln() / (5f64.ln() + 7f64.ln());
        let want = (6.0 - (1.0 - pl) * 5.0).round() as i64 * LOT;
        assert_eq!(
            QueueModel::Log.on_level_change(ahead, prev, new, 0, LOT),
            want
        );
        // Trades already counted are not counted again; growth never moves us forward.
        assert_eq!(
            QueueModel::Power(1.0).on_level_change(ahead, prev, 8 * LOT, 2 * LOT, LOT),
            6 * LOT
        );
        assert_eq!(
            QueueModel::Power(1.0).on_level_change(ahead, prev, 12 * LOT, 0, LOT),
            6 * LOT
        );
        // Shares stay in [0, 1], at the front of the queue nothing is ahead to cancel.
        for m in [
            QueueModel::Power2(2.0),
            QueueModel::Power3(2.0),
            QueueModel::Log2,
        ] {
            let p = m.behind_share(0.0, 3.0);
            assert!((0.0..=1.0).contains(&p));
            assert_eq!(m.on_level_change(0, 3 * LOT, LOT, 0, LOT), 0);
        }
    }
}
