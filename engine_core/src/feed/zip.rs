//! Reads the files of a zip archive (stored or deflated) one after another as one byte stream,
//! the way some venues publish their history (Bybit's daily order book files). Streaming:
//! memory does not grow with the archive. Each entry's CRC-32 is checked at its end.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use flate2::read::DeflateDecoder;
use flate2::CrcReader;

/// One member of the archive, from the central directory.
#[derive(Debug, Clone)]
struct Entry {
    name: String,
    local_header: u64,
    compressed: u64,
    method: u16,
    crc: u32,
}

/// The member being read: its bytes (CRC tracked), expected CRC and name.
type Member = (CrcReader<Box<dyn Read + Send + Sync>>, u32, String);

/// The archive's files concatenated, in central-directory order (directories skipped).
pub(crate) struct ZipEntries {
    file: File,
    entries: Vec<Entry>,
    next: usize,
    current: Option<Member>,
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

impl ZipEntries {
    /// Reads the central directory of `file`.
    pub(crate) fn open(mut file: File) -> io::Result<Self> {
        let len = file.seek(SeekFrom::End(0))?;
        // The end-of-central-directory record: 22 bytes plus a comment of up to 64 KiB.
        let tail_len = len.min(22 + 65_535);
        file.seek(SeekFrom::Start(len - tail_len))?;
        let mut tail = vec![0; usize::try_from(tail_len).map_err(|_| bad("zip too large".into()))?];
        file.read_exact(&mut tail)?;
        let eocd = (0..tail.len().saturating_sub(21))
            .rev()
            .find(|&i| u32_at(&tail, i) == 0x0605_4b50)
            .ok_or_else(|| bad("zip archive without an end-of-central-directory record".into()))?;
        let count = usize::from(u16_at(&tail, eocd + 10));
        let cd_size = u32_at(&tail, eocd + 12);
        let cd_offset = u32_at(&tail, eocd + 16);
        if cd_size == u32::MAX || cd_offset == u32::MAX || count == 0xFFFF {
            return Err(bad("zip64 archives are not supported".into()));
        }
        file.seek(SeekFrom::Start(u64::from(cd_offset)))?;
        let mut cd = vec![0; cd_size as usize];
        file.read_exact(&mut cd)?;
        let mut entries = Vec::with_capacity(count);
        let mut i = 0;
        for _ in 0..count {
            if i + 46 > cd.len() || u32_at(&cd, i) != 0x0201_4b50 {
                return Err(bad("corrupt zip central directory".into()));
            }
            let method = u16_at(&cd, i + 10);
            let crc = u32_at(&cd, i + 16);
            let compressed = u32_at(&cd, i + 20);
            let name_len = usize::from(u16_at(&cd, i + 28));
            let extra_len = usize::from(u16_at(&cd, i + 30));
            let comment_len = usize::from(u16_at(&cd, i + 32));
            let local_header = u32_at(&cd, i + 42);
            let name_end = (i + 46 + name_len).min(cd.len());
            let name = String::from_utf8_lossy(&cd[i + 46..name_end]).into_owned();
            if compressed == u32::MAX || local_header == u32::MAX {
                return Err(bad(format!("{name}: zip64 entries are not supported")));
            }
            if !name.ends_with('/') {
                entries.push(Entry {
                    name,
                    local_header: u64::from(local_header),
                    compressed: u64::from(compressed),
                    method,
                    crc,
                });
            }
            i += 46 + name_len + extra_len + comment_len;
        }
        Ok(ZipEntries {
            file,
            entries,
            next: 0,
            current: None,
        })
    }

    fn open_next(&mut self) -> io::Result<bool> {
        let Some(e) = self.entries.get(self.next).cloned() else {
            return Ok(false);
        };
        self.next += 1;
        let mut header = [0u8; 30];
        self.file.seek(SeekFrom::Start(e.local_header))?;
        self.file.read_exact(&mut header)?;
        if u32_at(&header, 0) != 0x0403_4b50 {
            return Err(bad(format!("{}: corrupt zip local header", e.name)));
        }
        let skip = 30 + u64::from(u16_at(&header, 26)) + u64::from(u16_at(&header, 28));
        let data = self.file.try_clone()?;
        let mut data = data;
        data.seek(SeekFrom::Start(e.local_header + skip))?;
        let raw = data.take(e.compressed);
        let reader: Box<dyn Read + Send + Sync> = match e.method {
            0 => Box::new(raw),
            8 => Box::new(DeflateDecoder::new(raw)),
            m => {
                return Err(bad(format!(
                    "{}: zip compression method {m} is not supported (stored or deflate only)",
                    e.name
                )))
            }
        };
        self.current = Some((CrcReader::new(reader), e.crc, e.name));
        Ok(true)
    }
}

impl Read for ZipEntries {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.current.is_none() && !self.open_next()? {
                return Ok(0);
            }
            let (reader, crc, name) = self.current.as_mut().expect("opened above");
            let n = reader.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            if reader.crc().sum() != *crc {
                return Err(bad(format!("{name}: CRC-32 mismatch (corrupt archive)")));
            }
            self.current = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A two-member archive (stored and deflated), written by hand.
    fn archive(members: &[(&str, &[u8], bool)]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut cd = Vec::new();
        for (name, data, deflate) in members {
            let mut crc = flate2::Crc::new();
            crc.update(data);
            let body = if *deflate {
                let mut e =
                    flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            } else {
                data.to_vec()
            };
            let method: u16 = if *deflate { 8 } else { 0 };
            let offset = out.len() as u32;
            let mut h = Vec::new();
            h.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
            h.extend_from_slice(&[20, 0, 0, 0]);
            h.extend_from_slice(&method.to_le_bytes());
            h.extend_from_slice(&[0; 4]);
            h.extend_from_slice(&crc.sum().to_le_bytes());
            h.extend_from_slice(&(body.len() as u32).to_le_bytes());
            h.extend_from_slice(&(data.len() as u32).to_le_bytes());
            h.extend_from_slice(&(name.len() as u16).to_le_bytes());
            h.extend_from_slice(&[0, 0]);
            h.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&h);
            out.extend_from_slice(&body);
            cd.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
            cd.extend_from_slice(&[20, 0, 20, 0, 0, 0]);
            cd.extend_from_slice(&method.to_le_bytes());
            cd.extend_from_slice(&[0; 4]);
            cd.extend_from_slice(&crc.sum().to_le_bytes());
            cd.extend_from_slice(&(body.len() as u32).to_le_bytes());
            cd.extend_from_slice(&(data.len() as u32).to_le_bytes());
            cd.extend_from_slice(&(name.len() as u16).to_le_bytes());
            cd.extend_from_slice(&[0; 12]);
            cd.extend_from_slice(&offset.to_le_bytes());
            cd.extend_from_slice(name.as_bytes());
        }
        let cd_offset = out.len() as u32;
        out.extend_from_slice(&cd);
        out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&(members.len() as u16).to_le_bytes());
        out.extend_from_slice(&(members.len() as u16).to_le_bytes());
        out.extend_from_slice(&(cd.len() as u32).to_le_bytes());
        out.extend_from_slice(&cd_offset.to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out
    }

    #[test]
    fn reads_members_in_order_and_checks_their_crc() {
        let dir = std::env::temp_dir().join(format!("tradecore-zip-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.zip");
        let big: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let zip = archive(&[("one.txt", b"hello\n", false), ("two.bin", &big, true)]);
        std::fs::write(&path, &zip).unwrap();
        let mut all = Vec::new();
        ZipEntries::open(File::open(&path).unwrap())
            .unwrap()
            .read_to_end(&mut all)
            .unwrap();
        assert_eq!(&all[..6], b"hello\n");
        assert_eq!(&all[6..], &big[..]);

        // A flipped byte in the stored member: the CRC catches it.
        let mut corrupt = zip.clone();
        corrupt[30 + 7 + 1] ^= 1;
        std::fs::write(&path, &corrupt).unwrap();
        let err = ZipEntries::open(File::open(&path).unwrap())
            .unwrap()
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert!(err.to_string().contains("CRC-32"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
