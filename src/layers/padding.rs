//! Trailing padding: bytes after the end a header declared (Ethernet minimum-size padding).

use super::{Field, Kind, Proto};

static FIELDS: &[Field] = &[Field::new("load", 0, 0, Kind::Bytes, "the padding bytes")];

pub static PADDING: Proto = Proto {
    name: "Padding",
    accessor: "padding",
    doc: "Bytes beyond the length an IP header declares (kept and re-emitted, never dropped).",
    fields: FIELDS,
    template: &[],
    min_len: 0,
    header_len: |b| b.len(),
    next: |_, _, _| None,
    answers: |_, _, _, _| true,
    relayout: None,
    ..super::BASE
};
