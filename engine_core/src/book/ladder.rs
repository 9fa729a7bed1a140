//! One side of the L2 book: price levels in two parallel sorted vectors (keys, quantities),
//! ordered so that the best level is the *last* element.
//!
//! Why this shape: on real feeds most updates hit the top of the book, so the position is
//! found by galloping from the end (O(log d) for a level d places from the top) and inserts or
//! removals move only the d elements above it. Keys live apart from quantities so the search
//! touches one dense array. Measured against a `BTreeMap` book in `benches/book.rs`.

/// Sorted price levels; `key` is the price for bids and minus the price for asks, so that
/// for both sides "better" means "greater key" and the best level is last.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ladder {
    keys: Vec<i64>,
    qtys: Vec<i64>,
}

impl Ladder {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Ladder { keys: Vec::with_capacity(n), qtys: Vec::with_capacity(n) }
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    #[inline]
    pub(crate) fn clear(&mut self) {
        self.keys.clear();
        self.qtys.clear();
    }

    /// `Ok(index)` of `key`, or `Err(index)` where it would be inserted.
    #[inline]
    fn find(&self, key: i64) -> Result<usize, usize> {
        let keys = &self.keys[..];
        let n = keys.len();
        // Gallop down from the top of the book: 1, 2, 4, ... levels below the best.
        let mut bound = 1usize;
        while bound <= n && keys[n - bound] > key {
            bound <<= 1;
        }
        let lo = n.saturating_sub(bound);
        // keys[n - bound/2] > key is known, so the answer lies in lo..=n - bound/2.
        let hi = n - (bound >> 1);
        match keys[lo..hi].binary_search(&key) {
            Ok(i) => Ok(lo + i),
            Err(i) => Err(lo + i),
        }
    }

    /// Sets the level at `key` to `qty`; a zero quantity removes it (a no-op if absent).
    #[inline]
    pub(crate) fn set(&mut self, key: i64, qty: i64) {
        match self.find(key) {
            Ok(i) => {
                if qty == 0 {
                    self.keys.remove(i);
                    self.qtys.remove(i);
                } else {
                    self.qtys[i] = qty;
                }
            }
            Err(i) => {
                if qty != 0 {
                    self.keys.insert(i, key);
                    self.qtys.insert(i, qty);
                }
            }
        }
    }

    /// Quantity at `key`, 0 when absent.
    pub(crate) fn get(&self, key: i64) -> i64 {
        self.find(key).map_or(0, |i| self.qtys[i])
    }

    /// Best level as (key, qty).
    #[inline]
    pub(crate) fn best(&self) -> Option<(i64, i64)> {
        Some((*self.keys.last()?, *self.qtys.last()?))
    }

    /// Levels from the best outwards, as (key, qty).
    pub(crate) fn iter_from_best(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.keys.iter().rev().copied().zip(self.qtys.iter().rev().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_agrees_with_binary_search_for_every_size_and_key() {
        for n in 0..70 {
            let mut l = Ladder::default();
            for k in 0..n {
                l.set(k * 2, 1);
            }
            for key in -1..=(n * 2 + 1) {
                assert_eq!(l.find(key), l.keys.binary_search(&key), "n={n} key={key}");
            }
        }
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
    }
}
