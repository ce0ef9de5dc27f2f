//! tcpdump filter expressions (pcap-filter syntax) compiled to classic BPF.
//!
//! - [`lexer`] and [`parser`]: the expression to an [`Expr`] tree.
//! - [`codegen`]: the tree to classic BPF for Ethernet (link type 1).
//! - [`bpf`]: the [`Insn`] type, an interpreter ([`run`]) and a printer in the
//!   format of `tcpdump -d` ([`dump`]).
//!
//! ```
//! use pktscript::filter;
//! let prog = filter::compile("tcp port 80").unwrap();
//! let pkt = [0u8; 60];
//! assert_eq!(filter::run(&prog, &pkt, 60), 0);
//! ```
//!
//! Supported: `ether ip ip6 arp rarp tcp udp icmp sctp`, `[proto] [src|dst]
//! host|net|port|portrange ID` (IPv4 and Ethernet addresses; `net N/len`,
//! `net N mask M`), `ether [src|dst] host MAC`, `[ether] broadcast`,
//! `[ether|ip|ip6] multicast`, `[ip|ip6|ether] proto N`, `greater N`,
//! `less N`, `vlan [N]`, relations between arithmetic expressions with
//! `proto[off:size]` loads, `len` and named constants (`tcpflags`,
//! `tcp-syn`, `icmptype`, `icmp-echo`, ...), `and or not && || !` and
//! parentheses. Host names and service names are not resolved.

pub mod bpf;
pub mod codegen;
pub mod lexer;
pub mod parser;

pub use bpf::{Insn, dump, run, to_sock_filters};
pub use parser::Expr;

use std::fmt;

/// A filter expression that cannot be compiled; `offset`/`len` locate the
/// offending token in the source (in bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterError {
    pub message: String,
    pub offset: usize,
    pub len: usize,
    /// What would have been accepted at `offset` (may be empty).
    pub expected: Vec<String>,
}

impl FilterError {
    pub fn new(message: String, offset: usize, len: usize, expected: Vec<String>) -> Self {
        FilterError {
            message,
            offset,
            len,
            expected,
        }
    }

    /// A miette report pointing at the offending token in `src`.
    pub fn report(&self, src: &str) -> miette::Report {
        let help = if self.expected.is_empty() {
            None
        } else {
            Some(format!("expected {}", self.expected.join(", ")))
        };
        let offset = self.offset.min(src.len());
        let len = self.len.min(src.len() - offset);
        let mut diag = miette::MietteDiagnostic::new(self.message.clone())
            .with_label(miette::LabeledSpan::at(offset..offset + len, "here"));
        if let Some(h) = help {
            diag = diag.with_help(h);
        }
        miette::Report::new(diag).with_source_code(src.to_string())
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at offset {})", self.message, self.offset)?;
        if !self.expected.is_empty() {
            write!(f, "; expected {}", self.expected.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for FilterError {}

/// Parses and compiles a filter expression to classic BPF for Ethernet.
pub fn compile(src: &str) -> Result<Vec<Insn>, FilterError> {
    let e = parser::parse(src)?;
    codegen::generate(e.as_ref())
}

/// Whether a live socket can run the expression's program in the kernel.
/// The kernel strips VLAN tags before socket filters run (they are put back
/// from PACKET_AUXDATA afterwards), so a program that reads tags inline
/// cannot run there: those are filtered in user space.
pub fn runs_in_kernel(expr: &str) -> bool {
    !expr
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| w == "vlan")
}

/// Whether the compiled program `prog` accepts `pkt` (captured bytes; the
/// wire length is taken to be the captured length).
pub fn matches(prog: &[Insn], pkt: &[u8]) -> bool {
    run(prog, pkt, pkt.len() as u32) != 0
}
