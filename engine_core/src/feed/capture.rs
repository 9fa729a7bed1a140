//! Recorded market data reader: replays line-oriented recordings (gzip, zip or plain text,
//! several consecutive files as one stream) into normalized events, in chunks. The format is
//! recognised from the first line:
//!
//! - Binance raw captures (`<local_receive_time> <raw JSON>`): through the Binance parser and
//!   book-sync state machine ([`super::binance`]);
//! - Tardis.dev CSV (`incremental_book_L2`, `trades`, `book_snapshot_N`; [`super::tardis`]);
//! - Bybit order book streams (`{"topic":"orderbook...`; [`super::bybit`]).
//!
//! Memory is bounded by the chunk size (plus one message and the sync buffer), not by the
//! length of the input. Local timestamps are detected per line from their magnitude (ns, µs
//! or ms since the epoch), never assumed.
//!
//! Checks on every line (an error naming file and line; in lenient mode the line is counted
//! under its reason in [`CaptureReport::skipped`] and skipped): a stream the parser does not
//! read, malformed data, a negative quantity or price, and (Binance captures) a timestamp
//! running backwards by more than [`BACKWARDS_TOLERANCE_NS`] within a file: the local receive
//! time against the latest one before it, and the exchange time of each kind of message
//! against the latest of that kind (exchange clocks of different streams may be stamped at
//! different stages, so they are not compared with each other; REST snapshots are not
//! checked). A file with no data line is an error too.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::binance::{BookSync, Gap, Market, MsgKind, Origin, Parser, SyncConfig, SyncStats};
use super::bybit::BybitDecoder;
use super::tardis::{TardisDecoder, TardisKind};
use crate::error::{Error, Location, Result};
use crate::event::Event;

/// How far a timestamp may run backwards within a file before the line is an error: 1 s.
/// Binance stamps a stream's messages in order; a recorder writes lines in the order it
/// received them. Small inversions (a thread handing over a message late) are tolerated, a
/// clock step or spliced files are not.
pub const BACKWARDS_TOLERANCE_NS: i64 = 1_000_000_000;

/// How to read a capture.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Keep only this symbol's messages (case-insensitive); others are counted and skipped.
    /// Without it, a capture that mixes symbols is an error.
    pub symbol: Option<String>,
    /// Count and skip bad lines instead of failing on the first one.
    pub lenient: bool,
    /// Book-sync buffer limits.
    pub sync: SyncConfig,
    /// Refuse any other recording format than this one (`binance`, `tardis`, `bybit`, or a
    /// full name such as `tardis:trades`).
    pub format: Option<String>,
}

/// The unit a file's local timestamps were written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsUnit {
    /// Nanoseconds since the epoch.
    Ns,
    /// Microseconds since the epoch.
    Us,
    /// Milliseconds since the epoch.
    Ms,
}

impl TsUnit {
    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            TsUnit::Ns => "ns",
            TsUnit::Us => "us",
            TsUnit::Ms => "ms",
        }
    }

    fn detect(v: u64) -> Option<(TsUnit, i64)> {
        // Epoch times from 1973 to 2262 in each unit.
        let v = i64::try_from(v).ok()?;
        match v {
            100_000_000_000_000_000.. => Some((TsUnit::Ns, v)),
            100_000_000_000_000.. => v.checked_mul(1_000).map(|ns| (TsUnit::Us, ns)),
            100_000_000_000.. if v < 100_000_000_000_000 => {
                v.checked_mul(1_000_000).map(|ns| (TsUnit::Ms, ns))
            }
            _ => None,
        }
    }
}

/// What a read saw. Complete once the reader is exhausted.
#[derive(Debug, Clone, Default)]
pub struct CaptureReport {
    /// The recording format (`binance`, `tardis:trades`, `bybit`...), once the first line is read.
    pub format: Option<String>,
    /// The venue, as the data names it (Binance: the market's name).
    pub venue: Option<String>,
    /// The input files, in order.
    pub files: Vec<String>,
    /// Total size of the input files, bytes (as stored: compressed for gzip and zip).
    pub bytes_total: u64,
    /// Bytes of the input files consumed so far (for progress; zip archives count at their end).
    pub bytes_read: u64,
    /// Timestamp unit detected in each file (`None` for a file with no data line).
    pub ts_units: Vec<Option<TsUnit>>,
    /// Lines read (all files).
    pub lines: u64,
    /// Empty lines (skipped, no data).
    pub blank_lines: u64,
    /// Data records handled (messages, or CSV rows).
    pub records: u64,
    /// Binance messages by kind, indexed like [`MsgKind::ALL`].
    pub messages: [u64; MsgKind::ALL.len()],
    /// Events by kind, indexed by the kind code.
    pub events: [u64; crate::event::kind::COUNT],
    /// Gaps found in the depth chain (capped list; see `sync.gap_count`).
    pub gaps: Vec<Gap>,
    /// Sync counters: stale drops, unsynced events, snapshots, gap count.
    pub sync: SyncStats,
    /// Lines skipped in lenient mode.
    pub skipped_lines: u64,
    /// Lines skipped in lenient mode, by reason (`unknown stream 'x@y'`, `negative value`,
    /// `time runs backwards`, `malformed data`...), in the order first met.
    pub skipped: Vec<(String, u64)>,
    /// The first errors met in lenient mode (`file:line: message`).
    pub errors: Vec<String>,
    /// Lines of other symbols skipped because of the symbol filter.
    pub other_symbol_lines: u64,
    /// Earliest and latest local receive time, ns.
    pub local_ts_range: Option<(i64, i64)>,
    /// Earliest and latest exchange time, ns (events without one are not counted).
    pub exch_ts_range: Option<(i64, i64)>,
    /// The capture's symbol.
    pub symbol: Option<String>,
    /// The market, as revealed by the depth stream.
    pub market: Option<Market>,
}

impl CaptureReport {
    /// Messages of one kind.
    pub fn messages_of(&self, k: MsgKind) -> u64 {
        self.messages[MsgKind::ALL.iter().position(|x| *x == k).unwrap_or(0)]
    }

    /// Total events emitted.
    pub fn total_events(&self) -> u64 {
        self.events.iter().sum()
    }

    /// Extends the local time range with `ts`.
    pub(crate) fn widen_local(&mut self, ts: i64) {
        widen(&mut self.local_ts_range, ts);
    }
}

/// The symbol rule every format shares: with a filter (`want`, upper case), another symbol's
/// record is counted and skipped (`Ok(false)`); without one, the first symbol seen is the
/// capture's and a second one is an error.
pub(crate) fn keep_symbol(
    want: Option<&[u8]>,
    symbol: &[u8],
    report: &mut CaptureReport,
) -> Result<bool, String> {
    match want {
        Some(want) if !symbol.eq_ignore_ascii_case(want) => {
            report.other_symbol_lines += 1;
            Ok(false)
        }
        Some(_) => Ok(true),
        None => match &report.symbol {
            None => {
                report.symbol = Some(String::from_utf8_lossy(symbol).into_owned());
                Ok(true)
            }
            Some(s) if s.as_bytes() != symbol => Err(format!(
                "capture mixes symbols {s} and {}; pass a symbol to pick one",
                String::from_utf8_lossy(&symbol[..symbol.len().min(40)])
            )),
            Some(_) => Ok(true),
        },
    }
}

/// Where a line is: file index in the stream and 1-based line in that file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LineAt {
    pub file: usize,
    pub line: u64,
}

/// One recording format: turns lines into events.
pub(crate) trait Decoder: Send + Sync {
    /// Handles one non-empty line (no line end), appending its events to `out`; an `Err` is
    /// the message for a bad line (the reader adds the file and line).
    fn record(
        &mut self,
        line: &[u8],
        at: LineAt,
        report: &mut CaptureReport,
        out: &mut Vec<Event>,
    ) -> Result<(), String>;
    /// The input is over: emits whatever was held back.
    fn finish(&mut self, out: &mut Vec<Event>);
    /// Copies the decoder's counters (sync, gaps) into the report.
    fn sync_report(&self, report: &mut CaptureReport);
}

/// The decoder for a stream whose first data line is `line`.
fn decoder_for(line: &[u8], options: &ReadOptions) -> Result<(String, Box<dyn Decoder>), String> {
    let (name, decoder) = detect(line, options)?;
    match &options.format {
        Some(want) if !(name == *want || name.starts_with(&format!("{want}:"))) => {
            Err(format!("this is a {name} recording, not {want}"))
        }
        _ => Ok((name, decoder)),
    }
}

fn detect(line: &[u8], options: &ReadOptions) -> Result<(String, Box<dyn Decoder>), String> {
    let symbol = options.symbol.as_deref();
    if line.starts_with(b"exchange,symbol,") {
        let kind = TardisKind::from_header(line)?;
        return Ok((kind.name(), Box::new(TardisDecoder::new(kind, symbol))));
    }
    let json = match line.iter().position(|b| *b == b' ') {
        Some(sp) if sp > 0 && line[..sp].iter().all(u8::is_ascii_digit) => &line[sp + 1..],
        _ => line,
    };
    if json.starts_with(b"{\"topic\":\"orderbook.") {
        return Ok(("bybit".into(), Box::new(BybitDecoder::new(symbol))));
    }
    if json.len() < line.len() && json.starts_with(b"{") {
        return Ok(("binance".into(), Box::new(BinanceDecoder::new(options))));
    }
    Err(format!(
        "unknown recording format (first line starts '{}'); supported: Binance raw captures (<local time> <json>), Tardis CSV, Bybit order book JSON",
        String::from_utf8_lossy(&line[..line.len().min(40)])
    ))
}

const MAX_ERRORS_LISTED: usize = 100;

fn widen(range: &mut Option<(i64, i64)>, v: i64) {
    *range = Some(match *range {
        None => (v, v),
        Some((lo, hi)) => (lo.min(v), hi.max(v)),
    });
}

/// The reason a bad line is counted under in lenient mode: the unknown stream's name, or the
/// kind of fault.
fn reason_of(message: &str) -> String {
    for prefix in ["unknown stream '", "unknown event type '"] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let name = rest.split('\'').next().unwrap_or(rest);
            return format!("{prefix}{name}'");
        }
    }
    let kinds = [
        ("is negative", "negative value"),
        ("runs backwards", "time runs backwards"),
        ("must be > 0", "non-positive price"),
        ("empty file", "empty file"),
        ("malformed JSON", "malformed JSON"),
        ("unreadable data", "unreadable data"),
        ("mixes symbols", "mixed symbols"),
    ];
    for (needle, reason) in kinds {
        if message.contains(needle) {
            return reason.into();
        }
    }
    "invalid message".into()
}

/// The latest exchange time of each kind of message (in this file), and the latest local
/// time: the backwards check.
#[derive(Debug, Default)]
struct Clocks {
    file: usize,
    local: i64,
    exch: [i64; MsgKind::ALL.len()],
}

impl Clocks {
    fn check(&mut self, at: LineAt, kind: usize, local: i64, exch: i64) -> Result<(), String> {
        if at.file != self.file || self.local == 0 {
            *self = Clocks {
                file: at.file,
                ..Clocks::default()
            };
        }
        if local < self.local - BACKWARDS_TOLERANCE_NS {
            return Err(backwards("local receive time", local, self.local));
        }
        if exch != 0 && exch < self.exch[kind] - BACKWARDS_TOLERANCE_NS {
            return Err(backwards(
                &format!(
                    "exchange time of this {} message",
                    MsgKind::ALL[kind].name()
                ),
                exch,
                self.exch[kind],
            ));
        }
        self.local = self.local.max(local);
        self.exch[kind] = self.exch[kind].max(exch);
        Ok(())
    }
}

#[cold]
fn backwards(what: &str, ts: i64, latest: i64) -> String {
    #[allow(clippy::cast_precision_loss)] // a duration for a message
    let secs = (latest - ts) as f64 / 1e9;
    format!(
        "{what} {ts} ns runs backwards {secs:.3} s from the latest before it ({latest} ns; tolerance {} s)",
        BACKWARDS_TOLERANCE_NS / 1_000_000_000
    )
}

/// The Binance raw capture format: `<local time> <raw JSON>` lines through the Binance parser
/// and book-sync state machine.
struct BinanceDecoder {
    parser: Parser,
    sync: BookSync,
    symbol_upper: Option<Vec<u8>>,
    /// Another symbol whose depth stream was seen (snapshots become ambiguous).
    other_depth_symbol: Option<String>,
    clocks: Clocks,
}

impl BinanceDecoder {
    fn new(options: &ReadOptions) -> Self {
        BinanceDecoder {
            parser: Parser::new(),
            sync: BookSync::new(options.sync),
            symbol_upper: options
                .symbol
                .as_ref()
                .map(|s| s.to_ascii_uppercase().into_bytes()),
            other_depth_symbol: None,
            clocks: Clocks::default(),
        }
    }
}

impl Decoder for BinanceDecoder {
    fn record(
        &mut self,
        line: &[u8],
        at: LineAt,
        report: &mut CaptureReport,
        out: &mut Vec<Event>,
    ) -> Result<(), String> {
        let Some(sp) = memchr::memchr(b' ', line) else {
            return Err("line is not '<local_time> <json>'".into());
        };
        let raw_ts = &line[..sp];
        let ts = std::str::from_utf8(raw_ts)
            .ok()
            .and_then(|s| s.parse::<u64>().ok());
        let Some((unit, local_ts)) = ts.and_then(TsUnit::detect) else {
            return Err(format!(
                "local time '{}' is not an epoch time in ns, us or ms",
                String::from_utf8_lossy(&raw_ts[..raw_ts.len().min(32)])
            ));
        };
        match report.ts_units[at.file] {
            None => report.ts_units[at.file] = Some(unit),
            Some(u) if u != unit => {
                return Err(format!(
                    "local time {local_ts} is in {} but this file is in {}",
                    unit.name(),
                    u.name()
                ));
            }
            Some(_) => {}
        }
        let m = self.parser.parse(&line[sp + 1..]).map_err(|e| e.0)?;
        // REST snapshots name no symbol: they can only be attributed while no other symbol's
        // depth stream is in the capture.
        if m.kind == MsgKind::Snapshot {
            if let Some(other) = &self.other_depth_symbol {
                return Err(format!(
                    "cannot tell which symbol this REST snapshot belongs to: the capture also has {other}'s depth stream"
                ));
            }
        }
        if let Some(sym) = m.symbol {
            if !keep_symbol(self.symbol_upper.as_deref(), sym, report)? {
                // Another symbol's depth stream makes REST snapshots unattributable.
                if m.kind == MsgKind::Depth && self.other_depth_symbol.is_none() {
                    let other = String::from_utf8_lossy(sym).into_owned();
                    if self.sync.stats.snapshots > 0 {
                        return Err(format!(
                            "the capture also has {other}'s depth stream, so its REST snapshots cannot be attributed to one symbol"
                        ));
                    }
                    self.other_depth_symbol = Some(other);
                }
                return Ok(());
            }
        }
        let k = MsgKind::ALL.iter().position(|x| *x == m.kind).unwrap_or(0);
        let exch = if m.kind == MsgKind::Snapshot {
            0
        } else {
            m.exch_ts
        };
        self.clocks.check(at, k, local_ts, exch)?;
        report.messages[k] += 1;
        report.records += 1;
        report.widen_local(local_ts);
        let origin = Origin {
            source: at.file,
            line: at.line,
            local_ts,
        };
        self.sync
            .on_message(&m, &self.parser, origin, out)
            .map_err(|e| e.0)
    }

    fn finish(&mut self, _out: &mut Vec<Event>) {
        self.sync.finish();
    }

    fn sync_report(&self, report: &mut CaptureReport) {
        report.sync = self.sync.stats.clone();
        report.gaps.clone_from(&self.sync.gaps);
        report.market = self.sync.market().or(report.market);
        if report.market.is_none() {
            // Without a depth stream, only a COIN-M symbol reveals the market.
            if let Some(s) = report.symbol.as_deref().filter(|s| s.contains('_')) {
                report.market = Some(Market::of_futures_symbol(Some(s.as_bytes())));
            }
        }
        if let Some(m) = report.market {
            report.venue = Some(format!("binance-{}", m.name()));
        }
    }
}

/// Streams normalized events out of one or more recorded files (one format, in order).
pub struct CaptureReader {
    paths: Vec<PathBuf>,
    next_file: usize,
    current: Option<Box<dyn BufRead + Send + Sync>>,
    file_line: u64,
    /// Non-blank lines of the current file.
    file_data_lines: u64,
    line: Vec<u8>,
    decoder: Option<Box<dyn Decoder>>,
    options: ReadOptions,
    /// The error that stopped the reader (strict mode): repeated on every later call.
    failed: Option<String>,
    report: CaptureReport,
    buf: Vec<Event>,
    /// Events of `buf` already counted in the report.
    counted: usize,
    /// Input bytes consumed (shared with the file readers).
    bytes: Arc<AtomicU64>,
    done: bool,
}

impl std::fmt::Debug for CaptureReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureReader")
            .field("paths", &self.paths)
            .field("format", &self.report.format)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// A reader that counts the bytes that went through it.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

fn open_file(path: &Path, count: &Arc<AtomicU64>) -> Result<Box<dyn BufRead + Send + Sync>> {
    let io = |source| Error::Io {
        path: path.display().to_string(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    let mut magic = [0u8; 4];
    let n = file.read(&mut magic).map_err(io)?;
    let file = File::open(path).map_err(io)?;
    if n == 4 && magic == *b"PK\x03\x04" {
        count.fetch_add(file.metadata().map_err(io)?.len(), Ordering::Relaxed);
        return Ok(Box::new(BufReader::with_capacity(
            1 << 18,
            super::zip::ZipEntries::open(file).map_err(io)?,
        )));
    }
    let file = Counting {
        inner: file,
        count: Arc::clone(count),
    };
    Ok(if n >= 2 && magic[..2] == [0x1f, 0x8b] {
        Box::new(BufReader::with_capacity(
            1 << 18,
            flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 16, file)),
        ))
    } else {
        Box::new(BufReader::with_capacity(1 << 18, file))
    })
}

impl CaptureReader {
    /// Opens a stream over `paths` (read in the given order). Every path is checked up front.
    pub fn open<P: AsRef<Path>>(paths: &[P], options: ReadOptions) -> Result<Self> {
        if paths.is_empty() {
            return Err(Error::invalid(
                "paths",
                "[]",
                "at least one capture file is needed",
            ));
        }
        let paths: Vec<PathBuf> = paths.iter().map(|p| p.as_ref().to_path_buf()).collect();
        let mut bytes_total = 0;
        for p in &paths {
            let meta = std::fs::metadata(p).map_err(|source| Error::Io {
                path: p.display().to_string(),
                source,
            })?;
            if !meta.is_file() {
                return Err(Error::invalid("paths", p.display(), "is not a file"));
            }
            bytes_total += meta.len();
        }
        let report = CaptureReport {
            bytes_total,
            files: paths.iter().map(|p| p.display().to_string()).collect(),
            ts_units: vec![None; paths.len()],
            ..CaptureReport::default()
        };
        Ok(CaptureReader {
            paths,
            next_file: 0,
            current: None,
            file_line: 0,
            file_data_lines: 0,
            line: Vec::with_capacity(1 << 16),
            decoder: None,
            failed: None,
            options,
            report,
            buf: Vec::new(),
            counted: 0,
            bytes: Arc::new(AtomicU64::new(0)),
            done: false,
        })
    }

    /// The report so far (complete once the reader returned its last chunk).
    pub fn report(&self) -> &CaptureReport {
        &self.report
    }

    fn location(&self) -> Location {
        Location {
            source: self.paths[self.next_file - 1].display().to_string(),
            line: self.file_line,
        }
    }

    /// Records a line error: an error in strict mode, a count and a note in lenient mode.
    fn line_error(&mut self, message: String) -> Result<()> {
        let location = self.location();
        if !self.options.lenient {
            let message = if message.starts_with("unknown stream")
                || message.starts_with("unknown event type")
            {
                format!(
                    "{message}; pass --lenient (lenient=True) to skip streams tradecore does not read"
                )
            } else {
                message
            };
            return Err(Error::Data { location, message });
        }
        let reason = reason_of(&message);
        match self.report.skipped.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => self.report.skipped.push((reason, 1)),
        }
        self.report.skipped_lines += 1;
        if self.report.errors.len() < MAX_ERRORS_LISTED {
            self.report.errors.push(format!("{location}: {message}"));
        }
        Ok(())
    }

    /// Reads the next line into `self.line`; false at the end of all files.
    fn next_line(&mut self) -> Result<bool> {
        loop {
            if self.current.is_none() {
                if self.next_file == self.paths.len() {
                    return Ok(false);
                }
                self.current = Some(open_file(&self.paths[self.next_file], &self.bytes)?);
                self.next_file += 1;
                self.file_line = 0;
                self.file_data_lines = 0;
            }
            self.line.clear();
            let read = self
                .current
                .as_mut()
                .expect("opened above")
                .read_until(b'\n', &mut self.line);
            match read {
                Ok(0) => {
                    self.current = None;
                    if self.file_data_lines == 0 {
                        self.line_error(format!(
                            "empty file: no data line in {} line(s)",
                            self.file_line
                        ))?;
                    }
                }
                Ok(_) => {
                    self.file_line += 1;
                    return Ok(true);
                }
                Err(e) => {
                    self.current = None;
                    self.file_line += 1;
                    self.line_error(format!(
                        "unreadable data ({e}); the rest of this file is skipped"
                    ))?;
                }
            }
        }
    }

    /// Handles the line in `self.line`, appending events to `self.buf`.
    fn handle_line(&mut self) -> Result<()> {
        self.report.lines += 1;
        let mut end = self.line.len();
        while end > 0 && matches!(self.line[end - 1], b'\n' | b'\r') {
            end -= 1;
        }
        if end == 0 {
            self.report.blank_lines += 1;
            return Ok(());
        }
        self.file_data_lines += 1;
        if self.decoder.is_none() {
            match decoder_for(&self.line[..end], &self.options) {
                Ok((format, decoder)) => {
                    self.report.format = Some(format);
                    self.decoder = Some(decoder);
                }
                Err(message) => {
                    // Without a format nothing else can be read: fail even in lenient mode.
                    return Err(Error::Data {
                        location: self.location(),
                        message,
                    });
                }
            }
        }
        let at = LineAt {
            file: self.next_file - 1,
            line: self.file_line,
        };
        let decoder = self.decoder.as_mut().expect("set above");
        let start = self.buf.len();
        let result = decoder.record(&self.line[..end], at, &mut self.report, &mut self.buf);
        if let Err(message) = result {
            // A bad line leaves nothing behind.
            self.buf.truncate(start);
            return self.line_error(message);
        }
        Ok(())
    }

    /// Counts the events added to `buf` since the last call.
    fn count(&mut self) {
        for e in &self.buf[self.counted..] {
            self.report.events[usize::from(e.kind).min(crate::event::kind::COUNT - 1)] += 1;
            if e.exch_ts != 0 {
                widen(&mut self.report.exch_ts_range, e.exch_ts);
            }
        }
        self.counted = self.buf.len();
    }

    fn finish(&mut self) {
        if let Some(d) = self.decoder.as_mut() {
            d.finish(&mut self.buf);
        }
        self.done = true;
    }

    fn sync_report(&mut self) {
        self.count();
        self.report.bytes_read = self.bytes.load(Ordering::Relaxed);
        if let Some(d) = &self.decoder {
            d.sync_report(&mut self.report);
        }
    }

    /// The next chunk of exactly `max_events` events (the last one may be shorter), or
    /// `None` at the end.
    /// After an error (strict mode) the reader stays stopped: every later call fails too.
    pub fn next_chunk(&mut self, max_events: usize) -> Result<Option<Vec<Event>>> {
        if let Some(first) = &self.failed {
            return Err(Error::Data {
                location: Location {
                    source: "capture reader".into(),
                    line: 0,
                },
                message: format!("stopped by an earlier error: {first}"),
            });
        }
        let max = max_events.max(1);
        if let Err(e) = self.fill(max) {
            self.failed = Some(e.to_string());
            self.sync_report();
            return Err(e);
        }
        self.sync_report();
        self.counted = 0;
        if self.buf.is_empty() {
            return Ok(None);
        }
        if self.buf.len() <= max {
            return Ok(Some(std::mem::take(&mut self.buf)));
        }
        let rest = self.buf.split_off(max);
        self.counted = rest.len();
        Ok(Some(std::mem::replace(&mut self.buf, rest)))
    }

    fn fill(&mut self, max: usize) -> Result<()> {
        while !self.done && self.buf.len() < max {
            if self.next_line()? {
                self.handle_line()?;
            } else {
                self.finish();
            }
        }
        Ok(())
    }

    /// Reads everything into one vector.
    pub fn read_all(&mut self) -> Result<Vec<Event>> {
        let mut all = Vec::new();
        while let Some(chunk) = self.next_chunk(1 << 20)? {
            if all.is_empty() {
                all = chunk;
            } else {
                all.extend_from_slice(&chunk);
            }
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(lines: &[String], lenient: bool) -> (Result<Vec<Event>>, CaptureReport) {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!("tc-capture-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("c{}.txt", N.fetch_add(1, Ordering::Relaxed)));
        std::fs::write(&path, lines.join("\n")).unwrap();
        let options = ReadOptions {
            lenient,
            ..ReadOptions::default()
        };
        let mut r = CaptureReader::open(&[&path], options).unwrap();
        let out = r.read_all();
        (out, r.report().clone())
    }

    fn trade(local_ms: i64, exch_ms: i64, qty: &str) -> String {
        format!(
            r#"{} {{"stream":"btcusdt@trade","data":{{"e":"trade","E":{exch_ms},"T":{exch_ms},"s":"BTCUSDT","t":1,"p":"100.0","q":"{qty}","X":"MARKET","m":true}}}}"#,
            local_ms * 1_000_000
        )
    }

    const T0: i64 = 1_723_161_600_000;

    #[test]
    fn times_running_backwards_beyond_the_tolerance_are_errors() {
        let ok = [trade(T0, T0, "1"), trade(T0 + 10, T0 - 999, "1")];
        assert!(read(&ok, false).0.is_ok(), "within 1 s");
        let local = [trade(T0, T0, "1"), trade(T0 - 1_001, T0 + 1, "1")];
        let err = read(&local, false).0.unwrap_err().to_string();
        assert!(
            err.contains(":2: local receive time") && err.contains("1.001 s"),
            "{err}"
        );
        let exch = [trade(T0, T0, "1"), trade(T0 + 1, T0 - 3_600_000, "1")];
        let err = read(&exch, false).0.unwrap_err().to_string();
        assert!(err.contains("exchange time of this trade message"), "{err}");
    }

    #[test]
    fn lenient_reads_count_skipped_lines_by_reason() {
        let ticker = format!(
            r#"{} {{"stream":"btcusdt@ticker","data":{{"e":"24hrTicker","l":"1.0"}}}}"#,
            T0 * 1_000_000
        );
        let lines = [
            trade(T0, T0, "1"),
            ticker.clone(),
            ticker,
            trade(T0, T0, "-1"),
            trade(T0, T0, "2"),
        ];
        let (strict, _) = read(&lines, false);
        let err = strict.unwrap_err().to_string();
        assert!(
            err.contains(":2: unknown stream 'btcusdt@ticker'; pass --lenient"),
            "{err}"
        );
        let (events, report) = read(&lines, true);
        assert_eq!(events.unwrap().len(), 2);
        assert_eq!(
            report.skipped,
            vec![
                ("unknown stream 'btcusdt@ticker'".to_string(), 2),
                ("negative value".to_string(), 1)
            ]
        );
    }

    #[test]
    fn an_empty_file_is_an_error() {
        let (out, _) = read(&[], false);
        assert!(out.unwrap_err().to_string().contains("empty file"));
        let (out, report) = read(&[], true);
        assert!(out.unwrap().is_empty());
        assert_eq!(report.skipped, vec![("empty file".to_string(), 1)]);
    }
}
