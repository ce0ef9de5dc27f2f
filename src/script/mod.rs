//! The Rhai bindings: registration of the packet, pcap and utility
//! functions, the module resolver, and error conversion. Protocol logic does
//! not live here; these functions convert values and call the library.

pub mod help;
pub mod limits;
pub mod net;
pub mod packet;
pub mod pcap;
pub mod report;
pub mod resolver;
pub mod testing;
pub mod text;

use rhai::{Dynamic, Engine, EvalAltResult, Position, Scope};
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

thread_local! {
    /// Where script output goes instead of stdout (the test runner captures it).
    static SINK: RefCell<Option<Rc<RefCell<String>>>> = const { RefCell::new(None) };
}

/// Sends script output to `buf` on this thread until `None` is set again.
pub fn capture_output(buf: Option<Rc<RefCell<String>>>) {
    SINK.with(|s| *s.borrow_mut() = buf);
}

/// Takes the current capture buffer (to restore it after a nested run).
pub fn take_sink() -> Option<Rc<RefCell<String>>> {
    SINK.with(|s| s.borrow_mut().take())
}

/// Writes script output: to the capture buffer if one is set, else stdout.
pub fn emit(text: &str) {
    let captured = SINK.with(|s| {
        s.borrow()
            .as_ref()
            .map(|b| b.borrow_mut().push_str(text))
            .is_some()
    });
    if !captured {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}

/// Default bound on script operations: generous for real work (hundreds of
/// millions of operations), yet a runaway loop ends in minutes with a clear error.
pub const DEFAULT_MAX_OPERATIONS: u64 = 2_000_000_000;

/// An error a script caused, with a hint for the person who wrote it.
#[derive(Debug, Clone)]
pub struct UserError {
    pub message: String,
    pub help: Option<String>,
}

impl std::fmt::Display for UserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<crate::layers::FieldError> for UserError {
    fn from(e: crate::layers::FieldError) -> Self {
        UserError {
            message: e.message,
            help: e.help,
        }
    }
}

/// Wraps a user error as a Rhai runtime error (Rhai fills in the position).
pub fn user_err(e: impl Into<UserError>) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(Dynamic::from(e.into()), Position::NONE).into()
}

/// A user error from a message and a hint.
pub fn err_help(message: impl Into<String>, help: impl Into<String>) -> Box<EvalAltResult> {
    user_err(UserError {
        message: message.into(),
        help: Some(help.into()),
    })
}

/// A user error from a message.
pub fn err_msg(message: impl Into<String>) -> Box<EvalAltResult> {
    user_err(UserError {
        message: message.into(),
        help: None,
    })
}

thread_local! {
    static FILTERS: RefCell<HashMap<String, Rc<crate::filter::Filter>>> = RefCell::new(HashMap::new());
}

/// Compiles a tcpdump filter expression for Ethernet (cached per
/// expression), or a user error that shows the expression with the
/// offending token marked.
pub fn compile_filter(expr: &str) -> Result<Rc<Vec<crate::filter::Insn>>, Box<EvalAltResult>> {
    compile_filter_for(expr, crate::packet::LINKTYPE_ETHERNET)
}

/// Compiles a tcpdump filter expression for frames of `linktype`, as
/// tcpdump compiles it for a capture of that link type.
pub fn compile_filter_for(
    expr: &str,
    linktype: u32,
) -> Result<Rc<Vec<crate::filter::Insn>>, Box<EvalAltResult>> {
    filter_of(expr)?
        .program(linktype)
        .map_err(|e| filter_error(expr, &e))
}

/// A tcpdump filter expression checked (cached per expression), whose
/// programs compile once per link type met.
pub fn filter_of(expr: &str) -> Result<Rc<crate::filter::Filter>, Box<EvalAltResult>> {
    if let Some(f) = FILTERS.with(|f| f.borrow().get(expr).cloned()) {
        return Ok(f);
    }
    let f = Rc::new(crate::filter::Filter::new(expr).map_err(|e| filter_error(expr, &e))?);
    FILTERS.with(|c| c.borrow_mut().insert(expr.to_string(), f.clone()));
    Ok(f)
}

/// A user error for a filter expression, with the offending token marked.
pub fn filter_error(expr: &str, e: &crate::filter::FilterError) -> Box<EvalAltResult> {
    let off = e.offset.min(expr.len());
    let width = e.len.min(expr.len() - off).max(1);
    let caret = format!(
        "{}{}",
        " ".repeat(expr.get(..off).map_or(off, |s| s.chars().count())),
        "^".repeat(
            expr.get(off..off + width)
                .map_or(width, |s| s.chars().count().max(1))
        )
    );
    let help = if e.expected.is_empty() {
        "filters use tcpdump's syntax (man pcap-filter), e.g. \"icmp and host 198.18.0.2\""
            .to_string()
    } else {
        format!("expected {}", e.expected.join(", "))
    };
    err_help(
        format!("bad filter: {}\n  {expr}\n  {caret}", e.message),
        help,
    )
}

/// The value `exit(n)` carries out of the script.
#[derive(Debug, Clone, Copy)]
pub struct ExitCode(pub i64);

/// What a script stopped by SIGINT or SIGTERM ends with (the token of
/// Rhai's `ErrorTerminated`): the signal.
#[derive(Debug, Clone, Copy)]
pub struct Interrupted(pub i32);

/// Stops the script if a signal asked (see [`crate::output::catch_signals`]):
/// checked before every operation, and per record by native loops.
pub fn check_interrupted() -> Result<(), Box<EvalAltResult>> {
    match crate::output::interrupted() {
        Some(sig) => Err(EvalAltResult::ErrorTerminated(
            Dynamic::from(Interrupted(sig)),
            Position::NONE,
        )
        .into()),
        None => Ok(()),
    }
}

/// `sleep(seconds)`: waits in slices, so that a signal stops the script
/// within 100 ms.
fn sleep_secs(t: f64) -> Result<(), Box<EvalAltResult>> {
    if !(0.0..=86400.0).contains(&t) {
        return Err(err_msg(format!(
            "sleep({t}): seconds must be between 0 and 86400"
        )));
    }
    let end = std::time::Instant::now() + std::time::Duration::from_secs_f64(t);
    loop {
        check_interrupted()?;
        let left = end.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(left.min(std::time::Duration::from_millis(100)));
    }
}

/// Source texts by name, for error reports (main script and loaded modules).
pub type Sources = Rc<RefCell<HashMap<String, String>>>;

/// How to build an engine.
#[derive(Debug, Clone)]
pub struct Options {
    pub max_operations: u64,
    /// Directory of the main script: `import "x"` may load `x.rhai` from it.
    pub script_dir: Option<PathBuf>,
    /// Default network interface (`--iface`).
    pub iface: Option<String>,
    /// Explain why received packets did or did not match (`--explain`).
    pub explain: bool,
    /// Replay this pcap instead of using the network (a test's `// replay:`).
    pub replay: Option<PathBuf>,
    /// `expect_pcap` writes its golden file instead of comparing (`--bless`).
    pub bless: bool,
    /// Record mode: run on this live interface and save what was received
    /// to this pcap (a test's replay file).
    pub record: Option<(String, PathBuf)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_operations: DEFAULT_MAX_OPERATIONS,
            script_dir: None,
            iface: None,
            explain: false,
            replay: None,
            bless: false,
            record: None,
        }
    }
}

/// An engine with everything pktscript offers registered.
pub fn engine(opts: &Options, sources: &Sources) -> Engine {
    engine_with(opts, sources, None)
}

/// The engine with the packet and capture-file API, before the network.
fn base_engine(opts: &Options, sources: &Sources) -> Engine {
    let mut e = Engine::new();
    e.on_print(|s| emit(&format!("{s}\n")));
    e.on_debug(|s, src, pos| match src {
        Some(src) => emit(&format!("[{src}:{pos}] {s}\n")),
        None => emit(&format!("[{pos}] {s}\n")),
    });
    e.set_max_operations(opts.max_operations);
    // SIGINT and SIGTERM stop the script at its next operation; run_compiled
    // then closes its outputs and the status is 130 or 143.
    // Past the memory cap (--max-memory), likewise (see limits::memory_stop).
    e.on_progress(|_| {
        crate::output::interrupted()
            .map(|sig| Dynamic::from(Interrupted(sig)))
            .or_else(limits::memory_stop)
    });
    e.set_max_call_levels(256);
    // Explicit, so debug and release builds accept the same scripts (Rhai's
    // defaults differ between them).
    e.set_max_expr_depths(128, 64);
    e.disable_symbol("eval");
    // Memory: the on_progress check above, and checks before Rhai's
    // functions that allocate by a size the script gives (blob(n), pad...).
    // Rhai's own size limits stay off: see limits.rs for why.
    limits::register(&mut e);
    e.set_module_resolver(resolver::Resolver::new(
        opts.script_dir.clone(),
        sources.clone(),
    ));
    packet::register(&mut e);
    pcap::register(&mut e);
    text::register(&mut e);
    e
}

/// An engine whose network is `replay` when given.
pub fn engine_with(
    opts: &Options,
    sources: &Sources,
    replay: Option<crate::link::ReplayLink>,
) -> Engine {
    let e = base_engine(opts, sources);
    let net_state = Rc::new(RefCell::new(net::NetState {
        iface: opts.iface.clone(),
        replay,
        explain: opts.explain,
        live: Vec::new(),
        recording: None,
    }));
    engine_on(e, opts, sources, net_state)
}

/// An engine whose network is `net` (the caller keeps a handle to it).
pub fn engine_on(
    mut e: Engine,
    opts: &Options,
    sources: &Sources,
    net_state: net::Shared,
) -> Engine {
    let _ = sources;
    net::register(&mut e, net_state);
    testing::register(&mut e, opts);
    e.register_type_with_name::<UserError>("Error")
        .register_fn("to_string", |e: &mut UserError| e.message.clone())
        .register_get("message", |e: &mut UserError| e.message.clone())
        .register_get("help", |e: &mut UserError| {
            e.help.clone().unwrap_or_default()
        });
    e.register_type_with_name::<ExitCode>("ExitCode");
    e.register_fn("eprint", |s: &str| {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "{s}");
    });
    // Rhai's own sleep(INT) and sleep(FLOAT) would win over a Dynamic one:
    // these replace them, so that the bounds hold and a signal ends a sleep.
    e.register_fn("sleep", |secs: rhai::INT| sleep_secs(secs as f64));
    e.register_fn("sleep", |secs: rhai::FLOAT| sleep_secs(secs));
    e.register_fn("sleep", |secs: Dynamic| -> Result<(), Box<EvalAltResult>> {
        Err(err_msg(format!(
            "sleep takes seconds, not {}",
            secs.type_name()
        )))
    });
    e.register_fn(
        "assert",
        |ok: bool, msg: &str| -> Result<(), Box<EvalAltResult>> {
            if ok {
                Ok(())
            } else {
                Err(err_msg(format!("assertion failed: {msg}")))
            }
        },
    );
    e.register_fn("assert", |ok: bool| -> Result<(), Box<EvalAltResult>> {
        if ok {
            Ok(())
        } else {
            Err(err_msg("assertion failed"))
        }
    });
    e.register_fn(
        "assert_eq",
        |ctx: rhai::NativeCallContext, a: Dynamic, b: Dynamic| -> Result<(), Box<EvalAltResult>> {
            let same = ctx
                .call_native_fn::<bool>("==", (a.clone(), b.clone()))
                .unwrap_or(false);
            if same {
                Ok(())
            } else {
                Err(err_help(
                    format!(
                        "assertion failed: left != right\n  left: {}\n right: {}",
                        packet::display_value(&a),
                        packet::display_value(&b)
                    ),
                    format!("left is {}, right is {}", a.type_name(), b.type_name()),
                ))
            }
        },
    );
    e.register_fn("exit", |code: i64| -> Result<(), Box<EvalAltResult>> {
        Err(EvalAltResult::Exit(Dynamic::from(ExitCode(code)), Position::NONE).into())
    });
    e.register_fn("exit", || -> Result<(), Box<EvalAltResult>> {
        Err(EvalAltResult::Exit(Dynamic::from(ExitCode(0)), Position::NONE).into())
    });
    e.register_fn("exit", |v: Dynamic| -> Result<(), Box<EvalAltResult>> {
        Err(err_help(
            format!("exit takes an integer status, not {}", v.type_name()),
            "exit(0) for success, exit(1) (or another number up to 255) for failure",
        ))
    });
    e
}

/// The outcome of running a script: an exit status or a report.
pub enum Outcome {
    Exit(i32),
    Value(Dynamic),
}

/// Compiles and runs `source` (named `name`) with `ARGV` set to `args`.
pub fn run_source(
    name: &str,
    source: &str,
    args: &[String],
    opts: &Options,
) -> Result<Outcome, miette::Report> {
    let sources: Sources = Rc::new(RefCell::new(HashMap::new()));
    sources
        .borrow_mut()
        .insert(name.to_string(), source.to_string());
    let replay = match &opts.replay {
        Some(path) => Some(crate::link::ReplayLink::from_pcap(path).map_err(miette::Report::new)?),
        None => None,
    };
    let net_state = Rc::new(RefCell::new(net::NetState {
        iface: opts
            .record
            .as_ref()
            .map(|(i, _)| i.clone())
            .or_else(|| opts.iface.clone()),
        replay,
        explain: opts.explain,
        live: Vec::new(),
        recording: opts.record.as_ref().map(|_| Vec::new()),
    }));
    let engine = engine_on(
        base_engine(opts, &sources),
        opts,
        &sources,
        net_state.clone(),
    );
    let result = run_compiled(&engine, name, source, args, opts, &sources);
    if let Some((_, path)) = &opts.record {
        let frames = net_state.borrow_mut().recording.take().unwrap_or_default();
        net::save_recording(path, &frames).map_err(miette::Report::new)?;
        eprintln!("recorded {} frames into {}", frames.len(), path.display());
    }
    result
}

/// The scope a script starts with: `ARGV` and `SCRIPT_DIR`.
pub fn script_scope(args: &[String], opts: &Options) -> Scope<'static> {
    let mut scope = Scope::new();
    let argv: rhai::Array = args.iter().map(|a| Dynamic::from(a.clone())).collect();
    scope.push_constant("ARGV", argv);
    let dir = opts
        .script_dir
        .as_ref()
        .map(|d| d.display().to_string())
        .unwrap_or_else(|| ".".into());
    scope.push_constant("SCRIPT_DIR", dir);
    scope
}

fn run_compiled(
    engine: &Engine,
    name: &str,
    source: &str,
    args: &[String],
    opts: &Options,
    sources: &Sources,
) -> Result<Outcome, miette::Report> {
    let mut ast = engine
        .compile(source)
        .map_err(|e| report::parse_error(name, source, &e))?;
    ast.set_source(name);
    let mut scope = script_scope(args, opts);
    // The pcap_writers the script leaves open are closed (renamed into
    // place) when it ends by itself, by exit() or by a signal, and given up
    // (their paths untouched) when it fails.
    let outputs = pcap::RunOutputs::enter();
    let outcome = match engine.eval_ast_with_scope::<Dynamic>(&mut scope, &ast) {
        Ok(v) => Ok(match v.clone().try_cast::<ExitCode>() {
            Some(ExitCode(c)) => Outcome::Exit((c & 0xff) as i32),
            None => Outcome::Value(v),
        }),
        Err(e) => match *e {
            EvalAltResult::Exit(v, _) => Ok(Outcome::Exit(
                v.try_cast::<ExitCode>()
                    .map(|c| (c.0 & 0xff) as i32)
                    .unwrap_or(0),
            )),
            // Stopped by SIGINT or SIGTERM (at an operation, or in a native
            // loop that saw the signal): 130 or 143.
            _ => match crate::output::interrupted() {
                Some(sig) => Ok(Outcome::Exit(i32::from(crate::output::exit_status(sig)))),
                None => Err(report::runtime_error(&e, name, &sources.borrow())),
            },
        },
    };
    if outcome.is_err() {
        outputs.discard_all();
        return outcome;
    }
    let errors = outputs.close_all();
    if errors.is_empty() {
        return outcome;
    }
    Err(outputs_report(errors))
}

/// The report of writers whose final flush or rename failed at the end of
/// a script (each names its file).
fn outputs_report(mut errors: Vec<crate::pcap::PcapError>) -> miette::Report {
    if errors.len() == 1
        && let Some(e) = errors.pop()
    {
        return miette::Report::new(e);
    }
    let list: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
    miette::miette!(
        help = "check that the disk is not full and that you may write there; each of these files keeps what it had",
        "{} capture files could not be completed when the script ended:\n{}",
        errors.len(),
        list.join("\n")
    )
}

/// Reads and runs a script file.
pub fn run_file(path: &Path, args: &[String], opts: &Options) -> Result<Outcome, miette::Report> {
    let source = std::fs::read_to_string(path).map_err(|e| {
        miette::miette!(
            help = "check the path; scripts are plain text files ending in .rhai",
            "cannot read script {}: {e}",
            path.display()
        )
    })?;
    let mut opts = opts.clone();
    opts.script_dir = Some(
        path.parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            })
            .unwrap_or(Path::new("."))
            .to_path_buf(),
    );
    run_source(&path.display().to_string(), &source, args, &opts)
}
