//! Raw payload: bytes no other protocol claimed.

use super::{Field, Kind, Proto};

static FIELDS: &[Field] = &[Field::new("load", 0, 0, Kind::Bytes, "the payload bytes")];

pub static RAW: Proto = Proto {
    name: "Raw",
    accessor: "raw",
    aliases: &["payload"],
    doc: "Payload bytes that no other protocol claimed (also the whole frame on non-Ethernet links).",
    fields: FIELDS,
    template: &[],
    min_len: 0,
    header_len: |b| b.len(),
    next: |_, _, _| None,
    answers: |_, _, _, _| true,
    relayout: None,
    ..super::BASE
};
