//! Classic BPF: the instruction type, an interpreter and a `tcpdump -d` style printer.

/// One classic BPF instruction, with the same layout as `libc::sock_filter`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

impl Insn {
    /// A non-jump instruction.
    pub const fn stmt(code: u16, k: u32) -> Insn {
        Insn {
            code,
            jt: 0,
            jf: 0,
            k,
        }
    }

    /// A conditional jump instruction.
    pub const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Insn {
        Insn { code, jt, jf, k }
    }

    /// The same instruction as a `libc::sock_filter`, for `SO_ATTACH_FILTER`.
    pub fn to_sock_filter(self) -> libc::sock_filter {
        libc::sock_filter {
            code: self.code,
            jt: self.jt,
            jf: self.jf,
            k: self.k,
        }
    }
}

/// Converts a program for [`crate::link::afpacket::LiveLink::attach_filter`].
pub fn to_sock_filters(prog: &[Insn]) -> Vec<libc::sock_filter> {
    prog.iter().map(|i| i.to_sock_filter()).collect()
}

// Instruction classes.
pub const BPF_LD: u16 = 0x00;
pub const BPF_LDX: u16 = 0x01;
pub const BPF_ST: u16 = 0x02;
pub const BPF_STX: u16 = 0x03;
pub const BPF_ALU: u16 = 0x04;
pub const BPF_JMP: u16 = 0x05;
pub const BPF_RET: u16 = 0x06;
pub const BPF_MISC: u16 = 0x07;
// Sizes.
pub const BPF_W: u16 = 0x00;
pub const BPF_H: u16 = 0x08;
pub const BPF_B: u16 = 0x10;
// Modes.
pub const BPF_IMM: u16 = 0x00;
pub const BPF_ABS: u16 = 0x20;
pub const BPF_IND: u16 = 0x40;
pub const BPF_MEM: u16 = 0x60;
pub const BPF_LEN: u16 = 0x80;
pub const BPF_MSH: u16 = 0xa0;
// ALU operations.
pub const BPF_ADD: u16 = 0x00;
pub const BPF_SUB: u16 = 0x10;
pub const BPF_MUL: u16 = 0x20;
pub const BPF_DIV: u16 = 0x30;
pub const BPF_OR: u16 = 0x40;
pub const BPF_AND: u16 = 0x50;
pub const BPF_LSH: u16 = 0x60;
pub const BPF_RSH: u16 = 0x70;
pub const BPF_NEG: u16 = 0x80;
pub const BPF_MOD: u16 = 0x90;
pub const BPF_XOR: u16 = 0xa0;
// Jumps.
pub const BPF_JA: u16 = 0x00;
pub const BPF_JEQ: u16 = 0x10;
pub const BPF_JGT: u16 = 0x20;
pub const BPF_JGE: u16 = 0x30;
pub const BPF_JSET: u16 = 0x40;
// Sources.
pub const BPF_K: u16 = 0x00;
pub const BPF_X: u16 = 0x08;
pub const BPF_A: u16 = 0x10;
// Misc.
pub const BPF_TAX: u16 = 0x00;
pub const BPF_TXA: u16 = 0x80;

/// Number of scratch memory words.
pub const BPF_MEMWORDS: usize = 16;

fn load(pkt: &[u8], off: u32, size: u32) -> Option<u32> {
    let off = off as usize;
    let end = off.checked_add(size as usize)?;
    let b = pkt.get(off..end)?;
    Some(b.iter().fold(0u32, |acc, &x| (acc << 8) | u32::from(x)))
}

/// Runs `prog` on `pkt` (the captured bytes; `wirelen` is the length on the wire)
/// and returns the number of bytes to accept, 0 meaning reject.
///
/// Follows libpcap's `bpf_filter`: a load outside the packet, a division by
/// zero, an invalid instruction or running off the end rejects the packet.
pub fn run(prog: &[Insn], pkt: &[u8], wirelen: u32) -> u32 {
    let mut a: u32 = 0;
    let mut x: u32 = 0;
    let mut mem = [0u32; BPF_MEMWORDS];
    let mut pc = 0usize;
    while let Some(ins) = prog.get(pc) {
        pc += 1;
        let k = ins.k;
        let code = ins.code;
        match code & 0x07 {
            BPF_RET => {
                return if code & 0x18 == BPF_A { a } else { k };
            }
            BPF_LD | BPF_LDX => {
                let is_x = code & 0x07 == BPF_LDX;
                let size = match code & 0x18 {
                    BPF_W => 4,
                    BPF_H => 2,
                    BPF_B => 1,
                    _ => return 0,
                };
                let v = match code & 0xe0 {
                    BPF_IMM => k,
                    BPF_LEN => wirelen,
                    BPF_MEM => match mem.get(k as usize) {
                        Some(&v) => v,
                        None => return 0,
                    },
                    BPF_ABS if !is_x => match load(pkt, k, size) {
                        Some(v) => v,
                        None => return 0,
                    },
                    BPF_IND if !is_x => {
                        let Some(off) = x.checked_add(k) else {
                            return 0;
                        };
                        match load(pkt, off, size) {
                            Some(v) => v,
                            None => return 0,
                        }
                    }
                    BPF_MSH if is_x && size == 1 => match load(pkt, k, 1) {
                        Some(v) => (v & 0xf) << 2,
                        None => return 0,
                    },
                    _ => return 0,
                };
                if is_x {
                    x = v;
                } else {
                    a = v;
                }
            }
            BPF_ST | BPF_STX => {
                let v = if code & 0x07 == BPF_ST { a } else { x };
                match mem.get_mut(k as usize) {
                    Some(m) => *m = v,
                    None => return 0,
                }
            }
            BPF_ALU => {
                let src = if code & BPF_X != 0 { x } else { k };
                a = match code & 0xf0 {
                    BPF_ADD => a.wrapping_add(src),
                    BPF_SUB => a.wrapping_sub(src),
                    BPF_MUL => a.wrapping_mul(src),
                    BPF_DIV => match a.checked_div(src) {
                        Some(v) => v,
                        None => return 0,
                    },
                    BPF_MOD => match a.checked_rem(src) {
                        Some(v) => v,
                        None => return 0,
                    },
                    BPF_AND => a & src,
                    BPF_OR => a | src,
                    BPF_XOR => a ^ src,
                    BPF_LSH => a.checked_shl(src).unwrap_or(0),
                    BPF_RSH => a.checked_shr(src).unwrap_or(0),
                    BPF_NEG => a.wrapping_neg(),
                    _ => return 0,
                };
            }
            BPF_JMP => {
                if code & 0xf0 == BPF_JA {
                    pc = match pc.checked_add(k as usize) {
                        Some(p) => p,
                        None => return 0,
                    };
                    continue;
                }
                let src = if code & BPF_X != 0 { x } else { k };
                let cond = match code & 0xf0 {
                    BPF_JEQ => a == src,
                    BPF_JGT => a > src,
                    BPF_JGE => a >= src,
                    BPF_JSET => a & src != 0,
                    _ => return 0,
                };
                pc += usize::from(if cond { ins.jt } else { ins.jf });
            }
            _ => {
                // BPF_MISC
                match code & 0xf8 {
                    BPF_TAX => x = a,
                    BPF_TXA => a = x,
                    _ => return 0,
                }
            }
        }
    }
    0
}

/// One instruction in the format of `tcpdump -d` (libpcap's `bpf_image`).
pub fn image(ins: &Insn, n: usize) -> String {
    let k = ins.k;
    let ks = k as i32;
    let (op, operand): (&str, String) = match ins.code {
        c if c == BPF_RET | BPF_K => ("ret", format!("#{ks}")),
        c if c == BPF_RET | BPF_A => ("ret", String::new()),
        c if c == BPF_LD | BPF_W | BPF_ABS => ("ld", format!("[{ks}]")),
        c if c == BPF_LD | BPF_H | BPF_ABS => ("ldh", format!("[{ks}]")),
        c if c == BPF_LD | BPF_B | BPF_ABS => ("ldb", format!("[{ks}]")),
        c if c == BPF_LD | BPF_W | BPF_LEN => ("ld", "#pktlen".into()),
        c if c == BPF_LD | BPF_W | BPF_IND => ("ld", format!("[x + {ks}]")),
        c if c == BPF_LD | BPF_H | BPF_IND => ("ldh", format!("[x + {ks}]")),
        c if c == BPF_LD | BPF_B | BPF_IND => ("ldb", format!("[x + {ks}]")),
        c if c == BPF_LD | BPF_IMM => ("ld", format!("#0x{k:x}")),
        c if c == BPF_LDX | BPF_IMM => ("ldx", format!("#0x{k:x}")),
        c if c == BPF_LDX | BPF_MSH | BPF_B => ("ldxb", format!("4*([{ks}]&0xf)")),
        c if c == BPF_LD | BPF_MEM => ("ld", format!("M[{ks}]")),
        c if c == BPF_LDX | BPF_MEM => ("ldx", format!("M[{ks}]")),
        c if c == BPF_LDX | BPF_W | BPF_LEN => ("ldx", "#pktlen".into()),
        c if c == BPF_ST => ("st", format!("M[{ks}]")),
        c if c == BPF_STX => ("stx", format!("M[{ks}]")),
        c if c == BPF_JMP | BPF_JA => ("ja", format!("{}", n as u64 + 1 + u64::from(k))),
        c if c == BPF_JMP | BPF_JGT | BPF_K => ("jgt", format!("#0x{k:x}")),
        c if c == BPF_JMP | BPF_JGE | BPF_K => ("jge", format!("#0x{k:x}")),
        c if c == BPF_JMP | BPF_JEQ | BPF_K => ("jeq", format!("#0x{k:x}")),
        c if c == BPF_JMP | BPF_JSET | BPF_K => ("jset", format!("#0x{k:x}")),
        c if c == BPF_JMP | BPF_JGT | BPF_X => ("jgt", "x".into()),
        c if c == BPF_JMP | BPF_JGE | BPF_X => ("jge", "x".into()),
        c if c == BPF_JMP | BPF_JEQ | BPF_X => ("jeq", "x".into()),
        c if c == BPF_JMP | BPF_JSET | BPF_X => ("jset", "x".into()),
        c if c == BPF_ALU | BPF_ADD | BPF_X => ("add", "x".into()),
        c if c == BPF_ALU | BPF_SUB | BPF_X => ("sub", "x".into()),
        c if c == BPF_ALU | BPF_MUL | BPF_X => ("mul", "x".into()),
        c if c == BPF_ALU | BPF_DIV | BPF_X => ("div", "x".into()),
        c if c == BPF_ALU | BPF_MOD | BPF_X => ("mod", "x".into()),
        c if c == BPF_ALU | BPF_AND | BPF_X => ("and", "x".into()),
        c if c == BPF_ALU | BPF_OR | BPF_X => ("or", "x".into()),
        c if c == BPF_ALU | BPF_XOR | BPF_X => ("xor", "x".into()),
        c if c == BPF_ALU | BPF_LSH | BPF_X => ("lsh", "x".into()),
        c if c == BPF_ALU | BPF_RSH | BPF_X => ("rsh", "x".into()),
        c if c == BPF_ALU | BPF_ADD | BPF_K => ("add", format!("#{ks}")),
        c if c == BPF_ALU | BPF_SUB | BPF_K => ("sub", format!("#{ks}")),
        c if c == BPF_ALU | BPF_MUL | BPF_K => ("mul", format!("#{ks}")),
        c if c == BPF_ALU | BPF_DIV | BPF_K => ("div", format!("#{ks}")),
        c if c == BPF_ALU | BPF_MOD | BPF_K => ("mod", format!("#{ks}")),
        c if c == BPF_ALU | BPF_AND | BPF_K => ("and", format!("#0x{k:x}")),
        c if c == BPF_ALU | BPF_OR | BPF_K => ("or", format!("#0x{k:x}")),
        c if c == BPF_ALU | BPF_XOR | BPF_K => ("xor", format!("#0x{k:x}")),
        c if c == BPF_ALU | BPF_LSH | BPF_K => ("lsh", format!("#{ks}")),
        c if c == BPF_ALU | BPF_RSH | BPF_K => ("rsh", format!("#{ks}")),
        c if c == BPF_ALU | BPF_NEG => ("neg", String::new()),
        c if c == BPF_MISC | BPF_TAX => ("tax", String::new()),
        c if c == BPF_MISC | BPF_TXA => ("txa", String::new()),
        _ => ("unimp", format!("0x{:x}", ins.code)),
    };
    if ins.code & 0x07 == BPF_JMP && ins.code & 0xf0 != BPF_JA {
        format!(
            "({n:03}) {op:<8} {operand:<16} jt {}\tjf {}",
            n + 1 + usize::from(ins.jt),
            n + 1 + usize::from(ins.jf)
        )
    } else {
        format!("({n:03}) {op:<8} {operand}")
    }
}

/// The whole program in the format of `tcpdump -d`, one instruction a line.
pub fn dump(prog: &[Insn]) -> String {
    let mut s = String::new();
    for (n, ins) in prog.iter().enumerate() {
        s.push_str(&image(ins, n));
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_sock_filter() {
        assert_eq!(
            std::mem::size_of::<Insn>(),
            std::mem::size_of::<libc::sock_filter>()
        );
        assert_eq!(
            std::mem::align_of::<Insn>(),
            std::mem::align_of::<libc::sock_filter>()
        );
    }

    #[test]
    fn dump_ip() {
        let prog = [
            Insn::stmt(BPF_LD | BPF_H | BPF_ABS, 12),
            Insn::jump(BPF_JMP | BPF_JEQ | BPF_K, 0x800, 0, 1),
            Insn::stmt(BPF_RET | BPF_K, 262144),
            Insn::stmt(BPF_RET | BPF_K, 0),
        ];
        assert_eq!(
            dump(&prog),
            "(000) ldh      [12]\n(001) jeq      #0x800           jt 2\tjf 3\n(002) ret      #262144\n(003) ret      #0\n"
        );
        let mut pkt = vec![0u8; 14];
        pkt[12] = 8;
        assert_eq!(run(&prog, &pkt, 14), 262144);
        pkt[12] = 0x86;
        assert_eq!(run(&prog, &pkt, 14), 0);
        assert_eq!(run(&prog, &pkt[..13], 14), 0);
    }

    #[test]
    fn alu_scratch_and_msh() {
        let prog = [
            Insn::stmt(BPF_LDX | BPF_MSH | BPF_B, 0),
            Insn::stmt(BPF_MISC | BPF_TXA, 0),
            Insn::stmt(BPF_ALU | BPF_ADD | BPF_K, 3),
            Insn::stmt(BPF_ST, 5),
            Insn::stmt(BPF_LDX | BPF_MEM, 5),
            Insn::stmt(BPF_ALU | BPF_MUL | BPF_X, 0),
            Insn::stmt(BPF_RET | BPF_A, 0),
        ];
        // x = 4 * 5 = 20, a = 23, a = 23 * 23
        assert_eq!(run(&prog, &[0x45], 1), 529);
        let div0 = [
            Insn::stmt(BPF_LDX | BPF_IMM, 0),
            Insn::stmt(BPF_ALU | BPF_DIV | BPF_X, 0),
            Insn::stmt(BPF_RET | BPF_K, 1),
        ];
        assert_eq!(run(&div0, &[], 0), 0);
    }
}
