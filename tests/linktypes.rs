//! Captures of link types other than Ethernet: Linux cooked captures (SLL,
//! link type 113, and SLL2, 276: what `tcpdump -i any` writes) and raw IP
//! (228 IPv4, 229 IPv6, 101 either).
//!
//! - `tests/data/linktypes/*.pcap` were written by Scapy
//!   (`tests/data/linktypes/make.py`): they dissect down to IP, their
//!   fields read as tshark reads them, and they are written back exactly,
//!   through pcap, pcapng and the text format, so that tcpdump prints the
//!   same for the copy as for the original.
//! - Built packets (`CookedLinux() / IPv4() / ICMP()`) carry the link type
//!   of their first layer: their bytes are Scapy's, and the files written
//!   from them are read back by tcpdump, tshark and Scapy as cooked captures.
//! - A real `tcpdump -i any` capture of loopback traffic, in a network
//!   namespace of its own (needs root), dissects and round-trips alike.
//!
//! tshark, tcpdump and python3 with Scapy are required (`.ci/run` installs
//! them): without them these tests fail, they do not skip.

mod netns;

use std::path::{Path, PathBuf};
use std::process::Command;

use pktscript::Packet;
use pktscript::layers::{self, Value};
use pktscript::pcap::{PcapReader, Record, read_all};
use pktscript::script::pcap::{packet_from_record, write_packets};
use pktscript::text::{self, TextOptions, TextWriter};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// The captures Scapy wrote, with the link type each holds.
const CAPTURES: &[(&str, u32)] = &[
    ("sll.pcap", 113),
    ("sll2.pcap", 276),
    ("raw228.pcap", 228),
    ("raw229.pcap", 229),
    ("raw101.pcap", 101),
];

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/linktypes")
        .join(name)
}

/// A fresh directory for one test in cargo's per-target temporary directory.
fn tmp_dir(test: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("linktypes")
        .join(test);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

/// Runs a command: its standard output, or a panic with its error output.
fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what} could not be run ({e}); .ci/run installs it"));
    assert!(
        out.status.success(),
        "{what} failed ({}): {cmd:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `pktscript -e SCRIPT` in `dir`: what it printed.
fn pktscript(dir: &Path, script: &str) -> String {
    run(
        Command::new(env!("CARGO_BIN_EXE_pktscript"))
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .args(["-e", script]),
        "pktscript",
    )
}

/// `tcpdump -r FILE -nn -e -xx`: every record with its link-layer header and bytes.
fn tcpdump(file: &Path) -> String {
    let out = run(
        Command::new("tcpdump")
            .args(["-nn", "-e", "-xx", "-r"])
            .arg(file),
        "tcpdump",
    );
    assert!(
        !out.trim().is_empty(),
        "tcpdump printed nothing for {file:?}"
    );
    out
}

/// The link type tcpdump says a file has (`LINUX_SLL`, `IPV4`...).
fn tcpdump_linktype(file: &Path) -> String {
    let out = Command::new("tcpdump")
        .args(["-nn", "-c", "1", "-r"])
        .arg(file)
        .output()
        .expect("tcpdump (.ci/run installs it)");
    let err = String::from_utf8_lossy(&out.stderr);
    let at = err
        .find("link-type ")
        .unwrap_or_else(|| panic!("tcpdump names no link type: {err}"));
    err[at + 10..]
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string()
}

/// `python3 -c CODE`.
fn python(code: &str) -> String {
    run(
        Command::new("python3").args(["-c", code]),
        "python3 with Scapy (`python3 -m pip install scapy`)",
    )
}

fn packets(file: &Path) -> Vec<Packet> {
    read_all(file)
        .unwrap_or_else(|e| panic!("{file:?}: {e}"))
        .into_iter()
        .map(packet_from_record)
        .collect()
}

fn records(file: &Path) -> Vec<Record> {
    read_all(file).unwrap_or_else(|e| panic!("{file:?}: {e}"))
}

/// A field as text (`4`, `0x0800`, `127.0.0.1`), or "" when the packet has
/// no such layer; enums and hex fields in tshark's style.
fn field(p: &mut Packet, layer: &str, name: &str) -> String {
    let Some(idx) = p.find(layer) else {
        return String::new();
    };
    let fi = p
        .field_index(idx, name)
        .unwrap_or_else(|e| panic!("{layer}.{name}: {e}"));
    let f = &p.layers()[idx].proto.fields[fi];
    match p.get(idx, fi).unwrap() {
        Value::Int(n) if matches!(f.kind, layers::Kind::HexEnum(_)) => format!("{n:#06x}"),
        Value::Int(n) if matches!(f.kind, layers::Kind::Hex) => {
            format!("{n:0width$x}", width = f.bits.div_ceil(4) as usize)
        }
        v => {
            let s = layers::format_value(f, &v);
            // Enums show their name after the number: keep the number.
            s.split(' ').next().unwrap_or("").to_string()
        }
    }
}

/// The columns compared with tshark, as tshark names them.
const TSHARK_FIELDS: &[&str] = &[
    "sll.pkttype",
    "sll.hatype",
    "sll.halen",
    "sll.src.eth",
    "sll.unused",
    "sll.etype",
    "sll.ltype",
    "sll.ifindex",
    "ip.src",
    "ip.dst",
    "ip.proto",
    "ipv6.src",
    "ipv6.dst",
    "arp.dst.proto_ipv4",
];

/// tshark's rows for a capture: one per frame, the columns of [`TSHARK_FIELDS`].
fn tshark_rows(file: &Path) -> Vec<Vec<String>> {
    let mut c = Command::new("tshark");
    c.arg("-n").arg("-r").arg(file);
    c.args(["-T", "fields", "-E", "separator=/t"]);
    for f in TSHARK_FIELDS {
        c.args(["-e", f]);
    }
    run(&mut c, "tshark")
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// pktscript's rows for the same columns.
fn our_rows(pkts: &mut [Packet]) -> Vec<Vec<String>> {
    pkts.iter_mut()
        .map(|p| {
            let sll = if p.has("sll") { "sll" } else { "sll2" };
            let proto = field(p, sll, "proto");
            // tshark calls the protocol an EtherType from 0x0600 on, and
            // Linux's pseudo-protocol below that.
            let linux = !proto.is_empty() && u64::from_str_radix(&proto[2..], 16).unwrap() < 0x600;
            let (etype, ltype) = if linux {
                (String::new(), proto)
            } else {
                (proto, String::new())
            };
            vec![
                field(p, sll, "pkttype"),
                // tshark gives the hardware type in decimal.
                field(p, sll, "lladdrtype")
                    .strip_prefix("0x")
                    .map(|h| u64::from_str_radix(h, 16).unwrap().to_string())
                    .unwrap_or_default(),
                field(p, sll, "lladdrlen"),
                field(p, sll, "src"),
                field(p, sll, "unused"),
                etype,
                ltype,
                field(p, "sll2", "ifindex"),
                field(p, "ip", "src"),
                field(p, "ip", "dst"),
                field(p, "ip", "proto"),
                field(p, "ipv6", "src"),
                field(p, "ipv6", "dst"),
                field(p, "arp", "pdst"),
            ]
        })
        .collect()
}

fn summaries(pkts: &mut [Packet]) -> Vec<String> {
    pkts.iter_mut().map(|p| p.summary()).collect()
}

// ---------------------------------------------------------------------------
// Captures written by Scapy
// ---------------------------------------------------------------------------

#[test]
fn cooked_and_raw_ip_captures_dissect_down_to_ip() {
    let layers_of = |file: &str| -> Vec<Vec<&'static str>> {
        packets(&data(file))
            .iter()
            .map(|p| p.layer_names())
            .collect()
    };
    assert_eq!(
        layers_of("sll.pcap"),
        [
            vec!["CookedLinux", "IPv4", "ICMP", "Raw"],
            vec!["CookedLinux", "IPv4", "UDP", "Raw"],
            vec!["CookedLinux", "ARP"],
            // Linux's protocol 4 is 802.2 LLC, not an EtherType.
            vec!["CookedLinux", "Raw"],
            vec!["CookedLinux", "IPv4", "TCP"],
        ]
    );
    assert_eq!(
        layers_of("sll2.pcap"),
        [
            vec!["CookedLinuxV2", "IPv4", "TCP"],
            vec!["CookedLinuxV2", "IPv4", "ICMP"],
            vec!["CookedLinuxV2", "ARP"],
            vec!["CookedLinuxV2", "IPv6", "ICMPv6"],
        ]
    );
    assert_eq!(
        layers_of("raw228.pcap"),
        [vec!["IPv4", "ICMP"], vec!["IPv4", "UDP", "Raw"]]
    );
    assert_eq!(layers_of("raw229.pcap"), [vec!["IPv6", "ICMPv6"]]);
    // Link type 101 holds either version: the first nibble says which.
    assert_eq!(
        layers_of("raw101.pcap"),
        [vec!["IPv4", "ICMP"], vec!["IPv6", "ICMPv6"]]
    );
    for (file, lt) in CAPTURES {
        for p in packets(&data(file)) {
            assert_eq!(p.linktype, *lt, "{file}");
            assert!(p.time.is_some(), "{file}: the record's time is kept");
        }
    }
}

#[test]
fn summaries_say_the_direction_as_tcpdump_does() {
    assert_eq!(
        summaries(&mut packets(&data("sll.pcap"))),
        [
            "Out, IP 127.0.0.1 > 127.0.0.1: ICMP echo request, id 4660, seq 1, length 13",
            "In, IP 198.18.0.2.53 > 198.18.0.1.1234: UDP, length 3",
            "B, ARP, Request who-has 198.18.0.2 tell 198.18.0.1, length 28",
            // Nothing above says more: the cooked header speaks, as `tcpdump -e` does.
            "M, 02:00:00:00:00:01 802.2, length 28",
            "P, IP 198.18.0.3.40000 > 198.18.0.4.80: Flags [S], seq 1000, win 8192, length 0",
        ]
    );
    assert_eq!(
        summaries(&mut packets(&data("sll2.pcap"))),
        [
            "ifindex 3 Out, IP 198.18.0.1.40000 > 198.18.0.2.80: Flags [S], seq 1000, win 8192, length 0",
            "ifindex 1 In, IP 127.0.0.1 > 127.0.0.1: ICMP echo reply, id 9, seq 2, length 8",
            "ifindex 2 B, ARP, Request who-has 198.18.0.2 tell 198.18.0.1, length 28",
            "ifindex 2 In, IP6 2001:db8::1 > 2001:db8::2: ICMP6, echo request, id 5, seq 1, length 8",
        ]
    );
    assert_eq!(
        summaries(&mut packets(&data("raw101.pcap"))),
        [
            "IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 1, seq 1, length 8",
            "IP6 2001:db8::1 > 2001:db8::2: ICMP6, echo request, id 5, seq 1, length 8",
        ]
    );
    // The direction words are tcpdump's (`tcpdump -e` on the same file).
    let td = tcpdump(&data("sll.pcap"));
    let words: Vec<&str> = td
        .lines()
        .filter(|l| !l.starts_with('\t'))
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(words, ["Out", "In", "B", "M", "P"]);
}

#[test]
fn fields_read_as_tshark_reads_them() {
    for (file, _) in CAPTURES {
        let path = data(file);
        let theirs = tshark_rows(&path);
        let ours = our_rows(&mut packets(&path));
        assert_eq!(ours.len(), theirs.len(), "{file}: frame count");
        for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
            for (c, name) in TSHARK_FIELDS.iter().enumerate() {
                assert_eq!(
                    o[c],
                    t.get(c).map(String::as_str).unwrap_or(""),
                    "{file} frame {}: {name}",
                    i + 1
                );
            }
        }
    }
}

#[test]
fn captures_are_written_back_exactly() {
    let dir = tmp_dir("written_back");
    for (file, lt) in CAPTURES {
        let src = data(file);
        let want = records(&src);
        for ext in ["pcap", "pcapng"] {
            // write_pcap of what read_pcap gave.
            let out = dir.join(format!("{file}.copy.{ext}"));
            let mut pkts = packets(&src);
            write_packets(out.to_str().unwrap(), &mut pkts).unwrap();
            assert_eq!(records(&out), want, "{file} -> {ext}");
            assert_eq!(
                PcapReader::open(&out).unwrap().linktype(),
                *lt,
                "{file} -> {ext}"
            );
            // tcpdump prints the copy as it prints the original, link-layer
            // header and bytes included.
            assert_eq!(tcpdump(&out), tcpdump(&src), "{file} -> {ext}");
        }
        assert_eq!(
            tcpdump_linktype(&dir.join(format!("{file}.copy.pcap"))),
            tcpdump_linktype(&src),
            "{file}"
        );
    }
    // The same through scripts: read_pcap/write_pcap and pcap_reader/pcap_writer.
    for (file, _) in CAPTURES {
        let src = data(file);
        let s = src.display();
        pktscript(
            &dir,
            &format!(
                r#"write_pcap("a.pcap", read_pcap("{s}"));
                   let w = pcap_writer("b.pcap");
                   for p in pcap_reader("{s}") {{ w.write(p); }}
                   w.close();
                   let w = pcap_writer("c.pcapng");
                   for p in pcap_reader("{s}") {{ w.write(p); }}
                   w.close();"#
            ),
        );
        for out in ["a.pcap", "b.pcap", "c.pcapng"] {
            assert_eq!(records(&dir.join(out)), records(&src), "{file} -> {out}");
        }
    }
}

#[test]
fn a_pcapng_file_mixes_link_types() {
    let dir = tmp_dir("mixed");
    let mut all: Vec<Packet> = Vec::new();
    let mut want: Vec<Record> = Vec::new();
    for (file, _) in CAPTURES {
        all.extend(packets(&data(file)));
        want.extend(records(&data(file)));
    }
    let out = dir.join("mixed.pcapng");
    write_packets(out.to_str().unwrap(), &mut all).unwrap();
    assert_eq!(records(&out), want);
    // tshark sees one interface per link type, each frame on its own.
    let mut c = Command::new("tshark");
    c.arg("-n").arg("-r").arg(&out);
    c.args([
        "-T",
        "fields",
        "-e",
        "frame.interface_id",
        "-e",
        "frame.protocols",
    ]);
    let lines = run(&mut c, "tshark");
    let firsts: Vec<&str> = lines
        .lines()
        .map(|l| {
            l.split('\t')
                .nth(1)
                .unwrap_or("")
                .split(':')
                .next()
                .unwrap_or("")
        })
        .collect();
    assert_eq!(
        firsts,
        [
            "sll", "sll", "sll", "sll", "sll", "sll", "sll", "sll", "sll", "ip", "ip", "ipv6",
            "raw", "raw"
        ]
    );
    let ids: std::collections::BTreeSet<&str> = lines
        .lines()
        .map(|l| l.split('\t').next().unwrap_or(""))
        .collect();
    assert_eq!(ids.len(), 5, "one interface per link type:\n{lines}");
    // A classic pcap file holds one link type: the second is an error.
    let err = write_packets(dir.join("mixed.pcap").to_str().unwrap(), &mut all).unwrap_err();
    assert!(
        err.to_string().contains("link type 276 (LINUX_SLL2)"),
        "{err}"
    );
}

#[test]
fn text_round_trips_keep_the_link_type() {
    let opts = [TextOptions { fields: true }, TextOptions::default()];
    for o in opts {
        // Every capture in one stream: a LINKTYPE line wherever the type changes.
        let mut w = TextWriter::new(Vec::new(), o);
        let mut all = Vec::new();
        for (file, _) in CAPTURES {
            for mut p in packets(&data(file)) {
                w.write(&mut p).unwrap();
                all.push(p);
            }
        }
        let t = String::from_utf8(w.into_inner()).unwrap();
        let lts: Vec<&str> = t.lines().filter(|l| l.starts_with("LINKTYPE:")).collect();
        assert_eq!(
            lts,
            [
                "LINKTYPE: 113 (LINUX_SLL)",
                "LINKTYPE: 276 (LINUX_SLL2)",
                "LINKTYPE: 228 (IPV4)",
                "LINKTYPE: 229 (IPV6)",
                "LINKTYPE: 101 (RAW)",
            ]
        );
        let mut back = text::parse_text(&t, "t").unwrap_or_else(|e| panic!("{e}\n{t}"));
        assert_eq!(back.len(), all.len());
        for (i, (b, p)) in back.iter().zip(&all).enumerate() {
            assert_eq!(b.raw_bytes(), p.raw_bytes(), "packet {}\n{t}", i + 1);
            assert_eq!(b.linktype, p.linktype, "packet {}", i + 1);
            assert_eq!(b.time, p.time, "packet {}", i + 1);
            assert!(
                !b.is_dirty(),
                "packet {}: agreeing field lines edited",
                i + 1
            );
        }
        // Written again, the text is the same.
        let mut w = TextWriter::new(Vec::new(), o);
        for p in &mut back {
            w.write(p).unwrap();
        }
        assert_eq!(String::from_utf8(w.into_inner()).unwrap(), t);
    }
    // One packet: its LINKTYPE line first, and field lines by accessor.
    let mut p = packets(&data("sll2.pcap")).remove(0);
    let t = text::to_text(&mut p, TextOptions { fields: true });
    assert!(
        t.starts_with("LINKTYPE: 276 (LINUX_SLL2)\n-- 1 --\n"),
        "{t}"
    );
    for line in [
        "sll2.ifindex:   3\n",
        "sll2.lladdrtype: 0x0001  # ether\n",
        "sll2.pkttype:   4       # sent-by-us\n",
        "sll2.src:       02:00:00:00:00:01\n",
    ] {
        assert!(t.contains(line), "no {line:?} in\n{t}");
    }
    // A field line edits like an assignment: the direction changes.
    let edited = t.replace("sll2.pkttype:   4", "sll2.pkttype:   host");
    let mut q = text::parse_text(&edited, "t").unwrap().remove(0);
    assert!(
        q.summary().starts_with("ifindex 3 In, IP "),
        "{}",
        q.summary()
    );
    assert_eq!(q.linktype, 276);
    // Through the shell tools: convert to text and back to pcap.
    let dir = tmp_dir("text_tools");
    for (file, _) in CAPTURES {
        let txt = dir.join(format!("{file}.txt"));
        let back = dir.join(format!("{file}.back.pcap"));
        run(
            Command::new(env!("CARGO_BIN_EXE_pktscript"))
                .args(["convert", "-a"])
                .arg(data(file))
                .arg(&txt),
            "pktscript convert",
        );
        run(
            Command::new(env!("CARGO_BIN_EXE_pktscript"))
                .arg("convert")
                .arg(&txt)
                .arg(&back),
            "pktscript convert",
        );
        assert_eq!(records(&back), records(&data(file)), "{file}");
    }
}

// ---------------------------------------------------------------------------
// Built packets
// ---------------------------------------------------------------------------

#[test]
fn constructors_give_scapys_defaults() {
    let theirs = python(
        "from scapy.all import CookedLinux, CookedLinuxV2, raw\n\
         print(raw(CookedLinux()).hex(), raw(CookedLinuxV2()).hex())",
    );
    let hex = |p: &mut Packet| {
        p.bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let ours = format!(
        "{} {}",
        hex(&mut Packet::new_layer(&layers::sll::SLL)),
        hex(&mut Packet::new_layer(&layers::sll::SLL2))
    );
    assert_eq!(ours, theirs.trim());
    // Built alone, a first layer gives its link type; others Ethernet's.
    assert_eq!(Packet::new_layer(&layers::sll::SLL).linktype, 113);
    assert_eq!(Packet::new_layer(&layers::sll::SLL2).linktype, 276);
    assert_eq!(Packet::new_layer(&layers::ipv4::IPV4).linktype, 228);
    assert_eq!(Packet::new_layer(&layers::ether::ETHER).linktype, 1);
    assert_eq!(Packet::raw(b"x").linktype, 1);
    // Stacking keeps the lower packet's.
    let mut p = Packet::new_layer(&layers::sll::SLL);
    p.stack(&Packet::new_layer(&layers::ipv4::IPV4));
    assert_eq!(p.linktype, 113);
    assert_eq!(
        p.peek_int(0, "proto"),
        0x0800,
        "the type field follows IPv4"
    );
}

#[test]
fn built_cooked_packets_are_scapys_and_written_with_their_link_type() {
    let dir = tmp_dir("built");
    // The first packet of each Scapy capture, built here.
    let out = pktscript(
        &dir,
        r#"
        let a = CookedLinux(#{pkttype: "outgoing", lladdrtype: "loopback", lladdrlen: 6})
              / IPv4(#{src: "127.0.0.1", dst: "127.0.0.1", id: 7})
              / ICMP(#{id: 0x1234, seq: 1}) / "hello";
        let b = CookedLinuxV2(#{ifindex: 3, pkttype: "sent-by-us", lladdrtype: "ether",
                                lladdrlen: 6, src: "02:00:00:00:00:01"})
              / IPv4(#{src: "198.18.0.1", dst: "198.18.0.2"})
              / TCP(#{sport: 40000, dport: 80, flags: "S", seq: 1000});
        let c = IPv4(#{src: "10.0.0.1", dst: "10.0.0.2"}) / ICMP(#{id: 1, seq: 1});
        for p in [a, b, c] { print(`${p.linktype} ${p.bytes().to_hex()}`); }
        write_pcap("a.pcap", a);
        write_pcap("b.pcapng", [b, b]);
        let w = pcap_writer("w.pcap");
        w.write(a);
        w.write(a);
        w.close();
        write_pcap("c.pcap", c);
        print(a.summary());
        a.sll.pkttype = "host";
        print(a.summary());
        "#,
    );
    let lines: Vec<&str> = out.lines().collect();
    let scapy = |file: &str| {
        let r = &records(&data(file))[0];
        format!(
            "{} {}",
            r.linktype,
            r.data
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        )
    };
    assert_eq!(lines[0], scapy("sll.pcap"));
    assert_eq!(lines[1], scapy("sll2.pcap"));
    assert_eq!(lines[2], scapy("raw228.pcap"));
    assert_eq!(
        lines[3],
        "Out, IP 127.0.0.1 > 127.0.0.1: ICMP echo request, id 4660, seq 1, length 13"
    );
    assert_eq!(
        lines[4],
        "In, IP 127.0.0.1 > 127.0.0.1: ICMP echo request, id 4660, seq 1, length 13"
    );
    for (file, lt, tcpdump_name) in [
        ("a.pcap", 113, "LINUX_SLL"),
        ("b.pcapng", 276, "LINUX_SLL2"),
        ("w.pcap", 113, "LINUX_SLL"),
        ("c.pcap", 228, "IPV4"),
    ] {
        let path = dir.join(file);
        assert_eq!(PcapReader::open(&path).unwrap().linktype(), lt, "{file}");
        assert_eq!(tcpdump_linktype(&path), tcpdump_name, "{file}");
        for r in records(&path) {
            assert_eq!(r.linktype, lt, "{file}");
        }
    }
    // tcpdump and tshark read the built packets as Scapy's.
    let td = tcpdump(&dir.join("a.pcap"));
    assert!(
        td.contains(
            "Out 00:00:00:00:00:00 ethertype IPv4 (0x0800), length 49: \
             127.0.0.1 > 127.0.0.1: ICMP echo request, id 4660, seq 1, length 13"
        ),
        "{td}"
    );
    let td = tcpdump(&dir.join("c.pcap"));
    assert!(
        td.contains("10.0.0.1 > 10.0.0.2: ICMP echo request, id 1, seq 1, length 8"),
        "{td}"
    );
    for (file, scapy_file) in [("a.pcap", "sll.pcap"), ("b.pcapng", "sll2.pcap")] {
        let ours = tshark_rows(&dir.join(file));
        let theirs = tshark_rows(&data(scapy_file));
        assert_eq!(ours[0], theirs[0], "{file}");
    }
    // Scapy reads them back as cooked captures, with the fields we set.
    let seen = python(&format!(
        "from scapy.all import rdpcap, CookedLinux, CookedLinuxV2\n\
         for f in ['a.pcap', 'b.pcapng']:\n\
         \x20   p = rdpcap('{d}/' + f)[0]\n\
         \x20   l = p[CookedLinux] if CookedLinux in p else p[CookedLinuxV2]\n\
         \x20   print(type(l).__name__, l.pkttype, l.lladdrtype, l.proto, p.summary())",
        d = dir.display()
    ));
    let seen: Vec<&str> = seen.lines().collect();
    assert_eq!(
        seen[0],
        "CookedLinux 4 772 2048 CookedLinux / IP / ICMP 127.0.0.1 > 127.0.0.1 echo-request 0 / Raw"
    );
    assert_eq!(
        seen[1],
        "CookedLinuxV2 4 1 2048 CookedLinuxV2 / IP / TCP 198.18.0.1:40000 > 198.18.0.2:http S"
    );
}

#[test]
fn odd_cooked_headers_dissect_without_panicking() {
    // Truncated headers: kept, marked, and written back as they came.
    for lt in [113u32, 276, 101, 228, 229] {
        for n in 0..24usize {
            let data: Vec<u8> = (0..n as u8).map(|i| i.wrapping_mul(37)).collect();
            let mut p = Packet::dissect(data.clone(), lt);
            let _ = p.summary();
            let _ = p.details();
            assert_eq!(p.bytes(), &data[..], "link type {lt}, {n} bytes");
            let t = text::to_text(&mut p, TextOptions { fields: true });
            let back = text::parse_text(&t, "t").unwrap().remove(0);
            assert_eq!(back.raw_bytes(), &data[..], "{t}");
            assert_eq!(back.linktype, lt);
        }
    }
    let mut p = Packet::dissect(vec![0, 4, 3, 4, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 8], 113);
    assert_eq!(p.layer_names(), ["CookedLinux"]);
    assert!(p.summary().ends_with("[truncated]"), "{}", p.summary());
    // A netlink device's protocol is a netlink family, not an EtherType.
    let mut nl = vec![0, 4, 0x03, 0x38, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00];
    nl.extend([0x45; 20]);
    assert_eq!(
        Packet::dissect(nl, 113).layer_names(),
        ["CookedLinux", "Raw"]
    );
    // An EtherType nothing binds: Raw. An unknown packet type: `?`.
    let mut q = vec![0, 7, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x12, 0x34];
    q.extend(b"data");
    let mut q = Packet::dissect(q, 113);
    assert_eq!(q.layer_names(), ["CookedLinux", "Raw"]);
    assert_eq!(
        q.summary(),
        "?, 02:00:00:00:00:01 ethertype 0x1234, length 20"
    );
    // Random bytes on every link type: exact bytes back, no panic.
    let mut x: u64 = 0x1234_5678_9abc_def1;
    for i in 0..3000 {
        let lt = [113u32, 276, 101, 228, 229][i % 5];
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 90) as usize;
        let mut data: Vec<u8> = (0..len)
            .map(|j| (x.rotate_left(j as u32 * 7) >> 3) as u8)
            .collect();
        // Steer some towards IP behind a cooked header.
        if i % 3 == 0 && len > 20 {
            let at = if lt == 113 { 14 } else { 0 };
            data[at] = 0x08;
            data[at + 1] = 0x00;
            if lt == 276 && len > 21 {
                data[20] = 0x45;
            }
        }
        let mut p = Packet::dissect(data.clone(), lt);
        let _ = p.summary();
        let _ = p.details();
        assert_eq!(p.bytes(), &data[..], "link type {lt}: {data:02x?}");
        let t = text::to_text(&mut p, TextOptions { fields: true });
        let back = text::parse_text(&t, "t")
            .unwrap_or_else(|e| panic!("{e}\n{t}"))
            .remove(0);
        assert_eq!(back.raw_bytes(), &data[..], "{t}");
        assert!(!back.is_dirty(), "{t}");
    }
}

// ---------------------------------------------------------------------------
// A real `tcpdump -i any` capture (root: it makes a network namespace)
// ---------------------------------------------------------------------------

/// Captures 4 UDP datagrams sent over loopback in a namespace of its own,
/// with `tcpdump -i any -y LINKTYPE`; returns the capture file.
fn capture_any(lan: &netns::Lan, dir: &Path, linktype: &str) -> PathBuf {
    let file = dir.join(format!("any_{linktype}.pcap"));
    let file_s = file.to_str().unwrap().to_string();
    let mut child = lan.spawn(
        0,
        &[
            "tcpdump", "-U", "-n", "-Z", "root", "-i", "any", "-y", linktype, "-c", "4", "-w",
            &file_s, "udp",
        ],
        dir,
    );
    lan.wait_packet_sockets(0, 1, std::time::Duration::from_secs(10));
    // Only loopback traffic: to a socket of the same namespace.
    // tcpdump's socket may exist before its filter and ring are ready:
    // keep sending (one datagram every 50 ms) until it has seen 4.
    let mut i = 0;
    let end = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        lan.in_host(0, || {
            let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            tx.send_to(
                format!("ping {}", i % 10).as_bytes(),
                rx.local_addr().unwrap(),
            )
            .unwrap();
        });
        i += 1;
        std::thread::sleep(std::time::Duration::from_millis(30));
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            assert!(
                status.success(),
                "tcpdump failed ({status}): {}",
                String::from_utf8_lossy(&out.stderr)
            );
            break;
        }
        if std::time::Instant::now() > end {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "tcpdump did not see 4 packets: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    file
}

#[test]
fn live_tcpdump_any_captures_dissect_and_round_trip() {
    let lan = netns::Lan::new(1);
    let dir = tmp_dir("live");
    for (name, lt, first) in [
        ("LINUX_SLL", 113u32, "CookedLinux"),
        ("LINUX_SLL2", 276, "CookedLinuxV2"),
    ] {
        let file = capture_any(&lan, &dir, name);
        let mut pkts = packets(&file);
        assert_eq!(pkts.len(), 4, "{name}");
        for (i, p) in pkts.iter_mut().enumerate() {
            assert_eq!(p.linktype, lt);
            assert_eq!(p.layer_names(), [first, "IPv4", "UDP", "Raw"], "{name}");
            let sll = if lt == 113 { "sll" } else { "sll2" };
            // libpcap keeps loopback packets once, as received.
            assert_eq!(field(p, sll, "pkttype"), "0", "{name}");
            assert_eq!(field(p, sll, "lladdrtype"), "0x0304", "{name}: loopback");
            assert_eq!(field(p, "ip", "src"), "127.0.0.1");
            let s = p.summary();
            let want = if lt == 113 {
                "In, IP 127.0.0.1."
            } else {
                "ifindex 1 In, IP 127.0.0.1."
            };
            assert!(s.starts_with(want), "{name}: {s}");
            assert!(s.ends_with(": UDP, length 6"), "{name}: {s}");
            let load = p.payload(p.find("UDP").unwrap()).to_vec();
            // Datagrams are sent until tcpdump has 4: which ones it saw varies.
            assert!(
                load.starts_with(b"ping ") && load.len() == 6 && load[5].is_ascii_digit(),
                "{name} {i}: {load:02x?}"
            );
        }
        // As tshark reads them.
        assert_eq!(our_rows(&mut pkts), tshark_rows(&file), "{name}");
        // Written back exactly: pcap, pcapng, text.
        for ext in ["pcap", "pcapng"] {
            let out = dir.join(format!("copy_{name}.{ext}"));
            write_packets(out.to_str().unwrap(), &mut pkts).unwrap();
            assert_eq!(records(&out), records(&file), "{name} -> {ext}");
            assert_eq!(tcpdump(&out), tcpdump(&file), "{name} -> {ext}");
        }
        let mut w = TextWriter::new(Vec::new(), TextOptions { fields: true });
        for p in &mut pkts {
            w.write(p).unwrap();
        }
        let t = String::from_utf8(w.into_inner()).unwrap();
        let back = text::parse_text(&t, "t").unwrap();
        for (b, p) in back.iter().zip(&pkts) {
            assert_eq!(b.raw_bytes(), p.raw_bytes(), "{t}");
            assert_eq!(b.linktype, lt);
        }
    }
}
