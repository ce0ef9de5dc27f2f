//! Parser for pcap-filter expressions (the subset described in [`super`]).
//!
//! Precedence as in libpcap: `not` binds tightest, `and` and `or` have the
//! same precedence and associate to the left. Arithmetic: `|` lowest, then
//! `&`, then `<<` `>>`, then `+` `-`, then `*` `/` `%`, then unary `-`.

use super::lexer::{Tok, Token, lex};
use super::{FilterError, Link};

/// How deep parentheses, `not` and unary minus may nest.
pub const MAX_NESTING: usize = 64;

/// How many tokens an expression may have.
pub const MAX_TOKENS: usize = 10_000;

/// A protocol qualifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Ether,
    Ip,
    Ip6,
    Arp,
    Rarp,
    Tcp,
    Udp,
    Icmp,
    Sctp,
    Icmp6,
    Igmp,
    Igrp,
    Pim,
    Vrrp,
    Ah,
    Esp,
}

impl Proto {
    fn from_word(w: &str) -> Option<Proto> {
        Some(match w {
            "ether" | "link" => Proto::Ether,
            "ip" => Proto::Ip,
            "ip6" => Proto::Ip6,
            "arp" => Proto::Arp,
            "rarp" => Proto::Rarp,
            "tcp" => Proto::Tcp,
            "udp" => Proto::Udp,
            "icmp" => Proto::Icmp,
            "sctp" => Proto::Sctp,
            "icmp6" => Proto::Icmp6,
            "igmp" => Proto::Igmp,
            "igrp" => Proto::Igrp,
            "pim" => Proto::Pim,
            "vrrp" => Proto::Vrrp,
            "ah" => Proto::Ah,
            "esp" => Proto::Esp,
            _ => return None,
        })
    }

    /// IP protocol number of a transport protocol.
    pub fn ip_proto(self) -> Option<u32> {
        match self {
            Proto::Tcp => Some(6),
            Proto::Udp => Some(17),
            Proto::Icmp => Some(1),
            Proto::Sctp => Some(132),
            Proto::Icmp6 => Some(58),
            Proto::Igmp => Some(2),
            Proto::Igrp => Some(9),
            Proto::Pim => Some(103),
            Proto::Vrrp => Some(112),
            Proto::Ah => Some(51),
            Proto::Esp => Some(50),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Proto::Ether => "ether",
            Proto::Ip => "ip",
            Proto::Ip6 => "ip6",
            Proto::Arp => "arp",
            Proto::Rarp => "rarp",
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Icmp => "icmp",
            Proto::Sctp => "sctp",
            Proto::Icmp6 => "icmp6",
            Proto::Igmp => "igmp",
            Proto::Igrp => "igrp",
            Proto::Pim => "pim",
            Proto::Vrrp => "vrrp",
            Proto::Ah => "ah",
            Proto::Esp => "esp",
        }
    }
}

/// A direction qualifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    Src,
    Dst,
    /// `src or dst` (the default).
    SrcOrDst,
    /// `src and dst`.
    SrcAndDst,
}

/// A type qualifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Type {
    Host,
    Net,
    Port,
    Portrange,
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

/// An arithmetic operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    And,
    Or,
    Xor,
    Lsh,
    Rsh,
}

/// An arithmetic expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arith {
    Num(u32),
    /// `len`: the length of the packet on the wire.
    Len,
    /// `proto[idx : size]`; `off` is the length of the VLAN tags before it
    /// (4 for every `vlan` before it), which shifts the network layer.
    Load {
        proto: Proto,
        idx: Box<Arith>,
        size: u32,
        off: u32,
    },
    Bin(ArOp, Box<Arith>, Box<Arith>),
    Neg(Box<Arith>),
}

/// A primitive. `off` is the length of the VLAN tags before it (4 for every
/// `vlan` before it): the link's EtherType and network layer are that much
/// further on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prim {
    /// `ether`/`ip`/`ip6`/`arp`/`rarp`/`tcp`/`udp`/`icmp`/`sctp` alone.
    Proto { proto: Proto, off: u32 },
    /// `ether proto N`.
    EtherProto { ty: u32, off: u32 },
    /// `[ip|ip6] proto N`; `ver` None means IPv4 or IPv6.
    IpProto {
        ver: Option<Proto>,
        num: u32,
        off: u32,
    },
    /// `[ip|arp|rarp] [dir] host|net`: an IPv4 address under a mask.
    Net {
        proto: Option<Proto>,
        dir: Dir,
        addr: u32,
        mask: u32,
        off: u32,
    },
    /// `[ip6] [dir] host|net`: an IPv6 address under a mask.
    Net6 {
        dir: Dir,
        addr: [u8; 16],
        mask: [u8; 16],
        off: u32,
    },
    /// `ether [dir] host MAC`.
    EtherHost { dir: Dir, mac: [u8; 6] },
    /// `[proto] [dir] port|portrange`.
    Port {
        proto: Option<Proto>,
        dir: Dir,
        lo: u32,
        hi: u32,
        off: u32,
    },
    /// `[ether] broadcast`.
    EtherBroadcast,
    /// `[ether] multicast`.
    EtherMulticast,
    /// `ip broadcast`, with a netmask of 0 as tcpdump uses when reading a
    /// file: destination 0.0.0.0 or 255.255.255.255.
    IpBroadcast { off: u32 },
    /// `ip multicast` / `ip6 multicast`.
    IpMulticast { v6: bool, off: u32 },
    /// `vlan [N]`; the type field checked is at `off`.
    Vlan { id: Option<u32>, off: u32 },
}

/// A filter expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Prim(Prim),
    Rel(RelOp, Arith, Arith),
}

#[derive(Clone, Copy, Debug, Default)]
struct Quals {
    proto: Option<Proto>,
    dir: Option<Dir>,
    typ: Option<Type>,
}

const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "not",
    "ether",
    "link",
    "ip",
    "ip6",
    "arp",
    "rarp",
    "tcp",
    "udp",
    "icmp",
    "sctp",
    "icmp6",
    "igmp",
    "igrp",
    "pim",
    "vrrp",
    "ah",
    "esp",
    "src",
    "dst",
    "host",
    "net",
    "mask",
    "port",
    "portrange",
    "proto",
    "broadcast",
    "multicast",
    "greater",
    "less",
    "len",
    "vlan",
];

/// Named constants usable in arithmetic.
fn named_const(w: &str) -> Option<u32> {
    Some(match w {
        "icmptype" => 0,
        "icmpcode" => 1,
        "icmp-echoreply" => 0,
        "icmp-unreach" => 3,
        "icmp-sourcequench" => 4,
        "icmp-redirect" => 5,
        "icmp-echo" => 8,
        "icmp-routeradvert" => 9,
        "icmp-routersolicit" => 10,
        "icmp-timxceed" => 11,
        "icmp-paramprob" => 12,
        "icmp-tstamp" => 13,
        "icmp-tstampreply" => 14,
        "icmp-ireq" => 15,
        "icmp-ireqreply" => 16,
        "icmp-maskreq" => 17,
        "icmp-maskreply" => 18,
        "icmp6type" => 0,
        "icmp6code" => 1,
        "icmp6-echo" => 128,
        "icmp6-echoreply" => 129,
        "tcpflags" => 13,
        "tcp-fin" => 0x01,
        "tcp-syn" => 0x02,
        "tcp-rst" => 0x04,
        "tcp-push" => 0x08,
        "tcp-ack" => 0x10,
        "tcp-urg" => 0x20,
        "tcp-ece" => 0x40,
        "tcp-cwr" => 0x80,
        _ => return None,
    })
}

fn ip_proto_name(w: &str) -> Option<u32> {
    Some(match w {
        "icmp" => 1,
        "igmp" => 2,
        "tcp" => 6,
        "udp" => 17,
        "sctp" => 132,
        "pim" => 103,
        _ => return None,
    })
}

struct Parser<'a> {
    toks: Vec<Token>,
    pos: usize,
    /// Length of the VLAN tags seen; grows by 4 after each `vlan`.
    off: u32,
    /// Qualifiers of the last primitive with an id, for `host a or b`.
    last: Option<Quals>,
    /// Current nesting of parentheses, `not` and unary minus.
    depth: usize,
    /// The link type the expression is for.
    link: &'a Link,
}

/// Parses a filter expression for Ethernet. An empty (all blank) expression
/// yields `None` (it matches every packet).
pub fn parse(src: &str) -> Result<Option<Expr>, FilterError> {
    let link = Link::of(crate::packet::LINKTYPE_ETHERNET)
        .ok_or_else(|| FilterError::new("no layer knows Ethernet".into(), 0, 0, vec![]))?;
    parse_for(src, &link)
}

/// Parses a filter expression for frames of `link`: primitives the link
/// cannot answer (`ether host` without Ethernet addresses, `vlan` where
/// tags cannot be) are errors that name the link type.
pub fn parse_for(src: &str, link: &Link) -> Result<Option<Expr>, FilterError> {
    let toks = lex(src)?;
    if toks.len() > MAX_TOKENS {
        let t = &toks[MAX_TOKENS];
        return Err(FilterError::new(
            format!("expression too long (more than {MAX_TOKENS} tokens)"),
            t.offset,
            t.len,
            vec![],
        ));
    }
    let mut p = Parser {
        toks,
        pos: 0,
        off: 0,
        last: None,
        depth: 0,
        link,
    };
    if p.peek() == &Tok::Eof {
        return Ok(None);
    }
    let e = p.expr()?;
    if p.peek() != &Tok::Eof {
        return Err(p.err("unexpected token", &["and", "or", "end of expression"]));
    }
    Ok(Some(e))
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].tok
    }

    fn peek_at(&self, n: usize) -> &Tok {
        let i = (self.pos + n).min(self.toks.len() - 1);
        &self.toks[i].tok
    }

    fn bump(&mut self) -> Tok {
        let t = self.toks[self.pos].tok.clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn err(&self, msg: &str, expected: &[&str]) -> FilterError {
        let t = &self.toks[self.pos];
        let what = if t.tok == Tok::Eof {
            "end of expression"
        } else {
            ""
        };
        let message = if what.is_empty() {
            msg.to_string()
        } else {
            format!("{msg}: {what}")
        };
        FilterError::new(
            message,
            t.offset,
            t.len,
            expected.iter().map(|s| s.to_string()).collect(),
        )
    }

    /// Enters one level of nesting, or fails past [`MAX_NESTING`].
    fn nest(&mut self) -> Result<(), FilterError> {
        if self.depth >= MAX_NESTING {
            return Err(self.err(
                &format!("expression nested too deeply (more than {MAX_NESTING} levels)"),
                &[],
            ));
        }
        self.depth += 1;
        Ok(())
    }

    /// An error for a primitive the link type cannot answer.
    fn link_err(&self, at: usize, what: &str, why: &str) -> FilterError {
        let t = &self.toks[at.min(self.toks.len() - 1)];
        FilterError::new(
            format!(
                "{what} not supported on link type {}: {why}",
                self.link.name()
            ),
            t.offset,
            t.len,
            vec![],
        )
    }

    /// `broadcast` and `multicast` test the link-layer destination.
    fn check_link_dst(&self, at: usize, what: &str) -> Result<(), FilterError> {
        if self.link.layout.dst_mac_at.is_some() {
            return Ok(());
        }
        Err(self.link_err(
            at,
            &format!("'{what}' is"),
            "its header has no link-layer destination address",
        ))
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Tok::Word(x) if x == w)
    }

    fn is_punct(&self, p: &str) -> bool {
        matches!(self.peek(), Tok::Punct(x) if *x == p)
    }

    fn eat_word(&mut self, w: &str) -> bool {
        if self.is_word(w) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        if self.is_punct(p) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect_punct(&mut self, p: &'static str) -> Result<(), FilterError> {
        if self.eat_punct(p) {
            Ok(())
        } else {
            Err(self.err(&format!("expected '{p}'"), &[p]))
        }
    }

    fn is_and(&self) -> bool {
        self.is_word("and") || self.is_punct("&&")
    }

    fn is_or(&self) -> bool {
        self.is_word("or") || self.is_punct("||")
    }

    fn is_not(&self) -> bool {
        self.is_word("not") || self.is_punct("!")
    }

    fn expr(&mut self) -> Result<Expr, FilterError> {
        let mut e = self.term()?;
        loop {
            if self.is_and() {
                self.bump();
                let r = self.term()?;
                e = Expr::And(Box::new(e), Box::new(r));
            } else if self.is_or() {
                self.bump();
                let r = self.term()?;
                e = Expr::Or(Box::new(e), Box::new(r));
            } else {
                return Ok(e);
            }
        }
    }

    /// Whether the next token is a bare id that inherits the last qualifiers.
    fn is_bare_id(&self) -> bool {
        let id = match self.peek() {
            Tok::Num(_) | Tok::Ip(_) | Tok::Ip6(_) | Tok::Mac(_) => true,
            Tok::Word(w) => !KEYWORDS.contains(&w.as_str()) && named_const(w).is_none(),
            _ => false,
        };
        let next_is_op = matches!(self.peek_at(1), Tok::Punct(p)
            if !matches!(*p, "(" | ")" | "&&" | "||" | "!" | "/"));
        id && !next_is_op && self.last.is_some()
    }

    fn term(&mut self) -> Result<Expr, FilterError> {
        self.nest()?;
        let e = self.term_inner();
        self.depth -= 1;
        e
    }

    fn term_inner(&mut self) -> Result<Expr, FilterError> {
        if self.is_not() {
            self.bump();
            let e = self.term()?;
            return Ok(Expr::Not(Box::new(e)));
        }
        if self.is_bare_id() {
            let q = self.last.unwrap_or_default();
            return self.id_with(q);
        }
        if self.is_punct("(") {
            // Either an arithmetic relation or a parenthesised expression.
            let save = (self.pos, self.depth);
            if let Ok(r) = self.relation() {
                return Ok(r);
            }
            (self.pos, self.depth) = save;
            self.bump();
            let e = self.expr()?;
            self.expect_punct(")")?;
            return Ok(e);
        }
        let tok = self.peek().clone();
        match tok {
            Tok::Num(_) | Tok::Punct("-") => self.relation(),
            Tok::Ip(_) | Tok::Ip6(_) | Tok::Mac(_) => Err(self.err(
                "an address needs a qualifier",
                &["host", "net", "src", "dst", "ether host"],
            )),
            Tok::Word(w) => {
                if named_const(&w).is_some() || w == "len" {
                    return self.relation();
                }
                if let Some(p) = Proto::from_word(&w) {
                    if matches!(self.peek_at(1), Tok::Punct("[")) {
                        return self.relation();
                    }
                    self.bump();
                    return self.after_proto(p);
                }
                match w.as_str() {
                    "src" | "dst" | "host" | "net" | "port" | "portrange" => {
                        self.qualified(Quals::default())
                    }
                    "proto" => {
                        self.bump();
                        self.proto_num(None)
                    }
                    "broadcast" => {
                        self.check_link_dst(self.pos, "broadcast")?;
                        self.bump();
                        Ok(Expr::Prim(Prim::EtherBroadcast))
                    }
                    "multicast" => {
                        self.check_link_dst(self.pos, "multicast")?;
                        self.bump();
                        Ok(Expr::Prim(Prim::EtherMulticast))
                    }
                    "greater" | "less" => {
                        self.bump();
                        let n = match self.bump() {
                            Tok::Num(n) => n,
                            _ => {
                                self.pos -= 1;
                                return Err(self.err("expected a number", &["number"]));
                            }
                        };
                        let op = if w == "greater" { RelOp::Ge } else { RelOp::Le };
                        Ok(Expr::Rel(op, Arith::Len, Arith::Num(n)))
                    }
                    "vlan" => {
                        if !self.link.has_vlan_tags() {
                            return Err(self.link_err(
                                self.pos,
                                "'vlan' is",
                                "802.1Q tags are matched only on links with Ethernet \
                                 addresses and an EtherType before the payload",
                            ));
                        }
                        self.bump();
                        let id = if let Tok::Num(n) = self.peek() {
                            let n = *n;
                            if n > 4095 {
                                return Err(self.err("VLAN tag out of range", &["0..4095"]));
                            }
                            self.bump();
                            Some(n)
                        } else {
                            None
                        };
                        let off = self.off;
                        self.off += 4;
                        Ok(Expr::Prim(Prim::Vlan { id, off }))
                    }
                    _ => Err(self.err(&format!("unknown keyword or name '{w}'"), &["primitive"])),
                }
            }
            _ => Err(self.err(
                "expected a primitive",
                &["primitive", "(", "not", "arithmetic expression"],
            )),
        }
    }

    /// After a protocol keyword (not followed by `[`).
    fn after_proto(&mut self, p: Proto) -> Result<Expr, FilterError> {
        let off = self.off;
        if self.eat_word("proto") {
            return self.proto_num(Some(p));
        }
        if self.is_word("broadcast") && matches!(p, Proto::Ether | Proto::Ip) {
            if p == Proto::Ether {
                self.check_link_dst(self.pos, "broadcast")?;
            }
            self.bump();
            return Ok(Expr::Prim(if p == Proto::Ip {
                Prim::IpBroadcast { off }
            } else {
                Prim::EtherBroadcast
            }));
        }
        if self.is_word("multicast") {
            if p == Proto::Ether {
                self.check_link_dst(self.pos, "multicast")?;
            }
            let prim = match p {
                Proto::Ether => Prim::EtherMulticast,
                Proto::Ip => Prim::IpMulticast { v6: false, off },
                Proto::Ip6 => Prim::IpMulticast { v6: true, off },
                _ => return Err(self.err("'multicast' needs ether, ip or ip6", &[])),
            };
            self.bump();
            return Ok(Expr::Prim(prim));
        }
        let qualified = match self.peek() {
            Tok::Word(w) => matches!(
                w.as_str(),
                "src" | "dst" | "host" | "net" | "port" | "portrange"
            ),
            Tok::Ip(_) | Tok::Ip6(_) | Tok::Mac(_) => true,
            _ => false,
        };
        if qualified {
            return self.qualified(Quals {
                proto: Some(p),
                ..Quals::default()
            });
        }
        if p == Proto::Ether {
            // As libpcap: the link layer alone is no test.
            self.pos -= 1;
            return Err(self.err(
                "link layer applied in wrong context",
                &[
                    "ether host",
                    "ether proto",
                    "ether[offset]",
                    "ether broadcast",
                ],
            ));
        }
        Ok(Expr::Prim(Prim::Proto { proto: p, off }))
    }

    fn proto_num(&mut self, ver: Option<Proto>) -> Result<Expr, FilterError> {
        let off = self.off;
        let escaped = self.eat_punct("\\");
        let num = match self.peek().clone() {
            Tok::Num(n) => n,
            Tok::Word(_) if !escaped => {
                return Err(self.err(
                    "a protocol name after 'proto' needs a backslash",
                    &["number", "\\name"],
                ));
            }
            Tok::Word(w) if ver != Some(Proto::Ether) && ip_proto_name(&w).is_some() => {
                ip_proto_name(&w).unwrap_or(0)
            }
            Tok::Word(w) if ver == Some(Proto::Ether) => match w.as_str() {
                "ip" => 0x800,
                "ip6" => 0x86dd,
                "arp" => 0x806,
                "rarp" => 0x8035,
                _ => return Err(self.err("unknown ether protocol", &["number"])),
            },
            _ => return Err(self.err("expected a protocol number or name", &["number"])),
        };
        self.bump();
        match ver {
            Some(Proto::Ether) => {
                if num <= 1500 {
                    return Err(self.err("ether proto values up to 1500 are not supported", &[]));
                }
                Ok(Expr::Prim(Prim::EtherProto { ty: num, off }))
            }
            None | Some(Proto::Ip) | Some(Proto::Ip6) => {
                Ok(Expr::Prim(Prim::IpProto { ver, num, off }))
            }
            Some(p) => Err(self.err(&format!("'proto' is not valid after '{}'", p.name()), &[])),
        }
    }

    /// `[dir] [type] id` with the given protocol already read.
    fn qualified(&mut self, mut q: Quals) -> Result<Expr, FilterError> {
        if self.eat_word("src") {
            q.dir = Some(Dir::Src);
            if self.is_word("or") || self.is_word("and") {
                let and = self.is_word("and");
                if matches!(self.peek_at(1), Tok::Word(w) if w == "dst") {
                    self.bump();
                    self.bump();
                    q.dir = Some(if and { Dir::SrcAndDst } else { Dir::SrcOrDst });
                }
            }
        } else if self.eat_word("dst") {
            q.dir = Some(Dir::Dst);
            if self.is_word("or") || self.is_word("and") {
                let and = self.is_word("and");
                if matches!(self.peek_at(1), Tok::Word(w) if w == "src") {
                    self.bump();
                    self.bump();
                    q.dir = Some(if and { Dir::SrcAndDst } else { Dir::SrcOrDst });
                }
            }
        }
        let typ = match self.peek() {
            Tok::Word(w) => match w.as_str() {
                "host" => Some(Type::Host),
                "net" => Some(Type::Net),
                "port" => Some(Type::Port),
                "portrange" => Some(Type::Portrange),
                _ => None,
            },
            _ => None,
        };
        if typ.is_some() {
            self.bump();
            q.typ = typ;
        }
        self.id_with(q)
    }

    /// Reads an id and builds the primitive for qualifiers `q`.
    fn id_with(&mut self, q: Quals) -> Result<Expr, FilterError> {
        let off = self.off;
        let dir = q.dir.unwrap_or(Dir::SrcOrDst);
        let start = self.pos;
        let tok = self.peek().clone();
        let prim = match (q.typ, tok) {
            (Some(Type::Host) | None, Tok::Mac(mac)) => {
                if !matches!(q.proto, None | Some(Proto::Ether)) {
                    return Err(self.err("an Ethernet address needs 'ether'", &[]));
                }
                if !self.link.has_mac_addrs() {
                    let why = match self.link.layout {
                        l if l.dst_mac_at.is_none() && l.src_mac_at.is_none() => {
                            "its header has no link-layer addresses"
                        }
                        l if l.dst_mac_at.is_none() => {
                            "its header has no destination address (libpcap allows \
                             neither 'ether src' nor 'ether dst' without both)"
                        }
                        _ => {
                            "its header has no source address (libpcap allows neither \
                             'ether src' nor 'ether dst' without both)"
                        }
                    };
                    return Err(self.link_err(self.pos, "Ethernet addresses are", why));
                }
                self.bump();
                Prim::EtherHost { dir, mac }
            }
            (Some(Type::Host) | None, Tok::Ip(oct)) => {
                if oct.len() != 4 {
                    return Err(self.err("a host address needs four octets", &["a.b.c.d"]));
                }
                self.check_ip_proto(q.proto, "host")?;
                self.bump();
                Prim::Net {
                    proto: q.proto,
                    dir,
                    addr: u32::from_be_bytes([oct[0], oct[1], oct[2], oct[3]]),
                    mask: u32::MAX,
                    off,
                }
            }
            (Some(Type::Host | Type::Net) | None, Tok::Ip6(addr)) => {
                if !matches!(q.proto, None | Some(Proto::Ip6)) {
                    return Err(self.err("an IPv6 address needs 'ip6' or no protocol", &[]));
                }
                self.bump();
                let mut bits = 128u32;
                if q.typ == Some(Type::Net) && self.eat_punct("/") {
                    match self.peek() {
                        Tok::Num(n) if *n <= 128 => {
                            bits = *n;
                            self.bump();
                        }
                        _ => return Err(self.err("expected a prefix length", &["0..128"])),
                    }
                }
                let m = if bits == 0 {
                    0
                } else {
                    u128::MAX << (128 - bits)
                };
                if u128::from_be_bytes(addr) & !m != 0 {
                    self.pos = start;
                    return Err(self.err("non-network bits set in network address", &[]));
                }
                Prim::Net6 {
                    dir,
                    addr,
                    mask: m.to_be_bytes(),
                    off,
                }
            }
            (Some(Type::Net), t @ (Tok::Ip(_) | Tok::Num(_))) => {
                self.check_ip_proto(q.proto, "net")?;
                self.bump();
                let dotted = matches!(t, Tok::Ip(_));
                let (addr, mut mask) = match t {
                    Tok::Ip(oct) => {
                        let mut a = [0u8; 4];
                        a[..oct.len()].copy_from_slice(&oct);
                        let mask = if oct.len() == 4 {
                            u32::MAX
                        } else {
                            u32::MAX << (32 - 8 * oct.len() as u32)
                        };
                        (u32::from_be_bytes(a), mask)
                    }
                    Tok::Num(mut v) => {
                        // As libpcap: shift a plain number up to the top byte.
                        let mut mask = u32::MAX;
                        while v != 0 && v & 0xff00_0000 == 0 {
                            v <<= 8;
                            mask <<= 8;
                        }
                        (v, mask)
                    }
                    _ => (0, u32::MAX),
                };
                if dotted && self.eat_punct("/") {
                    match self.peek() {
                        Tok::Num(n) if *n <= 32 => {
                            mask = if *n == 0 { 0 } else { u32::MAX << (32 - n) };
                            self.bump();
                        }
                        _ => return Err(self.err("expected a prefix length", &["0..32"])),
                    }
                } else if dotted && self.eat_word("mask") {
                    match self.peek().clone() {
                        Tok::Ip(m) if m.len() == 4 => {
                            mask = u32::from_be_bytes([m[0], m[1], m[2], m[3]]);
                            self.bump();
                        }
                        _ => return Err(self.err("expected a netmask", &["a.b.c.d"])),
                    }
                }
                if addr & !mask != 0 {
                    self.pos = start;
                    return Err(self.err("non-network bits set in network address", &[]));
                }
                Prim::Net {
                    proto: q.proto,
                    dir,
                    addr,
                    mask,
                    off,
                }
            }
            // A single number is a port, and a one-port range.
            (Some(Type::Port | Type::Portrange), Tok::Num(n)) => {
                self.check_port_proto(q.proto)?;
                if n > 65535 {
                    return Err(self.err("port out of range", &["0..65535"]));
                }
                self.bump();
                Prim::Port {
                    proto: q.proto,
                    dir,
                    lo: n,
                    hi: n,
                    off,
                }
            }
            (Some(Type::Port), Tok::Word(w)) if service_port(&w).is_some() => {
                self.check_port_proto(q.proto)?;
                let (n, tcp, udp) = service_port(&w).unwrap_or((0, true, true));
                // As libpcap: a service known for one protocol only means that protocol.
                let proto = match (q.proto, tcp, udp) {
                    (None, true, false) => Some(Proto::Tcp),
                    (None, false, true) => Some(Proto::Udp),
                    (p, _, _) => p,
                };
                self.bump();
                Prim::Port {
                    proto,
                    dir,
                    lo: n,
                    hi: n,
                    off,
                }
            }
            (Some(Type::Portrange), Tok::Word(w)) => {
                self.check_port_proto(q.proto)?;
                let range = w.split_once('-').and_then(|(a, b)| {
                    let a: u32 = a.parse().ok()?;
                    let b: u32 = b.parse().ok()?;
                    (a <= 65535 && b <= 65535).then_some((a.min(b), a.max(b)))
                });
                let Some((lo, hi)) = range else {
                    return Err(self.err("expected a port range", &["N-M"]));
                };
                self.bump();
                Prim::Port {
                    proto: q.proto,
                    dir,
                    lo,
                    hi,
                    off,
                }
            }
            (_, Tok::Word(w)) if !KEYWORDS.contains(&w.as_str()) => {
                return Err(self.err(
                    &format!("name '{w}' cannot be resolved (names are not supported)"),
                    &["address", "number"],
                ));
            }
            _ => {
                let expected: &[&str] = match q.typ {
                    Some(Type::Host) => &["IPv4 address", "Ethernet address"],
                    Some(Type::Net) => &["IPv4 network"],
                    Some(Type::Port) => &["port number"],
                    Some(Type::Portrange) => &["port range"],
                    None => &["host", "net", "port", "portrange", "address"],
                };
                return Err(self.err("expected an id", expected));
            }
        };
        self.last = Some(q);
        Ok(Expr::Prim(prim))
    }

    fn check_ip_proto(&self, p: Option<Proto>, what: &str) -> Result<(), FilterError> {
        match p {
            None | Some(Proto::Ip) | Some(Proto::Arp) | Some(Proto::Rarp) => Ok(()),
            Some(p) => Err(self.err(
                &format!("'{}' modifier applied to IPv4 {what}", p.name()),
                &[],
            )),
        }
    }

    fn check_port_proto(&self, p: Option<Proto>) -> Result<(), FilterError> {
        match p {
            None | Some(Proto::Tcp) | Some(Proto::Udp) | Some(Proto::Sctp) => Ok(()),
            Some(p) => Err(self.err(&format!("illegal qualifier '{}' of 'port'", p.name()), &[])),
        }
    }

    fn relop(&mut self) -> Option<RelOp> {
        let op = match self.peek() {
            Tok::Punct("=") | Tok::Punct("==") => RelOp::Eq,
            Tok::Punct("!=") => RelOp::Ne,
            Tok::Punct(">") => RelOp::Gt,
            Tok::Punct(">=") => RelOp::Ge,
            Tok::Punct("<") => RelOp::Lt,
            Tok::Punct("<=") => RelOp::Le,
            _ => return None,
        };
        self.bump();
        Some(op)
    }

    fn relation(&mut self) -> Result<Expr, FilterError> {
        let l = self.arith()?;
        let Some(op) = self.relop() else {
            return Err(self.err("expected a comparison", &["=", "!=", "<", "<=", ">", ">="]));
        };
        let r = self.arith()?;
        Ok(Expr::Rel(op, l, r))
    }

    fn arith(&mut self) -> Result<Arith, FilterError> {
        self.arith_level(0)
    }

    fn arith_level(&mut self, level: usize) -> Result<Arith, FilterError> {
        const LEVELS: [&[(&str, ArOp)]; 5] = [
            &[("|", ArOp::Or), ("^", ArOp::Xor)],
            &[("&", ArOp::And)],
            &[("<<", ArOp::Lsh), (">>", ArOp::Rsh)],
            &[("+", ArOp::Add), ("-", ArOp::Sub)],
            &[("*", ArOp::Mul), ("/", ArOp::Div), ("%", ArOp::Mod)],
        ];
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut e = self.arith_level(level + 1)?;
        'outer: loop {
            for (p, op) in LEVELS[level] {
                if self.is_punct(p) {
                    self.bump();
                    let at = self.pos;
                    let r = self.arith_level(level + 1)?;
                    if matches!(op, ArOp::Div | ArOp::Mod) && r == Arith::Num(0) {
                        self.pos = at;
                        return Err(self.err(
                            if *op == ArOp::Div {
                                "division by zero"
                            } else {
                                "modulus by zero"
                            },
                            &[],
                        ));
                    }
                    // As libpcap: the kernel refuses a constant shift of 32
                    // or more (found by fuzz/fuzz_targets/bpf.rs).
                    if matches!(op, ArOp::Lsh | ArOp::Rsh) && matches!(r, Arith::Num(k) if k > 31) {
                        self.pos = at;
                        return Err(self.err("shift by more than 31 bits", &[]));
                    }
                    e = Arith::Bin(*op, Box::new(e), Box::new(r));
                    continue 'outer;
                }
            }
            return Ok(e);
        }
    }

    fn unary(&mut self) -> Result<Arith, FilterError> {
        self.nest()?;
        let e = self.unary_inner();
        self.depth -= 1;
        e
    }

    fn unary_inner(&mut self) -> Result<Arith, FilterError> {
        if self.eat_punct("-") {
            let e = self.unary()?;
            return Ok(Arith::Neg(Box::new(e)));
        }
        match self.peek().clone() {
            Tok::Num(n) => {
                self.bump();
                Ok(Arith::Num(n))
            }
            Tok::Punct("(") => {
                self.bump();
                let e = self.arith()?;
                self.expect_punct(")")?;
                Ok(e)
            }
            Tok::Word(w) if w == "len" => {
                self.bump();
                Ok(Arith::Len)
            }
            Tok::Word(w) if named_const(&w).is_some() => {
                self.bump();
                Ok(Arith::Num(named_const(&w).unwrap_or(0)))
            }
            Tok::Word(w) if Proto::from_word(&w).is_some() => {
                let proto = Proto::from_word(&w).unwrap_or(Proto::Ether);
                if matches!(proto, Proto::Ah | Proto::Esp) {
                    return Err(self.err("unsupported index operation", &[]));
                }
                self.bump();
                self.expect_punct("[")?;
                let idx = self.arith()?;
                let size = if self.eat_punct(":") {
                    match self.peek() {
                        Tok::Num(n) if matches!(n, 1 | 2 | 4) => {
                            let n = *n;
                            self.bump();
                            n
                        }
                        _ => return Err(self.err("data size must be 1, 2 or 4", &["1", "2", "4"])),
                    }
                } else {
                    1
                };
                self.expect_punct("]")?;
                Ok(Arith::Load {
                    proto,
                    idx: Box::new(idx),
                    size,
                    off: self.off,
                })
            }
            _ => Err(self.err(
                "expected an arithmetic operand",
                &["number", "len", "proto[offset]", "("],
            )),
        }
    }
}

/// The port of a service name, as `port http` means in tcpdump: from
/// /etc/services when the system has it, else from a table of the usual ones.
pub fn service_port(name: &str) -> Option<(u32, bool, bool)> {
    if let Ok(text) = std::fs::read_to_string("/etc/services") {
        let (mut port, mut tcp, mut udp) = (None, false, false);
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut cols = line.split_whitespace();
            let (Some(svc), Some(p)) = (cols.next(), cols.next()) else {
                continue;
            };
            if !std::iter::once(svc).chain(cols).any(|n| n == name) {
                continue;
            }
            if let Some((num, proto)) = p.split_once('/')
                && let Ok(n) = num.parse::<u32>()
            {
                port.get_or_insert(n);
                tcp |= proto == "tcp";
                udp |= proto == "udp";
            }
        }
        return port.map(|p| (p, tcp, udp));
    }
    const WELL_KNOWN: &[(&str, u32)] = &[
        ("ftp-data", 20),
        ("ftp", 21),
        ("ssh", 22),
        ("telnet", 23),
        ("smtp", 25),
        ("domain", 53),
        ("bootps", 67),
        ("bootpc", 68),
        ("tftp", 69),
        ("http", 80),
        ("www", 80),
        ("pop3", 110),
        ("sunrpc", 111),
        ("ntp", 123),
        ("netbios-ns", 137),
        ("imap", 143),
        ("snmp", 161),
        ("snmp-trap", 162),
        ("bgp", 179),
        ("ldap", 389),
        ("https", 443),
        ("syslog", 514),
        ("submission", 587),
        ("imaps", 993),
        ("pop3s", 995),
        ("openvpn", 1194),
        ("mysql", 3306),
        ("postgresql", 5432),
    ];
    WELL_KNOWN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, p)| (*p, true, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn and_or_same_precedence() {
        let e = parse("ip or arp and tcp").unwrap().unwrap();
        assert!(matches!(e, Expr::And(ref l, _) if matches!(**l, Expr::Or(..))));
        let e = parse("not ip and arp").unwrap().unwrap();
        assert!(matches!(e, Expr::And(ref l, _) if matches!(**l, Expr::Not(..))));
    }

    #[test]
    fn errors_point_at_token() {
        let e = parse("ip and and").unwrap_err();
        assert_eq!(e.offset, 7);
        let e = parse("host 1.2.3").unwrap_err();
        assert_eq!(e.offset, 5);
        let e = parse("ip[1:3] = 1").unwrap_err();
        assert_eq!(e.offset, 5);
        assert!(!e.expected.is_empty());
        let e = parse("tcp port").unwrap_err();
        assert_eq!(e.offset, 8);
    }

    #[test]
    fn inherited_qualifiers() {
        let a = parse("host 1.2.3.4 or 5.6.7.8").unwrap();
        let b = parse("host 1.2.3.4 or host 5.6.7.8").unwrap();
        assert_eq!(a, b);
    }
}
