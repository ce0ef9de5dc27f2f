//! Ethernet II.

use super::{Auto, Binding, Field, Kind, LinkLayout, Lookup, Next, Proto, Space};
use crate::packet::Packet;

/// Well-known EtherTypes, shared by every field that holds one.
pub static ETHERTYPES: &[(u64, &str)] = &[
    (0x0800, "IPv4"),
    (0x0806, "ARP"),
    (0x0842, "WoL"),
    (0x8035, "RARP"),
    (0x8100, "802.1Q"),
    (0x86dd, "IPv6"),
    (0x8847, "MPLS"),
    (0x8863, "PPPoE-discovery"),
    (0x8864, "PPPoE-session"),
    (0x888e, "EAPOL"),
    (0x88a8, "802.1ad"),
    (0x88cc, "LLDP"),
    (0x9000, "loopback"),
];

const TYPE: usize = super::field_id(FIELDS, "type");

static FIELDS: &[Field] = &[
    Field::new("dst", 0, 48, Kind::Mac, "destination MAC address").pkttools("ETHERNET.DST_ADDR"),
    Field::new("src", 48, 48, Kind::Mac, "source MAC address").pkttools("ETHERNET.SRC_ADDR"),
    Field::new(
        "type",
        96,
        16,
        Kind::HexEnum(ETHERTYPES),
        "EtherType of the payload (follows the layer above unless set)",
    )
    .auto(Auto::Next)
    .space(Space::EtherType),
];

pub static ETHER: Proto = Proto {
    name: "Ether",
    accessor: "eth",
    aliases: &["Ethernet", "ether"],
    doc: "Ethernet II frame header (the FCS is not part of captured frames).",
    fields: FIELDS,
    template: &[
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0x90, 0x00,
    ],
    min_len: 14,
    header_len: |_| 14,
    next,
    bindings: &[Binding::new(Space::LinkType, 1)],
    link: Some(&LinkLayout {
        ethertype_at: Some(12),
        net_at: 14,
        dst_mac_at: Some(0),
        src_mac_at: Some(6),
    }),
    answers: |_, _, _, _| true,
    summary,
    relayout: None,
    ..super::BASE
};

fn next(hdr: &[u8], _payload: &[u8], lookup: &Lookup) -> Option<Next> {
    lookup(Space::EtherType, FIELDS[TYPE].int(hdr)).map(Next::plain)
}

fn summary(p: &Packet, idx: usize) -> Option<String> {
    let h = p.header(idx);
    if h.len() < 14 {
        return None;
    }
    let t = super::read_bits(h, 96, 16);
    let name = ETHERTYPES.iter().find(|(v, _)| *v == t).map(|(_, n)| *n);
    let mut s = format!(
        "{} > {}, ethertype {}",
        mac_at(h, 6),
        mac_at(h, 0),
        match name {
            Some(n) => format!("{n} ({t:#06x})"),
            None if t <= 1500 => format!("802.3 length {t}"),
            None => format!("{t:#06x}"),
        }
    );
    s.push_str(&format!(", length {}", p.raw_bytes().len()));
    Some(s)
}

fn mac_at(h: &[u8], at: usize) -> String {
    let mut m = [0u8; 6];
    m.copy_from_slice(&h[at..at + 6]);
    super::format_mac(&m)
}

/// An Ethernet header from `src` to `dst` (its type follows what is stacked on it).
pub fn header(dst: [u8; 6], src: [u8; 6]) -> Packet {
    use super::Value;
    let mut p = Packet::new_layer(&ETHER);
    if let (Some(d), Some(s)) = (ETHER.field_index("dst"), ETHER.field_index("src")) {
        p.set_value(0, d, Value::Mac(dst));
        p.set_value(0, s, Value::Mac(src));
    }
    p
}
