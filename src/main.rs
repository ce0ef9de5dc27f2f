//! The `pktscript` command.

use clap::Parser;
use pktscript::memory::MemoryLimit;
use pktscript::script::{self, Options, Outcome};
use std::path::PathBuf;
use std::process::ExitCode;

/// Counts the bytes in use, for `--max-memory` (pktscript::memory).
#[global_allocator]
static ALLOC: pktscript::memory::Counting = pktscript::memory::Counting;

/// Scriptable packet tool: build, dissect, edit and write packets from Rhai scripts.
#[derive(Parser, Debug)]
#[command(
    name = "pktscript",
    version,
    after_help = "Examples:\n  pktscript scripts/forge_echo_offline.rhai\n  pktscript -e 'Ether() / IPv4(#{dst: \"198.18.0.2\"}) / ICMP()'\n  pktscript -e 'read_pcap(\"scripts/data/echo.pcap\")[1].details()'\n\npktscript test [PATH...] runs *.rhai tests (see pktscript test --help).\nShell tools (each has --help; stdin to stdout, text or pcap):\n  recv IFACE [FILTER]   send IFACE [FILE]   analyze   correct   check   convert   filter EXPR\nScript arguments are in the ARGV array. Exit status: 0 success, 1 script error, 2 usage error, or the n of exit(n)."
)]
struct Cli {
    /// Evaluate EXPR (a script text) and print its value
    #[arg(short = 'e', long = "eval", value_name = "EXPR")]
    expr: Option<String>,

    /// Bound on script operations, so a runaway loop ends with an error (0 = unlimited)
    #[arg(long, value_name = "N", default_value_t = script::DEFAULT_MAX_OPERATIONS)]
    max_operations: u64,

    /// Bound on the memory the process may use, so a runaway script ends with an error
    /// (SIZE as 512M, 2G; 0 or none = unlimited; the default is 4G, or half the memory
    /// of a machine with less than 8 GiB)
    #[arg(long, value_name = "SIZE", default_value_t = MemoryLimit::default_for_machine())]
    max_memory: MemoryLimit,

    /// Default network interface for sendp, capture, srp1... (else the default route's)
    #[arg(long, value_name = "IFACE")]
    iface: Option<String>,

    /// Print why each received packet did or did not answer a request (sr, srp1...)
    #[arg(long)]
    explain: bool,

    /// Run SCRIPT, then start the interactive session with its variables
    #[arg(short = 'i', long = "interactive", value_name = "SCRIPT")]
    interactive: Option<PathBuf>,

    /// Print the classic BPF program of a tcpdump filter expression, as `tcpdump -d` does
    #[arg(long, value_name = "EXPR")]
    dump_bpf: Option<String>,

    /// The link type --dump-bpf compiles for, as tcpdump's -y: a number or a
    /// name (EN10MB, LINUX_SLL, LINUX_SLL2, RAW, IPV4, IPV6)
    #[arg(
        long,
        value_name = "TYPE",
        default_value = "EN10MB",
        requires = "dump_bpf"
    )]
    linktype: String,

    /// Print the function and layer reference (docs/reference.md) and exit
    #[arg(long, hide = true)]
    reference: bool,

    /// The script to run (a .rhai file); without one, an interactive session starts
    script: Option<PathBuf>,

    /// Arguments for the script (in ARGV)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

/// Splits the command line where the script (or, with -e, its first
/// argument) begins: everything from there on belongs to the script, so
/// `pktscript x.rhai --help` passes `--help` to x.rhai.
fn split_args(raw: &[std::ffi::OsString]) -> usize {
    let mut i = 1;
    while i < raw.len() {
        let a = raw[i].to_string_lossy();
        match a.as_ref() {
            "--" => return i + 1,
            "-e" | "--eval" | "-i" | "--interactive" | "--max-operations" | "--max-memory"
            | "--iface" | "--dump-bpf" | "--linktype" => i += 2,
            s if s.starts_with('-') && s.len() > 1 => i += 1,
            _ => return i,
        }
    }
    raw.len()
}

/// A link type from its number or its name, as tcpdump's `-y` takes it
/// (`EN10MB`, `LINUX_SLL`, `dlt_raw`; case does not matter).
fn linktype_value(s: &str) -> Option<u32> {
    if let Ok(n) = s.parse() {
        return Some(n);
    }
    let upper = s.to_ascii_uppercase();
    let name = upper
        .strip_prefix("DLT_")
        .or_else(|| upper.strip_prefix("LINKTYPE_"))
        .unwrap_or(&upper);
    // tcpdump calls Ethernet EN10MB (its DLT name), pcap files ETHERNET.
    if name == "EN10MB" {
        return Some(pktscript::packet::LINKTYPE_ETHERNET);
    }
    (0..=u16::MAX as u32).find(|&n| pktscript::pcap::linktype_name(n) == name)
}

/// `pktscript test [PATH...]`: runs script tests and checks them against pcap files.
#[derive(Parser, Debug)]
#[command(name = "pktscript test")]
struct TestCli {
    /// Test files or directories to search for *.rhai tests (default: tests)
    paths: Vec<PathBuf>,
    /// Run only the tests whose path contains NAME
    #[arg(long, value_name = "NAME")]
    filter: Option<String>,
    /// Show each test's output
    #[arg(short, long)]
    verbose: bool,
    /// Write the golden files from the current output instead of comparing
    #[arg(long)]
    bless: bool,
    /// Run the tests that have a `// replay: FILE` on this live interface and save
    /// what they receive as FILE (needs root)
    #[arg(long, value_name = "IFACE")]
    record: Option<String>,
    /// Tests run at once (default: the number of CPUs)
    #[arg(short, long, value_name = "N")]
    jobs: Option<usize>,
}

fn main() -> ExitCode {
    // Like the C tools: a closed pipe (`pktscript x.rhai | head`) ends the
    // process quietly instead of a panic on the next print.
    // SAFETY: setting a signal disposition to its default is always sound.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Reports that go to a file or a program are not wrapped: a long path
    // or message stays on its line, where a log search or a test finds it.
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        let _ = miette::set_hook(Box::new(|_| {
            Box::new(miette::MietteHandlerOpts::new().wrap_lines(false).build())
        }));
    }
    let raw: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let at = split_args(&raw);
    let head: Vec<std::ffi::OsString> = raw[..at].iter().filter(|a| *a != "--").cloned().collect();
    let tail: Vec<String> = raw[at..]
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let cli = match Cli::try_parse_from(&head) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    pktscript::memory::set_limit(cli.max_memory.0);
    let opts = Options {
        max_operations: cli.max_operations,
        script_dir: Some(PathBuf::from(".")),
        iface: cli.iface.clone(),
        explain: cli.explain,
        replay: None,
        bless: false,
        record: None,
    };
    if let Some(expr) = &cli.dump_bpf {
        let Some(linktype) = linktype_value(&cli.linktype) else {
            eprintln!(
                "pktscript: --linktype {}: not a link type (give a number or a name such as EN10MB, LINUX_SLL, LINUX_SLL2, RAW, IPV4, IPV6)",
                cli.linktype
            );
            return ExitCode::from(2);
        };
        return match pktscript::filter::compile_for(expr, linktype) {
            Ok(prog) => {
                print!("{}", pktscript::filter::dump(&prog));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{:?}", e.report(expr));
                ExitCode::from(1)
            }
        };
    }
    if cli.reference {
        print!("{}", script::help::reference_markdown());
        return ExitCode::SUCCESS;
    }
    let mut cli = cli;
    if cli.expr.is_none()
        && tail.first().is_some_and(|t| t == "test")
        && !std::path::Path::new("test").is_file()
    {
        let t = match TestCli::try_parse_from(&tail) {
            Ok(t) => t,
            Err(e) => {
                let code = if e.use_stderr() { 2 } else { 0 };
                let _ = e.print();
                return ExitCode::from(code);
            }
        };
        let opts = pktscript::testrun::TestOptions {
            paths: t.paths,
            filter: t.filter,
            verbose: t.verbose,
            bless: t.bless,
            jobs: t.jobs.unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(2)
            }),
            max_operations: cli.max_operations,
            record: t.record,
        };
        return ExitCode::from(pktscript::testrun::main(&opts) as u8);
    }
    // The pkttools-style shell tools: `pktscript recv eth0 | pktscript analyze`.
    if cli.expr.is_none()
        && cli.interactive.is_none()
        && let Some(first) = tail.first()
        && pktscript::tools::NAMES.contains(&first.as_str())
        && !std::path::Path::new(first).is_file()
    {
        return ExitCode::from(pktscript::tools::main(&tail));
    }
    if let Some(init) = &cli.interactive {
        let mut args = cli.args.clone();
        if let Some(s) = &cli.script {
            args.insert(0, s.display().to_string());
        }
        args.extend(tail);
        return ExitCode::from(pktscript::repl::run(&opts, Some(init), &args) as u8);
    }
    if cli.expr.is_none() && cli.script.is_none() {
        let mut t = tail.into_iter();
        cli.script = t.next().map(PathBuf::from);
        cli.args = t.collect();
    } else {
        cli.args.extend(tail);
    }
    if cli.expr.is_some() || cli.script.is_some() {
        // SIGINT and SIGTERM stop a script at its next operation: its open
        // pcap_writers are closed (whole records, renamed into place) and
        // the exit status is 130 or 143.
        pktscript::output::catch_signals();
    }
    let result = if let Some(expr) = &cli.expr {
        let mut args = cli.args.clone();
        if let Some(s) = &cli.script {
            args.insert(0, s.display().to_string());
        }
        script::run_source("<expr>", expr, &args, &opts).inspect(|o| {
            if let Outcome::Value(v) = o
                && !v.is_unit()
            {
                println!("{}", script::packet::display_value(v));
            }
        })
    } else if let Some(path) = &cli.script {
        script::run_file(path, &cli.args, &opts)
    } else if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return ExitCode::from(pktscript::repl::run(&opts, None, &cli.args) as u8);
    } else {
        // No script and no terminal to type into: a usage error, as before
        // the REPL (`pktscript -i /dev/null` forces the REPL on a pipe).
        eprintln!(
            "pktscript: no script given (and standard input is not a terminal for the REPL)\n\nUsage: pktscript SCRIPT.rhai [ARGS...]\n       pktscript -e 'EXPR'\n       pktscript            (interactive session)\n\nSee pktscript --help."
        );
        return ExitCode::from(2);
    };
    match result {
        Ok(Outcome::Exit(c)) => ExitCode::from((c & 0xff) as u8),
        Ok(Outcome::Value(_)) => ExitCode::SUCCESS,
        Err(report) => {
            eprintln!("{report:?}");
            ExitCode::from(1)
        }
    }
}
