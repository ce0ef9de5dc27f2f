//! Trailing padding: bytes after the end a header declared (Ethernet minimum-size padding).

use super::{Field, Kind, Proto};

static FIELDS: &[Field] = &[Field::new("load", 0, 0, Kind::Bytes, "the padding bytes")];

pub static PADDING: Proto = Proto {
    name: "Padding",
    accessor: "padding",
    aliases: &[],
    doc: "Bytes beyond the length an IP header declares (kept and re-emitted, never dropped).",
    fields: FIELDS,
    template: &[],
    min_len: 0,
    header_len: |b| b.len(),
    payload_len: None,
    next: |_, _, _| None,
    bindings: &[],
    accepts: None,
    build: super::build_nothing,
    checksum: None,
    answers: |_, _, _, _| true,
    summary: super::summary_none,
    relayout: None,
};
