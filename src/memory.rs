//! The process's memory: a counting global allocator and the cap that
//! scripts run under (`--max-memory`).
//!
//! [`Counting`] wraps the system allocator and keeps the bytes in use (the
//! sizes asked for, not the pages the kernel hands out) in one atomic
//! counter. The `pktscript` binary installs it as its `#[global_allocator]`;
//! without it (the library's own unit tests) the counter stays at zero and
//! no cap can be reached.
//!
//! Two bounds hang on the counter:
//!
//! - the **cap** ([`set_limit`], `--max-memory`, default [`default_limit`]):
//!   the engine's `on_progress` callback asks [`check`] before every script
//!   operation, so a script whose data grew past the cap stops at its next
//!   operation with an error that names the flag. Functions that allocate by
//!   a size the script gives (`blob(n)`, `pad`, ...) ask [`reserve`] first
//!   and refuse before allocating anything.
//! - the **ceiling**, twice the cap plus [`CEILING_MARGIN`]: an allocation
//!   that would take the process past it (one native call that grows without
//!   a script operation in between, and without a check of its own) ends the
//!   process at once with a message on stderr and status 1. One operation
//!   can at most double a value that fits under the cap (`s += s`), so
//!   scripts meet the cap first.

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

/// Bytes allocated and not yet freed.
static IN_USE: AtomicUsize = AtomicUsize::new(0);
/// The cap; `usize::MAX` for none.
static LIMIT: AtomicUsize = AtomicUsize::new(usize::MAX);
/// The ceiling; `usize::MAX` for none.
static CEILING: AtomicUsize = AtomicUsize::new(usize::MAX);
/// Set by an allocation that took the count past the cap; cleared by
/// [`over_limit`] once it is back under. One load per script operation.
static OVER: AtomicBool = AtomicBool::new(false);

/// The largest default cap, and the default on machines with at least
/// twice as much memory.
pub const DEFAULT_LIMIT: usize = 4 << 30;

/// What the ceiling adds to twice the cap.
pub const CEILING_MARGIN: usize = 1 << 30;

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;
const GIB: usize = 1 << 30;
const TIB: usize = 1 << 40;

/// The system allocator with a count of the bytes in use.
pub struct Counting;

// SAFETY: every call goes to `System` with the caller's layout and pointer
// unchanged; the counter is only arithmetic beside it.
unsafe impl GlobalAlloc for Counting {
    // `alloc` and `dealloc`, inlined at every allocation site, are kept to
    // one atomic add and one compare: a failed allocation is not given back
    // to the count (the process aborts on it, or the caller's `try_reserve`
    // gets its error with the count a little high).
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        charge(layout.size());
        // SAFETY: forwarded as is (the caller upholds `alloc`'s contract).
        unsafe { System.alloc(layout) }
    }

    #[inline(never)]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        charge(layout.size());
        // SAFETY: forwarded as is.
        unsafe { System.alloc_zeroed(layout) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        IN_USE.fetch_sub(layout.size(), Relaxed);
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) };
    }

    #[inline(never)]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = layout.size();
        if new_size > old {
            charge(new_size - old);
        }
        // SAFETY: forwarded as is.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if p.is_null() {
            // The old block stays as it was.
            if new_size > old {
                IN_USE.fetch_sub(new_size - old, Relaxed);
            }
        } else if new_size < old {
            IN_USE.fetch_sub(old - new_size, Relaxed);
        }
        p
    }
}

/// Counts `n` more bytes: past the cap, notes it; past the ceiling, ends
/// the process.
#[inline(always)]
fn charge(n: usize) {
    let now = IN_USE.fetch_add(n, Relaxed).wrapping_add(n);
    if now > LIMIT.load(Relaxed) {
        past_limit(n, now);
    }
}

#[cold]
#[inline(never)]
fn past_limit(n: usize, now: usize) {
    if now > CEILING.load(Relaxed) {
        past_ceiling(n, now);
    }
    OVER.store(true, Relaxed);
}

/// Ends the process: an allocation would take it past the ceiling. Called
/// from inside the allocator, so it must not allocate: the message is
/// formatted into a buffer on the stack and written with `write(2)`.
#[cold]
#[inline(never)]
fn past_ceiling(n: usize, now: usize) -> ! {
    let mut buf = StackBuf::new();
    let limit = LIMIT.load(Relaxed);
    let _ = fmt::write(
        &mut buf,
        format_args!(
            "pktscript: out of memory: allocating {} more would take the process to {}, past its \
             ceiling of {} (twice the --max-memory limit of {}, plus {}); the script was stopped\n  \
             help: if the work is real, raise the limit: pktscript --max-memory SIZE (e.g. 8G; \
             0 or none = unlimited)\n",
            Size(n),
            Size(now),
            Size(CEILING.load(Relaxed)),
            Size(limit),
            Size(CEILING_MARGIN),
        ),
    );
    let bytes = buf.as_bytes();
    // SAFETY: writing a buffer we own to stderr, then leaving the process
    // without running anything that could allocate.
    unsafe {
        libc::write(2, bytes.as_ptr().cast(), bytes.len());
        libc::_exit(1)
    }
}

/// A message buffer that does not allocate (what does not fit is cut).
struct StackBuf {
    buf: [u8; 512],
    len: usize,
}

impl StackBuf {
    fn new() -> StackBuf {
        StackBuf {
            buf: [0; 512],
            len: 0,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.buf.len() - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// The bytes in use now.
pub fn in_use() -> usize {
    IN_USE.load(Relaxed)
}

/// The cap, if any.
pub fn limit() -> Option<usize> {
    match LIMIT.load(Relaxed) {
        usize::MAX => None,
        n => Some(n),
    }
}

/// The ceiling that goes with a cap: twice the cap plus [`CEILING_MARGIN`].
pub fn ceiling_for(limit: usize) -> usize {
    limit.saturating_mul(2).saturating_add(CEILING_MARGIN)
}

/// Sets the cap (and with it the ceiling); `None` lifts both.
pub fn set_limit(limit: Option<usize>) {
    match limit {
        Some(n) => {
            // The ceiling first, so that it is never below a cap in force.
            CEILING.store(ceiling_for(n), Relaxed);
            LIMIT.store(n, Relaxed);
        }
        None => {
            LIMIT.store(usize::MAX, Relaxed);
            CEILING.store(usize::MAX, Relaxed);
        }
    }
    OVER.store(IN_USE.load(Relaxed) > LIMIT.load(Relaxed), Relaxed);
}

/// Whether the bytes in use are past the cap: the check made before every
/// script operation, a single load while under the cap.
#[inline(always)]
pub fn over_limit() -> bool {
    OVER.load(Relaxed) && still_over()
}

#[cold]
#[inline(never)]
fn still_over() -> bool {
    let over = IN_USE.load(Relaxed) > LIMIT.load(Relaxed);
    if !over {
        OVER.store(false, Relaxed);
    }
    over
}

/// The cap was passed: what was in use against what is allowed, and, when
/// an allocation was refused before it was made, its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exceeded {
    pub limit: usize,
    pub in_use: usize,
    pub wanted: Option<usize>,
}

/// Whether the bytes in use are within the cap.
#[inline]
pub fn check() -> Result<(), Exceeded> {
    let in_use = IN_USE.load(Relaxed);
    let limit = LIMIT.load(Relaxed);
    if in_use > limit {
        Err(Exceeded {
            limit,
            in_use,
            wanted: None,
        })
    } else {
        Ok(())
    }
}

/// Whether `bytes` more would stay within the cap (to be asked before an
/// allocation whose size a script chose).
#[inline]
pub fn reserve(bytes: usize) -> Result<(), Exceeded> {
    let in_use = IN_USE.load(Relaxed);
    let limit = LIMIT.load(Relaxed);
    if in_use.saturating_add(bytes) > limit {
        Err(Exceeded {
            limit,
            in_use,
            wanted: Some(bytes),
        })
    } else {
        Ok(())
    }
}

/// The default cap: [`DEFAULT_LIMIT`] (4 GiB), or half the memory the
/// process may use when that is less than 8 GiB (the physical memory, or the
/// control group's limit when lower), rounded down to a MiB.
pub fn default_limit() -> usize {
    match available_memory() {
        Some(avail) if avail / 2 < DEFAULT_LIMIT => (avail / 2 / MIB * MIB).max(64 * MIB),
        _ => DEFAULT_LIMIT,
    }
}

/// The memory the process may use: the physical memory, or its control
/// group's limit when lower.
fn available_memory() -> Option<usize> {
    // SAFETY: sysconf has no preconditions.
    let (pages, page) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    let phys = if pages > 0 && page > 0 {
        Some((pages as u128 * page as u128).min(usize::MAX as u128) as usize)
    } else {
        None
    };
    match (phys, cgroup_limit()) {
        (Some(p), Some(c)) => Some(p.min(c)),
        (p, c) => p.or(c),
    }
}

/// The memory limit of the process's control group (v2 `memory.max` or v1
/// `memory.limit_in_bytes`), if one is set.
fn cgroup_limit() -> Option<usize> {
    let groups = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mut files = Vec::new();
    for line in groups.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(ctrl), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if ctrl.is_empty() {
            files.push(format!("/sys/fs/cgroup{path}/memory.max"));
        } else if ctrl.split(',').any(|c| c == "memory") {
            files.push(format!("/sys/fs/cgroup/memory{path}/memory.limit_in_bytes"));
        }
    }
    files.push("/sys/fs/cgroup/memory.max".into());
    files.push("/sys/fs/cgroup/memory/memory.limit_in_bytes".into());
    files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .filter_map(|s| s.trim().parse::<u64>().ok())
        // v1 says "no limit" with a huge number.
        .filter(|&n| n > 0 && n < 1 << 60)
        .map(|n| n.min(usize::MAX as u64) as usize)
        .min()
}

/// A byte count for people: `4 GiB`, `1.5 GiB`, `256 MiB`, `12 KiB`, `100 bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub usize);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        if n == usize::MAX {
            return f.write_str("unlimited");
        }
        for (unit, name) in [(TIB, "TiB"), (GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")] {
            if n >= unit {
                if n.is_multiple_of(unit) {
                    return write!(f, "{} {name}", n / unit);
                }
                // Three significant digits or so, trailing zeros cut:
                // 1.05 GiB, 953.7 MiB. Formatted on the stack (the
                // allocator's own message uses this).
                let v = n as f64 / unit as f64;
                let mut buf = StackBuf::new();
                let _ = if v < 10.0 {
                    fmt::write(&mut buf, format_args!("{v:.2}"))
                } else {
                    fmt::write(&mut buf, format_args!("{v:.1}"))
                };
                let text = std::str::from_utf8(buf.as_bytes()).unwrap_or("?");
                let text = text.trim_end_matches('0').trim_end_matches('.');
                return write!(f, "{text} {name}");
            }
        }
        write!(f, "{n} bytes")
    }
}

/// A `--max-memory` value: a size, or none (unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryLimit(pub Option<usize>);

impl MemoryLimit {
    /// The default, [`default_limit`].
    pub fn default_for_machine() -> MemoryLimit {
        MemoryLimit(Some(default_limit()))
    }
}

impl fmt::Display for MemoryLimit {
    /// As the flag takes it: `4G`, `1536M`, `none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(n) = self.0 else {
            return f.write_str("none");
        };
        for (unit, name) in [(TIB, "T"), (GIB, "G"), (MIB, "M"), (KIB, "K")] {
            if n >= unit && n.is_multiple_of(unit) {
                return write!(f, "{}{name}", n / unit);
            }
        }
        write!(f, "{n}")
    }
}

impl std::str::FromStr for MemoryLimit {
    type Err = String;

    /// `512M`, `2G`, `1.5G`, `64K`, `1T`, `1048576` (bytes; a `B`, `iB` or
    /// `B` after the unit is allowed, case does not matter, units are powers
    /// of 1024); `0`, `none` or `unlimited` for no cap.
    fn from_str(s: &str) -> Result<MemoryLimit, String> {
        let t = s.trim().to_ascii_lowercase();
        if matches!(t.as_str(), "none" | "unlimited" | "0") {
            return Ok(MemoryLimit(None));
        }
        let bad = || {
            format!(
                "`{s}` is not a size: give a number with a unit, as 512M, 2G or 1.5G (K, M, G, T \
                 are powers of 1024), or none (also 0) for no limit"
            )
        };
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let unit = unit.trim();
        let mult: u128 = match unit {
            "" | "b" => 1,
            "k" | "kb" | "kib" => KIB as u128,
            "m" | "mb" | "mib" => MIB as u128,
            "g" | "gb" | "gib" => GIB as u128,
            "t" | "tb" | "tib" => TIB as u128,
            _ => return Err(bad()),
        };
        if num.is_empty() || num.matches('.').count() > 1 || num == "." {
            return Err(bad());
        }
        // Whole and fractional parts in integers, so `1.5G` is exact.
        let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| bad())?
        };
        let frac = &frac[..frac.len().min(9)];
        let frac_val: u128 = if frac.is_empty() {
            0
        } else {
            frac.parse().map_err(|_| bad())?
        };
        let scale = 10u128.pow(frac.len() as u32);
        let bytes = whole
            .checked_mul(mult)
            .and_then(|w| w.checked_add(frac_val * mult / scale))
            .filter(|&b| b <= usize::MAX as u128 / 2)
            .ok_or_else(|| format!("`{s}` is too large a size (give none for no limit)"))?;
        if bytes == 0 {
            return Ok(MemoryLimit(None));
        }
        Ok(MemoryLimit(Some(bytes as usize)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Option<usize>, String> {
        s.parse::<MemoryLimit>().map(|m| m.0)
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse("512M"), Ok(Some(512 << 20)));
        assert_eq!(parse("2G"), Ok(Some(2 << 30)));
        assert_eq!(parse("2g"), Ok(Some(2 << 30)));
        assert_eq!(parse("2GiB"), Ok(Some(2 << 30)));
        assert_eq!(parse("2 GB"), Ok(Some(2 << 30)));
        assert_eq!(parse("1.5G"), Ok(Some(3 << 29)));
        assert_eq!(parse("64k"), Ok(Some(64 << 10)));
        assert_eq!(parse("1T"), Ok(Some(1 << 40)));
        assert_eq!(parse("1048576"), Ok(Some(1 << 20)));
        assert_eq!(parse(".5M"), Ok(Some(1 << 19)));
        for none in ["0", "none", "NONE", "unlimited", "0M", "0.0G"] {
            assert_eq!(parse(none), Ok(None), "{none}");
        }
        for bad in [
            "",
            "G",
            "-1G",
            "1X",
            "1.2.3G",
            "abc",
            "1e9",
            ".",
            "1GG",
            "99999999999999999999T",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn sizes_display() {
        assert_eq!(MemoryLimit(Some(4 << 30)).to_string(), "4G");
        assert_eq!(MemoryLimit(Some(1536 << 20)).to_string(), "1536M");
        assert_eq!(MemoryLimit(Some(1000)).to_string(), "1000");
        assert_eq!(MemoryLimit(None).to_string(), "none");
        assert_eq!(Size(4 << 30).to_string(), "4 GiB");
        assert_eq!(Size(3 << 29).to_string(), "1.5 GiB");
        assert_eq!(Size((1 << 30) + (50 << 20)).to_string(), "1.05 GiB");
        assert_eq!(Size(1_000_000_000).to_string(), "953.7 MiB");
        assert_eq!(Size(usize::MAX).to_string(), "unlimited");
        assert_eq!(Size(256 << 20).to_string(), "256 MiB");
        assert_eq!(Size(100).to_string(), "100 bytes");
        for v in ["4G", "1536M", "1000", "none", "64K"] {
            let m: MemoryLimit = v.parse().unwrap();
            assert_eq!(m.to_string(), v);
        }
    }

    #[test]
    fn default_is_sensible() {
        let d = default_limit();
        assert!((64 << 20..=DEFAULT_LIMIT).contains(&d), "{d}");
        assert!(ceiling_for(d) > 2 * d);
        assert_eq!(ceiling_for(usize::MAX / 2 + 7), usize::MAX);
    }

    #[test]
    fn stack_buffer_cuts() {
        let mut b = StackBuf::new();
        for _ in 0..100 {
            let _ = fmt::Write::write_str(&mut b, "0123456789");
        }
        assert_eq!(b.as_bytes().len(), 512);
    }
}
