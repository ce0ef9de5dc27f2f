//! `pktscript test`: finds `*.rhai` test scripts, runs them in parallel,
//! each in its own engine with its output captured, and sums up.
//!
//! A test passes when it runs to the end (or `exit(0)`); it fails on an
//! error (a failed `assert`, a mismatch in `expect_pcap`, any script error)
//! or a non-zero `exit`. Directives in the comment lines at the top of a test:
//!
//! - `// replay: FILE.pcap`: the network is that capture (beside the test);
//! - `// skip: REASON`: the test is reported as skipped;
//! - `// requires: root`: skipped (with that reason) unless run as root.
//!
//! With `--record IFACE`, tests that name a replay file run on that live
//! interface instead, and what they receive is saved as their replay file.

use crate::script::{self, Options, Outcome};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How to run the tests.
#[derive(Debug, Clone)]
pub struct TestOptions {
    pub paths: Vec<PathBuf>,
    /// Run only tests whose name contains this.
    pub filter: Option<String>,
    pub verbose: bool,
    pub bless: bool,
    pub jobs: usize,
    pub max_operations: u64,
    /// Record mode: run tests with a `// replay:` file on this live
    /// interface and save what they receive as their replay file.
    pub record: Option<String>,
}

/// What became of one test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    Failed(String),
    Skipped(String),
}

#[derive(Debug, Clone)]
pub struct TestResult {
    /// Path as given (relative to where the run started).
    pub name: String,
    pub verdict: Verdict,
    /// What the test printed.
    pub output: String,
    pub duration: Duration,
    /// Golden files written by --bless: (path, new).
    pub blessed: Vec<(String, bool)>,
}

/// Every `*.rhai` file under the paths (a file path names itself), sorted.
/// Directories named `golden`, `replay` or `data`, and files or
/// directories starting with `_` or `.`, are not searched: they hold
/// fixtures and helper modules.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_file() {
            out.push(p.clone());
        } else if p.is_dir() {
            walk(p, &mut out);
        } else {
            return Err(format!("{}: no such file or directory", p.display()));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('_') || name.starts_with('.') {
            continue;
        }
        if p.is_dir() {
            if !matches!(name, "golden" | "replay" | "data") {
                walk(&p, out);
            }
        } else if name.ends_with(".rhai") {
            out.push(p);
        }
    }
}

/// The directives in a test's leading comment lines.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Directives {
    pub replay: Option<String>,
    pub skip: Option<String>,
    pub requires_root: bool,
}

pub fn directives(source: &str) -> Directives {
    let mut d = Directives::default();
    for line in source.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some(c) = line.strip_prefix("//") else {
            break;
        };
        let c = c.trim_start_matches(['/', '!']).trim();
        if let Some(v) = c.strip_prefix("replay:") {
            d.replay = Some(v.trim().to_string());
        } else if let Some(v) = c.strip_prefix("skip:") {
            d.skip = Some(v.trim().to_string());
        } else if let Some(v) = c.strip_prefix("requires:") {
            d.requires_root |= v.trim() == "root";
        }
    }
    d
}

fn render(report: &miette::Report) -> String {
    let mut s = String::new();
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_width(100);
    if handler.render_report(&mut s, report.as_ref()).is_err() {
        s = format!("{report}");
    }
    s
}

/// Runs one test file.
pub fn run_one(path: &Path, opts: &TestOptions) -> TestResult {
    let name = path.display().to_string();
    let start = Instant::now();
    let done = |verdict: Verdict, output: String, blessed| TestResult {
        name: name.clone(),
        verdict,
        output,
        duration: start.elapsed(),
        blessed,
    };
    let source = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) => {
            return done(
                Verdict::Failed(format!("cannot read {name}: {e}")),
                String::new(),
                vec![],
            );
        }
    };
    let d = directives(&source);
    if let Some(why) = d.skip {
        return done(Verdict::Skipped(why), String::new(), vec![]);
    }
    // SAFETY: geteuid has no failure mode.
    if d.requires_root && unsafe { libc::geteuid() } != 0 {
        return done(Verdict::Skipped("needs root".into()), String::new(), vec![]);
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let sopts = Options {
        max_operations: opts.max_operations,
        script_dir: Some(dir.clone()),
        iface: None,
        explain: false,
        replay: if opts.record.is_some() {
            None
        } else {
            d.replay.clone().map(|r| dir.join(r))
        },
        bless: opts.bless,
        record: match (&opts.record, &d.replay) {
            (Some(iface), Some(r)) => Some((iface.clone(), dir.join(r))),
            _ => None,
        },
    };
    let buf = Rc::new(RefCell::new(String::new()));
    script::capture_output(Some(buf.clone()));
    let outcome = script::run_source(&name, &source, &[], &sopts);
    script::capture_output(None);
    let blessed = script::testing::take_blessed();
    let output = buf.borrow().clone();
    let verdict = match outcome {
        Ok(Outcome::Value(_)) | Ok(Outcome::Exit(0)) => Verdict::Passed,
        Ok(Outcome::Exit(n)) => Verdict::Failed(format!("the test ended with exit({n})")),
        Err(report) => Verdict::Failed(render(&report)),
    };
    done(verdict, output, blessed)
}

/// Runs the tests in parallel; results come back in file order.
pub fn run_all(
    files: &[PathBuf],
    opts: &TestOptions,
    on_done: &(dyn Fn(&TestResult) + Sync),
) -> Vec<TestResult> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, TestResult)>> = Mutex::new(Vec::new());
    let jobs = opts.jobs.clamp(1, files.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(f) = files.get(i) else { break };
                    let r = run_one(f, opts);
                    on_done(&r);
                    if let Ok(mut v) = results.lock() {
                        v.push((i, r));
                    }
                }
            });
        }
    });
    let mut v = results.into_inner().unwrap_or_default();
    v.sort_by_key(|(i, _)| *i);
    v.into_iter().map(|(_, r)| r).collect()
}

/// The closing line: `N passed, N failed` (and `, N skipped` when any).
pub fn summary_line(results: &[TestResult]) -> String {
    let count = |f: fn(&Verdict) -> bool| results.iter().filter(|r| f(&r.verdict)).count();
    let passed = count(|v| *v == Verdict::Passed);
    let failed = count(|v| matches!(v, Verdict::Failed(_)));
    let skipped = count(|v| matches!(v, Verdict::Skipped(_)));
    let mut s = format!("{passed} passed, {failed} failed");
    if skipped > 0 {
        s.push_str(&format!(", {skipped} skipped"));
    }
    s
}

/// Runs `pktscript test` and prints as it goes; returns the exit status.
pub fn main(opts: &TestOptions) -> i32 {
    let paths = if opts.paths.is_empty() {
        vec![PathBuf::from("tests")]
    } else {
        opts.paths.clone()
    };
    let mut files = match discover(&paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("pktscript test: {e}");
            return 2;
        }
    };
    if let Some(f) = &opts.filter {
        files.retain(|p| p.display().to_string().contains(f.as_str()));
    }
    let print_lock = Mutex::new(());
    let results = run_all(&files, opts, &|r| {
        let _g = print_lock.lock();
        let ms = r.duration.as_millis();
        match &r.verdict {
            Verdict::Passed => println!("ok      {} ({ms} ms)", r.name),
            Verdict::Failed(_) => println!("FAILED  {} ({ms} ms)", r.name),
            Verdict::Skipped(why) => println!("skipped {} ({why})", r.name),
        }
        for (path, new) in &r.blessed {
            println!(
                "        {} {path}",
                if *new { "new golden" } else { "blessed" }
            );
        }
        if opts.verbose && !r.output.is_empty() {
            for line in r.output.lines() {
                println!("        | {line}");
            }
        }
    });
    let failed: Vec<&TestResult> = results
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Failed(_)))
        .collect();
    for r in &failed {
        if let Verdict::Failed(why) = &r.verdict {
            println!("\n---- {} ----", r.name);
            if !r.output.is_empty() && !opts.verbose {
                println!("output:");
                for line in r.output.lines() {
                    println!("  | {line}");
                }
            }
            println!("{}", why.trim_end());
        }
    }
    if !failed.is_empty() {
        println!();
    }
    println!("{}", summary_line(&results));
    if failed.is_empty() { 0 } else { 1 }
}
