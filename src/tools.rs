//! The shell subcommands, pkttools-style: `recv`, `send`, `analyze`,
//! `correct`, `check`, `convert`, `filter`.
//!
//! Each reads packets from a file or standard input (text, pcap or pcapng,
//! told apart by their first bytes) and writes them to a file or standard
//! output (text unless a file name or `--to` asks for pcap or pcapng), so
//! they compose with pipes: `pktscript recv eth0 | pktscript filter arp |
//! pktscript analyze`. Each is a thin wrapper over the library calls the
//! script functions use: `text::TextReader`/`TextWriter`, `PcapReader`/
//! `PcapWriter`, `Packet::fix`, `details`, `bad_checksums`, `filter`,
//! `LiveLink` and `net::capture`.

use crate::link::{Link, LiveLink, LiveOptions};
use crate::output::{AtomicFile, Output};
use crate::packet::Packet;
use crate::pcap::{Format, PcapReader, PcapWriter, Record};
use crate::text::{FieldTest, TextOptions, TextReader, TextWriter};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The subcommands' names, for the command line's dispatch.
pub const NAMES: &[&str] = &[
    "recv", "send", "analyze", "correct", "check", "convert", "filter",
];

#[derive(Parser, Debug)]
#[command(name = "pktscript", disable_help_subcommand = true)]
struct ToolCli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Capture packets on an interface and write them as text (or, with -w, to a capture file)
    #[command(
        after_help = "Examples:\n  pktscript recv eth0 arp\n  pktscript recv -i eth0 arp                        (pkt-recv's and tcpdump's way)\n  pktscript recv eth0 -c 10 -w ten.pcap 'icmp and host 198.18.0.2'\n  pktscript recv eth0 'ETHERNET.TYPE==0x0806'      (a pkttools-style field test)\n\nStops after -c packets, -t seconds, or Ctrl-C. Promiscuous mode stays off unless --promisc."
    )]
    Recv(RecvArgs),
    /// Send packets (text, pcap or pcapng from FILE or stdin) on an interface
    #[command(
        after_help = "Examples:\n  pktscript send eth0 probe.txt\n  pktscript recv eth0 -c 5 | pktscript send eth1 --fast\n\nBy default the packets keep their recorded spacing (TIME lines, pcap timestamps)."
    )]
    Send {
        /// The interface to send on (also -i IFACE, as pkt-send takes it), then the input file
        /// (default: standard input)
        #[arg(value_name = "IFACE [FILE]", num_args = 0..=2)]
        words: Vec<String>,
        /// The interface to send on
        #[arg(short = 'i', long = "interface", value_name = "IFACE")]
        interface: Option<String>,
        /// Send as fast as possible, ignoring the recorded times
        #[arg(long, conflicts_with = "pps")]
        fast: bool,
        /// Send N packets per second, ignoring the recorded times
        #[arg(long, value_name = "N")]
        pps: Option<f64>,
        /// Send the whole input this many times
        #[arg(long = "loop", value_name = "N", default_value_t = 1)]
        repeat: u64,
    },
    /// Show every field of every packet (show()), with its summary line
    Analyze {
        /// Input file (default: standard input)
        file: Option<PathBuf>,
    },
    /// Recompute every length and checksum (p.fix()), as pkt-correct does
    Correct {
        #[command(flatten)]
        io: IoArgs,
    },
    /// List the packets whose checksums are wrong; exit status 1 if any
    Check {
        /// Input file (default: standard input)
        file: Option<PathBuf>,
    },
    /// Convert between text, pcap and pcapng (by the output's name, or --to)
    Convert {
        #[command(flatten)]
        io: IoArgs,
        /// Output file (the same as -o)
        #[arg(value_name = "OUTPUT", conflicts_with = "output")]
        out: Option<PathBuf>,
    },
    /// Keep the packets a tcpdump expression (or a field test like arp.op==2) selects
    Filter {
        /// The expression (quote it; several words are joined)
        #[arg(required = true, num_args = 1..)]
        expr: Vec<String>,
        /// Input file (default: standard input; a last EXPR word naming a file is taken as the input too)
        #[arg(short = 'r', long = "read", value_name = "FILE")]
        input: Option<PathBuf>,
        /// Keep the packets the expression does not select
        #[arg(short = 'v', long)]
        invert: bool,
        #[command(flatten)]
        out: OutArgs,
    },
}

#[derive(Args, Debug)]
struct RecvArgs {
    /// The interface to capture on (also -i IFACE, as pkt-recv and tcpdump take it), then a
    /// tcpdump filter expression (several words are joined) or a field test like arp.op==2
    #[arg(value_name = "IFACE [FILTER]")]
    words: Vec<String>,
    /// The interface to capture on
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    interface: Option<String>,
    /// Stop after N packets
    #[arg(short = 'c', long, value_name = "N")]
    count: Option<usize>,
    /// Stop after SECONDS
    #[arg(short = 't', long, value_name = "SECONDS")]
    timeout: Option<f64>,
    /// Write a capture file instead of text (pcap, or pcapng by its name)
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    write: Option<PathBuf>,
    /// Also write one line per field after the hex
    #[arg(short = 'a', long)]
    fields: bool,
    /// Turn promiscuous mode on while capturing
    #[arg(long)]
    promisc: bool,
    /// Direction: in, out or inout (as tcpdump -Q)
    #[arg(short = 'Q', long, value_enum, default_value_t = Dir::Inout)]
    direction: Dir,
    /// Bytes kept of each frame
    #[arg(short = 's', long, value_name = "BYTES", default_value_t = 262_144)]
    snaplen: u32,
}

#[derive(Args, Debug)]
struct IoArgs {
    /// Input file (default: standard input)
    input: Option<PathBuf>,
    #[command(flatten)]
    out: OutArgs,
}

#[derive(Args, Debug, Clone)]
struct OutArgs {
    /// Output file (default: standard output); .pcap and .pcapng names write capture files
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Output format, whatever the name
    #[arg(long = "to", value_enum, value_name = "FORMAT")]
    to: Option<OutFormat>,
    /// Text output: one line per field after the hex
    #[arg(short = 'a', long)]
    fields: bool,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum OutFormat {
    Text,
    Pcap,
    Pcapng,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    In,
    Out,
    Inout,
}

/// Runs `pktscript NAME ARGS...` (`args[0]` is the subcommand); returns the exit status.
pub fn main(args: &[String]) -> u8 {
    let mut argv = vec!["pktscript".to_string()];
    argv.extend(args.iter().cloned());
    let cli = match ToolCli::try_parse_from(&argv) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    match run(cli.cmd) {
        Ok(code) => code,
        Err(report) => {
            eprintln!("{report:?}");
            if report.downcast_ref::<UsageError>().is_some() {
                2
            } else {
                1
            }
        }
    }
}

type Res<T> = Result<T, miette::Report>;

fn run(cmd: Cmd) -> Res<u8> {
    match cmd {
        Cmd::Recv(args) => recv(&args),
        Cmd::Send {
            words,
            interface,
            fast,
            pps,
            repeat,
        } => {
            let (iface, rest) = iface_and_rest(interface, words, "send")?;
            if rest.len() > 1 {
                return Err(usage(
                    "send takes one input file (or none, for standard input)",
                ));
            }
            let file = rest.first().map(PathBuf::from);
            send(&iface, file.as_deref(), fast, pps, repeat)
        }
        Cmd::Analyze { file } => analyze(file.as_deref()),
        Cmd::Correct { io } => pipe(io.input.as_deref(), &io.out, |p| {
            p.fix();
            true
        }),
        Cmd::Check { file } => check(file.as_deref()),
        Cmd::Convert { io, out } => {
            let mut o = io.out.clone();
            if out.is_some() {
                o.output = out;
            }
            pipe(io.input.as_deref(), &o, |_| true)
        }
        Cmd::Filter {
            mut expr,
            mut input,
            invert,
            out,
        } => {
            // `pktscript filter arp x.pcap`: a last word naming a file is the
            // input, as for the other tools (no filter word names a file).
            if input.is_none() && expr.len() > 1 {
                let last = expr.last().map_or("", String::as_str);
                if Path::new(last).is_file() {
                    input = expr.pop().map(PathBuf::from);
                } else if Selector::new(&expr.join(" ")).is_err()
                    && (looks_like_path(last)
                        || (breaks_at_last_word(&expr)
                            && Selector::new(&expr[..expr.len() - 1].join(" ")).is_ok()))
                {
                    // The expression fails at its last word and stands
                    // without it: that word was meant as the input.
                    return Err(missing_input(last));
                }
            }
            match Selector::new(&expr.join(" "))? {
                Selector::Bpf(f, _) => filter_pipe(input.as_deref(), &out, &f, invert),
                sel => pipe(input.as_deref(), &out, |p| sel.selects(p) != invert),
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------

/// Whether a word of a filter expression looks like a file name: it ends
/// in a capture's or a dump's extension, or has a slash and a letter.
fn looks_like_path(w: &str) -> bool {
    let ext = Path::new(w)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    matches!(
        ext.as_str(),
        "pcap" | "pcapng" | "cap" | "txt" | "dump" | "pkt"
    ) || (w.contains('/') && w.bytes().any(|b| b.is_ascii_alphabetic()))
}

/// Whether the expression of `words` fails at its last word (and not after
/// it, as `tcp port` does, short of its number); a field test fails in its
/// value, which the last word is part of.
fn breaks_at_last_word(words: &[String]) -> bool {
    let full = words.join(" ");
    if FieldTest::parse(&full).is_some() {
        return true;
    }
    let start = full.len() - words.last().map_or(0, String::len);
    match crate::filter::Filter::new(&full) {
        Ok(_) => false,
        Err(e) => e.offset >= start && e.offset < full.len(),
    }
}

/// `pktscript filter EXPR FILE` whose FILE is not there.
fn missing_input(word: &str) -> miette::Report {
    let what = if Path::new(word).exists() {
        "is not a file"
    } else {
        "no such file"
    };
    miette::miette!(
        code = "pktscript::input",
        help = "the last word of `pktscript filter EXPR FILE` is the input when it names a file; \
                check the path (relative paths start from the current directory), or give the \
                input with -r FILE",
        "cannot open \"{word}\": {what}"
    )
}

/// Whether the first bytes of an input cannot be text: a NUL or another
/// control character (tab, line ends, form feed and escape aside), or bytes
/// that are not UTF-8, on its first line.
fn looks_binary(head: &[u8]) -> bool {
    let line = head.split(|&b| b == b'\n').next().unwrap_or(head);
    let controls = line
        .iter()
        .any(|&b| b < 0x20 && !matches!(b, b'\t' | b'\r' | 0x0b | 0x0c | 0x1b) || b == 0x7f);
    // A character cut at the end of what has arrived is not an error.
    let bad_utf8 = std::str::from_utf8(line).is_err_and(|e| e.error_len().is_some());
    controls || bad_utf8
}

/// A test of a frame's bytes before dissection: (bytes, wire length, link type).
pub type RawTest<'a> = dyn Fn(&[u8], u32, u32) -> bool + 'a;

/// Packets from text or a capture file, one at a time.
pub enum Source {
    Text(TextReader<BufReader<Box<dyn Read + Send>>>),
    Pcap(PcapReader, Record),
}

impl Source {
    /// Opens `path` (or standard input for `None` or `-`), telling pcap and
    /// pcapng from text by the first bytes.
    pub fn open(path: Option<&Path>) -> Res<Source> {
        if streaming(path) && std::io::IsTerminal::is_terminal(&io::stdin()) {
            eprintln!(
                "pktscript: reading packets from standard input (text, pcap or pcapng); Ctrl-D ends"
            );
        }
        let (mut reader, name): (Box<dyn Read + Send>, String) = match path {
            None => (Box::new(io::stdin()), "<stdin>".to_string()),
            Some(p) if p == Path::new("-") => (Box::new(io::stdin()), "<stdin>".to_string()),
            Some(p) => {
                let name = p.display().to_string();
                let f = std::fs::File::open(p)
                    .map_err(|e| miette::Report::new(crate::text::io_error(&name, &e)))?;
                (Box::new(f), name)
            }
        };
        // The first bytes tell the format: at least the four of a magic
        // number (a pipe may give fewer at a time), without waiting for
        // more than the input has sent.
        let mut head = Vec::new();
        let mut chunk = [0u8; 4096];
        while head.len() < 4 {
            match reader.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => head.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(miette::Report::new(crate::text::io_error(&name, &e))),
            }
        }
        if head.is_empty() && path.is_some_and(|p| p != Path::new("-") && p.is_file()) {
            // A pipe may well carry nothing (a filter that kept nothing);
            // an empty file is no capture, and no text worth converting.
            return Err(miette::miette!(
                code = "pktscript::empty_input",
                help = "a capture file starts with a header (tcpdump calls a file without one a \
                        truncated dump file) and a text dump with its first packet; was the file \
                        still being written, or did the command that made it fail?",
                "\"{name}\" is empty: there is nothing to read in it"
            ));
        }
        let capture = crate::pcap::looks_like_capture(&head);
        if !capture && looks_binary(&head) {
            let mut m = [0u8; 4];
            for (d, s) in m.iter_mut().zip(&head) {
                *d = *s;
            }
            let shown: Vec<String> = head.iter().take(8).map(|b| format!("{b:02x}")).collect();
            let hint = format!(
                "{}; text is the pkttools-style dump of docs/text-format.md",
                crate::pcap::magic_hint(m)
            );
            return Err(miette::miette!(
                code = "pktscript::unknown_format",
                help = hint,
                "\"{name}\" is neither pcap, pcapng nor text: it starts with the bytes {}",
                shown.join(" ")
            ));
        }
        let joined: Box<dyn Read + Send> = Box::new(io::Cursor::new(head).chain(reader));
        let br = BufReader::with_capacity(1 << 16, joined);
        if capture {
            let r = PcapReader::from_reader(Box::new(br), &name)?;
            Ok(Source::Pcap(r, Record::default()))
        } else {
            Ok(Source::Text(TextReader::new(br, &name)))
        }
    }

    /// Whether the input is text with field lines.
    pub fn has_fields(&self) -> bool {
        matches!(self, Source::Text(t) if t.saw_fields())
    }

    /// The next packet, `None` at the end.
    pub fn next_packet(&mut self) -> Res<Option<Packet>> {
        self.next_where(None)
    }

    /// The next packet whose bytes `pre` accepts (given the bytes, the wire
    /// length and the link type); a capture's records are tested before
    /// they are dissected, which is most of the cost of filtering.
    pub fn next_where(&mut self, pre: Option<&RawTest<'_>>) -> Res<Option<Packet>> {
        match self {
            Source::Text(t) => loop {
                let Some(p) = t.read_packet()? else {
                    return Ok(None);
                };
                if pre.is_none_or(|f| f(p.raw_bytes(), p.wire_len() as u32, p.linktype)) {
                    return Ok(Some(p));
                }
            },
            Source::Pcap(r, rec) => loop {
                if !r.next_into(rec)? {
                    return Ok(None);
                }
                if pre.is_none_or(|f| f(&rec.data, rec.orig_len, rec.linktype)) {
                    return Ok(Some(crate::script::pcap::packet_from_record(
                        std::mem::take(rec),
                    )));
                }
            },
        }
    }
}

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------

/// Where packets go: text, or a capture whose header waits for the first
/// packet (so its link type is that packet's). A file is written under a
/// temporary name beside it and renamed into place by
/// [`finish`](Sink::finish) (see [`crate::output`]); a sink dropped
/// unfinished (an error, a signal) leaves the file as it was.
pub enum Sink {
    /// The writer, whether to flush per packet, the name for messages.
    Text(TextWriter<io::BufWriter<Output>>, bool, String),
    Capture(CaptureSink),
}

/// A capture whose header waits for the first packet's link type.
pub struct CaptureSink {
    out: Option<Output>,
    name: String,
    format: Format,
    writer: Option<PcapWriter>,
}

impl CaptureSink {
    /// The writer, its file header written for `linktype` if it is new.
    fn writer(&mut self, linktype: u32) -> Res<Option<&mut PcapWriter>> {
        if self.writer.is_none()
            && let Some(o) = self.out.take()
        {
            self.writer = Some(PcapWriter::to_output(o, &self.name, linktype, self.format)?);
        }
        Ok(self.writer.as_mut())
    }
}

impl Sink {
    fn open(o: &OutArgs, streaming: bool) -> Res<Sink> {
        let format = o.to.unwrap_or(match &o.output {
            Some(p) => match p.extension().and_then(|e| e.to_str()) {
                Some(e) if e.eq_ignore_ascii_case("pcapng") => OutFormat::Pcapng,
                Some(e) if e.eq_ignore_ascii_case("pcap") || e.eq_ignore_ascii_case("cap") => {
                    OutFormat::Pcap
                }
                _ => OutFormat::Text,
            },
            None => OutFormat::Text,
        });
        let (w, name) = match output_file(o) {
            Some(p) => {
                let name = p.display().to_string();
                let f = AtomicFile::create(p).map_err(|e| {
                    miette::Report::new(crate::text::io_error(&name, &e))
                        .wrap_err(format!("cannot create {name}"))
                })?;
                (Output::File(f), name)
            }
            None => (
                Output::Stream(Box::new(io::stdout())),
                "<stdout>".to_string(),
            ),
        };
        Ok(match format {
            OutFormat::Text => Sink::Text(
                TextWriter::new(
                    io::BufWriter::with_capacity(1 << 16, w),
                    TextOptions { fields: o.fields },
                ),
                streaming,
                name,
            ),
            OutFormat::Pcap | OutFormat::Pcapng => Sink::Capture(CaptureSink {
                out: Some(w),
                name,
                format: if format == OutFormat::Pcap {
                    Format::Pcap
                } else {
                    Format::PcapNg
                },
                writer: None,
            }),
        })
    }

    /// Writes field lines from now on (text only).
    pub fn keep_fields(&mut self) {
        if let Sink::Text(w, ..) = self
            && !w.options().fields
        {
            w.set_options(TextOptions { fields: true });
        }
    }

    /// Writes one packet (built first).
    pub fn write(&mut self, p: &mut Packet) -> Res<()> {
        match self {
            Sink::Text(w, streaming, name) => {
                w.write(p).map_err(|e| write_report(name, e))?;
                if *streaming {
                    w.flush().map_err(|e| write_report(name, e))?;
                }
                Ok(())
            }
            Sink::Capture(c) => {
                if let Some(w) = c.writer(p.linktype)? {
                    crate::script::pcap::write_packet(w, p)?;
                }
                Ok(())
            }
        }
    }

    /// Completes the output: flushes it, and puts a file in place (an
    /// empty capture still gets its file header).
    pub fn finish(self) -> Res<()> {
        match self {
            Sink::Text(w, _, name) => {
                crate::output::finish_buffered(w.into_inner()).map_err(|e| write_report(&name, e))
            }
            Sink::Capture(mut c) => {
                c.writer(crate::packet::LINKTYPE_ETHERNET)?;
                match c.writer.take() {
                    Some(w) => Ok(w.close()?),
                    None => Ok(()),
                }
            }
        }
    }
}

/// The file `o` writes to (`None`: standard output).
fn output_file(o: &OutArgs) -> Option<&Path> {
    o.output.as_deref().filter(|p| *p != Path::new("-"))
}

fn io_report(e: io::Error) -> miette::Report {
    miette::miette!("cannot write: {e}")
}

/// A write to `name` failed (a file then keeps what it had).
fn write_report(name: &str, e: io::Error) -> miette::Report {
    miette::miette!(
        help = "check that the disk is not full and that you may write there",
        "cannot write {name}: {e}"
    )
}

/// Whether input from `path` arrives as a stream (so output is flushed per packet).
fn streaming(path: Option<&Path>) -> bool {
    path.is_none_or(|p| p == Path::new("-"))
}

/// Reads every packet, keeps those `keep` accepts (it may edit them), writes them.
fn pipe(input: Option<&Path>, out: &OutArgs, keep: impl FnMut(&mut Packet) -> bool) -> Res<u8> {
    pipe_where(input, out, None, keep)
}

/// [`pipe`], with a test of the raw bytes before dissection.
fn pipe_where(
    input: Option<&Path>,
    out: &OutArgs,
    pre: Option<&RawTest<'_>>,
    mut keep: impl FnMut(&mut Packet) -> bool,
) -> Res<u8> {
    catch_signals_for(out);
    let mut src = Source::open(input)?;
    let mut sink = Sink::open(out, streaming(input))?;
    loop {
        let next = src.next_where(pre);
        // Stopped by a signal: the sink is dropped, a file keeps what it had.
        if let Some(code) = stopped() {
            return Ok(code);
        }
        let Some(mut p) = next? else {
            break;
        };
        if src.has_fields() {
            // Text with field lines keeps them through the pipeline.
            sink.keep_fields();
        }
        if keep(&mut p) {
            sink.write(&mut p)?;
        }
    }
    finish_offline(sink)
}

/// An offline job writing a file ends between two packets on SIGINT or
/// SIGTERM, leaving the file as it was (see [`stopped`]); to standard
/// output it ends as the signal ends any process.
fn catch_signals_for(out: &OutArgs) {
    if output_file(out).is_some() {
        crate::output::catch_signals();
    }
}

/// The exit status of a job a signal stopped (130, 143), if one did.
fn stopped() -> Option<u8> {
    crate::output::interrupted().map(crate::output::exit_status)
}

/// Completes an offline job's output, unless a signal came first (the
/// output is then dropped, a file keeps what it had). A signal that comes
/// during the rename still gives its status, with the complete file.
fn finish_offline(sink: Sink) -> Res<u8> {
    if let Some(code) = stopped() {
        return Ok(code);
    }
    sink.finish()?;
    Ok(stopped().unwrap_or(0))
}

// ---------------------------------------------------------------------------
// Filters
// ---------------------------------------------------------------------------

/// A tcpdump expression (compiled per link type; whether it can run in
/// the kernel), or a pkttools-style field test.
pub enum Selector {
    Bpf(crate::filter::Filter, bool),
    Fields(FieldTest),
}

impl Selector {
    pub fn new(expr: &str) -> Res<Selector> {
        if let Some(t) = FieldTest::parse(expr) {
            return t.map(Selector::Fields).map_err(|m| {
                miette::miette!(
                    help = "a field test is LAYER.FIELD==VALUE or !=, joined by &&, like arp.op==2 or ETHERNET.TYPE==0x0806",
                    "{m}"
                )
            });
        }
        match crate::filter::Filter::new(expr) {
            Ok(f) => Ok(Selector::Bpf(f, crate::filter::runs_in_kernel(expr))),
            Err(e) => Err(e.report(expr)),
        }
    }

    /// The program of a tcpdump expression for frames of `linktype`, or why
    /// the expression does not apply to that link type (None for field tests).
    pub fn program(&self, linktype: u32) -> Res<Option<std::rc::Rc<Vec<crate::filter::Insn>>>> {
        match self {
            Selector::Bpf(f, _) => f
                .program(linktype)
                .map(Some)
                .map_err(|e| e.report(f.source())),
            Selector::Fields(_) => Ok(None),
        }
    }

    /// Whether the selector keeps `p` (a tcpdump expression that does not
    /// apply to the packet's link type keeps nothing; check it first with
    /// [`Selector::program`]).
    pub fn selects(&self, p: &Packet) -> bool {
        match self {
            Selector::Bpf(f, _) => f
                .selects(p.raw_bytes(), p.wire_len() as u32, p.linktype)
                .unwrap_or(false),
            Selector::Fields(t) => t.matches(p),
        }
    }
}

/// `pktscript filter EXPR`: copies the frames the expression selects (or,
/// with `invert`, those it does not). An expression that does not apply to
/// the link type of a frame (`ether host` on a cooked capture, `ip6` on raw
/// IPv4) stops the copy with its error, as tcpdump refuses it.
fn filter_pipe(
    input: Option<&Path>,
    out: &OutArgs,
    f: &crate::filter::Filter,
    invert: bool,
) -> Res<u8> {
    let failed = std::cell::RefCell::new(None);
    // A frame whose link type the expression cannot apply to passes the
    // raw test, to be stopped below with the error.
    let pre = |data: &[u8], wire: u32, lt: u32| match f.selects(data, wire, lt) {
        Ok(yes) => yes != invert,
        Err(e) => {
            failed.borrow_mut().get_or_insert(e);
            true
        }
    };
    catch_signals_for(out);
    let mut src = Source::open(input)?;
    let mut sink = Sink::open(out, streaming(input))?;
    loop {
        let next = src.next_where(Some(&pre));
        if let Some(code) = stopped() {
            return Ok(code);
        }
        let Some(mut p) = next? else {
            break;
        };
        if let Some(e) = failed.borrow_mut().take() {
            return Err(e.report(f.source()));
        }
        if src.has_fields() {
            sink.keep_fields();
        }
        sink.write(&mut p)?;
    }
    finish_offline(sink)
}

// ---------------------------------------------------------------------------
// analyze, check
// ---------------------------------------------------------------------------

fn analyze(input: Option<&Path>) -> Res<u8> {
    let mut src = Source::open(input)?;
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let stream = streaming(input);
    let mut n = 0u64;
    while let Some(mut p) = src.next_packet()? {
        n += 1;
        let mut s = String::new();
        crate::text::write_head(&mut s, n, &mut p);
        s.push_str(&p.summary());
        s.push('\n');
        s.push_str(&p.details());
        s.push_str("==\n");
        out.write_all(s.as_bytes()).map_err(io_report)?;
        if stream {
            out.flush().map_err(io_report)?;
        }
    }
    out.flush().map_err(io_report)?;
    Ok(0)
}

fn check(input: Option<&Path>) -> Res<u8> {
    let mut src = Source::open(input)?;
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let (mut n, mut bad) = (0u64, 0u64);
    while let Some(mut p) = src.next_packet()? {
        n += 1;
        p.finish();
        let mut problems = Vec::new();
        for i in 0..p.layers().len() {
            if let Some(st) = p.checksum_status(i)
                && !st.ok
            {
                problems.push(format!(
                    "{} checksum {:#06x}, should be {:#06x}",
                    p.layers()[i].proto.name,
                    st.stored,
                    st.correct
                ));
            }
        }
        if !problems.is_empty() {
            bad += 1;
            writeln!(out, "{n}: {}: {}", p.summary(), problems.join("; ")).map_err(io_report)?;
        }
    }
    out.flush().map_err(io_report)?;
    eprintln!(
        "{n} packet{}, {bad} with bad checksums",
        if n == 1 { "" } else { "s" }
    );
    Ok(u8::from(bad > 0))
}

// ---------------------------------------------------------------------------
// recv, send
// ---------------------------------------------------------------------------

use crate::output::STOP;

/// Ctrl-C (and SIGTERM) end a capture or a send cleanly: the record in hand
/// is finished, the output flushed and put in place, the counts printed, as
/// tcpdump does; the exit status is then 130 (143).
fn catch_interrupts() {
    crate::output::catch_signals();
}

/// The interface, from `-i` or else the first word, and the other words.
fn iface_and_rest(
    interface: Option<String>,
    mut words: Vec<String>,
    tool: &str,
) -> Res<(String, Vec<String>)> {
    match interface {
        Some(i) => Ok((i, words)),
        None if !words.is_empty() => {
            let i = words.remove(0);
            Ok((i, words))
        }
        None => Err(usage(&format!(
            "{tool} needs an interface: pktscript {tool} IFACE ... or pktscript {tool} -i IFACE ..."
        ))),
    }
}

/// A usage error: reported, and the exit status is 2.
fn usage(msg: &str) -> miette::Report {
    miette::Report::new(UsageError(msg.to_string()))
}

#[derive(Debug)]
struct UsageError(String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

impl miette::Diagnostic for UsageError {
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new("see pktscript recv --help, pktscript send --help"))
    }
}

fn recv(o: &RecvArgs) -> Res<u8> {
    catch_interrupts();
    let (iface, filter) = iface_and_rest(o.interface.clone(), o.words.clone(), "recv")?;
    let iface = iface.as_str();
    let expr = filter.join(" ");
    let selector = if expr.trim().is_empty() {
        None
    } else {
        Some(Selector::new(&expr)?)
    };
    let timeout = match o.timeout {
        None => None,
        Some(t) => Some(Duration::try_from_secs_f64(t).map_err(|_| {
            miette::miette!(
                help = "give seconds, like -t 5 or -t 0.5",
                "{t} is not a timeout"
            )
        })?),
    };
    let mut link = LiveLink::open(
        iface,
        LiveOptions {
            promisc: o.promisc,
            snaplen: o.snaplen,
            ..LiveOptions::default()
        },
    )?;
    link.set_outgoing(o.direction != Dir::In);
    if let Some(sel) = &selector {
        // The expression must apply to the interface's link type.
        let prog = sel.program(link.linktype())?;
        if let (Selector::Bpf(_, true), Some(prog)) = (sel, prog) {
            link.set_filter(Some(&crate::filter::to_sock_filters(&prog)))?;
        }
    }
    let out = OutArgs {
        output: o.write.clone(),
        to: match &o.write {
            Some(p) if crate::pcap::Format::from_path(p) == Format::PcapNg => {
                Some(OutFormat::Pcapng)
            }
            Some(_) => Some(OutFormat::Pcap),
            None => None,
        },
        fields: o.fields,
    };
    let mut sink = Sink::open(&out, true)?;
    let copts = crate::net::CaptureOptions {
        count: o.count,
        timeout,
        stop: Some(&STOP),
    };
    let dir = o.direction;
    let mut kept = 0u64;
    let res = crate::net::capture(&mut link, &copts, |mut p| -> Res<crate::net::Flow> {
        let outgoing = p.direction == Some(crate::packet::Direction::Outgoing);
        if (dir == Dir::Out && !outgoing) || selector.as_ref().is_some_and(|s| !s.selects(&p)) {
            return Ok(crate::net::Flow::Skip);
        }
        sink.write(&mut p)?;
        kept += 1;
        Ok(crate::net::Flow::Keep)
    });
    let stats = match res {
        Ok(s) => s,
        Err(crate::net::CaptureError::Link(e)) => {
            // What was captured is kept: whole records, put in place.
            sink.finish()?;
            return Err(e.into());
        }
        // A write failed: the output is dropped, a file keeps what it had.
        Err(crate::net::CaptureError::Callback(e)) => return Err(e),
    };
    sink.finish()?;
    eprintln!(
        "{kept} packet{} captured on {iface}, {} dropped by the kernel",
        if kept == 1 { "" } else { "s" },
        stats.dropped
    );
    Ok(stopped().unwrap_or(0))
}

fn send(iface: &str, input: Option<&Path>, fast: bool, pps: Option<f64>, repeat: u64) -> Res<u8> {
    if let Some(r) = pps
        && !(r.is_finite() && r > 0.0)
    {
        return Err(miette::miette!(
            help = "give a positive rate, like --pps 1000",
            "{r} is not a rate"
        ));
    }
    // A file is read through once first, so a mistake in its last packet
    // is reported before anything is sent; a pipe is sent as it comes.
    if !streaming(input) {
        let mut check = Source::open(input)?;
        while check.next_packet()?.is_some() {}
    }
    let mut src = Source::open(input)?;
    let mut link = LiveLink::open(
        iface,
        LiveOptions {
            buffer_bytes: 0,
            ..LiveOptions::default()
        },
    )?;
    catch_interrupts();
    let start = Instant::now();
    // When packet `idx` is due, `rel` seconds after the first packet's
    // recorded time, in a round that starts `base` seconds in.
    let due = |idx: u64, rel: Option<f64>, base: f64| -> Option<f64> {
        match pps {
            Some(r) => Some(idx as f64 / r),
            None if fast => None,
            None => rel.map(|x| base + x),
        }
    };
    // Sleeps in slices, so Ctrl-C ends even a long recorded pause.
    let wait = |at: Option<f64>| {
        let Some(at) = at else {
            return;
        };
        while !STOP.load(Ordering::Relaxed) {
            let left = at - start.elapsed().as_secs_f64();
            if left.is_nan() || left <= 0.0 {
                return;
            }
            std::thread::sleep(Duration::from_secs_f64(left.min(0.1)));
        }
    };
    let mut sent = 0u64;
    let mut idx = 0u64;
    let mut first: Option<(i64, u32)> = None;
    // Read as they are sent, so a pipe streams; --loop keeps them for later rounds.
    let mut kept: Vec<(Vec<u8>, Option<f64>)> = Vec::new();
    let mut batch: Vec<Packet> = Vec::new();
    let mut span = 0f64;
    loop {
        let mut p = match src.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(e) => {
                sent += flush_batch(&mut link, &mut batch)?;
                return Err(e.wrap_err(format!(
                    "{sent} packet{} sent on {iface} before this error",
                    if sent == 1 { "" } else { "s" }
                )));
            }
        };
        if STOP.load(Ordering::Relaxed) {
            break;
        }
        let rel = p.time.map(|t| {
            let f = *first.get_or_insert(t);
            // As floats: recorded seconds far apart must not overflow.
            (t.0 as f64 - f.0 as f64 + (f64::from(t.1) - f64::from(f.1)) / 1e9).max(0.0)
        });
        span = span.max(rel.unwrap_or(0.0));
        if repeat > 1 {
            kept.push((p.bytes().to_vec(), rel));
        }
        if fast {
            // The packet's own buffer goes into the batch: no copy.
            p.finish();
            batch.push(p);
            if batch.len() == 64 {
                sent += flush_batch(&mut link, &mut batch)?;
            }
        } else {
            wait(due(idx, rel, 0.0));
            if STOP.load(Ordering::Relaxed) {
                break;
            }
            link.send(p.bytes())?;
            sent += 1;
        }
        idx += 1;
    }
    sent += flush_batch(&mut link, &mut batch)?;
    // Each later round starts where the one before ended.
    let round = start.elapsed().as_secs_f64().max(span);
    for r in 1..repeat {
        if STOP.load(Ordering::Relaxed) {
            break;
        }
        if fast {
            for chunk in kept.chunks(64) {
                if STOP.load(Ordering::Relaxed) {
                    break;
                }
                let refs: Vec<&[u8]> = chunk.iter().map(|(b, _)| b.as_slice()).collect();
                sent += link.send_batch(&refs)? as u64;
            }
            continue;
        }
        for (bytes, rel) in &kept {
            if STOP.load(Ordering::Relaxed) {
                break;
            }
            wait(due(idx, *rel, round * r as f64));
            if STOP.load(Ordering::Relaxed) {
                break;
            }
            link.send(bytes)?;
            sent += 1;
            idx += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "{sent} packet{} sent on {iface} in {secs:.3} s",
        if sent == 1 { "" } else { "s" }
    );
    Ok(stopped().unwrap_or(0))
}

fn flush_batch(link: &mut LiveLink, batch: &mut Vec<Packet>) -> Res<u64> {
    if batch.is_empty() {
        return Ok(0);
    }
    let refs: Vec<&[u8]> = batch.iter().map(|p| p.raw_bytes()).collect();
    let n = link.send_batch(&refs)?;
    batch.clear();
    Ok(n as u64)
}
