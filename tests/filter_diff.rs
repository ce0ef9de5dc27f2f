//! Differential tests of `pktscript::filter` against tcpdump.
//!
//! A pcap of varied Ethernet frames is written, then for every expression in
//! `tests/filter/exprs.txt` the set of frames our compiled program accepts
//! (run by our interpreter) must equal the set tcpdump prints. Frame `i` has
//! the timestamp `1000 + i` seconds, which maps tcpdump's output lines back.
//! Expressions in `tests/filter/invalid.txt` must be rejected by both.
//!
//! The same frames re-encapsulated as Linux cooked captures (SLL, 113; SLL2,
//! 276) and raw IP (101, 228, 229) are checked the same way for every link
//! type, with programs compiled for it (`filter::compile_for`): where
//! tcpdump refuses an expression for a link type (`ether host` on SLL,
//! `vlan` on raw IP, "expression rejects all packets"), so must we.
//!
//! Needs tcpdump on PATH (CI installs it): without it these tests fail, they
//! do not skip.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use pktscript::filter;
use pktscript::pcap::PcapWriter;

const TS_BASE: i64 = 1000;

fn eth(dst: [u8; 6], src: [u8; 6], ty: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&dst);
    v.extend_from_slice(&src);
    v.extend_from_slice(&ty.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn vlan(tpid: u16, id: u16, prio: u8, inner_ty: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&((u16::from(prio) << 13) | id).to_be_bytes());
    v.extend_from_slice(&inner_ty.to_be_bytes());
    v.extend_from_slice(payload);
    let _ = tpid;
    v
}

fn csum(b: &[u8]) -> u16 {
    let mut s: u32 = 0;
    for c in b.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], 0])
        };
        s += u32::from(w);
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

struct Ip4 {
    src: [u8; 4],
    dst: [u8; 4],
    proto: u8,
    ttl: u8,
    tos: u8,
    opts: Vec<u8>,
    frag: u16,
    id: u16,
}

impl Ip4 {
    fn new(src: [u8; 4], dst: [u8; 4], proto: u8) -> Self {
        Ip4 {
            src,
            dst,
            proto,
            ttl: 64,
            tos: 0,
            opts: vec![],
            frag: 0x4000,
            id: 1,
        }
    }

    fn build(&self, payload: &[u8]) -> Vec<u8> {
        let hl = 20 + self.opts.len();
        assert_eq!(hl % 4, 0);
        let total = (hl + payload.len()) as u16;
        let mut h = vec![0x40 | (hl / 4) as u8, self.tos];
        h.extend_from_slice(&total.to_be_bytes());
        h.extend_from_slice(&self.id.to_be_bytes());
        h.extend_from_slice(&self.frag.to_be_bytes());
        h.push(self.ttl);
        h.push(self.proto);
        h.extend_from_slice(&[0, 0]);
        h.extend_from_slice(&self.src);
        h.extend_from_slice(&self.dst);
        h.extend_from_slice(&self.opts);
        let c = csum(&h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        h.extend_from_slice(payload);
        h
    }
}

fn tcp(sport: u16, dport: u16, flags: u8, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&sport.to_be_bytes());
    v.extend_from_slice(&dport.to_be_bytes());
    v.extend_from_slice(&1000u32.to_be_bytes());
    v.extend_from_slice(&2000u32.to_be_bytes());
    v.push(0x50);
    v.push(flags);
    v.extend_from_slice(&8192u16.to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, 0]);
    v.extend_from_slice(data);
    v
}

fn udp(sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&sport.to_be_bytes());
    v.extend_from_slice(&dport.to_be_bytes());
    v.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(data);
    v
}

fn icmp(ty: u8, code: u8) -> Vec<u8> {
    let mut v = vec![ty, code, 0, 0, 0, 1, 0, 1];
    v.extend_from_slice(b"abcdefghijklmnop");
    let c = csum(&v);
    v[2..4].copy_from_slice(&c.to_be_bytes());
    v
}

fn arp(op: u16, sha: [u8; 6], spa: [u8; 4], tha: [u8; 6], tpa: [u8; 4]) -> Vec<u8> {
    let mut v = vec![0, 1, 8, 0, 6, 4];
    v.extend_from_slice(&op.to_be_bytes());
    v.extend_from_slice(&sha);
    v.extend_from_slice(&spa);
    v.extend_from_slice(&tha);
    v.extend_from_slice(&tpa);
    v
}

fn ip6(nh: u8, src: u8, dst: [u8; 16], payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x60, 0, 0, 0];
    v.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    v.push(nh);
    v.push(64);
    let mut s = [0u8; 16];
    s[0] = 0x20;
    s[1] = 0x01;
    s[15] = src;
    v.extend_from_slice(&s);
    v.extend_from_slice(&dst);
    v.extend_from_slice(payload);
    v
}

const M1: [u8; 6] = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55];
const M2: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];
const M3: [u8; 6] = [0x00, 0x1b, 0x21, 0x0a, 0x0b, 0x0c];
const BCAST: [u8; 6] = [0xff; 6];
const MCAST4: [u8; 6] = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x05];
const MCAST6: [u8; 6] = [0x33, 0x33, 0x00, 0x00, 0x00, 0x01];

const A1: [u8; 4] = [10, 0, 0, 1];
const A2: [u8; 4] = [10, 0, 0, 2];
const A3: [u8; 4] = [192, 168, 1, 1];
const A4: [u8; 4] = [192, 168, 1, 200];
const A5: [u8; 4] = [172, 16, 5, 4];
const A6: [u8; 4] = [8, 8, 8, 8];

/// The frames of the test capture.
fn frames() -> Vec<Vec<u8>> {
    let mut f = Vec::new();
    let v4 = |ip: &Ip4, l4: &[u8], dst: [u8; 6], src: [u8; 6]| eth(dst, src, 0x800, &ip.build(l4));
    // TCP with every flag, between varied hosts and ports.
    let hosts = [(A1, A2), (A3, A4), (A5, A6), (A2, A3), (A6, A1)];
    let ports = [
        (1024u16, 80u16),
        (443, 50000),
        (22, 2222),
        (53, 53),
        (8080, 8443),
        (0, 65535),
    ];
    for (i, flags) in [
        0x02u8, 0x12, 0x10, 0x18, 0x11, 0x04, 0x14, 0x20, 0x40, 0x80, 0xc2, 0x01, 0x00, 0x3f,
    ]
    .iter()
    .enumerate()
    {
        let (s, d) = hosts[i % hosts.len()];
        let (sp, dp) = ports[i % ports.len()];
        f.push(v4(
            &Ip4::new(s, d, 6),
            &tcp(sp, dp, *flags, b"data"),
            M1,
            M2,
        ));
    }
    // UDP.
    for (i, &(sp, dp)) in ports.iter().enumerate() {
        let (s, d) = hosts[(i + 2) % hosts.len()];
        f.push(v4(&Ip4::new(s, d, 17), &udp(sp, dp, b"hello"), M2, M3));
    }
    // ICMP types.
    for (i, &(ty, code)) in [
        (0u8, 0u8),
        (3, 1),
        (3, 3),
        (4, 0),
        (5, 1),
        (8, 0),
        (9, 0),
        (10, 0),
        (11, 0),
        (11, 1),
        (12, 0),
        (13, 0),
        (14, 0),
        (17, 0),
        (18, 0),
    ]
    .iter()
    .enumerate()
    {
        let (s, d) = hosts[i % hosts.len()];
        let mut ip = Ip4::new(s, d, 1);
        ip.ttl = 1 + (i as u8) * 17;
        f.push(v4(&ip, &icmp(ty, code), M3, M1));
    }
    // IPv4 with options (ihl 6 and 8), TCP and UDP and ICMP inside.
    let mut ip = Ip4::new(A1, A3, 6);
    ip.opts = vec![0x94, 0x04, 0, 0];
    f.push(v4(&ip, &tcp(5555, 80, 0x02, b""), M1, M2));
    let mut ip = Ip4::new(A4, A2, 17);
    ip.opts = vec![0x07, 0x0b, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    f.push(v4(&ip, &udp(67, 68, b"dhcp"), M2, M1));
    let mut ip = Ip4::new(A5, A1, 1);
    ip.opts = vec![1, 1, 1, 0];
    f.push(v4(&ip, &icmp(8, 0), M2, M1));
    // Fragments: first (MF), middle and last, TCP and UDP and ICMP.
    for (proto, l4) in [
        (6u8, tcp(80, 1234, 0x18, &[7u8; 24])),
        (17, udp(53, 5353, &[9u8; 24])),
        (1, icmp(8, 0)),
    ] {
        let mut ip = Ip4::new(A3, A6, proto);
        ip.id = 77;
        ip.frag = 0x2000;
        f.push(v4(&ip, &l4, M1, M3));
        ip.frag = 0x2003;
        f.push(v4(&ip, &l4, M1, M3));
        ip.frag = 0x0006;
        f.push(v4(&ip, &l4[..8], M1, M3));
    }
    // Other IP protocols, TOS, multicast and broadcast destinations.
    let mut ip = Ip4::new(A1, [224, 0, 0, 5], 89);
    ip.tos = 0xc0;
    f.push(v4(&ip, &[0u8; 24], MCAST4, M1));
    let ip = Ip4::new(A3, [255, 255, 255, 255], 17);
    f.push(v4(&ip, &udp(68, 67, b"discover"), BCAST, M2));
    let ip = Ip4::new(A2, [239, 1, 2, 3], 2);
    f.push(v4(&ip, &[0x16, 0, 0, 0, 239, 1, 2, 3], MCAST4, M3));
    let ip = Ip4::new(A4, A5, 132);
    f.push(v4(
        &ip,
        &[0x0b, 0xb8, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0],
        M1,
        M2,
    ));
    for proto in [103u8, 112, 50, 51, 9] {
        let ip = Ip4::new(A2, A6, proto);
        f.push(v4(
            &ip,
            &[proto, 0x11, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0],
            M2,
            M3,
        ));
    }
    // ARP and RARP.
    f.push(eth(BCAST, M1, 0x806, &arp(1, M1, A1, [0; 6], A2)));
    f.push(eth(M1, M2, 0x806, &arp(2, M2, A2, M1, A1)));
    f.push(eth(BCAST, M3, 0x806, &arp(1, M3, A3, [0; 6], A4)));
    f.push(eth(BCAST, M3, 0x8035, &arp(3, M3, [0; 4], M3, [0; 4])));
    f.push(eth(M3, M2, 0x8035, &arp(4, M2, A5, M3, A6)));
    // IPv6: TCP, UDP, ICMPv6, fragment header, multicast.
    let d6 = {
        let mut d = [0u8; 16];
        d[0] = 0x20;
        d[1] = 0x01;
        d[15] = 2;
        d
    };
    let mut mc6 = [0u8; 16];
    mc6[0] = 0xff;
    mc6[1] = 0x02;
    mc6[15] = 1;
    f.push(eth(
        M1,
        M2,
        0x86dd,
        &ip6(6, 1, d6, &tcp(1234, 80, 0x02, b"")),
    ));
    f.push(eth(M2, M1, 0x86dd, &ip6(17, 2, d6, &udp(5353, 53, b"q"))));
    f.push(eth(MCAST6, M1, 0x86dd, &ip6(58, 1, mc6, &icmp(135, 0))));
    f.push(eth(M1, M2, 0x86dd, &ip6(58, 4, d6, &icmp(128, 0))));
    f.push(eth(M2, M1, 0x86dd, &ip6(58, 2, d6, &icmp(129, 0))));
    f.push(eth(M2, M1, 0x86dd, &ip6(50, 1, d6, &[0u8; 16])));
    f.push(eth(M2, M1, 0x86dd, &ip6(103, 3, d6, &[0x20u8; 16])));
    let mut fragh = vec![17u8, 0, 0, 1, 0, 0, 0, 9];
    fragh.extend_from_slice(&udp(1000, 2000, b"frag"));
    f.push(eth(M2, M3, 0x86dd, &ip6(44, 3, d6, &fragh)));
    // VLAN-tagged: 802.1Q, 802.1ad, double-tagged.
    let inner_tcp = Ip4::new(A1, A3, 6).build(&tcp(1024, 80, 0x02, b""));
    let inner_udp = Ip4::new(A2, A4, 17).build(&udp(53, 33333, b"x"));
    let inner_icmp = Ip4::new(A5, A6, 1).build(&icmp(8, 0));
    f.push(eth(M1, M2, 0x8100, &vlan(0x8100, 10, 0, 0x800, &inner_tcp)));
    f.push(eth(M1, M2, 0x8100, &vlan(0x8100, 20, 5, 0x800, &inner_udp)));
    f.push(eth(
        M1,
        M2,
        0x8100,
        &vlan(0x8100, 10, 0, 0x800, &inner_icmp),
    ));
    f.push(eth(
        M1,
        M2,
        0x8100,
        &vlan(0x8100, 30, 0, 0x806, &arp(1, M2, A1, [0; 6], A2)),
    ));
    f.push(eth(
        M1,
        M2,
        0x88a8,
        &vlan(0x88a8, 100, 0, 0x800, &inner_tcp),
    ));
    let inner = vlan(0x8100, 10, 0, 0x800, &inner_udp);
    f.push(eth(M1, M2, 0x88a8, &vlan(0x88a8, 200, 0, 0x8100, &inner)));
    // Truncated and odd frames.
    let full = v4(&Ip4::new(A1, A2, 6), &tcp(80, 80, 0x02, b""), M1, M2);
    f.push(full[..30].to_vec());
    f.push(full[..40].to_vec());
    f.push(eth(M1, M2, 0x0800, &[]));
    f.push(eth(M1, M2, 0x9000, &[0u8; 46]));
    f.push(eth(BCAST, M2, 0x88cc, &[0u8; 46]));
    f.push(M1[..4].to_vec());
    // A long frame.
    f.push(v4(
        &Ip4::new(A6, A5, 17),
        &udp(4789, 4789, &[0x55; 1200]),
        M3,
        M2,
    ));
    f
}

fn tcpdump() -> &'static str {
    for p in ["/usr/bin/tcpdump", "/usr/sbin/tcpdump"] {
        if std::path::Path::new(p).exists() {
            return p;
        }
    }
    "tcpdump"
}

fn write_capture(frames: &[Vec<u8>], name: &str) -> PathBuf {
    write_capture_for(frames, name, 1)
}

fn write_capture_for(frames: &[Vec<u8>], name: &str, linktype: u32) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pktscript-filter-diff-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.pcap"));
    let mut w = PcapWriter::create(&path, linktype).unwrap();
    for (i, fr) in frames.iter().enumerate() {
        w.write_frame(fr, TS_BASE + i as i64, 0, fr.len() as u32, linktype)
            .unwrap();
    }
    w.close().unwrap();
    path
}

/// The link types checked besides Ethernet, with their tcpdump names.
const LINKS: &[(u32, &str)] = &[
    (113, "LINUX_SLL"),
    (276, "LINUX_SLL2"),
    (101, "RAW"),
    (228, "IPV4"),
    (229, "IPV6"),
];

/// Frame `i` of the Ethernet corpus as a frame of `linktype`: the payload
/// after a Linux cooked header (SLL: packet type, ARPHRD_ETHER, the source
/// MAC as the address, the EtherType; SLL2: the EtherType first, then an
/// interface index) or alone (raw IP; frames of other EtherTypes stay as
/// bytes that are not IP, and VLAN-tagged ones keep their tag in the
/// payload). A frame too short for its Ethernet header keeps as many bytes
/// of the new header; a raw IP frame with nothing after the Ethernet header
/// keeps the EtherType (tcpdump refuses empty records).
fn encap(linktype: u32, i: usize, f: &[u8]) -> Vec<u8> {
    if linktype == 1 {
        return f.to_vec();
    }
    if f.len() < 14 {
        return match linktype {
            113 | 276 => {
                let full = encap(linktype, i, &[f, &[0u8; 14][f.len()..]].concat());
                full[..f.len()].to_vec()
            }
            _ => f.to_vec(),
        };
    }
    let (src, ty, payload) = (&f[6..12], &f[12..14], &f[14..]);
    if payload.is_empty() && !matches!(linktype, 113 | 276) {
        return ty.to_vec();
    }
    // Host, outgoing, broadcast, multicast, other host.
    let pkttype = [0u8, 4, 1, 2, 3][i % 5];
    let mut addr = src.to_vec();
    addr.extend_from_slice(&[0, 0]);
    let mut v = Vec::new();
    match linktype {
        113 => {
            v.extend_from_slice(&[0, pkttype, 0, 1, 0, 6]);
            v.extend_from_slice(&addr);
            v.extend_from_slice(ty);
        }
        276 => {
            v.extend_from_slice(ty);
            v.extend_from_slice(&[0, 0]);
            v.extend_from_slice(&(1 + i as u32 % 3).to_be_bytes());
            v.extend_from_slice(&[0, 1, pkttype, 6]);
            v.extend_from_slice(&addr);
        }
        _ => {}
    }
    v.extend_from_slice(payload);
    v
}

fn frames_for(linktype: u32) -> Vec<Vec<u8>> {
    frames()
        .iter()
        .enumerate()
        .map(|(i, f)| encap(linktype, i, f))
        .collect()
}

/// Indices tcpdump accepts, or its error message.
fn tcpdump_matches(path: &PathBuf, expr: &str) -> Result<BTreeSet<usize>, String> {
    tcpdump_matches_with(path, expr, &[])
}

/// Indices tcpdump accepts with its optimiser off (`-O`).
fn tcpdump_unoptimised(path: &PathBuf, expr: &str) -> Result<BTreeSet<usize>, String> {
    tcpdump_matches_with(path, expr, &["-O"])
}

fn tcpdump_matches_with(
    path: &PathBuf,
    expr: &str,
    opts: &[&str],
) -> Result<BTreeSet<usize>, String> {
    let out = Command::new(tcpdump())
        .args(opts)
        .args(["-nn", "-tt", "-r"])
        .arg(path)
        .arg(expr)
        .output()
        .expect("tcpdump must be installed for tests/filter_diff.rs");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let mut set = BTreeSet::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some((ts, _)) = line.split_once(' ') else {
            continue;
        };
        let Some((sec, usec)) = ts.split_once('.') else {
            continue;
        };
        if usec.len() != 6 || !usec.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(s) = sec.parse::<i64>() {
            set.insert((s - TS_BASE) as usize);
        }
    }
    Ok(set)
}

fn ours(frames: &[Vec<u8>], expr: &str) -> Result<BTreeSet<usize>, filter::FilterError> {
    ours_for(frames, expr, 1)
}

fn ours_for(
    frames: &[Vec<u8>],
    expr: &str,
    linktype: u32,
) -> Result<BTreeSet<usize>, filter::FilterError> {
    let prog = filter::compile_for(expr, linktype)?;
    Ok(frames
        .iter()
        .enumerate()
        .filter(|(_, f)| filter::run(&prog, f, f.len() as u32) != 0)
        .map(|(i, _)| i)
        .collect())
}

fn fixture(name: &str) -> Vec<String> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/filter")
        .join(name);
    std::fs::read_to_string(&p)
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

#[test]
fn same_packets_as_tcpdump() {
    let frames = frames();
    let path = write_capture(&frames, "diff");
    let exprs = fixture("exprs.txt");
    let mut failures = Vec::new();
    for e in &exprs {
        let theirs = match tcpdump_matches(&path, e) {
            Ok(s) => s,
            Err(msg) => {
                failures.push(format!("{e:?}: tcpdump rejects it: {}", msg.trim()));
                continue;
            }
        };
        match ours(&frames, e) {
            Ok(s) if s == theirs => {}
            Ok(s) => failures.push(format!(
                "{e:?}: tcpdump {theirs:?}\n    ours    {s:?}\n{}",
                filter::dump(&filter::compile(e).unwrap())
            )),
            Err(err) => failures.push(format!("{e:?}: we reject it: {err}")),
        }
    }
    let _ = std::fs::remove_file(&path);
    assert!(
        failures.is_empty(),
        "{} of {} expressions differ:\n{}",
        failures.len(),
        exprs.len(),
        failures.join("\n")
    );
}

/// The expression corpus over the frame corpus re-encapsulated for each
/// link type: the same frames selected as tcpdump selects, or refused by
/// both, for the same reason ("rejects all packets" or not), with our
/// message naming the link type.
#[test]
fn same_packets_as_tcpdump_on_every_link_type() {
    let exprs = fixture("exprs.txt");
    let mut failures = Vec::new();
    let mut summary = Vec::new();
    for &(lt, name) in LINKS {
        let frames = frames_for(lt);
        let path = write_capture_for(&frames, &format!("diff-{lt}"), lt);
        let (mut same, mut refused, mut nothing) = (0, 0, 0);
        for e in &exprs {
            match (tcpdump_matches(&path, e), ours_for(&frames, e, lt)) {
                (Ok(t), Ok(o)) if t == o => {
                    same += 1;
                    nothing += usize::from(t.is_empty());
                }
                (Err(msg), Err(err))
                    if msg.contains("expression rejects all packets")
                        == err.rejects_all_packets() =>
                {
                    refused += 1;
                    if !err.message.contains(&format!("{name} ({lt})")) {
                        failures.push(format!(
                            "{name}: {e:?}: our error does not name the link type: {}",
                            err.message
                        ));
                    }
                }
                (t, o) => failures.push(format!(
                    "{name}: {e:?}: tcpdump {:?}\n    ours    {:?}{}",
                    t.map_err(|m| m.trim().to_string()),
                    o.as_ref().map_err(|e| e.message.clone()),
                    filter::compile_for(e, lt)
                        .map(|p| format!("\n{}", filter::dump(&p)))
                        .unwrap_or_default()
                )),
            }
        }
        summary.push(format!(
            "{name} ({lt}): {same} select the same frames ({nothing} of them none), \
             {refused} refused by both"
        ));
        let _ = std::fs::remove_file(&path);
    }
    eprintln!("{}", summary.join("\n"));
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_link_type_has_frames_to_tell_apart() {
    // On each link type the corpus has frames some expression selects and
    // others it does not, so that the comparison above means something.
    for &(lt, name) in LINKS {
        let frames = frames_for(lt);
        for e in [
            "ip",
            "tcp",
            "udp port 53",
            "host 10.0.0.1",
            "icmp6",
            "ip6 or ip",
        ] {
            let Ok(n) = ours_for(&frames, e, lt).map(|s| s.len()) else {
                continue;
            };
            assert!(n > 0, "{name}: {e} selects nothing");
            // Raw IPv4 carries IPv4 only (libpcap: `ip` is always true), raw IPv6 IPv6 only.
            if !matches!((lt, e), (228, "ip") | (228 | 229, "ip6 or ip")) {
                assert!(n < frames.len(), "{name}: {e} selects everything");
            }
        }
    }
}

#[test]
fn link_type_errors_are_clear() {
    for (e, lt, wanted) in [
        (
            "ether host 00:11:22:33:44:55",
            113,
            "no destination address",
        ),
        ("ether src 00:11:22:33:44:55", 276, "LINUX_SLL2 (276)"),
        (
            "ether dst 00:11:22:33:44:55",
            101,
            "no link-layer addresses",
        ),
        (
            "broadcast",
            113,
            "'broadcast' is not supported on link type LINUX_SLL (113)",
        ),
        (
            "ether multicast",
            229,
            "'multicast' is not supported on link type IPV6 (229)",
        ),
        (
            "vlan 10",
            113,
            "'vlan' is not supported on link type LINUX_SLL (113)",
        ),
        ("vlan", 276, "'vlan' is not supported"),
        (
            "arp",
            101,
            "expression rejects all packets on link type RAW (101)",
        ),
        (
            "ip6",
            228,
            "expression rejects all packets on link type IPV4 (228)",
        ),
        (
            "tcp[0] = 1",
            229,
            "expression rejects all packets on link type IPV6 (229)",
        ),
        ("ip", 105, "no layer knows its header"),
    ] {
        let err = filter::compile_for(e, lt).unwrap_err();
        assert!(err.message.contains(wanted), "{e} on {lt}: {}", err.message);
    }
    // The offending primitive is marked.
    let src = "ip and ether src 00:11:22:33:44:55";
    let err = filter::compile_for(src, 113).unwrap_err();
    assert_eq!(&src[err.offset..err.offset + err.len], "00:11:22:33:44:55");
    let src = "tcp or vlan";
    let err = filter::compile_for(src, 101).unwrap_err();
    assert_eq!(&src[err.offset..err.offset + err.len], "vlan");
    // `compile` is Ethernet.
    assert_eq!(
        filter::compile("vlan 10 and ip").unwrap(),
        filter::compile_for("vlan 10 and ip", 1).unwrap()
    );
    // A cache of programs per link type.
    let f = filter::Filter::new("udp").unwrap();
    let sll = f.program(113).unwrap();
    assert!(std::rc::Rc::ptr_eq(&sll, &f.program(113).unwrap()));
    assert_ne!(*sll, *f.program(1).unwrap());
    assert!(f.program(229).is_ok());
    let f = filter::Filter::new("ip and ether host 1:2:3:4:5:6").unwrap();
    assert!(f.program(1).is_ok() && f.program(276).is_err());
}

#[test]
fn frames_are_varied() {
    // Every expression class must select something and not everything.
    let frames = frames();
    for e in [
        "arp",
        "rarp",
        "ip6",
        "vlan",
        "icmp",
        "tcp",
        "udp",
        "ip[6:2] & 0x1fff != 0",
    ] {
        let n = ours(&frames, e).unwrap().len();
        assert!(n > 0 && n < frames.len(), "{e}: {n}");
    }
}

#[test]
fn invalid_rejected_by_both() {
    let mut failures = Vec::new();
    for &(lt, name) in [(1, "EN10MB")].iter().chain(LINKS) {
        let frames = frames_for(lt);
        let path = write_capture_for(&frames[..1], &format!("invalid-{lt}"), lt);
        for e in fixture("invalid.txt") {
            if tcpdump_matches(&path, &e).is_ok() {
                failures.push(format!("{name}: {e:?}: tcpdump accepts it"));
            }
            if filter::compile_for(&e, lt).is_ok() {
                failures.push(format!("{name}: {e:?}: we accept it"));
            }
        }
        let _ = std::fs::remove_file(&path);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn dump_matches_tcpdump_for_simple_programs() {
    // Our code is not optimised like libpcap's, but for these the
    // instruction sequences coincide.
    for e in [
        "ip",
        "arp",
        "len > 100",
        "greater 100",
        "ether[12:2] = 0x800",
    ] {
        let out = Command::new(tcpdump())
            .args(["-d", e])
            .output()
            .expect("tcpdump must be installed");
        let theirs = String::from_utf8_lossy(&out.stdout).into_owned();
        let ours = filter::dump(&filter::compile(e).unwrap());
        assert_eq!(ours, theirs, "{e}");
    }
}

#[test]
fn dump_matches_tcpdump_per_link_type() {
    // `tcpdump -r FILE -d` compiles for the file's link type (and returns
    // its snapshot length, ours: 262144).
    for (lt, exprs) in [
        (
            113,
            &["ip", "arp", "ip6", "ether proto 0x88cc", "ether[0] = 1"][..],
        ),
        (276, &["ip", "arp", "ip6", "len > 100"][..]),
        (101, &["ip", "ip6", "ip[8] = 1"][..]),
        // (libpcap leaves a dead `ld #0x0` before loads on 228 and 229:
        // libpcap issue 1266.)
        (228, &["ip", "len > 100"][..]),
        (229, &["ip6", "len > 100"][..]),
    ] {
        let path = write_capture_for(&frames_for(lt)[..1], &format!("dump-{lt}"), lt);
        for e in exprs {
            let out = Command::new(tcpdump())
                .arg("-r")
                .arg(&path)
                .args(["-d", e])
                .output()
                .expect("tcpdump must be installed");
            let theirs = String::from_utf8_lossy(&out.stdout).into_owned();
            let ours = filter::dump(&filter::compile_for(e, lt).unwrap());
            assert_eq!(ours, theirs, "{e} on {lt}");
        }
        let _ = std::fs::remove_file(&path);
    }
}

#[test]
fn long_expressions_use_ja() {
    // Beyond 255 instructions conditional jumps need `ja` trampolines.
    let frames = frames();
    let path = write_capture(&frames, "long");
    let ports: Vec<String> = (0..40)
        .map(|i| format!("port {}", [80, 53, 1, 2, 3][i % 5] + i))
        .collect();
    for e in [
        ports.join(" or "),
        format!("not ({})", ports.join(" or ")),
        format!("({}) and tcp", ports.join(" or ")),
        format!("tcp and ({})", ports.join(" or ")),
    ] {
        let prog = filter::compile(&e).unwrap();
        assert!(prog.len() > 256, "{}", prog.len());
        assert!(prog.iter().any(|i| i.code == 0x05), "no ja in {e}");
        assert_eq!(
            ours(&frames, &e).unwrap(),
            tcpdump_matches(&path, &e).unwrap(),
            "{e}"
        );
    }
    let _ = std::fs::remove_file(&path);
}

#[test]
fn error_offsets() {
    let e = filter::compile("ip[0] / 0 = 1").unwrap_err();
    assert_eq!(e.offset, 8);
    assert_eq!(e.message, "division by zero");
    let e = filter::compile("tcp and (udp or").unwrap_err();
    assert_eq!(e.offset, 15);
    let e = filter::compile("tcp[13] & tcp-syn !! 0").unwrap_err();
    assert_eq!(e.offset, 18);
    let src = "host 1.2.3.4 or port abc";
    let e = filter::compile(src).unwrap_err();
    assert_eq!(&src[e.offset..e.offset + e.len], "abc");
    let r = format!("{:?}", e.report(src));
    assert!(r.contains("abc"), "{r}");
    let src = "tcp port";
    let e = filter::compile(src).unwrap_err();
    assert_eq!(e.offset, src.len());
    let r = format!("{:?}", e.report(src));
    assert!(r.contains("end of expression"), "{r}");
}

/// Frames that are not truncated: on these, libpcap's optimiser (which may
/// drop a load whose result it can predict, and with it an out-of-bounds
/// rejection) cannot make a difference.
fn whole_frames() -> Vec<Vec<u8>> {
    frames()
        .into_iter()
        .filter(|f| {
            f.len() >= 14
                && (f[12..14] != [0x08, 0x00]
                    || (f.len() >= 34
                        && f.len() >= 14 + usize::from(u16::from_be_bytes([f[16], f[17]]))))
        })
        .collect()
}

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

const ATOMS: &[&str] = &[
    "ip",
    "ip6",
    "arp",
    "rarp",
    "tcp",
    "udp",
    "icmp",
    "host 10.0.0.1",
    "src host 192.168.1.1",
    "dst net 10.0.0.0/8",
    "net 192.168.1.0/24",
    "port 80",
    "port 53",
    "tcp src port 443",
    "udp dst port 53",
    "portrange 1000-9000",
    "ether src 00:11:22:33:44:55",
    "ether dst 02:00:00:00:00:02",
    "broadcast",
    "multicast",
    "ip multicast",
    "greater 80",
    "less 70",
    "len > 100",
    "ip[8] > 64",
    "ip[9] = 17",
    "ip[6:2] & 0x1fff != 0",
    "tcp[13] & 2 != 0",
    "tcp[tcpflags] & tcp-ack != 0",
    "icmp[icmptype] = icmp-echo",
    "icmp[0] = 0",
    "udp[0:2] = 53",
    "ether[12:2] = 0x800",
    "ether[0] & 1 = 1",
    "ip proto 1",
    "ip6 proto 17",
    "host 2001::1",
    "dst net ff02::/16",
    "vlan",
    "vlan 10",
    "ip6[6] = 44",
    "arp[7] = 2",
    "icmp6",
    "pim",
    "icmp6[0] = 128",
    "sctp port 80",
    "ip6 net 2001::/64",
];

fn random_expr(r: &mut Rng, depth: usize) -> String {
    random_expr_of(r, depth, ATOMS)
}

fn random_expr_of(r: &mut Rng, depth: usize, atoms: &[&str]) -> String {
    let k = if depth == 0 { 0 } else { r.below(6) };
    let random_expr = |r: &mut Rng, depth| random_expr_of(r, depth, atoms);
    match k {
        0 | 1 => atoms[r.below(atoms.len())].to_string(),
        2 => format!("not {}", random_expr(r, depth - 1)),
        3 => format!(
            "({} and {})",
            random_expr(r, depth - 1),
            random_expr(r, depth - 1)
        ),
        4 => format!(
            "({} or {})",
            random_expr(r, depth - 1),
            random_expr(r, depth - 1)
        ),
        // No parentheses: exercises `and`/`or` precedence and `not` binding.
        _ => {
            let op = ["and", "or", "&&", "||"][r.below(4)];
            let neg = if r.below(3) == 0 { "! " } else { "" };
            format!(
                "{neg}{} {op} {}",
                random_expr(r, depth - 1),
                random_expr(r, depth - 1)
            )
        }
    }
}

#[test]
fn random_combinations_same_as_tcpdump() {
    let frames = whole_frames();
    let path = write_capture(&frames, "random");
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let mut failures = Vec::new();
    let n = 500;
    for _ in 0..n {
        let e = random_expr(&mut r, 3);
        let theirs = tcpdump_matches(&path, &e);
        let ours = ours(&frames, &e);
        match (theirs, ours) {
            (Ok(t), Ok(o)) if t == o => {}
            // tcpdump refuses expressions that reject every packet; skip them.
            (Err(msg), _) if msg.contains("expression rejects all packets") => {}
            (t, o) => failures.push(format!("{e:?}: tcpdump {t:?}\n    ours    {o:?}")),
        }
    }
    let _ = std::fs::remove_file(&path);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Random combinations on the other link types, of the atoms that apply to
/// each (those refused for a link type are covered by the corpus above).
#[test]
fn random_combinations_same_as_tcpdump_on_every_link_type() {
    let mut failures = Vec::new();
    for &(lt, name) in LINKS {
        let frames: Vec<Vec<u8>> = whole_frames()
            .iter()
            .enumerate()
            .map(|(i, f)| encap(lt, i, f))
            .collect();
        let path = write_capture_for(&frames, &format!("random-{lt}"), lt);
        let atoms: Vec<&str> = ATOMS
            .iter()
            .copied()
            .filter(|a| {
                filter::compile_for(a, lt).is_ok_and(|_| true) || {
                    filter::compile_for(a, lt).is_err_and(|e| e.rejects_all_packets())
                }
            })
            .collect();
        let mut r = Rng(0x9e37_79b9_7f4a_7c15 ^ u64::from(lt));
        let mut miscompiled = 0;
        for _ in 0..150 {
            let e = random_expr_of(&mut r, 3, &atoms);
            match (tcpdump_matches(&path, &e), ours_for(&frames, &e, lt)) {
                (Ok(t), Ok(o)) if t == o => {}
                // libpcap's optimiser miscompiles some expressions on the
                // raw IP link types, whose link tests are constants (an
                // `ld #0x0; jeq #0x6` where `ldb [9]` was): where tcpdump
                // without it (-O) agrees with us, the optimiser is wrong.
                (Ok(_), Ok(o)) if tcpdump_unoptimised(&path, &e).as_ref() == Ok(&o) => {
                    miscompiled += 1
                }
                // libpcap's optimiser finds contradictions (`ip and arp`)
                // we do not fold: we select nothing where it refuses.
                (Err(msg), Ok(o)) if msg.contains("rejects all packets") && o.is_empty() => {}
                (Err(msg), Err(err))
                    if msg.contains("rejects all packets") && err.rejects_all_packets() => {}
                (t, o) => failures.push(format!(
                    "{name}: {e:?}: tcpdump {t:?}\n    ours    {:?}",
                    o.map_err(|e| e.message)
                )),
            }
        }
        eprintln!("{name}: {miscompiled} of 150 miscompiled by libpcap's optimiser");
        assert!(miscompiled < 15, "{name}: {miscompiled}");
        let _ = std::fs::remove_file(&path);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn kernel_accepts_every_program() {
    // SO_ATTACH_FILTER on an unprivileged UDP socket runs the kernel's
    // classic BPF checker on the program.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0) };
    assert!(fd >= 0);
    let mut exprs = fixture("exprs.txt");
    let ports: Vec<String> = (0..40).map(|i| format!("port {}", 1000 + i)).collect();
    exprs.push(ports.join(" or "));
    let mut progs: Vec<(String, Vec<filter::Insn>)> = exprs
        .iter()
        .map(|e| (e.clone(), filter::compile(e).unwrap()))
        .collect();
    // And the programs of every other link type.
    for &(lt, name) in LINKS {
        for e in &exprs {
            if let Ok(p) = filter::compile_for(e, lt) {
                progs.push((format!("{e} ({name})"), p));
            }
        }
    }
    for (e, prog) in &progs {
        let filters = filter::to_sock_filters(prog);
        let prog = libc::sock_fprog {
            len: filters.len() as u16,
            filter: filters.as_ptr() as *mut libc::sock_filter,
        };
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                &prog as *const libc::sock_fprog as *const libc::c_void,
                std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0, "{e}: {}", std::io::Error::last_os_error());
    }
    unsafe { libc::close(fd) };
}

mod netns;

/// The same corpus once through the kernel: with each program attached to
/// a live socket, the frames it receives are exactly those the interpreter
/// selects. (Frames go to the receiver's MAC so the macvlan delivers them;
/// VLAN-tagged frames are left out, as the kernel strips tags before socket
/// filters run, and so are frames too short to send.)
#[test]
fn the_kernel_selects_what_the_interpreter_selects() {
    use pktscript::link::Link;
    netns::require_root();
    let lan = netns::Lan::new(2);
    let bmac = lan.host(1).mac;
    let corpus: Vec<Vec<u8>> = frames()
        .into_iter()
        .filter(|f| {
            f.len() >= 14 && !matches!([f[12], f[13]], [0x81, 0x00] | [0x88, 0xa8] | [0x91, 0x00])
        })
        .map(|mut f| {
            f[..6].copy_from_slice(&bmac);
            f
        })
        .collect();
    assert!(corpus.len() > 50, "{} frames", corpus.len());
    let refs: Vec<&[u8]> = corpus.iter().map(|f| f.as_slice()).collect();
    let mut tx = lan.link(0);
    let mut rx = lan.link(1);
    let mut failures = Vec::new();
    let exprs = fixture("exprs.txt");
    for expr in &exprs {
        let prog = filter::compile(expr).expect(expr);
        rx.attach_filter(&filter::to_sock_filters(&prog))
            .expect("attach");
        rx.drain();
        tx.send_batch(&refs).expect("send");
        let mut got: Vec<Vec<u8>> = netns::collect(&mut rx, std::time::Duration::from_millis(40))
            .into_iter()
            .map(|f| f.data)
            .filter(|d| corpus.contains(d))
            .collect();
        let mut want: Vec<Vec<u8>> = corpus
            .iter()
            .filter(|f| filter::run(&prog, f, f.len() as u32) != 0)
            .cloned()
            .collect();
        got.sort();
        want.sort();
        if got != want {
            failures.push(format!(
                "{expr}: kernel {} frames, interpreter {}",
                got.len(),
                want.len()
            ));
        }
    }
    let _ = rx.stats();
    assert!(
        failures.is_empty(),
        "{} of {} expressions differ:\n{}",
        failures.len(),
        exprs.len(),
        failures.join("\n")
    );
}

/// Random token soup never panics the compiler, and random programs never
/// panic the interpreter (out-of-range jumps, loads and scratch slots reject).
#[test]
fn arbitrary_input_never_panics() {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let words = [
        "ip",
        "tcp",
        "udp",
        "icmp",
        "arp",
        "vlan",
        "host",
        "net",
        "port",
        "portrange",
        "src",
        "dst",
        "and",
        "or",
        "not",
        "(",
        ")",
        "[",
        "]",
        ":",
        "=",
        "!=",
        "<",
        ">",
        "&",
        "|",
        "+",
        "-",
        "*",
        "/",
        "%",
        "<<",
        ">>",
        "1",
        "80",
        "65536",
        "1.2.3.4",
        "10/8",
        "mask",
        "255.0.0.0",
        "ether",
        "02:00:00:00:00:01",
        "len",
        "greater",
        "less",
        "proto",
        "\\icmp",
        "tcpflags",
        "tcp-syn",
        "icmptype",
        "broadcast",
        "multicast",
        "ip6",
        "::1",
        "4294967295",
        "0x",
        "-",
        "!",
        "&&",
        "||",
        "gateway",
        "http",
    ];
    let frames = frames();
    for _ in 0..20000 {
        let n = (next() % 9) as usize;
        let expr: Vec<&str> = (0..n)
            .map(|_| words[(next() % words.len() as u64) as usize])
            .collect();
        let expr = expr.join(" ");
        if let Ok(prog) = filter::compile(&expr) {
            for f in frames.iter().take(10) {
                let _ = filter::run(&prog, f, f.len() as u32);
            }
        }
    }
    for _ in 0..20000 {
        let len = 1 + (next() % 12) as usize;
        let prog: Vec<filter::Insn> = (0..len)
            .map(|_| {
                let r = next();
                filter::Insn {
                    code: (r & 0xffff) as u16,
                    jt: (r >> 16) as u8,
                    jf: (r >> 24) as u8,
                    k: (r >> 32) as u32,
                }
            })
            .collect();
        for f in frames.iter().take(5) {
            let _ = filter::run(&prog, f, f.len() as u32);
        }
    }
}

const BIN: &str = env!("CARGO_BIN_EXE_pktscript");

fn pktscript(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run pktscript")
}

/// Frame indices of the records of a capture (by their timestamps).
fn indices_in(path: &std::path::Path) -> (BTreeSet<usize>, BTreeSet<u32>) {
    let (mut idx, mut lts) = (BTreeSet::new(), BTreeSet::new());
    for rec in pktscript::pcap::read_all(path).unwrap() {
        idx.insert((rec.ts_sec - TS_BASE) as usize);
        lts.insert(rec.linktype);
    }
    (idx, lts)
}

/// An error report as one line of words (miette wraps and frames it).
fn flat(report: &str) -> String {
    report
        .replace(['│', '×', '╭', '╰', '─', '┬', '·'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs a script: its output, or its error (as one line of words).
fn script_out(name: &str, script: &str) -> Result<String, String> {
    let dir = std::env::temp_dir().join(format!("pktscript-filter-diff-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.rhai"));
    std::fs::write(&file, script).unwrap();
    let out = pktscript(&[file.to_str().unwrap()]);
    let _ = std::fs::remove_file(&file);
    if !out.status.success() {
        return Err(flat(&String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs a script; its output lines of timestamps become sets of indices.
fn script_sets(name: &str, script: &str) -> Result<Vec<BTreeSet<usize>>, String> {
    Ok(script_out(name, script)?
        .lines()
        .map(|l| {
            l.split(|c: char| !c.is_ascii_digit())
                .filter_map(|n| n.parse::<i64>().ok())
                .map(|n| (n - TS_BASE) as usize)
                .collect()
        })
        .collect())
}

/// The script calls that filter captures, on every link type: what
/// `read_pcap(path, expr)`, `pcap_reader(path, expr)` and `p.matches(expr)`
/// keep are the frames tcpdump prints.
fn script_selects(path: &std::path::Path, e: &str) -> Result<Vec<BTreeSet<usize>>, String> {
    let script = format!(
        "let path = {path:?};\nlet e = {e:?};\n\
         print(read_pcap(path, e).map(|p| p.time_ns / 1000000000));\n\
         let b = [];\nfor p in pcap_reader(path, e) {{ b.push(p.time_ns / 1000000000); }}\n\
         print(b);\n\
         let c = [];\nfor p in read_pcap(path) {{ if p.matches(e) {{ c.push(p.time_ns / 1000000000); }} }}\n\
         print(c);\n",
        path = path.to_str().unwrap()
    );
    script_sets("select", &script)
}

#[test]
fn pktscript_filter_and_scripts_select_what_tcpdump_selects() {
    for &(lt, name) in [(1, "EN10MB")].iter().chain(LINKS) {
        let frames = frames_for(lt);
        let path = write_capture_for(&frames, &format!("cli-{lt}"), lt);
        let out_path = path.with_file_name(format!("cli-{lt}-out.pcap"));
        for e in [
            "udp port 53",
            "tcp[13] & 2 != 0",
            "host 10.0.0.1 or host 2001::2",
            "ip6 or arp",
            "icmp[icmptype] = icmp-echo",
            "ip and not tcp",
        ] {
            let theirs = tcpdump_matches(&path, e);
            // pktscript filter EXPR FILE -o OUT
            let out = pktscript(&[
                "filter",
                e,
                path.to_str().unwrap(),
                "-o",
                out_path.to_str().unwrap(),
            ]);
            let stderr = flat(&String::from_utf8_lossy(&out.stderr));
            match &theirs {
                Ok(t) => {
                    assert!(out.status.success(), "{name}: filter {e:?}: {stderr}");
                    let (got, lts) = indices_in(&out_path);
                    assert_eq!(&got, t, "{name}: pktscript filter {e:?}");
                    assert!(lts.is_empty() || lts == BTreeSet::from([lt]), "{lts:?}");
                }
                Err(msg) => {
                    assert!(msg.contains("rejects all packets"), "{msg}");
                    assert_eq!(out.status.code(), Some(1), "{name}: filter {e:?} must fail");
                    assert!(stderr.contains(&format!("{name} ({lt})")), "{stderr}");
                }
            }
            // read_pcap(path, e), pcap_reader(path, e), p.matches(e)
            match (&theirs, script_selects(&path, e)) {
                (Ok(t), Ok(sets)) => {
                    assert_eq!(sets.len(), 3, "{sets:?}");
                    for (s, how) in sets.iter().zip(["read_pcap", "pcap_reader", "matches"]) {
                        assert_eq!(s, t, "{name}: {how} {e:?}");
                    }
                }
                (Err(_), Err(msg)) => {
                    assert!(msg.contains("rejects all packets on link type"), "{msg}");
                }
                (t, o) => panic!("{name}: {e:?}: tcpdump {t:?}, script {o:?}"),
            }
        }
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(&out_path);
    }
}

#[test]
fn pktscript_refuses_what_tcpdump_refuses_for_the_link_type() {
    let frames = frames_for(113);
    let path = write_capture_for(&frames, "refuse-113", 113);
    let p = path.to_str().unwrap();
    for e in ["ether host 00:11:22:33:44:55", "vlan 10", "broadcast"] {
        assert!(tcpdump_matches(&path, e).is_err());
        let out = pktscript(&["filter", e, p]);
        let stderr = flat(&String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(1), "{e}: {stderr}");
        assert!(stderr.contains("LINUX_SLL (113)"), "{e}: {stderr}");
        // Also inverted: nothing is written.
        let out = pktscript(&["filter", "-v", e, p]);
        assert_eq!(out.status.code(), Some(1));
        assert!(out.stdout.is_empty());
        for call in ["read_pcap(path, e)", "pcap_reader(path, e)"] {
            let script = format!("let path = {p:?}; let e = {e:?}; {call};");
            let err = script_sets("refuse", &script).unwrap_err();
            assert!(err.contains("LINUX_SLL (113)"), "{call} {e}: {err}");
        }
        // p.matches too: the expression cannot apply to the packet.
        let script = format!("let e = {e:?}; read_pcap({p:?})[0].matches(e);");
        let err = script_sets("refuse", &script).unwrap_err();
        assert!(err.contains("LINUX_SLL (113)"), "matches {e}: {err}");
    }
    // One that matches nothing on a link type is false for one packet.
    let raw4 = write_capture_for(&frames_for(228), "refuse-228", 228);
    let out = script_out(
        "refuse",
        &format!(
            "let a = read_pcap({:?}); print(a.len() > 0); print(a.filter(|p| p.matches(\"ip6\")).len());",
            raw4.to_str().unwrap()
        ),
    )
    .unwrap();
    assert_eq!(out, "true\n0\n");
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(&raw4);
}

/// A pcapng file mixing link types: each record is tested with the program
/// of its own link type (compiled once per link type).
#[test]
fn mixed_link_types_in_one_pcapng() {
    let eth = frames_for(1);
    let sll2 = frames_for(276);
    let raw = frames_for(101);
    let dir = std::env::temp_dir().join(format!("pktscript-filter-diff-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("mixed.pcapng");
    let mut w = PcapWriter::create(&path, 1).unwrap();
    let pick = |i: usize| match i % 3 {
        0 => (1, &eth[i]),
        1 => (276, &sll2[i]),
        _ => (101, &raw[i]),
    };
    for i in 0..eth.len() {
        let (lt, f) = pick(i);
        w.write_frame(f, TS_BASE + i as i64, 0, f.len() as u32, lt)
            .unwrap();
    }
    w.close().unwrap();
    for e in ["udp port 53", "tcp and host 10.0.0.1", "ip6", "ip[8] > 64"] {
        // What tcpdump selects on each link type alone.
        let mut want = BTreeSet::new();
        for lt in [1, 276, 101] {
            let frames = frames_for(lt);
            let single = write_capture_for(&frames, &format!("mixed-part-{lt}"), lt);
            for i in tcpdump_matches(&single, e).unwrap() {
                if pick(i).0 == lt {
                    want.insert(i);
                }
            }
            let _ = std::fs::remove_file(&single);
        }
        let out_path = dir.join("mixed-out.pcapng");
        let out = pktscript(&[
            "filter",
            e,
            path.to_str().unwrap(),
            "-o",
            out_path.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(indices_in(&out_path).0, want, "filter {e:?}");
        let _ = std::fs::remove_file(&out_path);
        for (s, how) in
            script_selects(&path, e)
                .unwrap()
                .iter()
                .zip(["read_pcap", "pcap_reader", "matches"])
        {
            assert_eq!(s, &want, "{how} {e:?}");
        }
    }
    let _ = std::fs::remove_file(&path);
}

#[test]
fn dump_bpf_takes_a_link_type() {
    let ours = |args: &[&str]| {
        let out = pktscript(args);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            flat(&String::from_utf8_lossy(&out.stderr)),
        )
    };
    for (lt, names) in [
        (1, &["1", "EN10MB", "en10mb", "ETHERNET"][..]),
        (113, &["113", "LINUX_SLL", "DLT_LINUX_SLL"][..]),
        (276, &["LINUX_SLL2", "276"][..]),
        (101, &["RAW", "LINKTYPE_RAW"][..]),
        (228, &["IPV4"][..]),
        (229, &["IPV6", "ipv6"][..]),
    ] {
        let e = if lt == 228 {
            "udp port 53"
        } else {
            "ip6 or udp"
        };
        let want = filter::dump(&filter::compile_for(e, lt).unwrap());
        for n in names {
            assert_eq!(
                ours(&["--dump-bpf", e, "--linktype", n]),
                (Some(0), want.clone(), String::new()),
                "{n}"
            );
        }
    }
    assert_eq!(
        ours(&["--dump-bpf", "ip"]).1,
        filter::dump(&filter::compile("ip").unwrap())
    );
    let (code, _, err) = ours(&["--dump-bpf", "vlan", "--linktype", "LINUX_SLL"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("LINUX_SLL (113)"), "{err}");
    let (code, _, err) = ours(&["--dump-bpf", "ip", "--linktype", "nonsense"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("nonsense"), "{err}");
}

/// Nesting and length are bounded: deep parentheses, `not` and minus
/// chains and very long expressions are errors, not stack overflows (test
/// threads have small stacks), on every link type.
#[test]
fn deep_or_long_expressions_are_errors() {
    let n = 100_000;
    for e in [
        format!("{}ip{}", "(".repeat(n), ")".repeat(n)),
        format!("{}ip", "not ".repeat(n)),
        format!("{}ip", "!".repeat(n)),
        format!("{}1 = 1", "-".repeat(n)),
        format!("ip[{}0{}] = 1", "(".repeat(n), ")".repeat(n)),
        vec!["ip"; n].join(" and "),
        vec!["tcp"; n].join(" or udp and "),
    ] {
        for lt in [1, 113, 229] {
            let err = filter::compile_for(&e, lt).unwrap_err();
            assert!(
                err.message.contains("nested too deeply") || err.message.contains("too long"),
                "{}",
                err.message
            );
        }
    }
    // Up to the bounds, expressions compile (here on Linux cooked v2).
    let d = filter::parser::MAX_NESTING - 1;
    let e = format!("{}ip{}", "(".repeat(d), ")".repeat(d));
    assert!(filter::compile_for(&e, 276).is_ok());
    let e = format!("{}ip", "not ".repeat(d));
    assert!(filter::compile_for(&e, 276).is_ok());
    let long = vec!["udp port 53"; 1000].join(" or tcp and ");
    let err = filter::compile_for(&long, 276).unwrap_err();
    assert!(err.message.contains("too complex"), "{}", err.message);
    // Long chains, within the token bound: and/or alternating (nested as
    // deep as they are long), arithmetic, on a small stack.
    let alt = |n: usize, a: &str| {
        let mut s = String::from(a);
        for i in 1..n {
            s.push_str(if i % 2 == 0 { " and " } else { " or " });
            s.push_str(a);
        }
        s
    };
    for (e, lt) in [
        (alt(4999, "tcp"), 1),
        (alt(4999, "ip"), 229),
        (format!("ip[0]{} = 1", " + ip[1]".repeat(1600)), 113),
        (format!("1{} = 1", " + 1".repeat(4990)), 101),
        (format!("len{} = 1", " - len".repeat(4990)), 1),
        (
            format!("{}{}{}", "(".repeat(60), alt(4000, "udp"), ")".repeat(60)),
            276,
        ),
    ] {
        let err = filter::compile_for(&e, lt).unwrap_err();
        assert!(
            err.message.contains("too complex") || err.rejects_all_packets(),
            "{}",
            err.message
        );
    }
    assert!(filter::compile_for(&alt(4999, "ip"), 228).is_ok_and(|p| p.len() == 1));
    // (((ip6 or ip) and ip6) or ip) and ... ip6: false on raw IPv4.
    let mixed = vec!["ip6"; 2000].join(" or ip and ");
    assert!(filter::compile_for(&mixed, 228).is_err_and(|e| e.rejects_all_packets()));
    assert!(filter::compile_for(&format!("{mixed} or ip"), 228).is_ok_and(|p| p.len() == 1));
}
