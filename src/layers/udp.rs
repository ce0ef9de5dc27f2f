//! UDP (RFC 768).

use super::{Auto, Binding, Changed, Field, Kind, Lookup, Next, Proto, Space};
use crate::packet::Packet;

static FIELDS: &[Field] = &[
    Field::new("sport", 0, 16, Kind::Int, "source port"),
    Field::new("dport", 16, 16, Kind::Int, "destination port"),
    Field::new(
        "len",
        32,
        16,
        Kind::Int,
        "length of header and data (computed unless set)",
    )
    .auto(Auto::Len),
    Field::new(
        "chksum",
        48,
        16,
        Kind::Hex,
        "checksum with the IP pseudo-header; 0 means none over IPv4 (computed unless set)",
    )
    .auto(Auto::Chksum),
];

pub static UDP: Proto = Proto {
    name: "UDP",
    accessor: "udp",
    doc: "User Datagram Protocol.",
    fields: FIELDS,
    template: &[0, 53, 0, 53, 0, 8, 0, 0],
    min_len: 8,
    header_len: |_| 8,
    next,
    bindings: &[Binding::new(Space::IpProto, 17)],
    build,
    checksum: Some(checksum),
    answers,
    summary,
    relayout: None,
    ..super::BASE
};

const SPORT: usize = super::field_id(FIELDS, "sport");
const DPORT: usize = super::field_id(FIELDS, "dport");
const LEN: usize = super::field_id(FIELDS, "len");
const CHKSUM: usize = super::field_id(FIELDS, "chksum");
/// Byte offset of the checksum, for the sum that leaves it out.
const CHKSUM_AT: usize = 6;

fn next(h: &[u8], _payload: &[u8], lookup: &Lookup) -> Option<Next> {
    lookup(Space::UdpPort, FIELDS[DPORT].int(h))
        .or_else(|| lookup(Space::UdpPort, FIELDS[SPORT].int(h)))
        .map(Next::plain)
}

fn build(p: &mut Packet, idx: usize, ch: Changed) {
    // Only the pseudo-header (addresses and protocol) of the layer below
    // enters this checksum: a TTL change must not "fix" a bad checksum.
    if !ch.this && !ch.payload && !super::pseudo_touched(p, idx) {
        return;
    }
    if p.layers()[idx].quoted {
        return; // a quoted header describes the original datagram
    }
    if ch.this || ch.payload {
        let len = p.segment(idx).len();
        p.write_auto(idx, LEN, len.min(0xffff) as u64);
    }
    if let Some(c) = super::transport_checksum(p, idx, CHKSUM_AT) {
        p.write_auto(idx, CHKSUM, if c == 0 { 0xffff } else { c } as u64);
    }
}

fn checksum(p: &Packet, idx: usize) -> Option<u16> {
    if p.layers()[idx].quoted {
        return None;
    }
    let h = p.header(idx);
    // No checksum is valid by definition over IPv4; IPv6 requires one.
    if FIELDS[CHKSUM].int(h) == 0 && p.net_addrs(idx).is_none_or(|(s, _)| s.is_ipv4()) {
        return Some(0);
    }
    if FIELDS[LEN].int(h) as usize != p.segment(idx).len() {
        return None; // the length says the datagram is not all here
    }
    super::transport_checksum(p, idx, CHKSUM_AT).map(|c| if c == 0 { 0xffff } else { c })
}

/// A reply comes back with the ports swapped.
fn answers(reply: &Packet, ri: usize, sent: &Packet, si: usize) -> bool {
    let (r, s) = (reply.header(ri), sent.header(si));
    r.len() >= 4 && s.len() >= 4 && r[0..2] == s[2..4] && r[2..4] == s[0..2]
}

fn summary(p: &Packet, idx: usize) -> Option<String> {
    Some(format!(
        "{}: UDP, length {}",
        super::transport_prefix(p, idx),
        p.payload(idx).len()
    ))
}
