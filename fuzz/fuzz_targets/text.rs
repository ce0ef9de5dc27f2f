//! The text reader (docs/text-format.md) on any bytes.
//!
//! Every packet is read until the end or an error; errors are rendered as
//! the tools render them. Checks: no panic, and every packet read, written
//! as text again (hex and field lines), reads back to the same bytes, link
//! type and time ("a dump read back is exactly the bytes that were
//! dumped").

#![no_main]

use libfuzzer_sys::fuzz_target;
use pktscript::text::{self, TextOptions, TextReader};

fuzz_target!(|data: &[u8]| {
    let mut r = TextReader::new(data, "fuzz.txt");
    loop {
        match r.read_packet() {
            Ok(Some(mut p)) => {
                let _ = p.summary();
                let dump = text::to_text(&mut p, TextOptions { fields: true });
                let back = match text::parse_text(&dump, "dump.txt") {
                    Ok(back) => back,
                    Err(e) => panic!("a dump does not read back: {e}\n{dump}"),
                };
                assert_eq!(back.len(), 1, "{dump}");
                let mut q = back.into_iter().next().unwrap();
                assert_eq!(q.bytes(), p.bytes(), "bytes read back differ\n{dump}");
                assert_eq!(q.linktype, p.linktype, "{dump}");
                assert_eq!(q.time, p.time, "{dump}");
            }
            Ok(None) => break,
            Err(e) => {
                let _ = e.to_string();
                let _ = format!("{:?}", miette::Report::new(e));
                break;
            }
        }
    }
});
