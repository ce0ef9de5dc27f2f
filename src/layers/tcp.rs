//! TCP (RFC 9293) with options.

use super::{Auto, Binding, Changed, Field, Kind, Lookup, Next, Proto};
use crate::packet::Packet;

/// Flag letters from the least significant bit: FIN SYN RST PSH ACK URG ECE CWR NS.
pub static FLAGS: &[&str] = &["F", "S", "R", "P", "A", "U", "E", "C", "N"];

static FIELDS: &[Field] = &[
    Field::new("sport", 0, 16, Kind::Int, "source port"),
    Field::new("dport", 16, 16, Kind::Int, "destination port"),
    Field::new("seq", 32, 32, Kind::Int, "sequence number"),
    Field::new("ack", 64, 32, Kind::Int, "acknowledgement number"),
    Field::new(
        "dataofs",
        96,
        4,
        Kind::Int,
        "header length in 32-bit words (computed unless set)",
    )
    .auto(Auto::Len),
    Field::new("reserved", 100, 3, Kind::Int, "reserved bits"),
    Field::new(
        "flags",
        103,
        9,
        Kind::Flags(FLAGS),
        "flags as letters: F S R P A U E C N (\"SA\" = SYN+ACK)",
    ),
    Field::new("window", 112, 16, Kind::Int, "receive window"),
    Field::new(
        "chksum",
        128,
        16,
        Kind::Hex,
        "checksum with the IPv4 pseudo-header (computed unless set)",
    )
    .auto(Auto::Chksum),
    Field::new("urgptr", 144, 16, Kind::Int, "urgent pointer"),
    Field::new(
        "options",
        160,
        0,
        Kind::Bytes,
        "options, raw bytes (padded to 4 bytes when built)",
    ),
];

pub static TCP: Proto = Proto {
    name: "TCP",
    accessor: "tcp",
    aliases: &[],
    doc: "Transmission Control Protocol.",
    fields: FIELDS,
    template: &[
        0, 20, 0, 80, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x02, 0x20, 0x00, 0, 0, 0, 0,
    ],
    min_len: 20,
    header_len: |b| {
        b.get(12)
            .map(|v| ((v >> 4) as usize * 4).max(20))
            .unwrap_or(20)
    },
    payload_len: None,
    next,
    bindings: &[Binding {
        lower: "IPv4",
        field: "proto",
        value: 6,
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
        return;
    }
    if ch.this {
        let hl = p.header(idx).len();
        if !hl.is_multiple_of(4) && !p.layers()[idx].truncated {
            p.splice(idx, hl..hl, &vec![0u8; 4 - hl % 4]);
        }
        let hl = p.header(idx).len();
        p.write_auto_named(idx, "dataofs", (hl / 4).min(15) as u64);
    }
    if let Some(c) = super::udp::pseudo_checksum(p, idx, 8) {
        p.write_auto_named(idx, "chksum", c as u64);
    }
}

fn checksum(p: &Packet, idx: usize) -> Option<u16> {
    if p.layers()[idx].quoted {
        return None;
    }
    super::udp::pseudo_checksum(p, idx, 8)
}

/// A segment answers one with swapped ports whose sequence space it acknowledges
/// (or, for a RST to a SYN, whatever it acknowledges of it).
fn answers(reply: &Packet, ri: usize, sent: &Packet, si: usize) -> bool {
    let (r, s) = (reply.header(ri), sent.header(si));
    if r.len() < 20 || s.len() < 20 || r[0..2] != s[2..4] || r[2..4] != s[0..2] {
        return false;
    }
    let rflags = super::read_bits(r, 103, 9);
    let sflags = super::read_bits(s, 103, 9);
    let sseq = super::read_bits(s, 32, 32) as u32;
    let sack = super::read_bits(s, 64, 32) as u32;
    let rseq = super::read_bits(r, 32, 32) as u32;
    let rack = super::read_bits(r, 64, 32) as u32;
    let (syn, rst, ack) = (0x02, 0x04, 0x10);
    // The reply's sequence number continues what we acknowledged (unless we
    // sent a bare SYN, which acknowledges nothing).
    let bare_syn = sflags & syn != 0 && sflags & ack == 0;
    if !bare_syn && (rseq.wrapping_sub(sack) as i32).unsigned_abs() > 2 {
        return false;
    }
    if rflags & rst != 0 && rflags & ack == 0 {
        return true;
    }
    if rflags & ack == 0 {
        return false;
    }
    // It acknowledges at most what we sent (payload, plus one for SYN or FIN).
    let sent_len = sent.payload(si).len() as u32 + u32::from(sflags & 0x03 != 0);
    let diff = rack.wrapping_sub(sseq) as i32;
    diff >= 0 && diff as u32 <= sent_len + 2
}

/// tcpdump's flag letters: S F P R U E W and "." for ACK.
fn tcpdump_flags(f: u64) -> String {
    let mut s = String::new();
    for (bit, c) in [
        (0x02, 'S'),
        (0x01, 'F'),
        (0x08, 'P'),
        (0x04, 'R'),
        (0x20, 'U'),
        (0x40, 'E'),
        (0x80, 'W'),
    ] {
        if f & bit != 0 {
            s.push(c);
        }
    }
    if f & 0x10 != 0 {
        s.push('.');
    }
    if s.is_empty() {
        s.push_str("none");
    }
    s
}

fn summary(p: &Packet, idx: usize) -> Option<String> {
    let h = p.header(idx);
    if h.len() < 20 {
        return Some(format!(
            "{}: TCP (truncated)",
            super::udp::transport_prefix(p, idx)
        ));
    }
    let f = super::read_bits(h, 103, 9);
    let mut s = format!(
        "{}: Flags [{}], seq {}",
        super::udp::transport_prefix(p, idx),
        tcpdump_flags(f),
        super::read_bits(h, 32, 32)
    );
    if f & 0x10 != 0 {
        s.push_str(&format!(", ack {}", super::read_bits(h, 64, 32)));
    }
    s.push_str(&format!(
        ", win {}, length {}",
        super::read_bits(h, 112, 16),
        p.payload(idx).len()
    ));
    Some(s)
}
