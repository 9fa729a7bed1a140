//! A fixed-capacity ring of the last `n` values (the window of a rolling indicator).

/// The last `capacity` values pushed, oldest first.
#[derive(Debug, Clone)]
pub struct Ring {
    buf: Vec<f64>,
    head: usize,
    len: usize,
}

impl Ring {
    /// An empty ring holding up to `capacity` (>= 1) values.
    pub fn new(capacity: usize) -> Self {
        Ring {
            buf: vec![0.0; capacity.max(1)],
            head: 0,
            len: 0,
        }
    }

    /// Values held.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing was pushed yet.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True once `capacity` values are held.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.len == self.buf.len()
    }

    /// Pushes `x`; returns the value it pushed out when the ring was full.
    #[inline(always)]
    pub fn push(&mut self, x: f64) -> Option<f64> {
        let cap = self.buf.len();
        if self.len < cap {
            // head is 0 until the ring is full.
            self.buf[self.len] = x;
            self.len += 1;
            None
        } else {
            let old = std::mem::replace(&mut self.buf[self.head], x);
            self.head += 1;
            if self.head == cap {
                self.head = 0;
            }
            Some(old)
        }
    }

    /// The oldest value held.
    #[inline]
    pub fn oldest(&self) -> Option<f64> {
        (self.len > 0).then(|| self.buf[self.head])
    }

    /// Values from the oldest to the newest.
    pub fn iter(&self) -> impl Iterator<Item = f64> + '_ {
        let (newer, older) = self.buf[..self.len].split_at(self.head);
        older.iter().chain(newer).copied()
    }

    /// Forgets every value.
    pub fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }
}

/// The maximum (or minimum) of the last `n` values, amortised O(1) per update (a monotonic
/// queue of candidates).
#[derive(Debug, Clone)]
pub struct RollingExtreme {
    n: u64,
    /// (index, value), values decreasing (for a maximum) from the front.
    queue: std::collections::VecDeque<(u64, f64)>,
    next: u64,
    max: bool,
}

impl RollingExtreme {
    /// Rolling maximum (`max = true`) or minimum of the last `n` (>= 1) values.
    pub fn new(n: usize, max: bool) -> Self {
        RollingExtreme {
            n: n.max(1) as u64,
            queue: std::collections::VecDeque::with_capacity(n.max(1) + 1),
            next: 0,
            max,
        }
    }

    /// Pushes `x`; returns the extreme of the window ending with it.
    #[inline(always)]
    pub fn push(&mut self, x: f64) -> f64 {
        let dominated = |v: f64| if self.max { v <= x } else { v >= x };
        while self.queue.back().is_some_and(|&(_, v)| dominated(v)) {
            self.queue.pop_back();
        }
        self.queue.push_back((self.next, x));
        self.next += 1;
        while self
            .queue
            .front()
            .is_some_and(|&(i, _)| i + self.n < self.next)
        {
            self.queue.pop_front();
        }
        self.queue.front().map_or(x, |&(_, v)| v)
    }

    /// Values pushed so far.
    pub fn count(&self) -> u64 {
        self.next
    }
}
