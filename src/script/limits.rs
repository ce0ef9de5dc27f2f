//! The memory cap as scripts meet it (see [`crate::memory`]).
//!
//! - [`memory_stop`] is what the engine's `on_progress` callback asks before
//!   every operation: past the cap, the script stops there with
//!   `ErrorTerminated(MemoryStop)`, which no `try` catches and which
//!   [`super::report`] turns into a `pktscript::limit` report naming
//!   `--max-memory`.
//! - [`reserve`] is asked by functions that allocate by a size the script
//!   gives, before they allocate: they refuse with the same error.
//! - [`register`] puts such checks in front of Rhai's own functions of that
//!   kind (`blob(n)`, `pad`, `to_chars`, `to_array`); functions registered on
//!   the engine are found before the standard package's.
//!
//! Rhai's own size limits (`set_max_string_size`, `set_max_array_size`,
//! `set_max_map_size`) are left off: with any of them on, Rhai measures a
//! whole array or map after every call that may change it, so that building
//! an array with `push` takes quadratic time (100,000 pushes: 30 ms without,
//! 5 s with; a million packets collected that way would take minutes).

use crate::memory::{self, Exceeded, Size};
use rhai::{
    Array, Blob, Dynamic, Engine, EvalAltResult, FuncRegistration, INT, ImmutableString, Module,
    Position,
};

/// Why a script was stopped for memory: the token of its `ErrorTerminated`.
#[derive(Debug, Clone)]
pub struct MemoryStop {
    pub exceeded: Exceeded,
    /// The call refused before it allocated (`blob(1000000000)`), if any.
    pub what: Option<String>,
}

impl MemoryStop {
    /// The report's message and hint.
    pub fn describe(&self) -> (String, String) {
        let e = &self.exceeded;
        let message = match (e.wanted, &self.what) {
            (Some(n), Some(what)) => format!(
                "{what} would need {}, past the script's memory limit of {} ({} in use)",
                Size(n),
                Size(e.limit),
                Size(e.in_use)
            ),
            (Some(n), None) => format!(
                "the script would need {} more, past its memory limit of {} ({} in use)",
                Size(n),
                Size(e.limit),
                Size(e.in_use)
            ),
            _ => format!("the script used more than {} of memory", Size(e.limit)),
        };
        (message, HELP.to_string())
    }
}

/// The hint of every memory error.
pub const HELP: &str = "if the work is real, raise the limit: pktscript --max-memory SIZE (e.g. 8G; 0 or none = unlimited)";

/// The error that stops a script for memory.
fn stop(exceeded: Exceeded, what: Option<String>) -> Box<EvalAltResult> {
    EvalAltResult::ErrorTerminated(Dynamic::from(MemoryStop { exceeded, what }), Position::NONE)
        .into()
}

/// For `on_progress`: the token that stops the script when the process is
/// past its memory cap, else `None` (one load while under the cap).
#[inline(always)]
pub fn memory_stop() -> Option<Dynamic> {
    if memory::over_limit() {
        memory_stop_token()
    } else {
        None
    }
}

#[cold]
#[inline(never)]
fn memory_stop_token() -> Option<Dynamic> {
    memory::check().err().map(|e| {
        Dynamic::from(MemoryStop {
            exceeded: e,
            what: None,
        })
    })
}

/// Stops the script if the process is past its memory cap (for native loops
/// that collect a lot between two operations).
#[inline]
pub fn check_memory() -> Result<(), Box<EvalAltResult>> {
    memory::check().map_err(|e| stop(e, None))
}

/// Refuses, before allocating, `bytes` more that would pass the cap; `what`
/// names the call in the message (`blob(1000000000)`).
#[inline]
pub fn reserve(bytes: usize, what: impl FnOnce() -> String) -> Result<(), Box<EvalAltResult>> {
    memory::reserve(bytes).map_err(|e| stop(e, Some(what())))
}

/// The size of one array element (a `Dynamic`).
const SLOT: usize = std::mem::size_of::<Dynamic>();

/// About what a copy of `v` allocates (strings are shared, not copied).
fn copy_size(v: &Dynamic) -> usize {
    if let Some(b) = v.read_lock::<Blob>() {
        b.len()
    } else if let Some(a) = v.read_lock::<Array>() {
        a.iter().fold(a.len().saturating_mul(SLOT), |n, x| {
            n.saturating_add(copy_size(x))
        })
    } else if let Some(m) = v.read_lock::<rhai::Map>() {
        m.values().fold(m.len().saturating_mul(SLOT * 3), |n, x| {
            n.saturating_add(copy_size(x))
        })
    } else {
        0
    }
}

/// About the memory a value holds (strings, BLOBs, arrays and maps; packets
/// by their bytes), to pick what to let go first.
pub fn value_size(v: &Dynamic) -> usize {
    if let Some(s) = v.read_lock::<ImmutableString>() {
        s.len()
    } else if let Some(p) = v.read_lock::<crate::packet::Packet>() {
        p.raw_bytes().len()
    } else if let Some(a) = v.read_lock::<Array>() {
        a.iter().fold(a.len().saturating_mul(SLOT), |n, x| {
            n.saturating_add(value_size(x))
        })
    } else if let Some(m) = v.read_lock::<rhai::Map>() {
        m.values().fold(m.len().saturating_mul(SLOT * 3), |n, x| {
            n.saturating_add(value_size(x))
        })
    } else {
        copy_size(v)
    }
}

/// Checks in front of Rhai's functions that allocate by a size the script
/// gives. Each behaves as Rhai's own once the size is allowed. They live in a
/// module of their own, registered after Rhai's standard package so that
/// they are found first, and apart from pktscript's functions (the
/// reference lists those).
pub fn register(e: &mut Engine) {
    let mut m = Module::new();
    fn blob_of(len: INT, value: Option<INT>) -> Result<Blob, Box<EvalAltResult>> {
        if len <= 0 {
            return Ok(Blob::new());
        }
        let n = usize::try_from(len).unwrap_or(usize::MAX);
        reserve(n, || match value {
            Some(v) => format!("blob({len}, {v})"),
            None => format!("blob({len})"),
        })?;
        Ok(vec![(value.unwrap_or(0) & 0xff) as u8; n])
    }
    FuncRegistration::new("blob").set_into_module(&mut m, |len: INT| blob_of(len, None));
    FuncRegistration::new("blob")
        .set_into_module(&mut m, |len: INT, value: INT| blob_of(len, Some(value)));
    FuncRegistration::new("pad")
        .with_purity(false)
        .set_into_module(
            &mut m,
            |b: &mut Blob, len: INT, value: INT| -> Result<(), Box<EvalAltResult>> {
                let n = usize::try_from(len).unwrap_or(0);
                if n > b.len() {
                    reserve(n, || format!("pad({len}) of a BLOB"))?;
                    b.resize(n, (value & 0xff) as u8);
                }
                Ok(())
            },
        );
    FuncRegistration::new("pad")
        .with_purity(false)
        .set_into_module(
            &mut m,
            |a: &mut Array, len: INT, item: Dynamic| -> Result<(), Box<EvalAltResult>> {
                let n = usize::try_from(len).unwrap_or(0);
                if n > a.len() {
                    let more = n - a.len();
                    let bytes = n
                        .saturating_mul(SLOT)
                        .saturating_add(more.saturating_mul(copy_size(&item)));
                    reserve(bytes, || format!("pad({len}) of an array"))?;
                    a.resize(n, item);
                }
                Ok(())
            },
        );
    fn pad_str(s: &mut ImmutableString, len: INT, with: &str) -> Result<(), Box<EvalAltResult>> {
        if len <= 0 || with.is_empty() {
            return Ok(());
        }
        let n = usize::try_from(len).unwrap_or(usize::MAX);
        let have = s.chars().count();
        if n <= have {
            return Ok(());
        }
        let with_chars = with.chars().count();
        // At most one more copy of `with` than needed, in bytes.
        let bytes = ((n - have) / with_chars)
            .saturating_add(1)
            .saturating_mul(with.len());
        reserve(bytes, || format!("pad({len}) of a string"))?;
        let p = s.make_mut();
        let mut count = have;
        while count < n {
            if count + with_chars <= n {
                p.push_str(with);
                count += with_chars;
            } else {
                p.extend(with.chars().take(n - count));
                count = n;
            }
        }
        Ok(())
    }
    FuncRegistration::new("pad")
        .with_purity(false)
        .set_into_module(&mut m, |s: &mut ImmutableString, len: INT, c: char| {
            pad_str(s, len, c.encode_utf8(&mut [0; 4]))
        });
    FuncRegistration::new("pad")
        .with_purity(false)
        .set_into_module(&mut m, |s: &mut ImmutableString, len: INT, with: &str| {
            pad_str(s, len, with)
        });
    FuncRegistration::new("to_chars").set_into_module(
        &mut m,
        |s: &str| -> Result<Array, Box<EvalAltResult>> {
            let n = s.chars().count();
            reserve(n.saturating_mul(SLOT), || {
                format!("to_chars() of a string of {n} characters")
            })?;
            Ok(s.chars().map(Dynamic::from).collect())
        },
    );
    FuncRegistration::new("to_array").set_into_module(
        &mut m,
        |b: &mut Blob| -> Result<Array, Box<EvalAltResult>> {
            reserve(b.len().saturating_mul(SLOT), || {
                format!("to_array() of a BLOB of {} bytes", b.len())
            })?;
            Ok(b.iter().map(|&x| Dynamic::from(x as INT)).collect())
        },
    );
    e.register_global_module(m.into());
}
