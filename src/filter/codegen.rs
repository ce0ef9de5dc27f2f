//! Code generation: [`Expr`] to classic BPF for one link type ([`Link`]).
//!
//! Every primitive becomes a tree of conditions ([`Cond`]): tests, each a few
//! loads and one conditional jump, combined with and/or/not. Tests the link
//! type answers by itself (`ip6` on raw IPv4) are constants, which are folded
//! away; an expression that folds to false is refused as libpcap refuses it
//! ("expression rejects all packets"). The tree is laid out with forward
//! jumps to labels, which are resolved at the end. The code is not otherwise
//! optimised, but matches the same packets as libpcap's.

use super::bpf::*;
use super::parser::{ArOp, Arith, Dir, Expr, Prim, Proto, RelOp};
use super::{FilterError, Link};

/// What an accepting program returns (tcpdump's default snapshot length).
pub const ACCEPT: u32 = 262144;

/// A condition tree.
#[derive(Clone, Debug)]
enum Cond {
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    /// Run `stmts`, then jump on `jmp` (a `BPF_JMP` opcode with source) with `k`.
    Test {
        stmts: Vec<Insn>,
        jmp: u16,
        k: u32,
    },
}

/// The condition that always holds.
const TRUE: Cond = Cond::And(Vec::new());
/// The condition that never holds.
const FALSE: Cond = Cond::Or(Vec::new());

fn is_true(c: &Cond) -> bool {
    matches!(c, Cond::And(v) if v.is_empty())
}

fn is_false(c: &Cond) -> bool {
    matches!(c, Cond::Or(v) if v.is_empty())
}

/// `and` (or `or`) of conditions whose constants are already folded: a
/// false (true) one decides, true (false) ones drop out, one left stands
/// alone (as libpcap's optimiser drops the tests, and their loads, that
/// cannot change the outcome).
fn join(and: bool, v: Vec<Cond>) -> Cond {
    let mut out = Vec::with_capacity(v.len());
    for c in v {
        // false decides an `and`, true an `or`; the other drops out.
        let (t, f) = (is_true(&c), is_false(&c));
        if (and && f) || (!and && t) {
            return c;
        }
        if !(t || f) {
            out.push(c);
        }
    }
    match (out.len(), and) {
        (1, _) => out.pop().unwrap_or(TRUE),
        (_, true) => Cond::And(out),
        (_, false) => Cond::Or(out),
    }
}

/// `not` of a condition whose constants are already folded.
fn negate(c: Cond) -> Cond {
    if is_true(&c) {
        FALSE
    } else if is_false(&c) {
        TRUE
    } else {
        not(c)
    }
}

/// Folds the constants of a primitive's condition (a small tree).
fn fold(c: Cond) -> Cond {
    match c {
        Cond::And(v) => join(true, v.into_iter().map(fold).collect()),
        Cond::Or(v) => join(false, v.into_iter().map(fold).collect()),
        Cond::Not(c) => negate(fold(*c)),
        t @ Cond::Test { .. } => t,
    }
}

fn test(stmts: Vec<Insn>, jmp: u16, k: u32) -> Cond {
    Cond::Test { stmts, jmp, k }
}

fn not(c: Cond) -> Cond {
    Cond::Not(Box::new(c))
}

const JEQ: u16 = BPF_JMP | BPF_JEQ | BPF_K;
const JGT: u16 = BPF_JMP | BPF_JGT | BPF_K;
const JGE: u16 = BPF_JMP | BPF_JGE | BPF_K;
const JSET: u16 = BPF_JMP | BPF_JSET | BPF_K;

fn ld(size: u32, off: u32) -> Insn {
    let sz = match size {
        1 => BPF_B,
        2 => BPF_H,
        _ => BPF_W,
    };
    Insn::stmt(BPF_LD | sz | BPF_ABS, off)
}

fn ld_ind(size: u32, off: u32) -> Insn {
    let sz = match size {
        1 => BPF_B,
        2 => BPF_H,
        _ => BPF_W,
    };
    Insn::stmt(BPF_LD | sz | BPF_IND, off)
}

fn cmp(size: u32, off: u32, v: u32) -> Cond {
    test(vec![ld(size, off)], JEQ, v)
}

/// Offset of the network layer after `off` bytes of VLAN tags.
fn net(l: &Link, off: u32) -> u32 {
    l.layout.net_at.saturating_add(off)
}

/// The payload is of EtherType `ty`. A link without an EtherType field
/// answers by itself when it carries one network protocol only (libpcap:
/// `ip` is always true on raw IPv4, `ip6` always false), and otherwise by
/// the IP version nibble (raw IP carries IPv4 and IPv6, nothing else).
fn ethertype(l: &Link, off: u32, ty: u32) -> Cond {
    if let Some(at) = l.layout.ethertype_at {
        return cmp(2, at.saturating_add(off), ty);
    }
    if !l.carries.contains(&ty) {
        return FALSE;
    }
    if l.carries.len() == 1 {
        return TRUE;
    }
    let version = match ty {
        0x800 => 4,
        0x86dd => 6,
        _ => return FALSE,
    };
    test(
        vec![
            ld(1, net(l, off)),
            Insn::stmt(BPF_ALU | BPF_AND | BPF_K, 0xf0),
        ],
        JEQ,
        version << 4,
    )
}

fn ipv4_proto(l: &Link, off: u32, p: u32) -> Cond {
    Cond::And(vec![ethertype(l, off, 0x800), cmp(1, net(l, off) + 9, p)])
}

fn ipv6_proto(l: &Link, off: u32, p: u32) -> Cond {
    let nl = net(l, off);
    Cond::And(vec![
        ethertype(l, off, 0x86dd),
        Cond::Or(vec![
            cmp(1, nl + 6, p),
            Cond::And(vec![cmp(1, nl + 6, 0x2c), cmp(1, nl + 40, p)]),
        ]),
    ])
}

/// IPv4 and not a non-first fragment.
fn not_frag(l: &Link, off: u32) -> Cond {
    not(test(vec![ld(2, net(l, off) + 6)], JSET, 0x1fff))
}

fn ether_addr(o: u32, mac: [u8; 6]) -> Cond {
    Cond::And(vec![
        cmp(
            4,
            o + 2,
            u32::from_be_bytes([mac[2], mac[3], mac[4], mac[5]]),
        ),
        cmp(2, o, u32::from(u16::from_be_bytes([mac[0], mac[1]]))),
    ])
}

fn by_dir(dir: Dir, src: Cond, dst: Cond) -> Cond {
    match dir {
        Dir::Src => src,
        Dir::Dst => dst,
        Dir::SrcOrDst => Cond::Or(vec![src, dst]),
        Dir::SrcAndDst => Cond::And(vec![src, dst]),
    }
}

fn msh(nl: u32) -> Insn {
    Insn::stmt(BPF_LDX | BPF_MSH | BPF_B, nl)
}

fn port_test(load: Vec<Insn>, lo: u32, hi: u32) -> Cond {
    if lo == hi {
        test(load, JEQ, lo)
    } else {
        Cond::And(vec![test(load, JGE, lo), not(test(vec![], JGT, hi))])
    }
}

fn alu_op(op: ArOp) -> u16 {
    match op {
        ArOp::Add => BPF_ADD,
        ArOp::Sub => BPF_SUB,
        ArOp::Mul => BPF_MUL,
        ArOp::Div => BPF_DIV,
        ArOp::Mod => BPF_MOD,
        ArOp::And => BPF_AND,
        ArOp::Or => BPF_OR,
        ArOp::Xor => BPF_XOR,
        ArOp::Lsh => BPF_LSH,
        ArOp::Rsh => BPF_RSH,
    }
}

fn err(msg: &str) -> FilterError {
    FilterError::new(msg.to_string(), 0, 0, vec![])
}

/// Code computing `a` into the accumulator, and the conditions under which
/// its loads are valid (appended to `pre`). `depth` is the first free
/// scratch memory slot.
fn arith(l: &Link, a: &Arith, depth: u32, pre: &mut Vec<Cond>) -> Result<Vec<Insn>, FilterError> {
    if depth as usize >= BPF_MEMWORDS {
        return Err(err("expression too complex (out of scratch memory)"));
    }
    Ok(match a {
        Arith::Num(n) => vec![Insn::stmt(BPF_LD | BPF_IMM, *n)],
        Arith::Len => vec![Insn::stmt(BPF_LD | BPF_W | BPF_LEN, 0)],
        Arith::Neg(e) => {
            let mut v = arith(l, e, depth, pre)?;
            v.push(Insn::stmt(BPF_ALU | BPF_NEG, 0));
            v
        }
        Arith::Bin(..) => {
            // The chain of operators down the left (`1 + 2 + 3 ...`
            // associates to the left) without recursion.
            let mut rights = Vec::new();
            let mut cur = a;
            while let Arith::Bin(op, lhs, r) = cur {
                rights.push((*op, &**r));
                cur = lhs;
            }
            let mut v = arith(l, cur, depth, pre)?;
            for &(op, r) in rights.iter().rev() {
                if let Arith::Num(k) = *r {
                    if matches!(op, ArOp::Div | ArOp::Mod) && k == 0 {
                        return Err(err(if op == ArOp::Div {
                            "division by zero"
                        } else {
                            "modulus by zero"
                        }));
                    }
                    v.push(Insn::stmt(BPF_ALU | alu_op(op) | BPF_K, k));
                } else {
                    v.push(Insn::stmt(BPF_ST, depth));
                    // libpcap's gen_arth keeps only the left operand's
                    // conditions; those of the right operand are dropped.
                    v.extend(arith(l, r, depth + 1, &mut Vec::new())?);
                    v.push(Insn::stmt(BPF_MISC | BPF_TAX, 0));
                    v.push(Insn::stmt(BPF_LD | BPF_MEM, depth));
                    v.push(Insn::stmt(BPF_ALU | alu_op(op) | BPF_X, 0));
                }
            }
            v
        }
        Arith::Load {
            proto,
            idx,
            size,
            off,
        } => {
            let nl = net(l, *off);
            let mut idx_pre = Vec::new();
            let konst = match **idx {
                Arith::Num(k) => Some(k),
                _ => None,
            };
            let idx_code = match konst {
                Some(_) => vec![],
                None => arith(l, idx, depth, &mut idx_pre)?,
            };
            pre.extend(idx_pre);
            let (base, transport) = match proto {
                Proto::Ether => (0, false),
                Proto::Ip => {
                    pre.push(ethertype(l, *off, 0x800));
                    (nl, false)
                }
                Proto::Ip6 => {
                    pre.push(ethertype(l, *off, 0x86dd));
                    (nl, false)
                }
                Proto::Arp => {
                    pre.push(ethertype(l, *off, 0x806));
                    (nl, false)
                }
                Proto::Rarp => {
                    pre.push(ethertype(l, *off, 0x8035));
                    (nl, false)
                }
                Proto::Icmp6 => {
                    pre.push(ethertype(l, *off, 0x86dd));
                    pre.push(cmp(1, nl + 6, 58));
                    (nl + 40, false)
                }
                Proto::Ah | Proto::Esp => return Err(err("unsupported index operation")),
                Proto::Tcp
                | Proto::Udp
                | Proto::Icmp
                | Proto::Sctp
                | Proto::Igmp
                | Proto::Igrp
                | Proto::Pim
                | Proto::Vrrp => {
                    let p = proto.ip_proto().unwrap_or(0);
                    pre.push(ipv4_proto(l, *off, p));
                    pre.push(not_frag(l, *off));
                    (nl, true)
                }
            };
            match (konst, transport) {
                (Some(k), false) => vec![ld(*size, base.wrapping_add(k))],
                (Some(k), true) => vec![msh(nl), ld_ind(*size, base.wrapping_add(k))],
                (None, false) => {
                    let mut v = idx_code;
                    v.push(Insn::stmt(BPF_MISC | BPF_TAX, 0));
                    v.push(ld_ind(*size, base));
                    v
                }
                (None, true) => {
                    let mut v = idx_code;
                    v.push(Insn::stmt(BPF_ST, depth));
                    v.push(msh(nl));
                    v.push(Insn::stmt(BPF_LD | BPF_MEM, depth));
                    v.push(Insn::stmt(BPF_ALU | BPF_ADD | BPF_X, 0));
                    v.push(Insn::stmt(BPF_MISC | BPF_TAX, 0));
                    v.push(ld_ind(*size, base));
                    v
                }
            }
        }
    })
}

fn relation(link: &Link, op: RelOp, l: &Arith, r: &Arith) -> Result<Cond, FilterError> {
    let mut pre = Vec::new();
    let mut code = arith(link, l, 0, &mut pre)?;
    let (src, k) = if let Arith::Num(k) = *r {
        (BPF_K, k)
    } else {
        code.push(Insn::stmt(BPF_ST, 0));
        code.extend(arith(link, r, 1, &mut pre)?);
        code.push(Insn::stmt(BPF_MISC | BPF_TAX, 0));
        code.push(Insn::stmt(BPF_LD | BPF_MEM, 0));
        (BPF_X, 0)
    };
    let (jmp, negate) = match op {
        RelOp::Eq => (BPF_JEQ, false),
        RelOp::Ne => (BPF_JEQ, true),
        RelOp::Gt => (BPF_JGT, false),
        RelOp::Ge => (BPF_JGE, false),
        RelOp::Lt => (BPF_JGE, true),
        RelOp::Le => (BPF_JGT, true),
    };
    let mut t = test(code, BPF_JMP | jmp | src, k);
    if negate {
        t = not(t);
    }
    pre.push(t);
    Ok(Cond::And(pre))
}

/// The link-layer address at `at`, if the link header has one.
fn mac_at(l: &Link, at: Option<u32>, what: &str) -> Result<u32, FilterError> {
    at.ok_or_else(|| {
        err(&format!(
            "{what} not supported on link type {}: its header has no such address",
            l.name()
        ))
    })
}

fn prim(l: &Link, p: &Prim) -> Result<Cond, FilterError> {
    Ok(match *p {
        Prim::Proto { proto, off } => match proto {
            Proto::Ether => TRUE,
            Proto::Ip => ethertype(l, off, 0x800),
            Proto::Ip6 => ethertype(l, off, 0x86dd),
            Proto::Arp => ethertype(l, off, 0x806),
            Proto::Rarp => ethertype(l, off, 0x8035),
            Proto::Icmp | Proto::Igmp | Proto::Igrp | Proto::Vrrp => {
                ipv4_proto(l, off, proto.ip_proto().unwrap_or(0))
            }
            Proto::Icmp6 => ipv6_proto(l, off, 58),
            Proto::Tcp | Proto::Udp | Proto::Sctp | Proto::Pim | Proto::Ah | Proto::Esp => {
                let n = proto.ip_proto().unwrap_or(0);
                Cond::Or(vec![ipv4_proto(l, off, n), ipv6_proto(l, off, n)])
            }
        },
        Prim::EtherProto { ty, off } => ethertype(l, off, ty),
        Prim::IpProto { ver, num, off } => match ver {
            Some(Proto::Ip) => ipv4_proto(l, off, num),
            Some(Proto::Ip6) => ipv6_proto(l, off, num),
            _ => Cond::Or(vec![ipv4_proto(l, off, num), ipv6_proto(l, off, num)]),
        },
        Prim::Net {
            proto,
            dir,
            addr,
            mask,
            off,
        } => {
            let nl = net(l, off);
            let at = |o: u32| {
                if mask == 0 {
                    return TRUE;
                }
                let mut s = vec![ld(4, o)];
                if mask != u32::MAX {
                    s.push(Insn::stmt(BPF_ALU | BPF_AND | BPF_K, mask));
                }
                test(s, JEQ, addr)
            };
            let ip = Cond::And(vec![
                ethertype(l, off, 0x800),
                by_dir(dir, at(nl + 12), at(nl + 16)),
            ]);
            let arp = |ty| {
                Cond::And(vec![
                    ethertype(l, off, ty),
                    by_dir(dir, at(nl + 14), at(nl + 24)),
                ])
            };
            match proto {
                Some(Proto::Ip) => ip,
                Some(Proto::Arp) => arp(0x806),
                Some(Proto::Rarp) => arp(0x8035),
                _ => Cond::Or(vec![ip, arp(0x806), arp(0x8035)]),
            }
        }
        Prim::Net6 {
            dir,
            addr,
            mask,
            off,
        } => {
            let nl = net(l, off);
            let word = |b: &[u8; 16], i: usize| {
                u32::from_be_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]])
            };
            let at = |o: u32| {
                let mut tests = Vec::new();
                for i in 0..4 {
                    let m = word(&mask, i);
                    if m == 0 {
                        continue;
                    }
                    let mut s = vec![ld(4, o + 4 * i as u32)];
                    if m != u32::MAX {
                        s.push(Insn::stmt(BPF_ALU | BPF_AND | BPF_K, m));
                    }
                    tests.push(test(s, JEQ, word(&addr, i)));
                }
                Cond::And(tests)
            };
            Cond::And(vec![
                ethertype(l, off, 0x86dd),
                by_dir(dir, at(nl + 8), at(nl + 24)),
            ])
        }
        Prim::EtherHost { dir, mac } => {
            let what = "Ethernet addresses are";
            let src = || mac_at(l, l.layout.src_mac_at, what).map(|o| ether_addr(o, mac));
            let dst = || mac_at(l, l.layout.dst_mac_at, what).map(|o| ether_addr(o, mac));
            match dir {
                Dir::Src => src()?,
                Dir::Dst => dst()?,
                Dir::SrcOrDst => Cond::Or(vec![src()?, dst()?]),
                Dir::SrcAndDst => Cond::And(vec![src()?, dst()?]),
            }
        }
        Prim::Port {
            proto,
            dir,
            lo,
            hi,
            off,
        } => {
            let nl = net(l, off);
            let nums: Vec<u32> = match proto {
                Some(p) if p.ip_proto().is_some() => vec![p.ip_proto().unwrap_or(0)],
                _ => vec![6, 17, 132],
            };
            let mut alts = Vec::new();
            if proto != Some(Proto::Ip) {
                let ports = |o: u32| port_test(vec![ld(2, nl + 40 + o)], lo, hi);
                alts.push(Cond::And(vec![
                    ethertype(l, off, 0x86dd),
                    Cond::Or(nums.iter().map(|&n| cmp(1, nl + 6, n)).collect()),
                    by_dir(dir, ports(0), ports(2)),
                ]));
            }
            if proto != Some(Proto::Ip6) {
                let ports = |o: u32| port_test(vec![msh(nl), ld_ind(2, nl + o)], lo, hi);
                alts.push(Cond::And(vec![
                    ethertype(l, off, 0x800),
                    Cond::Or(nums.iter().map(|&n| cmp(1, nl + 9, n)).collect()),
                    not_frag(l, off),
                    by_dir(dir, ports(0), ports(2)),
                ]));
            }
            Cond::Or(alts)
        }
        Prim::EtherBroadcast => {
            ether_addr(mac_at(l, l.layout.dst_mac_at, "'broadcast' is")?, [0xff; 6])
        }
        Prim::IpBroadcast { off } => Cond::And(vec![
            ethertype(l, off, 0x800),
            Cond::Or(vec![
                cmp(4, net(l, off) + 16, 0),
                cmp(4, net(l, off) + 16, u32::MAX),
            ]),
        ]),
        Prim::EtherMulticast => test(
            vec![ld(1, mac_at(l, l.layout.dst_mac_at, "'multicast' is")?)],
            JSET,
            1,
        ),
        Prim::IpMulticast { v6: false, off } => Cond::And(vec![
            ethertype(l, off, 0x800),
            test(vec![ld(1, net(l, off) + 16)], JGE, 224),
        ]),
        Prim::IpMulticast { v6: true, off } => Cond::And(vec![
            ethertype(l, off, 0x86dd),
            cmp(1, net(l, off) + 24, 0xff),
        ]),
        Prim::Vlan { id, off } => {
            let Some(at) = l.layout.ethertype_at.filter(|_| l.has_vlan_tags()) else {
                return Err(err(&format!(
                    "'vlan' is not supported on link type {}",
                    l.name()
                )));
            };
            let tpid = Cond::Or(vec![
                ethertype(l, off, 0x8100),
                ethertype(l, off, 0x88a8),
                ethertype(l, off, 0x9100),
            ]);
            match id {
                None => tpid,
                Some(id) => Cond::And(vec![
                    tpid,
                    test(
                        vec![
                            ld(2, at.saturating_add(off) + 2),
                            Insn::stmt(BPF_ALU | BPF_AND | BPF_K, 0xfff),
                        ],
                        JEQ,
                        id,
                    ),
                ]),
            }
        }
    })
}

/// The condition of an expression, constants folded. The chain of `and`
/// and `or` down the left of the tree (as long as the expression, since
/// they associate to the left) is walked without recursion; what recurses
/// is `not` and parentheses, which the parser bounds.
fn cond(l: &Link, e: &Expr) -> Result<Cond, FilterError> {
    Ok(match e {
        Expr::And(..) | Expr::Or(..) => {
            let mut rights = Vec::new();
            let mut cur = e;
            loop {
                let (and, a, b) = match cur {
                    Expr::And(a, b) => (true, a, b),
                    Expr::Or(a, b) => (false, a, b),
                    _ => break,
                };
                rights.push((and, &**b));
                cur = a;
            }
            let mut op = true;
            let mut list = vec![cond(l, cur)?];
            for &(and, r) in rights.iter().rev() {
                let c = cond(l, r)?;
                if and != op && list.len() > 1 {
                    let done = join(op, std::mem::take(&mut list));
                    list.push(done);
                }
                op = and;
                list.push(c);
            }
            join(op, list)
        }
        Expr::Not(a) => negate(cond(l, a)?),
        Expr::Prim(p) => fold(prim(l, p)?),
        Expr::Rel(op, a, b) => fold(relation(l, *op, a, b)?),
    })
}

enum Item {
    Insn(Insn, usize, usize),
    Stmt(Insn),
    Label(usize),
}

struct Gen {
    items: Vec<Item>,
    labels: usize,
}

impl Gen {
    fn label(&mut self) -> usize {
        self.labels += 1;
        self.labels - 1
    }

    /// Lays out `c`, jumping to label `t` when it holds and `f` when not,
    /// with a stack of work rather than recursion (an `and`/`or` chain
    /// nests as deep as the expression is long).
    fn emit(&mut self, c: &Cond, t: usize, f: usize) {
        enum Work<'a> {
            Emit(&'a Cond, usize, usize),
            Label(usize),
        }
        let mut stack = vec![Work::Emit(c, t, f)];
        while let Some(w) = stack.pop() {
            let (c, t, f) = match w {
                Work::Label(m) => {
                    self.items.push(Item::Label(m));
                    continue;
                }
                Work::Emit(c, t, f) => (c, t, f),
            };
            match c {
                Cond::And(v) | Cond::Or(v) if v.is_empty() => {
                    let to = if matches!(c, Cond::And(_)) { t } else { f };
                    self.items
                        .push(Item::Insn(Insn::stmt(BPF_JMP | BPF_JA, 0), to, to));
                }
                Cond::And(v) | Cond::Or(v) => {
                    // Each but the last goes on to the next (label m) when
                    // it holds (and) or when it does not (or).
                    let and = matches!(c, Cond::And(_));
                    let mut seq = Vec::with_capacity(2 * v.len());
                    for (i, c) in v.iter().enumerate() {
                        if i + 1 == v.len() {
                            seq.push(Work::Emit(c, t, f));
                        } else {
                            let m = self.label();
                            seq.push(if and {
                                Work::Emit(c, m, f)
                            } else {
                                Work::Emit(c, t, m)
                            });
                            seq.push(Work::Label(m));
                        }
                    }
                    stack.extend(seq.into_iter().rev());
                }
                Cond::Not(c) => stack.push(Work::Emit(c, f, t)),
                Cond::Test { stmts, jmp, k } => {
                    for s in stmts {
                        self.items.push(Item::Stmt(*s));
                    }
                    self.items
                        .push(Item::Insn(Insn::jump(*jmp, *k, 0, 0), t, f));
                }
            }
        }
    }
}

/// Compiles a parsed expression (`None`: match everything) to a program
/// for Ethernet.
pub fn generate(e: Option<&Expr>) -> Result<Vec<Insn>, FilterError> {
    let link =
        Link::of(crate::packet::LINKTYPE_ETHERNET).ok_or_else(|| err("no layer knows Ethernet"))?;
    generate_for(e, &link)
}

/// Compiles a parsed expression (`None`: match everything) to a program
/// for frames of `link`.
pub fn generate_for(e: Option<&Expr>, link: &Link) -> Result<Vec<Insn>, FilterError> {
    let accept = vec![Insn::stmt(BPF_RET | BPF_K, ACCEPT)];
    let Some(e) = e else {
        return Ok(accept);
    };
    let c = cond(link, e)?;
    if is_true(&c) {
        return Ok(accept);
    }
    if is_false(&c) {
        let mut e = err(&format!(
            "expression rejects all packets on link type {}",
            link.name()
        ));
        e.rejects_all = true;
        return Err(e);
    }
    let mut g = Gen {
        items: Vec::new(),
        labels: 2,
    };
    g.emit(&c, 0, 1);
    g.items.push(Item::Label(0));
    g.items
        .push(Item::Stmt(Insn::stmt(BPF_RET | BPF_K, ACCEPT)));
    g.items.push(Item::Label(1));
    g.items.push(Item::Stmt(Insn::stmt(BPF_RET | BPF_K, 0)));
    resolve(&g.items, g.labels)
}

/// Lays out `items`, resolving labels. A conditional jump whose target is
/// more than 255 instructions ahead becomes `jcc 0/1; ja T; ja F`; the
/// layout is redone until every short jump fits.
fn resolve(items: &[Item], labels: usize) -> Result<Vec<Insn>, FilterError> {
    let mut long = vec![false; items.len()];
    loop {
        let mut pos = vec![0usize; labels];
        let mut n = 0;
        for (i, it) in items.iter().enumerate() {
            match it {
                Item::Label(l) => pos[*l] = n,
                _ if long[i] => n += 3,
                _ => n += 1,
            }
        }
        let mut prog = Vec::with_capacity(n);
        let mut grew = false;
        for (i, it) in items.iter().enumerate() {
            match it {
                Item::Label(_) => {}
                Item::Stmt(s) => prog.push(*s),
                Item::Insn(ins, t, f) => {
                    let mut ins = *ins;
                    if long[i] {
                        ins.jt = 0;
                        ins.jf = 1;
                        prog.push(ins);
                        for target in [t, f] {
                            let here = prog.len() + 1;
                            let k = u32::try_from(pos[*target] - here)
                                .map_err(|_| err("expression too complex"))?;
                            prog.push(Insn::stmt(BPF_JMP | BPF_JA, k));
                        }
                        continue;
                    }
                    let here = prog.len() + 1;
                    let dt = pos[*t] - here;
                    let df = pos[*f] - here;
                    if ins.code == BPF_JMP | BPF_JA {
                        ins.k = u32::try_from(dt).map_err(|_| err("expression too complex"))?;
                    } else if let (Ok(jt), Ok(jf)) = (u8::try_from(dt), u8::try_from(df)) {
                        ins.jt = jt;
                        ins.jf = jf;
                    } else {
                        long[i] = true;
                        grew = true;
                    }
                    prog.push(ins);
                }
            }
        }
        if grew {
            continue;
        }
        if prog.len() > 4096 {
            return Err(err("expression too complex (more than 4096 instructions)"));
        }
        return Ok(prog);
    }
}
