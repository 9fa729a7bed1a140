//! One side of the L2 book, keyed by tick index, with "better" meaning "greater key" (bids use
//! the tick index, asks its negation), so both sides share one implementation.
//!
//! Shape, chosen by measuring real Binance data (see `benches/rust/book.rs`): on the USD-M
//! BTCUSDT depth stream the median update lands ~300 levels below the top and 37% of updates
//! insert or remove a level. A sorted vector pays a memmove of hundreds of levels for those
//! (~100 ns/update measured) and a `BTreeMap` pays pointer chasing. Here:
//!
//! - a dense window of `WINDOW` ticks (a quantity slot per tick, plus an occupancy bitmap)
//!   holds the region around the top of the book: set / remove are O(1) array writes;
//! - the best level is cached; when it is removed, the next one is found through the bitmap
//!   (64 ticks per word);
//! - levels outside the window (a bid at 1,000 when the market is at 60,000) live in a
//!   `BTreeMap` overflow, always *below* the window (worse than every window level);
//! - when the top of the book leaves the window, the window is re-centred (rare: it moves by a
//!   quarter of the window, thousands of ticks, between re-centres).

use std::collections::BTreeMap;

/// Ticks covered by the dense window.
const WINDOW: usize = 1 << 15;
const WORDS: usize = WINDOW / 64;
/// Where the best level is placed when the window is (re-)centred: 3/4 up, leaving room for
/// the book to improve and plenty of depth below.
const ANCHOR: i64 = (WINDOW as i64 * 3) / 4;
/// Re-centre when the best level falls below this slot.
const LOW_WATER: usize = WINDOW / 4;

#[derive(Debug, Clone, Default)]
pub(crate) struct Ladder {
    /// Key of slot 0.
    base: i64,
    /// Quantity per slot (0 = no level). Empty until the first level arrives.
    qty: Vec<i64>,
    /// Occupancy bitmap of `qty`.
    bits: Vec<u64>,
    /// Levels in the window.
    in_window: usize,
    /// Highest occupied slot.
    best: Option<usize>,
    /// Levels below the window.
    over: BTreeMap<i64, i64>,
}

impl Ladder {
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.in_window + self.over.len()
    }

    pub(crate) fn clear(&mut self) {
        for w in 0..self.bits.len() {
            let mut word = self.bits[w];
            while word != 0 {
                let b = word.trailing_zeros() as usize;
                self.qty[w * 64 + b] = 0;
                word &= word - 1;
            }
            self.bits[w] = 0;
        }
        self.in_window = 0;
        self.best = None;
        self.over.clear();
    }

    #[inline]
    fn slot(&self, key: i64) -> Option<usize> {
        let pos = key.wrapping_sub(self.base) as u64;
        (pos < WINDOW as u64 && !self.qty.is_empty()).then_some(pos as usize)
    }

    /// Highest occupied slot strictly below `pos`.
    #[inline]
    fn prev_occupied(&self, pos: usize) -> Option<usize> {
        let mut w = pos / 64;
        let below = pos % 64;
        let mut word = if below == 0 {
            0
        } else {
            self.bits[w] & ((1u64 << below) - 1)
        };
        loop {
            if word != 0 {
                return Some(w * 64 + 63 - word.leading_zeros() as usize);
            }
            if w == 0 {
                return None;
            }
            w -= 1;
            word = self.bits[w];
        }
    }

    /// Sets the level at `key` to `qty`; a zero quantity removes it (a no-op if absent).
    #[inline]
    pub(crate) fn set(&mut self, key: i64, qty: i64) {
        if let Some(p) = self.slot(key) {
            let old = std::mem::replace(&mut self.qty[p], qty);
            match (old != 0, qty != 0) {
                (false, true) => {
                    self.bits[p / 64] |= 1 << (p % 64);
                    self.in_window += 1;
                    if self.best.is_none_or(|b| p > b) {
                        self.best = Some(p);
                    }
                }
                (true, false) => {
                    self.bits[p / 64] &= !(1 << (p % 64));
                    self.in_window -= 1;
                    if self.best == Some(p) {
                        self.best = self.prev_occupied(p);
                        if self.best.is_none_or(|b| b < LOW_WATER) {
                            self.recentre();
                        }
                    }
                }
                _ => {}
            }
        } else {
            self.set_outside(key, qty);
        }
    }

    #[cold]
    fn set_outside(&mut self, key: i64, qty: i64) {
        if qty == 0 {
            self.over.remove(&key);
            return;
        }
        self.over.insert(key, qty);
        // The overflow must stay below the window: a level above it (or any level while the
        // window is empty) means the top of the book moved out, so the window follows it.
        if self.qty.is_empty() || key >= self.base || self.in_window == 0 {
            self.recentre();
        }
    }

    /// Moves the window so the best level sits at `ANCHOR`, redistributing every level.
    #[cold]
    fn recentre(&mut self) {
        let Some(best_key) = self.best_key() else {
            return;
        };
        if self.qty.is_empty() {
            self.qty = vec![0; WINDOW];
            self.bits = vec![0; WORDS];
        }
        let mut all: Vec<(i64, i64)> = self.over.iter().map(|(k, q)| (*k, *q)).collect();
        for (w, &word) in self.bits.iter().enumerate() {
            let mut word = word;
            while word != 0 {
                let p = w * 64 + word.trailing_zeros() as usize;
                all.push((self.base + p as i64, self.qty[p]));
                word &= word - 1;
            }
        }
        self.clear();
        self.base = best_key.saturating_sub(ANCHOR);
        for (k, q) in all {
            if let Some(p) = self.slot(k) {
                self.qty[p] = q;
                self.bits[p / 64] |= 1 << (p % 64);
                self.in_window += 1;
            } else {
                self.over.insert(k, q);
            }
        }
        self.best = self.prev_occupied(WINDOW);
    }

    fn best_key(&self) -> Option<i64> {
        let window = self.best.map(|p| self.base + p as i64);
        let over = self.over.keys().next_back().copied();
        window.max(over)
    }

    /// Quantity at `key`, 0 when absent.
    pub(crate) fn get(&self, key: i64) -> i64 {
        match self.slot(key) {
            Some(p) => self.qty[p],
            None => self.over.get(&key).copied().unwrap_or(0),
        }
    }

    /// Best level as (key, qty).
    #[inline]
    pub(crate) fn best(&self) -> Option<(i64, i64)> {
        match self.best {
            Some(p) => Some((self.base + p as i64, self.qty[p])),
            None => self.over.iter().next_back().map(|(k, q)| (*k, *q)),
        }
    }

    /// Levels from the best outwards, as (key, qty).
    pub(crate) fn iter_from_best(&self) -> Iter<'_> {
        Iter {
            ladder: self,
            next: self.best,
            below: None,
        }
    }
}

/// Iterator over a ladder from the best level outwards: the window through its bitmap, then
/// the overflow (which only ever holds levels below the window, see `set_outside`).
pub(crate) struct Iter<'a> {
    ladder: &'a Ladder,
    next: Option<usize>,
    below: Option<std::iter::Rev<std::collections::btree_map::Range<'a, i64, i64>>>,
}

impl Iterator for Iter<'_> {
    type Item = (i64, i64);

    #[inline]
    fn next(&mut self) -> Option<(i64, i64)> {
        let l = self.ladder;
        if let Some(p) = self.next {
            self.next = l.prev_occupied(p);
            return Some((l.base + p as i64, l.qty[p]));
        }
        let below = self
            .below
            .get_or_insert_with(|| l.over.range(..l.base).rev());
        below.next().map(|(k, q)| (*k, *q))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(l: &Ladder) -> Vec<(i64, i64)> {
        l.iter_from_best().collect()
    }

    #[test]
    fn zero_removes_and_absent_removal_is_a_no_op() {
        let mut l = Ladder::default();
        l.set(5, 10);
        l.set(7, 3);
        l.set(6, 0);
        assert_eq!(l.len(), 2);
        l.set(7, 0);
        assert_eq!(l.best(), Some((5, 10)));
        assert_eq!(l.get(7), 0);
        assert_eq!(levels(&l), vec![(5, 10)]);
    }

    #[test]
    fn far_levels_overflow_and_the_window_follows_the_top() {
        let mut l = Ladder::default();
        l.set(600_000, 1);
        l.set(10_000, 2); // far below: overflow
        l.set(599_990, 3);
        assert_eq!(levels(&l), vec![(600_000, 1), (599_990, 3), (10_000, 2)]);
        // The market runs up far beyond the window: the window re-centres.
        l.set(700_000, 4);
        assert_eq!(l.best(), Some((700_000, 4)));
        assert_eq!(
            levels(&l),
            vec![(700_000, 4), (600_000, 1), (599_990, 3), (10_000, 2)]
        );
        // Remove the top repeatedly: the best walks down through window and overflow.
        l.set(700_000, 0);
        assert_eq!(l.best(), Some((600_000, 1)));
        l.set(600_000, 0);
        l.set(599_990, 0);
        assert_eq!(l.best(), Some((10_000, 2)));
        assert_eq!(l.len(), 1);
        l.set(10_000, 0);
        assert_eq!(l.best(), None);
        assert_eq!(l.len(), 0);
        l.set(-5, 1); // negative keys (asks) work the same
        assert_eq!(levels(&l), vec![(-5, 1)]);
    }

    #[test]
    fn clear_empties_everything() {
        let mut l = Ladder::default();
        for k in 0..100 {
            l.set(k * 1000, 1);
        }
        l.clear();
        assert_eq!(l.len(), 0);
        assert_eq!(l.best(), None);
        assert!(l.qty.iter().all(|q| *q == 0));
    }
}
