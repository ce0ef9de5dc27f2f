//! UDP (RFC 768).

use super::{Auto, Binding, Changed, Field, Kind, Lookup, Next, Proto};
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
        "checksum with the IPv4 pseudo-header; 0 means none (computed unless set)",
    )
    .auto(Auto::Chksum),
];

pub static UDP: Proto = Proto {
    name: "UDP",
    accessor: "udp",
    aliases: &[],
    doc: "User Datagram Protocol.",
    fields: FIELDS,
    template: &[0, 53, 0, 53, 0, 8, 0, 0],
    min_len: 8,
    header_len: |_| 8,
    payload_len: None,
    next,
    bindings: &[Binding {
        lower: "IPv4",
        field: "proto",
        value: 17,
    }],
    accepts: None,
    build,
    checksum: Some(checksum),
    answers,
    summary,
    relayout: None,
};

fn next(h: &[u8], _payload: &[u8], lookup: &Lookup) -> Option<Next> {
    lookup("dport", super::read_bits(h, 16, 16))
        .or_else(|| lookup("sport", super::read_bits(h, 0, 16)))
        .map(Next::plain)
}

fn build(p: &mut Packet, idx: usize, ch: Changed) {
    // Only the pseudo-header (addresses and protocol) of the layer below
    // enters this checksum: a TTL change must not "fix" a bad checksum.
    if !ch.this && !ch.payload && !p.touched_any(idx.wrapping_sub(1), &["src", "dst", "proto"]) {
        return;
    }
    if p.layers()[idx].quoted {
        return; // a quoted header describes the original datagram
    }
    if ch.this || ch.payload {
        let len = p.segment(idx).len();
        p.write_auto_named(idx, "len", len.min(0xffff) as u64);
    }
    if let Some(c) = pseudo_checksum(p, idx, 3) {
        p.write_auto_named(idx, "chksum", if c == 0 { 0xffff } else { c } as u64);
    }
}

/// The transport checksum of layer `idx` over the IPv4 pseudo-header of the
/// layer below, with the checksum word at `skipword`. None without IPv4 below.
pub fn pseudo_checksum(p: &Packet, idx: usize, skipword: usize) -> Option<u16> {
    let below = idx.checked_sub(1)?;
    if p.layers()[below].proto.name != "IPv4" || p.layers()[idx].truncated {
        return None;
    }
    let ih = p.header(below);
    // A fragment holds part of the segment: its checksum covers bytes that are not here.
    if super::read_bits(ih, 50, 1) == 1 || super::read_bits(ih, 51, 13) != 0 {
        return None;
    }
    let (src, dst) = super::ipv4::addrs(ih)?;
    let proto = ih[9];
    let seg = p.segment(idx);
    Some(pnet_packet::util::ipv4_checksum(
        seg,
        skipword,
        &[],
        &src,
        &dst,
        pnet_packet::ip::IpNextHeaderProtocol(proto),
    ))
}

fn checksum(p: &Packet, idx: usize) -> Option<u16> {
    if p.layers()[idx].quoted {
        return None;
    }
    let stored = super::read_bits(p.header(idx), 48, 16) as u16;
    if stored == 0 {
        return Some(0); // no checksum: valid by definition
    }
    if super::read_bits(p.header(idx), 32, 16) as usize != p.segment(idx).len() {
        return None; // the length says the datagram is not all here
    }
    pseudo_checksum(p, idx, 3).map(|c| if c == 0 { 0xffff } else { c })
}

/// A reply comes back with the ports swapped.
fn answers(reply: &Packet, ri: usize, sent: &Packet, si: usize) -> bool {
    let (r, s) = (reply.header(ri), sent.header(si));
    r.len() >= 4 && s.len() >= 4 && r[0..2] == s[2..4] && r[2..4] == s[0..2]
}

/// `IP a.p > b.q: UDP, length n`, as tcpdump prints it.
pub fn transport_prefix(p: &Packet, idx: usize) -> String {
    let h = p.header(idx);
    let (sp, dp) = (super::read_bits(h, 0, 16), super::read_bits(h, 16, 16));
    match idx
        .checked_sub(1)
        .and_then(|i| super::ipv4::addrs(p.header(i)))
    {
        Some((s, d)) => format!("IP {s}.{sp} > {d}.{dp}"),
        None => format!("{sp} > {dp}"),
    }
}

fn summary(p: &Packet, idx: usize) -> Option<String> {
    Some(format!(
        "{}: UDP, length {}",
        transport_prefix(p, idx),
        p.payload(idx).len()
    ))
}
