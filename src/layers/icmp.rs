//! ICMP for IPv4 (RFC 792): echo, errors quoting the offending packet, and the rest by number.

use super::{Auto, Binding, Changed, Field, Kind, Lookup, Next, Proto, Space};
use crate::packet::Packet;

static TYPES: &[(u64, &str)] = &[
    (0, "echo-reply"),
    (3, "dest-unreach"),
    (4, "source-quench"),
    (5, "redirect"),
    (8, "echo-request"),
    (9, "router-advertisement"),
    (10, "router-solicitation"),
    (11, "time-exceeded"),
    (12, "parameter-problem"),
    (13, "timestamp-request"),
    (14, "timestamp-reply"),
    (15, "information-request"),
    (16, "information-response"),
    (17, "address-mask-request"),
    (18, "address-mask-reply"),
];

static UNREACH_CODES: &[&str] = &[
    "network-unreachable",
    "host-unreachable",
    "protocol-unreachable",
    "port-unreachable",
    "fragmentation-needed",
    "source-route-failed",
    "network-unknown",
    "host-unknown",
    "source-host-isolated",
    "network-prohibited",
    "host-prohibited",
    "TOS-network-unreachable",
    "TOS-host-unreachable",
    "communication-prohibited",
    "host-precedence-violation",
    "precedence-cutoff",
];

fn ty(h: &[u8]) -> u8 {
    h.first().copied().unwrap_or(0)
}
fn has_id(h: &[u8]) -> bool {
    matches!(ty(h), 0 | 8 | 13 | 14 | 15 | 16 | 17 | 18)
}
fn is_ts(h: &[u8]) -> bool {
    matches!(ty(h), 13 | 14)
}
fn is_mask(h: &[u8]) -> bool {
    matches!(ty(h), 17 | 18)
}
fn unreach_or_exceeded(h: &[u8]) -> bool {
    matches!(ty(h), 3 | 11)
}
fn has_length(h: &[u8]) -> bool {
    matches!(ty(h), 3 | 11 | 12)
}
fn short_unused(h: &[u8]) -> bool {
    matches!(ty(h), 11 | 12)
}
fn long_unused(h: &[u8]) -> bool {
    !matches!(ty(h), 0 | 3 | 5 | 8 | 11 | 12 | 13 | 14 | 15 | 16 | 17 | 18)
}

/// Whether an ICMP header is an error that quotes the offending packet.
pub fn is_error(h: &[u8]) -> bool {
    matches!(ty(h), 3 | 4 | 5 | 11 | 12)
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
        "chksum",
        16,
        16,
        Kind::Hex,
        "checksum over the ICMP message (computed unless set)",
    )
    .auto(Auto::Chksum),
    Field::new(
        "id",
        32,
        16,
        Kind::Int,
        "identifier (echo, timestamp, information, address mask)",
    )
    .when(has_id),
    Field::new(
        "seq",
        48,
        16,
        Kind::Int,
        "sequence number (echo, timestamp, information, address mask)",
    )
    .when(has_id),
    Field::new(
        "ts_ori",
        64,
        32,
        Kind::Int,
        "originate timestamp, ms since midnight UT (timestamp types)",
    )
    .when(is_ts),
    Field::new(
        "ts_rx",
        96,
        32,
        Kind::Int,
        "receive timestamp (timestamp types)",
    )
    .when(is_ts),
    Field::new(
        "ts_tx",
        128,
        32,
        Kind::Int,
        "transmit timestamp (timestamp types)",
    )
    .when(is_ts),
    Field::new("gw", 32, 32, Kind::Ipv4, "gateway address (redirect)").when(|h| ty(h) == 5),
    Field::new(
        "ptr",
        32,
        8,
        Kind::Int,
        "pointer to the bad octet (parameter-problem)",
    )
    .when(|h| ty(h) == 12),
    Field::new(
        "reserved",
        32,
        8,
        Kind::Int,
        "unused (dest-unreach, time-exceeded)",
    )
    .when(unreach_or_exceeded),
    Field::new(
        "length",
        40,
        8,
        Kind::Int,
        "length of the quoted datagram in 32-bit words (RFC 4884)",
    )
    .when(has_length),
    Field::new(
        "nexthopmtu",
        48,
        16,
        Kind::Int,
        "next-hop MTU (dest-unreach, fragmentation-needed)",
    )
    .when(|h| ty(h) == 3),
    Field::new(
        "unused",
        48,
        16,
        Kind::Int,
        "unused (time-exceeded, parameter-problem)",
    )
    .when(short_unused),
    Field::new(
        "addr_mask",
        64,
        32,
        Kind::Ipv4,
        "address mask (address-mask types)",
    )
    .when(is_mask),
    Field::new(
        "unused",
        32,
        32,
        Kind::Int,
        "rest of the header (other types)",
    )
    .when(long_unused),
];

pub static ICMP: Proto = Proto {
    name: "ICMP",
    accessor: "icmp",
    doc: "Internet Control Message Protocol (IPv4).",
    fields: FIELDS,
    template: &[8, 0, 0, 0, 0, 0, 0, 0],
    min_len: 8,
    header_len,
    next,
    bindings: &[Binding::new(Space::IpProto, 1)],
    build,
    checksum: Some(checksum),
    answers,
    summary,
    relayout: Some(header_len),
    ..super::BASE
};

fn header_len(h: &[u8]) -> usize {
    if is_ts(h) {
        20
    } else if is_mask(h) {
        12
    } else {
        8
    }
}

fn next(h: &[u8], payload: &[u8], _lookup: &Lookup) -> Option<Next> {
    if is_error(h) && payload.len() >= 20 && payload[0] >> 4 == 4 {
        Some(Next {
            proto: &super::ipv4::IPV4,
            quoted: true,
        })
    } else {
        None
    }
}

const TYPE: usize = super::field_id(FIELDS, "type");
const CODE: usize = super::field_id(FIELDS, "code");
const CHKSUM: usize = super::field_id(FIELDS, "chksum");
const ID: usize = super::field_id(FIELDS, "id");
const SEQ: usize = super::field_id(FIELDS, "seq");
const GW: usize = super::field_id(FIELDS, "gw");

fn build(p: &mut Packet, idx: usize, ch: Changed) {
    if (ch.this || ch.payload)
        && let Some(c) = checksum(p, idx)
    {
        p.write_auto(idx, CHKSUM, c as u64);
    }
}

fn checksum(p: &Packet, idx: usize) -> Option<u16> {
    if p.layers()[idx].quoted {
        return None; // a quoted message is usually cut short: its checksum cannot be checked
    }
    let seg = p.segment(idx);
    if seg.len() < 4 {
        return None;
    }
    Some(super::inet_checksum(seg, Some(2)))
}

/// Echo reply answers echo request (and the other request/reply pairs) with
/// the same id and sequence; an error answers the packet it quotes.
fn answers(reply: &Packet, ri: usize, sent: &Packet, si: usize) -> bool {
    let (r, s) = (reply.header(ri), sent.header(si));
    if r.len() < 8 || s.len() < 8 {
        return false;
    }
    if is_error(r) {
        return super::quote_matches(reply, ri, sent, si);
    }
    let pair = matches!(
        (FIELDS[TYPE].int(s), FIELDS[TYPE].int(r)),
        (8, 0) | (13, 14) | (15, 16) | (17, 18)
    );
    // Same identifier and sequence number.
    pair && FIELDS[ID].int(r) == FIELDS[ID].int(s) && FIELDS[SEQ].int(r) == FIELDS[SEQ].int(s)
}

fn summary(p: &Packet, idx: usize) -> Option<String> {
    let h = p.header(idx);
    if h.len() < 2 {
        return None;
    }
    let ip = super::net_prefix(p, idx);
    let len = p.segment(idx).len();
    let (t, code) = (FIELDS[TYPE].int(h) as u8, FIELDS[CODE].int(h) as u8);
    let body = match t {
        0 | 8 => format!(
            "ICMP echo {}, id {}, seq {}, length {len}",
            if t == 8 { "request" } else { "reply" },
            FIELDS[ID].int(h),
            FIELDS[SEQ].int(h)
        ),
        3 => {
            let what = UNREACH_CODES
                .get(code as usize)
                .copied()
                .unwrap_or("unreachable");
            let mut s = format!("ICMP {what}");
            if let Some((_, qd)) = p.addrs_at(idx + 1) {
                s = format!("ICMP {qd} {what}");
            }
            format!("{s}, length {len}")
        }
        11 => format!(
            "ICMP time exceeded {}, length {len}",
            if code == 0 {
                "in-transit"
            } else {
                "in-reassembly"
            }
        ),
        5 => format!(
            "ICMP redirect to {}, length {len}",
            super::format_value(&FIELDS[GW], &super::get_value(&FIELDS[GW], h))
        ),
        _ => match TYPES.iter().find(|(v, _)| *v == t as u64) {
            Some((_, n)) => format!("ICMP {n}, code {code}, length {len}"),
            None => format!("ICMP type {t}, code {code}, length {len}"),
        },
    };
    Some(format!("{ip}{body}"))
}
