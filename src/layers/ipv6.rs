//! IPv6 (RFC 8200): the fixed header.
//!
//! Extension headers are layers of their own (`ipv6_ext.rs`); this layer's
//! network capability looks through them for the final destination of a
//! Routing header and for a Fragment header.

use super::ipv4::IP_PROTOS;
use super::{Auto, Binding, Changed, Field, Kind, Lookup, NetOps, Next, Proto, Space};
use crate::packet::Packet;
use std::net::{IpAddr, Ipv6Addr};

static FIELDS: &[Field] = &[
    Field::new("version", 0, 4, Kind::Int, "IP version (6)"),
    Field::new(
        "tc",
        4,
        8,
        Kind::Hex,
        "traffic class: DSCP (6 bits) and ECN (2 bits)",
    ),
    Field::new("fl", 12, 20, Kind::Hex, "flow label"),
    Field::new(
        "plen",
        32,
        16,
        Kind::Int,
        "payload length in bytes, extension headers included (computed unless set; 0 for a jumbogram)",
    )
    .auto(Auto::Len),
    Field::new(
        "nh",
        48,
        8,
        Kind::Enum(IP_PROTOS),
        "next header: protocol of the payload or first extension header (follows the layer above unless set)",
    )
    .auto(Auto::Next)
    .space(Space::IpProto),
    Field::new("hlim", 56, 8, Kind::Int, "hop limit"),
    Field::new("src", 64, 128, Kind::Ipv6, "source address"),
    Field::new(
        "dst",
        192,
        128,
        Kind::Ipv6,
        "destination address (the next hop's when a Routing header has segments left)",
    ),
];

const PLEN: usize = super::field_id(FIELDS, "plen");
const NH: usize = super::field_id(FIELDS, "nh");

/// The fixed header's length.
const HLEN: usize = 40;

pub static IPV6: Proto = Proto {
    name: "IPv6",
    accessor: "ipv6",
    aliases: &["IP6"],
    doc: "Internet Protocol version 6.",
    fields: FIELDS,
    // Scapy's IPv6(): version 6, no next header, hop limit 64, ::1 to ::1.
    template: &[
        0x60, 0, 0, 0, 0, 0, 59, 64, // version/tc/fl plen nh hlim
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, // src
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, // dst
    ],
    min_len: HLEN,
    header_len: |_| HLEN,
    payload_len: Some(payload_len),
    next,
    bindings: &[
        Binding::new(Space::EtherType, 0x86dd),
        Binding::new(Space::IpProto, 41),
        Binding::new(Space::LinkType, 229),
        Binding::new(Space::LinkType, 101).when(version_6),
    ],
    build,
    answers,
    summary,
    net: Some(&NET),
    // `nh` is the pseudo-header's protocol when the upper layer follows directly.
    pseudo_fields: &["src", "dst", "nh"],
    ..super::BASE
};

fn version_6(b: &[u8]) -> bool {
    b.first().is_some_and(|v| v >> 4 == 6)
}

static NET: NetOps = NetOps {
    addrs: |p, i| addrs(p.header(i)).map(|(s, d)| (IpAddr::V6(s), IpAddr::V6(d))),
    pseudo_sum,
    fragment,
    resolve: Some(&super::resolve::ND),
};

/// Source and destination address of an IPv6 header.
pub fn addrs(h: &[u8]) -> Option<(Ipv6Addr, Ipv6Addr)> {
    let s: [u8; 16] = h.get(8..24)?.try_into().ok()?;
    let d: [u8; 16] = h.get(24..40)?.try_into().ok()?;
    Some((Ipv6Addr::from(s), Ipv6Addr::from(d)))
}

/// The destination the datagram of the IPv6 header at `net` finally
/// reaches: the one named by a Routing header with segments left among
/// the extension headers from `net + 1` up to (not including) `upper`
/// (the one nearest `upper` when there are several, as Scapy takes it),
/// else the header's own.
fn final_dst(p: &Packet, net: usize, upper: usize) -> Option<IpAddr> {
    let mut dst = addrs(p.header(net)).map(|(_, d)| IpAddr::V6(d));
    for i in net + 1..upper {
        let Some(ext) = p.layer(i).and_then(|l| l.proto.ext) else {
            break;
        };
        if let Some(d) = (ext.final_dst)(p.header(i)) {
            dst = Some(d);
        }
    }
    dst
}

/// The address an extension header gives to stand for the source in the
/// pseudo-header (a Destination header's Home Address option, Mobile IPv6,
/// RFC 6275 section 6.3), the last one before `upper`.
fn home_address(p: &Packet, net: usize, upper: usize) -> Option<Ipv6Addr> {
    (net + 1..upper)
        .map_while(|i| p.layer(i).and_then(|l| l.proto.ext).map(|e| (i, e)))
        .filter_map(|(i, e)| match (e.final_src)(p.header(i)) {
            Some(IpAddr::V6(a)) => Some(a),
            _ => None,
        })
        .last()
}

/// Source, final destination, upper-layer length as 32 bits, three zero
/// bytes and the next header (RFC 8200 section 8.1).
fn pseudo_sum(p: &Packet, net: usize, upper: usize, proto: u8, len: usize) -> Option<u32> {
    let (src, _) = addrs(p.header(net))?;
    let src = home_address(p, net, upper).unwrap_or(src);
    let dst = match final_dst(p, net, upper)? {
        IpAddr::V6(d) => d.octets(),
        IpAddr::V4(d) => d.to_ipv6_mapped().octets(),
    };
    let len = len as u64;
    let sum = super::ones_sum(&src.octets(), None) as u64
        + super::ones_sum(&dst, None) as u64
        + (len >> 16)
        + (len & 0xffff)
        + proto as u64;
    Some(super::fold(sum))
}

/// Whether an extension header between `net` and `upper` says the payload
/// is a fragment.
fn fragment(p: &Packet, net: usize, upper: usize) -> bool {
    (net + 1..upper)
        .map_while(|i| p.layer(i).and_then(|l| l.proto.ext).map(|e| (i, e)))
        .any(|(i, e)| (e.fragment)(p.header(i)))
}

/// The payload length field; 0 (a jumbogram, or a capture of a segment the
/// kernel had not cut yet) leaves the payload to the end.
fn payload_len(h: &[u8]) -> Option<usize> {
    match FIELDS[PLEN].int(h) {
        0 => None,
        n => Some(n as usize),
    }
}

fn next(h: &[u8], _payload: &[u8], lookup: &Lookup) -> Option<Next> {
    lookup(Space::IpProto, FIELDS[NH].int(h)).map(Next::plain)
}

fn build(p: &mut Packet, idx: usize, ch: Changed) {
    if !(ch.this || ch.payload) || p.layers()[idx].quoted {
        return; // a quoted header describes the original datagram
    }
    let len = p.payload(idx).len();
    // A payload over 65535 bytes is a jumbogram: its length is in a Jumbo option.
    p.write_auto(idx, PLEN, if len > 0xffff { 0 } else { len as u64 });
}

/// A reply comes from the address the request finally went to (any source
/// for a multicast or an ICMPv6 error from a router on the path) and goes
/// back to the request's source.
fn answers(reply: &Packet, ri: usize, sent: &Packet, si: usize) -> bool {
    let (Some((rs, rd)), Some((ss, _))) = (addrs(reply.header(ri)), addrs(sent.header(si))) else {
        return false;
    };
    let upper = (si + 1..=sent.layers().len())
        .find(|&i| sent.layer(i).is_none_or(|l| l.proto.ext.is_none()))
        .unwrap_or(si + 1);
    let Some(IpAddr::V6(sd)) = final_dst(sent, si, upper) else {
        return false;
    };
    // An error from a router on the path quotes the request (past any
    // extension headers of the reply).
    let above = (ri + 1..reply.layers().len())
        .find(|&i| reply.layers()[i].proto.ext.is_none())
        .unwrap_or(ri + 1);
    let icmp_error = reply.carries_quote(above);
    // A request to a multicast group (a router solicitation to all-routers)
    // may be answered to all-nodes, as Scapy accepts.
    let to_all_nodes = sd.is_multicast() && rd == Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
    (rs == sd || icmp_error || sd.is_multicast())
        && (rd == ss || ss.is_unspecified() || to_all_nodes)
}

/// `IP6 a > b: udp, length 8`, naming the protocol after the extension
/// headers (and the fragment, if one is), when no layer above speaks.
fn summary(p: &Packet, idx: usize) -> Option<String> {
    let h = p.header(idx);
    let (s, d) = addrs(h)?;
    let mut proto = FIELDS[NH].int(h);
    let mut frag = String::new();
    for i in idx + 1..p.layers().len() {
        let l = p.layers()[i];
        if l.proto.ext.is_none() || l.truncated {
            break;
        }
        let eh = p.header(i);
        proto = super::read_bits(eh, 0, 8);
        if l.proto == &super::ipv6_ext::FRAGMENT {
            frag = super::ipv6_ext::fragment_summary(eh, p.payload(i).len());
        }
    }
    let name = IP_PROTOS
        .iter()
        .find(|(v, _)| *v == proto)
        .map(|(_, n)| n.to_string())
        .unwrap_or_else(|| format!("ip-proto-{proto}"));
    Some(format!(
        "IP6 {} > {}: {name}, length {}{frag}",
        super::Ip6(s),
        super::Ip6(d),
        p.payload(idx).len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{Input, Value, ether::ETHER, tcp::TCP, udp::UDP};

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    fn idx(p: &Packet, layer: &str) -> usize {
        p.find(layer)
            .unwrap_or_else(|| panic!("no {layer} in {:?}", p.layer_names()))
    }

    fn get(p: &mut Packet, layer: &str, name: &str) -> Value {
        let i = idx(p, layer);
        let fi = p.field_index(i, name).unwrap();
        p.get(i, fi).unwrap()
    }

    fn int(p: &mut Packet, layer: &str, name: &str) -> u64 {
        match get(p, layer, name) {
            Value::Int(v) => v,
            v => panic!("{layer}.{name} is {v:?}"),
        }
    }

    fn text(p: &mut Packet, layer: &str, name: &str) -> String {
        let i = idx(p, layer);
        let fi = p.field_index(i, name).unwrap();
        let v = p.get(i, fi).unwrap();
        super::super::format_value(&p.layers()[i].proto.fields[fi], &v)
    }

    fn set(p: &mut Packet, layer: &str, name: &str, v: Input) {
        let i = idx(p, layer);
        let fi = p.field_index(i, name).unwrap();
        p.set(i, fi, &v).unwrap();
    }

    fn layer(proto: &'static Proto, fields: &[(&str, Input)]) -> Packet {
        let mut p = Packet::new_layer(proto);
        for (name, v) in fields {
            let fi = p.field_index(0, name).unwrap();
            p.set(0, fi, v).unwrap();
        }
        p
    }

    fn ether() -> Packet {
        layer(
            &ETHER,
            &[
                ("dst", Input::Str("02:00:00:00:00:02")),
                ("src", Input::Str("02:00:00:00:00:01")),
            ],
        )
    }

    // Scapy 2.8: Ether(dst="02:00:00:00:00:02", src="02:00:00:00:00:01")/
    //   IPv6(tc=0xb8, fl=0x12345, hlim=55, src="2001:db8::1", dst="2001:db8::2")/
    //   UDP(sport=5353, dport=4242)/Raw(b"hello")   (tshark: checksum good)
    const UDP6: &str = "02000000000202000000000186dd6b812345000d113720010db800000000000000000000000120010db800000000000000000000000214e91092000d3b1268656c6c6f";
    // ... /IPv6(src="fe80::1", dst="2001:db8:0:0:1::2")/
    //   TCP(sport=40000, dport=80, flags="S", seq=1000, window=65535)
    const TCP6: &str = "02000000000202000000000186dd6000000000140640fe80000000000000000000000000000120010db80000000000010000000000029c400050000003e8000000005002ffffe32c0000";
    // ... /IPv6(src="2001:db8::1", dst="2001:db8::2")/UDP(sport=7, dport=7)/
    //   Raw(b"x")/Padding(b"\0" * 5)
    const PADDED: &str = "02000000000202000000000186dd600000000009114020010db800000000000000000000000120010db80000000000000000000000020007000700092c59780000000000";

    #[test]
    fn template_is_scapys_ipv6() {
        // python3 -c 'from scapy.all import *; print(bytes(IPv6()).hex())'
        assert_eq!(
            IPV6.template,
            hex("6000000000003b400000000000000000000000000000000100000000000000000000000000000001")
        );
        let mut p = Packet::new_layer(&IPV6);
        assert_eq!(p.bytes(), IPV6.template);
        assert_eq!(p.summary(), "IP6 ::1 > ::1: no-next-header, length 0");
    }

    #[test]
    fn udp_frame_dissects_and_round_trips() {
        let bytes = hex(UDP6);
        let mut p = Packet::parse(&bytes);
        assert_eq!(p.layer_names(), ["Ether", "IPv6", "UDP", "Raw"]);
        assert_eq!(int(&mut p, "ipv6", "version"), 6);
        assert_eq!(int(&mut p, "ipv6", "tc"), 0xb8);
        assert_eq!(int(&mut p, "ipv6", "fl"), 0x12345);
        assert_eq!(int(&mut p, "ipv6", "plen"), 13);
        assert_eq!(text(&mut p, "ipv6", "nh"), "17 (udp)");
        assert_eq!(int(&mut p, "ipv6", "hlim"), 55);
        assert_eq!(text(&mut p, "ipv6", "src"), "2001:db8::1");
        assert_eq!(text(&mut p, "ipv6", "dst"), "2001:db8::2");
        assert!(p.bad_checksums().is_empty());
        assert_eq!(p.bytes(), bytes);
        assert_eq!(
            p.summary(),
            "IP6 2001:db8::1.5353 > 2001:db8::2.4242: UDP, length 5"
        );
        // The raw-IPv6 link types start at the IPv6 header.
        for lt in [229, 101] {
            let q = Packet::dissect(bytes[14..].to_vec(), lt);
            assert_eq!(q.layer_names(), ["IPv6", "UDP", "Raw"]);
        }
        // Link type 101 holds IPv4 too: the version decides.
        let q = Packet::dissect(vec![0x45; 20], 101);
        assert_eq!(q.layer_names()[0], "IPv4");
    }

    #[test]
    fn udp_frame_builds_as_scapy_does() {
        let mut p = ether();
        p.stack(&layer(
            &IPV6,
            &[
                ("tc", Input::Int(0xb8)),
                ("fl", Input::Int(0x12345)),
                ("hlim", Input::Int(55)),
                ("src", Input::Str("2001:db8::1")),
                ("dst", Input::Str("2001:db8::2")),
            ],
        ));
        p.stack(&layer(
            &UDP,
            &[("sport", Input::Int(5353)), ("dport", Input::Int(4242))],
        ));
        p.stack(&Packet::raw(b"hello"));
        assert_eq!(p.bytes(), hex(UDP6));
    }

    #[test]
    fn tcp_frame_round_trips_builds_and_resums_after_an_address_edit() {
        let bytes = hex(TCP6);
        let mut p = Packet::parse(&bytes);
        assert_eq!(p.layer_names(), ["Ether", "IPv6", "TCP"]);
        assert_eq!(text(&mut p, "ipv6", "src"), "fe80::1");
        assert_eq!(text(&mut p, "ipv6", "dst"), "2001:db8::1:0:0:2");
        assert!(p.bad_checksums().is_empty());
        assert_eq!(p.bytes(), bytes);

        let mut b = ether();
        b.stack(&layer(
            &IPV6,
            &[
                ("src", Input::Str("fe80::1")),
                ("dst", Input::Str("2001:db8:0:0:1::2")),
            ],
        ));
        b.stack(&layer(
            &TCP,
            &[
                ("sport", Input::Int(40000)),
                ("dport", Input::Int(80)),
                ("flags", Input::Str("S")),
                ("seq", Input::Int(1000)),
                ("window", Input::Int(65535)),
            ],
        ));
        assert_eq!(b.bytes(), bytes);

        // p[IPv6].src = "2001:db8::99"; del p[TCP].chksum; bytes(p)
        set(&mut p, "ipv6", "src", Input::Str("2001:db8::99"));
        assert_eq!(int(&mut p, "tcp", "chksum"), 0xb35c);
        assert!(p.bad_checksums().is_empty());
    }

    #[test]
    fn an_address_edit_resums_udp_as_scapy_does() {
        let mut p = Packet::parse(&hex(UDP6));
        // p[IPv6].src = "::ffff:192.0.2.1"; del p[UDP].chksum; hex(p[UDP].chksum)
        set(&mut p, "ipv6", "src", Input::Str("::ffff:192.0.2.1"));
        assert_eq!(text(&mut p, "ipv6", "src"), "::ffff:192.0.2.1");
        assert_eq!(int(&mut p, "udp", "chksum"), 0xa6ca);
        // Only the addresses and nh feed the pseudo-header: a hop-limit edit
        // leaves a checksum alone.
        let mut q = Packet::parse(&hex(UDP6));
        set(&mut q, "udp", "chksum", Input::Int(0x1111));
        q.bytes();
        set(&mut q, "ipv6", "hlim", Input::Int(1));
        assert_eq!(int(&mut q, "udp", "chksum"), 0x1111);
    }

    #[test]
    fn addresses_parse_in_every_textual_form() {
        let mut p = Packet::new_layer(&IPV6);
        for (input, shown) in [
            ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
            ("2001:DB8::1", "2001:db8::1"),
            ("::ffff:10.0.0.1", "::ffff:10.0.0.1"),
            ("::", "::"),
            ("fe80:0:0:0:1:0:0:1", "fe80::1:0:0:1"),
            ("2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"),
        ] {
            set(&mut p, "ipv6", "dst", Input::Str(input));
            assert_eq!(text(&mut p, "ipv6", "dst"), shown);
        }
        let fi = p.field_index(0, "dst").unwrap();
        assert!(p.set(0, fi, &Input::Str("10.0.0.1")).is_err());
        assert!(p.set(0, fi, &Input::Str("2001:db8::1::2")).is_err());
    }

    #[test]
    fn bytes_past_plen_are_padding() {
        let bytes = hex(PADDED);
        let mut p = Packet::parse(&bytes);
        assert_eq!(p.layer_names(), ["Ether", "IPv6", "UDP", "Raw", "Padding"]);
        assert_eq!(p.payload(1), &bytes[54..63]);
        assert!(p.bad_checksums().is_empty());
        assert_eq!(p.bytes(), bytes);
        // Editing the payload recomputes plen without counting the padding.
        set(&mut p, "udp", "sport", Input::Int(8));
        assert_eq!(int(&mut p, "ipv6", "plen"), 9);
        assert_eq!(p.bytes().len(), bytes.len());
        // plen 0 (a jumbogram, or an unsplit segment) runs to the end.
        let mut z = bytes.clone();
        z[18..20].copy_from_slice(&[0, 0]);
        let q = Packet::parse(&z);
        assert_eq!(q.layer_names(), ["Ether", "IPv6", "UDP", "Raw"]);
    }

    #[test]
    fn nh_follows_the_layer_above_unless_pinned() {
        let mut p = Packet::new_layer(&IPV6);
        p.stack(&Packet::new_layer(&UDP));
        assert_eq!(int(&mut p, "ipv6", "nh"), 17);
        assert_eq!(int(&mut p, "ipv6", "plen"), 8);
        // IPv6() / UDP() in Scapy
        assert_eq!(
            p.bytes(),
            hex(
                "60000000000811400000000000000000000000000000000100000000000000000000000000000001003500350008ff72"
            )
        );
        let mut q = Packet::new_layer(&IPV6);
        set(&mut q, "ipv6", "nh", Input::Str("tcp"));
        q.stack(&Packet::new_layer(&UDP));
        assert_eq!(int(&mut q, "ipv6", "nh"), 6);
    }

    #[test]
    fn answers_match_addresses() {
        let req = Packet::parse(&hex(UDP6));
        let mut rep = Packet::parse(&hex(UDP6));
        assert!(!answers(&rep, 1, &req, 1));
        set(&mut rep, "ipv6", "src", Input::Str("2001:db8::2"));
        set(&mut rep, "ipv6", "dst", Input::Str("2001:db8::1"));
        rep.bytes();
        assert!(answers(&rep, 1, &req, 1));
        // A request to a multicast group is answered from any member.
        let mut mreq = Packet::parse(&hex(UDP6));
        set(&mut mreq, "ipv6", "dst", Input::Str("ff02::1"));
        mreq.bytes();
        assert!(answers(&rep, 1, &mreq, 1));
    }

    #[test]
    fn no_panic_on_short_or_odd_headers() {
        let full = hex(UDP6);
        for n in 0..full.len() {
            let mut p = Packet::parse(&full[..n]);
            let _ = p.summary();
            let _ = p.details();
            let _ = p.bad_checksums();
            assert_eq!(p.bytes(), &full[..n]);
        }
        // A plen past the end of the bytes.
        let mut long = full.clone();
        long[18..20].copy_from_slice(&[0xff, 0xff]);
        let mut p = Packet::parse(&long);
        assert_eq!(p.layer_names(), ["Ether", "IPv6", "UDP", "Raw"]);
        let _ = p.summary();
        assert_eq!(p.bytes(), long);
    }
}
