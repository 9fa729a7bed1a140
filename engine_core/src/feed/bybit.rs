//! Bybit v5 public order book stream (`orderbook.{depth}.{symbol}`), as recorded: one JSON
//! message a line, optionally prefixed by the local receive time (`<ns> <json>`, the form
//! tradecore's recorder writes).
//!
//! Book sync, per Bybit's documentation: a `snapshot` replaces the book (a `CLEAR` event, then
//! its levels); each `delta` must carry the update id `u` one above the previous message's;
//! `seq` (the cross sequence) must increase. A broken chain is a gap: counted, reported with
//! its position, and every event after it is flagged `OUT_OF_SYNC` until the next snapshot.
//! Deltas before the first snapshot are emitted flagged as well (never dropped).
//!
//! Times: `cts` (the matching engine's time) is the exchange time; the local time is the line
//! prefix when there is one, else the message's `ts` (when Bybit's system sent it), since the
//! Bybit recording format has no receive time.

use super::binance::{check_levels, levels, Gap, ParseError};
use super::capture::{keep_symbol, Decoder, LineAt};
use super::json::Cursor;
use super::CaptureReport;
use crate::event::{flags, kind, Event, ASK, BID};

const MS: i64 = 1_000_000;
const MAX_GAPS_LISTED: usize = 1_000;

/// Bybit order-book sync state.
#[derive(Debug, Default)]
pub struct BybitDecoder {
    symbol_upper: Option<Vec<u8>>,
    bids: Vec<(i64, i64)>,
    asks: Vec<(i64, i64)>,
    last_u: Option<u64>,
    last_seq: Option<u64>,
    in_sync: bool,
    snapshots: u64,
    gap_count: u64,
    unsynced_events: u64,
    gaps: Vec<Gap>,
    emitted: u64,
}

/// The fields of one message.
#[derive(Default)]
struct Fields<'a> {
    topic: Option<&'a [u8]>,
    kind: Option<&'a [u8]>,
    ts: Option<u64>,
    cts: Option<u64>,
    symbol: Option<&'a [u8]>,
    u: Option<u64>,
    seq: Option<u64>,
}

fn ms(field: &str, v: u64) -> Result<i64, String> {
    i64::try_from(v)
        .ok()
        .and_then(|v| v.checked_mul(MS))
        .ok_or_else(|| format!("{field} {v} ms is out of range"))
}

impl BybitDecoder {
    pub(crate) fn new(symbol: Option<&str>) -> Self {
        BybitDecoder {
            symbol_upper: symbol.map(|s| s.to_ascii_uppercase().into_bytes()),
            ..Self::default()
        }
    }

    fn parse<'a>(&mut self, json: &'a [u8]) -> Result<Fields<'a>, ParseError> {
        self.bids.clear();
        self.asks.clear();
        let mut f = Fields::default();
        let mut c = Cursor::new(json);
        c.object()?;
        let mut first = true;
        while let Some(k) = c.key(first)? {
            first = false;
            match k {
                b"topic" => f.topic = Some(c.string()?),
                b"type" => f.kind = Some(c.string()?),
                b"ts" => f.ts = Some(c.u64()?),
                b"cts" => f.cts = Some(c.u64()?),
                b"data" if c.peek() == Some(b'{') => {
                    c.object()?;
                    let mut first = true;
                    while let Some(k) = c.key(first)? {
                        first = false;
                        match k {
                            b"s" => f.symbol = Some(c.string()?),
                            b"u" => f.u = Some(c.u64()?),
                            b"seq" => f.seq = Some(c.u64()?),
                            b"b" => {
                                levels(&mut c, &mut self.bids, "b")?;
                                check_levels(&self.bids, "b")?;
                            }
                            b"a" => {
                                levels(&mut c, &mut self.asks, "a")?;
                                check_levels(&self.asks, "a")?;
                            }
                            _ => c.skip()?,
                        }
                    }
                }
                _ => c.skip()?,
            }
        }
        if !c.at_end() {
            return Err(ParseError(
                "malformed JSON: data after the end of the message".into(),
            ));
        }
        Ok(f)
    }

    fn gap(
        &mut self,
        at: LineAt,
        local_ts: i64,
        index: u64,
        expected: u64,
        got: u64,
        check: &'static str,
    ) {
        self.gap_count += 1;
        self.in_sync = false;
        if self.gaps.len() < MAX_GAPS_LISTED {
            self.gaps.push(Gap {
                event_index: index,
                source: at.file,
                line: at.line,
                local_ts,
                expected,
                got,
                check,
            });
        }
    }
}

impl Decoder for BybitDecoder {
    fn record(
        &mut self,
        line: &[u8],
        at: LineAt,
        report: &mut CaptureReport,
        out: &mut Vec<Event>,
    ) -> Result<(), String> {
        // An optional `<local ns> ` prefix.
        let (prefix_ts, json) = match line.iter().position(|b| *b == b' ') {
            Some(sp) if line[..sp].iter().all(u8::is_ascii_digit) && sp > 0 => {
                let ts = std::str::from_utf8(&line[..sp])
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                    .ok_or("local time prefix out of range")?;
                (Some(ts), &line[sp + 1..])
            }
            _ => (None, line),
        };
        let f = self.parse(json).map_err(|e| e.0)?;
        let topic = f.topic.ok_or("message without 'topic'")?;
        if !topic.starts_with(b"orderbook.") {
            return Err(format!(
                "topic '{}' is not an order book stream (orderbook.<depth>.<symbol>)",
                String::from_utf8_lossy(topic)
            ));
        }
        let symbol = f.symbol.ok_or("order book message without 'data.s'")?;
        if !keep_symbol(self.symbol_upper.as_deref(), symbol, report)? {
            return Ok(());
        }
        if report.venue.is_none() {
            report.venue = Some("bybit".into());
        }
        let ts = ms("ts", f.ts.ok_or("message without 'ts'")?)?;
        let u = f.u.ok_or("order book message without 'data.u'")?;
        let local_ts = prefix_ts.unwrap_or(ts);
        let base = Event {
            exch_ts: match f.cts {
                Some(cts) => ms("cts", cts)?,
                None => ts,
            },
            local_ts,
            first_update_id: u,
            last_update_id: u,
            ..Event::default()
        };
        let index = self.emitted;
        let start = out.len();
        match f.kind {
            Some(b"snapshot") => {
                self.in_sync = true;
                self.snapshots += 1;
                out.push(Event {
                    kind: kind::CLEAR,
                    ..base
                });
                push_levels(out, start, base, kind::SNAPSHOT, &self.bids, &self.asks);
            }
            Some(b"delta") => {
                if let Some(prev) = self.last_u {
                    if self.in_sync && u != prev + 1 {
                        self.gap(at, local_ts, index, prev + 1, u, "u");
                    }
                }
                if let (Some(prev), Some(seq)) = (self.last_seq, f.seq) {
                    if self.in_sync && seq <= prev {
                        self.gap(at, local_ts, index, prev + 1, seq, "seq");
                    }
                }
                push_levels(out, start, base, kind::DEPTH, &self.bids, &self.asks);
                if !self.in_sync {
                    for e in &mut out[start..] {
                        e.flags |= flags::OUT_OF_SYNC;
                    }
                    self.unsynced_events += (out.len() - start) as u64;
                }
            }
            Some(other) => {
                return Err(format!(
                    "type '{}' is not snapshot or delta",
                    String::from_utf8_lossy(other)
                ))
            }
            None => return Err("message without 'type'".into()),
        }
        self.last_u = Some(u);
        if f.seq.is_some() {
            self.last_seq = f.seq;
        }
        self.emitted += (out.len() - start) as u64;
        report.records += 1;
        report.widen_local(local_ts);
        Ok(())
    }

    fn finish(&mut self, _out: &mut Vec<Event>) {}

    fn sync_report(&self, report: &mut CaptureReport) {
        report.sync.snapshots = self.snapshots;
        report.sync.gap_count = self.gap_count;
        report.sync.unsynced_events = self.unsynced_events;
        report.gaps.clone_from(&self.gaps);
    }
}

/// One event per level (bids, then asks); the message's last event (from `start`) is flagged
/// `LAST_IN_MESSAGE`.
fn push_levels(
    out: &mut Vec<Event>,
    start: usize,
    base: Event,
    kind: u8,
    bids: &[(i64, i64)],
    asks: &[(i64, i64)],
) {
    for (side, list) in [(BID, bids), (ASK, asks)] {
        out.extend(list.iter().map(|&(price, qty)| Event {
            price,
            qty,
            kind,
            side,
            ..base
        }));
    }
    if let Some(last) = out.get_mut(start..).and_then(<[Event]>::last_mut) {
        last.flags |= flags::LAST_IN_MESSAGE;
    }
}
