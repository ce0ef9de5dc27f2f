//! Comparison of packet lists for golden-file tests, with a report a person
//! can act on: which packet, which fields, and both `show()` dumps side by side.
//!
//! Without ignores the bytes decide (equal bytes are equal packets) and the
//! field walk explains a difference; with ignores only the fields that are not
//! ignored are compared, plus the layer stack.

use std::fmt;
use std::fmt::Write as _;

use crate::layers::{self, Auto, Value};
use crate::packet::Packet;

/// What to compare.
#[derive(Debug, Clone, Default)]
pub struct CompareOptions {
    /// Compare the capture time too (at nanosecond resolution).
    pub timestamps: bool,
    /// Fields not compared: `"ip.id"`, `"tcp.seq"`, or a whole layer `"eth"`.
    /// Layers match by accessor, name or alias (case-insensitive).
    pub ignore: Vec<String>,
}

impl CompareOptions {
    /// Checks that every ignore entry names a known layer and field, so that a
    /// misspelt entry fails loudly instead of ignoring nothing.
    pub fn validate(&self) -> Result<(), String> {
        for entry in &self.ignore {
            let (layer, field) = split_ignore(entry);
            let Some(proto) = layers::find_proto(layer) else {
                let names = layers::REGISTRY.iter().map(|p| p.accessor);
                let hint = match layers::closest(layer, names) {
                    Some(c) => format!(" (did you mean `{c}`?)"),
                    None => String::new(),
                };
                return Err(format!("ignore `{entry}`: unknown layer `{layer}`{hint}"));
            };
            if let Some(field) = field
                && !proto
                    .fields
                    .iter()
                    .any(|f| f.name.eq_ignore_ascii_case(field))
            {
                let hint = match layers::closest(field, proto.fields.iter().map(|f| f.name)) {
                    Some(c) => format!(" (did you mean `{}.{c}`?)", proto.accessor),
                    None => String::new(),
                };
                return Err(format!(
                    "ignore `{entry}`: {} has no field `{field}`{hint}",
                    proto.name
                ));
            }
        }
        Ok(())
    }

    fn ignores(&self, proto: &layers::Proto, field: &str) -> bool {
        self.ignore.iter().any(|entry| {
            let (l, f) = split_ignore(entry);
            proto.is_named(l) && f.is_none_or(|f| f.eq_ignore_ascii_case(field))
        })
    }
}

/// `"ip.ttl"` → (`"ip"`, Some(`"ttl"`)); `"eth"` → (`"eth"`, None).
fn split_ignore(entry: &str) -> (&str, Option<&str>) {
    let entry = entry.trim();
    match entry.split_once('.') {
        Some((l, f)) => (l, Some(f)),
        None => (entry, None),
    }
}

/// One difference between two packets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDiff {
    /// The layer's protocol name (`"IPv4"`, `"IPv4[2]"` for a second IPv4
    /// layer); empty for packet-wide differences.
    pub layer: String,
    /// A field name, or `<layers>`, `<bytes>`, `<time>`.
    pub field: String,
    pub expected: String,
    pub actual: String,
}

impl fmt::Display for FieldDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.layer.is_empty() {
            write!(f, "{}", self.field)?;
        } else {
            write!(f, "{}.{}", self.layer, self.field)?;
        }
        write!(f, ": expected {}, got {}", self.expected, self.actual)
    }
}

fn packet_diff(field: &str, expected: String, actual: String) -> FieldDiff {
    FieldDiff {
        layer: String::new(),
        field: field.to_string(),
        expected,
        actual,
    }
}

/// Compares two packet lists. `Ok(())` when equal under the options;
/// otherwise a report on the first mismatching packet (and the counts).
pub fn compare_packets(
    expected: &mut [Packet],
    actual: &mut [Packet],
    opts: &CompareOptions,
) -> Result<(), String> {
    opts.validate()?;
    let common = expected.len().min(actual.len());
    let mut first: Option<(usize, Vec<FieldDiff>)> = None;
    let mut differing = 0usize;
    for i in 0..common {
        let diffs = compare_one(&mut expected[i], &mut actual[i], opts);
        if !diffs.is_empty() {
            differing += 1;
            if first.is_none() {
                first = Some((i, diffs));
            }
        }
    }
    if first.is_none() && expected.len() == actual.len() {
        return Ok(());
    }

    let mut out = String::new();
    if expected.len() != actual.len() {
        let _ = writeln!(
            out,
            "packet count differs: expected {}, got {}",
            plural(expected.len(), "packet", "packets"),
            actual.len()
        );
        let (word, rest) = if expected.len() > actual.len() {
            ("missing", &mut expected[common..])
        } else {
            ("extra", &mut actual[common..])
        };
        for (k, p) in rest.iter_mut().enumerate() {
            let _ = writeln!(out, "  {word} packet {}: {}", common + k + 1, p.summary());
        }
        if first.is_none() {
            let _ = writeln!(
                out,
                "the first {} in common are equal",
                plural(common, "packet", "packets")
            );
        }
    }
    if let Some((i, diffs)) = first {
        let of = if expected.len() == actual.len() {
            format!("of {common}")
        } else {
            format!("of the first {common}")
        };
        let _ = writeln!(
            out,
            "packet {} {of} differs ({} in all):",
            i + 1,
            plural(differing, "packet differs", "packets differ")
        );
        for d in &diffs {
            let _ = writeln!(out, "  {d}");
        }
        let left = expected[i].details();
        let right = actual[i].details();
        out.push_str(&side_by_side(&left, &right));
    }
    while out.ends_with('\n') {
        out.pop();
    }
    Err(out)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The differences between two packets (empty when equal under the options).
pub fn compare_one(
    expected: &mut Packet,
    actual: &mut Packet,
    opts: &CompareOptions,
) -> Vec<FieldDiff> {
    expected.finish();
    actual.finish();
    let mut diffs = Vec::new();
    let bytes_equal = expected.raw_bytes() == actual.raw_bytes();
    if !(opts.ignore.is_empty() && bytes_equal) {
        diffs = compare_fields(expected, actual, opts);
        if diffs.is_empty() && opts.ignore.is_empty() {
            // Everything is in some layer, but say so if the walk missed it.
            if let Some(d) = bytes_diff(expected.raw_bytes(), actual.raw_bytes()) {
                diffs.push(d);
            }
        }
    }
    if opts.timestamps && expected.time != actual.time {
        diffs.push(packet_diff(
            "<time>",
            format_time(expected.time),
            format_time(actual.time),
        ));
    }
    diffs
}

fn format_time(t: Option<(i64, u32)>) -> String {
    match t {
        Some((s, ns)) => format!("{s}.{ns:09}"),
        None => "none".to_string(),
    }
}

fn bytes_diff(e: &[u8], a: &[u8]) -> Option<FieldDiff> {
    let off = e
        .iter()
        .zip(a)
        .position(|(x, y)| x != y)
        .or_else(|| (e.len() != a.len()).then(|| e.len().min(a.len())))?;
    let at = |b: &[u8]| match b.get(off) {
        Some(x) => format!("{x:#04x} at offset {off} of {} bytes", b.len()),
        None => format!("end at offset {off} of {} bytes", b.len()),
    };
    Some(packet_diff("<bytes>", at(e), at(a)))
}

fn compare_fields(e: &Packet, a: &Packet, opts: &CompareOptions) -> Vec<FieldDiff> {
    let mut diffs = Vec::new();
    let en = e.layer_names();
    let an = a.layer_names();
    if en != an {
        diffs.push(packet_diff("<layers>", en.join(" / "), an.join(" / ")));
    }
    let common = e
        .layers()
        .iter()
        .zip(a.layers())
        .take_while(|(x, y)| std::ptr::eq(x.proto, y.proto))
        .count();
    for i in 0..common {
        let proto = e.layers()[i].proto;
        let nth = en[..i].iter().filter(|n| **n == proto.name).count();
        let label = if nth == 0 {
            proto.name.to_string()
        } else {
            format!("{}[{}]", proto.name, nth + 1)
        };
        for (fi, f) in proto.fields.iter().enumerate() {
            if opts.ignores(proto, f.name) {
                continue;
            }
            let ev = field_state(e, i, fi);
            let av = field_state(a, i, fi);
            if ev != av {
                diffs.push(FieldDiff {
                    layer: label.clone(),
                    field: f.name.to_string(),
                    expected: field_text(e, i, fi, &ev),
                    actual: field_text(a, i, fi, &av),
                });
            }
        }
    }
    diffs
}

#[derive(PartialEq)]
enum FieldState {
    Absent,
    Missing,
    Value(Value),
}

fn field_state(p: &Packet, i: usize, fi: usize) -> FieldState {
    if !p.field_present(i, fi) {
        FieldState::Absent
    } else if !p.field_captured(i, fi) {
        FieldState::Missing
    } else {
        FieldState::Value(p.peek(i, fi))
    }
}

fn field_text(p: &Packet, i: usize, fi: usize, st: &FieldState) -> String {
    match st {
        FieldState::Absent => "<absent>".to_string(),
        FieldState::Missing => "<missing>".to_string(),
        FieldState::Value(v) => {
            let f = &p.layers()[i].proto.fields[fi];
            let mut text = layers::format_value(f, v);
            if f.auto == Auto::Chksum
                && let Some(st) = p.checksum_status(i)
            {
                if st.ok {
                    text.push_str(" (valid)");
                } else {
                    let _ = write!(text, " (bad, should be {:#06x})", st.correct);
                }
            }
            text
        }
    }
}

/// Two dumps in columns, aligned line by line (longest common subsequence).
/// The gutter marks `|` a changed line, `<` a line only on the left,
/// `>` a line only on the right.
pub fn side_by_side(left: &str, right: &str) -> String {
    let l: Vec<&str> = left.lines().collect();
    let r: Vec<&str> = right.lines().collect();
    let lw = l
        .iter()
        .map(|s| s.chars().count())
        .max()
        .unwrap_or(0)
        .max(40);
    let rw = r
        .iter()
        .map(|s| s.chars().count())
        .max()
        .unwrap_or(0)
        .max(40);
    let mut out = String::new();
    let _ = writeln!(out, "{:-<lw$}   {:-<rw$}", "--- expected ", "--- actual ");
    let mut row = |a: &str, mark: char, b: &str| {
        let line = format!("{a:<lw$} {mark} {b}");
        let _ = writeln!(out, "{}", line.trim_end());
    };
    let rows = align(&l, &r);
    let mut k = 0;
    while k < rows.len() {
        match rows[k] {
            (Some(x), Some(y)) => {
                row(l[x], ' ', r[y]);
                k += 1;
            }
            _ => {
                // A run of unmatched lines: pair left-only with right-only.
                let mut dels = Vec::new();
                let mut ins = Vec::new();
                while let Some(&(x, y)) = rows.get(k) {
                    match (x, y) {
                        (Some(x), None) => dels.push(x),
                        (None, Some(y)) => ins.push(y),
                        _ => break,
                    }
                    k += 1;
                }
                for j in 0..dels.len().max(ins.len()) {
                    match (dels.get(j), ins.get(j)) {
                        (Some(&x), Some(&y)) => row(l[x], '|', r[y]),
                        (Some(&x), None) => row(l[x], '<', ""),
                        (None, Some(&y)) => row("", '>', r[y]),
                        (None, None) => {}
                    }
                }
            }
        }
    }
    out
}

/// Longest-common-subsequence alignment of two line lists.
fn align(l: &[&str], r: &[&str]) -> Vec<(Option<usize>, Option<usize>)> {
    let (n, m) = (l.len(), r.len());
    // lcs[i][j]: LCS length of l[i..] and r[j..].
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if l[i] == r[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut rows = Vec::with_capacity(n.max(m));
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && l[i] == r[j] {
            rows.push((Some(i), Some(j)));
            i += 1;
            j += 1;
        } else if j == m || (i < n && lcs[i + 1][j] >= lcs[i][j + 1]) {
            rows.push((Some(i), None));
            i += 1;
        } else {
            rows.push((None, Some(j)));
            j += 1;
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_diff_gives_the_first_offset() {
        assert_eq!(bytes_diff(b"abc", b"abc"), None);
        let d = bytes_diff(b"abc", b"abd").expect("differs");
        assert_eq!(
            d.to_string(),
            "<bytes>: expected 0x63 at offset 2 of 3 bytes, got 0x64 at offset 2 of 3 bytes"
        );
        let d = bytes_diff(b"ab", b"abc").expect("differs");
        assert_eq!(d.expected, "end at offset 2 of 2 bytes");
    }

    #[test]
    fn side_by_side_marks_changed_and_one_sided_lines() {
        let s = side_by_side("a\nb\nc\n", "a\nx\nc\nd\n");
        let rows: Vec<&str> = s.lines().skip(1).collect();
        let pad = " ".repeat(40);
        assert_eq!(
            rows,
            vec![
                format!("a{}   a", &pad[1..]),
                format!("b{} | x", &pad[1..]),
                format!("c{}   c", &pad[1..]),
                format!("{pad} > d"),
            ]
        );
    }
}
