//! Code generation: [`Expr`] to classic BPF for Ethernet (DLT_EN10MB).
//!
//! Every primitive becomes a tree of conditions ([`Cond`]): tests, each a few
//! loads and one conditional jump, combined with and/or/not. The tree is laid
//! out with forward jumps to labels, which are resolved at the end. The code
//! is not optimised, but matches the same packets as libpcap's.

use super::FilterError;
use super::bpf::*;
use super::parser::{ArOp, Arith, Dir, Expr, Prim, Proto, RelOp};

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

fn ethertype(off: u32, ty: u32) -> Cond {
    cmp(2, off, ty)
}

fn ipv4_proto(off: u32, p: u32) -> Cond {
    Cond::And(vec![ethertype(off, 0x800), cmp(1, off + 2 + 9, p)])
}

fn ipv6_proto(off: u32, p: u32) -> Cond {
    let nl = off + 2;
    Cond::And(vec![
        ethertype(off, 0x86dd),
        Cond::Or(vec![
            cmp(1, nl + 6, p),
            Cond::And(vec![cmp(1, nl + 6, 0x2c), cmp(1, nl + 40, p)]),
        ]),
    ])
}

/// IPv4 and not a non-first fragment.
fn not_frag(off: u32) -> Cond {
    not(test(vec![ld(2, off + 2 + 6)], JSET, 0x1fff))
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
fn arith(a: &Arith, depth: u32, pre: &mut Vec<Cond>) -> Result<Vec<Insn>, FilterError> {
    if depth as usize >= BPF_MEMWORDS {
        return Err(err("expression too complex (out of scratch memory)"));
    }
    Ok(match a {
        Arith::Num(n) => vec![Insn::stmt(BPF_LD | BPF_IMM, *n)],
        Arith::Len => vec![Insn::stmt(BPF_LD | BPF_W | BPF_LEN, 0)],
        Arith::Neg(e) => {
            let mut v = arith(e, depth, pre)?;
            v.push(Insn::stmt(BPF_ALU | BPF_NEG, 0));
            v
        }
        Arith::Bin(op, l, r) => {
            let mut v = arith(l, depth, pre)?;
            if let Arith::Num(k) = **r {
                if matches!(op, ArOp::Div | ArOp::Mod) && k == 0 {
                    return Err(err(if *op == ArOp::Div {
                        "division by zero"
                    } else {
                        "modulus by zero"
                    }));
                }
                v.push(Insn::stmt(BPF_ALU | alu_op(*op) | BPF_K, k));
            } else {
                v.push(Insn::stmt(BPF_ST, depth));
                // libpcap's gen_arth keeps only the left operand's
                // conditions; those of the right operand are dropped.
                v.extend(arith(r, depth + 1, &mut Vec::new())?);
                v.push(Insn::stmt(BPF_MISC | BPF_TAX, 0));
                v.push(Insn::stmt(BPF_LD | BPF_MEM, depth));
                v.push(Insn::stmt(BPF_ALU | alu_op(*op) | BPF_X, 0));
            }
            v
        }
        Arith::Load {
            proto,
            idx,
            size,
            off,
        } => {
            let nl = off + 2;
            let mut idx_pre = Vec::new();
            let konst = match **idx {
                Arith::Num(k) => Some(k),
                _ => None,
            };
            let idx_code = match konst {
                Some(_) => vec![],
                None => arith(idx, depth, &mut idx_pre)?,
            };
            pre.extend(idx_pre);
            let (base, transport) = match proto {
                Proto::Ether => (0, false),
                Proto::Ip => {
                    pre.push(ethertype(*off, 0x800));
                    (nl, false)
                }
                Proto::Ip6 => {
                    pre.push(ethertype(*off, 0x86dd));
                    (nl, false)
                }
                Proto::Arp => {
                    pre.push(ethertype(*off, 0x806));
                    (nl, false)
                }
                Proto::Rarp => {
                    pre.push(ethertype(*off, 0x8035));
                    (nl, false)
                }
                Proto::Icmp6 => {
                    pre.push(ethertype(*off, 0x86dd));
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
                    pre.push(ipv4_proto(*off, p));
                    pre.push(not_frag(*off));
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

fn relation(op: RelOp, l: &Arith, r: &Arith) -> Result<Cond, FilterError> {
    let mut pre = Vec::new();
    let mut code = arith(l, 0, &mut pre)?;
    let (src, k) = if let Arith::Num(k) = *r {
        (BPF_K, k)
    } else {
        code.push(Insn::stmt(BPF_ST, 0));
        code.extend(arith(r, 1, &mut pre)?);
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

fn prim(p: &Prim) -> Cond {
    match *p {
        Prim::Proto { proto, off } => match proto {
            Proto::Ether => Cond::And(vec![]),
            Proto::Ip => ethertype(off, 0x800),
            Proto::Ip6 => ethertype(off, 0x86dd),
            Proto::Arp => ethertype(off, 0x806),
            Proto::Rarp => ethertype(off, 0x8035),
            Proto::Icmp | Proto::Igmp | Proto::Igrp | Proto::Vrrp => {
                ipv4_proto(off, proto.ip_proto().unwrap_or(0))
            }
            Proto::Icmp6 => ipv6_proto(off, 58),
            Proto::Tcp | Proto::Udp | Proto::Sctp | Proto::Pim | Proto::Ah | Proto::Esp => {
                let n = proto.ip_proto().unwrap_or(0);
                Cond::Or(vec![ipv4_proto(off, n), ipv6_proto(off, n)])
            }
        },
        Prim::EtherProto { ty, off } => ethertype(off, ty),
        Prim::IpProto { ver, num, off } => match ver {
            Some(Proto::Ip) => ipv4_proto(off, num),
            Some(Proto::Ip6) => ipv6_proto(off, num),
            _ => Cond::Or(vec![ipv4_proto(off, num), ipv6_proto(off, num)]),
        },
        Prim::Net {
            proto,
            dir,
            addr,
            mask,
            off,
        } => {
            let nl = off + 2;
            let at = |o: u32| {
                if mask == 0 {
                    return Cond::And(vec![]);
                }
                let mut s = vec![ld(4, o)];
                if mask != u32::MAX {
                    s.push(Insn::stmt(BPF_ALU | BPF_AND | BPF_K, mask));
                }
                test(s, JEQ, addr)
            };
            let ip = Cond::And(vec![
                ethertype(off, 0x800),
                by_dir(dir, at(nl + 12), at(nl + 16)),
            ]);
            let arp = |ty| {
                Cond::And(vec![
                    ethertype(off, ty),
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
            let nl = off + 2;
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
                ethertype(off, 0x86dd),
                by_dir(dir, at(nl + 8), at(nl + 24)),
            ])
        }
        Prim::EtherHost { dir, mac } => by_dir(dir, ether_addr(6, mac), ether_addr(0, mac)),
        Prim::Port {
            proto,
            dir,
            lo,
            hi,
            off,
        } => {
            let nl = off + 2;
            let nums: Vec<u32> = match proto {
                Some(p) if p.ip_proto().is_some() => vec![p.ip_proto().unwrap_or(0)],
                _ => vec![6, 17, 132],
            };
            let mut alts = Vec::new();
            if proto != Some(Proto::Ip) {
                let ports = |o: u32| port_test(vec![ld(2, nl + 40 + o)], lo, hi);
                alts.push(Cond::And(vec![
                    ethertype(off, 0x86dd),
                    Cond::Or(nums.iter().map(|&n| cmp(1, nl + 6, n)).collect()),
                    by_dir(dir, ports(0), ports(2)),
                ]));
            }
            if proto != Some(Proto::Ip6) {
                let ports = |o: u32| port_test(vec![msh(nl), ld_ind(2, nl + o)], lo, hi);
                alts.push(Cond::And(vec![
                    ethertype(off, 0x800),
                    Cond::Or(nums.iter().map(|&n| cmp(1, nl + 9, n)).collect()),
                    not_frag(off),
                    by_dir(dir, ports(0), ports(2)),
                ]));
            }
            Cond::Or(alts)
        }
        Prim::EtherBroadcast => ether_addr(0, [0xff; 6]),
        Prim::IpBroadcast { off } => Cond::And(vec![
            ethertype(off, 0x800),
            Cond::Or(vec![
                cmp(4, off + 2 + 16, 0),
                cmp(4, off + 2 + 16, u32::MAX),
            ]),
        ]),
        Prim::EtherMulticast => test(vec![ld(1, 0)], JSET, 1),
        Prim::IpMulticast { v6: false, off } => Cond::And(vec![
            ethertype(off, 0x800),
            test(vec![ld(1, off + 2 + 16)], JGE, 224),
        ]),
        Prim::IpMulticast { v6: true, off } => {
            Cond::And(vec![ethertype(off, 0x86dd), cmp(1, off + 2 + 24, 0xff)])
        }
        Prim::Vlan { id, off } => {
            let tpid = Cond::Or(vec![
                ethertype(off, 0x8100),
                ethertype(off, 0x88a8),
                ethertype(off, 0x9100),
            ]);
            match id {
                None => tpid,
                Some(id) => Cond::And(vec![
                    tpid,
                    test(
                        vec![ld(2, off + 2), Insn::stmt(BPF_ALU | BPF_AND | BPF_K, 0xfff)],
                        JEQ,
                        id,
                    ),
                ]),
            }
        }
    }
}

fn cond(e: &Expr) -> Result<Cond, FilterError> {
    Ok(match e {
        Expr::And(a, b) => Cond::And(vec![cond(a)?, cond(b)?]),
        Expr::Or(a, b) => Cond::Or(vec![cond(a)?, cond(b)?]),
        Expr::Not(a) => not(cond(a)?),
        Expr::Prim(p) => prim(p),
        Expr::Rel(op, l, r) => relation(*op, l, r)?,
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

    fn emit(&mut self, c: &Cond, t: usize, f: usize) {
        match c {
            Cond::And(v) if v.is_empty() => {
                self.items
                    .push(Item::Insn(Insn::stmt(BPF_JMP | BPF_JA, 0), t, t));
            }
            Cond::Or(v) if v.is_empty() => {
                self.items
                    .push(Item::Insn(Insn::stmt(BPF_JMP | BPF_JA, 0), f, f));
            }
            Cond::And(v) => {
                for (i, c) in v.iter().enumerate() {
                    if i + 1 == v.len() {
                        self.emit(c, t, f);
                    } else {
                        let m = self.label();
                        self.emit(c, m, f);
                        self.items.push(Item::Label(m));
                    }
                }
            }
            Cond::Or(v) => {
                for (i, c) in v.iter().enumerate() {
                    if i + 1 == v.len() {
                        self.emit(c, t, f);
                    } else {
                        let m = self.label();
                        self.emit(c, t, m);
                        self.items.push(Item::Label(m));
                    }
                }
            }
            Cond::Not(c) => self.emit(c, f, t),
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

/// Compiles a parsed expression (`None`: match everything) to a program.
pub fn generate(e: Option<&Expr>) -> Result<Vec<Insn>, FilterError> {
    let Some(e) = e else {
        return Ok(vec![Insn::stmt(BPF_RET | BPF_K, ACCEPT)]);
    };
    let c = cond(e)?;
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
