//! tcpdump filter expressions (pcap-filter syntax) compiled to classic BPF.
//!
//! - [`lexer`] and [`parser`]: the expression to an [`Expr`] tree.
//! - [`codegen`]: the tree to classic BPF for one link type.
//! - [`bpf`]: the [`Insn`] type, an interpreter ([`run`]) and a printer in the
//!   format of `tcpdump -d` ([`dump`]).
//!
//! ```
//! use pktscript::filter;
//! let prog = filter::compile("tcp port 80").unwrap();
//! let pkt = [0u8; 60];
//! assert_eq!(filter::run(&prog, &pkt, 60), 0);
//! // The same expression for a `tcpdump -i any` capture (Linux cooked, 113).
//! let sll = filter::compile_for("tcp port 80", 113).unwrap();
//! assert_ne!(sll, prog);
//! ```
//!
//! Programs are compiled per link type, as libpcap does ([`compile_for`];
//! [`compile`] is Ethernet): Ethernet (1), Linux cooked captures SLL (113)
//! and SLL2 (276), and raw IP (101; 228 IPv4 only; 229 IPv6 only). Where a
//! link type keeps its EtherType, its payload and its MAC addresses comes
//! from the layer files ([`crate::layers::link_layout`]); a link without an
//! EtherType (raw IP) tells IPv4 from IPv6 by the version nibble, and a
//! link type that carries one network protocol only makes `ip` (or `ip6`)
//! always true and the others always false. As with libpcap, an expression
//! a link type cannot answer is an error naming the link type: `ether
//! host|src|dst` needs a link with Ethernet destination and source
//! addresses (not SLL, SLL2 or raw IP), `broadcast` and `multicast` a
//! link-layer destination, `vlan` a link with Ethernet addresses and an
//! EtherType right before the payload (Ethernet only); and an expression
//! that no packet of the link type can match (`ip6` on raw IPv4, `arp` on
//! raw IP) is refused with "expression rejects all packets", as tcpdump
//! refuses it. [`Filter`] compiles an expression once per link type met.
//!
//! Supported: `ip ip6 arp rarp tcp udp icmp sctp icmp6 igmp igrp pim vrrp ah
//! esp`, `[proto] [src|dst] host|net|port|portrange ID` (IPv4, IPv6 and
//! Ethernet addresses; `net N/len`, `net N mask M`), `ether [src|dst] host
//! MAC`, `[ether] broadcast`, `[ether|ip|ip6] multicast`, `ip broadcast`,
//! `[ip|ip6|ether] proto N`, `greater N`, `less N`, `vlan [N]`, relations
//! between arithmetic expressions with `proto[off:size]` loads, `len` and
//! named constants (`tcpflags`, `tcp-syn`, `icmptype`, `icmp-echo`, ...),
//! `and or not && || !` and parentheses. Host names are not resolved;
//! service names (`port http`) are looked up in /etc/services. Parentheses,
//! `not` and unary minus nest at most [`parser::MAX_NESTING`] deep, and an
//! expression has at most [`parser::MAX_TOKENS`] tokens.

pub mod bpf;
pub mod codegen;
pub mod lexer;
pub mod parser;

pub use bpf::{Insn, dump, run, to_sock_filters};
pub use parser::Expr;

use crate::layers::LinkLayout;
use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

/// A filter expression that cannot be compiled; `offset`/`len` locate the
/// offending token in the source (in bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterError {
    pub message: String,
    pub offset: usize,
    pub len: usize,
    /// What would have been accepted at `offset` (may be empty).
    pub expected: Vec<String>,
    /// The expression is valid but no frame of the link type can match it
    /// (tcpdump's "expression rejects all packets").
    rejects_all: bool,
}

impl FilterError {
    pub fn new(message: String, offset: usize, len: usize, expected: Vec<String>) -> Self {
        FilterError {
            message,
            offset,
            len,
            expected,
            rejects_all: false,
        }
    }

    /// The error of an expression that no frame of the link type can
    /// match: tcpdump refuses to run it; a test of one packet is just false.
    pub fn rejects_all_packets(&self) -> bool {
        self.rejects_all
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

/// What the compiler knows of a link type, all of it from the layer files:
/// where its header keeps the EtherType, the payload and the MAC addresses,
/// and, for a link without an EtherType, which network layers it carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub linktype: u32,
    pub layout: LinkLayout,
    /// The EtherTypes of the network protocols bound to the link type (for
    /// raw IP: IPv4's 0x800 and/or IPv6's 0x86dd).
    pub carries: Vec<u32>,
}

impl Link {
    /// The link of a pcap link type, or None when no layer file knows it.
    pub fn of(linktype: u32) -> Option<Link> {
        use crate::layers::{REGISTRY, Space};
        let layout = crate::layers::link_layout(linktype)?;
        let mut carries = Vec::new();
        for p in REGISTRY
            .iter()
            .filter(|p| p.bound_to(Space::LinkType, linktype as u64))
        {
            for b in p.bindings.iter().filter(|b| b.space == Space::EtherType) {
                if let Ok(t) = u32::try_from(b.value)
                    && !carries.contains(&t)
                {
                    carries.push(t);
                }
            }
        }
        Some(Link {
            linktype,
            layout,
            carries,
        })
    }

    /// The link type for messages: `LINUX_SLL (113)`.
    pub fn name(&self) -> String {
        link_name(self.linktype)
    }

    /// Whether the link header has Ethernet destination and source
    /// addresses (libpcap allows `ether host` only on such links).
    pub fn has_mac_addrs(&self) -> bool {
        self.layout.dst_mac_at.is_some() && self.layout.src_mac_at.is_some()
    }

    /// Whether frames may carry VLAN tags inline: Ethernet addresses and an
    /// EtherType right before the payload, where a tag would sit.
    pub fn has_vlan_tags(&self) -> bool {
        self.has_mac_addrs()
            && self
                .layout
                .ethertype_at
                .is_some_and(|at| at + 2 == self.layout.net_at)
    }
}

/// A link type for messages: its usual name and number, `LINUX_SLL (113)`.
pub fn link_name(linktype: u32) -> String {
    match crate::pcap::linktype_name(linktype) {
        "" => format!("{linktype}"),
        name => format!("{name} ({linktype})"),
    }
}

/// Parses and compiles a filter expression to classic BPF for Ethernet.
pub fn compile(src: &str) -> Result<Vec<Insn>, FilterError> {
    compile_for(src, crate::packet::LINKTYPE_ETHERNET)
}

/// Parses and compiles a filter expression to classic BPF for frames of a
/// pcap link type, as `tcpdump -y TYPE` compiles it. Errors name the link
/// type when the expression does not apply to it.
pub fn compile_for(src: &str, linktype: u32) -> Result<Vec<Insn>, FilterError> {
    let link = Link::of(linktype).ok_or_else(|| {
        FilterError::new(
            format!(
                "filters cannot be compiled for link type {}: no layer knows its header",
                link_name(linktype)
            ),
            0,
            src.len(),
            vec![],
        )
    })?;
    let e = parser::parse_for(src, &link)?;
    codegen::generate_for(e.as_ref(), &link).map_err(|mut e| {
        if e.len == 0 && e.offset == 0 {
            e.len = src.len();
        }
        e
    })
}

/// A program for one link type, or why there is none.
type Compiled = Result<Rc<Vec<Insn>>, FilterError>;

/// A filter expression with its programs, compiled on demand once per link
/// type met (a pcapng file may mix link types).
#[derive(Debug)]
pub struct Filter {
    src: String,
    progs: RefCell<Vec<(u32, Compiled)>>,
}

impl Filter {
    /// Checks `src` by compiling it for Ethernet (syntax errors and errors
    /// of every link type show here); other link types compile when met.
    pub fn new(src: &str) -> Result<Filter, FilterError> {
        let eth = compile(src)?;
        Ok(Filter {
            src: src.to_string(),
            progs: RefCell::new(vec![(crate::packet::LINKTYPE_ETHERNET, Ok(Rc::new(eth)))]),
        })
    }

    /// The expression.
    pub fn source(&self) -> &str {
        &self.src
    }

    /// The program for frames of `linktype`.
    pub fn program(&self, linktype: u32) -> Result<Rc<Vec<Insn>>, FilterError> {
        if let Some((_, r)) = self.progs.borrow().iter().find(|(l, _)| *l == linktype) {
            return r.clone();
        }
        let r = compile_for(&self.src, linktype).map(Rc::new);
        self.progs.borrow_mut().push((linktype, r.clone()));
        r
    }

    /// Whether the filter accepts a frame of `linktype` (`wire` is its
    /// length on the wire), or why the expression cannot apply to it.
    pub fn selects(&self, data: &[u8], wire: u32, linktype: u32) -> Result<bool, FilterError> {
        Ok(run(&self.program(linktype)?, data, wire) != 0)
    }
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
