//! IPv4 (RFC 791) with options.

use super::items::{Codec, OptSpec, OptVal, Tlv};
use super::{Auto, Binding, Changed, Field, Kind, Lookup, NetOps, Next, Proto, Space};
use crate::packet::Packet;
use std::net::{IpAddr, Ipv4Addr};

/// IP protocol numbers, shared with every field that holds one.
pub static IP_PROTOS: &[(u64, &str)] = &[
    (0, "hopopt"),
    (1, "icmp"),
    (2, "igmp"),
    (4, "ipencap"),
    (6, "tcp"),
    (17, "udp"),
    (41, "ipv6"),
    (43, "ipv6-route"),
    (44, "ipv6-frag"),
    (47, "gre"),
    (50, "esp"),
    (51, "ah"),
    (58, "ipv6-icmp"),
    (59, "no-next-header"),
    (60, "ipv6-opts"),
    (89, "ospf"),
    (103, "pim"),
    (112, "vrrp"),
    (132, "sctp"),
];

static FIELDS: &[Field] = &[
    Field::new("version", 0, 4, Kind::Int, "IP version (4)"),
    Field::new(
        "ihl",
        4,
        4,
        Kind::Int,
        "header length in 32-bit words (computed unless set)",
    )
    .auto(Auto::Len),
    Field::new("tos", 8, 8, Kind::Hex, "type of service / DSCP and ECN"),
    Field::new(
        "len",
        16,
        16,
        Kind::Int,
        "total length in bytes (computed unless set)",
    )
    .auto(Auto::Len),
    Field::new("id", 32, 16, Kind::Int, "identification"),
    Field::new(
        "flags",
        48,
        3,
        Kind::Flags(&["MF", "DF", "evil"]),
        "fragmentation flags: MF, DF (and the reserved 'evil' bit)",
    ),
    Field::new("frag", 51, 13, Kind::Int, "fragment offset in 8-byte units"),
    Field::new("ttl", 64, 8, Kind::Int, "time to live"),
    Field::new(
        "proto",
        72,
        8,
        Kind::Enum(IP_PROTOS),
        "protocol of the payload (follows the layer above unless set)",
    )
    .auto(Auto::Next)
    .space(Space::IpProto),
    Field::new(
        "chksum",
        80,
        16,
        Kind::Hex,
        "header checksum (computed unless set)",
    )
    .auto(Auto::Chksum),
    Field::new("src", 96, 32, Kind::Ipv4, "source address"),
    Field::new("dst", 128, 32, Kind::Ipv4, "destination address"),
    Field::new(
        "options",
        160,
        0,
        Kind::List(&OPTIONS),
        "options as [name, value] pairs: [[\"RR\", [4, [\"198.18.0.1\"]]], [\"RouterAlert\", 0]] (padded to 4 bytes with EOL when built)",
    ),
];

/// IPv4 option types (the whole type byte, copy flag included), with
/// Scapy's option names where it has them (IANA's IP option numbers).
static OPTION_KINDS: &[OptSpec] = &[
    OptSpec {
        kind: 0,
        name: "EOL",
        val: OptVal::Single,
    },
    OptSpec {
        kind: 1,
        name: "NOP",
        val: OptVal::Single,
    },
    OptSpec {
        kind: 7,
        name: "RR",
        val: OptVal::Route,
    },
    OptSpec {
        kind: 11,
        name: "MTUProbe",
        val: OptVal::Uint(2),
    },
    OptSpec {
        kind: 12,
        name: "MTUReply",
        val: OptVal::Uint(2),
    },
    OptSpec {
        kind: 68,
        name: "Timestamp",
        val: OptVal::Bytes,
    },
    OptSpec {
        kind: 82,
        name: "Traceroute",
        val: OptVal::Bytes,
    },
    OptSpec {
        kind: 130,
        name: "Security",
        val: OptVal::Bytes,
    },
    OptSpec {
        kind: 131,
        name: "LSRR",
        val: OptVal::Route,
    },
    OptSpec {
        kind: 136,
        name: "StreamId",
        val: OptVal::Uint(2),
    },
    OptSpec {
        kind: 137,
        name: "SSRR",
        val: OptVal::Route,
    },
    OptSpec {
        kind: 148,
        name: "RouterAlert",
        val: OptVal::Uint(2),
    },
];

static TLV: Tlv = Tlv {
    specs: OPTION_KINDS,
    len_counts_header: true,
    end: Some(0),
    align: 4,
};

static OPTIONS: Codec = Codec {
    type_name: "IPv4 options",
    decode: |b| TLV.decode(b),
    encode: |t| TLV.encode(t, "ip.options"),
    help: "write [[\"RR\", [4, [\"198.18.0.1\", \"0.0.0.0\"]]], [\"NOP\", ()], [\"RouterAlert\", 0]]; [type, blob] for any other type",
};

pub static IPV4: Proto = Proto {
    name: "IPv4",
    accessor: "ip",
    aliases: &["IP"],
    doc: "Internet Protocol version 4.",
    fields: FIELDS,
    template: &[
        0x45, 0, 0, 20, 0, 1, 0, 0, 64, 0, 0,
        0, // version/ihl tos len id flags/frag ttl proto chksum
        0, 0, 0, 0, 127, 0, 0, 1, // src dst
    ],
    min_len: 20,
    header_len: |b| {
        b.first()
            .map(|v| ((v & 0x0f) as usize * 4).max(20))
            .unwrap_or(20)
    },
    payload_len: Some(payload_len),
    next,
    bindings: &[
        Binding::new(Space::EtherType, 0x0800),
        Binding::new(Space::IpProto, 4),
        Binding::new(Space::LinkType, 228),
        Binding::new(Space::LinkType, 101).when(version_4),
    ],
    net: Some(&NET),
    pseudo_fields: &["src", "dst", "proto"],
    build,
    checksum: Some(checksum),
    answers,
    summary,
    relayout: None,
    ..super::BASE
};

const IHL: usize = super::field_id(FIELDS, "ihl");
const LEN: usize = super::field_id(FIELDS, "len");
const ID: usize = super::field_id(FIELDS, "id");
const FLAGS: usize = super::field_id(FIELDS, "flags");
const FRAG: usize = super::field_id(FIELDS, "frag");
const PROTO: usize = super::field_id(FIELDS, "proto");
const CHKSUM: usize = super::field_id(FIELDS, "chksum");
const MF: u64 = 1;

fn version_4(b: &[u8]) -> bool {
    b.first().is_some_and(|v| v >> 4 == 4)
}

static NET: NetOps = NetOps {
    addrs: |p, i| addrs(p.header(i)).map(|(s, d)| (IpAddr::V4(s), IpAddr::V4(d))),
    pseudo_sum,
    fragment: |p, i, _| is_fragment(p.header(i)),
    resolve: Some(&super::resolve::ARP),
};

/// A fragment's payload is part of a datagram (offset or more-fragments set).
fn is_fragment(h: &[u8]) -> bool {
    FIELDS[FLAGS].int(h) & MF != 0 || FIELDS[FRAG].int(h) != 0
}

/// Addresses, zero, protocol and upper-layer length (RFC 768, RFC 9293).
fn pseudo_sum(p: &Packet, net: usize, _upper: usize, proto: u8, len: usize) -> Option<u32> {
    let h = p.header(net);
    let addrs = h.get(12..20)?;
    let sum = super::ones_sum(addrs, None) as u64 + proto as u64 + (len as u64 & 0xffff);
    Some(super::fold(sum))
}

fn payload_len(h: &[u8]) -> Option<usize> {
    let total = FIELDS[LEN].int(h) as usize;
    // A zero or impossible total length (TSO captures) leaves the payload to the end.
    total.checked_sub(h.len()).filter(|_| total >= 20)
}

fn next(h: &[u8], _payload: &[u8], lookup: &Lookup) -> Option<Next> {
    if FIELDS[FRAG].int(h) != 0 {
        return None; // a later fragment: the payload is not a header
    }
    lookup(Space::IpProto, FIELDS[PROTO].int(h)).map(Next::plain)
}

fn build(p: &mut Packet, idx: usize, ch: Changed) {
    if !(ch.this || ch.payload) {
        return;
    }
    let hl = p.header(idx).len();
    if !hl.is_multiple_of(4) && !p.layers()[idx].truncated {
        p.splice(idx, hl..hl, &vec![0u8; 4 - hl % 4]);
    }
    let hl = p.header(idx).len();
    p.write_auto(idx, IHL, (hl / 4).min(15) as u64);
    if !p.layers()[idx].quoted {
        let total = hl + p.payload(idx).len();
        p.write_auto(idx, LEN, total.min(0xffff) as u64);
    }
    if p.layers()[idx].dirty
        && let Some(c) = checksum(p, idx)
    {
        p.write_auto(idx, CHKSUM, c as u64);
    }
}

fn checksum(p: &Packet, idx: usize) -> Option<u16> {
    let h = p.header(idx);
    if h.len() < 20 {
        return None;
    }
    Some(super::inet_checksum(h, Some(10)))
}

/// Source and destination address of an IPv4 header.
pub fn addrs(h: &[u8]) -> Option<(Ipv4Addr, Ipv4Addr)> {
    if h.len() < 20 {
        return None;
    }
    Some((
        Ipv4Addr::new(h[12], h[13], h[14], h[15]),
        Ipv4Addr::new(h[16], h[17], h[18], h[19]),
    ))
}

/// A reply comes from the address the request went to (any source for a
/// broadcast or an ICMP error from a router on the path).
fn answers(reply: &Packet, ri: usize, sent: &Packet, si: usize) -> bool {
    let (Some((rs, rd)), Some((ss, sd))) = (addrs(reply.header(ri)), addrs(sent.header(si))) else {
        return false;
    };
    // An error from a router on the path quotes the request.
    let icmp_error = reply.carries_quote(ri + 1);
    (rs == sd || icmp_error || sd.is_broadcast() || sd.is_multicast())
        && (rd == ss || ss.is_unspecified())
}

fn summary(p: &Packet, idx: usize) -> Option<String> {
    let h = p.header(idx);
    let (s, d) = addrs(h)?;
    let proto = FIELDS[PROTO].int(h);
    let name = IP_PROTOS
        .iter()
        .find(|(v, _)| *v == proto)
        .map(|(_, n)| n.to_string());
    let frag = FIELDS[FRAG].int(h);
    let mut out = format!(
        "IP {s} > {d}: {}, length {}",
        name.unwrap_or_else(|| format!("ip-proto-{proto}")),
        p.payload(idx).len()
    );
    if is_fragment(h) {
        out.push_str(&format!(
            " (frag {}:{}@{})",
            FIELDS[ID].int(h),
            p.payload(idx).len(),
            frag * 8
        ));
    }
    Some(out)
}
