//! Structured field values: option lists and address lists.
//!
//! A [`Kind::List`](super::Kind::List) field is stored as bytes (the bytes
//! stay the truth) and shown to scripts, `show()` and the text format as a
//! [`Tree`]: a list of items, each `[name, value]`. A [`Codec`] turns bytes
//! into a tree and back. [`Tlv`] is the codec shared by the type-length-value
//! option lists of TCP, IPv4 and the IPv6 option headers: each protocol file
//! gives its table of [`OptSpec`]s, and anything the table does not know, or
//! that is malformed, stays as its bytes, so decoding then encoding gives
//! back exactly the bytes that were read.

use super::FieldError;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

/// How deep a tree may nest (script values and text alike).
pub const MAX_DEPTH: usize = 16;

/// A value with structure, as scripts write option lists:
/// `[["MSS", 1460], ["NOP", ()], ["Timestamp", [1, 0]]]`.
#[derive(Debug, Clone, PartialEq)]
pub enum Tree {
    Unit,
    Int(i64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Tree>),
}

/// Turns a field's bytes into a tree and back.
pub struct Codec {
    /// What the field holds, for docs and help ("TCP options").
    pub type_name: &'static str,
    pub decode: fn(&[u8]) -> Tree,
    pub encode: fn(&Tree) -> Result<Vec<u8>, FieldError>,
    /// How to write a value, for error hints.
    pub help: &'static str,
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Codec({})", self.type_name)
    }
}

/// The shape of one option's data.
#[derive(Debug, Clone, Copy)]
pub enum OptVal {
    /// No length byte and no data (EOL, NOP, Pad1).
    Single,
    /// A length byte and no data (SAckOK): value `""` or `()`.
    Empty,
    /// One unsigned integer of this many bytes.
    Uint(usize),
    /// A fixed sequence of unsigned integers of these byte widths (Timestamp).
    Uints(&'static [usize]),
    /// Any number of unsigned integers of this byte width (SAck blocks).
    UintList(usize),
    /// A pointer byte then IPv4 addresses (record route, source routes).
    Route,
    /// One IPv6 address.
    Ipv6,
    /// Bytes.
    Bytes,
}

/// One known option kind.
#[derive(Debug)]
pub struct OptSpec {
    pub kind: u8,
    pub name: &'static str,
    pub val: OptVal,
}

/// A type-length-value option list.
#[derive(Debug)]
pub struct Tlv {
    pub specs: &'static [OptSpec],
    /// The length byte counts the kind and length bytes too (TCP, IPv4),
    /// or only the data (IPv6 options).
    pub len_counts_header: bool,
    /// The end-of-list kind, which is also the padding byte: a final run of
    /// it shorter than the alignment is padding the header's build puts
    /// back, so it is not listed.
    pub end: Option<u8>,
    /// The alignment the header pads its options to.
    pub align: usize,
}

impl Tlv {
    fn spec_by_kind(&self, kind: u8) -> Option<&OptSpec> {
        self.specs.iter().find(|s| s.kind == kind)
    }
    fn spec_by_name(&self, name: &str) -> Option<&OptSpec> {
        self.specs
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
    }
    fn names(&self) -> String {
        self.specs
            .iter()
            .map(|s| s.name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The options in `b` as `[name, value]` items; unknown kinds as
    /// `[kind, blob]`, a known kind of the wrong size as `[name, blob]`, and
    /// a malformed tail as a bare blob.
    pub fn decode(&self, b: &[u8]) -> Tree {
        let mut items = Vec::new();
        let mut i = 0;
        while i < b.len() {
            let kind = b[i];
            if Some(kind) == self.end
                && b.len().is_multiple_of(self.align)
                && b.len() - i < self.align
                && b[i..].iter().all(|&x| x == kind)
            {
                break; // padding the encoder puts back
            }
            let spec = self.spec_by_kind(kind);
            let name = || match spec {
                Some(s) => Tree::Str(s.name.to_string()),
                None => Tree::Int(kind as i64),
            };
            if let Some(OptSpec {
                val: OptVal::Single,
                ..
            }) = spec
            {
                items.push(Tree::List(vec![name(), Tree::Unit]));
                i += 1;
                continue;
            }
            let Some(&len) = b.get(i + 1) else {
                items.push(Tree::Bytes(b[i..].to_vec()));
                break;
            };
            let total = if self.len_counts_header {
                len as usize
            } else {
                len as usize + 2
            };
            if total < 2 || i + total > b.len() {
                items.push(Tree::Bytes(b[i..].to_vec()));
                break;
            }
            let data = &b[i + 2..i + total];
            let value = spec
                .and_then(|s| decode_val(s.val, data))
                .unwrap_or_else(|| Tree::Bytes(data.to_vec()));
            items.push(Tree::List(vec![name(), value]));
            i += total;
        }
        Tree::List(items)
    }

    /// The bytes of an option list (a bare blob is taken as the bytes);
    /// the header pads them when it is built.
    pub fn encode(&self, t: &Tree, what: &str) -> Result<Vec<u8>, FieldError> {
        let items = match t {
            Tree::Bytes(b) => return Ok(b.clone()),
            Tree::List(items) => items,
            Tree::Unit => return Ok(Vec::new()),
            _ => {
                return Err(
                    FieldError::new(format!("{what} takes a list of options")).help(self.hint())
                );
            }
        };
        let mut out = Vec::new();
        for item in items {
            self.encode_item(item, what, &mut out)?;
        }
        Ok(out)
    }

    fn hint(&self) -> String {
        format!(
            "write a list of [name, value] pairs, like [[\"{}\", ...]]; names: {}; or [number, blob] for any other kind",
            self.specs
                .iter()
                .find(|s| !matches!(s.val, OptVal::Single))
                .map(|s| s.name)
                .unwrap_or("NOP"),
            self.names()
        )
    }

    fn encode_item(&self, item: &Tree, what: &str, out: &mut Vec<u8>) -> Result<(), FieldError> {
        let (key, value) = match item {
            Tree::Bytes(b) => {
                out.extend_from_slice(b);
                return Ok(());
            }
            Tree::Str(_) | Tree::Int(_) => (item, &Tree::Unit),
            Tree::List(v) if v.len() == 1 => (&v[0], &Tree::Unit),
            Tree::List(v) if v.len() == 2 => (&v[0], &v[1]),
            _ => {
                return Err(FieldError::new(format!(
                    "{what}: {} is not an option",
                    format_tree(item)
                ))
                .help(self.hint()));
            }
        };
        let (kind, spec) = match key {
            Tree::Str(name) => match self.spec_by_name(name) {
                Some(s) => (s.kind, Some(s)),
                None => {
                    let mut e = FieldError::new(format!("{what}: no option is called {name:?}"));
                    let help = match super::closest(name, self.specs.iter().map(|s| s.name)) {
                        Some(c) => format!("did you mean {c:?}? {}", self.hint()),
                        None => self.hint(),
                    };
                    e.help = Some(help);
                    return Err(e);
                }
            },
            Tree::Int(k) if (0..=255).contains(k) => (*k as u8, self.spec_by_kind(*k as u8)),
            _ => {
                return Err(FieldError::new(format!(
                    "{what}: {} is not an option name or kind number (0-255)",
                    format_tree(key)
                ))
                .help(self.hint()));
            }
        };
        let label = spec.map(|s| s.name.to_string()).unwrap_or(kind.to_string());
        if let Some(OptSpec {
            val: OptVal::Single,
            ..
        }) = spec
        {
            if !matches!(value, Tree::Unit) && *value != Tree::Str(String::new()) {
                return Err(FieldError::new(format!("{what}: {label} takes no value"))
                    .help(format!("write [\"{label}\", ()]")));
            }
            out.push(kind);
            return Ok(());
        }
        let data = match (spec.map(|s| s.val), value) {
            (_, Tree::Bytes(b)) => b.clone(),
            (_, Tree::Unit) => Vec::new(),
            (None, Tree::Str(s)) => s.as_bytes().to_vec(),
            (Some(val), v) => encode_val(val, v).map_err(|m| {
                FieldError::new(format!("{what}: {label} {m}"))
                    .help(format!("{label} takes {}", val_shape(val)))
            })?,
            (None, v) => {
                return Err(FieldError::new(format!(
                    "{what}: option kind {kind} takes a blob, not {}",
                    format_tree(v)
                )));
            }
        };
        let len = data.len() + if self.len_counts_header { 2 } else { 0 };
        if len > 255 {
            return Err(FieldError::new(format!(
                "{what}: {label} is {} bytes long; an option holds at most {}",
                data.len(),
                if self.len_counts_header { 253 } else { 255 }
            )));
        }
        out.push(kind);
        out.push(len as u8);
        out.extend_from_slice(&data);
        Ok(())
    }
}

fn uint(data: &[u8]) -> i64 {
    data.iter().fold(0i64, |v, b| (v << 8) | *b as i64)
}

fn decode_val(val: OptVal, data: &[u8]) -> Option<Tree> {
    Some(match val {
        OptVal::Single => return None,
        OptVal::Empty if data.is_empty() => Tree::Str(String::new()),
        OptVal::Uint(w) if data.len() == w => Tree::Int(uint(data)),
        OptVal::Uints(ws) if data.len() == ws.iter().sum::<usize>() => {
            let mut at = 0;
            Tree::List(
                ws.iter()
                    .map(|w| {
                        at += w;
                        Tree::Int(uint(&data[at - w..at]))
                    })
                    .collect(),
            )
        }
        OptVal::UintList(w) if data.len().is_multiple_of(w) => {
            Tree::List(data.chunks(w).map(|c| Tree::Int(uint(c))).collect())
        }
        OptVal::Route if !data.is_empty() && (data.len() - 1).is_multiple_of(4) => {
            Tree::List(vec![
                Tree::Int(data[0] as i64),
                Tree::List(
                    data[1..]
                        .chunks(4)
                        .map(|c| Tree::Str(Ipv4Addr::new(c[0], c[1], c[2], c[3]).to_string()))
                        .collect(),
                ),
            ])
        }
        OptVal::Ipv6 if data.len() == 16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(data);
            Tree::Str(super::Ip6(Ipv6Addr::from(a)).to_string())
        }
        OptVal::Bytes => Tree::Bytes(data.to_vec()),
        _ => return None,
    })
}

fn val_shape(val: OptVal) -> String {
    match val {
        OptVal::Single => "no value".into(),
        OptVal::Empty => "\"\" (no value)".into(),
        OptVal::Uint(w) => format!("a number of {} bits", w * 8),
        OptVal::Uints(ws) => format!("a list of {} numbers", ws.len()),
        OptVal::UintList(w) => format!("a list of {}-bit numbers", w * 8),
        OptVal::Route => "[pointer, [\"IPv4 address\", ...]]".into(),
        OptVal::Ipv6 => "an IPv6 address".into(),
        OptVal::Bytes => "a blob".into(),
    }
}

fn put_uint(out: &mut Vec<u8>, v: &Tree, w: usize) -> Result<(), String> {
    let Tree::Int(n) = v else {
        return Err(format!("takes a number here, not {}", format_tree(v)));
    };
    let max = if w >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * w)) - 1
    };
    if *n < 0 || *n as u64 > max {
        return Err(format!("value {n} does not fit in {} bits", w * 8));
    }
    for i in (0..w).rev() {
        out.push((*n as u64 >> (8 * i)) as u8);
    }
    Ok(())
}

fn encode_val(val: OptVal, v: &Tree) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    match (val, v) {
        (OptVal::Empty, Tree::Str(s)) if s.is_empty() => {}
        (OptVal::Uint(w), v) => put_uint(&mut out, v, w)?,
        (OptVal::Uints(ws), Tree::List(items)) if items.len() == ws.len() => {
            for (w, it) in ws.iter().zip(items) {
                put_uint(&mut out, it, *w)?;
            }
        }
        (OptVal::UintList(w), Tree::List(items)) => {
            for it in items {
                put_uint(&mut out, it, w)?;
            }
        }
        (OptVal::Route, Tree::List(items)) => {
            let (ptr, addrs) = match items.as_slice() {
                [Tree::Int(p), Tree::List(a)] => (Some(*p), a.as_slice()),
                a => (None, a),
            };
            let ptr = ptr.unwrap_or(4);
            if !(0..=255).contains(&ptr) {
                return Err(format!("pointer {ptr} is not 0-255"));
            }
            out.push(ptr as u8);
            for a in addrs {
                match a {
                    Tree::Str(s) => out.extend_from_slice(
                        &s.trim()
                            .parse::<Ipv4Addr>()
                            .map_err(|_| format!("{s:?} is not an IPv4 address"))?
                            .octets(),
                    ),
                    other => return Err(format!("{} is not an address", format_tree(other))),
                }
            }
        }
        (OptVal::Ipv6, Tree::Str(s)) => out.extend_from_slice(
            &s.trim()
                .parse::<Ipv6Addr>()
                .map_err(|_| format!("{s:?} is not an IPv6 address"))?
                .octets(),
        ),
        (OptVal::Bytes, Tree::Str(s)) => out.extend_from_slice(s.as_bytes()),
        (_, v) => return Err(format!("cannot take {}", format_tree(v))),
    }
    Ok(out)
}

/// A list of IPv6 addresses (an IPv6 Routing header's `addresses`).
pub fn decode_ipv6_list(b: &[u8]) -> Tree {
    let mut items: Vec<Tree> = b
        .chunks_exact(16)
        .map(|c| {
            let mut a = [0u8; 16];
            a.copy_from_slice(c);
            Tree::Str(super::Ip6(Ipv6Addr::from(a)).to_string())
        })
        .collect();
    let rest = b.len() % 16;
    if rest != 0 {
        items.push(Tree::Bytes(b[b.len() - rest..].to_vec()));
    }
    Tree::List(items)
}

/// The bytes of a list of IPv6 addresses.
pub fn encode_ipv6_list(t: &Tree, what: &str) -> Result<Vec<u8>, FieldError> {
    let hint = "write a list of addresses, like [\"fd00::1\", \"fd00::2\"]";
    let items = match t {
        Tree::Bytes(b) => return Ok(b.clone()),
        Tree::Unit => return Ok(Vec::new()),
        Tree::Str(_) => std::slice::from_ref(t),
        Tree::List(items) => items.as_slice(),
        other => {
            return Err(FieldError::new(format!(
                "{what} takes a list of IPv6 addresses, not {}",
                format_tree(other)
            ))
            .help(hint));
        }
    };
    let mut out = Vec::with_capacity(items.len() * 16);
    for it in items {
        match it {
            Tree::Str(s) => match s.trim().parse::<Ipv6Addr>() {
                Ok(a) => out.extend_from_slice(&a.octets()),
                Err(_) => {
                    return Err(
                        FieldError::new(format!("{what}: {s:?} is not an IPv6 address")).help(hint),
                    );
                }
            },
            Tree::Bytes(b) => out.extend_from_slice(b),
            other => {
                return Err(FieldError::new(format!(
                    "{what}: {} is not an IPv6 address",
                    format_tree(other)
                ))
                .help(hint));
            }
        }
    }
    Ok(out)
}

/// A tree as text, the way a script writes it: `[["MSS", 1460], ["NOP", ()]]`.
pub fn format_tree(t: &Tree) -> String {
    let mut s = String::new();
    write_tree(&mut s, t);
    s
}

fn write_tree(out: &mut String, t: &Tree) {
    match t {
        Tree::Unit => out.push_str("()"),
        Tree::Int(n) => {
            let _ = write!(out, "{n}");
        }
        Tree::Str(s) => {
            let _ = write!(out, "{s:?}");
        }
        Tree::Bytes(b) => {
            if b.is_empty() {
                out.push_str("0x");
            } else {
                out.push_str("0x");
                for x in b {
                    let _ = write!(out, "{x:02x}");
                }
            }
        }
        Tree::List(items) => {
            out.push('[');
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_tree(out, it);
            }
            out.push(']');
        }
    }
}

/// Parses what [`format_tree`] writes (and numbers in hex, `0x` blobs).
pub fn parse_tree(s: &str) -> Result<Tree, String> {
    let mut p = TreeParser {
        s: s.as_bytes(),
        i: 0,
    };
    let t = p.value(0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("unexpected text at column {}", p.i + 1));
    }
    Ok(t)
}

struct TreeParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl TreeParser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }
    fn value(&mut self, depth: usize) -> Result<Tree, String> {
        if depth > MAX_DEPTH {
            return Err(format!("lists nest deeper than {MAX_DEPTH} levels"));
        }
        self.ws();
        match self.s.get(self.i) {
            None => Err("the value ends early".into()),
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.ws();
                    if self.s.get(self.i) == Some(&b']') {
                        self.i += 1;
                        return Ok(Tree::List(items));
                    }
                    if !items.is_empty() {
                        if self.s.get(self.i) != Some(&b',') {
                            return Err(format!("expected ',' or ']' at column {}", self.i + 1));
                        }
                        self.i += 1;
                    }
                    items.push(self.value(depth + 1)?);
                }
            }
            Some(b'(') => {
                self.i += 1;
                self.ws();
                if self.s.get(self.i) == Some(&b')') {
                    self.i += 1;
                    Ok(Tree::Unit)
                } else {
                    Err(format!("expected ')' at column {}", self.i + 1))
                }
            }
            Some(b'"') => {
                self.i += 1;
                let mut out = String::new();
                let rest = std::str::from_utf8(&self.s[self.i..]).map_err(|e| e.to_string())?;
                let mut chars = rest.char_indices();
                while let Some((k, c)) = chars.next() {
                    match c {
                        '"' => {
                            self.i += k + 1;
                            return Ok(Tree::Str(out));
                        }
                        '\\' => match chars.next() {
                            Some((_, 'n')) => out.push('\n'),
                            Some((_, 't')) => out.push('\t'),
                            Some((_, c)) => out.push(c),
                            None => break,
                        },
                        c => out.push(c),
                    }
                }
                Err("a string is not closed".into())
            }
            Some(_) => {
                let start = self.i;
                while self
                    .s
                    .get(self.i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
                {
                    self.i += 1;
                }
                let word = std::str::from_utf8(&self.s[start..self.i]).unwrap_or_default();
                if word.is_empty() {
                    return Err(format!("unexpected character at column {}", self.i + 1));
                }
                if let Some(h) = word.strip_prefix("0x").or_else(|| word.strip_prefix("0X")) {
                    // A blob: any even number of hex digits; up to 16 digits
                    // is still a number when written with an odd count.
                    if h.len() % 2 == 0 {
                        let mut b = Vec::with_capacity(h.len() / 2);
                        for k in (0..h.len()).step_by(2) {
                            b.push(
                                u8::from_str_radix(&h[k..k + 2], 16)
                                    .map_err(|_| format!("{word:?} is not hex"))?,
                            );
                        }
                        return Ok(Tree::Bytes(b));
                    }
                }
                match super::parse_int_str(word) {
                    Some(n) => Ok(Tree::Int(n)),
                    None => Ok(Tree::Str(word.to_string())),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static SPECS: &[OptSpec] = &[
        OptSpec {
            kind: 0,
            name: "EOL",
            val: OptVal::Single,
        },
        OptSpec {
            kind: 1,
            name: "NOP",
            val: OptVal::Single,
        },
        OptSpec {
            kind: 2,
            name: "MSS",
            val: OptVal::Uint(2),
        },
        OptSpec {
            kind: 8,
            name: "Timestamp",
            val: OptVal::Uints(&[4, 4]),
        },
    ];
    static TLV: Tlv = Tlv {
        specs: SPECS,
        len_counts_header: true,
        end: Some(0),
        align: 4,
    };

    #[test]
    fn decode_encode_is_exact_on_any_bytes() {
        let mut seed = 0x1234_5678u32;
        for n in 0..2000 {
            let len = n % 41;
            let b: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    // Mostly small kinds and lengths, so that real options occur.
                    (seed % if seed.is_multiple_of(3) { 256 } else { 12 }) as u8
                })
                .collect();
            let t = TLV.decode(&b);
            // Exact but for the padding, which the header's build puts back.
            let e = TLV.encode(&t, "x").unwrap();
            assert!(
                b.starts_with(&e) && b[e.len()..].iter().all(|&x| x == 0) && b.len() - e.len() < 4,
                "{b:02x?} -> {t:?} -> {e:02x?}"
            );
            assert_eq!(TLV.decode(&e), t);
            let text = format_tree(&t);
            assert_eq!(parse_tree(&text).unwrap(), t, "{text}");
        }
    }

    #[test]
    fn options_by_name() {
        let t = parse_tree(r#"[["MSS", 1460], ["NOP", ()], ["Timestamp", [1, 0]], [99, 0x0102]]"#)
            .unwrap();
        let b = TLV.encode(&t, "tcp.options").unwrap();
        assert_eq!(
            b,
            [2, 4, 5, 0xb4, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 99, 4, 1, 2]
        );
        assert_eq!(TLV.decode(&b), t);
        let e = TLV
            .encode(&parse_tree(r#"[["MSX", 1]]"#).unwrap(), "tcp.options")
            .unwrap_err();
        assert!(e.help.unwrap().contains("did you mean \"MSS\""));
        assert!(
            TLV.encode(&parse_tree(r#"[["MSS", 70000]]"#).unwrap(), "o")
                .is_err()
        );
    }

    #[test]
    fn deep_text_is_refused() {
        let s = "[".repeat(100_000);
        assert!(parse_tree(&s).is_err());
    }
}
