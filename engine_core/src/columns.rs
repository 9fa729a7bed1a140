//! Events as columns (one vector per field, the layout of Arrow and Parquet) and back: the
//! transposition between the record layout of [`Event`] and a columnar store, in one pass.

use crate::error::{Error, Result};
use crate::event::Event;

/// Borrowed columns, one slice per field of [`Event`], all of the same length.
#[derive(Debug, Clone, Copy)]
pub struct Columns<'a> {
    pub exch_ts: &'a [i64],
    pub local_ts: &'a [i64],
    pub price: &'a [i64],
    pub qty: &'a [i64],
    pub first_update_id: &'a [u64],
    pub last_update_id: &'a [u64],
    pub trade_id: &'a [u64],
    pub instrument: &'a [u32],
    pub flags: &'a [u16],
    pub kind: &'a [u8],
    pub side: &'a [i8],
}

impl Columns<'_> {
    /// The common length; an error naming the first column whose length differs.
    pub fn len(&self) -> Result<usize> {
        let n = self.exch_ts.len();
        let lens = [
            ("local_ts", self.local_ts.len()),
            ("price", self.price.len()),
            ("qty", self.qty.len()),
            ("first_update_id", self.first_update_id.len()),
            ("last_update_id", self.last_update_id.len()),
            ("trade_id", self.trade_id.len()),
            ("instrument", self.instrument.len()),
            ("flags", self.flags.len()),
            ("kind", self.kind.len()),
            ("side", self.side.len()),
        ];
        for (name, len) in lens {
            if len != n {
                return Err(Error::invalid(
                    "columns",
                    format!("{name} of length {len}"),
                    format!("every column must have the length of exch_ts ({n})"),
                ));
            }
        }
        Ok(n)
    }

    /// True when the columns are empty.
    pub fn is_empty(&self) -> bool {
        self.exch_ts.is_empty()
    }

    /// Appends the events to `out`; `instrument` replaces the stored instrument field.
    pub fn gather(&self, instrument: Option<u32>, out: &mut Vec<Event>) -> Result<()> {
        let n = self.len()?;
        out.reserve(n);
        out.extend((0..n).map(|i| self.event(i, instrument)));
        Ok(())
    }

    /// Writes the events at the start of `out` (which must have room); returns how many.
    pub fn gather_into(&self, instrument: Option<u32>, out: &mut [Event]) -> Result<usize> {
        let n = self.len()?;
        let Some(dst) = out.get_mut(..n) else {
            return Err(Error::invalid(
                "out",
                format!("room for {} events", out.len()),
                format!("{n} events to write"),
            ));
        };
        for (i, slot) in dst.iter_mut().enumerate() {
            *slot = self.event(i, instrument);
        }
        Ok(n)
    }

    #[inline(always)]
    fn event(&self, i: usize, instrument: Option<u32>) -> Event {
        Event {
            exch_ts: self.exch_ts[i],
            local_ts: self.local_ts[i],
            price: self.price[i],
            qty: self.qty[i],
            first_update_id: self.first_update_id[i],
            last_update_id: self.last_update_id[i],
            trade_id: self.trade_id[i],
            instrument: instrument.unwrap_or(self.instrument[i]),
            flags: self.flags[i],
            kind: self.kind[i],
            side: self.side[i],
        }
    }
}

/// Owned columns (see [`Columns`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnedColumns {
    pub exch_ts: Vec<i64>,
    pub local_ts: Vec<i64>,
    pub price: Vec<i64>,
    pub qty: Vec<i64>,
    pub first_update_id: Vec<u64>,
    pub last_update_id: Vec<u64>,
    pub trade_id: Vec<u64>,
    pub instrument: Vec<u32>,
    pub flags: Vec<u16>,
    pub kind: Vec<u8>,
    pub side: Vec<i8>,
}

impl OwnedColumns {
    /// The columns of `events`.
    pub fn scatter(events: &[Event]) -> Self {
        fn col<T>(events: &[Event], f: impl Fn(&Event) -> T) -> Vec<T> {
            events.iter().map(f).collect()
        }
        OwnedColumns {
            exch_ts: col(events, |e| e.exch_ts),
            local_ts: col(events, |e| e.local_ts),
            price: col(events, |e| e.price),
            qty: col(events, |e| e.qty),
            first_update_id: col(events, |e| e.first_update_id),
            last_update_id: col(events, |e| e.last_update_id),
            trade_id: col(events, |e| e.trade_id),
            instrument: col(events, |e| e.instrument),
            flags: col(events, |e| e.flags),
            kind: col(events, |e| e.kind),
            side: col(events, |e| e.side),
        }
    }

    /// Borrowed view.
    pub fn view(&self) -> Columns<'_> {
        Columns {
            exch_ts: &self.exch_ts,
            local_ts: &self.local_ts,
            price: &self.price,
            qty: &self.qty,
            first_update_id: &self.first_update_id,
            last_update_id: &self.last_update_id,
            trade_id: &self.trade_id,
            instrument: &self.instrument,
            flags: &self.flags,
            kind: &self.kind,
            side: &self.side,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scatter_then_gather_is_the_identity() {
        let events: Vec<Event> = (0..100)
            .map(|i| Event {
                exch_ts: i * 7,
                local_ts: i * 11,
                price: -i,
                qty: i << 40,
                first_update_id: i as u64,
                last_update_id: u64::MAX - i as u64,
                trade_id: 3,
                instrument: i as u32,
                flags: i as u16,
                kind: (i % 6) as u8,
                side: (i % 3 - 1) as i8,
            })
            .collect();
        let cols = OwnedColumns::scatter(&events);
        let mut back = Vec::new();
        cols.view().gather(None, &mut back).unwrap();
        assert_eq!(back, events);
        let mut tagged = Vec::new();
        cols.view().gather(Some(9), &mut tagged).unwrap();
        assert!(tagged.iter().all(|e| e.instrument == 9));
        let mut slots = vec![Event::default(); 120];
        assert_eq!(cols.view().gather_into(None, &mut slots).unwrap(), 100);
        assert_eq!(&slots[..100], &events[..]);
        assert!(cols.view().gather_into(None, &mut slots[..99]).is_err());
        let mut short = cols.clone();
        short.flags.pop();
        let err = short.view().len().unwrap_err().to_string();
        assert!(err.contains("flags of length 99"), "{err}");
    }
}
