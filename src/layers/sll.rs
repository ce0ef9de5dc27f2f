//! Linux cooked captures (`tcpdump -i any`): SLL (link type 113) and SLL2 (276).
//!
//! The kernel gives a capture on the "any" device no link-layer header of
//! its own; libpcap makes one up from the socket address of each packet:
//! its direction (`pkttype`), the device's hardware type (`lladdrtype`,
//! an `ARPHRD_*` number), the source address, and the protocol, an
//! EtherType for most devices. Names as Scapy's `CookedLinux` and
//! `CookedLinuxV2`; Scapy's 8-byte `src` is split in two here: the
//! 6-byte address most devices have, and the 2 bytes after it (`unused`,
//! as tshark calls them).

use super::{Auto, Binding, Field, Kind, Lookup, Next, Proto, Space, ether::ETHERTYPES, raw::RAW};
use crate::packet::Packet;

/// Linux `PACKET_*` packet types: who the packet was for. The first name
/// of each value is Scapy's; the kernel's names are accepted too.
pub static PKTTYPES: &[(u64, &str)] = &[
    (0, "unicast"),
    (1, "broadcast"),
    (2, "multicast"),
    (3, "unicast-to-another-host"),
    (4, "sent-by-us"),
    (5, "loopback"),
    (0, "host"),
    (3, "otherhost"),
    (4, "outgoing"),
];

/// Linux `ARPHRD_*` hardware types seen in cooked captures.
pub static ARPHRD: &[(u64, &str)] = &[
    (1, "ether"),
    (512, "ppp"),
    (768, "tunnel"),
    (769, "tunnel6"),
    (772, "loopback"),
    (776, "sit"),
    (778, "ipgre"),
    (801, "ieee80211"),
    (803, "ieee80211-radiotap"),
    (823, "ip6gre"),
    (824, "netlink"),
    (0xfffe, "none"),
    (0xffff, "void"),
];

/// `ARPHRD_NETLINK`: the protocol field holds a netlink family, not an EtherType.
const ARPHRD_NETLINK: u64 = 824;

/// Protocol values below this are Linux's `ETH_P_*` pseudo-protocols
/// (802.3 without LLC 0x0001, 802.2 LLC 0x0004, CAN 0x000c...), not EtherTypes.
const MIN_ETHERTYPE: u64 = 0x0600;

const SLL_PKTTYPE: usize = super::field_id(SLL_FIELDS, "pkttype");
const SLL_LLTYPE: usize = super::field_id(SLL_FIELDS, "lladdrtype");
const SLL_LLLEN: usize = super::field_id(SLL_FIELDS, "lladdrlen");
const SLL_SRC: usize = super::field_id(SLL_FIELDS, "src");
const SLL_PROTO: usize = super::field_id(SLL_FIELDS, "proto");

static SLL_FIELDS: &[Field] = &[
    Field::new(
        "pkttype",
        0,
        16,
        Kind::Enum(PKTTYPES),
        "who the packet was for: 0 unicast to us, 1 broadcast, 2 multicast, \
         3 unicast to another host, 4 sent by us",
    ),
    Field::new(
        "lladdrtype",
        16,
        16,
        Kind::HexEnum(ARPHRD),
        "the device's hardware type (ARPHRD_*: 1 Ethernet, 772 loopback...)",
    ),
    Field::new(
        "lladdrlen",
        32,
        16,
        Kind::Int,
        "length of the source address (6 for Ethernet)",
    ),
    Field::new(
        "src",
        48,
        48,
        Kind::Mac,
        "source link-layer address (its first 6 bytes)",
    ),
    Field::new(
        "unused",
        96,
        16,
        Kind::Hex,
        "the last 2 of the 8 address bytes (zero unless lladdrlen is over 6)",
    ),
    Field::new(
        "proto",
        112,
        16,
        Kind::HexEnum(ETHERTYPES),
        "EtherType of the payload (follows the layer above unless set)",
    )
    .auto(Auto::Next)
    .space(Space::EtherType),
];

pub static SLL: Proto = Proto {
    name: "CookedLinux",
    accessor: "sll",
    aliases: &["SLL"],
    doc: "Linux cooked capture header (SLL, link type 113: `tcpdump -i any`).",
    fields: SLL_FIELDS,
    // Scapy's defaults: unicast, lladdrtype 0x200, no address, IPv4.
    template: &[0, 0, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00],
    min_len: 16,
    header_len: |_| 16,
    next: sll_next,
    bindings: &[Binding::new(Space::LinkType, 113)],
    // The link-layer address is the sender's (tcpdump's `ether src`).
    link: Some(&super::LinkLayout {
        ethertype_at: Some(14),
        net_at: 16,
        dst_mac_at: None,
        src_mac_at: Some(6),
    }),
    answers: |_, _, _, _| true,
    summary: sll_summary,
    summary_tag: Some(|h| direction(SLL_FIELDS[SLL_PKTTYPE].int(h))),
    relayout: None,
    ..super::BASE
};

const SLL2_PROTO: usize = super::field_id(SLL2_FIELDS, "proto");
const SLL2_IFINDEX: usize = super::field_id(SLL2_FIELDS, "ifindex");
const SLL2_LLTYPE: usize = super::field_id(SLL2_FIELDS, "lladdrtype");
const SLL2_PKTTYPE: usize = super::field_id(SLL2_FIELDS, "pkttype");
const SLL2_LLLEN: usize = super::field_id(SLL2_FIELDS, "lladdrlen");
const SLL2_SRC: usize = super::field_id(SLL2_FIELDS, "src");

static SLL2_FIELDS: &[Field] = &[
    Field::new(
        "proto",
        0,
        16,
        Kind::HexEnum(ETHERTYPES),
        "EtherType of the payload (follows the layer above unless set)",
    )
    .auto(Auto::Next)
    .space(Space::EtherType),
    Field::new("reserved", 16, 16, Kind::Int, "reserved, zero"),
    Field::new(
        "ifindex",
        32,
        32,
        Kind::Int,
        "index of the interface the packet was captured on",
    ),
    Field::new(
        "lladdrtype",
        64,
        16,
        Kind::HexEnum(ARPHRD),
        "the device's hardware type (ARPHRD_*: 1 Ethernet, 772 loopback...)",
    ),
    Field::new(
        "pkttype",
        80,
        8,
        Kind::Enum(PKTTYPES),
        "who the packet was for: 0 unicast to us, 1 broadcast, 2 multicast, \
         3 unicast to another host, 4 sent by us",
    ),
    Field::new(
        "lladdrlen",
        88,
        8,
        Kind::Int,
        "length of the source address (6 for Ethernet)",
    ),
    Field::new(
        "src",
        96,
        48,
        Kind::Mac,
        "source link-layer address (its first 6 bytes)",
    ),
    Field::new(
        "unused",
        144,
        16,
        Kind::Hex,
        "the last 2 of the 8 address bytes (zero unless lladdrlen is over 6)",
    ),
];

pub static SLL2: Proto = Proto {
    name: "CookedLinuxV2",
    accessor: "sll2",
    aliases: &["SLL2"],
    doc: "Linux cooked capture header v2 (SLL2, link type 276: `tcpdump -i any` \
          with libpcap 1.10 and later), which adds the interface index.",
    fields: SLL2_FIELDS,
    // Scapy's defaults: IPv4, interface 0, lladdrtype 0x200, unicast, no address.
    template: &[
        0x08, 0x00, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ],
    min_len: 20,
    header_len: |_| 20,
    next: sll2_next,
    bindings: &[Binding::new(Space::LinkType, 276)],
    link: Some(&super::LinkLayout {
        ethertype_at: Some(0),
        net_at: 20,
        dst_mac_at: None,
        src_mac_at: Some(12),
    }),
    answers: |_, _, _, _| true,
    summary: sll2_summary,
    summary_tag: Some(|h| {
        format!(
            "ifindex {} {}",
            SLL2_FIELDS[SLL2_IFINDEX].int(h),
            direction(SLL2_FIELDS[SLL2_PKTTYPE].int(h))
        )
    }),
    relayout: None,
    ..super::BASE
};

/// What follows a cooked header of hardware type `hatype` and protocol
/// `proto`: the protocol bound to that EtherType, or Raw where the
/// protocol is not an EtherType (netlink families, Linux's pseudo-protocols).
fn follow(hatype: u64, proto: u64, lookup: &Lookup) -> Option<Next> {
    if hatype == ARPHRD_NETLINK || proto < MIN_ETHERTYPE {
        return Some(Next::plain(&RAW));
    }
    lookup(Space::EtherType, proto).map(Next::plain)
}

fn sll_next(hdr: &[u8], _payload: &[u8], lookup: &Lookup) -> Option<Next> {
    follow(
        SLL_FIELDS[SLL_LLTYPE].int(hdr),
        SLL_FIELDS[SLL_PROTO].int(hdr),
        lookup,
    )
}

fn sll2_next(hdr: &[u8], _payload: &[u8], lookup: &Lookup) -> Option<Next> {
    follow(
        SLL2_FIELDS[SLL2_LLTYPE].int(hdr),
        SLL2_FIELDS[SLL2_PROTO].int(hdr),
        lookup,
    )
}

/// tcpdump's word for a packet type: `In`, `Out`, `B`, `M`, `P`.
fn direction(pkttype: u64) -> String {
    match pkttype {
        0 => "In",
        1 => "B",
        2 => "M",
        3 => "P",
        4 => "Out",
        _ => "?",
    }
    .to_string()
}

/// `02:00:00:00:00:01 ethertype IPv4 (0x0800), length 98`, as `tcpdump -e`
/// prints it, shown when no layer above says more: the address as long as
/// `lladdrlen` says (up to the 8 bytes there are), then the protocol
/// (Linux's pseudo-protocols 1 and 4 as `802.3` and `802.2`).
fn summary_of(p: &Packet, idx: usize, src: std::ops::Range<usize>, len: u64, proto: u64) -> String {
    let h = p.header(idx);
    let n = (len as usize).min(src.len());
    let addr = h
        .get(src.start..src.start + n)
        .unwrap_or(&[])
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    let name = ETHERTYPES
        .iter()
        .find(|(v, _)| *v == proto)
        .map(|(_, n)| *n);
    let what = match (proto, name) {
        (1, _) => "802.3".to_string(),
        (4, _) => "802.2".to_string(),
        (_, Some(n)) => format!("ethertype {n} ({proto:#06x})"),
        (_, None) => format!("ethertype {proto:#06x}"),
    };
    let len = p.raw_bytes().len();
    if addr.is_empty() {
        format!("{what}, length {len}")
    } else {
        format!("{addr} {what}, length {len}")
    }
}

fn sll_summary(p: &Packet, idx: usize) -> Option<String> {
    let h = p.header(idx);
    if h.len() < 16 {
        return None;
    }
    let at = (SLL_FIELDS[SLL_SRC].off / 8) as usize;
    Some(summary_of(
        p,
        idx,
        at..at + 8,
        SLL_FIELDS[SLL_LLLEN].int(h),
        SLL_FIELDS[SLL_PROTO].int(h),
    ))
}

fn sll2_summary(p: &Packet, idx: usize) -> Option<String> {
    let h = p.header(idx);
    if h.len() < 20 {
        return None;
    }
    let at = (SLL2_FIELDS[SLL2_SRC].off / 8) as usize;
    Some(summary_of(
        p,
        idx,
        at..at + 8,
        SLL2_FIELDS[SLL2_LLLEN].int(h),
        SLL2_FIELDS[SLL2_PROTO].int(h),
    ))
}
