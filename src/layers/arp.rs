//! ARP (RFC 826) for Ethernet and IPv4 addresses.

use super::{Binding, Field, Kind, Proto, Space, ether::ETHERTYPES};
use crate::packet::Packet;
use std::net::Ipv4Addr;

static OPS: &[(u64, &str)] = &[
    (1, "who-has"),
    (2, "is-at"),
    (3, "RARP-req"),
    (4, "RARP-rep"),
    (5, "Dyn-RARP-req"),
    (6, "Dyn-RARP-rep"),
    (7, "Dyn-RARP-err"),
    (8, "InARP-req"),
    (9, "InARP-rep"),
];

static HWTYPES: &[(u64, &str)] = &[
    (1, "Ethernet"),
    (6, "IEEE802"),
    (15, "FrameRelay"),
    (24, "IEEE1394"),
];

/// The address fields are laid out for 6-byte hardware and 4-byte protocol addresses.
fn ether_ipv4(h: &[u8]) -> bool {
    h.len() >= 6 && h[4] == 6 && h[5] == 4
}

static FIELDS: &[Field] = &[
    Field::new("hwtype", 0, 16, Kind::Enum(HWTYPES), "hardware type").pkttools("ARP.HARDWARE"),
    Field::new("ptype", 16, 16, Kind::HexEnum(ETHERTYPES), "protocol type")
        .pkttools("ARP.PROTOCOL"),
    Field::new("hwlen", 32, 8, Kind::Int, "hardware address length").pkttools("ARP.HARDWARE_SIZE"),
    Field::new("plen", 40, 8, Kind::Int, "protocol address length").pkttools("ARP.PROTOCOL_SIZE"),
    Field::new(
        "op",
        48,
        16,
        Kind::Enum(OPS),
        "operation: who-has (request) or is-at (reply)",
    )
    .pkttools("ARP.OPERATION"),
    Field::new("hwsrc", 64, 48, Kind::Mac, "sender hardware address")
        .when(ether_ipv4)
        .pkttools("ARP.SENDER_MACADDR"),
    Field::new("psrc", 112, 32, Kind::Ipv4, "sender protocol address")
        .when(ether_ipv4)
        .pkttools("ARP.SENDER_IPADDR"),
    Field::new("hwdst", 144, 48, Kind::Mac, "target hardware address")
        .when(ether_ipv4)
        .pkttools("ARP.TARGET_MACADDR"),
    Field::new("pdst", 192, 32, Kind::Ipv4, "target protocol address")
        .when(ether_ipv4)
        .pkttools("ARP.TARGET_IPADDR"),
];

pub static ARP: Proto = Proto {
    name: "ARP",
    accessor: "arp",
    doc: "Address Resolution Protocol for Ethernet/IPv4.",
    fields: FIELDS,
    template: &[
        0, 1, 8, 0, 6, 4, 0, 1, // hwtype ptype hwlen plen op
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // hwsrc psrc
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // hwdst pdst
    ],
    min_len: 8,
    header_len,
    payload_len: Some(|_| Some(0)), // what follows ARP is Ethernet padding
    next: |_, _, _| None,
    bindings: &[
        Binding::new(Space::EtherType, 0x0806),
        Binding::new(Space::EtherType, 0x8035),
    ],
    answers,
    summary,
    relayout: None,
    ..super::BASE
};

fn header_len(b: &[u8]) -> usize {
    if b.len() < 6 {
        return 28;
    }
    8 + 2 * (b[4] as usize + b[5] as usize)
}

const HWTYPE: usize = super::field_id(FIELDS, "hwtype");
const OP: usize = super::field_id(FIELDS, "op");
const HWSRC: usize = super::field_id(FIELDS, "hwsrc");
const PSRC: usize = super::field_id(FIELDS, "psrc");
const PDST: usize = super::field_id(FIELDS, "pdst");

/// The bytes of field `fi` in a header that holds all of it (empty otherwise).
fn bytes(h: &[u8], fi: usize) -> &[u8] {
    h.get(FIELDS[fi].byte_range(h)).unwrap_or_default()
}

fn ip(h: &[u8], fi: usize) -> String {
    super::format_value(&FIELDS[fi], &super::get_value(&FIELDS[fi], h))
}

fn mac(h: &[u8], fi: usize) -> String {
    super::format_value(&FIELDS[fi], &super::get_value(&FIELDS[fi], h))
}

/// An is-at answers the who-has for its sender address, sent from the address it is sent to.
fn answers(reply: &Packet, ri: usize, sent: &Packet, si: usize) -> bool {
    let (r, s) = (reply.header(ri), sent.header(si));
    if r.len() < 28 || s.len() < 28 || !ether_ipv4(r) || !ether_ipv4(s) {
        return false;
    }
    let (rop, sop) = (FIELDS[OP].int(r), FIELDS[OP].int(s));
    rop == sop + 1
        && sop % 2 == 1
        && bytes(r, PSRC) == bytes(s, PDST)
        && bytes(r, PDST) == bytes(s, PSRC)
}

fn summary(p: &Packet, idx: usize) -> Option<String> {
    let h = p.header(idx);
    let l = p.raw_bytes().len() - p.layers()[idx].off;
    if h.len() < 28 || !ether_ipv4(h) {
        return Some(format!(
            "ARP, hardware type {}, length {l}",
            FIELDS[HWTYPE].int(h)
        ));
    }
    Some(match FIELDS[OP].int(h) {
        1 => format!(
            "ARP, Request who-has {} tell {}, length {l}",
            ip(h, PDST),
            ip(h, PSRC)
        ),
        2 => format!(
            "ARP, Reply {} is-at {}, length {l}",
            ip(h, PSRC),
            mac(h, HWSRC)
        ),
        op => format!("ARP, op {op} {} > {}, length {l}", ip(h, PSRC), ip(h, PDST)),
    })
}

/// A who-has for `target` from (`mac`, `ip`), to the Ethernet broadcast address.
pub fn who_has(mac: [u8; 6], ip: Ipv4Addr, target: Ipv4Addr) -> Packet {
    use super::Value;
    let mut eth = super::ether::header([0xff; 6], mac);
    let mut arp = Packet::new_layer(&ARP);
    arp.set_value(0, HWSRC, Value::Mac(mac));
    arp.set_value(0, PSRC, Value::Ipv4(ip.octets()));
    arp.set_value(0, PDST, Value::Ipv4(target.octets()));
    eth.stack(&arp);
    eth.finish();
    eth
}

/// The sender hardware address of an Ethernet/IPv4 ARP header.
pub fn sender_mac(h: &[u8]) -> Option<[u8; 6]> {
    if !ether_ipv4(h) {
        return None;
    }
    bytes(h, HWSRC).try_into().ok()
}
