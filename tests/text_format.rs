//! The text format: pkttools' dumps from the seed notes, exact round trips,
//! field-line edits, and errors that name the line and column.

use pktscript::Packet;
use pktscript::layers::Value;
use pktscript::text::{self, TextError, TextOptions};

fn data(name: &str) -> String {
    let path = format!("{}/tests/data/pkttools/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn parse(s: &str) -> Vec<Packet> {
    text::parse_text(s, "t").unwrap_or_else(|e| panic!("{e}\n{:?}", e.help))
}

fn parse_err(s: &str) -> TextError {
    match text::parse_text(s, "t") {
        Ok(p) => panic!("parsed {} packets, expected an error", p.len()),
        Err(e) => e,
    }
}

/// A report rendered without wrapping, whatever the path's length.
fn wide(e: TextError) -> String {
    let mut out = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .with_width(usize::MAX)
        .render_report(&mut out, &e)
        .unwrap();
    out
}

fn field(p: &mut Packet, layer: &str, name: &str) -> Value {
    let idx = p.find(layer).unwrap_or_else(|| panic!("no {layer}"));
    let fi = p.field_index(idx, name).unwrap();
    p.get(idx, fi).unwrap()
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

const FIELDS: TextOptions = TextOptions { fields: true };

/// The echo reply of seed note 000 (checksum 0x3e67), as scripts/data/echo.pcap holds it.
fn echo_reply() -> Packet {
    let path = format!("{}/scripts/data/echo.pcap", env!("CARGO_MANIFEST_DIR"));
    let rec = pktscript::pcap::read_all(&path).unwrap().remove(1);
    pktscript::script::pcap::packet_from_record(rec)
}

// ---- the seeds' dumps --------------------------------------------------------

#[test]
fn pkt_recv_dump_of_the_seed_parses_to_its_arp_exchange() {
    let mut ps = parse(&data("recv_arp.txt"));
    assert_eq!(ps.len(), 2);
    let (req, rep) = ps.split_at_mut(1);
    let (req, rep) = (&mut req[0], &mut rep[0]);
    assert_eq!(req.time, Some((1624768195, 956_720_000)));
    assert_eq!(rep.time, Some((1624768195, 957_108_000)));
    assert_eq!(req.layer_names(), ["Ether", "ARP"]);
    assert_eq!(rep.layer_names(), ["Ether", "ARP", "Padding"]);
    assert_eq!(field(req, "eth", "dst"), Value::Mac([0xff; 6]));
    assert_eq!(field(req, "arp", "op"), Value::Int(1));
    assert_eq!(field(req, "arp", "psrc"), Value::Ipv4([10, 0, 2, 15]));
    assert_eq!(field(req, "arp", "pdst"), Value::Ipv4([10, 0, 2, 2]));
    assert_eq!(field(rep, "arp", "op"), Value::Int(2));
    assert_eq!(
        field(rep, "arp", "hwsrc"),
        Value::Mac([0x52, 0x54, 0x00, 0x12, 0x35, 0x02])
    );
    assert_eq!(rep.len(), 60, "the 18 bytes of padding are kept");
    assert_eq!(
        req.bytes(),
        &hex(
            "FFFFFFFFFFFF 08002720E838 0806 0001 0800 06 04 0001 08002720E838 0A00020F 000000000000 0A000202"
        )[..]
    );
    assert!(!req.is_dirty() && !rep.is_dirty());
}

#[test]
fn pkt_txt2txt_field_lines_with_pkttools_names_agree_with_the_bytes() {
    // ETHERNET.TYPE: 0x806, ARP.TARGET_IPADDR: 10.0.2.2 ... all match the
    // hex, so nothing is edited and the bytes are the hex's.
    let mut ps = parse(&data("txt2txt_arp.txt"));
    assert_eq!(ps.len(), 1);
    let p = &mut ps[0];
    assert!(!p.is_dirty(), "agreeing field lines change nothing");
    assert_eq!(p.time, Some((1624767761, 972_572_000)));
    assert_eq!(field(p, "arp", "pdst"), Value::Ipv4([10, 0, 2, 2]));
    assert_eq!(p.len(), 42);
}

#[test]
fn pkttools_field_names_edit_like_ours() {
    // The seed's promiscuous-mode probe: the same who-has, sent to the
    // fake broadcast ff:ff:ff:ff:ff:fe, by editing the pkttools field line.
    let t = data("txt2txt_arp.txt").replace(
        "ETHERNET.DST_ADDR:      ff:ff:ff:ff:ff:ff",
        "ETHERNET.DST_ADDR:      ff:ff:ff:ff:ff:fe",
    );
    let mut p = parse(&t).remove(0);
    assert_eq!(p.bytes()[..6], [0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]);
    let orig = parse(&data("txt2txt_arp.txt")).remove(0);
    assert_eq!(p.bytes()[6..], orig.raw_bytes()[6..]);
    // Names in any case, ours or pkttools'.
    let t = data("txt2txt_arp.txt").replace("ARP.OPERATION:          0x1", "arp.OP: is-at");
    let mut p = parse(&t).remove(0);
    assert_eq!(field(&mut p, "arp", "op"), Value::Int(2));
}

#[test]
fn the_seeds_wake_on_lan_frame_is_dissected() {
    let mut ps = parse(&data("recv_wol.txt"));
    assert_eq!(ps.len(), 1);
    let p = &mut ps[0];
    assert_eq!(p.len(), 116);
    assert_eq!(p.layer_names(), ["Ether", "WoL"]);
    assert_eq!(p.summary(), "WoL magic packet for 00:0c:29:59:e8:ba");
    let mut t = text::to_text(p, FIELDS);
    assert!(t.contains("SIZE: 116/116\n"), "{t}");
    // Re-read: the same bytes.
    let again = parse(&t).remove(0);
    assert_eq!(again.raw_bytes(), p.raw_bytes());
    t.clear();
}

#[test]
fn pkt_analyze_output_is_refused_with_the_reason() {
    let e = parse_err(&data("analyze_arp.txt"));
    assert_eq!(e.line, 3, "{e}");
    assert!(e.message.contains("not a line of a packet"), "{e}");
    assert!(e.help.as_deref().unwrap_or("").contains("pkt-analyze"));
}

// ---- exact round trips -------------------------------------------------------

#[test]
fn text_packet_text_is_identical() {
    for fields in [false, true] {
        let opts = TextOptions { fields };
        let mut ps = parse(&data("recv_arp.txt"));
        let mut w = text::TextWriter::new(Vec::new(), opts);
        for p in &mut ps {
            w.write(p).unwrap();
        }
        let once = String::from_utf8(w.into_inner()).unwrap();
        let mut again = parse(&once);
        let mut w = text::TextWriter::new(Vec::new(), opts);
        for p in &mut again {
            w.write(p).unwrap();
        }
        assert_eq!(once, String::from_utf8(w.into_inner()).unwrap());
        for (a, b) in again.iter().zip(&ps) {
            assert_eq!(a.raw_bytes(), b.raw_bytes());
            assert_eq!(a.time, b.time);
        }
    }
}

#[test]
fn our_dump_reads_as_pkttools_writes_it() {
    let mut p = parse(&data("recv_arp.txt")).remove(0);
    let t = text::to_text(&mut p, TextOptions::default());
    // Only the date after the time differs from pkt-recv's (ours is UTC).
    assert_eq!(
        t,
        "-- 1 --\n\
         TIME: 1624768195.956720 Sun Jun 27 04:29:55 2021\n\
         SIZE: 42/42\n\
         000000: FF FF FF FF  FF FF 08 00  27 20 E8 38  08 06 00 01 : ........ ' .8....\n\
         000010: 08 00 06 04  00 01 08 00  27 20 E8 38  0A 00 02 0F : ........ ' .8....\n\
         000020: 00 00 00 00  00 00 0A 00  02 02                    : ........ ..\n\
         ==\n"
    );
}

#[test]
fn nanoseconds_truncated_captures_and_link_types_survive() {
    let mut p = Packet::dissect(hex("4500001c0000000040110000c6120001c6120002"), 101);
    p.time = Some((1_700_000_000, 123_456_789));
    p.set_orig_len(1500);
    let t = text::to_text(&mut p, FIELDS);
    assert!(t.starts_with("LINKTYPE: 101 "), "{t}");
    assert!(t.contains("TIME: 1700000000.123456789 "), "{t}");
    assert!(t.contains("SIZE: 20/1500\n"), "{t}");
    let mut q = parse(&t).remove(0);
    assert_eq!(q.linktype, 101);
    assert_eq!(q.time, p.time);
    assert_eq!(q.wire_len(), 1500);
    assert_eq!(q.bytes(), p.bytes());
    assert_eq!(text::to_text(&mut q, FIELDS), t);
}

#[test]
fn the_quoted_packet_of_an_icmp_error_has_numbered_layers() {
    // Port unreachable quoting a UDP datagram: ip and ip[2], udp and... the quoted one.
    let mut p = pktscript::script::run_source(
        "<t>",
        r#"Ether() / IPv4(#{src: "198.18.0.2", dst: "198.18.0.1"}) / ICMP(#{type: 3, code: 3})
             / IPv4(#{src: "198.18.0.1", dst: "198.18.0.2"}) / UDP(#{sport: 1234, dport: 53})"#,
        &[],
        &Default::default(),
    )
    .map(|o| match o {
        pktscript::script::Outcome::Value(v) => v.cast::<Packet>(),
        _ => panic!("no packet"),
    })
    .unwrap();
    let t = text::to_text(&mut p, FIELDS);
    assert!(t.contains("\nip.src:         198.18.0.2\n"), "{t}");
    assert!(t.contains("\nip[2].src:      198.18.0.1\n"), "{t}");
    // Editing the quoted header's field edits that one, and the outer ICMP checksum follows.
    let edited = t.replace("ip[2].src:      198.18.0.1", "ip[2].src:      198.18.0.9");
    let mut q = parse(&edited).remove(0);
    let quoted = q
        .layers()
        .iter()
        .rposition(|l| l.proto.name == "IPv4")
        .unwrap();
    assert_eq!(q.header(quoted)[12..16], [198, 18, 0, 9]);
    assert!(q.bad_checksums().is_empty(), "{}", q.details());
    assert_eq!(q.header(1)[12..16], [198, 18, 0, 2]);
}

// ---- edits -------------------------------------------------------------------

#[test]
fn editing_a_field_line_changes_the_bytes_and_fixes_the_checksum() {
    // Seed note 000: the echo reply becomes a request; pkt-correct's 0x3667.
    let mut reply = echo_reply();
    let t = text::to_text(&mut reply, FIELDS);
    assert!(t.contains("icmp.type:      0       # echo-reply\n"), "{t}");
    assert!(t.contains("icmp.chksum:    0x3e67  # valid\n"), "{t}");
    // The payload is the hex itself: no field line repeats it.
    assert!(!t.contains("raw.") && !t.contains("load"), "{t}");
    let mut req = parse(&t.replace("icmp.type:      0 ", "icmp.type:      8 ")).remove(0);
    let icmp = req.find("ICMP").unwrap();
    assert_eq!(req.header(icmp)[0], 8);
    assert_eq!(field(&mut req, "icmp", "chksum"), Value::Int(0x3667));
    assert!(req.bad_checksums().is_empty());
    // Only those bytes changed.
    let (a, b) = (reply.raw_bytes().to_vec(), req.bytes().to_vec());
    let diffs: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
    assert_eq!(
        diffs,
        [34, 36],
        "type, and the checksum's changed byte (0x3e67 -> 0x3667)"
    );
    // By name works as well as by number.
    let mut by_name = parse(&t.replace("icmp.type:      0 ", "icmp.type: echo-request ")).remove(0);
    assert_eq!(by_name.bytes(), &b[..]);
}

#[test]
fn editing_a_length_field_pins_it_and_editing_a_payload_refits_the_lengths() {
    let mut reply = echo_reply();
    let t = text::to_text(&mut reply, FIELDS);
    // TTL: the IPv4 checksum follows, the ICMP one does not change.
    let mut p = parse(&t.replace("ip.ttl:         255", "ip.ttl:         64")).remove(0);
    assert_eq!(field(&mut p, "ip", "ttl"), Value::Int(64));
    assert!(p.bad_checksums().is_empty());
    assert_eq!(field(&mut p, "icmp", "chksum"), Value::Int(0x3e67));
    // A length set by hand stays as written.
    let mut p = parse(&t.replace("ip.len:         84", "ip.len:         80")).remove(0);
    assert_eq!(field(&mut p, "ip", "len"), Value::Int(80));
    // IP options added by a field line: ihl and len follow.
    let mut p = parse(&t.replace("ip.options:     ''", "ip.options:     0x01010100")).remove(0);
    assert_eq!(field(&mut p, "ip", "ihl"), Value::Int(6));
    assert_eq!(field(&mut p, "ip", "len"), Value::Int(88));
    assert!(p.bad_checksums().is_empty(), "{}", p.details());
}

#[test]
fn editing_the_checksum_line_pins_it() {
    let mut reply = echo_reply();
    let t = text::to_text(&mut reply, FIELDS)
        .replace("icmp.type:      0 ", "icmp.type:      8 ")
        .replace("icmp.chksum:    0x3e67", "icmp.chksum:    0x1234");
    let mut p = parse(&t).remove(0);
    assert_eq!(field(&mut p, "icmp", "chksum"), Value::Int(0x1234));
    assert_eq!(p.bad_checksums(), ["ICMP"]);
    // pkt-correct fixes it.
    p.fix();
    assert_eq!(field(&mut p, "icmp", "chksum"), Value::Int(0x3667));
}

#[test]
fn a_bad_checksum_is_kept_until_something_it_covers_changes() {
    let mut reply = echo_reply();
    let mut t = text::to_text(&mut reply, FIELDS);
    // Break the ICMP checksum in the hex: read back exactly (bytes are the truth).
    t = t
        .replace("3E 67", "00 00")
        .replace("0x3e67  # valid", "0x0000  # ?");
    let mut p = parse(&t).remove(0);
    assert_eq!(p.bad_checksums(), ["ICMP"]);
    assert!(!p.is_dirty());
    let t2 = text::to_text(&mut p, FIELDS);
    assert!(
        t2.contains("icmp.chksum:    0x0000  # bad, should be 0x3e67"),
        "{t2}"
    );
}

#[test]
fn hex_edits_may_add_and_remove_bytes_and_offsets_are_ignored() {
    let t = "-- 1 --\n\
             0: FF FF FF FF FF FF 02 00 00 00 00 01 08 06\n\
             999: 00 01 08 00 06 04 00 01 0200 0000 0001 C6120001 000000000000 C6120002 EXTRA : ignored ascii\n\
             ==\n";
    // `EXTRA` comes before the lone `:`, so it is a hex error...
    let e = parse_err(t);
    let line3 = t.lines().nth(2).unwrap();
    assert_eq!(
        (e.line, e.col),
        (3, line3.find("EXTRA").unwrap() + 2),
        "{e}"
    );
    assert!(e.message.contains("'X'"), "{e}");
    // ...and after it, anything goes.
    let t = t.replace(" EXTRA :", " :");
    let mut p = parse(&t).remove(0);
    assert_eq!(p.len(), 42);
    assert_eq!(field(&mut p, "arp", "pdst"), Value::Ipv4([198, 18, 0, 2]));
    assert!(!p.is_dirty(), "hex alone is taken as it is");
}

#[test]
fn a_size_that_disagrees_with_the_hex_is_an_error_naming_its_line() {
    // SIZE: 42/42 over 2 bytes of hex used to become a 2-byte packet with
    // SIZE: 2/2, silently; pkttools pads with zeros. Neither: an error.
    let t = "-- 1 --\nSIZE: 42/42\n000000: 01 02\n==\n";
    let e = parse_err(t);
    assert_eq!((e.line, e.col, e.len), (2, 7, 2), "{e}");
    assert!(e.message.contains("SIZE says 42"), "{e}");
    assert!(e.message.contains("hold 2"), "{e}");
    let help = e.help.clone().unwrap_or_default();
    assert!(help.contains("SIZE: 2/2"), "{help}");
    assert!(help.contains("delete the SIZE line"), "{help}");
    let r = wide(e);
    assert!(r.contains("2 │ SIZE: 42/42"), "{r}");
    // more hex than SIZE says: an error too, not a cut
    let e = parse_err("SIZE: 2/100\n000000: 01 02 03\n==\n");
    assert_eq!((e.line, e.col), (1, 7), "{e}");
    assert!(
        e.help.clone().unwrap_or_default().contains("SIZE: 3/100"),
        "{e:?}"
    );
    // without SIZE, the hex decides; with a SIZE that agrees, its original
    // length is kept, whatever it is
    let mut p = parse("000000: 01 02 03\n==\n").remove(0);
    assert_eq!((p.len(), p.wire_len()), (3, 3));
    let mut p = parse("SIZE: 3/100\n000000: 01 02 03\n==\n").remove(0);
    assert_eq!((p.len(), p.wire_len()), (3, 100));
    let p = parse("SIZE: 3/18446744073709551615\n000000: 01 02 03\n==\n").remove(0);
    assert_eq!(p.wire_len(), u32::MAX as usize);
    // a SIZE no packet may have is refused on its line
    err_at("SIZE: 300000/300000\n000000: 01\n==\n", 1, 7, "may hold");
}

#[test]
fn comments_blank_lines_and_a_missing_header_are_fine() {
    let t = "# a probe, typed by hand\n\n\
             000000: 02 00 00 00 00 02 02 00 00 00 00 01 08 00 # a comment after the bytes is not hex\n";
    // A comment on a hex line is not allowed: `#` is not a hex digit.
    let e = parse_err(t);
    assert_eq!((e.line, e.col), (3, 51), "{e}");
    let t = "# a frame typed by hand\n\n\
             000000: 02 00 00 00 00 02 02 00 00 00 00 01 90 00\n\
             eth.src: 02:00:00:00:00:09   # was ...:01\n";
    let mut p = parse(t).remove(0);
    assert_eq!(p.bytes()[6..12], [2, 0, 0, 0, 0, 9]);
}

// ---- errors ------------------------------------------------------------------

fn err_at(s: &str, line: usize, col: usize, contains: &str) {
    let e = parse_err(s);
    assert_eq!((e.line, e.col), (line, col), "{e}");
    assert!(
        e.message.contains(contains),
        "{:?} lacks {contains:?}",
        e.message
    );
    // Reports render with the line and a marker under the column.
    let r = wide(e.clone());
    assert!(r.contains(&format!("[t:{line}:{col}]")), "{r}");
}

const ARP: &str = "-- 1 --\n\
    000000: FF FF FF FF  FF FF 02 00  00 00 00 01  08 06 00 01\n\
    000010: 08 00 06 04  00 01 02 00  00 00 00 01  C6 12 00 01\n\
    000020: 00 00 00 00  00 00 C6 12  00 02\n";

#[test]
fn malformed_lines_are_errors_naming_line_and_column() {
    err_at(
        &format!("{ARP}000030: 0G\n==\n").replace("000030: 0G", "000030: 01 0G"),
        5,
        13,
        "not a hex digit",
    );
    err_at(&format!("{ARP}000030: 012\n==\n"), 5, 9, "odd number");
    err_at(
        &format!("{ARP}arp.pdts: 1.2.3.4\n==\n"),
        5,
        5,
        "no field `pdts`",
    );
    err_at(&format!("{ARP}tcp.dport: 80\n==\n"), 5, 1, "no TCP layer");
    err_at(&format!("{ARP}foo.bar: 80\n==\n"), 5, 1, "not a layer");
    err_at(&format!("{ARP}arp.op: 70000\n==\n"), 5, 9, "out of range");
    err_at(
        &format!("{ARP}arp.op:    nonsense  # x\n==\n"),
        5,
        12,
        "not a known value",
    );
    err_at(
        &format!("{ARP}eth.dst: ff:ff:ff:ff:ff\n==\n"),
        5,
        10,
        "not a MAC",
    );
    err_at(
        &format!("{ARP}arp.pdst: 198.18.0.300\n==\n"),
        5,
        11,
        "not an IPv4",
    );
    err_at(
        &format!("{ARP}arp[2].op: 1\n==\n"),
        5,
        1,
        "no ARP layer number 2",
    );
    err_at(
        &format!("{ARP}arp[0].op: 1\n==\n"),
        5,
        4,
        "not a layer occurrence",
    );
    err_at(&format!("TIME: yesterday\n{ARP}==\n"), 1, 7, "not a time");
    err_at(&format!("{ARP}SIZE: 42/41\n==\n"), 5, 7, "not a size");
    err_at(
        &format!("{ARP}hello world\n==\n"),
        5,
        1,
        "not a line of a packet",
    );
    err_at(&format!("{ARP}-- 2 --\n"), 5, 1, "not closed");
    err_at("==\n", 1, 1, "no packet was begun");
    err_at("-- 1 --\nTIME: 1.5\n==\n", 3, 1, "no hex lines");
    err_at("LINKTYPE: ethernet\n", 1, 11, "not a link type");
}

#[test]
fn errors_on_a_stream_keep_their_line_numbers() {
    let mut big = String::new();
    for _ in 0..1000 {
        big.push_str(ARP);
        big.push_str("==\n");
    }
    big.push_str(ARP);
    big.push_str("arp.op: 3x\n==\n");
    let mut r = text::TextReader::new(big.as_bytes(), "<stdin>");
    let mut n = 0;
    let e = loop {
        match r.read_packet() {
            Ok(Some(_)) => n += 1,
            Ok(None) => panic!("no error"),
            Err(e) => break e,
        }
    };
    assert_eq!(n, 1000);
    assert_eq!((e.line, e.col), (5 * 1001, 9));
    let rendered = wide(e);
    assert!(rendered.contains("5005 │ arp.op: 3x"), "{rendered}");
}

#[test]
fn field_tests_select_like_pkttools_filters() {
    let ps = parse(&data("recv_arp.txt"));
    let t = text::FieldTest::parse("ETHERNET.TYPE==0x0806")
        .unwrap()
        .unwrap();
    assert!(ps.iter().all(|p| t.matches(p)));
    let t = text::FieldTest::parse("arp.op == is-at").unwrap().unwrap();
    assert_eq!(ps.iter().filter(|p| t.matches(p)).count(), 1);
    let t = text::FieldTest::parse("arp.op != 2 && arp.pdst == 10.0.2.2")
        .unwrap()
        .unwrap();
    assert_eq!(ps.iter().filter(|p| t.matches(p)).count(), 1);
    assert!(
        !text::FieldTest::parse("ip.ttl == 3")
            .unwrap()
            .unwrap()
            .matches(&ps[0])
    );
    assert!(text::FieldTest::parse("arp and host 10.0.2.2").is_none());
    let e = text::FieldTest::parse("arp.op == 99999")
        .unwrap()
        .unwrap_err();
    assert!(e.contains("out of range"), "{e}");
    let e = text::FieldTest::parse("arp.opp == 1").unwrap().unwrap_err();
    assert!(e.contains("no field"), "{e}");
}

// ---- bounds ------------------------------------------------------------------

/// An endless input: `head`, then `unit` over and over.
struct Endless {
    head: Vec<u8>,
    unit: Vec<u8>,
    pos: usize,
    /// Bytes handed out so far.
    given: usize,
}

impl Endless {
    fn new(head: &str, unit: &str) -> Endless {
        Endless {
            head: head.as_bytes().to_vec(),
            unit: unit.as_bytes().to_vec(),
            pos: 0,
            given: 0,
        }
    }
}

impl std::io::Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            let b = if self.given < self.head.len() {
                self.head[self.given]
            } else {
                let b = self.unit[self.pos % self.unit.len()];
                self.pos += 1;
                b
            };
            buf[n] = b;
            n += 1;
            self.given += 1;
        }
        Ok(n)
    }
}

/// The first error reading `input`, and how many bytes were read for it.
fn endless_error(input: Endless) -> (TextError, usize) {
    let given = std::rc::Rc::new(std::cell::Cell::new(0usize));
    struct Counting(Endless, std::rc::Rc<std::cell::Cell<usize>>);
    impl std::io::Read for Counting {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.read(buf)?;
            self.1.set(self.1.get() + n);
            Ok(n)
        }
    }
    let r = std::io::BufReader::with_capacity(8192, Counting(input, given.clone()));
    let mut t = text::TextReader::new(r, "<stdin>");
    loop {
        match t.read_packet() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("an endless input ended"),
            Err(e) => return (e, given.get()),
        }
    }
}

#[test]
fn a_line_without_an_end_is_an_error_not_a_growing_buffer() {
    // `pktscript convert /dev/zero` grew to gigabytes: NULs are UTF-8 and
    // there is no line end.
    let (e, read) = endless_error(Endless::new("", "\0"));
    assert_eq!(e.line, 0);
    assert!(
        e.message.contains("line 1 is longer than 65536 bytes"),
        "{e}"
    );
    assert!(read < 200 * 1024, "read {read} bytes for it");
    // the line number counts the lines before it
    let (e, _) = endless_error(Endless::new("-- 1 --\n# a comment\n000000: 01\n", "x"));
    assert!(e.message.contains("line 4 is longer"), "{e}");
    // a line of exactly the limit is fine, one byte more is not
    let line = format!("# {}\n", "x".repeat(text::MAX_LINE - 2));
    assert!(text::parse_text(&line, "t").unwrap().is_empty());
    let line = format!("# {}\r\n", "x".repeat(text::MAX_LINE - 2));
    assert!(text::parse_text(&line, "t").unwrap().is_empty());
    let e = text::parse_text(&format!("# {}\n", "x".repeat(text::MAX_LINE - 1)), "t").unwrap_err();
    assert!(e.message.contains("line 1 is longer"), "{e}");
}

#[test]
fn a_packet_that_never_ends_is_an_error() {
    // hex lines without end: stopped at the largest packet
    let (e, read) = endless_error(Endless::new(
        "-- 1 --\n",
        "000000: 00 11 22 33  44 55 66 77  88 99 AA BB  CC DD EE FF\n",
    ));
    assert!(
        e.message
            .contains("the packet begun at line 1 holds more than 262144 bytes"),
        "{e}"
    );
    assert!(read < 2 << 20, "read {read} bytes for it");
    // field lines without end: stopped at 16 MiB of them
    let long = format!("ip.ttl: {}\n", "9".repeat(60_000));
    let (e, read) = endless_error(Endless::new("-- 1 --\n000000: 01\n", &long));
    assert!(
        e.message.contains("field lines hold more than 16 MiB"),
        "{e}"
    );
    assert!(read < 18 << 20, "read {read} bytes for it");
}

#[test]
fn the_longest_field_line_a_packet_needs_is_read() {
    // An IPv6 Hop-by-Hop header of 2,046 Pad1 options, the most it holds:
    // its option list is the longest field line there is.
    let mut f = hex("020000000002 020000000001 86dd");
    f.extend(hex("60000000 0800 0040"));
    f[18..20].copy_from_slice(&2048u16.to_be_bytes());
    f.extend([0u8; 32]);
    f.extend([59, 255]);
    f.extend([0u8; 2046]);
    let mut p = Packet::parse(&f);
    let t = text::to_text(&mut p, FIELDS);
    let longest = t.lines().map(str::len).max().unwrap();
    assert!(
        longest > 20_000 && longest < text::MAX_LINE / 2,
        "{longest}"
    );
    let q = parse(&t).remove(0);
    assert_eq!(q.raw_bytes(), &f[..]);
}
