//! TCP (RFC 9293) with options.

use super::items::{Codec, OptSpec, OptVal, Tlv};
use super::{Auto, Binding, Changed, Field, Kind, Lookup, Next, Proto, Space};
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
        "checksum with the IP pseudo-header (computed unless set)",
    )
    .auto(Auto::Chksum),
    Field::new("urgptr", 144, 16, Kind::Int, "urgent pointer"),
    Field::new(
        "options",
        160,
        0,
        Kind::List(&OPTIONS),
        "options as [name, value] pairs: [[\"MSS\", 1460], [\"SAckOK\", \"\"], [\"Timestamp\", [1, 0]], [\"WScale\", 7]] (padded to 4 bytes with EOL when built)",
    ),
];

/// TCP option kinds, with Scapy's names (IANA's TCP parameters registry).
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
        kind: 2,
        name: "MSS",
        val: OptVal::Uint(2),
    },
    OptSpec {
        kind: 3,
        name: "WScale",
        val: OptVal::Uint(1),
    },
    OptSpec {
        kind: 4,
        name: "SAckOK",
        val: OptVal::Empty,
    },
    OptSpec {
        kind: 5,
        name: "SAck",
        val: OptVal::UintList(4),
    },
    OptSpec {
        kind: 8,
        name: "Timestamp",
        val: OptVal::Uints(&[4, 4]),
    },
    OptSpec {
        kind: 14,
        name: "AltChkSum",
        val: OptVal::Uints(&[1, 2]),
    },
    OptSpec {
        kind: 15,
        name: "AltChkSumOpt",
        val: OptVal::Bytes,
    },
    OptSpec {
        kind: 19,
        name: "MD5",
        val: OptVal::Bytes,
    },
    OptSpec {
        kind: 25,
        name: "Mood",
        val: OptVal::Bytes,
    },
    OptSpec {
        kind: 28,
        name: "UTO",
        val: OptVal::Uint(2),
    },
    OptSpec {
        kind: 29,
        name: "AO",
        val: OptVal::Bytes,
    },
    OptSpec {
        kind: 30,
        name: "MPTCP",
        val: OptVal::Bytes,
    },
    OptSpec {
        kind: 34,
        name: "TFO",
        val: OptVal::Bytes,
    },
];

static TLV: Tlv = Tlv {
    specs: OPTION_KINDS,
    len_counts_header: true,
    end: Some(0),
    align: 4,
};

static OPTIONS: Codec = Codec {
    type_name: "TCP options",
    decode: |b| TLV.decode(b),
    encode: |t| TLV.encode(t, "tcp.options"),
    help: "write [[\"MSS\", 1460], [\"NOP\", ()], [\"WScale\", 7], [\"SAckOK\", \"\"], [\"Timestamp\", [tsval, tsecr]]]; [kind, blob] for any other kind",
};

pub static TCP: Proto = Proto {
    name: "TCP",
    accessor: "tcp",
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
    next,
    bindings: &[Binding::new(Space::IpProto, 6)],
    build,
    checksum: Some(checksum),
    answers,
    summary,
    relayout: None,
    ..super::BASE
};

const SPORT: usize = super::field_id(FIELDS, "sport");
const DPORT: usize = super::field_id(FIELDS, "dport");
const SEQ: usize = super::field_id(FIELDS, "seq");
const ACK: usize = super::field_id(FIELDS, "ack");
const DATAOFS: usize = super::field_id(FIELDS, "dataofs");
const FLAGS_F: usize = super::field_id(FIELDS, "flags");
const WINDOW: usize = super::field_id(FIELDS, "window");
const CHKSUM: usize = super::field_id(FIELDS, "chksum");
/// Byte offset of the checksum, for the sum that leaves it out.
const CHKSUM_AT: usize = 16;

fn next(h: &[u8], _payload: &[u8], lookup: &Lookup) -> Option<Next> {
    lookup(Space::TcpPort, FIELDS[DPORT].int(h))
        .or_else(|| lookup(Space::TcpPort, FIELDS[SPORT].int(h)))
        .map(Next::plain)
}

fn build(p: &mut Packet, idx: usize, ch: Changed) {
    // Only the pseudo-header (addresses and protocol) of the layer below
    // enters this checksum: a TTL change must not "fix" a bad checksum.
    if !ch.this && !ch.payload && !super::pseudo_touched(p, idx) {
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
        p.write_auto(idx, DATAOFS, (hl / 4).min(15) as u64);
    }
    if let Some(c) = super::transport_checksum(p, idx, CHKSUM_AT) {
        p.write_auto(idx, CHKSUM, c as u64);
    }
}

fn checksum(p: &Packet, idx: usize) -> Option<u16> {
    if p.layers()[idx].quoted {
        return None;
    }
    super::transport_checksum(p, idx, CHKSUM_AT)
}

/// A segment answers one with swapped ports whose sequence space it acknowledges
/// (or, for a RST to a SYN, whatever it acknowledges of it).
fn answers(reply: &Packet, ri: usize, sent: &Packet, si: usize) -> bool {
    let (r, s) = (reply.header(ri), sent.header(si));
    if r.len() < 20 || s.len() < 20 || r[0..2] != s[2..4] || r[2..4] != s[0..2] {
        return false;
    }
    let rflags = FIELDS[FLAGS_F].int(r);
    let sflags = FIELDS[FLAGS_F].int(s);
    let sseq = FIELDS[SEQ].int(s) as u32;
    let sack = FIELDS[ACK].int(s) as u32;
    let rseq = FIELDS[SEQ].int(r) as u32;
    let rack = FIELDS[ACK].int(r) as u32;
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
            super::transport_prefix(p, idx)
        ));
    }
    let f = FIELDS[FLAGS_F].int(h);
    let mut s = format!(
        "{}: Flags [{}], seq {}",
        super::transport_prefix(p, idx),
        tcpdump_flags(f),
        FIELDS[SEQ].int(h)
    );
    if f & 0x10 != 0 {
        s.push_str(&format!(", ack {}", FIELDS[ACK].int(h)));
    }
    s.push_str(&format!(
        ", win {}, length {}",
        FIELDS[WINDOW].int(h),
        p.payload(idx).len()
    ));
    Some(s)
}
