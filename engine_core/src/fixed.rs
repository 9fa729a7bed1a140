//! Fixed-point numbers: every price and quantity in the core is an `i64` holding the value
//! times [`SCALE`] (1e-9 resolution, the same convention as nautilus_trader's standard
//! precision). Exchange decimal strings are parsed digit by digit, never through a binary
//! float, so a price always lands on the exact tick.
//!
//! Range: |value| <= 9,223,372,036.854775807. A value outside it is rejected, never wrapped.

use std::fmt;

use crate::error::{Error, Result};

/// Fixed-point scale: one unit is 1e-9.
pub const SCALE: i64 = 1_000_000_000;
const DECIMALS: usize = 9;
const POW10: [u64; 10] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
];

/// Why a decimal string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalError {
    /// Not a plain decimal number (`-?digits(.digits)?`).
    NotNumeric,
    /// Non-zero digits beyond the 9th decimal place.
    TooPrecise,
    /// Outside the representable range.
    OutOfRange,
}

impl fmt::Display for DecimalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DecimalError::NotNumeric => "not a decimal number",
            DecimalError::TooPrecise => "more than 9 decimal places",
            DecimalError::OutOfRange => "out of the fixed-point range (|x| < 9.2e9)",
        })
    }
}

/// Parses an exact decimal string (`"61773.60"`, `"0.00100000"`, `"-3"`) into fixed point.
///
/// Trailing zeros beyond the 9th decimal are accepted; any other digit there is an error,
/// because it cannot be represented without rounding.
#[inline]
pub fn parse_decimal(s: &[u8]) -> Result<i64, DecimalError> {
    let n = s.len();
    let neg = n > 0 && s[0] == b'-';
    let mut i = usize::from(neg);
    let int_start = i;
    let mut int: u64 = 0;
    while i < n {
        let d = s[i].wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        if i - int_start >= 11 {
            return Err(DecimalError::OutOfRange);
        }
        int = int * 10 + u64::from(d);
        i += 1;
    }
    if i == int_start {
        return Err(DecimalError::NotNumeric);
    }
    let mut frac: u64 = 0;
    let mut frac_digits = 0usize;
    if i < n && s[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < n {
            let d = s[i].wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            if frac_digits < DECIMALS {
                frac = frac * 10 + u64::from(d);
                frac_digits += 1;
            } else if d != 0 {
                return Err(DecimalError::TooPrecise);
            }
            i += 1;
        }
        if i == frac_start {
            return Err(DecimalError::NotNumeric);
        }
    }
    if i != n {
        return Err(DecimalError::NotNumeric);
    }
    let magnitude = int * POW10[DECIMALS] + frac * POW10[DECIMALS - frac_digits];
    if magnitude > i64::MAX as u64 {
        return Err(DecimalError::OutOfRange);
    }
    let v = magnitude as i64;
    Ok(if neg { -v } else { v })
}

/// Fixed point to the nearest `f64` (exact for |x| < 2^53 units before the division).
#[inline]
pub fn to_f64(v: i64) -> f64 {
    v as f64 / SCALE as f64
}

/// A float from Python into fixed point, rounded to the nearest 1e-9.
/// NaN, infinities and out-of-range values are refused, naming `field`.
pub fn from_f64(field: &'static str, x: f64) -> Result<i64> {
    if !x.is_finite() {
        return Err(Error::invalid(field, x, "must be a finite number"));
    }
    let scaled = (x * SCALE as f64).round();
    if scaled.abs() >= 9.2e18 {
        return Err(Error::invalid(field, x, "out of the fixed-point range (|x| < 9.2e9)"));
    }
    Ok(scaled as i64)
}

/// Renders a fixed-point value as the shortest exact decimal string.
pub fn format(v: i64) -> String {
    let sign = if v < 0 { "-" } else { "" };
    let m = v.unsigned_abs();
    let int = m / SCALE as u64;
    let frac = m % SCALE as u64;
    if frac == 0 {
        return format!("{sign}{int}");
    }
    let digits = format!("{frac:09}");
    format!("{sign}{int}.{}", digits.trim_end_matches('0'))
}

/// A step (tick size or lot size) with a divisibility test that costs one multiply and one
/// rotate instead of a 64-bit division (Hacker's Delight 10-17): the hot path validates
/// every level update against the instrument's grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    step: i64,
    inv_odd: u64,
    shift: u32,
    limit: u64,
}

impl Grid {
    /// A grid of `step` fixed-point units; `step` must be positive.
    pub fn new(field: &'static str, step: i64) -> Result<Self> {
        if step <= 0 {
            return Err(Error::invalid(field, format(step), "must be positive"));
        }
        let d = step as u64;
        let shift = d.trailing_zeros();
        let odd = d >> shift;
        // Newton's iteration for the inverse of an odd number modulo 2^64.
        let mut inv = odd;
        for _ in 0..5 {
            inv = inv.wrapping_mul(2u64.wrapping_sub(odd.wrapping_mul(inv)));
        }
        Ok(Grid { step, inv_odd: inv, shift, limit: u64::MAX / d })
    }

    /// The step in fixed-point units.
    #[inline]
    pub fn step(&self) -> i64 {
        self.step
    }

    /// `v / step` for a `v >= 0` that [`Grid::contains`]: one shift and one multiply.
    #[inline]
    pub fn div_exact(&self, v: i64) -> i64 {
        ((v as u64) >> self.shift).wrapping_mul(self.inv_odd) as i64
    }

    /// True when `v` (taken as non-negative) is a whole multiple of the step.
    #[inline]
    pub fn contains(&self, v: i64) -> bool {
        (v as u64).wrapping_mul(self.inv_odd).rotate_right(self.shift) <= self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_exchange_strings_exactly() {
        assert_eq!(parse_decimal(b"61773.6"), Ok(61_773_600_000_000));
        assert_eq!(parse_decimal(b"61737.63000000"), Ok(61_737_630_000_000));
        assert_eq!(parse_decimal(b"0.00000000"), Ok(0));
        assert_eq!(parse_decimal(b"0.001"), Ok(1_000_000));
        assert_eq!(parse_decimal(b"1001"), Ok(1_001_000_000_000));
        assert_eq!(parse_decimal(b"-2.5"), Ok(-2_500_000_000));
        assert_eq!(parse_decimal(b"0.1234567890000"), Ok(123_456_789));
        assert_eq!(parse_decimal(b"9223372036.854775807"), Ok(i64::MAX));
    }

    #[test]
    fn refuses_what_it_cannot_represent() {
        for bad in [&b""[..], b"-", b".5", b"1.", b"abc", b"1e5", b"1.2.3", b" 1", b"1,5", b"NaN"] {
            assert_eq!(parse_decimal(bad), Err(DecimalError::NotNumeric), "{bad:?}");
        }
        assert_eq!(parse_decimal(b"0.0000000001"), Err(DecimalError::TooPrecise));
        assert_eq!(parse_decimal(b"9223372036.854775808"), Err(DecimalError::OutOfRange));
        assert_eq!(parse_decimal(b"123456789012345678901234"), Err(DecimalError::OutOfRange));
    }

    #[test]
    fn floats_round_to_the_nearest_unit() {
        assert_eq!(from_f64("price", 0.1).unwrap(), 100_000_000);
        assert_eq!(from_f64("price", 61773.6).unwrap(), 61_773_600_000_000);
        assert!(from_f64("price", f64::NAN).is_err());
        assert!(from_f64("price", f64::INFINITY).is_err());
        assert!(from_f64("price", 1e12).is_err());
        assert_eq!(to_f64(61_773_600_000_000), 61773.6);
    }

    #[test]
    fn formats_shortest_exact() {
        assert_eq!(format(61_773_600_000_000), "61773.6");
        assert_eq!(format(-1_000_000), "-0.001");
        assert_eq!(format(5 * SCALE), "5");
    }

    #[test]
    fn grid_rejects_non_positive_steps() {
        assert!(Grid::new("tick_size", 0).is_err());
        assert!(Grid::new("tick_size", -5).is_err());
    }

    proptest! {
        #[test]
        fn grid_matches_modulo(step in 1i64..2_000_000_000_000, v in 0i64..i64::MAX) {
            let g = Grid::new("tick_size", step).unwrap();
            prop_assert_eq!(g.contains(v), v % step == 0);
            let k = v / step;
            prop_assert!(g.contains(k * step));
            prop_assert_eq!(g.div_exact(k * step), k);
        }

        #[test]
        fn decimal_round_trips(v in any::<i64>().prop_filter("not min", |v| *v != i64::MIN)) {
            prop_assert_eq!(parse_decimal(format(v).as_bytes()), Ok(v));
        }
    }
}
