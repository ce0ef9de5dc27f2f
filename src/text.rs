//! Packets as editable text, in the format pkttools made familiar.
//!
//! ```text
//! LINKTYPE: 1 (Ethernet)
//! -- 1 --
//! TIME: 1624768195.956720 Sun Jun 27 04:29:55 2021
//! SIZE: 42/42
//! 000000: FF FF FF FF  FF FF 08 00  27 20 E8 38  08 06 00 01 : ........ ' .8....
//! 000010: 08 00 06 04  00 01 08 00  27 20 E8 38  0A 00 02 0F : ........ ' .8....
//! 000020: 00 00 00 00  00 00 0A 00  02 02                    : ........ ..
//! eth.dst:        ff:ff:ff:ff:ff:ff
//! eth.type:       0x0806  # ARP
//! arp.op:         1  # who-has
//! ==
//! ```
//!
//! Writing: one block per packet, hex always, field lines on request (one
//! per field of every layer, named as scripts name them: `ip.ttl`).
//!
//! Reading: the hex lines rebuild the bytes (offsets and the ASCII column
//! are ignored, so bytes may be added or removed freely); then every field
//! line whose value differs from those bytes is applied as an edit, in
//! order, the way a script's assignment is, so the lengths and checksums
//! covering it are recomputed unless the edited line was that length or
//! checksum itself (which pins it). Lines that agree with the bytes change
//! nothing: a dump read back is exactly the bytes that were dumped.
//! pkttools' names (`ETHERNET.TYPE`, `ARP.TARGET_IPADDR`) are read too,
//! from each field table's `pkttools` column. The grammar is in
//! docs/text-format.md.
//!
//! [`TextReader`] streams: it holds one packet's lines at a time, so a
//! pipeline of any length runs in constant memory.

use crate::layers::{self, Field, Input, Kind, Proto, Value};
use crate::packet::{LINKTYPE_ETHERNET, Packet};
use std::fmt::{self, Write as _};
use std::io::{self, BufRead, Write};

/// What a text dump holds besides the hex.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextOptions {
    /// One `layer.field: value` line per field.
    pub fields: bool,
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

/// Appends packet number `n`'s block to `out` (the packet is built first).
pub fn write_block(out: &mut String, n: u64, p: &mut Packet, opts: TextOptions) {
    write_head(out, n, p);
    crate::packet::hexdump_into(out, p.raw_bytes());
    if opts.fields {
        // Field lines describe the layers the bytes dissect to, which is
        // what reading them back sees (a built packet's layers may differ:
        // a fragment's payload, a type field pinned to something else).
        let same = {
            let d = Packet::dissect(p.raw_bytes().to_vec(), p.linktype);
            let same = d.layers().len() == p.layers().len()
                && d.layers()
                    .iter()
                    .zip(p.layers())
                    .all(|(a, b)| a.proto == b.proto && a.off == b.off && a.len == b.len);
            if !same {
                write_fields(out, &d);
            }
            same
        };
        if same {
            write_fields(out, p);
        }
    }
    out.push_str("==\n");
}

/// A block's first lines: `-- N --`, `TIME:` (if the packet has a time) and
/// `SIZE:` (the packet is built first).
pub fn write_head(out: &mut String, n: u64, p: &mut Packet) {
    p.finish();
    let _ = writeln!(out, "-- {n} --");
    if let Some((sec, nsec)) = p.time {
        let _ = writeln!(out, "TIME: {} {}", format_time(sec, nsec), ctime_utc(sec));
    }
    let captured = p.raw_bytes().len();
    let _ = writeln!(out, "SIZE: {captured}/{}", p.wire_len().max(captured));
}

/// `sec.usec` when the time has whole microseconds (as pkttools writes it), else `sec.nsec`.
pub fn format_time(sec: i64, nsec: u32) -> String {
    if nsec.is_multiple_of(1000) {
        format!("{sec}.{:06}", nsec / 1000)
    } else {
        format!("{sec}.{nsec:09}")
    }
}

/// The `LINKTYPE:` line that introduces packets of link type `lt`.
pub fn linktype_line(lt: u32) -> String {
    format!("LINKTYPE: {lt} ({})\n", crate::pcap::linktype_name(lt))
}

/// One packet as text: its block, preceded by a `LINKTYPE:` line unless it is Ethernet.
pub fn to_text(p: &mut Packet, opts: TextOptions) -> String {
    let mut s = String::new();
    if p.linktype != LINKTYPE_ETHERNET {
        s.push_str(&linktype_line(p.linktype));
    }
    write_block(&mut s, 1, p, opts);
    s
}

/// The name a layer has in field lines: its accessor, with `[n]` from the
/// second layer of the same protocol on (`ip[2]` for the IPv4 header quoted
/// in an ICMP error).
fn layer_label(p: &Packet, idx: usize) -> String {
    let proto = p.layers()[idx].proto;
    let nth = p.layers()[..idx]
        .iter()
        .filter(|l| l.proto == proto)
        .count();
    if nth == 0 {
        proto.accessor.to_string()
    } else {
        format!("{}[{}]", proto.accessor, nth + 1)
    }
}

/// Whether a layer's fields are written: not for a layer whose one field
/// is all of its bytes (Raw, Padding), which the hex already is.
fn has_field_lines(proto: &Proto) -> bool {
    !matches!(proto.fields, [f] if matches!(f.kind, Kind::Bytes) && f.off == 0)
}

fn write_fields(out: &mut String, p: &Packet) {
    for idx in 0..p.layers().len() {
        let l = p.layers()[idx];
        if !has_field_lines(l.proto) {
            continue;
        }
        let label = layer_label(p, idx);
        let hdr = p.header(idx);
        for (fi, f) in l.proto.fields.iter().enumerate() {
            if !f.present(hdr) || !p.field_captured(idx, fi) {
                continue;
            }
            if !f.is_var() && f.byte_range(hdr).start >= hdr.len() {
                continue;
            }
            // Written straight into `out`: this runs for every field of
            // every packet of a dump.
            let line_start = out.len();
            out.push_str(&label);
            out.push('.');
            out.push_str(f.name);
            out.push(':');
            // Values line up after 16 columns; a longer name keeps a space.
            pad_to(out, (line_start + 16).max(out.len() + 1));
            let value_start = out.len();
            let v = layers::get_value(f, hdr);
            let name = push_value(out, f, &v);
            let value_end = out.len();
            let checksum = if f.auto == layers::Auto::Chksum {
                p.checksum_status(idx)
            } else {
                None
            };
            if name.is_some() || checksum.is_some() {
                pad_to(out, (value_start + 8).max(value_end + 2));
                out.push_str("# ");
                match (checksum, name) {
                    (Some(st), _) if st.ok => out.push_str("valid"),
                    (Some(st), _) => {
                        let _ = write!(out, "bad, should be {:#06x}", st.correct);
                    }
                    (None, Some(n)) => out.push_str(n),
                    (None, None) => {}
                }
            }
            out.push('\n');
        }
    }
}

fn pad_to(out: &mut String, len: usize) {
    while out.len() < len {
        out.push(' ');
    }
}

/// Appends a field value as a field line writes it (numbers that parse
/// back, flags as letters or names) and returns the enum name that goes in
/// its comment, if any.
fn push_value(out: &mut String, f: &Field, v: &Value) -> Option<&'static str> {
    match (v, &f.kind) {
        (Value::Int(n), Kind::Enum(_)) => {
            let _ = write!(out, "{n}");
            layers::enum_name(f, *n)
        }
        (Value::Int(n), Kind::HexEnum(_)) => {
            let _ = write!(out, "{n:#06x}");
            layers::enum_name(f, *n)
        }
        (Value::Int(n), Kind::Hex) => {
            let digits = f.bits.div_ceil(4) as usize;
            let _ = write!(out, "0x{n:0digits$x}");
            None
        }
        (Value::Int(n), Kind::Flags(names)) => {
            let s = layers::format_flags(names, *n);
            if *n == 0 {
                out.push('0');
            } else if s.contains("0x") {
                let _ = write!(out, "{n:#x}");
            } else {
                out.push_str(&s);
            }
            None
        }
        (Value::Int(n), _) => {
            let _ = write!(out, "{n}");
            None
        }
        (Value::Bytes(b), _) if b.is_empty() => {
            out.push_str("''");
            None
        }
        _ => {
            out.push_str(&layers::format_value(f, v));
            None
        }
    }
}

/// `Sun Jun 27 04:29:55 2021`, in UTC.
pub fn ctime_utc(sec: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = sec.div_euclid(86_400);
    let rem = sec.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{} {} {:2} {:02}:{:02}:{:02} {y}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        d,
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// (year, month 1-12, day 1-31) of a day count since 1970-01-01 (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Writes packets as text to a stream, numbering them and introducing each
/// link type with a `LINKTYPE:` line, as pkttools does.
pub struct TextWriter<W: Write> {
    out: W,
    opts: TextOptions,
    count: u64,
    linktype: Option<u32>,
    buf: String,
}

impl<W: Write> TextWriter<W> {
    pub fn new(out: W, opts: TextOptions) -> TextWriter<W> {
        TextWriter {
            out,
            opts,
            count: 0,
            linktype: None,
            buf: String::new(),
        }
    }

    /// Writes one packet's block (built first).
    pub fn write(&mut self, p: &mut Packet) -> io::Result<()> {
        self.buf.clear();
        if self.linktype != Some(p.linktype) {
            self.buf.push_str(&linktype_line(p.linktype));
            self.linktype = Some(p.linktype);
        }
        self.count += 1;
        write_block(&mut self.buf, self.count, p, self.opts);
        self.out.write_all(self.buf.as_bytes())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Packets written so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Changes what the next blocks hold.
    pub fn set_options(&mut self, opts: TextOptions) {
        self.opts = opts;
    }

    pub fn options(&self) -> TextOptions {
        self.opts
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// A line of text that does not describe a packet: where, why, and what
/// would (boxed: errors stay small on the happy path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextError(Box<TextErrorDetail>);

impl std::ops::Deref for TextError {
    type Target = TextErrorDetail;
    fn deref(&self) -> &TextErrorDetail {
        &self.0
    }
}

impl From<TextErrorDetail> for TextError {
    fn from(d: TextErrorDetail) -> TextError {
        TextError(Box::new(d))
    }
}

/// What a [`TextError`] says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextErrorDetail {
    /// The file (or `<stdin>`, `<text>`).
    pub name: String,
    /// 1-based line number (0: an I/O error, no line).
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
    /// Characters the problem spans (at least 1).
    pub len: usize,
    /// The offending line.
    pub text: String,
    /// Byte offset of the line in the input.
    pub line_offset: usize,
    pub message: String,
    pub help: Option<String>,
}

impl fmt::Display for TextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.name, self.message)
        } else {
            write!(
                f,
                "{} (at {}:{}:{})",
                self.message, self.name, self.line, self.col
            )
        }
    }
}

impl std::error::Error for TextError {}

impl TextError {
    fn byte_span(&self) -> (usize, usize) {
        let start: usize = self
            .text
            .chars()
            .take(self.col.saturating_sub(1))
            .map(char::len_utf8)
            .sum();
        let len: usize = self
            .text
            .chars()
            .skip(self.col.saturating_sub(1))
            .take(self.len.max(1))
            .map(char::len_utf8)
            .sum();
        (self.line_offset + start, len)
    }
}

impl miette::Diagnostic for TextError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new("pktscript::text"))
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        (self.line > 0).then_some(self as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        if self.line == 0 {
            return None;
        }
        let (off, len) = self.byte_span();
        Some(Box::new(std::iter::once(miette::LabeledSpan::at(
            off..off + len,
            "here",
        ))))
    }
}

/// The offending line alone, numbered as it is in the input, so a report
/// on a stream needs no copy of everything before it.
impl miette::SourceCode for TextError {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        before: usize,
        _after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        // Without context lines miette asks for the span itself (to name
        // its line and column in the header): start there. With context,
        // the whole line, as miette's own sources give it.
        let (start, col) = if before == 0 {
            let mut at = span
                .offset()
                .saturating_sub(self.line_offset)
                .min(self.text.len());
            while !self.text.is_char_boundary(at) {
                at -= 1;
            }
            (at, self.text[..at].chars().count())
        } else {
            (0, 0)
        };
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.clone(),
            &self.text.as_bytes()[start..],
            (self.line_offset + start, self.text.len() - start).into(),
            self.line.saturating_sub(1),
            col,
            1,
        )))
    }
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

/// The longest line read, without its line end (64 KiB): the longest a
/// packet needs is a field line with a long option list, a few KiB (28 KiB
/// for an IPv6 option header of 2,046 Pad1 options, the most there can be);
/// a hex line is 75 characters. A longer line is an error, found without
/// holding more than this much of it.
pub const MAX_LINE: usize = 64 * 1024;

/// The most bytes one block may give a packet: as many as a capture record
/// may hold ([`crate::pcap::MAX_RECORD`]).
pub const MAX_PACKET: usize = crate::pcap::MAX_RECORD as usize;

/// The most text the field lines of one block may hold together (16 MiB,
/// far more than every field of the largest packet).
pub const MAX_FIELD_TEXT: usize = 16 << 20;

/// One line as read, for error reports.
#[derive(Debug, Clone)]
struct Line {
    no: usize,
    offset: usize,
    text: String,
}

impl Line {
    /// An error at byte range `at` of this line.
    fn err(
        &self,
        name: &str,
        at: std::ops::Range<usize>,
        message: impl Into<String>,
        help: Option<String>,
    ) -> TextError {
        // On character boundaries, whatever the range says.
        let boundary = |mut i: usize| {
            i = i.min(self.text.len());
            while !self.text.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        let start = boundary(at.start);
        let end = boundary(at.end).max(start);
        TextErrorDetail {
            name: name.to_string(),
            line: self.no,
            col: self.text[..start].chars().count() + 1,
            len: self.text[start..end].chars().count().max(1),
            text: self.text.clone(),
            line_offset: self.offset,
            message: message.into(),
            help,
        }
        .into()
    }
}

/// A field line waiting for the bytes: layer, occurrence, field, value, where.
#[derive(Debug)]
struct FieldLine {
    line: Line,
    layer: std::ops::Range<usize>,
    nth: usize,
    field: std::ops::Range<usize>,
    value: std::ops::Range<usize>,
}

/// The packet being read.
#[derive(Debug, Default)]
struct Block {
    start: Option<Line>,
    bytes: Vec<u8>,
    any_hex: bool,
    time: Option<(i64, u32)>,
    size: Option<(usize, usize)>,
    /// The SIZE line, to name it when the hex disagrees.
    size_line: Option<Line>,
    fields: Vec<FieldLine>,
    /// Bytes of text in `fields`.
    field_text: usize,
}

/// Reads packets from text, one block at a time.
pub struct TextReader<R: BufRead> {
    input: R,
    name: String,
    line_no: usize,
    offset: usize,
    /// Where the line in `buf` starts.
    line_offset: usize,
    linktype: u32,
    buf: String,
    done: bool,
    count: u64,
    saw_fields: bool,
}

impl<R: BufRead> TextReader<R> {
    /// A reader of `input`; `name` is what error reports call it.
    pub fn new(input: R, name: &str) -> TextReader<R> {
        TextReader {
            input,
            name: name.to_string(),
            line_no: 0,
            offset: 0,
            line_offset: 0,
            linktype: LINKTYPE_ETHERNET,
            buf: String::new(),
            done: false,
            count: 0,
            saw_fields: false,
        }
    }

    /// Packets read so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Whether a packet read so far had field lines (so a tool in the
    /// middle of a pipeline keeps writing them).
    pub fn saw_fields(&self) -> bool {
        self.saw_fields
    }

    /// An error about the input as a whole (no line to show).
    fn input_error(&self, message: String, help: Option<String>) -> TextError {
        TextErrorDetail {
            name: self.name.clone(),
            line: 0,
            col: 0,
            len: 0,
            text: String::new(),
            line_offset: self.offset,
            message,
            help,
        }
        .into()
    }

    /// Reads the next line into the buffer; false at the end. A line is
    /// read in the input's chunks and never held past [`MAX_LINE`] bytes.
    fn fill_line(&mut self) -> Result<bool, TextError> {
        let mut bytes = std::mem::take(&mut self.buf).into_bytes();
        bytes.clear();
        let no = self.line_no + 1;
        let too_long = |this: &Self| {
            this.input_error(
                format!("line {no} is longer than {MAX_LINE} bytes, the longest line read"),
                Some(format!(
                    "a packet's lines are short (a hex line is 75 characters, the longest field \
                     line a few KiB): is this a text dump? (it has no line end within the first \
                     {} KiB of line {no})",
                    MAX_LINE / 1024
                )),
            )
        };
        loop {
            let avail = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.input_error(format!("cannot read: {e}"), None)),
            };
            if avail.is_empty() {
                break;
            }
            let (take, end) = match avail.iter().position(|&c| c == b'\n') {
                Some(i) => (i + 1, true),
                None => (avail.len(), false),
            };
            // The line and its "\r\n", at most.
            if bytes.len() + take > MAX_LINE + 2 {
                return Err(too_long(self));
            }
            bytes.extend_from_slice(&avail[..take]);
            self.input.consume(take);
            if end {
                break;
            }
        }
        let n = bytes.len();
        if n == 0 {
            self.buf = String::new();
            return Ok(false);
        }
        let content = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
        if content.strip_suffix(b"\r").unwrap_or(content).len() > MAX_LINE {
            return Err(too_long(self));
        }
        self.buf = match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => {
                let bad = e.utf8_error().valid_up_to();
                let b = e.as_bytes();
                let head: Vec<String> = b.iter().take(8).map(|c| format!("{c:02x}")).collect();
                return Err(self.input_error(
                    format!(
                        "line {no} is not UTF-8 text: its byte {} is 0x{:02x} (the line starts \
                         with the bytes {})",
                        bad + 1,
                        b.get(bad).copied().unwrap_or(0),
                        head.join(" ")
                    ),
                    Some(
                        "is this a capture file? pcap and pcapng are read by read_pcap, or by \
                         the shell tools, which tell them apart by their first bytes"
                            .to_string(),
                    ),
                ));
            }
        };
        self.line_no = no;
        self.line_offset = self.offset;
        self.offset += n;
        Ok(true)
    }

    /// The error for a block whose hex has grown past [`MAX_PACKET`].
    fn too_big(&self, b: &Block, line: &Line) -> TextError {
        let what = match &b.start {
            Some(s) => format!("the packet begun at line {}", s.no),
            None => "this packet".to_string(),
        };
        line.err(
            &self.name,
            0..line.text.len(),
            format!(
                "{what} holds more than {MAX_PACKET} bytes, the most a packet may hold (as many as a capture record)"
            ),
            Some("is a `==` line missing between two packets?".into()),
        )
    }

    /// The line in the buffer, as its own `Line`.
    fn current_line(&self) -> Line {
        Line {
            no: self.line_no,
            offset: self.line_offset,
            text: self.buf.trim_end_matches(['\n', '\r']).to_string(),
        }
    }

    /// The next packet, or `None` at the end of the text.
    pub fn read_packet(&mut self) -> Result<Option<Packet>, TextError> {
        if self.done {
            return Ok(None);
        }
        let mut block: Option<Block> = None;
        loop {
            // Hex lines, most of a dump, go straight from the read buffer
            // into the packet; other lines become a `Line` of their own.
            if !self.fill_line()? {
                self.done = true;
                return match block {
                    Some(b) => self.finish_block(b, None).map(Some),
                    None => Ok(None),
                };
            }
            let text = self.buf.trim_end_matches(['\n', '\r']);
            if let Some(from) = hex_line_start(text) {
                let b = block.get_or_insert_with(Block::default);
                if let Err(bad) = parse_hex_bytes(&mut b.bytes, text, from) {
                    return Err(self.hex_error(&self.current_line(), bad));
                }
                b.any_hex = true;
                if b.bytes.len() > MAX_PACKET {
                    return Err(self.too_big(b, &self.current_line()));
                }
                continue;
            }
            let line = self.current_line();
            let t = line.text.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            if let Some(rest) = t.strip_prefix("LINKTYPE:") {
                if let Some(b) = &block {
                    return Err(self.unclosed(b, &line));
                }
                self.linktype = self.parse_linktype(&line, rest)?;
                continue;
            }
            if t.starts_with("--") && t.ends_with("--") && t.len() >= 4 {
                if let Some(b) = &block {
                    return Err(self.unclosed(b, &line));
                }
                block = Some(Block {
                    start: Some(line),
                    ..Block::default()
                });
                continue;
            }
            if t == "==" {
                return match block {
                    Some(b) => self.finish_block(b, Some(&line)).map(Some),
                    None => Err(line.err(
                        &self.name,
                        0..line.text.len(),
                        "`==` ends a packet, but no packet was begun",
                        Some(
                            "a packet starts with a `-- N --` line (or its first hex line)".into(),
                        ),
                    )),
                };
            }
            let b = block.get_or_insert_with(Block::default);
            self.read_line_into(b, line)?;
        }
    }

    fn unclosed(&self, b: &Block, line: &Line) -> TextError {
        let what = match &b.start {
            Some(s) => format!("the packet begun at line {}", s.no),
            None => "the packet before it".to_string(),
        };
        line.err(
            &self.name,
            0..line.text.len(),
            format!("{what} is not closed"),
            Some("end each packet with a line holding only `==`".into()),
        )
    }

    fn parse_linktype(&self, line: &Line, rest: &str) -> Result<u32, TextError> {
        let word = rest.split_whitespace().next().unwrap_or("");
        let at = line.text.find(word).unwrap_or(0);
        match layers::parse_int_str(word).and_then(|v| u32::try_from(v).ok()) {
            Some(v) => Ok(v),
            None => Err(line.err(
                &self.name,
                at..at + word.len(),
                format!("{word:?} is not a link type number"),
                Some("write LINKTYPE: 1 (Ethernet); the name in parentheses is optional".into()),
            )),
        }
    }

    /// Sorts one line of a packet into the block.
    fn read_line_into(&self, b: &mut Block, line: Line) -> Result<(), TextError> {
        let t = &line.text;
        let lead = t.len() - t.trim_start().len();
        let body = t.trim_start();
        if let Some(rest) = body.strip_prefix("TIME:") {
            b.time = self.parse_time(&line, lead + 5, rest)?;
            return Ok(());
        }
        if let Some(rest) = body.strip_prefix("SIZE:") {
            let size = self.parse_size(&line, lead + 5, rest)?;
            // The hex that follows fills this without growing the buffer.
            b.bytes.reserve(size.0.min(MAX_PACKET));
            b.size = Some(size);
            b.size_line = Some(line);
            return Ok(());
        }
        let Some(colon) = body.find(':') else {
            return Err(self.unknown_line(&line));
        };
        let head = &body[..colon];
        if !head.is_empty() && head.bytes().all(|c| c.is_ascii_hexdigit()) {
            return self.parse_hex(b, &line, lead + colon + 1);
        }
        if let Some(dot) = head.find('.') {
            let layer_text = &head[..dot];
            let field_text = head[dot + 1..].trim_end();
            let (lname, nth) = match layer_text.split_once('[') {
                Some((n, rest)) => {
                    let num = rest.strip_suffix(']').and_then(|x| x.parse::<usize>().ok());
                    match num {
                        Some(k) if k >= 1 => (n.len(), k),
                        _ => {
                            let s = lead + n.len();
                            return Err(line.err(
                                &self.name,
                                s..lead + dot,
                                format!("{:?} is not a layer occurrence", &layer_text[n.len()..]),
                                Some(
                                    "write [2] for the second layer of a protocol, as in ip[2].src"
                                        .into(),
                                ),
                            ));
                        }
                    }
                }
                None => (layer_text.len(), 1),
            };
            let vstart = lead + colon + 1;
            let vlen = t[vstart..].len();
            b.field_text += line.text.len();
            if b.field_text > MAX_FIELD_TEXT {
                return Err(line.err(
                    &self.name,
                    0..line.text.len(),
                    format!(
                        "this packet's field lines hold more than {} MiB of text",
                        MAX_FIELD_TEXT >> 20
                    ),
                    Some("is a `==` line missing between two packets?".into()),
                ));
            }
            b.fields.push(FieldLine {
                layer: lead..lead + lname,
                nth,
                field: lead + dot + 1..lead + dot + 1 + field_text.len(),
                value: vstart..vstart + vlen,
                line,
            });
            return Ok(());
        }
        Err(self.unknown_line(&line))
    }

    fn unknown_line(&self, line: &Line) -> TextError {
        line.err(
            &self.name,
            0..line.text.trim_end().len(),
            "not a line of a packet",
            Some(
                "a packet holds TIME:, SIZE:, hex lines (`000010: 08 00 ...`) and field lines (`ip.ttl: 64`); pkt-analyze output holds no bytes and cannot be read back"
                    .into(),
            ),
        )
    }

    fn parse_time(
        &self,
        line: &Line,
        at: usize,
        rest: &str,
    ) -> Result<Option<(i64, u32)>, TextError> {
        let lead = rest.len() - rest.trim_start().len();
        let word = rest.split_whitespace().next().unwrap_or("");
        if word.is_empty() {
            return Ok(None);
        }
        let start = at + lead;
        let bad = || {
            line.err(
                &self.name,
                start..start + word.len(),
                format!("{word:?} is not a time"),
                Some("write seconds since the epoch with up to 9 decimals, like 1624768195.956720 (the date after it is ignored)".into()),
            )
        };
        let (s, frac) = word.split_once('.').unwrap_or((word, ""));
        let sec: i64 = s.parse().map_err(|_| bad())?;
        if frac.len() > 9 || !frac.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let mut nsec: u32 = 0;
        for (i, c) in frac.bytes().enumerate() {
            nsec += u32::from(c - b'0') * 10u32.pow(8 - i as u32);
        }
        Ok(Some((sec, nsec)))
    }

    fn parse_size(&self, line: &Line, at: usize, rest: &str) -> Result<(usize, usize), TextError> {
        let lead = rest.len() - rest.trim_start().len();
        let word = rest.trim();
        let start = at + lead;
        let parsed = word.split_once('/').and_then(|(a, b)| {
            Some((
                a.trim().parse::<usize>().ok()?,
                b.trim().parse::<usize>().ok()?,
            ))
        });
        match parsed {
            Some((c, _)) if c > MAX_PACKET => Err(line.err(
                &self.name,
                start..start + word.len(),
                format!("SIZE {c} is more than the {MAX_PACKET} bytes a packet may hold"),
                Some("a packet holds at most as many bytes as a capture record (256 KiB)".into()),
            )),
            Some((c, o)) if o >= c => Ok((c, o)),
            _ => Err(line.err(
                &self.name,
                start..start + word.len(),
                format!("{word:?} is not a size"),
                Some(
                    "write SIZE: captured/original, like 42/42 (original at least captured)".into(),
                ),
            )),
        }
    }

    /// Appends a hex line's bytes: tokens after the offset up to a lone `:`
    /// (the ASCII column) or the end of the line.
    fn parse_hex(&self, b: &mut Block, line: &Line, from: usize) -> Result<(), TextError> {
        parse_hex_bytes(&mut b.bytes, &line.text, from).map_err(|bad| self.hex_error(line, bad))?;
        b.any_hex = true;
        if b.bytes.len() > MAX_PACKET {
            return Err(self.too_big(b, line));
        }
        Ok(())
    }

    fn hex_error(&self, line: &Line, bad: BadHex) -> TextError {
        let t = &line.text;
        match bad {
            BadHex::Digit(at) => {
                let c = t[at..].chars().next().unwrap_or(' ');
                line.err(
                    &self.name,
                    at..at + c.len_utf8(),
                    format!("{c:?} is not a hex digit"),
                    Some("bytes are pairs of hex digits (0-9, A-F), separated by spaces; the ASCII column follows a lone `:`".into()),
                )
            }
            BadHex::Odd(r) => line.err(
                &self.name,
                r.clone(),
                format!("{:?} is an odd number of hex digits", &t[r]),
                Some("each byte is two hex digits: write 0A, not A".into()),
            ),
        }
    }

    /// Builds the packet: the bytes, then the field lines that differ from them.
    fn finish_block(&mut self, b: Block, end: Option<&Line>) -> Result<Packet, TextError> {
        if !b.any_hex && b.size.is_some_and(|(cap, _)| cap == 0) {
            // An empty packet: its block has SIZE: 0/N and no hex lines.
        } else if !b.any_hex {
            let l = end.or(b.start.as_ref()).cloned().unwrap_or(Line {
                no: self.line_no,
                offset: self.offset,
                text: String::new(),
            });
            return Err(l.err(
                &self.name,
                0..l.text.len(),
                "this packet has no hex lines",
                Some("the bytes are the packet: write them as hex lines (`000000: FF FF ...`) before the field lines".into()),
            ));
        }
        // SIZE, when given, must agree with the hex: pkttools would pad a
        // short packet with zeros or drop the hex past SIZE, both silent
        // changes, so the disagreement is an error instead.
        if let (Some((cap, orig)), Some(sl)) = (b.size, &b.size_line)
            && cap != b.bytes.len()
        {
            let len = b.bytes.len();
            let at = sl.text.find("SIZE:").map_or(0, |i| i + 5);
            let lead = sl.text[at..].len() - sl.text[at..].trim_start().len();
            let digits = sl.text[at + lead..]
                .bytes()
                .take_while(u8::is_ascii_digit)
                .count();
            let fix = if orig == cap { len } else { orig.max(len) };
            return Err(sl.err(
                &self.name,
                at + lead..at + lead + digits,
                format!(
                    "SIZE says {cap} bytes were captured, but the hex lines of this packet hold {len}"
                ),
                Some(format!(
                    "the hex is the packet: write SIZE: {len}/{fix} to keep it, or delete the SIZE \
                     line to take the hex as it is (nothing is padded or cut to fit)"
                )),
            ));
        }
        let mut p = Packet::dissect(b.bytes, self.linktype);
        p.time = b.time;
        if let Some((_, orig)) = b.size {
            p.set_orig_len(u32::try_from(orig).unwrap_or(u32::MAX));
        }
        if !b.fields.is_empty() {
            self.saw_fields = true;
            // Lines are compared with the hex's packet, so a line that an
            // earlier edit made stale (the old ICMP layout's fields after a
            // type change) is not taken for an edit.
            let orig = p.clone();
            for fl in &b.fields {
                self.apply_field(&orig, &mut p, fl)?;
            }
        }
        self.count += 1;
        Ok(p)
    }

    fn apply_field(&self, orig: &Packet, p: &mut Packet, fl: &FieldLine) -> Result<(), TextError> {
        let line = &fl.line;
        let lname = &line.text[fl.layer.clone()];
        let fname = &line.text[fl.field.clone()];
        let idx = find_layer(orig, lname, fl.nth).ok_or_else(|| {
            let present = orig.layer_names().join(" / ");
            let (msg, help) = match layers::find_proto(lname) {
                Some(proto) if fl.nth > 1 => (
                    format!("this packet has no {} layer number {}", proto.name, fl.nth),
                    format!("its layers are: {present}"),
                ),
                Some(proto) => (
                    format!("this packet has no {} layer", proto.name),
                    format!("its layers are: {present}; the hex decides the layers"),
                ),
                None => {
                    let names = layers::REGISTRY.iter().flat_map(|p| [p.accessor, p.name]);
                    let mut h = format!("its layers are: {present}");
                    if let Some(c) = layers::closest(lname, names) {
                        h = format!("did you mean `{c}`? {h}");
                    }
                    (format!("`{lname}` is not a layer"), h)
                }
            };
            line.err(&self.name, fl.layer.clone(), msg, Some(help))
        })?;
        let proto = orig.layers()[idx].proto;
        let hdr = orig.header(idx);
        let fi = find_field(proto, fname, hdr).ok_or_else(|| {
            let e = crate::packet::unknown_field(proto, fname, hdr);
            line.err(&self.name, fl.field.clone(), e.message, e.help)
        })?;
        let f = &proto.fields[fi];
        let raw = &line.text[fl.value.clone()];
        let (vtext, vrange) = value_text(raw, fl.value.start);
        let verr = |e: layers::FieldError| line.err(&self.name, vrange.clone(), e.message, e.help);
        let blob;
        let input = match f.kind {
            Kind::Bytes => {
                blob = parse_blob(vtext).map_err(verr)?;
                Input::Bytes(&blob)
            }
            _ => Input::Str(strip_note(vtext)),
        };
        let value = layers::parse_value(proto, f, &input).map_err(verr)?;
        if orig.field_captured(idx, fi) && layers::same_value(f, &layers::get_value(f, hdr), &value)
        {
            return Ok(());
        }
        // The field as the edited header lays it out now.
        let fi = find_field(proto, fname, p.header(idx)).unwrap_or(fi);
        p.set(idx, fi, &input).map_err(verr)
    }
}

impl<R: BufRead> Iterator for TextReader<R> {
    type Item = Result<Packet, TextError>;
    fn next(&mut self) -> Option<Self::Item> {
        match self.read_packet() {
            Ok(Some(p)) => Some(Ok(p)),
            Ok(None) => None,
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// What is wrong on a hex line: a character that is no hex digit (at this
/// byte), or a run of an odd number of digits.
#[derive(Debug)]
enum BadHex {
    Digit(usize),
    Odd(std::ops::Range<usize>),
}

/// Each byte's value as a hex digit, 0xff for the rest.
static NIBBLE: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Appends the bytes of a hex line from byte `from` on: runs of hex digits
/// separated by white space, up to a lone `:` (the ASCII column) or the end.
fn parse_hex_bytes(out: &mut Vec<u8>, t: &str, from: usize) -> Result<(), BadHex> {
    let s = t.as_bytes();
    let mut i = from;
    while i < s.len() {
        let c = s[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b':' && s.get(i + 1).is_none_or(|n| n.is_ascii_whitespace()) {
            break;
        }
        let start = i;
        let mut high: Option<u8> = None;
        while i < s.len() && !s[i].is_ascii_whitespace() {
            let v = NIBBLE[s[i] as usize];
            if v == 0xff {
                return Err(BadHex::Digit(i));
            }
            match high.take() {
                None => high = Some(v),
                Some(h) => out.push(h << 4 | v),
            }
            i += 1;
        }
        if high.is_some() {
            return Err(BadHex::Odd(start..i));
        }
    }
    Ok(())
}

/// Where the bytes of a hex line start (after its offset's `:`), if it is one.
fn hex_line_start(t: &str) -> Option<usize> {
    let lead = t.len() - t.trim_start().len();
    let body = &t.as_bytes()[lead..];
    let colon = body.iter().position(|&c| c == b':')?;
    (colon > 0 && body[..colon].iter().all(u8::is_ascii_hexdigit)).then_some(lead + colon + 1)
}

/// The `nth` (1-based) layer named `name` (accessor, protocol name or alias, any case).
fn find_layer(p: &Packet, name: &str, nth: usize) -> Option<usize> {
    p.layers()
        .iter()
        .enumerate()
        .filter(|(_, l)| l.proto.is_named(name))
        .nth(nth - 1)
        .map(|(i, _)| i)
}

/// A field by our name or pkttools', in any case; the one present in this header first.
fn find_field(proto: &Proto, name: &str, hdr: &[u8]) -> Option<usize> {
    let fields = proto.fields;
    fields
        .iter()
        .position(|f| f.answers_to(name) && f.present(hdr))
        .or_else(|| fields.iter().position(|f| f.answers_to(name)))
}

/// The value of a field line without its comment (` # ...`), trimmed, and its range.
fn value_text(raw: &str, base: usize) -> (&str, std::ops::Range<usize>) {
    let mut end = raw.len();
    let b = raw.as_bytes();
    for i in 0..b.len() {
        if b[i] == b'#' && (i == 0 || b[i - 1].is_ascii_whitespace()) {
            end = i;
            break;
        }
    }
    let v = &raw[..end];
    let lead = v.len() - v.trim_start().len();
    let t = v.trim();
    (t, base + lead..base + lead + t.len().max(1))
}

/// `8 (echo-request)` as `show()` prints it reads as `8`.
fn strip_note(v: &str) -> &str {
    if !v.ends_with(')') {
        return v;
    }
    match v.find(" (") {
        Some(i) if v.ends_with(')') => v[..i].trim_end(),
        _ => v,
    }
}

/// Bytes written as `0x0102...`, `''` (none) or a quoted string.
fn parse_blob(v: &str) -> Result<Vec<u8>, layers::FieldError> {
    if v == "''" || v == "\"\"" {
        return Ok(Vec::new());
    }
    if v.len() >= 2
        && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\'')))
    {
        return Ok(v.as_bytes()[1..v.len() - 1].to_vec());
    }
    let hex = v
        .strip_prefix("0x")
        .or_else(|| v.strip_prefix("0X"))
        .ok_or_else(|| {
            layers::FieldError::new(format!("{v:?} is not a byte string"))
                .help("write bytes as 0x followed by hex digits (0x0204ffff), '' for none, or a quoted string")
        })?;
    let hex: String = hex.chars().filter(|c| !c.is_whitespace()).collect();
    if hex.len() % 2 == 1 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(
            layers::FieldError::new(format!("{v:?} is not a byte string"))
                .help("after 0x come pairs of hex digits, two per byte"),
        );
    }
    Ok((0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0))
        .collect())
}

/// Every packet of a text (errors name `name`).
pub fn parse_text(text: &str, name: &str) -> Result<Vec<Packet>, TextError> {
    TextReader::new(text.as_bytes(), name).collect()
}

/// Every packet of a text file.
pub fn read_file(path: &std::path::Path) -> Result<Vec<Packet>, TextError> {
    let f = std::fs::File::open(path).map_err(|e| io_error(&path.display().to_string(), &e))?;
    TextReader::new(io::BufReader::new(f), &path.display().to_string()).collect()
}

/// Writes packets to a text file, which replaces `path` only once complete
/// (see [`crate::output`]): on an error `path` keeps what it had.
pub fn write_file(
    path: &std::path::Path,
    packets: &mut [Packet],
    opts: TextOptions,
) -> Result<(), TextError> {
    use crate::output::{AtomicFile, Output, finish_buffered};
    let name = path.display().to_string();
    let failed = |e: io::Error| -> TextError {
        TextErrorDetail {
            message: format!("cannot write: {e}"),
            help: Some("check that the disk is not full; the file keeps what it had".to_string()),
            ..(*io_error(&name, &e)).clone()
        }
        .into()
    };
    let f = AtomicFile::create(path).map_err(|e| io_error(&name, &e))?;
    let mut w = TextWriter::new(io::BufWriter::new(Output::File(f)), opts);
    for p in packets {
        w.write(p).map_err(failed)?;
    }
    finish_buffered(w.into_inner()).map_err(failed)
}

/// An I/O error on `name`, as a text error with no line.
pub fn io_error(name: &str, e: &io::Error) -> TextError {
    let help = match e.kind() {
        io::ErrorKind::NotFound => {
            Some("check the path; it is relative to the current directory".to_string())
        }
        io::ErrorKind::PermissionDenied => Some("check the file's permissions".to_string()),
        _ => None,
    };
    TextErrorDetail {
        name: name.to_string(),
        line: 0,
        col: 0,
        len: 0,
        text: String::new(),
        line_offset: 0,
        message: format!("cannot open: {e}"),
        help,
    }
    .into()
}

/// A pkttools-style field test, `ARP.OPERATION==2` or `ip.ttl != 64`
/// (several joined by `&&`): true when the packet has the field and the
/// comparison holds. Values are read as field lines read them.
#[derive(Debug, Clone)]
pub struct FieldTest {
    terms: Vec<(String, usize, String, bool, String)>,
}

impl FieldTest {
    /// `None` when `expr` is not a field comparison at all (a tcpdump
    /// expression, say); an error when it is one that cannot hold.
    pub fn parse(expr: &str) -> Option<Result<FieldTest, String>> {
        let mut terms = Vec::new();
        for part in expr.split("&&") {
            let (lhs, rhs, eq) = if let Some((l, r)) = part.split_once("==") {
                (l, r, true)
            } else if let Some((l, r)) = part.split_once("!=") {
                (l, r, false)
            } else {
                return None;
            };
            let (layer, field) = lhs.trim().split_once('.')?;
            let ok_name = |s: &str| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '[' | ']'))
            };
            if !ok_name(layer) || !ok_name(field) || rhs.trim().is_empty() {
                return None;
            }
            let (lname, nth) = match layer.split_once('[') {
                Some((n, k)) => match k.strip_suffix(']').and_then(|k| k.parse().ok()) {
                    Some(k) if k >= 1 => (n, k),
                    _ => {
                        return Some(Err(format!(
                            "{layer:?} is not a layer: write ip[2] for the second IPv4 header"
                        )));
                    }
                },
                None => (layer, 1),
            };
            let Some(proto) = layers::find_proto(lname) else {
                return Some(Err(format!("`{lname}` is not a layer")));
            };
            let rhs_t = rhs.trim();
            if let Some(f) = proto.fields.iter().find(|f| f.answers_to(field)) {
                let checked = match f.kind {
                    Kind::Bytes => parse_blob(rhs_t).map(|_| ()),
                    _ => layers::parse_value(proto, f, &Input::Str(rhs_t)).map(|_| ()),
                };
                if let Err(e) = checked {
                    let help = e.help.map(|h| format!(" ({h})")).unwrap_or_default();
                    return Some(Err(format!("{}{help}", e.message)));
                }
            } else {
                let names: Vec<&str> = proto.fields.iter().map(|f| f.name).collect();
                return Some(Err(format!(
                    "{} has no field `{field}` (fields: {})",
                    proto.name,
                    names.join(", ")
                )));
            }
            terms.push((
                lname.to_string(),
                nth,
                field.to_string(),
                eq,
                rhs.trim().to_string(),
            ));
        }
        Some(Ok(FieldTest { terms }))
    }

    /// Whether every comparison holds for `p`.
    pub fn matches(&self, p: &Packet) -> bool {
        self.terms.iter().all(|(lname, nth, fname, eq, value)| {
            let Some(idx) = find_layer(p, lname, *nth) else {
                return false;
            };
            let proto = p.layers()[idx].proto;
            let hdr = p.header(idx);
            let Some(fi) = find_field(proto, fname, hdr) else {
                return false;
            };
            let f = &proto.fields[fi];
            if !f.present(hdr) || !p.field_captured(idx, fi) {
                return false;
            }
            let blob;
            let input = match f.kind {
                Kind::Bytes => match parse_blob(value) {
                    Ok(b) => {
                        blob = b;
                        Input::Bytes(&blob)
                    }
                    Err(_) => return false,
                },
                _ => Input::Str(value),
            };
            match layers::parse_value(proto, f, &input) {
                Ok(v) => layers::same_value(f, &layers::get_value(f, hdr), &v) == *eq,
                Err(_) => false,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_match_the_c_library() {
        assert_eq!(ctime_utc(0), "Thu Jan  1 00:00:00 1970");
        assert_eq!(ctime_utc(1624768195), "Sun Jun 27 04:29:55 2021");
        assert_eq!(ctime_utc(951_782_400), "Tue Feb 29 00:00:00 2000");
        assert_eq!(ctime_utc(-1), "Wed Dec 31 23:59:59 1969");
    }

    #[test]
    fn times_keep_their_precision() {
        assert_eq!(format_time(5, 956_720_000), "5.956720");
        assert_eq!(format_time(5, 956_720_001), "5.956720001");
    }

    #[test]
    fn comments_end_values_only_after_a_space() {
        assert_eq!(value_text("  0x0806  # ARP", 10).0, "0x0806");
        assert_eq!(value_text(" a#b", 0).0, "a#b");
        assert_eq!(strip_note("8 (echo-request)"), "8");
    }
}
