//! The journal's intent log: order intents written before the order is sent, into a file
//! mapped into memory (a copy into the page cache, no system call), so they survive the
//! process being killed between the send and the database insert that follows it.
//!
//! The file has a fixed size and starts zeroed; intents are appended as JSON lines
//! (`[client_id, instrument, "symbol", side, price, qty, tif, reduce_only, "status",
//! created_ns, updated_ns]`, the columns of the journal's `orders` table); the log ends at the
//! first zero byte. Reading it back and emptying it (once the database has every line) is the
//! journal's job (`tradecore.live.journal`).

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::Path;

use memmap2::MmapMut;

use crate::error::{Error, Result};
use crate::fixed::{write_decimal, write_int, write_uint};

/// The longest line an intent can take (the symbol is limited to 64 bytes).
pub const MAX_INTENT_LINE: usize = 512;

/// One order intent, as its journal row.
#[derive(Debug, Clone, Copy)]
pub struct Intent<'a> {
    pub client_id: u64,
    pub instrument: usize,
    /// The feed's symbol (the journal's `symbol` column).
    pub symbol: &'a str,
    /// +1 buy, -1 sell.
    pub side: i64,
    /// Fixed point; 0 for a market order.
    pub price: i64,
    /// Fixed point.
    pub qty: i64,
    /// 0 GTC, 1 IOC, 2 FOK, 3 post-only.
    pub tif: u8,
    pub reduce_only: bool,
    /// `pending` (about to be sent) or `refused` (by the risk check).
    pub status: &'a str,
    /// Local time (ns since the epoch).
    pub ts: i64,
}

/// Appends `s` as a JSON string.
fn json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let mut b = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
    out.push(b'"');
}

impl Intent<'_> {
    /// The intent's JSON line (with its newline), appended to `out`.
    pub fn write_line(&self, out: &mut Vec<u8>) {
        out.push(b'[');
        write_uint(out, self.client_id);
        out.push(b',');
        write_uint(out, self.instrument as u64);
        out.push(b',');
        json_str(out, self.symbol);
        out.push(b',');
        write_int(out, self.side);
        out.push(b',');
        write_decimal(out, self.price);
        out.push(b',');
        write_decimal(out, self.qty);
        out.push(b',');
        write_uint(out, u64::from(self.tif));
        out.extend_from_slice(if self.reduce_only {
            b",true,"
        } else {
            b",false,"
        });
        json_str(out, self.status);
        out.push(b',');
        write_int(out, self.ts);
        out.push(b',');
        write_int(out, self.ts);
        out.extend_from_slice(b"]\n");
    }
}

/// A fixed-size, memory-mapped append-only log of lines.
#[derive(Debug)]
pub struct IntentLog {
    map: MmapMut,
    pos: usize,
    path: String,
    line: Vec<u8>,
}

impl IntentLog {
    /// Creates the log at `path` (a new, zeroed file replacing any old one), `bytes` long (at
    /// least 4 KiB).
    pub fn create(path: &Path, bytes: usize) -> Result<Self> {
        let io = |source| Error::Io {
            path: path.display().to_string(),
            source,
        };
        if bytes < 4096 {
            return Err(Error::invalid("bytes", bytes, "must be >= 4096"));
        }
        // A new file, never an existing one truncated: another mapping of an old log (a
        // journal still open on the same path) keeps its own file and never faults.
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
            _ => {}
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(io)?;
        file.set_len(bytes as u64).map_err(io)?;
        // SAFETY: the file was just created by this call and only this mapping sizes it (a
        // later `create` on the same path unlinks it and makes another file).
        let map = unsafe { MmapMut::map_mut(&file) }.map_err(io)?;
        Ok(IntentLog {
            map,
            pos: 0,
            path: path.display().to_string(),
            line: Vec::with_capacity(MAX_INTENT_LINE),
        })
    }

    /// Bytes written since the start (or the last [`IntentLog::reset`]).
    pub fn used(&self) -> usize {
        self.pos
    }

    /// The mapping's size.
    pub fn capacity(&self) -> usize {
        self.map.len()
    }

    /// Appends a line (it must end with a newline and hold no zero byte). Full: an error,
    /// nothing written (the journal empties it after the database has every line).
    pub fn append(&mut self, line: &[u8]) -> Result<()> {
        if line.last() != Some(&b'\n') || line.contains(&0) {
            return Err(Error::invalid(
                "line",
                format!("{:?}", String::from_utf8_lossy(&line[..line.len().min(40)])),
                "must end with a newline and hold no zero byte",
            ));
        }
        self.put(line)
    }

    /// Appends a line known to be well formed.
    fn put(&mut self, line: &[u8]) -> Result<()> {
        let end = self.pos + line.len();
        if end >= self.map.len() {
            return Err(Error::invalid(
                "intent log",
                &self.path,
                format!(
                    "is full ({} of {} bytes): flush the journal first",
                    self.pos,
                    self.map.len()
                ),
            ));
        }
        self.map[self.pos..end].copy_from_slice(line);
        self.pos = end;
        Ok(())
    }

    /// Appends an intent's line.
    pub fn append_intent(&mut self, intent: &Intent<'_>) -> Result<()> {
        if intent.symbol.len() > 64 {
            return Err(Error::invalid(
                "symbol",
                format!("{:?}", intent.symbol),
                "longer than 64 bytes",
            ));
        }
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        intent.write_line(&mut line); // JSON: a newline at its end only, no zero byte
        let r = self.put(&line);
        self.line = line;
        r
    }

    /// Empties the log (zeroes what was written), once every line is in the database.
    pub fn reset(&mut self) {
        self.map[..self.pos].fill(0);
        self.pos = 0;
    }

    /// Writes the mapping to the disk (survives power loss, not only process death).
    pub fn sync(&self) -> Result<()> {
        self.map.flush().map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(symbol: &str) -> Intent<'_> {
        Intent {
            client_id: 7,
            instrument: 0,
            symbol,
            side: -1,
            price: 63_999_900_000_000,
            qty: 1_000_000,
            tif: 3,
            reduce_only: false,
            status: "pending",
            ts: 1_723_075_200_000_000_000,
        }
    }

    #[test]
    fn line_is_the_journal_row_as_json() {
        let mut out = Vec::new();
        intent("BTCUSDT").write_line(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "[7,0,\"BTCUSDT\",-1,63999.9,0.001,3,false,\"pending\",\
             1723075200000000000,1723075200000000000]\n"
        );
        let mut out = Vec::new();
        intent("a\"b\\c\n").write_line(&mut out);
        assert!(String::from_utf8(out)
            .unwrap()
            .contains(r#""a\"b\\c\u000a""#));
    }

    #[test]
    fn appends_in_the_file_until_full_then_resets() {
        let dir = std::env::temp_dir().join(format!("tc-intents-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("j.intents");
        let mut log = IntentLog::create(&path, 4096).unwrap();
        let mut n = 0;
        while log.append_intent(&intent("BTCUSDT")).is_ok() {
            n += 1;
        }
        let err = log.append_intent(&intent("BTCUSDT")).unwrap_err();
        assert!(err.to_string().contains("is full"), "{err}");
        let data = std::fs::read(&path).unwrap(); // the page cache: what a restart reads
        let text = &data[..data.iter().position(|&b| b == 0).unwrap()];
        assert_eq!(
            text.split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .count(),
            n
        );
        log.reset();
        assert_eq!(log.used(), 0);
        assert!(std::fs::read(&path).unwrap().iter().all(|&b| b == 0));
        assert!(log.append(b"no newline").is_err());
        assert!(IntentLog::create(&path, 100).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
