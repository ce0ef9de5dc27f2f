//! The filter lexer, parser and compiler on any string, and the program
//! compiled run on a packet.
//!
//! Input: `EXPR`, or `EXPR \0 SELECTOR PACKET` (the selector byte picks the
//! link type, modulo the registry's list; without it: Ethernet and an empty
//! packet), so a seed is just an expression. Checks: no panic; an error
//! renders as the tools render it; a compiled program passes
//! `common::check_program` (what the kernel demands), and both interpreters
//! agree on the packet.

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use pktscript::filter;

/// The longest expression tried, in bytes. Expressions of a few KiB reach
/// the parser's nesting and token bounds (`parser::MAX_NESTING`,
/// `MAX_TOKENS`); this leaves room above them.
const MAX_EXPR: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let (expr, rest) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    if expr.len() > MAX_EXPR {
        return;
    }
    let Ok(src) = std::str::from_utf8(expr) else {
        return;
    };
    let (linktype, pkt) = match rest.split_first() {
        Some((&sel, pkt)) => (common::linktype(sel), pkt),
        None => (pktscript::packet::LINKTYPE_ETHERNET, rest),
    };
    match filter::compile_for(src, linktype) {
        Ok(prog) => {
            let _ = filter::dump(&prog);
            common::run_checked(&prog, pkt, pkt.len() as u32, src);
        }
        Err(e) => {
            assert!(e.offset <= src.len(), "error offset past the end: {e}");
            let _ = e.to_string();
            let _ = format!("{:?}", e.report(src));
        }
    }
});
