//! Wake-on-LAN magic packet: six 0xff bytes, then the target MAC sixteen times.
//! Carried in EtherType 0x0842, in UDP to port 9 or 7, or (OpenBSD's
//! `arp -W`) in an Ethernet frame of type 0.

use super::{Auto, Binding, Changed, Field, Kind, Proto, Space};
use crate::packet::Packet;

static FIELDS: &[Field] = &[
    Field::new(
        "sync",
        0,
        48,
        Kind::Mac,
        "synchronisation stream: six 0xff bytes",
    ),
    Field::new(
        "target",
        48,
        48,
        Kind::Mac,
        "MAC address of the machine to wake",
    ),
    Field::new(
        "repeats",
        96,
        0,
        Kind::Bytes,
        "the target MAC fifteen more times (filled from `target` unless set)",
    )
    .auto(Auto::Derived),
];

/// Whether bytes begin with a magic packet.
pub fn is_magic(b: &[u8]) -> bool {
    b.len() >= 102 && b[..6] == [0xff; 6] && (1..16).all(|i| b[6 + 6 * i..12 + 6 * i] == b[6..12])
}

static TEMPLATE: [u8; 102] = {
    let mut t = [0u8; 102];
    let mut i = 0;
    while i < 6 {
        t[i] = 0xff;
        i += 1;
    }
    t
};

pub static WOL: Proto = Proto {
    name: "WoL",
    accessor: "wol",
    aliases: &["WakeOnLAN", "magic"],
    doc: "Wake-on-LAN magic packet (a SecureOn password, if any, follows as Raw).",
    fields: FIELDS,
    template: &TEMPLATE,
    min_len: 102,
    header_len: |_| 102,
    bindings: &[
        Binding::new(Space::EtherType, 0x0842),
        Binding::new(Space::EtherType, 0),
        Binding::new(Space::UdpPort, 9),
        Binding::new(Space::UdpPort, 7),
    ],
    accepts: Some(is_magic),
    build,
    summary,
    relayout: None,
    ..super::BASE
};

fn build(p: &mut Packet, idx: usize, ch: Changed) {
    let Some(fi) = WOL.field_index("repeats") else {
        return;
    };
    if !ch.this || p.is_pinned(idx, fi) || p.header(idx).len() < 12 {
        return;
    }
    let target = p.header(idx)[6..12].to_vec();
    let want: Vec<u8> = target.iter().copied().cycle().take(90).collect();
    if p.header(idx).get(12..) != Some(&want[..]) {
        let len = p.header(idx).len();
        p.splice(idx, 12..len, &want);
    }
}

fn summary(p: &Packet, idx: usize) -> Option<String> {
    let h = p.header(idx);
    if h.len() < 12 {
        return None;
    }
    let mut m = [0u8; 6];
    m.copy_from_slice(&h[6..12]);
    // Carried over a transport (UDP port 9): its addresses and ports first.
    let carrier = match idx.checked_sub(1) {
        Some(t) if p.net_below(t).is_some() => format!("{}: ", super::transport_prefix(p, t)),
        _ => String::new(),
    };
    Some(format!(
        "{carrier}WoL magic packet for {}",
        super::format_mac(&m)
    ))
}
