//! Shared by the fuzz targets (each uses some of it).

#![allow(dead_code)]

use pktscript::layers::{REGISTRY, Space};
use std::sync::OnceLock;

/// Every pcap link type some layer file binds (`Space::LinkType`), sorted:
/// taken from the registry, so a new link layer is fuzzed without an edit
/// here.
pub fn linktypes() -> &'static [u32] {
    static LINKTYPES: OnceLock<Vec<u32>> = OnceLock::new();
    LINKTYPES.get_or_init(|| {
        let mut v: Vec<u32> = REGISTRY
            .iter()
            .flat_map(|p| p.bindings.iter())
            .filter(|b| b.space == Space::LinkType)
            .filter_map(|b| u32::try_from(b.value).ok())
            .collect();
        v.sort_unstable();
        v.dedup();
        assert!(!v.is_empty(), "no layer binds a link type");
        v
    })
}

/// The link type a fuzz input's selector byte picks.
pub fn linktype(selector: u8) -> u32 {
    let l = linktypes();
    l[usize::from(selector) % l.len()]
}

use pktscript::filter::Insn;
use pktscript::filter::bpf::*;

/// The most instructions a classic BPF program may have (the kernel's
/// `BPF_MAXINSNS`).
pub const BPF_MAXINSNS: usize = 4096;
/// Absolute loads at or above this offset are the kernel's ancillary data
/// (`SKF_AD_OFF`), never packet bytes.
const SKF_AD_OFF: u32 = 0xffff_f000;

/// Whether `code` is an opcode the kernel's classic BPF checker allows
/// (`chk_code_allowed` in net/core/filter.c).
fn code_allowed(code: u16) -> bool {
    const ALU_OPS: [u16; 10] = [
        BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_MOD, BPF_AND, BPF_OR, BPF_XOR, BPF_LSH, BPF_RSH,
    ];
    const JMP_OPS: [u16; 4] = [BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET];
    let fixed = [
        BPF_ALU | BPF_NEG,
        BPF_LD | BPF_W | BPF_ABS,
        BPF_LD | BPF_H | BPF_ABS,
        BPF_LD | BPF_B | BPF_ABS,
        BPF_LD | BPF_W | BPF_LEN,
        BPF_LD | BPF_W | BPF_IND,
        BPF_LD | BPF_H | BPF_IND,
        BPF_LD | BPF_B | BPF_IND,
        BPF_LD | BPF_IMM,
        BPF_LD | BPF_MEM,
        BPF_LDX | BPF_W | BPF_LEN,
        BPF_LDX | BPF_B | BPF_MSH,
        BPF_LDX | BPF_IMM,
        BPF_LDX | BPF_MEM,
        BPF_ST,
        BPF_STX,
        BPF_MISC | BPF_TAX,
        BPF_MISC | BPF_TXA,
        BPF_RET | BPF_K,
        BPF_RET | BPF_A,
        BPF_JMP | BPF_JA,
    ];
    fixed.contains(&code)
        || ALU_OPS
            .iter()
            .any(|&op| code == BPF_ALU | op | BPF_K || code == BPF_ALU | op | BPF_X)
        || JMP_OPS
            .iter()
            .any(|&op| code == BPF_JMP | op | BPF_K || code == BPF_JMP | op | BPF_X)
}

fn is_cond_jump(code: u16) -> bool {
    code & 0x07 == BPF_JMP && code & 0xf0 != BPF_JA
}

/// Checks what the compiler promises of every program, which is what the
/// kernel's `bpf_check_classic` demands before it attaches one: 1 to 4096
/// instructions, allowed opcodes only, no division or modulus by a
/// constant 0, constant shifts below 32, scratch memory words in range,
/// every jump forward and inside the program, a RET last, and no scratch word read before it is stored on every path
/// (`check_load_and_stores`). Panics naming the broken rule.
pub fn check_program(prog: &[Insn], what: &str) {
    let n = prog.len();
    assert!(
        (1..=BPF_MAXINSNS).contains(&n),
        "{what}: {n} instructions\n{}",
        dump(prog)
    );
    for (pc, ins) in prog.iter().enumerate() {
        let code = ins.code;
        let k = ins.k;
        let bad = |rule: &str| -> ! {
            panic!(
                "{what}: instruction {pc} ({code:#x}, k={k}): {rule}\n{}",
                dump(prog)
            )
        };
        if !code_allowed(code) {
            bad("opcode not allowed");
        }
        if (code == BPF_ALU | BPF_DIV | BPF_K || code == BPF_ALU | BPF_MOD | BPF_K) && k == 0 {
            bad("division by constant 0");
        }
        if (code == BPF_ALU | BPF_LSH | BPF_K || code == BPF_ALU | BPF_RSH | BPF_K) && k >= 32 {
            bad("constant shift by 32 or more");
        }
        if [BPF_LD | BPF_MEM, BPF_LDX | BPF_MEM, BPF_ST, BPF_STX].contains(&code)
            && k as usize >= BPF_MEMWORDS
        {
            bad("scratch memory word out of range");
        }
        if code == BPF_JMP | BPF_JA && u64::from(k) >= (n - pc - 1) as u64 {
            bad("ja out of the program");
        }
        if is_cond_jump(code)
            && (pc + usize::from(ins.jt) + 1 >= n || pc + usize::from(ins.jf) + 1 >= n)
        {
            bad("conditional jump out of the program");
        }
        // Not checked: absolute loads at SKF_AD_OFF (0xfffff000) and above,
        // which the kernel takes for ancillary data (refusing the program,
        // or loading skb fields for the offsets it knows). The compiler
        // emits them for indexes that wrap (`ether[0xfffff000:2]`), as
        // libpcap does; see docs/testing.md, Fuzzing.
        let _ = SKF_AD_OFF;
    }
    let last = prog[n - 1].code;
    assert!(
        last == BPF_RET | BPF_K || last == BPF_RET | BPF_A,
        "{what}: the last instruction is not a RET\n{}",
        dump(prog)
    );
    // check_load_and_stores, as the kernel does it.
    let mut masks = vec![u16::MAX; n];
    let mut valid = 0u16;
    for (pc, ins) in prog.iter().enumerate() {
        valid &= masks[pc];
        let code = ins.code;
        if code == BPF_ST || code == BPF_STX {
            valid |= 1 << ins.k;
        } else if code == BPF_LD | BPF_MEM || code == BPF_LDX | BPF_MEM {
            assert!(
                valid & (1 << ins.k) != 0,
                "{what}: instruction {pc} reads scratch word {} before it is stored\n{}",
                ins.k,
                dump(prog)
            );
        } else if code == BPF_JMP | BPF_JA {
            masks[pc + 1 + ins.k as usize] &= valid;
            valid = u16::MAX;
        } else if is_cond_jump(code) {
            masks[pc + 1 + usize::from(ins.jt)] &= valid;
            masks[pc + 1 + usize::from(ins.jf)] &= valid;
            valid = u16::MAX;
        }
    }
}

/// The outcome of a run of the reference interpreter.
pub struct Run {
    /// What the program returned (0: reject).
    pub ret: u32,
    /// Whether a load fell outside the packet (which ends the run, rejecting).
    pub out_of_bounds: bool,
    /// Instructions executed.
    pub steps: usize,
}

/// A second interpreter, written from the kernel's semantics rather than
/// from `bpf::run`, to run a checked program and compare: every load is
/// bounds-checked (outside the packet: return 0 and say so), division by
/// X = 0 returns 0, and the run ends within one step per instruction
/// (jumps only go forward).
pub fn reference_run(prog: &[Insn], pkt: &[u8], wirelen: u32) -> Run {
    let (mut a, mut x) = (0u32, 0u32);
    let mut mem = [0u32; BPF_MEMWORDS];
    let mut pc = 0usize;
    let mut steps = 0usize;
    let oob = |steps| Run {
        ret: 0,
        out_of_bounds: true,
        steps,
    };
    let load = |off: u64, size: u64| -> Option<u32> {
        let end = off.checked_add(size)?;
        if end > pkt.len() as u64 {
            return None;
        }
        let b = &pkt[off as usize..end as usize];
        Some(b.iter().fold(0u32, |v, &byte| (v << 8) | u32::from(byte)))
    };
    loop {
        let ins = prog[pc];
        steps += 1;
        assert!(
            steps <= prog.len(),
            "the run did not end within one step per instruction"
        );
        let k = ins.k;
        pc += 1;
        let size = |code: u16| match code & 0x18 {
            BPF_W => 4,
            BPF_H => 2,
            _ => 1,
        };
        match ins.code {
            c if c == BPF_RET | BPF_K => {
                return Run {
                    ret: k,
                    out_of_bounds: false,
                    steps,
                };
            }
            c if c == BPF_RET | BPF_A => {
                return Run {
                    ret: a,
                    out_of_bounds: false,
                    steps,
                };
            }
            c if c & 0x07 == BPF_LD && c & 0xe0 == BPF_ABS => match load(u64::from(k), size(c)) {
                Some(v) => a = v,
                None => return oob(steps),
            },
            c if c & 0x07 == BPF_LD && c & 0xe0 == BPF_IND => {
                match load(u64::from(x) + u64::from(k), size(c)) {
                    Some(v) => a = v,
                    None => return oob(steps),
                }
            }
            c if c == BPF_LDX | BPF_B | BPF_MSH => match load(u64::from(k), 1) {
                Some(v) => x = (v & 0xf) * 4,
                None => return oob(steps),
            },
            c if c == BPF_LD | BPF_W | BPF_LEN => a = wirelen,
            c if c == BPF_LDX | BPF_W | BPF_LEN => x = wirelen,
            c if c == BPF_LD | BPF_IMM => a = k,
            c if c == BPF_LDX | BPF_IMM => x = k,
            c if c == BPF_LD | BPF_MEM => a = mem[k as usize],
            c if c == BPF_LDX | BPF_MEM => x = mem[k as usize],
            c if c == BPF_ST => mem[k as usize] = a,
            c if c == BPF_STX => mem[k as usize] = x,
            c if c == BPF_MISC | BPF_TAX => x = a,
            c if c == BPF_MISC | BPF_TXA => a = x,
            c if c == BPF_JMP | BPF_JA => pc += k as usize,
            c if c & 0x07 == BPF_JMP => {
                let src = if c & BPF_X != 0 { x } else { k };
                let taken = match c & 0xf0 {
                    BPF_JEQ => a == src,
                    BPF_JGT => a > src,
                    BPF_JGE => a >= src,
                    _ => a & src != 0,
                };
                pc += usize::from(if taken { ins.jt } else { ins.jf });
            }
            c if c & 0x07 == BPF_ALU => {
                let src = if c & BPF_X != 0 { x } else { k };
                a = match c & 0xf0 {
                    BPF_ADD => a.wrapping_add(src),
                    BPF_SUB => a.wrapping_sub(src),
                    BPF_MUL => a.wrapping_mul(src),
                    BPF_DIV | BPF_MOD if src == 0 => {
                        return Run {
                            ret: 0,
                            out_of_bounds: false,
                            steps,
                        };
                    }
                    BPF_DIV => a / src,
                    BPF_MOD => a % src,
                    BPF_AND => a & src,
                    BPF_OR => a | src,
                    BPF_XOR => a ^ src,
                    // Constant shifts are below 32 (checked); the kernel
                    // masks a shift by X (x86 semantics), libpcap gives 0.
                    BPF_LSH => a.checked_shl(src).unwrap_or(0),
                    BPF_RSH => a.checked_shr(src).unwrap_or(0),
                    _ => a.wrapping_neg(),
                };
            }
            c => panic!("unchecked opcode {c:#x}"),
        }
    }
}

/// Checks a compiled program (`check_program`), runs it on `pkt` with both
/// interpreters and checks that they agree, that a load outside the packet
/// rejected it, and that it returned what the compiler's programs return
/// (0, or `ACCEPT`). Returns the verdict.
pub fn run_checked(prog: &[Insn], pkt: &[u8], wirelen: u32, what: &str) -> u32 {
    check_program(prog, what);
    let ours = pktscript::filter::run(prog, pkt, wirelen);
    let reference = reference_run(prog, pkt, wirelen);
    assert_eq!(
        ours,
        reference.ret,
        "{what}: bpf::run returned {ours}, the reference {} (out of bounds: {})\n{}",
        reference.ret,
        reference.out_of_bounds,
        dump(prog)
    );
    if reference.out_of_bounds {
        assert_eq!(
            ours, 0,
            "{what}: a load outside the packet did not reject it"
        );
    }
    assert!(
        ours == 0 || ours == pktscript::filter::codegen::ACCEPT,
        "{what}: returned {ours}\n{}",
        dump(prog)
    );
    ours
}
