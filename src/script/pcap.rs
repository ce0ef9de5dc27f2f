//! Bindings for reading and writing capture files.

use super::{UserError, err_help, user_err};
use crate::output::AtomicFile;
use crate::packet::Packet;
use crate::pcap::{Format, PcapError, PcapReader, PcapWriter, Record};
use rhai::{Array, Dynamic, Engine, EvalAltResult};
use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

type R<T> = Result<T, Box<EvalAltResult>>;

impl From<PcapError> for UserError {
    fn from(e: PcapError) -> Self {
        use miette::Diagnostic;
        UserError {
            message: e.to_string(),
            help: e.help().map(|h| h.to_string()),
        }
    }
}

/// A packet made from a capture record.
pub fn packet_from_record(rec: Record) -> Packet {
    let mut p = Packet::dissect(rec.data, rec.linktype);
    p.time = Some((rec.ts_sec, rec.ts_nsec));
    p.set_orig_len(rec.orig_len);
    p.capture_raw = rec.raw;
    p
}

/// A capture record made from a packet (built first); packets without a time get the current time.
pub fn record_from_packet(p: &mut Packet) -> Record {
    let (ts_sec, ts_nsec) = p.time.unwrap_or_else(now);
    let data = p.bytes().to_vec();
    Record {
        // As captured while unedited, even below the captured length.
        orig_len: p.orig_len().unwrap_or(data.len() as u32),
        data,
        ts_sec,
        ts_nsec,
        linktype: p.linktype,
        raw: p.capture_raw,
    }
}

fn now() -> (i64, u32) {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs() as i64, d.subsec_nanos())
}

/// `pcap_reader(path)`: iterates a capture file in constant memory.
#[derive(Clone)]
pub struct Reader(
    Rc<RefCell<Option<PcapReader>>>,
    Option<Rc<crate::filter::Filter>>,
);

impl IntoIterator for Reader {
    type Item = R<Packet>;
    type IntoIter = ReaderIter;
    fn into_iter(self) -> ReaderIter {
        ReaderIter(
            self.0,
            crate::progress::Progress::new("packets", None),
            self.1,
        )
    }
}

pub struct ReaderIter(
    Rc<RefCell<Option<PcapReader>>>,
    crate::progress::Progress,
    Option<Rc<crate::filter::Filter>>,
);

impl Iterator for ReaderIter {
    type Item = R<Packet>;
    fn next(&mut self) -> Option<R<Packet>> {
        let mut slot = self.0.borrow_mut();
        let r = slot.as_mut()?;
        let mut rec = Record::default();
        loop {
            match r.next_into(&mut rec) {
                Ok(true) => {
                    self.1.inc(1);
                    if let Some(f) = &self.2 {
                        match record_matches(f, &rec) {
                            Ok(true) => {}
                            Ok(false) => continue,
                            Err(e) => {
                                *slot = None;
                                return Some(Err(e));
                            }
                        }
                    }
                    return Some(Ok(packet_from_record(rec)));
                }
                Ok(false) => {
                    *slot = None;
                    return None;
                }
                Err(e) => {
                    *slot = None;
                    return Some(Err(user_err(e)));
                }
            }
        }
    }
}

/// Whether a filter accepts a record, with the program for the record's
/// link type (compiled when first met); an error when the expression does
/// not apply to that link type, as tcpdump refuses it for the capture.
fn record_matches(f: &crate::filter::Filter, rec: &Record) -> R<bool> {
    f.selects(&rec.data, rec.orig_len, rec.linktype)
        .map_err(|e| super::filter_error(f.source(), &e))
}

/// The filter of `expr`, checked against the link type the capture starts
/// with, so that an expression that cannot apply fails at once.
fn capture_filter(expr: &str, r: &PcapReader) -> R<Rc<crate::filter::Filter>> {
    let f = super::filter_of(expr)?;
    f.program(r.linktype())
        .map_err(|e| super::filter_error(expr, &e))?;
    Ok(f)
}

/// `pcap_writer(path)`: writes packets one at a time to a temporary file
/// beside `path` (see [`crate::output`]), which becomes `path` at
/// `close()`, or when the script ends without an error (see
/// [`RunOutputs`]). Until then `path` keeps what it had.
#[derive(Clone)]
pub struct Writer(Rc<RefCell<WriterState>>);

struct WriterState {
    path: String,
    /// Before the first packet: the file started (so that a bad path is
    /// reported by `pcap_writer`), its header waiting for the first
    /// packet's link type.
    file: Option<AtomicFile>,
    /// From the first packet on.
    writer: Option<PcapWriter>,
    closed: bool,
    /// Whether a run ([`RunOutputs`]) closes or discards it at its end;
    /// otherwise (the interactive session) it is closed when dropped.
    owned: bool,
}

impl WriterState {
    /// Completes the file: renames it over the path (an empty capture of
    /// Ethernet if no packet came).
    fn close(&mut self) -> Result<(), PcapError> {
        self.closed = true;
        if let Some(w) = self.writer.take() {
            return w.close();
        }
        match self.file.take() {
            Some(file) => {
                let format = Format::from_path(Path::new(&self.path));
                PcapWriter::to_file(file, crate::packet::LINKTYPE_ETHERNET, format)?.close()
            }
            None => Ok(()),
        }
    }

    /// Gives up: the temporary file goes, the path keeps what it had.
    fn discard(&mut self) {
        self.closed = true;
        self.writer = None;
        self.file = None;
    }
}

impl Drop for WriterState {
    fn drop(&mut self) {
        if !self.owned
            && !self.closed
            && let Err(e) = self.close()
        {
            eprintln!("{:?}", miette::Report::new(e));
        }
    }
}

thread_local! {
    /// The writers opened by each run in progress, innermost run last.
    static RUNS: RefCell<Vec<Vec<Writer>>> = const { RefCell::new(Vec::new()) };
}

/// The `pcap_writer`s of one script run. A writer belongs to the innermost
/// run in progress when it is opened; when the run ends,
/// [`close_all`](RunOutputs::close_all) closes those the script did not
/// close (each renamed into place), or [`discard_all`](RunOutputs::discard_all)
/// (also what dropping does) gives them up, their paths untouched.
#[must_use]
pub struct RunOutputs {
    depth: usize,
}

impl RunOutputs {
    /// Starts collecting the writers of a run.
    pub fn enter() -> RunOutputs {
        RUNS.with(|r| {
            let mut r = r.borrow_mut();
            r.push(Vec::new());
            RunOutputs { depth: r.len() }
        })
    }

    fn take(&mut self) -> Vec<Writer> {
        let depth = std::mem::take(&mut self.depth);
        if depth == 0 {
            return Vec::new();
        }
        RUNS.with(|r| {
            let mut r = r.borrow_mut();
            let mine = r.get_mut(depth - 1).map(std::mem::take).unwrap_or_default();
            r.truncate(depth - 1);
            mine
        })
    }

    /// Closes every writer still open, in the order they were opened, and
    /// returns the errors (a final flush that failed, a rename refused).
    pub fn close_all(mut self) -> Vec<PcapError> {
        let mut errors = Vec::new();
        for w in self.take() {
            let mut st = w.0.borrow_mut();
            if !st.closed
                && let Err(e) = st.close()
            {
                errors.push(e);
            }
        }
        errors
    }

    /// Gives up every writer still open: their paths keep what they had.
    pub fn discard_all(mut self) {
        for w in self.take() {
            w.0.borrow_mut().discard();
        }
    }
}

impl Drop for RunOutputs {
    fn drop(&mut self) {
        for w in self.take() {
            w.0.borrow_mut().discard();
        }
    }
}

fn open_writer(path: &str) -> R<Writer> {
    // The file is started now, so that a bad path is reported here.
    let file = AtomicFile::create(path).map_err(|e| {
        let mut err = PcapError::new_writing(path, e);
        err.format = Some(Format::from_path(Path::new(path)));
        user_err(err)
    })?;
    let w = Writer(Rc::new(RefCell::new(WriterState {
        path: path.to_string(),
        file: Some(file),
        writer: None,
        closed: false,
        owned: false,
    })));
    RUNS.with(|r| {
        if let Some(run) = r.borrow_mut().last_mut() {
            run.retain(|o| !o.0.borrow().closed);
            run.push(w.clone());
            w.0.borrow_mut().owned = true;
        }
    });
    Ok(w)
}

fn writer_write(w: &Writer, p: &mut Packet) -> R<()> {
    let mut st = w.0.borrow_mut();
    if st.writer.is_none()
        && let Some(file) = st.file.take()
    {
        // The first packet says the file's link type.
        let format = Format::from_path(Path::new(&st.path));
        st.writer = Some(PcapWriter::to_file(file, p.linktype, format).map_err(user_err)?);
    }
    let st = &mut *st;
    match st.writer.as_mut() {
        Some(wr) if !st.closed => write_packet(wr, p).map_err(user_err),
        _ => Err(err_help(
            format!("the pcap writer for {} is closed", st.path),
            "write every packet before close(), or open a new writer with pcap_writer(path)",
        )),
    }
}

/// Writes one packet (built first) straight from its bytes.
pub fn write_packet(w: &mut PcapWriter, p: &mut Packet) -> Result<(), PcapError> {
    let (ts_sec, ts_nsec) = p.time.unwrap_or_else(now);
    p.finish(); // before the length: building may grow the packet (option padding)
    // As captured while unedited, even below the captured length.
    let orig = p.orig_len().unwrap_or(p.wire_len() as u32);
    let linktype = p.linktype;
    w.write_frame_raw(
        p.raw_bytes(),
        ts_sec,
        ts_nsec,
        orig,
        linktype,
        &p.capture_raw,
    )
}

/// Copies a capture, setting fields in every packet that has the layer
/// (`edits` maps "layer.field" to a value); lengths and checksums follow.
/// Returns (packets read, packets changed). The output replaces `output`
/// only once complete (it may be the input itself).
pub fn rewrite(
    input: &str,
    output: &str,
    edits: &[(String, String, super::packet::Owned)],
) -> R<(i64, i64)> {
    let mut r = PcapReader::open(input).map_err(user_err)?;
    let mut w = PcapWriter::create(output, r.linktype()).map_err(user_err)?;
    let mut rec = Record::default();
    let (mut read, mut changed) = (0i64, 0i64);
    let mut progress = crate::progress::Progress::new("packets rewritten", None);
    while r.next_into(&mut rec).map_err(user_err)? {
        // Stopped by a signal: the output is dropped, its path untouched.
        super::check_interrupted()?;
        progress.inc(1);
        let data = std::mem::take(&mut rec.data);
        let mut p = packet_from_record(Record {
            data,
            ..rec.clone()
        });
        let mut any = false;
        for (layer, field, value) in edits {
            if let Some(idx) = p.find(layer) {
                let fi = p.field_index(idx, field).map_err(user_err)?;
                if p.field_present(idx, fi) && p.field_captured(idx, fi) {
                    p.set(idx, fi, &value.input()).map_err(user_err)?;
                    any = true;
                }
            }
        }
        changed += i64::from(any);
        read += 1;
        write_packet(&mut w, &mut p).map_err(user_err)?;
    }
    w.close().map_err(user_err)?;
    Ok((read, changed))
}

/// Writes packets to a file, which replaces `path` only once complete; the
/// link type comes from the first packet.
pub fn write_packets(path: &str, packets: &mut [Packet]) -> Result<usize, PcapError> {
    let linktype = packets
        .first()
        .map(|p| p.linktype)
        .unwrap_or(crate::packet::LINKTYPE_ETHERNET);
    let mut w = PcapWriter::create(path, linktype)?;
    let mut progress =
        crate::progress::Progress::new("packets written", Some(packets.len() as u64));
    for p in packets.iter_mut() {
        if crate::output::interrupted().is_some() {
            // Dropped unclosed: the path keeps what it had.
            return Err(PcapError::new_writing(
                path,
                std::io::Error::new(std::io::ErrorKind::Interrupted, "interrupted by a signal"),
            ));
        }
        write_packet(&mut w, p)?;
        progress.inc(1);
    }
    w.close()?;
    Ok(packets.len())
}

/// The packets of an array, or an error naming the first element that is not one.
pub(crate) fn to_packets(a: Array) -> R<Vec<Packet>> {
    a.into_iter()
        .enumerate()
        .map(|(i, v)| {
            let t = v.type_name().to_string();
            v.try_cast::<Packet>().ok_or_else(|| {
                err_help(
                    format!("element {i} of the array is a {t}, not a packet"),
                    "give an array of packets only (filter it first: a.filter(|x| type_of(x) == \"Packet\"))",
                )
            })
        })
        .collect()
}

pub fn register(e: &mut Engine) {
    e.register_type_with_name::<Reader>("PcapReader")
        .register_iterator_result::<Reader, Packet>()
        .register_type_with_name::<Writer>("PcapWriter");
    e.register_fn("read_pcap", |path: &str| -> R<Array> {
        let r = PcapReader::open(path).map_err(user_err)?;
        let mut out = Array::new();
        let mut progress = crate::progress::Progress::new("packets read", None);
        for rec in r {
            // A capture larger than the memory cap stops here, not at the
            // allocator's ceiling.
            super::limits::check_memory()?;
            out.push(Dynamic::from(packet_from_record(rec.map_err(user_err)?)));
            progress.inc(1);
        }
        Ok(out)
    });
    e.register_fn("pcap_reader", |path: &str| -> R<Reader> {
        let r = PcapReader::open(path).map_err(user_err)?;
        Ok(Reader(Rc::new(RefCell::new(Some(r))), None))
    });
    e.register_fn("pcap_reader", |path: &str, expr: &str| -> R<Reader> {
        super::filter_of(expr)?;
        let r = PcapReader::open(path).map_err(user_err)?;
        let f = capture_filter(expr, &r)?;
        Ok(Reader(Rc::new(RefCell::new(Some(r))), Some(f)))
    });
    e.register_fn("read_pcap", |path: &str, expr: &str| -> R<Array> {
        super::filter_of(expr)?;
        let mut r = PcapReader::open(path).map_err(user_err)?;
        let f = capture_filter(expr, &r)?;
        let mut out = Array::new();
        let mut rec = Record::default();
        while r.next_into(&mut rec).map_err(user_err)? {
            if record_matches(&f, &rec)? {
                super::limits::check_memory()?;
                out.push(Dynamic::from(packet_from_record(std::mem::take(&mut rec))));
            }
        }
        Ok(out)
    });
    e.register_fn("write_pcap", |path: &str, packets: Array| -> R<i64> {
        let mut pk = to_packets(packets)?;
        write_packets(path, &mut pk)
            .map(|n| n as i64)
            .map_err(user_err)
    });
    e.register_fn("write_pcap", |path: &str, p: Packet| -> R<i64> {
        write_packets(path, &mut [p])
            .map(|n| n as i64)
            .map_err(user_err)
    });
    e.register_fn("pcap_writer", open_writer);
    e.register_fn("write", |w: &mut Writer, p: Packet| -> R<()> {
        let mut p = p;
        writer_write(w, &mut p)
    });
    e.register_fn("write", |w: &mut Writer, a: Array| -> R<()> {
        for mut p in to_packets(a)? {
            writer_write(w, &mut p)?;
        }
        Ok(())
    });
    e.register_fn(
        "rewrite_pcap",
        |input: &str, output: &str, edits: rhai::Map| -> R<rhai::Map> {
            let mut list = Vec::new();
            for (k, v) in &edits {
                let Some((layer, field)) = k.split_once('.') else {
                    return Err(err_help(
                        format!("rewrite_pcap: {k:?} is not a \"layer.field\" path"),
                        "write #{\"ip.ttl\": 63}",
                    ));
                };
                if crate::layers::find_proto(layer).is_none() {
                    return Err(err_help(
                        format!("rewrite_pcap: no layer named {layer:?}"),
                        "use a layer name such as ip, tcp, eth",
                    ));
                }
                list.push((
                    layer.to_string(),
                    field.to_string(),
                    super::packet::to_owned_input(v)?,
                ));
            }
            let (read, changed) = rewrite(input, output, &list)?;
            let mut m = rhai::Map::new();
            m.insert("read".into(), Dynamic::from_int(read));
            m.insert("changed".into(), Dynamic::from_int(changed));
            Ok(m)
        },
    );
    e.register_fn("close", |w: &mut Writer| -> R<()> {
        w.0.borrow_mut().close().map_err(user_err)
    });
}
