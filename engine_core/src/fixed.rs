//! Fixed-point numbers: every price and quantity in the core is an `i64` holding the value
//! times [`SCALE`] (1e-9 resolution, the same convention as `nautilus_trader`'s standard
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
    match parse_decimal_prefix(s) {
        Ok((v, n)) if n == s.len() => Ok(v),
        Ok(_) => Err(DecimalError::NotNumeric),
        Err(e) => Err(e),
    }
}

/// Parses the decimal number at the start of `s`; returns it and the bytes it used. The
/// caller checks what follows (a closing quote, the end of the input...).
#[inline(always)]
pub fn parse_decimal_prefix(s: &[u8]) -> Result<(i64, usize), DecimalError> {
    if let Some(r) = parse_short_decimal(s) {
        return Ok(r);
    }
    parse_decimal_slow(s)
}

/// Positions of non-digit bytes in an 8-byte little-endian word: a byte of the result is
/// non-zero exactly where the input byte is not '0'..='9'. (A carry can only leave a
/// non-digit byte, so every byte before the first non-digit is judged exactly.)
#[inline(always)]
fn non_digits(x: u64) -> u64 {
    let t = (x & 0xF0F0_F0F0_F0F0_F0F0)
        | ((x.wrapping_add(0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0) >> 4);
    t ^ 0x3333_3333_3333_3333
}

/// The value of the first `k` (1..=8) ASCII digits of `x` (SWAR, Lemire's method): the digits
/// are right-aligned as the low digits of an 8-digit group, the shifted-in zero bytes being
/// leading zeros, then pairs, quads and octets are folded with three multiplies.
#[inline(always)]
fn swar_digits(x: u64, k: usize) -> u64 {
    let mut v = (x & 0x0F0F_0F0F_0F0F_0F0F) << (8 * (8 - k));
    v = v.wrapping_mul(10).wrapping_add(v >> 8);
    v = ((v & 0x0000_00FF_0000_00FF)
        .wrapping_mul(0x000F_4240_0000_0064)
        .wrapping_add(((v >> 16) & 0x0000_00FF_0000_00FF).wrapping_mul(0x0000_2710_0000_0001)))
        >> 32;
    v & 0xFFFF_FFFF
}

#[inline(always)]
fn load8(s: &[u8], at: usize) -> Option<u64> {
    let chunk: [u8; 8] = s.get(at..at + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(chunk))
}

/// Leading digits (up to 8) of `s[at..]`: value and count.
#[inline(always)]
fn digits8(s: &[u8], at: usize) -> Option<(u64, usize)> {
    let x = load8(s, at)?;
    let k = (non_digits(x).trailing_zeros() / 8) as usize;
    Some(if k == 0 {
        (0, 0)
    } else {
        (swar_digits(x, k), k)
    })
}

/// The leading run of ASCII digits of `s` when it is 1 to 16 digits long and followed by at
/// least one more byte: its value and length (SWAR, 8 digits at a time). `None` otherwise.
#[inline(always)]
pub(crate) fn leading_integer(s: &[u8]) -> Option<(u64, usize)> {
    let (hi, k) = digits8(s, 0)?;
    if k == 0 {
        return None;
    }
    if k < 8 {
        return Some((hi, k));
    }
    let (lo, m) = digits8(s, 8)?;
    if m == 8 {
        return None;
    }
    Some((hi * POW10[m] + lo, 8 + m))
}

/// The common cases without a per-byte loop; `None` means "use the slow path".
///
/// - A number that fits in 8 bytes with its dot (`61773.60`, `0.010`, `1001`): the dot is
///   squeezed out and all digits are converted at once.
/// - Otherwise up to 8 integer and 8 decimal digits, converted separately (`61737.63000000`).
///
/// Both need at least one byte after the number (a closing quote in JSON).
#[inline(always)]
fn parse_short_decimal(s: &[u8]) -> Option<(i64, usize)> {
    let x = load8(s, 0)?;
    let nd = non_digits(x);
    let k = (nd.trailing_zeros() / 8) as usize;
    if k == 0 {
        return None;
    }
    if k < 8 && (x >> (8 * k)) as u8 != b'.' {
        return Some(((swar_digits(x, k) * POW10[DECIMALS]) as i64, k));
    }
    if k < 7 {
        // Dot at k: does the number end within this word, or right after it?
        let rest = nd & !((0xFFu64 << (8 * k)) | ((1u64 << (8 * k)) - 1));
        let m = (rest.trailing_zeros() / 8) as usize;
        if m > k + 1 && (m < 8 || !s.get(8)?.is_ascii_digit()) {
            let low_mask = (1u64 << (8 * k)) - 1;
            let squeezed = (x & low_mask) | ((x >> 8) & !low_mask);
            let frac_digits = m - k - 1;
            let v = swar_digits(squeezed, m - 1) * POW10[DECIMALS - frac_digits];
            return Some((v as i64, m));
        }
    }
    let (int, k) = digits8(s, 0)?;
    if k == 8 && s.get(8)?.is_ascii_digit() {
        return None;
    }
    if *s.get(k)? != b'.' {
        return Some(((int * POW10[DECIMALS]) as i64, k));
    }
    let (frac, f) = digits8(s, k + 1)?;
    if f == 0 || (f == 8 && s.get(k + 9)?.is_ascii_digit()) {
        return None;
    }
    Some((
        (int * POW10[DECIMALS] + frac * POW10[DECIMALS - f]) as i64,
        k + 1 + f,
    ))
}

#[cold]
fn parse_decimal_slow(s: &[u8]) -> Result<(i64, usize), DecimalError> {
    let n = s.len();
    let neg = n > 0 && s[0] == b'-';
    let mut i = usize::from(neg);
    let int_start = i;
    // Leading zeros do not count towards the range.
    while i + 1 < n && s[i] == b'0' && s[i + 1].is_ascii_digit() {
        i += 1;
    }
    let significant = i;
    let mut int: u64 = 0;
    while i < n {
        let d = s[i].wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        int = int.wrapping_mul(10).wrapping_add(u64::from(d));
        i += 1;
    }
    if i == int_start {
        return Err(DecimalError::NotNumeric);
    }
    if i - significant > 10 {
        return Err(DecimalError::OutOfRange);
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
    // int < 10^10, so this cannot overflow a u64 (10^19 < 1.8 * 10^19).
    let magnitude = int * POW10[DECIMALS] + frac * POW10[DECIMALS - frac_digits];
    if magnitude > i64::MAX as u64 {
        return Err(DecimalError::OutOfRange);
    }
    let v = magnitude as i64;
    Ok((if neg { -v } else { v }, i))
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
        return Err(Error::invalid(
            field,
            x,
            "out of the fixed-point range (|x| < 9.2e9)",
        ));
    }
    if scaled == 0.0 && x != 0.0 {
        return Err(Error::invalid(field, x, "smaller than the 1e-9 resolution"));
    }
    Ok(scaled as i64)
}

/// Appends the decimal digits of `v` (no formatting machinery: the order path's requests and
/// intent lines are built with these).
pub fn write_uint(out: &mut Vec<u8>, v: u64) {
    let mut buf = [0u8; 20];
    out.extend_from_slice(uint_str(v, &mut buf).as_bytes());
}

/// `v` in decimal, written at the end of `buf`.
pub fn uint_str(mut v: u64, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    // only ASCII digits were written
    std::str::from_utf8(&buf[i..]).unwrap_or_default()
}

/// Appends `v` in decimal, with its sign.
pub fn write_int(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    write_uint(out, v.unsigned_abs());
}

/// Appends a fixed-point value as the shortest exact decimal (no exponent, no trailing
/// zeros): the same text as [`format`].
pub fn write_decimal(out: &mut Vec<u8>, v: i64) {
    let m = v.unsigned_abs();
    let scale = SCALE as u64;
    if v < 0 {
        out.push(b'-');
    }
    write_uint(out, m / scale);
    let mut frac = m % scale;
    if frac != 0 {
        out.push(b'.');
        let mut div = scale / 10;
        while frac != 0 {
            out.push(b'0' + (frac / div) as u8);
            frac %= div;
            div /= 10;
        }
    }
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
        Ok(Grid {
            step,
            inv_odd: inv,
            shift,
            limit: u64::MAX / d,
        })
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
        (v as u64)
            .wrapping_mul(self.inv_odd)
            .rotate_right(self.shift)
            <= self.limit
    }
}

/// Decimal parsing with SSSE3/SSE4.1: one 16-byte load per number, the dot squeezed out
/// and the digits right-aligned by two shuffles, then folded with three multiply-adds.
/// Chosen at run time (`is_x86_feature_detected!`), so the build stays portable.
#[cfg(target_arch = "x86_64")]
pub(crate) mod simd {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_cvtsi128_si32, _mm_cvtsi128_si64, _mm_extract_epi32,
        _mm_loadu_si128, _mm_madd_epi16, _mm_maddubs_epi16, _mm_min_epu8, _mm_movemask_epi8,
        _mm_packus_epi32, _mm_set1_epi8, _mm_setr_epi16, _mm_setr_epi8, _mm_shuffle_epi8,
        _mm_sub_epi8, _mm_unpacklo_epi64,
    };

    use super::{DECIMALS, POW10};

    /// `SQUEEZE[k]`: drops the byte at `k` (the dot), shifting the rest down; `SQUEEZE[16]`
    /// is the identity (no dot).
    static SQUEEZE: [[u8; 16]; 17] = {
        let mut t = [[0x80u8; 16]; 17];
        let mut k = 0;
        while k <= 16 {
            let mut j = 0;
            while j < 16 {
                let src = if j < k { j } else { j + 1 };
                t[k][j] = if src < 16 { src as u8 } else { 0x80 };
                j += 1;
            }
            k += 1;
        }
        t
    };

    /// `ALIGN[n]`: moves the first `n` bytes to the end, zero-filling the front (leading
    /// zeros), so every number is a right-aligned 16-digit group.
    static ALIGN: [[u8; 16]; 17] = {
        let mut t = [[0x80u8; 16]; 17];
        let mut n = 0;
        while n <= 16 {
            let mut j = 16 - n;
            while j < 16 {
                t[n][j] = (j - (16 - n)) as u8;
                j += 1;
            }
            n += 1;
        }
        t
    };

    /// Whether this CPU can run [`parse_span_at`].
    pub(crate) fn available() -> bool {
        std::is_x86_feature_detected!("ssse3") && std::is_x86_feature_detected!("sse4.1")
    }

    #[inline(always)]
    unsafe fn load(table: &[u8; 16]) -> __m128i {
        // SAFETY: 16 readable bytes; unaligned load.
        unsafe { _mm_loadu_si128(table.as_ptr().cast()) }
    }

    /// Parses the non-negative decimal that fills exactly the `n` bytes at `p` (its end is
    /// already known, from the closing quote) when it is short enough: at most 9 integer
    /// digits and 9 decimals, in fewer than 16 bytes. `None` sends the caller to the portable
    /// path (which also produces the errors).
    ///
    /// # Safety
    /// The CPU must support SSSE3 and SSE4.1, and `p` must point at 16 readable bytes.
    #[inline(always)]
    pub(crate) unsafe fn parse_span_at(p: *const u8, n: usize) -> Option<i64> {
        // SAFETY: guaranteed by the caller (CPU features, 16 readable bytes at `p`).
        unsafe {
            let x = _mm_loadu_si128(p.cast());
            let t = _mm_sub_epi8(x, _mm_set1_epi8(b'0' as i8));
            let digit = _mm_cmpeq_epi8(_mm_min_epu8(t, _mm_set1_epi8(9)), t);
            let md = _mm_movemask_epi8(digit) as u32;
            if n == 0 || n >= 16 {
                return None;
            }
            let other = !md & ((1u32 << n) - 1);
            if other == 0 {
                return (n <= 9).then(|| value(t, 16, n, 0));
            }
            // Exactly one non-digit, a dot with digits on both sides.
            let k = other.trailing_zeros() as usize;
            let f = n - k - 1;
            if other & (other - 1) != 0
                || *p.add(k) != b'.'
                || k == 0
                || k > 9
                || f == 0
                || f > DECIMALS
            {
                return None;
            }
            Some(value(t, k, n - 1, f))
        }
    }

    /// `PAIR8[n][k]`: for a number of `n` bytes with its dot at `k` (`k == n`: no dot), moves
    /// its digits to the end of the first 8 bytes, dot dropped, zero-filling the front.
    static PAIR8: [[[u8; 16]; 10]; 10] = {
        let mut t = [[[0x80u8; 16]; 10]; 10];
        let mut n = 1;
        while n <= 9 {
            let mut k = 0;
            while k <= n {
                let digits = if k < n { n - 1 } else { n };
                if digits <= 8 {
                    let mut j = 8 - digits;
                    while j < 8 {
                        let m = j - (8 - digits);
                        t[n][k][j] = if m < k { m as u8 } else { (m + 1) as u8 };
                        j += 1;
                    }
                }
                k += 1;
            }
            n += 1;
        }
        t
    };

    /// Parses a level's price and quantity together when each has at most 8 digits (USD-M
    /// and COIN-M levels): the `np` bytes at `p` and the `nq` bytes at `q`, each exactly one
    /// non-negative decimal. Both numbers share one register, so they cost one conversion.
    /// `None` for anything else (the caller then parses them one at a time).
    ///
    /// # Safety
    /// The CPU must support SSSE3 and SSE4.1, and 16 bytes must be readable at `p` and at `q`.
    #[inline(always)]
    pub(crate) unsafe fn parse_pair8_at(
        p: *const u8,
        np: usize,
        q: *const u8,
        nq: usize,
    ) -> Option<(i64, i64)> {
        /// The dot of a number (`n` when it has none) and its decimals, if the shape fits.
        #[inline(always)]
        fn shape(dots: u32, n: usize) -> Option<(usize, usize)> {
            let k = (dots | 1 << n).trailing_zeros() as usize;
            if n == 0 || n > 9 || (k == n && n > 8) {
                return None;
            }
            if k == n {
                return Some((k, 0));
            }
            (k >= 1 && k + 1 < n).then(|| (k, n - k - 1))
        }
        // SAFETY: guaranteed by the caller (CPU features, 16 readable bytes at `p` and `q`).
        unsafe {
            let zero = _mm_set1_epi8(b'0' as i8);
            let dot = _mm_set1_epi8(b'.' as i8);
            let a = _mm_loadu_si128(p.cast());
            let b = _mm_loadu_si128(q.cast());
            let (kp, fp) = shape(_mm_movemask_epi8(_mm_cmpeq_epi8(a, dot)) as u32, np)?;
            let (kq, fq) = shape(_mm_movemask_epi8(_mm_cmpeq_epi8(b, dot)) as u32, nq)?;
            let a = _mm_shuffle_epi8(_mm_sub_epi8(a, zero), load(&PAIR8[np][kp]));
            let b = _mm_shuffle_epi8(_mm_sub_epi8(b, zero), load(&PAIR8[nq][kq]));
            let digits = _mm_unpacklo_epi64(a, b);
            // Every byte is now a digit of one of the numbers or a zero filler; anything else
            // (a second dot, a letter) is not a digit 0..=9.
            let ok = _mm_cmpeq_epi8(_mm_min_epu8(digits, _mm_set1_epi8(9)), digits);
            if _mm_movemask_epi8(ok) != 0xFFFF {
                return None;
            }
            let octets = octets(digits);
            let both = _mm_cvtsi128_si64(octets) as u64;
            let price = (both & 0xFFFF_FFFF) * POW10[DECIMALS - fp];
            let qty = (both >> 32) * POW10[DECIMALS - fq];
            Some((price as i64, qty as i64))
        }
    }

    /// Sixteen digit bytes (0..=9 each) as two 32-bit values of eight digits each, in the
    /// low two lanes (the first eight digits in lane 0).
    ///
    /// # Safety
    /// The CPU must support SSSE3 and SSE4.1.
    #[inline(always)]
    unsafe fn octets(digits: __m128i) -> __m128i {
        // SAFETY: the CPU features are guaranteed by the caller.
        unsafe {
            let pairs = _mm_maddubs_epi16(
                digits,
                _mm_setr_epi8(10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1),
            );
            let quads = _mm_madd_epi16(pairs, _mm_setr_epi16(100, 1, 100, 1, 100, 1, 100, 1));
            let packed = _mm_packus_epi32(quads, quads);
            _mm_madd_epi16(
                packed,
                _mm_setr_epi16(10000, 1, 10000, 1, 10000, 1, 10000, 1),
            )
        }
    }

    /// The value of `n` digits (`t` holds the bytes minus `'0'`) after dropping the byte at
    /// `squeeze` (16: none), with `f` of them decimals.
    ///
    /// # Safety
    /// The CPU must support SSSE3 and SSE4.1; `n <= 16`, `squeeze <= 16`, `f <= DECIMALS`.
    #[inline(always)]
    unsafe fn value(t: __m128i, squeeze: usize, n: usize, f: usize) -> i64 {
        // SAFETY: the CPU features are guaranteed by the caller; the table indices are in range.
        unsafe {
            let digits = _mm_shuffle_epi8(
                _mm_shuffle_epi8(t, load(&SQUEEZE[squeeze])),
                load(&ALIGN[n]),
            );
            let octets = octets(digits);
            let hi = u64::from(_mm_cvtsi128_si32(octets) as u32);
            let lo = u64::from(_mm_extract_epi32(octets, 1) as u32);
            ((hi * 100_000_000 + lo) * POW10[DECIMALS - f]) as i64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_decimals_and_integers_are_the_formatted_text() {
        for v in [
            0,
            1,
            -1,
            9,
            10,
            1_000_000,
            63_999_900_000_000,
            -1_234_567_891,
            i64::MAX,
            i64::MIN + 1,
        ] {
            let mut out = Vec::new();
            write_decimal(&mut out, v);
            assert_eq!(String::from_utf8(out).unwrap(), format(v));
            let mut out = Vec::new();
            write_int(&mut out, v);
            assert_eq!(String::from_utf8(out).unwrap(), v.to_string());
        }
        let mut out = Vec::new();
        write_uint(&mut out, u64::MAX);
        assert_eq!(String::from_utf8(out).unwrap(), u64::MAX.to_string());
    }
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
        for bad in [
            &b""[..],
            b"-",
            b".5",
            b"1.",
            b"abc",
            b"1e5",
            b"1.2.3",
            b" 1",
            b"1,5",
            b"NaN",
        ] {
            assert_eq!(parse_decimal(bad), Err(DecimalError::NotNumeric), "{bad:?}");
        }
        assert_eq!(
            parse_decimal(b"0.0000000001"),
            Err(DecimalError::TooPrecise)
        );
        assert_eq!(
            parse_decimal(b"9223372036.854775808"),
            Err(DecimalError::OutOfRange)
        );
        assert_eq!(
            parse_decimal(b"123456789012345678901234"),
            Err(DecimalError::OutOfRange)
        );
    }

    #[test]
    fn floats_round_to_the_nearest_unit() {
        assert_eq!(from_f64("price", 0.1).unwrap(), 100_000_000);
        assert_eq!(from_f64("price", 61773.6).unwrap(), 61_773_600_000_000);
        assert!(from_f64("price", f64::NAN).is_err());
        assert!(from_f64("price", f64::INFINITY).is_err());
        assert!(from_f64("price", 1e12).is_err());
        assert!(from_f64("qty", 3e-10)
            .unwrap_err()
            .to_string()
            .contains("0.0000000003"));
        assert_eq!(from_f64("qty", 0.0).unwrap(), 0);
        assert_eq!(parse_decimal(b"00000000001.5"), Ok(1_500_000_000));
        // The nearest double to the decimal, exactly (the point of the conversion).
        assert_eq!(to_f64(61_773_600_000_000).to_bits(), 61773.6f64.to_bits());
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

    /// The SIMD span parser on `s`, padded so 16 bytes are readable: `None` when it declines.
    #[cfg(target_arch = "x86_64")]
    fn simd_span(s: &[u8]) -> Option<i64> {
        if !simd::available() {
            return None;
        }
        let mut padded = s.to_vec();
        padded.resize(s.len() + 16, b'"');
        // SAFETY: the CPU features were checked; `padded` has 16 bytes past `s`.
        unsafe { simd::parse_span_at(padded.as_ptr(), s.len()) }
    }

    /// Numbers (with every kind of tail) that the fast paths must parse exactly like the
    /// byte-by-byte path, errors included.
    const CASES: [&str; 18] = [
        "0",
        "7",
        "61773.6",
        "61737.63000000",
        "0.00100000",
        "12345678",
        "12345678.12345678",
        "123456789.5",
        "1.123456789",
        "99999999.99999999",
        "0.0",
        "10",
        "3.",
        "5.x",
        "00012.50",
        "999999999.999999999",
        "1234567890",
        "0.1234567891",
    ];

    fn agrees_with_slow_path(fast: impl Fn(&[u8]) -> Result<(i64, usize), DecimalError>) {
        for c in CASES {
            for tail in ["\",\"1234567\"]", "]", "\"", "", "                "] {
                let s = format!("{c}{tail}");
                assert_eq!(
                    fast(s.as_bytes()),
                    parse_decimal_slow(s.as_bytes()),
                    "{s:?}"
                );
            }
        }
    }

    /// Whatever the span parser accepts, the slow path parses to the same value; and it
    /// accepts the usual exchange forms.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_simd_path_agrees_with_the_slow_one() {
        if !simd::available() {
            return;
        }
        let mut taken = 0;
        for c in CASES {
            if let Some(v) = simd_span(c.as_bytes()) {
                assert_eq!(Ok(v), parse_decimal(c.as_bytes()), "{c:?}");
                taken += 1;
            }
        }
        assert_eq!(taken, 11, "the SIMD path declines too much");
        for declined in [
            "3.",
            "5.x",
            "1234567890",
            "0.1234567891",
            "",
            ".5",
            "1.2.3",
            "-1",
        ] {
            assert_eq!(simd_span(declined.as_bytes()), None, "{declined:?}");
        }
    }

    #[test]
    fn the_swar_path_agrees_with_the_slow_one() {
        agrees_with_slow_path(parse_decimal_prefix);
    }

    proptest! {
        #[test]
        fn fast_and_slow_paths_agree(s in "[0-9]{0,12}(\\.[0-9]{0,12})?[\",\\] a-z]{0,12}") {
            prop_assert_eq!(parse_decimal_prefix(s.as_bytes()), parse_decimal_slow(s.as_bytes()));
        }

        /// The paired parser reads both numbers exactly as the slow path does, and takes
        /// every pair of plain decimals of at most 8 digits.
        #[cfg(target_arch = "x86_64")]
        #[test]
        fn pair8_and_slow_paths_agree(
            a in "[0-9]{0,9}(\\.[0-9]{0,9})?[.a]?",
            b in "[0-9]{0,9}(\\.[0-9]{0,9})?[.a]?",
        ) {
            if simd::available() {
                let mut buf = format!("{a}\",\"{b}").into_bytes();
                buf.resize(buf.len() + 16, b'"');
                let q = a.len() + 3;
                // SAFETY: CPU features checked; 16 bytes readable past both numbers.
                let got = unsafe {
                    simd::parse_pair8_at(buf.as_ptr(), a.len(), buf.as_ptr().add(q), b.len())
                };
                let slow = (parse_decimal(a.as_bytes()), parse_decimal(b.as_bytes()));
                let short = |s: &str| s.bytes().filter(u8::is_ascii_digit).count() <= 8;
                match got {
                    Some((x, y)) => prop_assert_eq!((Ok(x), Ok(y)), slow),
                    None => prop_assert!(
                        !(slow.0.is_ok() && slow.1.is_ok() && short(&a) && short(&b)
                            && !a.starts_with('-') && !b.starts_with('-')),
                        "declined {:?} {:?}", a, b
                    ),
                }
            }
        }

        #[cfg(target_arch = "x86_64")]
        #[test]
        fn simd_and_slow_paths_agree(s in "[0-9]{0,12}(\\.[0-9]{0,12})?[\",\\] a-z.]{0,2}") {
            if let Some(v) = simd_span(s.as_bytes()) {
                prop_assert_eq!(Ok(v), parse_decimal(s.as_bytes()));
            }
        }

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
