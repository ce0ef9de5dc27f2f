//! ICMPv6 (RFC 4443) and neighbour discovery messages (RFC 4861).
//!
//! One layer for every message type: the type decides which fields exist
//! (`.when(...)`) and how long the header is. Errors quote the offending
//! IPv6 packet, neighbour discovery messages are followed by their options
//! (one sub-layer each, see `ndp.rs`), echo data follows as Raw. Scapy's
//! per-type classes (`ICMPv6EchoRequest`, `ICMPv6ND_NS`, ...) are variants:
//! constructors that start from that class's default bytes.
//!
//! Scapy's neighbour discovery classes also set the IPv6 hop limit to 255
//! (RFC 4861 requires it; receivers drop ND messages with any other). A
//! variant cannot change the layer below it, so scripts set it themselves:
//! `IPv6(#{hlim: 255}) / ICMPv6ND_NS(#{tgt: a})`.

use super::{Auto, Binding, Changed, Field, Kind, Lookup, Next, Proto, Space, Variant};
use crate::packet::Packet;
use std::net::Ipv6Addr;

static TYPES: &[(u64, &str)] = &[
    (1, "dest-unreach"),
    (2, "packet-too-big"),
    (3, "time-exceeded"),
    (4, "param-problem"),
    (128, "echo-request"),
    (129, "echo-reply"),
    (130, "mld-query"),
    (131, "mld-report"),
    (132, "mld-done"),
    (133, "router-solicitation"),
    (134, "router-advertisement"),
    (135, "neighbor-solicitation"),
    (136, "neighbor-advertisement"),
    (137, "redirect"),
    (143, "mldv2-report"),
];

static PREFERENCES: &[(u64, &str)] = &[(0, "medium"), (1, "high"), (2, "reserved"), (3, "low")];

fn ty(h: &[u8]) -> u8 {
    h.first().copied().unwrap_or(0)
}
fn is_echo(h: &[u8]) -> bool {
    matches!(ty(h), 128 | 129)
}
fn unreach_or_exceeded(h: &[u8]) -> bool {
    matches!(ty(h), 1 | 3)
}
fn has_res32(h: &[u8]) -> bool {
    matches!(ty(h), 133 | 135 | 137)
}
fn has_tgt(h: &[u8]) -> bool {
    matches!(ty(h), 135..=137)
}
fn is_ra(h: &[u8]) -> bool {
    ty(h) == 134
}
fn is_na(h: &[u8]) -> bool {
    ty(h) == 136
}
fn undecoded(h: &[u8]) -> bool {
    !matches!(ty(h), 1..=4 | 128 | 129 | 133..=137)
}

/// Whether an ICMPv6 header is an error that quotes the offending packet.
pub fn is_error(h: &[u8]) -> bool {
    matches!(ty(h), 1..=4)
}

/// Whether an ICMPv6 header is a neighbour discovery message (followed by options).
pub fn is_nd(h: &[u8]) -> bool {
    matches!(ty(h), 133..=137)
}

static FIELDS: &[Field] = &[
    Field::new("type", 0, 8, Kind::Enum(TYPES), "message type"),
    Field::new(
        "code",
        8,
        8,
        Kind::Int,
        "code, its meaning depends on the type",
    ),
    Field::new(
        "cksum",
        16,
        16,
        Kind::Hex,
        "checksum over the message and the IPv6 pseudo-header (computed unless set)",
    )
    .auto(Auto::Chksum),
    // Echo (128, 129); the data follows as Raw.
    Field::new("id", 32, 16, Kind::Int, "identifier (echo)").when(is_echo),
    Field::new("seq", 48, 16, Kind::Int, "sequence number (echo)").when(is_echo),
    // Errors.
    Field::new(
        "length",
        32,
        8,
        Kind::Int,
        "length of the quoted packet in 64-bit words, RFC 4884 (dest-unreach, time-exceeded)",
    )
    .when(unreach_or_exceeded),
    Field::new(
        "unused",
        40,
        24,
        Kind::Hex,
        "unused (dest-unreach, time-exceeded)",
    )
    .when(unreach_or_exceeded),
    Field::new(
        "mtu",
        32,
        32,
        Kind::Int,
        "MTU of the next-hop link (packet-too-big)",
    )
    .when(|h| ty(h) == 2),
    Field::new(
        "ptr",
        32,
        32,
        Kind::Int,
        "offset of the octet in error in the quoted packet (param-problem)",
    )
    .when(|h| ty(h) == 4),
    // Router advertisement (134).
    Field::new(
        "chlim",
        32,
        8,
        Kind::Int,
        "hop limit hosts should use, 0 for unspecified (router-advertisement)",
    )
    .when(is_ra),
    Field::new(
        "M",
        40,
        1,
        Kind::Int,
        "managed address configuration: addresses from DHCPv6 (router-advertisement)",
    )
    .when(is_ra),
    Field::new(
        "O",
        41,
        1,
        Kind::Int,
        "other configuration from DHCPv6 (router-advertisement)",
    )
    .when(is_ra),
    Field::new(
        "H",
        42,
        1,
        Kind::Int,
        "home agent, RFC 6275 (router-advertisement)",
    )
    .when(is_ra),
    Field::new(
        "prf",
        43,
        2,
        Kind::Enum(PREFERENCES),
        "default router preference, RFC 4191 (router-advertisement)",
    )
    .when(is_ra),
    Field::new(
        "P",
        45,
        1,
        Kind::Int,
        "neighbor discovery proxy, RFC 4389 (router-advertisement)",
    )
    .when(is_ra),
    Field::new("res", 46, 2, Kind::Int, "reserved (router-advertisement)").when(is_ra),
    Field::new(
        "routerlifetime",
        48,
        16,
        Kind::Int,
        "seconds the router may be the default router, 0 for not a default router (router-advertisement)",
    )
    .when(is_ra),
    Field::new(
        "reachabletime",
        64,
        32,
        Kind::Int,
        "milliseconds a neighbour stays reachable after a confirmation (router-advertisement)",
    )
    .when(is_ra),
    Field::new(
        "retranstimer",
        96,
        32,
        Kind::Int,
        "milliseconds between retransmitted neighbor solicitations (router-advertisement)",
    )
    .when(is_ra),
    // Router solicitation (133), neighbor solicitation (135), redirect (137).
    Field::new(
        "res",
        32,
        32,
        Kind::Int,
        "reserved (router-solicitation, neighbor-solicitation, redirect)",
    )
    .when(has_res32),
    // Neighbor advertisement (136).
    Field::new(
        "R",
        32,
        1,
        Kind::Int,
        "router: the sender is a router (neighbor-advertisement)",
    )
    .when(is_na),
    Field::new(
        "S",
        33,
        1,
        Kind::Int,
        "solicited: an answer to a neighbor solicitation (neighbor-advertisement)",
    )
    .when(is_na),
    Field::new(
        "O",
        34,
        1,
        Kind::Int,
        "override: replace a cached link-layer address (neighbor-advertisement)",
    )
    .when(is_na),
    Field::new(
        "res",
        35,
        29,
        Kind::Hex,
        "reserved (neighbor-advertisement)",
    )
    .when(is_na),
    Field::new(
        "tgt",
        64,
        128,
        Kind::Ipv6,
        "target address: the one asked about, advertised, or the better first hop (neighbor discovery, redirect)",
    )
    .when(has_tgt),
    Field::new(
        "dst",
        192,
        128,
        Kind::Ipv6,
        "destination that is redirected (redirect)",
    )
    .when(|h| ty(h) == 137),
    // Every other type (MLD, ...): the rest of the header, not decoded.
    Field::new(
        "unused",
        32,
        32,
        Kind::Hex,
        "rest of the header, not decoded further (MLD and other types)",
    )
    .when(undecoded),
];

const CHKSUM: usize = super::field_id(FIELDS, "cksum");
/// Byte offset of the checksum, for the sum that leaves it out.
const CHKSUM_AT: usize = 2;

static VARIANTS: &[Variant] = &[
    Variant {
        name: "ICMPv6EchoRequest",
        template: &[128, 0, 0, 0, 0, 0, 0, 0],
        is: |h| ty(h) == 128,
        doc: "ICMPv6 echo request (type 128); the data follows as Raw.",
    },
    Variant {
        name: "ICMPv6EchoReply",
        template: &[129, 0, 0, 0, 0, 0, 0, 0],
        is: |h| ty(h) == 129,
        doc: "ICMPv6 echo reply (type 129); the data follows as Raw.",
    },
    Variant {
        name: "ICMPv6DestUnreach",
        template: &[1, 0, 0, 0, 0, 0, 0, 0],
        is: |h| ty(h) == 1,
        doc: "ICMPv6 destination unreachable (type 1); stack the offending IPv6 packet on it.",
    },
    Variant {
        name: "ICMPv6PacketTooBig",
        template: &[2, 0, 0, 0, 0, 0, 0x05, 0x00],
        is: |h| ty(h) == 2,
        doc: "ICMPv6 packet too big (type 2, mtu 1280); stack the offending IPv6 packet on it.",
    },
    Variant {
        name: "ICMPv6TimeExceeded",
        template: &[3, 0, 0, 0, 0, 0, 0, 0],
        is: |h| ty(h) == 3,
        doc: "ICMPv6 time exceeded (type 3); stack the offending IPv6 packet on it.",
    },
    Variant {
        name: "ICMPv6ParamProblem",
        template: &[4, 0, 0, 0, 0, 0, 0, 6],
        is: |h| ty(h) == 4,
        doc: "ICMPv6 parameter problem (type 4, ptr 6); stack the offending IPv6 packet on it.",
    },
    Variant {
        name: "ICMPv6ND_RS",
        template: &[133, 0, 0, 0, 0, 0, 0, 0],
        is: |h| ty(h) == 133,
        doc: "Router solicitation (type 133); ND options may follow. Give the IPv6 layer hlim 255.",
    },
    Variant {
        name: "ICMPv6ND_RA",
        template: &[
            134, 0, 0, 0, // type code cksum
            0, 0x08, 0x07, 0x08, // chlim, M O H prf=high P res, routerlifetime 1800
            0, 0, 0, 0, // reachabletime
            0, 0, 0, 0, // retranstimer
        ],
        is: |h| ty(h) == 134,
        doc: "Router advertisement (type 134, prf high, routerlifetime 1800); ND options may follow. Give the IPv6 layer hlim 255.",
    },
    Variant {
        name: "ICMPv6ND_NS",
        template: &[
            135, 0, 0, 0, 0, 0, 0, 0, // type code cksum res
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // tgt
        ],
        is: |h| ty(h) == 135,
        doc: "Neighbor solicitation (type 135); ND options may follow. Give the IPv6 layer hlim 255.",
    },
    Variant {
        name: "ICMPv6ND_NA",
        template: &[
            136, 0, 0, 0, 0xa0, 0, 0, 0, // type code cksum, R=1 S=0 O=1 res
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // tgt
        ],
        is: |h| ty(h) == 136,
        doc: "Neighbor advertisement (type 136, R and O set as in Scapy); ND options may follow. Give the IPv6 layer hlim 255.",
    },
    Variant {
        name: "ICMPv6ND_Redirect",
        template: &[
            137, 0, 0, 0, 0, 0, 0, 0, // type code cksum res
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // tgt
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // dst
        ],
        is: |h| ty(h) == 137,
        doc: "Redirect (type 137); ND options may follow. Give the IPv6 layer hlim 255.",
    },
];

pub static ICMPV6: Proto = Proto {
    name: "ICMPv6",
    accessor: "icmpv6",
    doc: "Internet Control Message Protocol for IPv6, neighbour discovery included.",
    fields: FIELDS,
    template: &[128, 0, 0, 0, 0, 0, 0, 0],
    min_len: 4,
    header_len,
    next,
    bindings: &[Binding::new(Space::IpProto, 58)],
    build,
    checksum: Some(checksum),
    answers,
    summary,
    relayout: Some(header_len),
    variants: VARIANTS,
    ..super::BASE
};

/// The header length the type implies (the fixed part before data, a
/// quoted packet or options).
fn header_len(h: &[u8]) -> usize {
    match ty(h) {
        134 => 16,
        135 | 136 => 24,
        137 => 40,
        _ => 8,
    }
}

fn next(h: &[u8], payload: &[u8], lookup: &Lookup) -> Option<Next> {
    if is_error(h) {
        if payload.len() >= 40 && payload[0] >> 4 == 6 {
            return Some(Next {
                proto: &super::ipv6::IPV6,
                quoted: true,
            });
        }
        return None;
    }
    if is_nd(h) {
        return super::ndp::first_option(payload, lookup);
    }
    None
}

fn build(p: &mut Packet, idx: usize, ch: Changed) {
    if p.layers()[idx].quoted {
        return; // a quoted message describes the original packet
    }
    // The pseudo-header (addresses, next header) enters this checksum, the
    // rest of the layer below does not: a hop-limit change keeps it.
    if !ch.this && !ch.payload && !super::pseudo_touched(p, idx) {
        return;
    }
    if let Some(c) = super::transport_checksum(p, idx, CHKSUM_AT) {
        p.write_auto(idx, CHKSUM, c as u64);
    }
}

fn checksum(p: &Packet, idx: usize) -> Option<u16> {
    if p.layers()[idx].quoted {
        return None; // usually cut short: the checksum cannot be checked
    }
    super::transport_checksum(p, idx, CHKSUM_AT)
}

fn tgt(h: &[u8]) -> Option<Ipv6Addr> {
    let b: [u8; 16] = h.get(8..24)?.try_into().ok()?;
    Some(Ipv6Addr::from(b))
}

/// An echo reply answers the echo request with the same id and sequence, a
/// neighbor advertisement the solicitation for its target, a router
/// advertisement a router solicitation; an error answers the packet it quotes.
fn answers(reply: &Packet, ri: usize, sent: &Packet, si: usize) -> bool {
    let (r, s) = (reply.header(ri), sent.header(si));
    if r.len() < 4 {
        return false;
    }
    if is_error(r) {
        return super::quote_matches(reply, ri, sent, si);
    }
    if sent.layers().get(si).is_none_or(|l| l.proto != &ICMPV6) || s.len() < 4 {
        return false;
    }
    match (s[0], r[0]) {
        (128, 129) => r.len() >= 8 && s.len() >= 8 && r[4..8] == s[4..8],
        (135, 136) => tgt(r).is_some() && tgt(r) == tgt(s),
        (133, 134) => true,
        _ => false,
    }
}

fn summary(p: &Packet, idx: usize) -> Option<String> {
    let h = p.header(idx);
    if h.len() < 2 {
        return None;
    }
    let ip = super::net_prefix(p, idx);
    let len = p.segment(idx).len();
    let (t, code) = (h[0], h[1]);
    let int = |off: u32, bits: u32| super::read_bits(h, off, bits);
    let addr = |a: Option<Ipv6Addr>| a.map(|a| super::Ip6(a).to_string()).unwrap_or_default();
    // The quoted packet's destination, for errors.
    let qdst = || match p.layer(idx + 1) {
        Some(l) if l.quoted => p.addrs_at(idx + 1).map(|(_, d)| super::ip_text(d)),
        _ => None,
    };
    let body = match t {
        1 => {
            let what = match (code, qdst()) {
                (0, Some(d)) => format!("unreachable route {d}"),
                (1, Some(d)) => format!("unreachable prohibited {d}"),
                (2, Some(d)) => match p.addrs_at(idx + 1) {
                    Some((s, _)) => format!("beyond scope {d}, source address {s}"),
                    None => format!("beyond scope {d}"),
                },
                (3, Some(d)) => format!("unreachable address {d}"),
                (4, Some(d)) => format!("unreachable port, {d}{}", quoted_port(p, idx)),
                (0, None) => "unreachable route".into(),
                (1, None) => "unreachable prohibited".into(),
                (2, None) => "beyond scope".into(),
                (3, None) => "unreachable address".into(),
                (4, None) => "unreachable port".into(),
                _ => format!("unknown unreach code ({code})"),
            };
            format!("destination unreachable, {what}")
        }
        2 => format!("packet too big, mtu {}", int(32, 32)),
        3 => match (code, qdst()) {
            (0, Some(d)) => format!("time exceeded in-transit for {d}"),
            (0, None) => "time exceeded in-transit".into(),
            (1, _) => "time exceeded in-transit (reassembly)".into(),
            _ => format!("time exceeded in-transit, unknown code ({code})"),
        },
        4 => {
            let ptr = int(32, 32);
            let what = match code {
                0 => format!("erroneous - octet {ptr}"),
                1 => format!("next header - octet {ptr}"),
                2 => format!("option - octet {ptr}"),
                3 => format!("incomplete header chain - octet {ptr}"),
                _ => format!("code-#{code}"),
            };
            format!("parameter problem, {what}")
        }
        128 | 129 => format!(
            "echo {}, id {}, seq {}",
            if t == 128 { "request" } else { "reply" },
            int(32, 16),
            int(48, 16)
        ),
        130 => "multicast listener query".into(),
        131 => "multicast listener report".into(),
        132 => "multicast listener done".into(),
        143 => format!(
            "multicast listener report v2, {} group record(s)",
            int(48, 16)
        ),
        133 => "router solicitation".into(),
        134 => "router advertisement".into(),
        135 => format!("neighbor solicitation, who has {}", addr(tgt(h))),
        136 => format!("neighbor advertisement, tgt is {}", addr(tgt(h))),
        137 => {
            let dst = h
                .get(24..40)
                .and_then(|b| <[u8; 16]>::try_from(b).ok())
                .map(Ipv6Addr::from);
            format!("redirect, {} to {}", addr(dst), addr(tgt(h)))
        }
        _ => format!("type {t}, code {code}"),
    };
    Some(format!("{ip}ICMP6, {body}, length {len}"))
}

/// ` udp port 53` for the transport header quoted in an error, as tcpdump
/// says it (nothing when it is neither UDP nor TCP, or missing).
fn quoted_port(p: &Packet, idx: usize) -> String {
    let Some(l) = p.layer(idx + 2) else {
        return String::new();
    };
    if !l.quoted || p.header(idx + 2).len() < 4 {
        return String::new();
    }
    let word = if l.proto.bound_to(Space::IpProto, 17) {
        "udp"
    } else if l.proto.bound_to(Space::IpProto, 6) {
        "tcp"
    } else {
        return String::new();
    };
    format!(
        " {word} port {}",
        super::read_bits(p.header(idx + 2), 16, 16)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::items::Tree;
    use crate::layers::{Input, Value, ether::ETHER, ipv6::IPV6, ndp, udp::UDP};
    use crate::packet::FieldSet;

    // Frames made with Scapy 2.8 (explicit field values), checked with
    // tshark (icmpv6.checksum.status 1, ND targets and link-layer
    // addresses) and tcpdump (the summaries).
    const ECHO: &str = "02000000000202000000000186dd6000000000133a4020010db800000000000000000000000120010db8000000000000000000000002800080331234000768656c6c6f20776f726c64";
    const ECHO_REPLY: &str = "02000000000102000000000286dd6000000000133a4020010db800000000000000000000000220010db800000000000000000000000181007f331234000768656c6c6f20776f726c64";
    const NS: &str = "3333ff00000202000000000186dd6000000000203afffe800000000000000000000000000001ff0200000000000000000001ff00000287007a9700000000fe8000000000000000000000000000020101020000000001";
    const NA: &str = "02000000000102000000000286dd6000000000203afffe800000000000000000000000000002fe8000000000000000000000000000018800181a60000000fe8000000000000000000000000000020201020000000002";
    const RS: &str = "33330000000202000000000186dd6000000000103afffe800000000000000000000000000001ff02000000000000000000000000000285007a2c000000000101020000000001";
    const RA: &str = "33330000000102000000000386dd6000000000683afffe800000000000000000000000000003ff02000000000000000000000000000186003a5540c8070800007530000003e8030440c000015180000038400000000020010db800010000000000000000000005010000000005dc190500000000025820010db800000000000000000000005320010db80000000000000000000000540101020000000003";
    const UNREACH: &str = "02000000000102000000000286dd60000000003d3a4020010db800000000000000000000000220010db8000000000000000000000001010431e00000000060000000000d114020010db800000000000000000000000120010db80000000000000000000000029c400035000db8017175657279";
    const TOO_BIG: &str = "02000000000102000000000386dd6000000000483a4020010db80000000000000000000000fe20010db80000000000000000000000010200018f000005786000000000183a3f20010db800000000000000000000000120010db8000000000000000000000002800060710001000278787878787878787878787878787878";
    const EXCEEDED: &str = "02000000000102000000000386dd6000000000383a4020010db80000000000000000000000fe20010db800000000000000000000000103002f2c00000000600000000008110120010db800000000000000000000000120010db8000000000000000000000002829a829b00089f33";
    const PARAM_PROBLEM: &str = "02000000000102000000000286dd6000000000383a4020010db800000000000000000000000220010db80000000000000000000000010401e73000000028600000000008fd4020010db800000000000000000000000120010db80000000000000000000000020000000000000000";
    const REDIRECT: &str = "02000000000102000000000386dd6000000000303afffe800000000000000000000000000003fe800000000000000000000000000001890048b300000000fe80000000000000000000000000000420010db80000000000000000000000990201020000000004";
    const MLD_QUERY: &str = "02000000000202000000000186dd6000000000183a01fe800000000000000000000000000001ff020000000000000000000000000001820059172710000000000000000000000000000000000000";

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn set(p: &mut Packet, idx: usize, name: &str, v: &str) {
        let fi = p.field_index(idx, name).unwrap();
        p.set(idx, fi, &Input::Str(v)).unwrap();
    }

    fn get(p: &mut Packet, idx: usize, name: &str) -> Value {
        let fi = p.field_index(idx, name).unwrap();
        p.get(idx, fi).unwrap()
    }

    fn int(p: &mut Packet, idx: usize, name: &str) -> u64 {
        match get(p, idx, name) {
            Value::Int(n) => n,
            v => panic!("{name} is {v:?}"),
        }
    }

    fn ip6(p: &mut Packet, idx: usize, name: &str) -> String {
        match get(p, idx, name) {
            Value::Ipv6(a) => Ipv6Addr::from(a).to_string(),
            v => panic!("{name} is {v:?}"),
        }
    }

    fn layer(proto: &'static Proto, fields: &[(&str, &str)]) -> Packet {
        let mut p = Packet::new_layer(proto);
        for (n, v) in fields {
            set(&mut p, 0, n, v);
        }
        p
    }

    /// A packet of one ICMPv6 layer from a variant's template, as the
    /// script's `ICMPv6ND_NS(#{...})` makes it.
    fn variant(name: &str, fields: &[(&str, &str)]) -> Packet {
        let v = ICMPV6.variant(name).unwrap();
        let mut p = Packet::new_layer(&ICMPV6);
        p.replace_header(0, v.template, 0, FieldSet::MAX);
        assert_eq!(p.header(0), v.template);
        for (n, val) in fields {
            set(&mut p, 0, n, val);
        }
        p
    }

    fn base(src_mac: &str, dst_mac: &str, src: &str, dst: &str, hlim: &str) -> Packet {
        let mut p = layer(&ETHER, &[("src", src_mac), ("dst", dst_mac)]);
        p.stack(&layer(&IPV6, &[("src", src), ("dst", dst), ("hlim", hlim)]));
        p
    }

    fn stack(mut p: Packet, uppers: &[Packet]) -> Packet {
        for u in uppers {
            p.stack(u);
        }
        p
    }

    fn check_roundtrip(frame: &str) -> Packet {
        let b = hex(frame);
        let mut p = Packet::parse(&b);
        assert_eq!(p.bytes(), &b[..]);
        assert!(p.bad_checksums().is_empty(), "{:?}", p.bad_checksums());
        p
    }

    #[test]
    fn echo_request_and_reply() {
        let mut p = check_roundtrip(ECHO);
        assert_eq!(p.layer_names(), ["Ether", "IPv6", "ICMPv6", "Raw"]);
        assert_eq!(int(&mut p, 2, "type"), 128);
        assert_eq!(int(&mut p, 2, "id"), 0x1234);
        assert_eq!(int(&mut p, 2, "seq"), 7);
        assert_eq!(int(&mut p, 2, "cksum"), 0x8033);
        assert_eq!(p.payload(2), b"hello world");
        assert!(p.has("ICMPv6EchoRequest") && !p.has("ICMPv6EchoReply"));
        assert_eq!(
            p.summary(),
            "IP6 2001:db8::1 > 2001:db8::2: ICMP6, echo request, id 4660, seq 7, length 19"
        );
        let st = p.checksum_status(2).unwrap();
        assert!(st.ok && st.correct == 0x8033);

        // Built from layers: Scapy's bytes.
        let mut b = stack(
            base(
                "02:00:00:00:00:01",
                "02:00:00:00:00:02",
                "2001:db8::1",
                "2001:db8::2",
                "64",
            ),
            &[
                variant("ICMPv6EchoRequest", &[("id", "0x1234"), ("seq", "7")]),
                Packet::raw(b"hello world"),
            ],
        );
        assert_eq!(b.bytes(), &hex(ECHO)[..]);

        // The reply answers the request (same id and seq), not another one.
        let mut r = check_roundtrip(ECHO_REPLY);
        assert!(r.has("ICMPv6EchoReply"));
        assert!((ICMPV6.answers)(&r, 2, &p, 2));
        assert!(!(ICMPV6.answers)(&p, 2, &r, 2));
        set(&mut r, 2, "seq", "8");
        assert!(!(ICMPV6.answers)(&r, 2, &p, 2));
    }

    #[test]
    fn edits_recompute_the_checksum_as_scapy() {
        // seq 7 -> 8: Scapy's checksum 0x8032.
        let mut p = Packet::parse(&hex(ECHO));
        set(&mut p, 2, "seq", "8");
        assert_eq!(
            p.bytes(),
            &hex(
                "02000000000202000000000186dd6000000000133a4020010db800000000000000000000000120010db8000000000000000000000002800080321234000868656c6c6f20776f726c64"
            )[..]
        );
        // A pseudo-header address: 0x802f.
        let mut p = Packet::parse(&hex(ECHO));
        set(&mut p, 1, "src", "2001:db8::5");
        assert_eq!(int(&mut p, 2, "cksum"), 0x802f);
        // The hop limit is not in the pseudo-header: the checksum stays.
        let mut p = Packet::parse(&hex(ECHO));
        set(&mut p, 1, "hlim", "5");
        assert_eq!(int(&mut p, 2, "cksum"), 0x8033);
        // A pinned checksum stays as set.
        let mut p = Packet::parse(&hex(ECHO));
        set(&mut p, 2, "cksum", "0x1111");
        set(&mut p, 2, "seq", "9");
        assert_eq!(int(&mut p, 2, "cksum"), 0x1111);
        assert_eq!(p.bad_checksums(), ["ICMPv6"]);
    }

    #[test]
    fn neighbor_solicitation_and_advertisement() {
        let mut ns = check_roundtrip(NS);
        assert_eq!(
            ns.layer_names(),
            ["Ether", "IPv6", "ICMPv6", "ICMPv6NDOptSrcLLAddr"]
        );
        assert_eq!(ip6(&mut ns, 2, "tgt"), "fe80::2");
        assert_eq!(int(&mut ns, 2, "res"), 0);
        assert_eq!(int(&mut ns, 3, "len"), 1);
        assert_eq!(get(&mut ns, 3, "lladdr"), Value::Mac([2, 0, 0, 0, 0, 1]));
        assert_eq!(
            ns.summary(),
            "IP6 fe80::1 > ff02::1:ff00:2: ICMP6, neighbor solicitation, who has fe80::2, length 32"
        );
        let mut b = stack(
            base(
                "02:00:00:00:00:01",
                "33:33:ff:00:00:02",
                "fe80::1",
                "ff02::1:ff00:2",
                "255",
            ),
            &[
                variant("ICMPv6ND_NS", &[("tgt", "fe80::2")]),
                layer(&ndp::SRC_LLADDR, &[("lladdr", "02:00:00:00:00:01")]),
            ],
        );
        assert_eq!(b.bytes(), &hex(NS)[..]);
        // An option's edit re-sums the message: Scapy's 0x7a8f.
        set(&mut ns, 3, "lladdr", "02:00:00:00:00:09");
        assert_eq!(int(&mut ns, 2, "cksum"), 0x7a8f);

        let mut na = check_roundtrip(NA);
        assert_eq!(
            na.layer_names(),
            ["Ether", "IPv6", "ICMPv6", "ICMPv6NDOptDstLLAddr"]
        );
        assert_eq!(
            (
                int(&mut na, 2, "R"),
                int(&mut na, 2, "S"),
                int(&mut na, 2, "O")
            ),
            (0, 1, 1)
        );
        assert_eq!(ip6(&mut na, 2, "tgt"), "fe80::2");
        assert_eq!(
            na.summary(),
            "IP6 fe80::2 > fe80::1: ICMP6, neighbor advertisement, tgt is fe80::2, length 32"
        );
        let mut b = stack(
            base(
                "02:00:00:00:00:02",
                "02:00:00:00:00:01",
                "fe80::2",
                "fe80::1",
                "255",
            ),
            &[
                variant("ICMPv6ND_NA", &[("tgt", "fe80::2"), ("R", "0"), ("S", "1")]),
                layer(&ndp::DST_LLADDR, &[("lladdr", "02:00:00:00:00:02")]),
            ],
        );
        assert_eq!(b.bytes(), &hex(NA)[..]);
        assert!((ICMPV6.answers)(&na, 2, &ns, 2));
        set(&mut na, 2, "O", "0");
        assert_eq!(int(&mut na, 2, "cksum"), 0x381a); // Scapy's
        set(&mut na, 2, "tgt", "fe80::3");
        assert!(!(ICMPV6.answers)(&na, 2, &ns, 2));
    }

    #[test]
    fn router_solicitation_and_advertisement() {
        let mut rs = check_roundtrip(RS);
        assert_eq!(
            rs.layer_names(),
            ["Ether", "IPv6", "ICMPv6", "ICMPv6NDOptSrcLLAddr"]
        );
        assert_eq!(
            rs.summary(),
            "IP6 fe80::1 > ff02::2: ICMP6, router solicitation, length 16"
        );
        let mut b = stack(
            base(
                "02:00:00:00:00:01",
                "33:33:00:00:00:02",
                "fe80::1",
                "ff02::2",
                "255",
            ),
            &[
                variant("ICMPv6ND_RS", &[]),
                layer(&ndp::SRC_LLADDR, &[("lladdr", "02:00:00:00:00:01")]),
            ],
        );
        assert_eq!(b.bytes(), &hex(RS)[..]);

        let mut ra = check_roundtrip(RA);
        assert_eq!(
            ra.layer_names(),
            [
                "Ether",
                "IPv6",
                "ICMPv6",
                "ICMPv6NDOptPrefixInfo",
                "ICMPv6NDOptMTU",
                "ICMPv6NDOptRDNSS",
                "ICMPv6NDOptSrcLLAddr"
            ]
        );
        for (name, v) in [
            ("chlim", 64),
            ("M", 1),
            ("O", 1),
            ("H", 0),
            ("prf", 1),
            ("P", 0),
            ("res", 0),
            ("routerlifetime", 1800),
            ("reachabletime", 30000),
            ("retranstimer", 1000),
        ] {
            assert_eq!(int(&mut ra, 2, name), v, "{name}");
        }
        assert_eq!(
            ra.summary(),
            "IP6 fe80::3 > ff02::1: ICMP6, router advertisement, length 104"
        );
        assert!((ICMPV6.answers)(&ra, 2, &rs, 2));
        assert!(!(ICMPV6.answers)(&rs, 2, &ra, 2));
        let mut b = stack(
            base(
                "02:00:00:00:00:03",
                "33:33:00:00:00:01",
                "fe80::3",
                "ff02::1",
                "255",
            ),
            &[
                variant(
                    "ICMPv6ND_RA",
                    &[
                        ("chlim", "64"),
                        ("M", "1"),
                        ("O", "1"),
                        ("reachabletime", "30000"),
                        ("retranstimer", "1000"),
                    ],
                ),
                layer(
                    &ndp::PREFIX_INFO,
                    &[
                        ("prefix", "2001:db8:1::"),
                        ("validlifetime", "86400"),
                        ("preferredlifetime", "14400"),
                    ],
                ),
                layer(&ndp::MTU, &[("mtu", "1500")]),
                {
                    let mut r = layer(&ndp::RDNSS, &[("lifetime", "600")]);
                    let dns = Tree::List(vec![
                        Tree::Str("2001:db8::53".into()),
                        Tree::Str("2001:db8::54".into()),
                    ]);
                    let fi = r.field_index(0, "dns").unwrap();
                    r.set(0, fi, &Input::Tree(&dns)).unwrap();
                    r
                },
                layer(&ndp::SRC_LLADDR, &[("lladdr", "02:00:00:00:00:03")]),
            ],
        );
        assert_eq!(b.bytes(), &hex(RA)[..]);
        // An edit deep in the options: Scapy's checksum 0x37fd.
        set(&mut ra, 5, "lifetime", "1200");
        assert_eq!(int(&mut ra, 2, "cksum"), 0x37fd);
    }

    #[test]
    fn errors_quote_the_offending_packet() {
        let mut p = check_roundtrip(UNREACH);
        assert_eq!(
            p.layer_names(),
            ["Ether", "IPv6", "ICMPv6", "IPv6", "UDP", "Raw"]
        );
        assert!(!p.layers()[2].quoted && p.layers()[3].quoted && p.layers()[4].quoted);
        assert_eq!(int(&mut p, 2, "code"), 4);
        assert_eq!(int(&mut p, 2, "length"), 0);
        assert_eq!(int(&mut p, 2, "unused"), 0);
        assert!(p.has("ICMPv6DestUnreach"));
        assert_eq!(
            p.summary(),
            "IP6 2001:db8::2 > 2001:db8::1: ICMP6, destination unreachable, unreachable port, 2001:db8::2 udp port 53, length 61"
        );
        let quoted = || {
            stack(
                layer(
                    &IPV6,
                    &[
                        ("src", "2001:db8::1"),
                        ("dst", "2001:db8::2"),
                        ("hlim", "64"),
                    ],
                ),
                &[
                    layer(&UDP, &[("sport", "40000"), ("dport", "53")]),
                    Packet::raw(b"query"),
                ],
            )
        };
        let mut b = stack(
            base(
                "02:00:00:00:00:02",
                "02:00:00:00:00:01",
                "2001:db8::2",
                "2001:db8::1",
                "64",
            ),
            &[variant("ICMPv6DestUnreach", &[("code", "4")]), quoted()],
        );
        assert_eq!(b.bytes(), &hex(UNREACH)[..]);
        // It answers the datagram it quotes, at the layer that datagram's UDP stands.
        let mut sent = stack(
            base(
                "02:00:00:00:00:01",
                "02:00:00:00:00:02",
                "2001:db8::1",
                "2001:db8::2",
                "64",
            ),
            &[
                layer(&UDP, &[("sport", "40000"), ("dport", "53")]),
                Packet::raw(b"query"),
            ],
        );
        sent.finish();
        assert!((ICMPV6.answers)(&p, 2, &sent, 2));
        let mut other = sent.clone();
        set(&mut other, 2, "dport", "54");
        other.finish();
        assert!(!(ICMPV6.answers)(&p, 2, &other, 2));

        let mut p = check_roundtrip(TOO_BIG);
        assert_eq!(
            p.layer_names(),
            ["Ether", "IPv6", "ICMPv6", "IPv6", "ICMPv6", "Raw"]
        );
        assert_eq!(int(&mut p, 2, "mtu"), 1400);
        assert_eq!(int(&mut p, 4, "type"), 128);
        assert_eq!(p.checksum_status(4), None); // quoted: not checked
        assert_eq!(
            p.summary(),
            "IP6 2001:db8::fe > 2001:db8::1: ICMP6, packet too big, mtu 1400, length 72"
        );
        let mut b = stack(
            base(
                "02:00:00:00:00:03",
                "02:00:00:00:00:01",
                "2001:db8::fe",
                "2001:db8::1",
                "64",
            ),
            &[
                variant("ICMPv6PacketTooBig", &[("mtu", "1400")]),
                layer(
                    &IPV6,
                    &[
                        ("src", "2001:db8::1"),
                        ("dst", "2001:db8::2"),
                        ("hlim", "63"),
                    ],
                ),
                variant("ICMPv6EchoRequest", &[("id", "1"), ("seq", "2")]),
                Packet::raw(&[b'x'; 16]),
            ],
        );
        assert_eq!(b.bytes(), &hex(TOO_BIG)[..]);

        let mut p = check_roundtrip(EXCEEDED);
        assert_eq!(p.layer_names(), ["Ether", "IPv6", "ICMPv6", "IPv6", "UDP"]);
        assert_eq!(
            p.summary(),
            "IP6 2001:db8::fe > 2001:db8::1: ICMP6, time exceeded in-transit for 2001:db8::2, length 56"
        );
        let mut b = stack(
            base(
                "02:00:00:00:00:03",
                "02:00:00:00:00:01",
                "2001:db8::fe",
                "2001:db8::1",
                "64",
            ),
            &[
                variant("ICMPv6TimeExceeded", &[]),
                layer(
                    &IPV6,
                    &[
                        ("src", "2001:db8::1"),
                        ("dst", "2001:db8::2"),
                        ("hlim", "1"),
                    ],
                ),
                layer(&UDP, &[("sport", "33434"), ("dport", "33435")]),
            ],
        );
        assert_eq!(b.bytes(), &hex(EXCEEDED)[..]);

        let mut p = check_roundtrip(PARAM_PROBLEM);
        assert_eq!(p.layer_names(), ["Ether", "IPv6", "ICMPv6", "IPv6", "Raw"]);
        assert_eq!((int(&mut p, 2, "code"), int(&mut p, 2, "ptr")), (1, 40));
        assert_eq!(int(&mut p, 3, "nh"), 253);
        assert_eq!(
            p.summary(),
            "IP6 2001:db8::2 > 2001:db8::1: ICMP6, parameter problem, next header - octet 40, length 56"
        );
        let mut b = stack(
            base(
                "02:00:00:00:00:02",
                "02:00:00:00:00:01",
                "2001:db8::2",
                "2001:db8::1",
                "64",
            ),
            &[
                variant("ICMPv6ParamProblem", &[("code", "1"), ("ptr", "40")]),
                layer(
                    &IPV6,
                    &[
                        ("src", "2001:db8::1"),
                        ("dst", "2001:db8::2"),
                        ("nh", "253"),
                    ],
                ),
                Packet::raw(&[0; 8]),
            ],
        );
        assert_eq!(b.bytes(), &hex(PARAM_PROBLEM)[..]);
    }

    #[test]
    fn redirect() {
        let mut p = check_roundtrip(REDIRECT);
        assert_eq!(
            p.layer_names(),
            ["Ether", "IPv6", "ICMPv6", "ICMPv6NDOptDstLLAddr"]
        );
        assert_eq!(ip6(&mut p, 2, "tgt"), "fe80::4");
        assert_eq!(ip6(&mut p, 2, "dst"), "2001:db8::99");
        assert_eq!(
            p.summary(),
            "IP6 fe80::3 > fe80::1: ICMP6, redirect, 2001:db8::99 to fe80::4, length 48"
        );
        let mut b = stack(
            base(
                "02:00:00:00:00:03",
                "02:00:00:00:00:01",
                "fe80::3",
                "fe80::1",
                "255",
            ),
            &[
                variant(
                    "ICMPv6ND_Redirect",
                    &[("tgt", "fe80::4"), ("dst", "2001:db8::99")],
                ),
                layer(&ndp::DST_LLADDR, &[("lladdr", "02:00:00:00:00:04")]),
            ],
        );
        assert_eq!(b.bytes(), &hex(REDIRECT)[..]);
    }

    #[test]
    fn mld_is_named_not_decoded() {
        let mut p = check_roundtrip(MLD_QUERY);
        assert_eq!(p.layer_names(), ["Ether", "IPv6", "ICMPv6", "Raw"]);
        assert_eq!(int(&mut p, 2, "unused"), 0x2710_0000);
        assert!(p.details().contains("130 (mld-query)"));
        assert_eq!(
            p.summary(),
            "IP6 fe80::1 > ff02::1: ICMP6, multicast listener query, length 24"
        );
    }

    #[test]
    fn variant_templates_are_scapys_defaults() {
        // bytes(ICMPv6...()) in Scapy 2.8 (checksum left 0 without IPv6).
        for (name, scapy) in [
            ("ICMPv6EchoRequest", "8000000000000000"),
            ("ICMPv6EchoReply", "8100000000000000"),
            ("ICMPv6DestUnreach", "0100000000000000"),
            ("ICMPv6PacketTooBig", "0200000000000500"),
            ("ICMPv6TimeExceeded", "0300000000000000"),
            ("ICMPv6ParamProblem", "0400000000000006"),
            ("ICMPv6ND_RS", "8500000000000000"),
            ("ICMPv6ND_RA", "86000000000807080000000000000000"),
            (
                "ICMPv6ND_NS",
                "870000000000000000000000000000000000000000000000",
            ),
            (
                "ICMPv6ND_NA",
                "88000000a000000000000000000000000000000000000000",
            ),
            (
                "ICMPv6ND_Redirect",
                "89000000000000000000000000000000000000000000000000000000000000000000000000000000",
            ),
        ] {
            let v = ICMPV6.variant(name).unwrap();
            assert_eq!(v.template, &hex(scapy)[..], "{name}");
            assert!((v.is)(v.template), "{name}");
            assert_eq!(header_len(v.template), v.template.len(), "{name}");
            let others = VARIANTS.iter().filter(|o| (o.is)(v.template)).count();
            assert_eq!(others, 1, "{name}");
        }
        let mut ra = variant("ICMPv6ND_RA", &[]);
        assert_eq!(int(&mut ra, 0, "prf"), 1);
        assert_eq!(int(&mut ra, 0, "routerlifetime"), 1800);
        set(&mut ra, 0, "prf", "low");
        assert_eq!(int(&mut ra, 0, "prf"), 3);
    }

    #[test]
    fn a_new_type_relayouts_the_header() {
        let mut p = variant("ICMPv6EchoRequest", &[]);
        set(&mut p, 0, "type", "neighbor-solicitation");
        assert_eq!(p.header(0).len(), 24);
        set(&mut p, 0, "tgt", "fe80::9");
        set(&mut p, 0, "type", "redirect");
        assert_eq!(p.header(0).len(), 40);
        assert_eq!(ip6(&mut p, 0, "tgt"), "fe80::9");
        set(&mut p, 0, "type", "echo-reply");
        assert_eq!(p.header(0).len(), 8);
        assert!(p.field_index(0, "tgt").is_ok()); // known name, absent here
        let fi = p.field_index(0, "tgt").unwrap();
        assert!(p.get(0, fi).is_err());
        // Alone, without a network layer, there is no checksum to compute.
        assert_eq!(p.checksum_status(0), None);
        assert_eq!(p.summary(), "ICMP6, echo reply, id 0, seq 0, length 8");
    }

    #[test]
    fn no_panic_on_cut_or_odd_bytes() {
        for frame in [
            ECHO,
            ECHO_REPLY,
            NS,
            NA,
            RS,
            RA,
            UNREACH,
            TOO_BIG,
            EXCEEDED,
            PARAM_PROBLEM,
            REDIRECT,
            MLD_QUERY,
        ] {
            let b = hex(frame);
            for n in 0..=b.len() {
                let mut p = Packet::parse(&b[..n]);
                assert_eq!(p.bytes(), &b[..n]);
                let _ = (p.summary(), p.details(), p.bad_checksums());
                let q = Packet::parse(&b);
                for i in 0..p.layers().len() {
                    let _ = (ICMPV6.answers)(&p, i, &q, i);
                    let _ = (ICMPV6.answers)(&q, i, &p, i);
                }
            }
        }
        // Every type byte, with and without bytes after the header.
        let ns = hex(NS);
        for t in 0..=255u8 {
            for cut in [55, 58, 62, 78, ns.len()] {
                let mut b = ns[..cut].to_vec();
                b[54] = t;
                let mut p = Packet::parse(&b);
                assert_eq!(p.bytes(), &b[..]);
                let _ = (p.summary(), p.details());
                if p.layers().len() > 2 {
                    let fi = p.field_index(2, "code").unwrap();
                    let _ = p.set(2, fi, &Input::Int(1));
                    let _ = (p.summary(), p.details(), p.bytes().len());
                }
            }
        }
    }
}
