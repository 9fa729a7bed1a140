//! Tardis.dev CSV files (`incremental_book_L2`, `trades`, `book_snapshot_N`), read into the
//! normalized events. Tardis normalises every venue to these layouts; times are µs since the
//! epoch (`timestamp` from the exchange, `local_timestamp` on receipt).
//!
//! - `incremental_book_L2`: one row per level; rows with the same times and `is_snapshot` form
//!   one exchange message (the last one is flagged `LAST_IN_MESSAGE`). Each snapshot
//!   message starts with a `CLEAR` event: the book is rebuilt from it. Tardis publishes no
//!   sequence ids, so gaps cannot be checked in these files.
//! - `trades`: one `TRADE` event per row; `side` is the aggressor (`buy` -> bid). A trade id
//!   that is not an integer (some venues use UUIDs) is stored as 0.
//! - `book_snapshot_N`: each row is the top N levels: a `CLEAR` and one `SNAPSHOT` event per
//!   level present (empty cells are absent levels).

use super::capture::{keep_symbol, Decoder, LineAt};
use super::CaptureReport;
use crate::event::{flags, kind, Event, ASK, BID};
use crate::fixed;

/// Which Tardis data type a file holds (from its header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TardisKind {
    /// `incremental_book_L2`.
    IncrementalBookL2,
    /// `trades`.
    Trades,
    /// `book_snapshot_N`, with N levels a side.
    BookSnapshot(usize),
}

impl TardisKind {
    /// The format name, e.g. `tardis:trades`.
    pub fn name(&self) -> String {
        match self {
            TardisKind::IncrementalBookL2 => "tardis:incremental_book_L2".into(),
            TardisKind::Trades => "tardis:trades".into(),
            TardisKind::BookSnapshot(n) => format!("tardis:book_snapshot_{n}"),
        }
    }

    /// The data type of a header line, if it is a Tardis CSV header this reader knows.
    pub fn from_header(header: &[u8]) -> Result<TardisKind, String> {
        let cols: Vec<&[u8]> = header.split(|b| *b == b',').collect();
        if cols.len() < 4
            || cols[..4]
                != [
                    &b"exchange"[..],
                    b"symbol",
                    b"timestamp",
                    b"local_timestamp",
                ]
        {
            return Err(
                "not a Tardis CSV header (exchange,symbol,timestamp,local_timestamp,...)".into(),
            );
        }
        let rest = &cols[4..];
        if rest == [&b"is_snapshot"[..], b"side", b"price", b"amount"] {
            return Ok(TardisKind::IncrementalBookL2);
        }
        if rest == [&b"id"[..], b"side", b"price", b"amount"] {
            return Ok(TardisKind::Trades);
        }
        if !rest.is_empty() && rest.len() % 4 == 0 {
            let n = rest.len() / 4;
            let expected = (0..n).all(|i| {
                let want = |side: &str, what: &str| format!("{side}[{i}].{what}");
                rest[4 * i] == want("asks", "price").as_bytes()
                    && rest[4 * i + 1] == want("asks", "amount").as_bytes()
                    && rest[4 * i + 2] == want("bids", "price").as_bytes()
                    && rest[4 * i + 3] == want("bids", "amount").as_bytes()
            });
            if expected {
                return Ok(TardisKind::BookSnapshot(n));
            }
        }
        Err(format!(
            "unsupported Tardis data type (columns after local_timestamp: {}); supported: incremental_book_L2, trades, book_snapshot_N",
            String::from_utf8_lossy(&header[header.len().min(header.iter().position(|b| *b == b'l').unwrap_or(0))..])
        ))
    }
}

/// Reads one Tardis CSV data type.
#[derive(Debug)]
pub struct TardisDecoder {
    kind: TardisKind,
    symbol_upper: Option<Vec<u8>>,
    /// The last level row, held back until the next row tells whether it ends its message.
    held: Option<Event>,
    /// Times and snapshot bit of the held row's message.
    held_key: (i64, i64, bool),
    snapshots: u64,
    cols: Vec<(usize, usize)>,
}

fn micros(field: &str, raw: &[u8]) -> Result<i64, String> {
    std::str::from_utf8(raw)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .and_then(|us| us.checked_mul(1_000))
        .ok_or_else(|| format!("{field} '{}' is not a time in µs", show(raw)))
}

/// A price or an amount: a decimal that must not be negative.
fn decimal(field: &str, raw: &[u8]) -> Result<i64, String> {
    let v = fixed::parse_decimal(raw).map_err(|e| format!("{field} '{}': {e}", show(raw)))?;
    if v < 0 {
        return Err(format!("{field} {} is negative", show(raw)));
    }
    Ok(v)
}

fn show(raw: &[u8]) -> String {
    String::from_utf8_lossy(&raw[..raw.len().min(40)]).into_owned()
}

impl TardisDecoder {
    pub(crate) fn new(kind: TardisKind, symbol: Option<&str>) -> Self {
        TardisDecoder {
            kind,
            symbol_upper: symbol.map(|s| s.to_ascii_uppercase().into_bytes()),
            held: None,
            held_key: (0, 0, false),
            snapshots: 0,
            cols: Vec::with_capacity(128),
        }
    }

    /// Splits `line` into `self.cols` (start, end) pairs.
    fn split(&mut self, line: &[u8]) {
        self.cols.clear();
        let mut start = 0;
        for i in memchr::memchr_iter(b',', line) {
            self.cols.push((start, i));
            start = i + 1;
        }
        self.cols.push((start, line.len()));
    }

    fn release(&mut self, out: &mut Vec<Event>, last: bool) {
        if let Some(mut e) = self.held.take() {
            if last {
                e.flags |= flags::LAST_IN_MESSAGE;
            }
            out.push(e);
        }
    }

    fn level_row(&mut self, line: &[u8], base: Event, out: &mut Vec<Event>) -> Result<(), String> {
        let col = |i: usize| &line[self.cols[i].0..self.cols[i].1];
        let snapshot = match col(4) {
            b"true" => true,
            b"false" => false,
            other => {
                return Err(format!(
                    "is_snapshot '{}' is not true or false",
                    show(other)
                ))
            }
        };
        let side = match col(5) {
            b"bid" => BID,
            b"ask" => ASK,
            other => return Err(format!("side '{}' is not bid or ask", show(other))),
        };
        let price = decimal("price", col(6))?;
        let qty = decimal("amount", col(7))?;
        let key = (base.exch_ts, base.local_ts, snapshot);
        let new_message = self.held.is_none() || key != self.held_key;
        self.release(out, new_message);
        // Each snapshot message rebuilds the book from empty.
        if snapshot && new_message {
            out.push(Event {
                kind: kind::CLEAR,
                ..base
            });
            self.snapshots += 1;
        }
        self.held_key = key;
        self.held = Some(Event {
            kind: if snapshot {
                kind::SNAPSHOT
            } else {
                kind::DEPTH
            },
            side,
            price,
            qty,
            ..base
        });
        Ok(())
    }

    fn trade_row(&mut self, line: &[u8], base: Event, out: &mut Vec<Event>) -> Result<(), String> {
        let col = |i: usize| &line[self.cols[i].0..self.cols[i].1];
        let side = match col(5) {
            b"buy" => BID,
            b"sell" => ASK,
            b"unknown" | b"" => 0,
            other => {
                return Err(format!(
                    "side '{}' is not buy, sell or unknown",
                    show(other)
                ))
            }
        };
        out.push(Event {
            kind: kind::TRADE,
            side,
            price: decimal("price", col(6))?,
            qty: decimal("amount", col(7))?,
            trade_id: std::str::from_utf8(col(4))
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
            flags: flags::LAST_IN_MESSAGE,
            ..base
        });
        Ok(())
    }

    fn snapshot_row(
        &mut self,
        line: &[u8],
        base: Event,
        n: usize,
        out: &mut Vec<Event>,
    ) -> Result<(), String> {
        let start = out.len();
        out.push(Event {
            kind: kind::CLEAR,
            ..base
        });
        for (side, offset, name) in [(BID, 2, "bids"), (ASK, 0, "asks")] {
            for i in 0..n {
                let c = 4 + 4 * i + offset;
                let (p, q) = (
                    &line[self.cols[c].0..self.cols[c].1],
                    &line[self.cols[c + 1].0..self.cols[c + 1].1],
                );
                if p.is_empty() && q.is_empty() {
                    continue;
                }
                let level = decimal("price", p).and_then(|p| Ok((p, decimal("amount", q)?)));
                let (price, qty) = match level {
                    Ok(level) => level,
                    Err(e) => {
                        out.truncate(start);
                        return Err(format!("{name}[{i}] {e}"));
                    }
                };
                out.push(Event {
                    kind: kind::SNAPSHOT,
                    side,
                    price,
                    qty,
                    ..base
                });
            }
        }
        if let Some(last) = out.last_mut() {
            last.flags |= flags::LAST_IN_MESSAGE;
        }
        self.snapshots += 1;
        Ok(())
    }
}

impl Decoder for TardisDecoder {
    fn record(
        &mut self,
        line: &[u8],
        at: LineAt,
        report: &mut CaptureReport,
        out: &mut Vec<Event>,
    ) -> Result<(), String> {
        if line.starts_with(b"exchange,") {
            let kind = TardisKind::from_header(line)?;
            if kind != self.kind {
                return Err(format!(
                    "file holds {} but the stream started as {}",
                    kind.name(),
                    self.kind.name()
                ));
            }
            if at.line != 1 {
                return Err("header line in the middle of a file".into());
            }
            return Ok(());
        }
        self.split(line);
        let want = match self.kind {
            TardisKind::IncrementalBookL2 | TardisKind::Trades => 8,
            TardisKind::BookSnapshot(n) => 4 + 4 * n,
        };
        if self.cols.len() != want {
            return Err(format!(
                "{} columns where the header has {want}",
                self.cols.len()
            ));
        }
        let col = |i: usize| &line[self.cols[i].0..self.cols[i].1];
        let symbol = col(1);
        if !keep_symbol(self.symbol_upper.as_deref(), symbol, report)? {
            return Ok(());
        }
        if report.venue.is_none() {
            report.venue = Some(String::from_utf8_lossy(col(0)).into_owned());
        }
        let base = Event {
            exch_ts: micros("timestamp", col(2))?,
            local_ts: micros("local_timestamp", col(3))?,
            ..Event::default()
        };
        report.records += 1;
        report.widen_local(base.local_ts);
        match self.kind {
            TardisKind::IncrementalBookL2 => self.level_row(line, base, out),
            TardisKind::Trades => self.trade_row(line, base, out),
            TardisKind::BookSnapshot(n) => self.snapshot_row(line, base, n, out),
        }
    }

    fn finish(&mut self, out: &mut Vec<Event>) {
        self.release(out, true);
    }

    fn sync_report(&self, report: &mut CaptureReport) {
        report.sync.snapshots = self.snapshots;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_name_the_data_type() {
        assert_eq!(
            TardisKind::from_header(
                b"exchange,symbol,timestamp,local_timestamp,id,side,price,amount"
            ),
            Ok(TardisKind::Trades)
        );
        assert_eq!(
            TardisKind::from_header(
                b"exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount"
            ),
            Ok(TardisKind::IncrementalBookL2)
        );
        assert_eq!(
            TardisKind::from_header(b"exchange,symbol,timestamp,local_timestamp,asks[0].price,asks[0].amount,bids[0].price,bids[0].amount,asks[1].price,asks[1].amount,bids[1].price,bids[1].amount"),
            Ok(TardisKind::BookSnapshot(2))
        );
        let err = TardisKind::from_header(
            b"exchange,symbol,timestamp,local_timestamp,bid_price,bid_amount",
        )
        .unwrap_err();
        assert!(err.contains("unsupported Tardis data type"), "{err}");
        assert!(TardisKind::from_header(b"a,b,c").is_err());
    }
}
