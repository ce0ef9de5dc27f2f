//! Reading and writing packet captures: classic pcap (microsecond and
//! nanosecond resolution, either byte order) and pcapng.
//!
//! Both formats are parsed by hand. The reader streams through a large
//! [`BufReader`] and, through [`PcapReader::next_into`], reuses the caller's
//! buffer so that reading does not allocate per record. Every length read
//! from a file is checked before anything is allocated for it, and nothing
//! read from a file can make this module panic.
//!
//! Errors are [`PcapError`]s: a message meant for people, plus a hint
//! (through [`miette::Diagnostic::help`]) on what to do about it.

use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

use crate::output::{AtomicFile, Output};

/// The largest captured length accepted for one record (256 KiB), when
/// reading and when writing.
pub const MAX_RECORD: u32 = 256 * 1024;

/// The largest pcapng block accepted (16 MiB).
pub const MAX_BLOCK: u32 = 16 * 1024 * 1024;

/// Size of the read and write buffers.
const BUF_SIZE: usize = 256 * 1024;

const NS_PER_SEC: u32 = 1_000_000_000;

/// pcapng block types.
const SHB_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
const SHB_TYPE: u32 = 0x0a0d_0d0a;
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
const IDB_TYPE: u32 = 1;
const PB_TYPE: u32 = 2;
const SPB_TYPE: u32 = 3;
const EPB_TYPE: u32 = 6;

/// pcapng option codes.
const OPT_ENDOFOPT: u16 = 0;
const OPT_SHB_USERAPPL: u16 = 4;
const OPT_IF_TSRESOL: u16 = 9;
const OPT_IF_TSOFFSET: u16 = 14;

/// One captured frame.
///
/// Records are equal when they hold the same frame: bytes, time, lengths
/// and link type. How a file encoded it (`raw`) is left out, so a record
/// read from a pcap equals its copy read from a pcapng; compare `raw` too
/// where the encoding matters.
#[derive(Clone, Debug, Default)]
pub struct Record {
    pub data: Vec<u8>,
    /// Seconds since the epoch.
    pub ts_sec: i64,
    /// Nanoseconds within the second (0..1e9).
    pub ts_nsec: u32,
    /// Original length on the wire, as the file gives it: kept even when it
    /// is smaller than the captured length (libpcap keeps it too, and
    /// tcpdump flags such a record "Invalid header").
    pub orig_len: u32,
    /// DLT/LINKTYPE number (1 = Ethernet).
    pub linktype: u32,
    /// What the file said besides the fields above, so that a record
    /// written back in the format it came from is the same bytes.
    pub raw: RawFields,
}

impl PartialEq for Record {
    fn eq(&self, other: &Record) -> bool {
        self.data == other.data
            && self.ts_sec == other.ts_sec
            && self.ts_nsec == other.ts_nsec
            && self.orig_len == other.orig_len
            && self.linktype == other.linktype
    }
}

/// The parts of a record's file encoding that [`Record`]'s other fields
/// leave out. A reader fills them; a writer of the same format writes them
/// back; a record made from scratch leaves them at their default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RawFields {
    /// The bits of the link-type word beyond the link type, in place.
    /// Classic pcap: the upper six bits of its 32-bit field (libpcap's
    /// `LT_LINKTYPE_EXT`: bit 26 says an FCS length is given, bits 28-31
    /// are that length in 16-bit words). pcapng: the interface's 16
    /// reserved bits after its link type, shifted into the upper half.
    pub linktype_ext: u32,
    /// Classic pcap: the timestamp's two fields as stored (seconds,
    /// fraction), kept when the fraction is out of range (10^6 or more
    /// microseconds, 10^9 or more nanoseconds). `ts_sec` and `ts_nsec` then
    /// hold the time the fields stand for, the excess carried into the
    /// seconds; a writer puts the stored fields back while the record's
    /// time is still that time.
    pub ts: Option<(u32, u32)>,
    /// Classic pcap: the file header the record was read from.
    pub header: Option<ClassicHeader>,
}

/// The fields of a classic pcap file header besides its link type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClassicHeader {
    /// The file is big-endian.
    pub big_endian: bool,
    /// Nanosecond timestamps (magic a1b23c4d).
    pub nanosecond: bool,
    /// `thiszone`: the GMT offset, 0 in practice.
    pub thiszone: i32,
    /// `sigfigs`: the timestamps' accuracy, 0 in practice.
    pub sigfigs: u32,
    /// The snapshot length.
    pub snaplen: u32,
}

/// A capture file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Classic pcap, microsecond timestamps (magic a1b2c3d4).
    Pcap,
    /// Classic pcap, nanosecond timestamps (magic a1b23c4d).
    PcapNs,
    /// pcapng.
    PcapNg,
}

impl Format {
    /// The format a file name asks for: `.pcapng` (any case) gives
    /// [`Format::PcapNg`], anything else [`Format::Pcap`].
    pub fn from_path(path: impl AsRef<Path>) -> Format {
        match path.as_ref().extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("pcapng") => Format::PcapNg,
            _ => Format::Pcap,
        }
    }

    /// A short name for messages: "pcap", "pcap (nanosecond)" or "pcapng".
    pub fn name(self) -> &'static str {
        match self {
            Format::Pcap => "pcap",
            Format::PcapNs => "pcap (nanosecond)",
            Format::PcapNg => "pcapng",
        }
    }

    fn family(self) -> &'static str {
        match self {
            Format::Pcap | Format::PcapNs => "pcap",
            Format::PcapNg => "pcapng",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The usual name of a link type, for messages ("" when unknown).
pub fn linktype_name(linktype: u32) -> &'static str {
    match linktype {
        0 => "NULL",
        1 => "ETHERNET",
        9 => "PPP",
        101 => "RAW",
        105 => "IEEE802_11",
        108 => "LOOP",
        113 => "LINUX_SLL",
        127 => "IEEE802_11_RADIOTAP",
        228 => "IPV4",
        229 => "IPV6",
        276 => "LINUX_SLL2",
        _ => "",
    }
}

fn linktype_label(linktype: u32) -> String {
    match linktype_name(linktype) {
        "" => linktype.to_string(),
        name => format!("{linktype} ({name})"),
    }
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// An error reading or writing a capture.
///
/// `Display` gives one line for people; [`miette::Diagnostic`] adds a code
/// and a hint.
#[derive(Debug)]
pub struct PcapError {
    /// The file (or the name given to `from_reader` / `to_writer`).
    pub path: String,
    pub kind: PcapErrorKind,
    /// Byte offset in the file: where the bad record or block starts, or for
    /// [`PcapErrorKind::TruncatedHeader`] where the file ends.
    pub offset: Option<u64>,
    /// The format of the file, once it is known.
    pub format: Option<Format>,
    /// True for errors while writing.
    pub writing: bool,
}

/// What went wrong. Record indexes are 0-based (the first record is index
/// 0); messages show them 1-based, as "record #1".
#[derive(Debug)]
pub enum PcapErrorKind {
    /// An I/O error from the operating system.
    Io(io::Error),
    /// The file to read does not exist.
    NotFound,
    /// The file starts with these bytes, which are no capture magic.
    BadMagic([u8; 4]),
    /// The file ends inside its file header (or is empty).
    TruncatedHeader,
    /// The file ends inside a record (pcapng: inside a block; `index` is
    /// then the index the next record would have had).
    TruncatedRecord { index: u64 },
    /// A record's captured length is above [`MAX_RECORD`].
    RecordTooLarge { index: u64, len: u32 },
    /// A malformed pcapng block.
    BadBlock(String),
    /// Writing: a classic pcap file holds one link type and the record has
    /// another.
    LinktypeMismatch { index: u64, file: u32, record: u32 },
    /// Writing: the record's timestamp cannot be stored in the format.
    TimestampOutOfRange { index: u64, ts_sec: i64 },
    /// Something valid that this module does not handle.
    Unsupported(String),
    /// A classic pcap file of another version than 2.4.
    BadVersion { major: u16, minor: u16 },
}

impl PcapError {
    /// An I/O error writing `path`.
    pub fn new_writing(path: &str, e: io::Error) -> Self {
        let mut err = PcapError::new(path, PcapErrorKind::Io(e));
        err.writing = true;
        err
    }

    fn new(path: &str, kind: PcapErrorKind) -> Self {
        PcapError {
            path: path.to_string(),
            kind,
            offset: None,
            format: None,
            writing: false,
        }
    }

    fn family(&self) -> &'static str {
        self.format.map_or("capture", Format::family)
    }

    fn code_str(&self) -> &'static str {
        match self.kind {
            PcapErrorKind::Io(_) => "pcap::io",
            PcapErrorKind::NotFound => "pcap::not_found",
            PcapErrorKind::BadMagic(_) => "pcap::bad_magic",
            PcapErrorKind::TruncatedHeader => "pcap::truncated_header",
            PcapErrorKind::TruncatedRecord { .. } => "pcap::truncated_record",
            PcapErrorKind::RecordTooLarge { .. } => "pcap::record_too_large",
            PcapErrorKind::BadBlock(_) => "pcap::bad_block",
            PcapErrorKind::LinktypeMismatch { .. } => "pcap::linktype_mismatch",
            PcapErrorKind::TimestampOutOfRange { .. } => "pcap::timestamp_out_of_range",
            PcapErrorKind::Unsupported(_) => "pcap::unsupported",
            PcapErrorKind::BadVersion { .. } => "pcap::bad_version",
        }
    }

    /// The hint shown under the message.
    pub fn hint(&self) -> Option<String> {
        let intact = |n: u64| match n {
            0 => "there are no records before it".to_string(),
            1 => "the record before it is intact".to_string(),
            n => format!("the {n} records before it are intact"),
        };
        let hint = match &self.kind {
            PcapErrorKind::Io(_) if self.writing => {
                "check that the directory exists, that you may write there, and that the disk is not full"
                    .to_string()
            }
            PcapErrorKind::Io(_) => return None,
            PcapErrorKind::NotFound => {
                "check the spelling of the path; relative paths start from the current directory"
                    .to_string()
            }
            PcapErrorKind::BadMagic(m) => magic_hint(*m),
            PcapErrorKind::TruncatedHeader => {
                "a pcap file starts with a 24-byte header and a pcapng file with a section header \
                 block; this file ends before that, so it was probably cut off or is still being \
                 written"
                    .to_string()
            }
            PcapErrorKind::TruncatedRecord { index } => format!(
                "the capture was probably interrupted while it was written; {}",
                intact(*index)
            ),
            PcapErrorKind::RecordTooLarge { .. } if self.writing => format!(
                "cut the packet data to at most {MAX_RECORD} bytes (orig_len can keep the real length)"
            ),
            PcapErrorKind::RecordTooLarge { index, .. } => format!(
                "the file is probably corrupt from this record on ({}); records over {} KiB are not supported",
                intact(*index),
                MAX_RECORD / 1024
            ),
            PcapErrorKind::BadBlock(_) => {
                "the file is damaged from this block on; the packets before it are intact"
                    .to_string()
            }
            PcapErrorKind::LinktypeMismatch { .. } => {
                "a classic pcap file holds a single link type: write to a file ending in .pcapng, \
                 which can mix link types, or keep the records of each link type in their own file"
                    .to_string()
            }
            PcapErrorKind::TimestampOutOfRange { .. } => match self.format {
                Some(Format::PcapNg) => "pcapng timestamps are written as unsigned 64-bit nanoseconds \
                                         since 1970, so they must lie between 1970 and 2554"
                    .to_string(),
                _ => "classic pcap stores seconds as an unsigned 32-bit number, so timestamps must lie \
                      between 1970 and 2106"
                    .to_string(),
            },
            PcapErrorKind::Unsupported(_) => return None,
            PcapErrorKind::BadVersion { major, .. } if *major < 2 => {
                "pcap files have been version 2.4 since 1998; libpcap calls older ones archaic \
                 and refuses them too"
                    .to_string()
            }
            PcapErrorKind::BadVersion { major: 2, minor } if *minor < 4 => {
                "versions before 2.4 (1998) stored the two length fields of a record the other way \
                 round, which libpcap guesses at; convert the file with `editcap -F pcap IN OUT`, \
                 which writes version 2.4"
                    .to_string()
            }
            PcapErrorKind::BadVersion { .. } => {
                "no such pcap version exists (tcpdump refuses it too): the file is damaged, or it \
                 is not a pcap file though it starts like one"
                    .to_string()
            }
        };
        Some(hint)
    }
}

/// The format a file's first four bytes announce, and whether the classic
/// header is big-endian (pcapng says so later, in its section header).
pub fn magic_format(m: [u8; 4]) -> Option<(Format, bool)> {
    match m {
        [0xa1, 0xb2, 0xc3, 0xd4] => Some((Format::Pcap, true)),
        [0xd4, 0xc3, 0xb2, 0xa1] => Some((Format::Pcap, false)),
        [0xa1, 0xb2, 0x3c, 0x4d] => Some((Format::PcapNs, true)),
        [0x4d, 0x3c, 0xb2, 0xa1] => Some((Format::PcapNs, false)),
        SHB_MAGIC => Some((Format::PcapNg, false)),
        _ => None,
    }
}

/// Whether bytes that may be a capture or text should go to [`PcapReader`]:
/// a capture's magic, or a compressed file or old format that it explains.
pub fn looks_like_capture(head: &[u8]) -> bool {
    let Some(m) = head.get(..4).and_then(|h| <[u8; 4]>::try_from(h).ok()) else {
        return false;
    };
    magic_format(m).is_some()
        || matches!(
            m,
            [0x1f, 0x8b, ..]
                | [0x28, 0xb5, 0x2f, 0xfd]
                | [0xfd, 0x37, 0x7a, 0x58]
                | [0x50, 0x4b, 0x03, 0x04]
                | [0xa1, 0xb2, 0xcd, 0x34]
                | [0x34, 0xcd, 0xb2, 0xa1]
        )
}

/// The hint for a file that starts with `m`: what it looks like, and the
/// formats that are read.
pub fn magic_hint(m: [u8; 4]) -> String {
    let accepted = "accepted formats: pcap (magic a1 b2 c3 d4 or d4 c3 b2 a1), pcap with nanosecond \
                    timestamps (a1 b2 3c 4d or 4d 3c b2 a1) and pcapng (0a 0d 0d 0a)";
    let why = match m {
        [0x1f, 0x8b, ..] => "the file is gzip-compressed: decompress it first (gunzip); ",
        [0x28, 0xb5, 0x2f, 0xfd] => "the file is zstd-compressed: decompress it first (unzstd); ",
        [0xfd, 0x37, 0x7a, 0x58] => "the file is xz-compressed: decompress it first (unxz); ",
        [0x50, 0x4b, 0x03, 0x04] => "the file is a zip archive: extract it first; ",
        [0xa1, 0xb2, 0xcd, 0x34] | [0x34, 0xcd, 0xb2, 0xa1] => {
            "this is the old \"modified pcap\" format, which is not supported: convert it with \
             `editcap -F pcap in out.pcap`; "
        }
        _ if m
            .iter()
            .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace()) =>
        {
            "the file looks like text, not a capture; "
        }
        _ => "",
    };
    format!("{why}{accepted}")
}

impl fmt::Display for PcapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.path;
        let fam = self.family();
        let at = self.offset.unwrap_or(0);
        match &self.kind {
            PcapErrorKind::Io(e) if self.writing => write!(f, "cannot write \"{p}\": {e}"),
            PcapErrorKind::Io(e) => match self.offset {
                Some(o) => write!(f, "cannot read \"{p}\" at byte {o}: {e}"),
                None => write!(f, "cannot read \"{p}\": {e}"),
            },
            PcapErrorKind::NotFound => write!(f, "cannot open \"{p}\": no such file"),
            PcapErrorKind::BadMagic(m) => write!(
                f,
                "\"{p}\" is not a pcap or pcapng file: it starts with the bytes \
                 {:02x} {:02x} {:02x} {:02x}",
                m[0], m[1], m[2], m[3]
            ),
            PcapErrorKind::TruncatedHeader => match self.offset {
                Some(0) => write!(f, "\"{p}\" is empty: it does not even hold a file header"),
                Some(o) => write!(
                    f,
                    "corrupt {fam} \"{p}\": the file ends at byte {o}, inside its file header"
                ),
                None => write!(
                    f,
                    "corrupt {fam} \"{p}\": the file ends inside its file header"
                ),
            },
            PcapErrorKind::TruncatedRecord { index } => match self.format {
                Some(Format::PcapNg) => write!(
                    f,
                    "corrupt pcapng \"{p}\": the file ends inside the block at byte {at} \
                     (while reading record #{})",
                    index + 1
                ),
                _ => write!(
                    f,
                    "corrupt {fam} \"{p}\": record #{} (starting at byte {at}) is cut off: \
                     the file ends inside the record",
                    index + 1
                ),
            },
            PcapErrorKind::RecordTooLarge { index, len } if self.writing => write!(
                f,
                "cannot write record #{} to \"{p}\": its {len} bytes of data are more than \
                 the limit of {MAX_RECORD} bytes",
                index + 1
            ),
            PcapErrorKind::RecordTooLarge { index, len } => write!(
                f,
                "corrupt {fam} \"{p}\": record #{} at byte {at} claims {len} captured bytes, \
                 more than the limit of {MAX_RECORD}",
                index + 1
            ),
            PcapErrorKind::BadBlock(msg) => {
                write!(f, "corrupt pcapng \"{p}\": the block at byte {at} {msg}")
            }
            PcapErrorKind::LinktypeMismatch {
                index,
                file,
                record,
            } => write!(
                f,
                "cannot write record #{} to \"{p}\": its link type {} differs from the \
                 file's link type {}",
                index + 1,
                linktype_label(*record),
                linktype_label(*file)
            ),
            PcapErrorKind::TimestampOutOfRange { index, ts_sec } => write!(
                f,
                "cannot write record #{} to \"{p}\": its timestamp ({ts_sec} s since 1970) \
                 cannot be stored in {}",
                index + 1,
                self.format.map_or("this format", Format::name)
            ),
            PcapErrorKind::Unsupported(msg) => write!(f, "cannot handle \"{p}\": {msg}"),
            PcapErrorKind::BadVersion { major, minor } => write!(
                f,
                "\"{p}\" is pcap version {major}.{minor} (the version fields at byte {}), \
                 but only version 2.4 is read",
                self.offset.unwrap_or(4)
            ),
        }
    }
}

impl std::error::Error for PcapError {}

impl miette::Diagnostic for PcapError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code_str()))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.hint()
            .map(|h| Box::new(h) as Box<dyn fmt::Display + 'a>)
    }
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

#[inline]
fn u32_from(b: [u8; 4], big_endian: bool) -> u32 {
    if big_endian {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    }
}

#[inline]
fn u16_from(b: [u8; 2], big_endian: bool) -> u16 {
    if big_endian {
        u16::from_be_bytes(b)
    } else {
        u16::from_le_bytes(b)
    }
}

/// The u32 at `off` in a fixed-size header (`off + 4 <= N`).
#[inline]
fn field32<const N: usize>(h: &[u8; N], off: usize, big_endian: bool) -> u32 {
    u32_from([h[off], h[off + 1], h[off + 2], h[off + 3]], big_endian)
}

/// A u32 in the given byte order.
#[inline]
fn u32_to(v: u32, big_endian: bool) -> [u8; 4] {
    if big_endian {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    }
}

#[inline]
fn u16_to(v: u16, big_endian: bool) -> [u8; 2] {
    if big_endian {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    }
}

/// The u32 at `off` in a slice, if it is there.
fn slice32(b: &[u8], off: usize, big_endian: bool) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32_from([s[0], s[1], s[2], s[3]], big_endian))
}

fn slice16(b: &[u8], off: usize, big_endian: bool) -> Option<u16> {
    let s = b.get(off..off.checked_add(2)?)?;
    Some(u16_from([s[0], s[1]], big_endian))
}

/// Rounds up to a multiple of 4.
#[inline]
fn pad4(n: usize) -> usize {
    n.div_ceil(4) * 4
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Splits a timestamp into whole seconds and nanoseconds in 0..1e9,
/// carrying nanoseconds >= 1e9 into the seconds (saturating).
fn normalize_ts(ts_sec: i64, ts_nsec: u32) -> (i64, u32) {
    (
        ts_sec.saturating_add(i64::from(ts_nsec / NS_PER_SEC)),
        ts_nsec % NS_PER_SEC,
    )
}

/// A pcapng interface's timestamp resolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TsResol {
    /// Units of 10^-k seconds.
    Pow10(u8),
    /// Units of 2^-k seconds.
    Pow2(u8),
}

impl TsResol {
    /// The resolution an `if_tsresol` value gives, or `None` when its
    /// units are finer than a 64-bit timestamp can count a second in
    /// (10^-20 and below, 2^-64 and below), which libpcap refuses.
    fn from_option(v: u8) -> Option<TsResol> {
        if v & 0x80 != 0 {
            (v & 0x7f <= 63).then_some(TsResol::Pow2(v & 0x7f))
        } else {
            (v <= 19).then_some(TsResol::Pow10(v))
        }
    }

    /// Converts a timestamp in this resolution to (seconds, nanoseconds);
    /// sub-nanosecond parts are truncated.
    fn split(self, ts: u64) -> (u64, u32) {
        let units_per_sec: u128 = match self {
            TsResol::Pow10(k) => match 10u128.checked_pow(u32::from(k)) {
                Some(u) => u,
                // 10^k > u64::MAX: the timestamp is far below a nanosecond.
                None => return (0, 0),
            },
            // k <= 127 here.
            TsResol::Pow2(k) => 1u128 << k,
        };
        let ts = u128::from(ts);
        let secs = ts / units_per_sec;
        // frac <= ts < 2^64, so frac * 1e9 < 2^94: no overflow.
        let frac = ts % units_per_sec;
        let nsec = frac * u128::from(NS_PER_SEC) / units_per_sec;
        (
            u64::try_from(secs).unwrap_or(u64::MAX),
            u32::try_from(nsec).unwrap_or(0),
        )
    }
}

#[derive(Clone, Copy, Debug)]
struct Interface {
    linktype: u32,
    /// The reserved 16 bits after the link type, shifted up 16.
    ext: u32,
    snaplen: u32,
    resol: TsResol,
    offset: i64,
}

// ---------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------

/// A streaming reader for pcap and pcapng files, in constant memory.
///
/// Use [`PcapReader::next_into`] in hot loops (it reuses the record's
/// buffer), or iterate for owned [`Record`]s.
pub struct PcapReader {
    r: BufReader<Box<dyn Read + Send>>,
    path: String,
    format: Format,
    linktype: u32,
    snaplen: u32,
    /// Byte offset of the next unread byte.
    pos: u64,
    /// Records returned so far.
    index: u64,
    /// Set at end of file or after an error.
    done: bool,
    big_endian: bool,
    /// pcapng: the current section's interfaces.
    ifaces: Vec<Interface>,
    /// pcapng: whether `linktype` was set from an interface yet.
    have_linktype: bool,
    /// pcapng: buffer for small non-packet blocks.
    scratch: Vec<u8>,
    /// Classic pcap: what every record carries in [`RawFields`].
    classic: Option<ClassicHeader>,
    /// Classic pcap: the link-type word's upper bits.
    linktype_ext: u32,
}

impl fmt::Debug for PcapReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PcapReader")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("linktype", &self.linktype)
            .field("pos", &self.pos)
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl PcapReader {
    /// Opens a capture file and reads its file header.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, PcapError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let file = File::open(path).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                PcapError::new(&name, PcapErrorKind::NotFound)
            } else {
                PcapError::new(&name, PcapErrorKind::Io(e))
            }
        })?;
        Self::from_reader(Box::new(file), &name)
    }

    /// Reads a capture from any reader (e.g. stdin); `name` is used in
    /// error messages.
    pub fn from_reader(r: Box<dyn Read + Send>, name: &str) -> Result<Self, PcapError> {
        let mut rd = PcapReader {
            r: BufReader::with_capacity(BUF_SIZE, r),
            path: name.to_string(),
            format: Format::Pcap,
            linktype: 1,
            snaplen: 0,
            pos: 0,
            index: 0,
            done: false,
            big_endian: false,
            ifaces: Vec::new(),
            have_linktype: false,
            scratch: Vec::new(),
            classic: None,
            linktype_ext: 0,
        };
        rd.read_file_header()?;
        Ok(rd)
    }

    /// The file's format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The file's link type; for pcapng that of the first interface (1,
    /// Ethernet, if the file declares none before its first packet).
    pub fn linktype(&self) -> u32 {
        self.linktype
    }

    /// The snapshot length from the file header (pcapng: of the first
    /// interface; 0 means unlimited).
    pub fn snaplen(&self) -> u32 {
        self.snaplen
    }

    /// The file (or stream) name used in messages.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Records read so far.
    pub fn records_read(&self) -> u64 {
        self.index
    }

    /// Reads the next record into `rec`, reusing its buffer. Returns
    /// `Ok(false)` at the end of the file; after the end or an error it
    /// keeps returning `Ok(false)`.
    pub fn next_into(&mut self, rec: &mut Record) -> Result<bool, PcapError> {
        if self.done {
            return Ok(false);
        }
        let res = match self.format {
            Format::Pcap | Format::PcapNs => self.next_classic(rec),
            Format::PcapNg => self.next_ng(rec),
        };
        match res {
            Ok(true) => {
                self.index += 1;
                Ok(true)
            }
            Ok(false) => {
                self.done = true;
                Ok(false)
            }
            Err(e) => {
                self.done = true;
                Err(e)
            }
        }
    }

    // --- errors -----------------------------------------------------------

    fn err(&self, kind: PcapErrorKind, offset: u64) -> PcapError {
        PcapError {
            path: self.path.clone(),
            kind,
            offset: Some(offset),
            format: Some(self.format),
            writing: false,
        }
    }

    fn io_err(&self, e: io::Error) -> PcapError {
        self.err(PcapErrorKind::Io(e), self.pos)
    }

    /// The file ends inside the record or block starting at `start`.
    fn truncated(&self, start: u64) -> PcapError {
        if start == 0 {
            self.err(PcapErrorKind::TruncatedHeader, self.pos)
        } else {
            self.err(PcapErrorKind::TruncatedRecord { index: self.index }, start)
        }
    }

    fn bad_block(&self, msg: String, start: u64) -> PcapError {
        self.err(PcapErrorKind::BadBlock(msg), start)
    }

    // --- raw input ----------------------------------------------------------

    /// Reads up to `buf.len()` bytes; returns how many (short only at EOF).
    #[inline]
    fn read_some(&mut self, buf: &mut [u8]) -> Result<usize, PcapError> {
        let n = read_full(&mut self.r, buf).map_err(|e| self.io_err(e))?;
        self.pos += n as u64;
        Ok(n)
    }

    /// Fills `buf`, or fails as truncated for the item starting at `start`.
    #[inline]
    fn fill(&mut self, buf: &mut [u8], start: u64) -> Result<(), PcapError> {
        if self.read_some(buf)? < buf.len() {
            return Err(self.truncated(start));
        }
        Ok(())
    }

    /// Reads exactly `len` bytes into `data` (resized, allocation reused).
    #[inline]
    fn fill_vec(&mut self, data: &mut Vec<u8>, len: usize, start: u64) -> Result<(), PcapError> {
        data.resize(len, 0);
        self.fill(data, start)
    }

    /// Reads `len` bytes into the scratch buffer, growing it only as data
    /// actually arrives.
    fn fill_scratch(&mut self, len: usize, start: u64) -> Result<(), PcapError> {
        self.scratch.clear();
        let res = (&mut self.r)
            .take(len as u64)
            .read_to_end(&mut self.scratch);
        let got = res.map_err(|e| self.io_err(e))?;
        self.pos += got as u64;
        if got < len {
            return Err(self.truncated(start));
        }
        Ok(())
    }

    /// Discards `len` bytes.
    fn skip(&mut self, len: u64, start: u64) -> Result<(), PcapError> {
        let res = io::copy(&mut (&mut self.r).take(len), &mut io::sink());
        let got = res.map_err(|e| self.io_err(e))?;
        self.pos += got;
        if got < len {
            return Err(self.truncated(start));
        }
        Ok(())
    }

    // --- file header ----------------------------------------------------------

    fn read_file_header(&mut self) -> Result<(), PcapError> {
        let mut magic = [0u8; 4];
        let n = self.read_some(&mut magic)?;
        if n < 4 {
            let mut e = self.err(PcapErrorKind::TruncatedHeader, self.pos);
            e.format = None;
            return Err(e);
        }
        let Some((format, big_endian)) = magic_format(magic) else {
            let mut e = self.err(PcapErrorKind::BadMagic(magic), 0);
            e.format = None;
            return Err(e);
        };
        self.format = format;
        self.big_endian = big_endian;
        if format == Format::PcapNg {
            return self.open_ng();
        }
        // version (2+2), thiszone, sigfigs, snaplen, network
        let mut h = [0u8; 20];
        self.fill(&mut h, 0)?;
        let major = u16_from([h[0], h[1]], big_endian);
        let minor = u16_from([h[2], h[3]], big_endian);
        // libpcap refuses major versions other than 2 and minor ones above
        // 4; it reads 2.0 to 2.3 with their length fields swapped, which
        // is refused here too (written back, they would not be the same).
        if (major, minor) != (2, 4) {
            return Err(self.err(PcapErrorKind::BadVersion { major, minor }, 4));
        }
        self.snaplen = field32(&h, 12, big_endian);
        let word = field32(&h, 16, big_endian);
        // libpcap's LT_LINKTYPE and LT_LINKTYPE_EXT: the upper six bits
        // hold FCS information, kept to be written back.
        self.linktype = word & 0x03ff_ffff;
        self.linktype_ext = word & !0x03ff_ffff;
        self.classic = Some(ClassicHeader {
            big_endian,
            nanosecond: format == Format::PcapNs,
            thiszone: field32(&h, 4, big_endian) as i32,
            sigfigs: field32(&h, 8, big_endian),
            snaplen: self.snaplen,
        });
        Ok(())
    }

    /// Classic pcap: the file header's fields besides the link type.
    pub fn classic_header(&self) -> Option<ClassicHeader> {
        self.classic
    }

    // --- classic pcap ---------------------------------------------------------

    #[inline]
    fn next_classic(&mut self, rec: &mut Record) -> Result<bool, PcapError> {
        let start = self.pos;
        let mut h = [0u8; 16];
        let n = self.read_some(&mut h)?;
        if n == 0 {
            return Ok(false);
        }
        if n < h.len() {
            return Err(self.truncated(start));
        }
        let be = self.big_endian;
        let ts_sec = field32(&h, 0, be);
        let ts_frac = field32(&h, 4, be);
        let incl_len = field32(&h, 8, be);
        let orig_len = field32(&h, 12, be);
        if incl_len > MAX_RECORD {
            return Err(self.err(
                PcapErrorKind::RecordTooLarge {
                    index: self.index,
                    len: incl_len,
                },
                start,
            ));
        }
        self.fill_vec(&mut rec.data, incl_len as usize, start)?;
        let nsec = if self.format == Format::PcapNs {
            u64::from(ts_frac)
        } else {
            u64::from(ts_frac) * 1000
        };
        // An out-of-range fraction (bad writer) is carried into the seconds
        // for the time, and kept as stored to be written back.
        let out_of_range = nsec >= u64::from(NS_PER_SEC);
        rec.ts_sec = i64::from(ts_sec) + (nsec / u64::from(NS_PER_SEC)) as i64;
        rec.ts_nsec = (nsec % u64::from(NS_PER_SEC)) as u32;
        rec.orig_len = orig_len;
        rec.linktype = self.linktype;
        rec.raw = RawFields {
            linktype_ext: self.linktype_ext,
            ts: out_of_range.then_some((ts_sec, ts_frac)),
            header: self.classic,
        };
        Ok(true)
    }

    // --- pcapng -----------------------------------------------------------------

    /// Reads the first section header (whose first 4 bytes are consumed)
    /// and the blocks up to the first interface description.
    fn open_ng(&mut self) -> Result<(), PcapError> {
        let mut scratch_rec = Record::default();
        self.ng_block(0, SHB_MAGIC, &mut scratch_rec)?;
        while self.ifaces.is_empty() {
            let start = self.pos;
            let mut t = [0u8; 4];
            let n = self.read_some(&mut t)?;
            if n == 0 {
                break;
            }
            if n < 4 {
                return Err(self.truncated(start));
            }
            if self.ng_block(start, t, &mut scratch_rec)? {
                // Unreachable: packets need an interface, and we stop at the
                // first one.
                return Err(self.bad_block("holds a packet before any interface".into(), start));
            }
        }
        Ok(())
    }

    fn next_ng(&mut self, rec: &mut Record) -> Result<bool, PcapError> {
        loop {
            let start = self.pos;
            let mut t = [0u8; 4];
            let n = self.read_some(&mut t)?;
            if n == 0 {
                return Ok(false);
            }
            if n < 4 {
                return Err(self.truncated(start));
            }
            if self.ng_block(start, t, rec)? {
                return Ok(true);
            }
        }
    }

    /// Checks a block's total length against the format's rules.
    fn check_block_len(&self, len: u32, min: u32, what: &str, start: u64) -> Result<(), PcapError> {
        let problem = if len > MAX_BLOCK {
            format!("is over the {} MiB limit", MAX_BLOCK >> 20)
        } else if !len.is_multiple_of(4) {
            "is not a multiple of 4".to_string()
        } else if len < min {
            format!("is below the minimum of {min} bytes for this block type")
        } else {
            return Ok(());
        };
        Err(self.bad_block(
            format!("({what}) claims an impossible length of {len} bytes, which {problem}"),
            start,
        ))
    }

    /// Reads the trailing copy of the block length and checks it.
    fn block_trailer(&mut self, len: u32, start: u64) -> Result<(), PcapError> {
        let mut t = [0u8; 4];
        self.fill(&mut t, start)?;
        let trailer = u32_from(t, self.big_endian);
        if trailer != len {
            return Err(self.bad_block(
                format!(
                    "ends with the length {trailer}, which does not match its leading length {len}"
                ),
                start,
            ));
        }
        Ok(())
    }

    /// Handles one block whose type bytes `t` were read; returns true when
    /// it was a packet, now in `rec`.
    fn ng_block(&mut self, start: u64, t: [u8; 4], rec: &mut Record) -> Result<bool, PcapError> {
        if t == SHB_MAGIC {
            self.section_header(start)?;
            return Ok(false);
        }
        let be = self.big_endian;
        let btype = u32_from(t, be);
        let mut l = [0u8; 4];
        self.fill(&mut l, start)?;
        let len = u32_from(l, be);
        match btype {
            IDB_TYPE => {
                self.interface_block(len, start)?;
                Ok(false)
            }
            EPB_TYPE | PB_TYPE => {
                self.packet_block(btype, len, start, rec)?;
                Ok(true)
            }
            SPB_TYPE => {
                self.simple_packet_block(len, start, rec)?;
                Ok(true)
            }
            _ => {
                let what = format!("type 0x{btype:08x}");
                self.check_block_len(len, 12, &what, start)?;
                self.skip(u64::from(len) - 12, start)?;
                self.block_trailer(len, start)?;
                Ok(false)
            }
        }
    }

    fn section_header(&mut self, start: u64) -> Result<(), PcapError> {
        // total length, byte-order magic
        let mut h = [0u8; 8];
        self.fill(&mut h, start)?;
        let bom = [h[4], h[5], h[6], h[7]];
        self.big_endian = if u32::from_be_bytes(bom) == BYTE_ORDER_MAGIC {
            true
        } else if u32::from_le_bytes(bom) == BYTE_ORDER_MAGIC {
            false
        } else {
            return Err(self.bad_block(
                format!(
                    "(a section header) has the byte-order magic {:02x} {:02x} {:02x} {:02x} \
                     instead of 1a 2b 3c 4d",
                    bom[0], bom[1], bom[2], bom[3]
                ),
                start,
            ));
        };
        let be = self.big_endian;
        let len = u32_from([h[0], h[1], h[2], h[3]], be);
        self.check_block_len(len, 28, "a section header", start)?;
        // version (2+2), section length (8), options, trailer
        self.fill_scratch(len as usize - 12, start)?;
        let major = slice16(&self.scratch, 0, be).unwrap_or(0);
        let minor = slice16(&self.scratch, 2, be).unwrap_or(0);
        let trailer = slice32(&self.scratch, len as usize - 16, be).unwrap_or(0);
        if trailer != len {
            return Err(self.bad_block(
                format!("(a section header) ends with the length {trailer}, which does not match its leading length {len}"),
                start,
            ));
        }
        if major != 1 {
            return Err(self.err(
                PcapErrorKind::Unsupported(format!(
                    "the section at byte {start} is pcapng version {major}.{minor}; only version 1.x is supported"
                )),
                start,
            ));
        }
        self.ifaces.clear();
        Ok(())
    }

    fn interface_block(&mut self, len: u32, start: u64) -> Result<(), PcapError> {
        let be = self.big_endian;
        self.check_block_len(len, 20, "an interface description", start)?;
        // linktype (2), reserved (2), snaplen (4), options, trailer (4)
        let body = len as usize - 8;
        self.fill_scratch(body, start)?;
        let s = &self.scratch;
        let linktype = u32::from(slice16(s, 0, be).unwrap_or(0));
        let reserved = u32::from(slice16(s, 2, be).unwrap_or(0));
        let snaplen = slice32(s, 4, be).unwrap_or(0);
        let trailer = slice32(s, body - 4, be).unwrap_or(0);
        let mut iface = Interface {
            linktype,
            ext: reserved << 16,
            snaplen,
            resol: TsResol::Pow10(6),
            offset: 0,
        };
        // Options, checked as libpcap checks them: each must fit in the
        // block, and if_tsresol and if_tsoffset must be well formed and
        // given once. The list may end without opt_endofopt.
        let opts = s.get(8..body - 4).unwrap_or(&[]);
        // File offset of the options.
        let base = start + 16;
        let mut off = 0usize;
        let (mut have_resol, mut have_offset) = (false, false);
        let mut problem = None;
        while off < opts.len() {
            let (Some(code), Some(olen)) = (slice16(opts, off, be), slice16(opts, off + 2, be))
            else {
                problem = Some(format!(
                    "ends inside the header of its option at byte {}",
                    base + off as u64
                ));
                break;
            };
            if code == OPT_ENDOFOPT {
                break;
            }
            let at = base + off as u64;
            let vstart = off + 4;
            let padded = pad4(usize::from(olen));
            let Some(val) = opts
                .get(vstart..vstart + padded)
                .map(|v| &v[..usize::from(olen)])
            else {
                problem = Some(format!(
                    "has an option (code {code}) at byte {at} whose length {olen} runs past the end \
                     of the block ({} bytes of options are left)",
                    opts.len() - vstart
                ));
                break;
            };
            match code {
                OPT_IF_TSRESOL => {
                    problem = match val {
                        _ if have_resol => {
                            Some(format!("has a second if_tsresol option at byte {at}"))
                        }
                        [v] => match TsResol::from_option(*v) {
                            Some(r) => {
                                iface.resol = r;
                                None
                            }
                            None => Some(format!(
                                "has an if_tsresol option (at byte {at}) of 0x{v:02x}: units of \
                                 {}^-{} s, too fine for a 64-bit timestamp to hold one second \
                                 (at most 10^-19 or 2^-63)",
                                if v & 0x80 != 0 { 2 } else { 10 },
                                v & 0x7f
                            )),
                        },
                        _ => Some(format!(
                            "has an if_tsresol option at byte {at} of {olen} bytes instead of 1"
                        )),
                    };
                    have_resol = true;
                }
                OPT_IF_TSOFFSET => {
                    problem = match <[u8; 8]>::try_from(val) {
                        _ if have_offset => {
                            Some(format!("has a second if_tsoffset option at byte {at}"))
                        }
                        Ok(b) => {
                            iface.offset = if be {
                                i64::from_be_bytes(b)
                            } else {
                                i64::from_le_bytes(b)
                            };
                            None
                        }
                        Err(_) => Some(format!(
                            "has an if_tsoffset option at byte {at} of {olen} bytes instead of 8"
                        )),
                    };
                    have_offset = true;
                }
                _ => {}
            }
            if problem.is_some() {
                break;
            }
            off = vstart + padded;
        }
        if let Some(p) = problem {
            return Err(self.bad_block(format!("(an interface description) {p}"), start));
        }
        if trailer != len {
            return Err(self.bad_block(
                format!("(an interface description) ends with the length {trailer}, which does not match its leading length {len}"),
                start,
            ));
        }
        if !self.have_linktype {
            self.have_linktype = true;
            self.linktype = linktype;
            self.snaplen = snaplen;
        }
        self.ifaces.push(iface);
        Ok(())
    }

    fn interface(&self, id: u32, start: u64) -> Result<Interface, PcapError> {
        match self.ifaces.get(id as usize) {
            Some(i) => Ok(*i),
            None => Err(self.bad_block(
                format!(
                    "holds a packet of interface {id}, but the section defines only {} interface(s) before it",
                    self.ifaces.len()
                ),
                start,
            )),
        }
    }

    /// Enhanced Packet Block (type 6) or obsolete Packet Block (type 2).
    fn packet_block(
        &mut self,
        btype: u32,
        len: u32,
        start: u64,
        rec: &mut Record,
    ) -> Result<(), PcapError> {
        let be = self.big_endian;
        let what = if btype == EPB_TYPE {
            "an enhanced packet"
        } else {
            "a packet"
        };
        self.check_block_len(len, 32, what, start)?;
        // interface, ts high, ts low, captured length, original length
        let mut h = [0u8; 20];
        self.fill(&mut h, start)?;
        let iface_id = if btype == EPB_TYPE {
            field32(&h, 0, be)
        } else {
            u32::from(u16_from([h[0], h[1]], be))
        };
        let ts = (u64::from(field32(&h, 4, be)) << 32) | u64::from(field32(&h, 8, be));
        let cap = field32(&h, 12, be);
        let orig_len = field32(&h, 16, be);
        if cap > MAX_RECORD {
            return Err(self.err(
                PcapErrorKind::RecordTooLarge {
                    index: self.index,
                    len: cap,
                },
                start,
            ));
        }
        let room = len - 32;
        if cap > room {
            return Err(self.bad_block(
                format!("({what}) claims {cap} captured bytes but has room for only {room}"),
                start,
            ));
        }
        let iface = self.interface(iface_id, start)?;
        self.fill_vec(&mut rec.data, cap as usize, start)?;
        // padding and options
        self.skip(u64::from(room - cap), start)?;
        self.block_trailer(len, start)?;
        let (secs, nsec) = iface.resol.split(ts);
        rec.ts_sec = i64::try_from(secs)
            .unwrap_or(i64::MAX)
            .saturating_add(iface.offset);
        rec.ts_nsec = nsec;
        rec.orig_len = orig_len;
        rec.linktype = iface.linktype;
        rec.raw = RawFields {
            linktype_ext: iface.ext,
            ..RawFields::default()
        };
        Ok(())
    }

    /// Simple Packet Block (type 3): as the pcapng specification says, its
    /// captured length is the original length, cut to the interface's
    /// snapshot length; the bytes after it are padding. A block too short
    /// for that length is refused (libpcap refuses it too).
    fn simple_packet_block(
        &mut self,
        len: u32,
        start: u64,
        rec: &mut Record,
    ) -> Result<(), PcapError> {
        let be = self.big_endian;
        self.check_block_len(len, 16, "a simple packet", start)?;
        let mut h = [0u8; 4];
        self.fill(&mut h, start)?;
        let orig_len = u32_from(h, be);
        let iface = self.interface(0, start)?;
        let room = len - 16;
        let cap = match iface.snaplen {
            0 => orig_len,
            snap => orig_len.min(snap),
        };
        if cap > room {
            let why = if cap < orig_len {
                format!(
                    "its original length {orig_len}, cut to the interface's snapshot length {}, \
                     asks for {cap} captured bytes",
                    iface.snaplen
                )
            } else {
                format!("its original length asks for {cap} captured bytes")
            };
            return Err(self.bad_block(
                format!("(a simple packet) is too short: {why}, but it has room for only {room}"),
                start,
            ));
        }
        if cap > MAX_RECORD {
            return Err(self.err(
                PcapErrorKind::RecordTooLarge {
                    index: self.index,
                    len: cap,
                },
                start,
            ));
        }
        self.fill_vec(&mut rec.data, cap as usize, start)?;
        self.skip(u64::from(room - cap), start)?;
        self.block_trailer(len, start)?;
        rec.ts_sec = 0;
        rec.ts_nsec = 0;
        rec.orig_len = orig_len;
        rec.linktype = iface.linktype;
        rec.raw = RawFields {
            linktype_ext: iface.ext,
            ..RawFields::default()
        };
        Ok(())
    }
}

impl Iterator for PcapReader {
    type Item = Result<Record, PcapError>;

    /// Yields owned records; after an error, returns `None`.
    fn next(&mut self) -> Option<Self::Item> {
        let mut rec = Record::default();
        match self.next_into(&mut rec) {
            Ok(true) => Some(Ok(rec)),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

impl std::iter::FusedIterator for PcapReader {}

/// Reads a whole capture into memory.
pub fn read_all(path: impl AsRef<Path>) -> Result<Vec<Record>, PcapError> {
    PcapReader::open(path)?.collect()
}

// ---------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------

/// Writes pcap or pcapng files. The file header is written at creation (a
/// classic pcap's with the first record, whose own file header it copies
/// when the record was read from one, or at `flush`/`close`) and each
/// [`write`](PcapWriter::write) writes one complete record. A record read
/// from a file of the same format is written back as it was read
/// ([`RawFields`]).
///
/// A file ([`create`](PcapWriter::create)) is written under a temporary
/// name beside it and renamed into place by [`close`](PcapWriter::close)
/// (see [`crate::output`]): until then the path keeps what it had, and a
/// writer dropped without `close` (an error, an early return) leaves it so.
/// A stream ([`to_writer`](PcapWriter::to_writer)) is flushed by `close`
/// and when dropped.
pub struct PcapWriter {
    w: BufWriter<Output>,
    path: String,
    format: Format,
    linktype: u32,
    /// pcapng: the link-type word (link type, reserved bits shifted up 16)
    /// of each interface written so far.
    ifaces: Vec<u32>,
    count: u64,
    /// A write failed: the output may end inside a record, so nothing more
    /// is written and `close` fails.
    failed: bool,
    /// Classic pcap: the file header waits for the first record, whose
    /// file header it copies when the record was read from a classic pcap
    /// (byte order, resolution, snapshot length, the link-type word's FCS
    /// bits), so that a copy is the same bytes; or for `flush`/`close`.
    header_pending: bool,
    /// Classic pcap: the file is written big-endian.
    big_endian: bool,
}

impl fmt::Debug for PcapWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PcapWriter")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("linktype", &self.linktype)
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

impl PcapWriter {
    /// Starts writing a file, which [`close`](PcapWriter::close) puts in
    /// place (the path is untouched until then); the format follows the
    /// name: `.pcapng` gives pcapng, anything else classic microsecond pcap.
    pub fn create(path: impl AsRef<Path>, linktype: u32) -> Result<Self, PcapError> {
        let format = Format::from_path(path.as_ref());
        Self::create_with(path, linktype, format)
    }

    /// Like [`create`](PcapWriter::create), in the given format.
    pub fn create_with(
        path: impl AsRef<Path>,
        linktype: u32,
        format: Format,
    ) -> Result<Self, PcapError> {
        let path = path.as_ref();
        let file = AtomicFile::create(path).map_err(|e| {
            let mut err = PcapError::new_writing(&path.display().to_string(), e);
            err.format = Some(format);
            err
        })?;
        Self::to_file(file, linktype, format)
    }

    /// Writes a file already started (its temporary file created), which
    /// [`close`](PcapWriter::close) commits.
    pub fn to_file(file: AtomicFile, linktype: u32, format: Format) -> Result<Self, PcapError> {
        let name = file.name().to_string();
        Self::to_output(Output::File(file), &name, linktype, format)
    }

    /// Writes to any writer (e.g. stdout).
    pub fn to_writer(
        w: Box<dyn Write + Send>,
        linktype: u32,
        format: Format,
    ) -> Result<Self, PcapError> {
        Self::to_writer_named(w, "<output>", linktype, format)
    }

    /// Like [`to_writer`](PcapWriter::to_writer), with a name for messages.
    pub fn to_writer_named(
        w: Box<dyn Write + Send>,
        name: &str,
        linktype: u32,
        format: Format,
    ) -> Result<Self, PcapError> {
        Self::to_output(Output::Stream(w), name, linktype, format)
    }

    /// Writes to a file or a stream; the file header goes first.
    pub fn to_output(
        out: Output,
        name: &str,
        linktype: u32,
        format: Format,
    ) -> Result<Self, PcapError> {
        let mut wr = PcapWriter {
            w: BufWriter::with_capacity(BUF_SIZE, out),
            path: name.to_string(),
            format,
            linktype,
            ifaces: Vec::new(),
            count: 0,
            failed: false,
            header_pending: false,
            big_endian: false,
        };
        match format {
            Format::Pcap | Format::PcapNs => wr.header_pending = true,
            Format::PcapNg => {
                wr.write_shb()?;
                wr.write_idb(linktype, 0)?;
            }
        }
        Ok(wr)
    }

    /// The output's format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The file's link type (pcapng: of its first interface).
    pub fn linktype(&self) -> u32 {
        self.linktype
    }

    /// Records written so far.
    pub fn records_written(&self) -> u64 {
        self.count
    }

    fn err(&self, kind: PcapErrorKind) -> PcapError {
        PcapError {
            path: self.path.clone(),
            kind,
            offset: None,
            format: Some(self.format),
            writing: true,
        }
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), PcapError> {
        match self.w.write_all(bytes) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.failed = true;
                Err(self.err(PcapErrorKind::Io(e)))
            }
        }
    }

    /// The error for any use after a failed write.
    fn check_failed(&self) -> Result<(), PcapError> {
        if self.failed {
            return Err(self.err(PcapErrorKind::Io(io::Error::other(
                "an earlier write to it failed, so it may end inside a record; nothing more is written",
            ))));
        }
        Ok(())
    }

    /// Writes the classic file header if it is still pending: the one the
    /// first record was read from (`raw`), if any, else little-endian with
    /// a snapshot length of [`MAX_RECORD`]. A microsecond file becomes a
    /// nanosecond one when the first record came from one, so that its
    /// times keep their digits.
    fn write_classic_header(&mut self, raw: Option<&RawFields>) -> Result<(), PcapError> {
        if !self.header_pending {
            return Ok(());
        }
        self.header_pending = false;
        let from = raw.and_then(|r| r.header.map(|h| (h, r.linktype_ext)));
        let (thiszone, sigfigs, snaplen, ext) = match from {
            Some((h, ext)) => {
                self.big_endian = h.big_endian;
                if h.nanosecond {
                    self.format = Format::PcapNs;
                }
                (h.thiszone, h.sigfigs, h.snaplen, ext)
            }
            None => (0, 0, MAX_RECORD, 0),
        };
        let magic: u32 = if self.format == Format::PcapNs {
            0xa1b2_3c4d
        } else {
            0xa1b2_c3d4
        };
        let be = self.big_endian;
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&u32_to(magic, be));
        h.extend_from_slice(&u16_to(2, be));
        h.extend_from_slice(&u16_to(4, be));
        h.extend_from_slice(&u32_to(thiszone as u32, be));
        h.extend_from_slice(&u32_to(sigfigs, be));
        h.extend_from_slice(&u32_to(snaplen, be));
        h.extend_from_slice(&u32_to(self.linktype | ext, be));
        self.put(&h)
    }

    fn write_shb(&mut self) -> Result<(), PcapError> {
        const APP: &[u8] = b"pktscript";
        let opt_len = 4 + pad4(APP.len()) + 4;
        let len = 24 + opt_len + 4;
        let mut b = Vec::with_capacity(len);
        b.extend_from_slice(&SHB_TYPE.to_le_bytes());
        b.extend_from_slice(&(len as u32).to_le_bytes());
        b.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        // section length: unknown
        b.extend_from_slice(&(-1i64).to_le_bytes());
        b.extend_from_slice(&OPT_SHB_USERAPPL.to_le_bytes());
        b.extend_from_slice(&(APP.len() as u16).to_le_bytes());
        b.extend_from_slice(APP);
        b.resize(b.len() + pad4(APP.len()) - APP.len(), 0);
        b.extend_from_slice(&[0u8; 4]); // opt_endofopt
        b.extend_from_slice(&(len as u32).to_le_bytes());
        self.put(&b)
    }

    /// Writes an interface for `linktype`, with `reserved` in the 16 bits
    /// after it (0 but for a copy of an interface that had them).
    fn write_idb(&mut self, linktype: u32, reserved: u16) -> Result<(), PcapError> {
        let Ok(lt16) = u16::try_from(linktype) else {
            return Err(self.err(PcapErrorKind::Unsupported(format!(
                "link type {linktype} does not fit in pcapng's 16-bit link type field"
            ))));
        };
        const LEN: u32 = 32;
        let mut b = [0u8; LEN as usize];
        b[0..4].copy_from_slice(&IDB_TYPE.to_le_bytes());
        b[4..8].copy_from_slice(&LEN.to_le_bytes());
        b[8..10].copy_from_slice(&lt16.to_le_bytes());
        b[10..12].copy_from_slice(&reserved.to_le_bytes());
        b[12..16].copy_from_slice(&MAX_RECORD.to_le_bytes());
        b[16..18].copy_from_slice(&OPT_IF_TSRESOL.to_le_bytes());
        b[18..20].copy_from_slice(&1u16.to_le_bytes());
        b[20] = 9; // 10^-9 s: nanoseconds
        // padding (3) and opt_endofopt (4) stay 0
        b[28..32].copy_from_slice(&LEN.to_le_bytes());
        self.put(&b)?;
        self.ifaces.push(linktype | u32::from(reserved) << 16);
        Ok(())
    }

    /// Writes one record. Classic pcap files hold one link type: a record of
    /// another is an error. pcapng files get a new interface for each new
    /// link type.
    pub fn write(&mut self, rec: &Record) -> Result<(), PcapError> {
        self.write_frame_raw(
            &rec.data,
            rec.ts_sec,
            rec.ts_nsec,
            rec.orig_len,
            rec.linktype,
            &rec.raw,
        )
    }

    /// Writes one record from its parts, without building a [`Record`].
    pub fn write_frame(
        &mut self,
        data: &[u8],
        ts_sec: i64,
        ts_nsec: u32,
        orig_len: u32,
        linktype: u32,
    ) -> Result<(), PcapError> {
        self.write_frame_raw(
            data,
            ts_sec,
            ts_nsec,
            orig_len,
            linktype,
            &RawFields::default(),
        )
    }

    /// [`write_frame`](PcapWriter::write_frame), with the encoding the
    /// frame was read with ([`Record::raw`]), written back where this
    /// output's format is the one it came from.
    pub fn write_frame_raw(
        &mut self,
        data: &[u8],
        ts_sec: i64,
        ts_nsec: u32,
        orig_len: u32,
        linktype: u32,
        raw: &RawFields,
    ) -> Result<(), PcapError> {
        self.check_failed()?;
        let index = self.count;
        let cap = data.len();
        if cap > MAX_RECORD as usize {
            return Err(self.err(PcapErrorKind::RecordTooLarge {
                index,
                len: u32::try_from(cap).unwrap_or(u32::MAX),
            }));
        }
        let cap32 = cap as u32;
        let (sec, nsec) = normalize_ts(ts_sec, ts_nsec);
        match self.format {
            Format::Pcap | Format::PcapNs => {
                if linktype != self.linktype {
                    return Err(self.err(PcapErrorKind::LinktypeMismatch {
                        index,
                        file: self.linktype,
                        record: linktype,
                    }));
                }
                self.write_classic_header(Some(raw))?;
                let unit = if self.format == Format::PcapNs {
                    1
                } else {
                    1000
                };
                // Timestamp fields stored out of range are written back as
                // read while the record's time is still the time they give.
                let stored = raw.ts.filter(|&(s, f)| {
                    raw.header.is_some()
                        && i128::from(s) * i128::from(NS_PER_SEC) + i128::from(f) * unit
                            == i128::from(sec) * i128::from(NS_PER_SEC) + i128::from(nsec)
                });
                let (sec32, frac) = match stored {
                    Some(sf) => sf,
                    None => {
                        let Ok(sec32) = u32::try_from(sec) else {
                            return Err(
                                self.err(PcapErrorKind::TimestampOutOfRange { index, ts_sec: sec })
                            );
                        };
                        (sec32, nsec / unit as u32)
                    }
                };
                let be = self.big_endian;
                let mut h = [0u8; 16];
                h[0..4].copy_from_slice(&u32_to(sec32, be));
                h[4..8].copy_from_slice(&u32_to(frac, be));
                h[8..12].copy_from_slice(&u32_to(cap32, be));
                h[12..16].copy_from_slice(&u32_to(orig_len, be));
                self.put(&h)?;
                self.put(data)?;
            }
            Format::PcapNg => {
                let total = i128::from(sec) * i128::from(NS_PER_SEC) + i128::from(nsec);
                let Ok(ts) = u64::try_from(total) else {
                    return Err(self.err(PcapErrorKind::TimestampOutOfRange { index, ts_sec: sec }));
                };
                // A pcapng interface's reserved bits, when the record came
                // from one (a classic pcap's FCS bits mean something else).
                let reserved = if raw.header.is_none() {
                    (raw.linktype_ext >> 16) as u16
                } else {
                    0
                };
                let word = linktype | u32::from(reserved) << 16;
                let known = linktype <= 0xffff;
                let iface = match self.ifaces.iter().position(|&l| known && l == word) {
                    Some(i) => i,
                    None => {
                        self.write_idb(linktype, reserved)?;
                        self.ifaces.len() - 1
                    }
                };
                let padded = pad4(cap);
                let len = (32 + padded) as u32;
                let mut h = [0u8; 28];
                h[0..4].copy_from_slice(&EPB_TYPE.to_le_bytes());
                h[4..8].copy_from_slice(&len.to_le_bytes());
                h[8..12].copy_from_slice(&(iface as u32).to_le_bytes());
                h[12..16].copy_from_slice(&((ts >> 32) as u32).to_le_bytes());
                h[16..20].copy_from_slice(&(ts as u32).to_le_bytes());
                h[20..24].copy_from_slice(&cap32.to_le_bytes());
                h[24..28].copy_from_slice(&orig_len.to_le_bytes());
                self.put(&h)?;
                self.put(data)?;
                let mut tail = [0u8; 7];
                let npad = padded - cap;
                tail[npad..npad + 4].copy_from_slice(&len.to_le_bytes());
                self.put(&tail[..npad + 4])?;
            }
        }
        self.count += 1;
        Ok(())
    }

    /// Pushes buffered records to the file.
    pub fn flush(&mut self) -> Result<(), PcapError> {
        self.check_failed()?;
        self.write_classic_header(None)?;
        match self.w.flush() {
            Ok(()) => Ok(()),
            Err(e) => {
                self.failed = true;
                Err(self.err(PcapErrorKind::Io(e)))
            }
        }
    }

    /// Flushes and completes the output, reporting any error: a file is
    /// synced and renamed over its path (on an error the path keeps its
    /// old content), a stream is flushed.
    pub fn close(mut self) -> Result<(), PcapError> {
        self.check_failed()?;
        self.write_classic_header(None)?;
        let done = std::mem::replace(
            &mut self.w,
            BufWriter::with_capacity(0, Output::Stream(Box::new(io::sink()))),
        );
        match crate::output::finish_buffered(done) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.err(PcapErrorKind::Io(e))),
        }
    }
}

impl Drop for PcapWriter {
    /// A stream is flushed (errors ignored); a file not closed is
    /// discarded, its path untouched.
    fn drop(&mut self) {
        if matches!(self.w.get_ref(), Output::Stream(_)) {
            let _ = self.write_classic_header(None);
            let _ = self.w.flush();
        }
    }
}
