//! IEEE 802.1Q VLAN tag (and 802.1ad outer tags).

use super::{Auto, Binding, Field, Kind, Lookup, Next, Proto, Space, ether::ETHERTYPES};

const VLAN: usize = super::field_id(FIELDS, "vlan");
const TYPE: usize = super::field_id(FIELDS, "type");

static FIELDS: &[Field] = &[
    Field::new("prio", 0, 3, Kind::Int, "priority code point (0-7)"),
    Field::new(
        "id",
        3,
        1,
        Kind::Int,
        "drop eligible indicator (DEI, formerly CFI)",
    ),
    Field::new("vlan", 4, 12, Kind::Int, "VLAN identifier (0-4095)"),
    Field::new(
        "type",
        16,
        16,
        Kind::HexEnum(ETHERTYPES),
        "EtherType of the payload (follows the layer above unless set)",
    )
    .auto(Auto::Next)
    .space(Space::EtherType),
];

pub static DOT1Q: Proto = Proto {
    name: "Dot1Q",
    accessor: "dot1q",
    aliases: &["802.1Q", "vlan"],
    doc: "IEEE 802.1Q VLAN tag.",
    fields: FIELDS,
    template: &[0x00, 0x01, 0x90, 0x00],
    min_len: 4,
    header_len: |_| 4,
    next,
    bindings: &[
        Binding::new(Space::EtherType, 0x8100),
        Binding::new(Space::EtherType, 0x88a8),
    ],
    answers: |_, _, _, _| true,
    summary_tag: Some(|h| format!("802.1Q vlan {}", FIELDS[VLAN].int(h))),
    relayout: None,
    ..super::BASE
};

fn next(hdr: &[u8], _payload: &[u8], lookup: &Lookup) -> Option<Next> {
    lookup(Space::EtherType, FIELDS[TYPE].int(hdr)).map(Next::plain)
}
