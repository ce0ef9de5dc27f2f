//! Dissection of any bytes under every link type the layer files bind.
//!
//! Input: one selector byte (the link type, modulo the registry's list),
//! then the frame. Checks: an unedited packet serialises to exactly its
//! input (`raw_bytes()` and `bytes()`), the displays do not panic, and
//! `fix()` does not panic and yields bytes that dissect again.

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use pktscript::Packet;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, frame)) = data.split_first() else {
        return;
    };
    let linktype = common::linktype(sel);
    let mut p = Packet::dissect(frame.to_vec(), linktype);
    assert_eq!(p.raw_bytes(), frame, "raw_bytes() of an unedited packet");
    assert_eq!(p.bytes(), frame, "bytes() of an unedited packet");
    let _ = p.summary();
    let _ = p.details();
    let _ = p.bad_checksums();
    for i in 0..p.layers().len() {
        let _ = p.checksum_status(i);
    }
    assert_eq!(p.bytes(), frame, "the displays changed the bytes");

    p.fix();
    let fixed = p.bytes().to_vec();
    let _ = p.summary();
    let mut q = Packet::dissect(fixed.clone(), linktype);
    assert_eq!(
        q.bytes(),
        &fixed[..],
        "bytes() of the fixed packet, dissected again"
    );
    let _ = q.summary();
    let _ = q.details();
});
