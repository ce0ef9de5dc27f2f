//! Script errors as miette reports: file, line, column, the source with the
//! span underlined, the call chain, and a hint.

use super::{ExitCode, UserError};
use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};
use rhai::{EvalAltResult, ParseError, Position};
use std::collections::HashMap;
use std::fmt;

/// One located message, possibly with the frames that led to it.
#[derive(Debug)]
pub struct ScriptDiagnostic {
    pub message: String,
    pub help: Option<String>,
    pub code: &'static str,
    src: Option<NamedSource<String>>,
    span: Option<(usize, usize)>,
    label: String,
    related: Vec<ScriptDiagnostic>,
}

impl fmt::Display for ScriptDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ScriptDiagnostic {}

impl Diagnostic for ScriptDiagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.src.as_ref().map(|s| s as &dyn SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let (off, len) = self.span?;
        Some(Box::new(std::iter::once(LabeledSpan::new(
            Some(self.label.clone()),
            off,
            len,
        ))))
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        if self.related.is_empty() {
            None
        } else {
            Some(Box::new(self.related.iter().map(|d| d as &dyn Diagnostic)))
        }
    }
}

/// Byte offset and token length at a Rhai position (1-based line and column).
fn locate(source: &str, pos: Position) -> Option<(usize, usize)> {
    let (line, col) = (pos.line()?, pos.position().unwrap_or(1));
    if line > source.split_inclusive('\n').count() {
        // Past the last line (an unexpected end of file): point at the end.
        let end = source.trim_end().len();
        let start = source[..end]
            .char_indices()
            .last()
            .map(|(b, _)| b)
            .unwrap_or(0);
        return Some((start, end - start));
    }
    let mut off = 0usize;
    for (i, l) in source.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            let start = off
                + l.char_indices()
                    .nth(col.saturating_sub(1))
                    .map(|(b, _)| b)
                    .unwrap_or(l.trim_end_matches('\n').len());
            let mut start = start;
            // Property access is reported at the dot: underline the name after it.
            if source[start..].starts_with('.')
                && source[start + 1..].starts_with(|c: char| c.is_alphabetic() || c == '_')
            {
                start += 1;
            }
            let rest = &source[start..];
            let mut len = rest
                .char_indices()
                .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
                .map(|(b, _)| b)
                .unwrap_or(rest.len());
            if len == 0 {
                len = rest.chars().next().map(|c| c.len_utf8()).unwrap_or(0);
                if let Some(body) = rest.strip_prefix('"') {
                    len = body.find('"').map(|e| e + 2).unwrap_or(len);
                }
            }
            return Some((start, len));
        }
        off += l.len();
    }
    None
}

fn locate_in(
    sources: &HashMap<String, String>,
    name: &str,
    pos: Position,
) -> (Option<NamedSource<String>>, Option<(usize, usize)>) {
    match sources.get(name) {
        Some(text) => {
            let span = locate(text, pos);
            (Some(NamedSource::new(name, text.clone())), span)
        }
        None => (None, None),
    }
}

fn where_text(name: &str, pos: Position) -> String {
    match (pos.line(), pos.position()) {
        (Some(l), Some(c)) => format!("{name}:{l}:{c}"),
        (Some(l), None) => format!("{name}:{l}"),
        _ => name.to_string(),
    }
}

/// A parse error in `source`.
pub fn parse_error(name: &str, source: &str, e: &ParseError) -> miette::Report {
    let mut sources = HashMap::new();
    sources.insert(name.to_string(), source.to_string());
    miette::Report::new(parse_diag(name, &sources, e.0.to_string(), e.1))
}

fn parse_diag(
    name: &str,
    sources: &HashMap<String, String>,
    msg: String,
    pos: Position,
) -> ScriptDiagnostic {
    let (src, span) = locate_in(sources, name, pos);
    let help = if msg.contains("eval") {
        Some(
            "eval is disabled in pktscript scripts; call functions or import modules instead"
                .to_string(),
        )
    } else {
        None
    };
    ScriptDiagnostic {
        message: format!("syntax error at {}: {msg}", where_text(name, pos)),
        help,
        code: "pktscript::syntax",
        src,
        span,
        label: "here".into(),
        related: vec![],
    }
}

/// The innermost message and hint of a runtime error.
fn describe(e: &EvalAltResult) -> (String, Option<String>, &'static str) {
    match e {
        EvalAltResult::ErrorRuntime(v, _) => {
            if let Some(u) = v.clone().try_cast::<UserError>() {
                (u.message, u.help, "pktscript::runtime")
            } else {
                (format!("{v}"), None, "pktscript::throw")
            }
        }
        EvalAltResult::ErrorTooManyOperations(_) => (
            "the script exceeded its operation limit (a runaway loop?)".into(),
            Some("if the work is real, raise the limit: pktscript --max-operations N (0 = unlimited)".into()),
            "pktscript::limit",
        ),
        EvalAltResult::ErrorTerminated(v, _) if v.is::<super::limits::MemoryStop>() => {
            let (message, help) = v
                .clone()
                .try_cast::<super::limits::MemoryStop>()
                .map(|m| m.describe())
                .unwrap_or_default();
            (message, Some(help), "pktscript::limit")
        }
        EvalAltResult::ErrorFunctionNotFound(sig, _) => (
            format!("no function {sig}"),
            Some(
                "check the name and the argument types; `pktscript --help` and docs/scripting.md list the functions"
                    .into(),
            ),
            "pktscript::no_function",
        ),
        EvalAltResult::ErrorVariableNotFound(v, _) => (
            format!("no variable `{v}`"),
            Some("declare it with `let` first (script arguments are in ARGV)".into()),
            "pktscript::no_variable",
        ),
        EvalAltResult::ErrorParsing(p, _) => (p.to_string(), None, "pktscript::syntax"),
        EvalAltResult::ErrorFor(_) => (
            "`for` needs something to iterate: an array, a range, or pcap_reader(path)".into(),
            None,
            "pktscript::runtime",
        ),
        other => (strip_position(&other.to_string()), None, "pktscript::runtime"),
    }
}

/// A runtime error, with the call chain through functions and modules.
pub fn runtime_error(
    e: &EvalAltResult,
    main: &str,
    sources: &HashMap<String, String>,
) -> miette::Report {
    let mut frames = Vec::new();
    let mut cur = main.to_string();
    let mut e = e;
    loop {
        match e {
            EvalAltResult::ErrorInFunctionCall(f, src, inner, pos) => {
                let what = if f.starts_with("anon$") {
                    "closure".to_string()
                } else {
                    format!("function `{f}`")
                };
                frames.push((
                    format!("in {what}, called at {}", where_text(&cur, *pos)),
                    cur.clone(),
                    *pos,
                ));
                if !src.is_empty() {
                    cur = src.clone();
                }
                e = inner;
            }
            EvalAltResult::ErrorInModule(m, inner, pos) => {
                frames.push((
                    format!("in module {m}, imported at {}", where_text(&cur, *pos)),
                    cur.clone(),
                    *pos,
                ));
                cur = m.clone();
                e = inner;
            }
            _ => break,
        }
    }
    let pos = e.position();
    let (message, help, code) = describe(e);
    let (src, span) = locate_in(sources, &cur, pos);
    let related = frames
        .into_iter()
        .rev()
        .map(|(msg, name, pos)| {
            let (src, span) = locate_in(sources, &name, pos);
            ScriptDiagnostic {
                message: msg,
                help: None,
                code: "pktscript::call",
                src,
                span,
                label: "called here".into(),
                related: vec![],
            }
        })
        .collect();
    let message = if let EvalAltResult::ErrorParsing(..) = e {
        format!("syntax error at {}: {message}", where_text(&cur, pos))
    } else {
        // The location goes on the first line, also for multi-line messages.
        let at = format!(" (at {})", where_text(&cur, pos));
        match message.split_once('\n') {
            Some((first, rest)) => format!("{first}{at}\n{rest}"),
            None => format!("{message}{at}"),
        }
    };
    miette::Report::new(ScriptDiagnostic {
        message,
        help,
        code,
        src,
        span,
        label: "here".into(),
        related,
    })
}

/// Whether a runtime error is really `exit(n)`.
pub fn exit_code(e: &EvalAltResult) -> Option<i64> {
    match e {
        EvalAltResult::Exit(v, _) => {
            Some(v.clone().try_cast::<ExitCode>().map(|c| c.0).unwrap_or(0))
        }
        _ => None,
    }
}

/// Removes the " (line N, position M)" Rhai appends to messages.
fn strip_position(s: &str) -> String {
    match s.rfind(" (line ") {
        Some(i) if s.ends_with(')') => s[..i].to_string(),
        _ => s.to_string(),
    }
}
