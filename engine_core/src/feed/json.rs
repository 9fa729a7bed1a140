//! A minimal zero-allocation JSON pull scanner, enough for exchange market-data messages:
//! it walks one message in place, hands out borrowed string and number tokens, and skips
//! whatever the caller does not ask for. It never builds a tree and never allocates.

/// A scan error: byte offset and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// Byte offset in the message.
    pub at: usize,
    /// What was expected.
    pub expected: &'static str,
}

pub(crate) type JResult<T> = Result<T, JsonError>;

/// High bit set in each byte of the result that is zero in `w`, exact up to the first zero
/// byte (later bytes may be flagged spuriously, which callers ignore by taking the first).
#[inline(always)]
fn zero_bytes(w: u64) -> u64 {
    w.wrapping_sub(0x0101_0101_0101_0101) & !w & 0x8080_8080_8080_8080
}

const MAX_DEPTH: u32 = 64;

pub(crate) struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(s: &'a [u8]) -> Self {
        Cursor { s, i: 0 }
    }

    /// The bytes not consumed yet, and a way to consume them: for specialised scanners that
    /// handle a compact form themselves and fall back to the generic path otherwise.
    #[inline]
    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.s[self.i..]
    }

    #[inline]
    pub(crate) fn advance(&mut self, n: usize) {
        self.i = (self.i + n).min(self.s.len());
    }

    #[inline]
    fn err<T>(&self, expected: &'static str) -> JResult<T> {
        Err(self.error(expected))
    }

    /// An error at the current position.
    pub(crate) fn error(&self, expected: &'static str) -> JsonError {
        JsonError {
            at: self.i,
            expected,
        }
    }

    #[inline(always)]
    pub(crate) fn ws(&mut self) {
        // Compact JSON (what exchanges send) has none: one compare in the common case.
        while self.i < self.s.len()
            && self.s[self.i] <= b' '
            && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r')
        {
            self.i += 1;
        }
    }

    /// Next non-space byte, not consumed.
    #[inline]
    pub(crate) fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }

    #[inline]
    pub(crate) fn expect(&mut self, c: u8, what: &'static str) -> JResult<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            self.err(what)
        }
    }

    /// True when only whitespace is left.
    pub(crate) fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// A string token's raw content (escapes are left as they are).
    #[inline]
    pub(crate) fn string(&mut self) -> JResult<&'a [u8]> {
        self.expect(b'"', "a string")?;
        let start = self.i;
        // Keys and most values are short: scan 8 bytes at a time for '"' or '\\' (SWAR)
        // before paying a vectorised search's set-up.
        let mut at = start;
        while let Some(chunk) = self.s.get(at..at + 8) {
            let w = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
            let hits =
                zero_bytes(w ^ 0x2222_2222_2222_2222) | zero_bytes(w ^ 0x5C5C_5C5C_5C5C_5C5C);
            if hits != 0 {
                let k = at + (hits.trailing_zeros() / 8) as usize;
                if self.s[k] == b'"' {
                    self.i = k + 1;
                    return Ok(&self.s[start..k]);
                }
                break;
            }
            at += 8;
            if at - start >= 32 {
                break;
            }
        }
        loop {
            match memchr::memchr2(b'"', b'\\', &self.s[self.i..]) {
                None => {
                    self.i = self.s.len();
                    return self.err("the end of a string");
                }
                Some(k) => {
                    let at = self.i + k;
                    if self.s[at] == b'"' {
                        self.i = at + 1;
                        return Ok(&self.s[start..at]);
                    }
                    self.i = at + 2; // skip the escaped byte
                    if self.i > self.s.len() {
                        self.i = self.s.len();
                        return self.err("the end of a string");
                    }
                }
            }
        }
    }

    /// A quoted decimal (`"61773.60"`) parsed straight into fixed point, in one pass over its
    /// bytes. On failure, the error and the raw content of the string (for the message).
    #[inline]
    pub(crate) fn quoted_decimal(
        &mut self,
    ) -> Result<i64, (Option<crate::fixed::DecimalError>, &'a [u8])> {
        if self.peek() != Some(b'"') {
            return Err((None, b""));
        }
        let start = self.i + 1;
        match crate::fixed::parse_decimal_prefix(&self.s[start..]) {
            Ok((v, n)) if self.s.get(start + n) == Some(&b'"') => {
                self.i = start + n + 1;
                Ok(v)
            }
            other => {
                let err = other
                    .err()
                    .unwrap_or(crate::fixed::DecimalError::NotNumeric);
                let raw = self.string().unwrap_or(&self.s[start..]);
                Err((Some(err), raw))
            }
        }
    }

    /// A number token's raw bytes.
    #[inline]
    pub(crate) fn number(&mut self) -> JResult<&'a [u8]> {
        self.ws();
        let start = self.i;
        while self.i < self.s.len()
            && matches!(
                self.s[self.i],
                b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'
            )
        {
            self.i += 1;
        }
        if self.i == start {
            return self.err("a number");
        }
        Ok(&self.s[start..self.i])
    }

    /// A non-negative integer.
    #[inline]
    pub(crate) fn u64(&mut self) -> JResult<u64> {
        self.ws();
        let start = self.i;
        // Up to 16 digits (every id and millisecond time): 8 digits at a time.
        if let Some((v, n)) = crate::fixed::leading_integer(&self.s[start..]) {
            if !matches!(self.s.get(start + n), Some(b'.' | b'e' | b'E')) {
                self.i = start + n;
                return Ok(v);
            }
        }
        let mut v: u64 = 0;
        while self.i < self.s.len() {
            let d = self.s[self.i].wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            v = match v.checked_mul(10).and_then(|v| v.checked_add(u64::from(d))) {
                Some(v) => v,
                None => return self.err("an integer below 2^64"),
            };
            self.i += 1;
        }
        if self.i == start || matches!(self.s.get(self.i), Some(b'.' | b'e' | b'E')) {
            self.i = start;
            return self.err("a non-negative integer");
        }
        Ok(v)
    }

    /// A signed integer.
    #[inline]
    pub(crate) fn i64(&mut self) -> JResult<i64> {
        let neg = self.peek() == Some(b'-');
        if neg {
            self.i += 1;
        }
        let v = self.u64()?;
        let v = i64::try_from(v).or_else(|_| self.err("an integer in the i64 range"))?;
        Ok(if neg { -v } else { v })
    }

    #[inline]
    pub(crate) fn bool(&mut self) -> JResult<bool> {
        self.ws();
        if self.s[self.i..].starts_with(b"true") {
            self.i += 4;
            Ok(true)
        } else if self.s[self.i..].starts_with(b"false") {
            self.i += 5;
            Ok(false)
        } else {
            self.err("true or false")
        }
    }

    /// Enters an object: consumes `{`.
    #[inline]
    pub(crate) fn object(&mut self) -> JResult<()> {
        self.expect(b'{', "an object")
    }

    /// The next key of the current object (consuming the `:`), or `None` after its `}`.
    /// `first` is true for the first call after [`Cursor::object`].
    #[inline]
    pub(crate) fn key(&mut self, first: bool) -> JResult<Option<&'a [u8]>> {
        match self.peek() {
            Some(b'}') => {
                self.i += 1;
                return Ok(None);
            }
            Some(b',') if !first => self.i += 1,
            Some(b'"') if first => {}
            _ => return self.err(if first { "a key or '}'" } else { "',' or '}'" }),
        }
        let k = self.string()?;
        self.expect(b':', "':'")?;
        Ok(Some(k))
    }

    /// Inside an array: true when another element follows (consuming the `,`), false after
    /// the closing `]`. `first` is true for the first call after the `[`.
    #[inline]
    pub(crate) fn more(&mut self, first: bool) -> JResult<bool> {
        match self.peek() {
            Some(b']') => {
                self.i += 1;
                Ok(false)
            }
            Some(b',') if !first => {
                self.i += 1;
                Ok(true)
            }
            Some(_) if first => Ok(true),
            _ => self.err("',' or ']'"),
        }
    }

    /// Skips one value of any type.
    pub(crate) fn skip(&mut self) -> JResult<()> {
        self.skip_depth(0)
    }

    fn skip_depth(&mut self, depth: u32) -> JResult<()> {
        if depth > MAX_DEPTH {
            return self.err("less nesting");
        }
        match self.peek() {
            Some(b'"') => self.string().map(|_| ()),
            Some(b'{') => {
                self.i += 1;
                let mut first = true;
                while self.key(first)?.is_some() {
                    first = false;
                    self.skip_depth(depth + 1)?;
                }
                Ok(())
            }
            Some(b'[') => {
                self.i += 1;
                let mut first = true;
                while self.more(first)? {
                    first = false;
                    self.skip_depth(depth + 1)?;
                }
                Ok(())
            }
            Some(b't' | b'f') => self.bool().map(|_| ()),
            Some(b'n') if self.s[self.i..].starts_with(b"null") => {
                self.i += 4;
                Ok(())
            }
            Some(b'-' | b'0'..=b'9') => self.number().map(|_| ()),
            _ => self.err("a value"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_objects_arrays_and_scalars() {
        let mut c = Cursor::new(br#" {"a": [1, {"x": null}, "s\"q"], "b": true, "c": -12} "#);
        c.object().unwrap();
        assert_eq!(c.key(true).unwrap(), Some(&b"a"[..]));
        c.skip().unwrap();
        assert_eq!(c.key(false).unwrap(), Some(&b"b"[..]));
        assert!(c.bool().unwrap());
        assert_eq!(c.key(false).unwrap(), Some(&b"c"[..]));
        assert_eq!(c.i64().unwrap(), -12);
        assert_eq!(c.key(false).unwrap(), None);
        assert!(c.at_end());
    }

    #[test]
    fn reports_truncation_instead_of_panicking() {
        for s in [
            &b"{"[..],
            b"{\"a\"",
            b"{\"a\":",
            b"{\"a\":[1,",
            b"\"abc",
            b"\"ab\\",
            b"[[[[",
            b"{\"a\":tru",
        ] {
            let mut c = Cursor::new(s);
            assert!(c.skip().is_err(), "{:?}", std::str::from_utf8(s));
        }
        let deep = "[".repeat(1000);
        assert!(Cursor::new(deep.as_bytes()).skip().is_err());
    }

    proptest::proptest! {
        #[test]
        fn integers_and_strings_scan_like_the_reference(v in proptest::num::u64::ANY, tail in "[,}\\] ]{1,3}", s in "[a-z@\\\\\"]{0,40}") {
            let text = format!("{v}{tail}");
            proptest::prop_assert_eq!(Cursor::new(text.as_bytes()).u64(), Ok(v));
            let json = serde_like_quote(&s);
            let mut c = Cursor::new(json.as_bytes());
            let raw = c.string().unwrap();
            proptest::prop_assert_eq!(raw, &json.as_bytes()[1..json.len() - 1]);
        }
    }

    /// `s` as a JSON string literal (quotes and backslashes escaped).
    fn serde_like_quote(s: &str) -> String {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    }

    #[test]
    fn integers_are_checked() {
        assert!(Cursor::new(b"18446744073709551616").u64().is_err());
        assert!(Cursor::new(b"1.5").u64().is_err());
        assert_eq!(Cursor::new(b"18446744073709551615").u64(), Ok(u64::MAX));
    }
}
