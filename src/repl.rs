//! The interactive session: `pktscript` with no script, or `pktscript -i SCRIPT`.
//!
//! A rustyline editor whose multi-line input is decided by Rhai's parser,
//! completion from the same tables as `:help` (`script::help`), variables
//! and functions kept from entry to entry, Ctrl-C interrupting a running
//! statement through `Engine::on_progress`.

use crate::layers::REGISTRY;
use crate::script::{self, ExitCode, Options, Sources, help, packet::display_value, report};
use rhai::{AST, Dynamic, Engine, EvalAltResult, ParseErrorType, Scope};
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::{CmdKind, Highlighter, MatchingBracketHighlighter};
use rustyline::hint::{Hinter, HistoryHinter};
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Editor, Helper};
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by the SIGINT handler while a statement runs.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Our SIGINT handler, installed while an entry is evaluated (rustyline
/// handles Ctrl-C itself while reading a line).
struct SigintGuard(libc::sigaction);

impl SigintGuard {
    fn install() -> SigintGuard {
        INTERRUPTED.store(false, Ordering::SeqCst);
        // SAFETY: the handler only stores to an atomic; sigaction structs are
        // plain data, zeroed then filled in.
        unsafe {
            let mut new: libc::sigaction = std::mem::zeroed();
            new.sa_sigaction = on_sigint as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut new.sa_mask);
            // No SA_RESTART: a blocking read returns EINTR, so a capture
            // loop gets back to the interpreter and its progress check.
            new.sa_flags = 0;
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGINT, &new, &mut old);
            SigintGuard(old)
        }
    }
}

impl Drop for SigintGuard {
    fn drop(&mut self) {
        // SAFETY: restores the disposition saved by `install`.
        unsafe {
            libc::sigaction(libc::SIGINT, &self.0, std::ptr::null_mut());
        }
    }
}

/// Where history is kept: `$XDG_STATE_HOME/pktscript/history`, by default
/// `~/.local/state/pktscript/history`.
pub fn history_path() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_STATE_HOME") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(std::env::var_os("HOME")?).join(".local/state"),
    };
    Some(base.join("pktscript").join("history"))
}

/// Whether a parse error only means the entry goes on (an unclosed
/// bracket, block or string at the end of the input).
fn is_incomplete(engine: &Engine, input: &str) -> bool {
    match engine.compile(input) {
        Ok(_) => false,
        Err(e) => match &*e.0 {
            ParseErrorType::UnexpectedEOF => true,
            ParseErrorType::MissingToken(..) => at_end(input, e.1),
            _ => at_end(input, e.1) && input.trim_end().ends_with(['{', '(', '[', ',']),
        },
    }
}

/// Whether `pos` is at (or past) the end of the non-blank input.
fn at_end(input: &str, pos: rhai::Position) -> bool {
    let (Some(line), Some(col)) = (pos.line(), pos.position()) else {
        return pos.is_none();
    };
    let trimmed = input.trim_end();
    let last_line = trimmed.lines().count().max(1);
    let last_col = trimmed
        .lines()
        .last()
        .map(|l| l.chars().count())
        .unwrap_or(0);
    line > last_line || (line == last_line && col > last_col) || line > trimmed.lines().count()
}

/// The rustyline helper: validation, completion, hints, bracket matching.
pub struct ReplHelper {
    parser: Engine,
    scope: Rc<RefCell<Scope<'static>>>,
    /// Names of the functions defined in the session.
    user_fns: Rc<RefCell<Vec<String>>>,
    hinter: HistoryHinter,
    brackets: MatchingBracketHighlighter,
}

const COMMANDS: &[&str] = &[":help", ":load", ":vars", ":quit"];
const KEYWORDS: &[&str] = &[
    "let", "const", "fn", "if", "else", "for", "in", "while", "loop", "break", "continue",
    "return", "import", "print", "debug", "throw", "try", "catch", "true", "false",
];

/// The public functions of a stdlib module (`fn NAME(` lines).
pub fn module_functions(name: &str) -> Vec<String> {
    let Some(src) = script::resolver::stdlib_source(name) else {
        return Vec::new();
    };
    let mut v: Vec<String> = src
        .lines()
        .filter_map(|l| {
            let rest = l.trim_start().strip_prefix("fn ")?;
            let end = rest.find('(')?;
            Some(rest[..end].trim().to_string())
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

impl ReplHelper {
    /// Completions for the word `word` (the text before the cursor that may
    /// hold identifiers, `.` and `::`).
    pub fn candidates(&self, line_start: &str, word: &str) -> (usize, Vec<String>) {
        if line_start.starts_with(':') && !line_start.contains(' ') {
            return (0, starting(COMMANDS.iter().map(|s| s.to_string()), word));
        }
        if let Some(rest) = line_start.strip_prefix(":help ") {
            let mut names: Vec<String> =
                help::FUNCTIONS.iter().map(|f| f.name.to_string()).collect();
            names.extend(REGISTRY.iter().map(|p| p.name.to_string()));
            return (line_start.len() - rest.len(), starting(names, rest));
        }
        if let Some(i) = word.rfind("::") {
            let module = &word[..i];
            let prefix = &word[i + 2..];
            return (i + 2, starting(module_functions(module), prefix));
        }
        if let Some(i) = word.rfind('.') {
            let base = &word[..i];
            let prefix = &word[i + 1..];
            return (i + 1, starting(self.members(base), prefix));
        }
        let mut names: Vec<String> = help::FUNCTIONS.iter().map(|f| f.name.to_string()).collect();
        for p in REGISTRY {
            names.extend(help::constructors(p).iter().map(|s| s.to_string()));
        }
        names.extend(
            script::resolver::stdlib_names()
                .iter()
                .map(|s| s.to_string()),
        );
        names.extend(KEYWORDS.iter().map(|s| s.to_string()));
        names.extend(self.user_fns.borrow().iter().cloned());
        names.extend(
            self.scope
                .borrow()
                .iter_raw()
                .map(|(n, _, _)| n.to_string()),
        );
        (0, starting(names, word))
    }

    /// What may follow `base.`: a packet's layer accessors and methods, a
    /// layer's fields.
    fn members(&self, base: &str) -> Vec<String> {
        let mut parts = base.split('.');
        let var = parts.next().unwrap_or_default();
        let rest: Vec<&str> = parts.collect();
        let scope = self.scope.borrow();
        let Some(value) = scope.get(var) else {
            return Vec::new();
        };
        let Some(p) = value.clone().try_cast::<crate::Packet>() else {
            return Vec::new();
        };
        match rest.as_slice() {
            [] => {
                let mut v: Vec<String> = p
                    .layers()
                    .iter()
                    .map(|l| l.proto.accessor.to_string())
                    .collect();
                v.extend(
                    help::FUNCTIONS
                        .iter()
                        .filter(|f| f.signature.starts_with("p."))
                        .map(|f| f.name.to_string()),
                );
                v.extend(["time", "time_ns", "linktype"].map(String::from));
                v
            }
            [acc] => match p.find(acc) {
                Some(i) => {
                    let mut v: Vec<String> = p.layers()[i]
                        .proto
                        .fields
                        .iter()
                        .map(|f| f.name.to_string())
                        .collect();
                    v.extend(
                        help::FUNCTIONS
                            .iter()
                            .filter(|f| f.signature.starts_with("l."))
                            .map(|f| f.name.to_string()),
                    );
                    v
                }
                None => Vec::new(),
            },
            _ => Vec::new(),
        }
    }
}

fn starting(names: impl IntoIterator<Item = String>, prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = names
        .into_iter()
        .filter(|n| n.starts_with(prefix))
        .collect();
    v.sort();
    v.dedup();
    v
}

impl Completer for ReplHelper {
    type Candidate = Pair;
    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_alphanumeric() || matches!(c, '_' | '.' | ':'))
            .last()
            .map(|(i, _)| i)
            .unwrap_or(pos);
        let (off, names) = if before.starts_with(':') {
            let (o, n) = self.candidates(before, before);
            (o, n)
        } else {
            let (o, n) = self.candidates(before, &before[start..]);
            (start + o, n)
        };
        let pairs = names
            .into_iter()
            .map(|n| Pair {
                display: n.clone(),
                replacement: n,
            })
            .collect();
        Ok((off, pairs))
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
    fn hint(&self, line: &str, pos: usize, ctx: &Context<'_>) -> Option<String> {
        self.hinter.hint(line, pos, ctx)
    }
}

impl Highlighter for ReplHelper {
    fn highlight<'l>(&self, line: &'l str, pos: usize) -> Cow<'l, str> {
        self.brackets.highlight(line, pos)
    }
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        Cow::Owned(format!("\x1b[2m{hint}\x1b[0m"))
    }
    fn highlight_char(&self, line: &str, pos: usize, kind: CmdKind) -> bool {
        self.brackets.highlight_char(line, pos, kind)
    }
}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        let input = ctx.input();
        if input.trim_start().starts_with(':') || input.trim().is_empty() {
            return Ok(ValidationResult::Valid(None));
        }
        if is_incomplete(&self.parser, input) {
            Ok(ValidationResult::Incomplete)
        } else {
            Ok(ValidationResult::Valid(None))
        }
    }
}

impl Helper for ReplHelper {}

/// The REPL's state: engine, scope, the functions defined so far.
pub struct Session {
    engine: Engine,
    sources: Sources,
    scope: Rc<RefCell<Scope<'static>>>,
    ast: AST,
    user_fns: Rc<RefCell<Vec<String>>>,
    entries: usize,
}

/// What evaluating an entry asks of the loop.
enum Next {
    Continue,
    Exit(i32),
}

impl Session {
    pub fn new(opts: &Options, args: &[String]) -> Session {
        let sources: Sources = Rc::new(RefCell::new(HashMap::new()));
        let mut engine = script::engine(opts, &sources);
        engine.on_progress(|_| {
            if INTERRUPTED.swap(false, Ordering::SeqCst) {
                Some(Dynamic::from("interrupted"))
            } else {
                // The memory cap (--max-memory), as for scripts.
                script::limits::memory_stop()
            }
        });
        let scope = script::script_scope(args, opts);
        Session {
            engine,
            sources,
            scope: Rc::new(RefCell::new(scope)),
            ast: AST::empty(),
            user_fns: Rc::new(RefCell::new(Vec::new())),
            entries: 0,
        }
    }

    /// Compiles and runs `source` (named `name`) in the session; shows the
    /// value when `show` and reports errors.
    fn eval(&mut self, name: &str, source: &str, show: bool) -> Next {
        self.sources
            .borrow_mut()
            .insert(name.to_string(), source.to_string());
        let compiled = {
            let scope = self.scope.borrow();
            self.engine.compile_with_scope(&scope, source)
        };
        let mut new_ast = match compiled {
            Ok(a) => a,
            Err(e) => {
                eprintln!("{:?}", report::parse_error(name, source, &e));
                return Next::Continue;
            }
        };
        new_ast.set_source(name);
        for f in new_ast.iter_functions() {
            let n = f.name.to_string();
            let mut fns = self.user_fns.borrow_mut();
            if !fns.contains(&n) {
                fns.push(n);
            }
        }
        let mut ast = self.ast.merge(&new_ast);
        let result = {
            let _guard = SigintGuard::install();
            let mut scope = self.scope.borrow_mut();
            self.engine.eval_ast_with_scope::<Dynamic>(&mut scope, &ast)
        };
        ast.clear_statements();
        self.ast = ast;
        let stopped_for_memory = matches!(&result, Err(e) if is_memory_stop(e));
        let next = match result {
            Ok(v) => {
                if let Some(ExitCode(c)) = v.clone().try_cast::<ExitCode>() {
                    return Next::Exit((c & 0xff) as i32);
                }
                if show && !v.is_unit() {
                    println!("{}", display_value(&v));
                }
                Next::Continue
            }
            Err(e) => match *e {
                EvalAltResult::Exit(v, _) => Next::Exit(
                    v.try_cast::<ExitCode>()
                        .map(|c| (c.0 & 0xff) as i32)
                        .unwrap_or(0),
                ),
                EvalAltResult::ErrorTerminated(..) if !stopped_for_memory => {
                    eprintln!("interrupted");
                    Next::Continue
                }
                _ => {
                    eprintln!(
                        "{:?}",
                        report::runtime_error(&e, name, &self.sources.borrow())
                    );
                    Next::Continue
                }
            },
        };
        if crate::memory::check().is_err() {
            self.free_memory();
        }
        next
    }

    /// Past the memory cap after an entry (what it built stays in the
    /// session's variables), every later entry would stop at once: sets
    /// variables to (), the largest first, until the session is back under
    /// the cap, and says which.
    fn free_memory(&mut self) {
        let mut names: Vec<(usize, usize, String)> = {
            let scope = self.scope.borrow();
            // iter_raw lists the latest variables first.
            scope
                .iter_raw()
                .enumerate()
                .filter(|(_, (_, constant, v))| !constant && !v.is_unit())
                .map(|(i, (n, _, v))| (script::limits::value_size(v), i, n.to_string()))
                .collect()
        };
        names.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut cleared: Vec<String> = Vec::new();
        for (_, _, name) in names {
            if crate::memory::check().is_ok() {
                break;
            }
            if !cleared.contains(&name) {
                self.scope.borrow_mut().set_value(name.as_str(), ());
                cleared.push(name);
            }
        }
        if !cleared.is_empty() {
            eprintln!(
                "to get the session back under its memory limit, these variables were set to (): {}",
                cleared.join(", ")
            );
        }
    }

    /// Runs a script file into the session (`:load`, `-i`).
    fn load(&mut self, path: &Path) -> Next {
        match std::fs::read_to_string(path) {
            Ok(src) => self.eval(&path.display().to_string(), &src, false),
            Err(e) => {
                eprintln!("cannot read {}: {e}", path.display());
                Next::Continue
            }
        }
    }

    fn vars(&self) -> String {
        let scope = self.scope.borrow();
        let mut s = String::new();
        for (name, constant, value) in scope.iter_raw() {
            s.push_str(&format!(
                "{}{name}: {} = {}\n",
                if constant { "const " } else { "" },
                value.type_name(),
                display_value(value)
            ));
        }
        for f in self.user_fns.borrow().iter() {
            s.push_str(&format!("fn {f}\n"));
        }
        s
    }

    /// Handles a `:command`.
    fn command(&mut self, line: &str) -> Option<Next> {
        let line = line.trim();
        let (cmd, arg) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let arg = arg.trim();
        match cmd {
            ":quit" | ":q" | ":exit" => return Some(Next::Exit(0)),
            ":help" | ":h" if arg.is_empty() => print!("{}", help::overview()),
            ":help" | ":h" => match help::help_for(arg) {
                Some(t) => print!("{t}"),
                None => {
                    let fns = module_functions(arg);
                    if fns.is_empty() {
                        eprintln!("no function, layer or module named {arg}");
                    } else {
                        println!(
                            "module {arg} (import \"{arg}\" as {arg};): {}",
                            fns.join(", ")
                        );
                    }
                }
            },
            ":load" | ":l" if !arg.is_empty() => return Some(self.load(Path::new(arg))),
            ":vars" | ":v" => print!("{}", self.vars()),
            _ => eprintln!("unknown command {line}: try :help"),
        }
        Some(Next::Continue)
    }
}

/// Whether an entry's error is the memory cap's stop (possibly inside
/// function calls).
fn is_memory_stop(e: &EvalAltResult) -> bool {
    match e {
        EvalAltResult::ErrorTerminated(v, _) => v.is::<script::limits::MemoryStop>(),
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _)
        | EvalAltResult::ErrorInModule(_, inner, _) => is_memory_stop(inner),
        _ => false,
    }
}

/// Runs the REPL, first running `init` into it when given (`-i SCRIPT`).
/// Returns the exit status.
pub fn run(opts: &Options, init: Option<&Path>, args: &[String]) -> i32 {
    let mut opts = opts.clone();
    if let Some(p) = init {
        opts.script_dir = Some(
            p.parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_path_buf(),
        );
    }
    let mut session = Session::new(&opts, args);
    if let Some(p) = init
        && let Next::Exit(c) = session.load(p)
    {
        return c;
    }
    let helper = ReplHelper {
        parser: Engine::new_raw(),
        scope: session.scope.clone(),
        user_fns: session.user_fns.clone(),
        hinter: HistoryHinter::new(),
        brackets: MatchingBracketHighlighter::new(),
    };
    let config = rustyline::Config::builder()
        .auto_add_history(false)
        .completion_type(rustyline::CompletionType::List)
        .max_history_size(10_000)
        .map(|b| b.build())
        .unwrap_or_default();
    let mut rl: Editor<ReplHelper, rustyline::history::DefaultHistory> =
        match Editor::with_config(config) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("pktscript: cannot start the REPL: {e}");
                return 1;
            }
        };
    rl.set_helper(Some(helper));
    let history = history_path();
    if let Some(h) = &history {
        let _ = rl.load_history(h);
    }
    let save = |rl: &mut Editor<ReplHelper, _>| {
        if let Some(h) = &history {
            if let Some(d) = h.parent() {
                let _ = std::fs::create_dir_all(d);
            }
            let _ = rl.save_history(h);
        }
    };
    let code = loop {
        match rl.readline("pkt> ") {
            Ok(line) => {
                if line.trim().is_empty() {
                    continue;
                }
                let _ = rl.add_history_entry(line.as_str());
                save(&mut rl);
                let next = if line.trim_start().starts_with(':') {
                    session.command(&line).unwrap_or(Next::Continue)
                } else {
                    session.entries += 1;
                    let name = format!("<repl:{}>", session.entries);
                    session.eval(&name, &line, true)
                };
                if let Next::Exit(c) = next {
                    break c;
                }
            }
            Err(rustyline::error::ReadlineError::Interrupted) => continue,
            Err(rustyline::error::ReadlineError::Eof) => break 0,
            Err(e) => {
                eprintln!("pktscript: {e}");
                break 1;
            }
        }
    };
    save(&mut rl);
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_entries() {
        let e = Engine::new_raw();
        for s in [
            "fn f(x) {",
            "if true {",
            "foo(1,",
            "[1,",
            "#{a: 1,",
            "let x = (1 +",
            "fn f(x) {\n x * 2",
        ] {
            assert!(is_incomplete(&e, s), "{s:?} should continue");
        }
        for s in ["let s = \"{\";", "1 + 1", "}", "let x = ;", "fn f(x) { x }"] {
            assert!(!is_incomplete(&e, s), "{s:?} is complete (or wrong)");
        }
    }
}
