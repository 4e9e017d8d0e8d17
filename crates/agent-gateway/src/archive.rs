//! The archive (`--archive-dir`): the final log and info of each finished job,
//! kept on disk so that the gateway still answers for a job Ray no longer knows
//! (a restarted head, a re-created cluster, a dropped job), and serves a finished
//! log without asking Ray again.
//!
//! One file per job, named by the hex of its submission id (`DIR/{hex}.zst`: an id
//! cannot name a path outside `DIR`, and two ids differing only in case stay two
//! files on a case-insensitive file system). A file is:
//!
//! | bytes | field |
//! |---|---|
//! | 8 | magic `AGWARC\r\n` |
//! | 4 | format version (2), little-endian |
//! | 4 | length of the info JSON (at most [`MAX_INFO_BYTES`]) |
//! | n | the job's final info, JSON, credentials already hidden ([`crate::redact`]) |
//! | 8 | the log's length in bytes |
//! | 8 | its number of lines (`\n`-ended lines plus an unended last one) |
//! | 8 | the length of the compressed blocks that follow the header |
//! | 8 | the number of blocks |
//! | 32 | the log's SHA-256 |
//! | 32 | the block index's SHA-256 |
//! | 32 | the SHA-256 of all the header bytes above |
//! | … | the log in blocks of [`BLOCK`] bytes, each an independent zstd frame with zstd's content checksum |
//! | 64 per block | the block index: where the block starts in the compressed and in the raw log, its compressed length, how many newlines come before it, its compressed bytes' SHA-256 |
//!
//! The index lets a tail that starts near the end of a big log (`from_line`,
//! `tail=N`) decompress only the last blocks.
//!
//! An entry is written to a temporary file in `DIR`, synced, then renamed over the
//! entry (so a reader sees the old entry or the new one, whole), and the archive is
//! then cut back to its cap, the oldest entries (by the time they were written)
//! going first. Before the first byte of an entry is served, its header's digest,
//! its length, its index's digest and the digest of every block to be read are
//! checked (every block: once per process per file version, its length,
//! modification time and inode); an entry that fails is reported on standard
//! error, renamed to `{hex}.corrupt` (still counted against the cap, so evicted in
//! turn) and answered as absent. Compression and decompression stream ([`CHUNK`]
//! bytes at a time): no log is ever whole in memory.
//!
//! One gateway per directory: the index of entries lives in this process.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::SystemTime;

use agent_proto::{ClientError, Job, JobId};
use agent_server::LogStart;
use bytes::Bytes;
use futures_core::Stream;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The default cap of an archive's files: 1 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;
/// The largest job info archived: 1 MiB (Ray's infos are a few KiB).
pub const MAX_INFO_BYTES: usize = 1 << 20;
/// How many bytes are read, compressed or sent at a time.
pub const CHUNK: usize = 16 * 1024;
/// How many entries are compressed at once, whatever the number of callers.
pub const MAX_COMPRESSIONS: usize = 2;

const MAGIC: [u8; 8] = *b"AGWARC\r\n";
const VERSION: u32 = 2;
/// The raw bytes of a block (the last one may be shorter): the most a tail that
/// starts at a given line decompresses before that line.
pub const BLOCK: usize = 1 << 20;
/// The bytes of a block's index entry.
const INDEX_ENTRY: u64 = 8 * 4 + 32;
/// zstd's default level: ~300 MB/s on one core, logs shrink 5-10x.
const LEVEL: i32 = 3;
const ENTRY_EXT: &str = "zst";
const CORRUPT_EXT: &str = "corrupt";
const TMP_PREFIX: &str = ".tmp-";
/// The header's bytes besides the info: magic, version, info length, then log
/// length, lines, compressed length, blocks, the log's, index's and header's
/// digests.
const FIXED_HEADER: u64 = 8 + 4 + 4 + 8 * 4 + 32 * 3;

/// What went wrong writing an entry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// The file system failed.
    #[error("archive: {what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// On which file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The job has no (valid) submission id to key its entry by.
    #[error(
        "archive: the job has no valid submission id ({0:?}); only submitted jobs are archived"
    )]
    NoSubmissionId(Option<String>),
    /// The job's info is larger than [`MAX_INFO_BYTES`].
    #[error("archive: the job's info is {0} bytes; at most {MAX_INFO_BYTES} are archived")]
    InfoTooLarge(usize),
    /// The entry alone is larger than the archive's cap.
    #[error("archive: the entry of job {id} is {size} bytes, over the archive's cap of {max}")]
    TooLarge {
        /// The job.
        id: String,
        /// The entry's size.
        size: u64,
        /// The cap.
        max: u64,
    },
}

fn io_error<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> ArchiveError + 'a {
    move |source| ArchiveError::Io {
        what,
        path: path.to_owned(),
        source,
    }
}

/// Writes one line to the gateway's log (standard error), as [`crate::log`] does.
pub(crate) fn report(message: &str) {
    let _ = writeln!(
        io::stderr().lock(),
        "{} agent-gateway: archive: {message}",
        crate::log::utc_now()
    );
}

/// Which version of a file was checked: a rewrite or a replacement changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

impl Stamp {
    fn of(meta: &fs::Metadata) -> Self {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(meta);
        #[cfg(not(unix))]
        let inode = 0;
        Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            inode,
        }
    }
}

/// What the index knows of an entry.
#[derive(Debug, Clone)]
struct Meta {
    /// The info as archived.
    info: Value,
    /// The file version whose log was checked whole, if any.
    verified: Option<Stamp>,
}

#[derive(Debug, Default)]
struct Index {
    /// By submission id.
    entries: HashMap<String, Meta>,
    /// Ids whose entry is being written from a stream ([`Archive::claim`]).
    writing: HashSet<String>,
}

/// An archive directory (see the module's documentation).
#[derive(Debug)]
pub struct Archive {
    dir: PathBuf,
    max_bytes: u64,
    index: Mutex<Index>,
    /// Compressions running now (at most [`MAX_COMPRESSIONS`]).
    compressing: Mutex<usize>,
    compressed: Condvar,
    /// Held while a log is checked whole: one check at a time, and the callers
    /// waiting for it find the entry checked when they get it.
    checking: Mutex<()>,
    next_tmp: AtomicU64,
    /// The raw bytes of a block ([`BLOCK`]).
    block: usize,
}

/// The header of an entry, as read back.
#[derive(Debug, Clone)]
struct Header {
    info: Value,
    log_len: u64,
    lines: u64,
    packed_len: u64,
    blocks: u64,
    sha: [u8; 32],
    index_sha: [u8; 32],
    /// The header's own length: where the blocks start.
    len: u64,
}

/// One block of the log, as the index has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Block {
    /// Where its frame starts, after the header.
    packed_at: u64,
    packed_len: u64,
    /// Where it starts in the log.
    raw_at: u64,
    /// The newlines of the log before it.
    newlines_before: u64,
    sha: [u8; 32],
}

impl Block {
    fn bytes(&self) -> [u8; INDEX_ENTRY as usize] {
        let mut b = [0u8; INDEX_ENTRY as usize];
        b[..8].copy_from_slice(&self.packed_at.to_le_bytes());
        b[8..16].copy_from_slice(&self.packed_len.to_le_bytes());
        b[16..24].copy_from_slice(&self.raw_at.to_le_bytes());
        b[24..32].copy_from_slice(&self.newlines_before.to_le_bytes());
        b[32..].copy_from_slice(&self.sha);
        b
    }

    fn parse(b: &[u8]) -> Block {
        let mut sha = [0u8; 32];
        sha.copy_from_slice(&b[32..64]);
        Block {
            packed_at: u64_at(b, 0),
            packed_len: u64_at(b, 8),
            raw_at: u64_at(b, 16),
            newlines_before: u64_at(b, 24),
            sha,
        }
    }
}

struct HeaderFields<'a> {
    info: &'a [u8],
    log_len: u64,
    lines: u64,
    packed_len: u64,
    blocks: u64,
    sha: [u8; 32],
    index_sha: [u8; 32],
}

fn header_bytes(f: &HeaderFields<'_>) -> Vec<u8> {
    let mut h = Vec::with_capacity(f.info.len() + FIXED_HEADER as usize);
    h.extend_from_slice(&MAGIC);
    h.extend_from_slice(&VERSION.to_le_bytes());
    h.extend_from_slice(&(f.info.len() as u32).to_le_bytes());
    h.extend_from_slice(f.info);
    for n in [f.log_len, f.lines, f.packed_len, f.blocks] {
        h.extend_from_slice(&n.to_le_bytes());
    }
    h.extend_from_slice(&f.sha);
    h.extend_from_slice(&f.index_sha);
    let digest = Sha256::digest(&h);
    h.extend_from_slice(&digest);
    h
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Reads and checks an entry's header from a file of `file_len` bytes.
fn read_header(r: &mut impl Read, file_len: u64) -> Result<Header, String> {
    let mut start = [0u8; 16];
    r.read_exact(&mut start)
        .map_err(|e| format!("header unreadable: {e}"))?;
    if start[..8] != MAGIC {
        return Err("not an archive entry (bad magic)".into());
    }
    let version = u32_at(&start, 8);
    if version != VERSION {
        return Err(format!("format version {version}, expected {VERSION}"));
    }
    let info_len = u32_at(&start, 12) as usize;
    if info_len > MAX_INFO_BYTES {
        return Err(format!("info length {info_len} over {MAX_INFO_BYTES}"));
    }
    let len = FIXED_HEADER + info_len as u64;
    if len > file_len {
        return Err(format!(
            "file of {file_len} bytes is shorter than its header"
        ));
    }
    let mut rest = vec![0u8; info_len + (FIXED_HEADER as usize - 16)];
    r.read_exact(&mut rest)
        .map_err(|e| format!("header unreadable: {e}"))?;
    let mut all = start.to_vec();
    all.extend_from_slice(&rest);
    let (body, digest) = all.split_at(all.len() - 32);
    if Sha256::digest(body).as_slice() != digest {
        return Err("header digest mismatch".into());
    }
    let at = 16 + info_len;
    let info: Value =
        serde_json::from_slice(&body[16..at]).map_err(|e| format!("info is not JSON: {e}"))?;
    let packed_len = u64_at(body, at + 16);
    let blocks = u64_at(body, at + 24);
    let total = blocks
        .checked_mul(INDEX_ENTRY)
        .and_then(|index| index.checked_add(packed_len))
        .and_then(|rest| rest.checked_add(len));
    if total != Some(file_len) {
        return Err(format!(
            "file is {file_len} bytes, its header says otherwise ({packed_len} compressed, {blocks} blocks)"
        ));
    }
    let mut sha = [0u8; 32];
    sha.copy_from_slice(&body[at + 32..at + 64]);
    let mut index_sha = [0u8; 32];
    index_sha.copy_from_slice(&body[at + 64..at + 96]);
    Ok(Header {
        info,
        log_len: u64_at(body, at),
        lines: u64_at(body, at + 8),
        packed_len,
        blocks,
        sha,
        index_sha,
        len,
    })
}

/// Reads and checks an entry's block index (after its blocks).
fn read_index(file: &mut BufReader<File>, header: &Header) -> Result<Vec<Block>, String> {
    file.seek(SeekFrom::Start(header.len + header.packed_len))
        .map_err(|e| format!("index unreadable: {e}"))?;
    // Bounded by the file's length, checked against the header's counts.
    let mut bytes = vec![0u8; (header.blocks * INDEX_ENTRY) as usize];
    file.read_exact(&mut bytes)
        .map_err(|e| format!("index unreadable: {e}"))?;
    if Sha256::digest(&bytes).as_slice() != header.index_sha {
        return Err("index digest mismatch".into());
    }
    Ok(bytes
        .chunks_exact(INDEX_ENTRY as usize)
        .map(Block::parse)
        .collect())
}

/// Checks the compressed bytes of `blocks` against their digests.
fn check_blocks(
    file: &mut BufReader<File>,
    header: &Header,
    blocks: &[Block],
) -> Result<(), String> {
    let mut buf = vec![0u8; CHUNK];
    for (i, block) in blocks.iter().enumerate() {
        file.seek(SeekFrom::Start(header.len + block.packed_at))
            .map_err(|e| format!("block unreadable: {e}"))?;
        let mut left = block.packed_len;
        let mut sha = Sha256::new();
        while left > 0 {
            let n = (left as usize).min(CHUNK);
            file.read_exact(&mut buf[..n])
                .map_err(|e| format!("block unreadable: {e}"))?;
            sha.update(&buf[..n]);
            left -= n as u64;
        }
        if sha.finalize().as_slice() != block.sha {
            return Err(format!("block {i} from the start checked: digest mismatch"));
        }
    }
    Ok(())
}

/// Counts and hashes the bytes written through it (a compressed block).
struct Counting<W> {
    inner: W,
    count: u64,
    sha: Sha256,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        self.sha.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Lines of a log: `\n`-ended lines plus an unended last one (the serving layer's
/// and the clients' count, `agent_proto::lines_in`, for a whole log).
#[derive(Debug, Default, Clone, Copy)]
struct LineCount {
    newlines: u64,
    last: Option<u8>,
}

impl LineCount {
    fn push(&mut self, bytes: &[u8]) {
        self.newlines += memchr::memchr_iter(b'\n', bytes).count() as u64;
        if let Some(b) = bytes.last() {
            self.last = Some(*b);
        }
    }
    fn total(&self) -> u64 {
        self.newlines + u64::from(matches!(self.last, Some(b) if b != b'\n'))
    }
}

/// Reads into `buf`, again when interrupted; 0 at the end.
fn read_some(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// A file name's hex; the inverse of [`key_of`].
fn file_stem(id: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(id.len() * 2);
    for b in id.bytes() {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 15)]));
    }
    s
}

/// The submission id a file stem names, if it is one.
fn key_of(stem: &str) -> Option<String> {
    if stem.len() % 2 != 0 || !stem.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..stem.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&stem[i..i + 2], 16).ok())
        .collect();
    let id = String::from_utf8(bytes?).ok()?;
    JobId::new(id.clone()).ok().map(|_| id)
}

impl Archive {
    /// Opens (creating it if needed) the archive in `dir`, capped at `max_bytes`:
    /// reads the header of every entry (one whose header fails is reported and
    /// moved aside) and removes the temporary files a killed gateway left.
    pub fn open(dir: impl Into<PathBuf>, max_bytes: u64) -> Result<Archive, ArchiveError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(io_error("creating", &dir))?;
        let archive = Archive {
            dir,
            max_bytes,
            index: Mutex::new(Index::default()),
            compressing: Mutex::new(0),
            compressed: Condvar::new(),
            checking: Mutex::new(()),
            next_tmp: AtomicU64::new(0),
            block: BLOCK,
        };
        let listing = fs::read_dir(&archive.dir).map_err(io_error("listing", &archive.dir))?;
        let mut index = archive.lock();
        for item in listing.flatten() {
            let path = item.path();
            let name = item.file_name().to_string_lossy().into_owned();
            if name.starts_with(TMP_PREFIX) {
                let _ = fs::remove_file(&path);
                continue;
            }
            let Some(key) = name.strip_suffix(&format!(".{ENTRY_EXT}")).and_then(key_of) else {
                continue;
            };
            let header = File::open(&path)
                .and_then(|f| Ok((f.metadata()?.len(), f)))
                .map_err(|e| e.to_string())
                .and_then(|(len, f)| read_header(&mut BufReader::new(f), len));
            match header {
                Ok(h) => {
                    index.entries.insert(
                        key,
                        Meta {
                            info: h.info,
                            verified: None,
                        },
                    );
                }
                Err(why) => archive.set_aside(&mut index, &key, &path, &why),
            }
        }
        drop(index);
        Ok(archive)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The cap of its files, in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    fn lock(&self) -> MutexGuard<'_, Index> {
        match self.index.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The file of `id`'s entry: always a child of the directory (hex digits).
    fn path_of(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{}.{ENTRY_EXT}", file_stem(id)))
    }

    /// Archives a finished job: its final `info` and its complete final log, the
    /// file at `log` (read, never moved or removed). Blocking (compression): call it
    /// from `spawn_blocking`. At most [`MAX_COMPRESSIONS`] run at once; the others
    /// wait. `lines` is the caller's count of the log's lines: the archive counts
    /// them itself, and reports a different count.
    pub fn put_file(&self, info: &Job, log: &Path, lines: Option<u64>) -> Result<(), ArchiveError> {
        let file = File::open(log).map_err(io_error("reading", log))?;
        self.put(info, file, lines)
    }

    /// [`Archive::put_file`] from any reader of the whole log.
    pub fn put(&self, info: &Job, log: impl Read, lines: Option<u64>) -> Result<(), ArchiveError> {
        let id = info
            .submission_id
            .as_deref()
            .filter(|id| JobId::new(*id).is_ok())
            .ok_or_else(|| ArchiveError::NoSubmissionId(info.submission_id.clone()))?
            .to_owned();
        // Stored with its credentials hidden: the archive outlives the process and
        // is copied by backups; answers hide them again on the way out anyway.
        let mut value = serde_json::to_value(info).map_err(|e| ArchiveError::Io {
            what: "encoding the info of",
            path: self.path_of(&id),
            source: io::Error::other(e),
        })?;
        crate::redact::answer(&mut value);
        let json = value.to_string();
        if json.len() > MAX_INFO_BYTES {
            return Err(ArchiveError::InfoTooLarge(json.len()));
        }
        let _permit = self.compression_permit();
        let (tmp, counted) = self.write_tmp(json.as_bytes(), log)?;
        if let Some(n) = lines.filter(|n| *n != counted) {
            report(&format!(
                "job {id}: the log was said to hold {n} lines, it holds {counted}; archived as it is"
            ));
        }
        self.commit(&id, value, tmp)
    }

    fn compression_permit(&self) -> impl Drop + '_ {
        struct Permit<'a>(&'a Archive);
        impl Drop for Permit<'_> {
            fn drop(&mut self) {
                let mut n = match self.0.compressing.lock() {
                    Ok(g) => g,
                    Err(p) => p.into_inner(),
                };
                *n -= 1;
                self.0.compressed.notify_one();
            }
        }
        let mut n = match self.compressing.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        while *n >= MAX_COMPRESSIONS {
            n = match self.compressed.wait(n) {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
        }
        *n += 1;
        Permit(self)
    }

    /// Writes a whole entry to a temporary file in the directory, synced; returns it
    /// and the log's line count.
    fn write_tmp(&self, info: &[u8], mut log: impl Read) -> Result<(TempLog, u64), ArchiveError> {
        let (tmp, file) = self.temp_log()?;
        let err = io_error("writing", &tmp.path);
        let result = (|| -> io::Result<u64> {
            let mut fields = HeaderFields {
                info,
                log_len: 0,
                lines: 0,
                packed_len: 0,
                blocks: 0,
                sha: [0; 32],
                index_sha: [0; 32],
            };
            let mut out = Counting {
                inner: BufWriter::new(file),
                count: 0,
                sha: Sha256::new(),
            };
            // the header's place, filled in at the end
            out.inner.write_all(&header_bytes(&fields))?;
            let mut blocks = Vec::new();
            let mut sha = Sha256::new();
            let mut lines = LineCount::default();
            let mut buf = vec![0u8; CHUNK];
            loop {
                let mut part = (&mut log).take(self.block as u64);
                let mut n = read_some(&mut part, &mut buf)?;
                if n == 0 {
                    break;
                }
                let (packed_at, raw_at, newlines_before) =
                    (out.count, fields.log_len, lines.newlines);
                let mut frame = zstd::stream::write::Encoder::new(&mut out, LEVEL)?;
                frame.include_checksum(true)?;
                while n > 0 {
                    let piece = &buf[..n];
                    sha.update(piece);
                    lines.push(piece);
                    fields.log_len += n as u64;
                    frame.write_all(piece)?;
                    n = read_some(&mut part, &mut buf)?;
                }
                frame.finish()?;
                blocks.push(Block {
                    packed_at,
                    packed_len: out.count - packed_at,
                    raw_at,
                    newlines_before,
                    sha: std::mem::take(&mut out.sha).finalize().into(),
                });
            }
            let index: Vec<u8> = blocks.iter().flat_map(|b| b.bytes()).collect();
            out.inner.write_all(&index)?;
            fields.lines = lines.total();
            fields.packed_len = out.count;
            fields.blocks = blocks.len() as u64;
            fields.sha = sha.finalize().into();
            fields.index_sha = Sha256::digest(&index).into();
            let mut file = out.inner.into_inner().map_err(|e| e.into_error())?;
            file.seek(SeekFrom::Start(0))?;
            file.write_all(&header_bytes(&fields))?;
            file.sync_all()?;
            Ok(fields.lines)
        })();
        let lines = result.map_err(err)?;
        Ok((tmp, lines))
    }

    /// Renames a written entry into place, then evicts down to the cap.
    fn commit(&self, id: &str, info: Value, mut tmp: TempLog) -> Result<(), ArchiveError> {
        let size = fs::metadata(&tmp.path)
            .map_err(io_error("reading", &tmp.path))?
            .len();
        if size > self.max_bytes {
            return Err(ArchiveError::TooLarge {
                id: id.to_owned(),
                size,
                max: self.max_bytes,
            });
        }
        let path = self.path_of(id);
        let mut index = self.lock();
        fs::rename(&tmp.path, &path).map_err(io_error("renaming into", &path))?;
        tmp.kept = true;
        // The rename itself is durable once the directory is synced.
        if let Ok(dir) = File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        index.entries.insert(
            id.to_owned(),
            Meta {
                info,
                verified: None,
            },
        );
        self.evict(&mut index, &path);
        Ok(())
    }

    /// Removes the oldest files (entries and entries set aside) until the total is
    /// within the cap; `keep` (the entry just written) stays.
    fn evict(&self, index: &mut Index, keep: &Path) {
        let Ok(listing) = fs::read_dir(&self.dir) else {
            return;
        };
        let mut files = Vec::new();
        let mut total = 0u64;
        for item in listing.flatten() {
            let name = item.file_name().to_string_lossy().into_owned();
            let counted = name.ends_with(&format!(".{ENTRY_EXT}"))
                || name.ends_with(&format!(".{CORRUPT_EXT}"));
            if name.starts_with(TMP_PREFIX) || !counted {
                continue;
            }
            if let Ok(meta) = item.metadata() {
                total += meta.len();
                files.push((meta.modified().ok(), name, meta.len()));
            }
        }
        if total <= self.max_bytes {
            return;
        }
        files.sort();
        for (_, name, len) in files {
            if total <= self.max_bytes {
                break;
            }
            let path = self.dir.join(&name);
            if path == keep || fs::remove_file(&path).is_err() {
                continue;
            }
            total -= len;
            if let Some(key) = name.strip_suffix(&format!(".{ENTRY_EXT}")).and_then(key_of) {
                index.entries.remove(&key);
                report(&format!(
                    "evicted the entry of job {key} ({len} bytes): the archive is capped at {} bytes",
                    self.max_bytes
                ));
            }
        }
    }

    /// The info archived for `id` (as the header says; credentials hidden), if
    /// the archive holds it.
    pub fn archived_info(&self, id: &str) -> Option<Value> {
        self.lock().entries.get(id).map(|m| m.info.clone())
    }

    /// Removes `id`'s entry because it no longer describes the job Ray knows by
    /// that id (`why`, said in the gateway's log): a submission id used again by
    /// a new job must never be answered with the old job's log.
    pub fn forget(&self, id: &str, why: &str) {
        let mut index = self.lock();
        if index.entries.remove(id).is_none() {
            return;
        }
        let path = self.path_of(id);
        let removed = fs::remove_file(&path);
        drop(index);
        report(&format!(
            "the entry of job {id} is dropped: {why}{}",
            match removed {
                Ok(()) => String::new(),
                Err(e) => format!(" (could not remove {}: {e})", path.display()),
            }
        ));
    }

    /// Reports a corrupt entry, renames it aside and forgets it.
    fn set_aside(&self, index: &mut Index, key: &str, path: &Path, why: &str) {
        let aside = path.with_extension(CORRUPT_EXT);
        let moved = fs::rename(path, &aside).is_ok();
        index.entries.remove(key);
        report(&format!(
            "the entry of job {key} ({}) is corrupt: {why}; it is not served{}",
            path.display(),
            if moved {
                format!(", moved aside to {}", aside.display())
            } else {
                String::new()
            }
        ));
    }

    /// The submission ids and infos of every entry (`"archived": true` added), as
    /// the headers say (the logs are checked when served).
    pub fn infos(&self) -> Vec<(String, Value)> {
        let index = self.lock();
        let mut all: Vec<(String, Value)> = index
            .entries
            .iter()
            .map(|(id, meta)| (id.clone(), archived(meta.info.clone())))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// The entry of submission id `id` (never looked up by driver job id: a
    /// restarted cluster numbers its drivers from 1 again), ready to be served
    /// from `start` (a line, or the last N lines): its header, its index and every
    /// block to be read are checked first (all of them once per process per file
    /// version; a start near the end checks and reads only the last blocks).
    /// `None` when there is none, or when it is corrupt (reported, and set aside).
    /// Blocking: call it from `spawn_blocking`.
    pub fn get(&self, id: &str, start: LogStart) -> Option<Entry> {
        let verified = |key: &str| self.lock().entries.get(key).and_then(|m| m.verified);
        let key = self.lock().entries.get_key_value(id)?.0.clone();
        let path = self.path_of(&key);
        let opened = File::open(&path).and_then(|f| Ok((Stamp::of(&f.metadata()?), f)));
        let (stamp, file) = match opened {
            Ok(opened) => opened,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.lock().entries.remove(&key);
                return None;
            }
            Err(e) => {
                report(&format!("cannot read {}: {e}", path.display()));
                return None;
            }
        };
        let mut reader = BufReader::with_capacity(CHUNK, file);
        let mut _checking = None;
        let checked = (|| -> Result<_, String> {
            let header = read_header(&mut reader, stamp.len)?;
            let blocks = read_index(&mut reader, &header)?;
            let first_line = match start {
                LogStart::Line(k) => k.max(1),
                LogStart::Last(n) => header.lines.saturating_sub(n) + 1,
            };
            // The last block that starts before the newline ending the line
            // before: line `first_line` starts in it or in a later one.
            let first_block = blocks
                .partition_point(|b| b.newlines_before < first_line - 1)
                .saturating_sub(1);
            if verified(&key) != Some(stamp) {
                _checking = Some(match self.checking.lock() {
                    Ok(g) => g,
                    Err(p) => p.into_inner(),
                });
                if verified(&key) != Some(stamp) {
                    check_blocks(
                        &mut reader,
                        &header,
                        &blocks[first_block.min(blocks.len())..],
                    )?;
                }
            }
            Ok((header, blocks, first_line, first_block))
        })();
        let mut index = self.lock();
        let current = fs::metadata(&path).map(|m| Stamp::of(&m)).ok();
        match checked {
            Ok((header, blocks, first_line, first_block)) => {
                if first_block == 0 {
                    if let Some(meta) = index.entries.get_mut(&key) {
                        meta.verified = Some(stamp);
                    }
                }
                Some(Entry {
                    id: key,
                    header,
                    blocks,
                    first_line,
                    first_block,
                    reader,
                })
            }
            Err(why) => {
                // Only the version read is set aside, never one renamed in since.
                if current == Some(stamp) {
                    self.set_aside(&mut index, &key, &path, &why);
                }
                None
            }
        }
    }

    /// True when the archive holds an entry for `id` (not checked: [`Archive::get`]
    /// checks it before serving).
    pub fn contains(&self, id: &str) -> bool {
        self.lock().entries.contains_key(id)
    }

    /// Claims the right to archive `id` from a stream, unless another stream is
    /// doing it; released when the claim is dropped.
    pub fn claim(self: &Arc<Self>, id: &str) -> Option<Claim> {
        let mut index = self.lock();
        if !index.writing.insert(id.to_owned()) {
            return None;
        }
        Some(Claim {
            archive: Arc::clone(self),
            id: id.to_owned(),
        })
    }

    /// A new temporary file in the directory (removed when dropped), e.g. for a
    /// log being received before [`Archive::put_file`] takes it. Its name starts
    /// with `.tmp-`: never served, never counted, removed at start-up.
    pub fn temp_log(&self) -> Result<(TempLog, File), ArchiveError> {
        let n = self.next_tmp.fetch_add(1, Ordering::Relaxed);
        let path = self
            .dir
            .join(format!("{TMP_PREFIX}{}-{n}", std::process::id()));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io_error("creating", &path))?;
        Ok((TempLog { path, kept: false }, file))
    }
}

/// A temporary file in the archive's directory ([`Archive::temp_log`]); removed
/// when dropped, unless it became an entry.
#[derive(Debug)]
pub struct TempLog {
    path: PathBuf,
    kept: bool,
}

impl TempLog {
    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempLog {
    fn drop(&mut self) {
        if !self.kept {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// The right to archive one job from a stream ([`Archive::claim`]).
#[derive(Debug)]
pub struct Claim {
    archive: Arc<Archive>,
    id: String,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.archive.lock().writing.remove(&self.id);
    }
}

/// An info as answered from the archive.
fn archived(mut info: Value) -> Value {
    if let Value::Object(map) = &mut info {
        map.insert("archived".into(), Value::Bool(true));
    }
    info
}

/// A checked entry, ready to be served ([`Archive::get`]).
#[derive(Debug)]
pub struct Entry {
    id: String,
    header: Header,
    blocks: Vec<Block>,
    first_line: u64,
    first_block: usize,
    reader: BufReader<File>,
}

impl Entry {
    /// The job's submission id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The job's final info, `"archived": true` added.
    pub fn info(&self) -> Value {
        archived(self.header.info.clone())
    }

    /// The number of lines of the log.
    pub fn lines(&self) -> u64 {
        self.header.lines
    }

    /// The log's length in bytes.
    pub fn log_len(&self) -> u64 {
        self.header.log_len
    }

    /// The line it is served from (1-based; past the last line: nothing is).
    pub fn first_line(&self) -> u64 {
        self.first_line
    }

    /// Sends the log's bytes from the start of [`Entry::first_line`] on, a chunk
    /// at a time, until the receiver is gone, reading the blocks from the one
    /// that holds that line; each block's length is checked, and the whole log's
    /// digest when it was read from the start (a file damaged since it was
    /// checked ends the log with an error).
    fn send(mut self, tx: &tokio::sync::mpsc::Sender<Result<Bytes, String>>) {
        let whole = self.first_block == 0;
        let mut skip = (self.first_line - 1).saturating_sub(
            self.blocks
                .get(self.first_block)
                .map_or(0, |b| b.newlines_before),
        );
        let mut sha = Sha256::new();
        let ends: Vec<u64> = self
            .blocks
            .iter()
            .skip(1)
            .map(|b| b.raw_at)
            .chain([self.header.log_len])
            .collect();
        let result = (|| -> Result<(), String> {
            let mut buf = vec![0u8; CHUNK];
            for (i, block) in self.blocks.iter().enumerate().skip(self.first_block) {
                self.reader
                    .seek(SeekFrom::Start(self.header.len + block.packed_at))
                    .map_err(|e| format!("block {i} unreadable: {e}"))?;
                let packed = (&mut self.reader).take(block.packed_len);
                let mut frame = zstd::stream::read::Decoder::with_buffer(packed)
                    .map_err(|e| format!("block {i} unreadable: {e}"))?;
                let mut got = 0u64;
                loop {
                    let n = read_some(&mut frame, &mut buf)
                        .map_err(|e| format!("block {i} undecodable: {e}"))?;
                    if n == 0 {
                        break;
                    }
                    let chunk = &buf[..n];
                    got += n as u64;
                    if whole {
                        sha.update(chunk);
                    }
                    let mut from = 0;
                    if skip > 0 {
                        match memchr::memchr_iter(b'\n', chunk).nth((skip - 1) as usize) {
                            Some(at) => {
                                from = at + 1;
                                skip = 0;
                            }
                            None => {
                                skip -= memchr::memchr_iter(b'\n', chunk).count() as u64;
                                continue;
                            }
                        }
                    }
                    let piece = Bytes::copy_from_slice(&chunk[from..]);
                    if !piece.is_empty() && tx.blocking_send(Ok(piece)).is_err() {
                        return Ok(()); // the caller is gone
                    }
                }
                if got != ends[i] - block.raw_at {
                    return Err(format!(
                        "block {i} decompressed to {got} bytes, not {}",
                        ends[i] - block.raw_at
                    ));
                }
            }
            if whole && sha.finalize().as_slice() != self.header.sha {
                return Err("log digest mismatch".into());
            }
            Ok(())
        })();
        if let Err(why) = result {
            // Checked when handed out: the file changed on disk since.
            report(&format!("the entry of job {} broke off: {why}", self.id));
            let _ = tx.blocking_send(Err(why));
        }
    }

    /// The log from [`Entry::first_line`] on, decompressed on a blocking thread a
    /// chunk at a time, at most a few chunks ahead of the reader; dropping the
    /// stream stops it.
    pub fn log(self) -> ArchivedLog {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::task::spawn_blocking(move || self.send(&tx));
        ArchivedLog { rx }
    }
}

/// An archived log's bytes ([`Entry::log`]), as a body stream.
#[derive(Debug)]
pub struct ArchivedLog {
    rx: tokio::sync::mpsc::Receiver<Result<Bytes, String>>,
}

impl Stream for ArchivedLog {
    type Item = Result<Bytes, ClientError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().rx.poll_recv(cx).map(|item| {
            item.map(|r| r.map_err(|why| ClientError::protocol(format!("archived log: {why}"))))
        })
    }
}

impl agent_transport::BodyStream for ArchivedLog {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Cursor;

    fn tempdir(name: &str) -> PathBuf {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "agw-archive-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn job(id: &str) -> Job {
        serde_json::from_value(serde_json::json!({
            "type": "SUBMISSION", "job_id": "02000000", "submission_id": id,
            "status": "SUCCEEDED", "entrypoint": "python x.py", "message": "done",
            "error_type": null, "start_time": 1, "end_time": 2, "metadata": {},
            "runtime_env": {"env_vars": {"AWS_SECRET_ACCESS_KEY": "hunter2"}},
            "driver_node_id": "abc"
        }))
        .unwrap()
    }

    /// The log served from `line` (the entry checked for it).
    fn read_from(archive: &Archive, id: &str, line: u64) -> Vec<u8> {
        read_all(archive.get(id, LogStart::Line(line)).unwrap())
    }

    fn read_all(entry: Entry) -> Vec<u8> {
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let t = std::thread::spawn(move || entry.send(&tx));
        let mut out = Vec::new();
        while let Some(piece) = rx.blocking_recv() {
            out.extend_from_slice(&piece.unwrap());
        }
        t.join().unwrap();
        out
    }

    /// Bytes that do not compress (xorshift).
    fn noise(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    fn lines_of(log: &[u8]) -> u64 {
        let mut c = LineCount::default();
        c.push(log);
        c.total()
    }

    #[test]
    fn a_log_comes_back_whole_with_its_info_and_no_secret() {
        let dir = tempdir("roundtrip");
        let archive = Archive::open(&dir, DEFAULT_MAX_BYTES).unwrap();
        let log = b"line 1\n\xff\xfe not utf-8\n\nlast".to_vec();
        archive
            .put(&job("raysubmit_1"), Cursor::new(&log), Some(4))
            .unwrap();
        let entry = archive.get("raysubmit_1", LogStart::Line(1)).unwrap();
        assert_eq!((entry.lines(), entry.log_len()), (4, log.len() as u64));
        let info = entry.info();
        assert_eq!(info["archived"], true);
        assert_eq!(info["status"], "SUCCEEDED");
        assert!(!info.to_string().contains("hunter2"), "{info}");
        assert_eq!(read_all(entry), log);
        // never by the driver job id (a new cluster reuses them); from a line
        assert!(archive.get("02000000", LogStart::Line(1)).is_none());
        assert_eq!(read_from(&archive, "raysubmit_1", 3), b"\nlast");
        assert_eq!(read_from(&archive, "raysubmit_1", 9), b"");
        // a new process finds it
        let again = Archive::open(&dir, DEFAULT_MAX_BYTES).unwrap();
        assert_eq!(again.infos().len(), 1);
        assert_eq!(read_from(&again, "raysubmit_1", 1), log);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_huge_line_streams_in_chunks() {
        let dir = tempdir("huge");
        let archive = Archive::open(&dir, DEFAULT_MAX_BYTES).unwrap();
        let mut log = vec![b'x'; 3 * 1024 * 1024 + 7];
        log.extend_from_slice(b"\nend\n");
        archive.put(&job("big"), Cursor::new(&log), None).unwrap();
        let entry = archive.get("big", LogStart::Line(1)).unwrap();
        assert_eq!(entry.lines(), 2);
        assert_eq!(read_all(entry), log);
        assert_eq!(read_from(&archive, "big", 2), b"end\n");
        fs::remove_dir_all(&dir).unwrap();
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn generated_logs_round_trip_from_any_line(
            log in proptest::collection::vec(
                prop_oneof![Just(b'\n'), Just(b'a'), Just(0xffu8), any::<u8>()], 0..40_000),
            from in 1u64..50,
        ) {
            let dir = tempdir("prop");
            let archive = Archive::open(&dir, DEFAULT_MAX_BYTES).unwrap();
            archive.put(&job("j"), Cursor::new(&log), None).unwrap();
            let entry = archive.get("j", LogStart::Line(1)).unwrap();
            prop_assert_eq!(entry.lines(), lines_of(&log));
            prop_assert_eq!(read_all(entry), log.clone());
            // from line k: what follows the (k-1)th newline
            let newlines: Vec<usize> = log.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i).collect();
            let expected = match from {
                1 => log.clone(),
                k => newlines.get(k as usize - 2).map_or(Vec::new(), |at| log[at + 1..].to_vec()),
            };
            prop_assert_eq!(read_from(&archive, "j", from), expected);
            fs::remove_dir_all(&dir).unwrap();
        }

        #[test]
        fn generated_ids_stay_inside_the_directory(id in "[A-Za-z0-9_-]{1,100}") {
            let dir = tempdir("ids");
            let archive = Archive { dir: dir.clone(), max_bytes: 1, index: Mutex::default(),
                compressing: Mutex::new(0), compressed: Condvar::new(), checking: Mutex::new(()),
                next_tmp: AtomicU64::new(0), block: BLOCK };
            prop_assume!(JobId::new(id.as_str()).is_ok());
            let path = archive.path_of(&id);
            prop_assert_eq!(path.parent(), Some(dir.as_path()));
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            prop_assert!(name.len() < 255);
            let stem = name.strip_suffix(".zst").unwrap();
            prop_assert!(stem.bytes().all(|b| b.is_ascii_hexdigit()));
            prop_assert_eq!(key_of(stem), Some(id));
        }

        #[test]
        fn any_string_is_rejected_or_kept_inside(id in ".{0,120}") {
            let dir = tempdir("any");
            let archive = Archive::open(&dir, DEFAULT_MAX_BYTES).unwrap();
            let mut info = job("x");
            info.submission_id = Some(id.clone());
            match archive.put(&info, Cursor::new(b"log\n"), None) {
                Ok(()) => {
                    prop_assert!(JobId::new(id.as_str()).is_ok());
                    let names: Vec<_> = fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name()).collect();
                    prop_assert_eq!(names.len(), 1);
                    prop_assert!(archive.get(&id, LogStart::Line(1)).is_some());
                }
                Err(ArchiveError::NoSubmissionId(_)) => prop_assert!(JobId::new(id.as_str()).is_err()),
                Err(e) => prop_assert!(false, "{e}"),
            }
            fs::remove_dir_all(&dir).unwrap();
        }
    }

    /// Every truncation and every flipped byte of an entry is caught before any byte
    /// is served; the entry is set aside and answered as absent.
    #[test]
    fn every_truncation_and_flipped_byte_is_caught() {
        let dir = tempdir("corrupt");
        let mut archive = Archive::open(&dir, DEFAULT_MAX_BYTES).unwrap();
        // several blocks, so that the index and every block are damaged in turn
        archive.block = 700;
        let log: Vec<u8> = (0..300)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        archive.put(&job("c"), Cursor::new(&log), None).unwrap();
        let path = archive.path_of("c");
        let good = fs::read(&path).unwrap();
        let check = |bytes: &[u8], what: &str| {
            let _ = fs::remove_file(path.with_extension(CORRUPT_EXT));
            fs::write(&path, bytes).unwrap();
            // a new process (nothing checked yet), and the one that wrote it
            let fresh = Archive::open(&dir, DEFAULT_MAX_BYTES).unwrap();
            assert!(
                fresh.get("c", LogStart::Line(1)).is_none(),
                "{what} was served"
            );
            assert!(!path.exists(), "{what} was not set aside");
            assert!(path.with_extension(CORRUPT_EXT).exists() || fresh.infos().is_empty());
        };
        for len in 0..good.len() {
            check(&good[..len], &format!("truncated to {len}"));
        }
        for at in 0..good.len() {
            let mut bad = good.clone();
            bad[at] ^= 0x01 << (at % 8);
            check(&bad, &format!("byte {at} flipped"));
        }
        let mut longer = good.clone();
        longer.push(0);
        check(&longer, "one byte more");
        // and the whole entry is still served
        fs::write(&path, &good).unwrap();
        let fresh = Archive::open(&dir, DEFAULT_MAX_BYTES).unwrap();
        assert_eq!(read_from(&fresh, "c", 1), log);
        fs::remove_dir_all(&dir).unwrap();
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// Small blocks, lines across their boundaries: every start (a line, the
        /// last N) serves exactly the log from that line.
        #[test]
        fn every_start_is_served_exactly_whatever_the_blocks(
            log in proptest::collection::vec(
                prop_oneof![3 => Just(b'\n'), 5 => Just(b'a'), 1 => any::<u8>()], 0..3000),
            block in 1usize..200,
        ) {
            let dir = tempdir("blocks");
            let mut archive = Archive::open(&dir, DEFAULT_MAX_BYTES).unwrap();
            archive.block = block;
            archive.put(&job("b"), Cursor::new(&log), None).unwrap();
            let newlines: Vec<usize> = log.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i).collect();
            let from = |k: u64| -> Vec<u8> {
                match k {
                    1 => log.clone(),
                    k => newlines.get(k as usize - 2).map_or(Vec::new(), |at| log[at + 1..].to_vec()),
                }
            };
            let lines = lines_of(&log);
            for k in 1..=lines + 2 {
                prop_assert_eq!(read_from(&archive, "b", k), from(k), "from line {}", k);
            }
            for n in [0, 1, 2, lines, lines + 1] {
                let entry = archive.get("b", LogStart::Last(n)).unwrap();
                let k = lines.saturating_sub(n) + 1;
                prop_assert_eq!(entry.first_line(), k);
                prop_assert_eq!(read_all(entry), from(k), "last {}", n);
            }
            fs::remove_dir_all(&dir).unwrap();
        }
    }

    /// A start near the end neither checks nor reads the first blocks: a damaged
    /// first block does not keep the last lines from being served (right), and
    /// the whole log is then refused and set aside.
    #[test]
    fn a_start_near_the_end_reads_only_the_last_blocks() {
        let dir = tempdir("seek");
        let mut archive = Archive::open(&dir, DEFAULT_MAX_BYTES).unwrap();
        archive.block = 4096;
        let log: Vec<u8> = (1..=2000)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        archive.put(&job("s"), Cursor::new(&log), None).unwrap();
        let entry = archive.get("s", LogStart::Last(1)).unwrap();
        assert!(entry.blocks.len() > 3 && entry.first_block == entry.blocks.len() - 1);
        let damaged = entry.header.len + entry.blocks[0].packed_at + 3;
        drop(entry);
        let path = archive.path_of("s");
        let mut bytes = fs::read(&path).unwrap();
        bytes[damaged as usize] ^= 0x40;
        fs::write(dir.join("swap"), &bytes).unwrap();
        fs::rename(dir.join("swap"), &path).unwrap();
        let fresh = Archive::open(&dir, DEFAULT_MAX_BYTES).unwrap();
        assert_eq!(
            read_all(fresh.get("s", LogStart::Last(2)).unwrap()),
            b"line 1999\nline 2000\n"
        );
        assert_eq!(read_from(&fresh, "s", 2000), b"line 2000\n");
        assert!(fresh.get("s", LogStart::Line(1)).is_none());
        assert!(path.with_extension(CORRUPT_EXT).exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn eviction_keeps_the_total_under_the_cap_oldest_first() {
        let dir = tempdir("evict");
        // each entry is ~1 KiB (random bytes do not compress)
        let cap = 5_000;
        let archive = Archive::open(&dir, cap).unwrap();
        let mut written = Vec::new();
        for i in 0..12u32 {
            let log = noise(u64::from(i), 1000);
            let id = format!("job-{i:02}");
            archive.put(&job(&id), Cursor::new(&log), None).unwrap();
            written.push(id);
            // distinct modification times, whatever the clock's resolution
            let t =
                SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000 + u64::from(i));
            File::options()
                .write(true)
                .open(archive.path_of(written.last().unwrap()))
                .unwrap()
                .set_modified(t)
                .unwrap();
            let total: u64 = fs::read_dir(&dir)
                .unwrap()
                .flatten()
                .map(|e| e.metadata().unwrap().len())
                .sum();
            assert!(total <= cap, "{total} > {cap}");
            let kept: Vec<String> = archive.infos().into_iter().map(|(id, _)| id).collect();
            // the newest ones are kept, in one run
            assert_eq!(kept, written[written.len() - kept.len()..].to_vec());
            assert!(!kept.is_empty());
        }
        assert!(archive.infos().len() < 12);
        let too_big = noise(99, 20_000);
        assert!(matches!(
            archive.put(&job("huge"), Cursor::new(&too_big), None),
            Err(ArchiveError::TooLarge { .. })
        ));
        assert!(fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .all(|e| !e.file_name().to_string_lossy().starts_with(TMP_PREFIX)));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn concurrent_writers_of_one_id_leave_one_whole_entry() {
        let dir = tempdir("race");
        let archive = Arc::new(Archive::open(&dir, DEFAULT_MAX_BYTES).unwrap());
        let logs: Vec<Vec<u8>> = (0..6)
            .map(|i| format!("writer {i}\n").repeat(5000 + i).into_bytes())
            .collect();
        std::thread::scope(|s| {
            for log in &logs {
                let archive = &archive;
                s.spawn(move || archive.put(&job("same"), Cursor::new(log), None).unwrap());
            }
        });
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        let got = read_from(&Archive::open(&dir, DEFAULT_MAX_BYTES).unwrap(), "same", 1);
        assert!(logs.contains(&got));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_stale_temporary_file_is_removed_and_a_stranger_ignored() {
        let dir = tempdir("stale");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(".tmp-1-1"), b"half").unwrap();
        fs::write(dir.join("notes.txt"), b"mine").unwrap();
        fs::write(dir.join("zz.zst"), b"not hex").unwrap();
        let archive = Archive::open(&dir, DEFAULT_MAX_BYTES).unwrap();
        assert!(!dir.join(".tmp-1-1").exists());
        assert!(dir.join("notes.txt").exists() && dir.join("zz.zst").exists());
        assert!(archive.infos().is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }
}
