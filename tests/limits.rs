//! Memory bounds: `--max-memory` stops a runaway script with a clear error,
//! and calls that allocate by a size the script gives refuse before they
//! allocate. Each child runs under an address-space limit (a safety net:
//! even with the feature broken, no test takes more than about 1 GiB) and a
//! time limit; its peak resident size is read with `wait4`.
//!
//! `PKTSCRIPT_BIN=/path/to/pktscript cargo test --test limits` runs the
//! tests against another build (an older one, to see them fail).

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The address space each child may map (RLIMIT_AS).
const SAFETY_NET: u64 = 1280 << 20;
/// How long a child may run before it is killed.
const TIMEOUT: Duration = Duration::from_secs(60);
const MIB: i64 = 1 << 20;

struct Run {
    /// The exit status, `None` when killed by a signal.
    status: Option<i32>,
    signal: Option<i32>,
    stdout: String,
    stderr: String,
    /// Peak resident set size, in bytes.
    peak: i64,
    secs: f64,
    timed_out: bool,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "status {:?} signal {:?} peak {} MiB in {:.2}s{}\n--- stdout\n{}\n--- stderr\n{}",
            self.status,
            self.signal,
            self.peak / MIB,
            self.secs,
            if self.timed_out { " (timed out)" } else { "" },
            self.stdout,
            self.stderr
        )
    }
}

fn bin() -> String {
    std::env::var("PKTSCRIPT_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_pktscript").into())
}

// The child is reaped by wait4 (for its rusage), not by Child::wait.
#[allow(clippy::zombie_processes)]
fn run_with(args: &[&str], stdin: Option<&str>) -> Run {
    let mut c = Command::new(bin());
    c.args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("NO_COLOR", "1")
        .env("PKTSCRIPT_NO_PROGRESS", "1")
        .env("XDG_STATE_HOME", std::env::temp_dir());
    // SAFETY: only setrlimit, which is async-signal-safe, between fork and exec.
    unsafe {
        c.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: SAFETY_NET,
                rlim_max: SAFETY_NET,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let start = Instant::now();
    let mut child = c.spawn().expect("spawn pktscript");
    if let (Some(text), Some(mut input)) = (stdin, child.stdin.take()) {
        use std::io::Write;
        let _ = input.write_all(text.as_bytes());
    }
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let mut timed_out = false;
    loop {
        // SAFETY: waiting for our own child, with valid out-pointers.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break;
        }
        assert!(r == 0, "wait4: {}", std::io::Error::last_os_error());
        if start.elapsed() > TIMEOUT && !timed_out {
            timed_out = true;
            // SAFETY: killing our own child, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let secs = start.elapsed().as_secs_f64();
    let (code, signal) = if libc::WIFEXITED(status) {
        (Some(libc::WEXITSTATUS(status)), None)
    } else {
        (None, Some(libc::WTERMSIG(status)))
    };
    Run {
        status: code,
        signal,
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
        peak: usage.ru_maxrss * 1024,
        secs,
        timed_out,
    }
}

fn run(args: &[&str]) -> Run {
    run_with(args, None)
}

/// The run ended as a script error (status 1) with the memory report, in
/// a few seconds, and its peak stayed well under what the cap allows.
fn assert_stopped(r: &Run, message: &str, cap: i64) {
    assert_eq!(r.status, Some(1), "{r:?}");
    assert!(r.stderr.contains("pktscript::limit"), "{r:?}");
    assert!(r.stderr.contains(message), "want {message:?}: {r:?}");
    assert!(
        r.stderr
            .contains("raise the limit: pktscript --max-memory SIZE"),
        "{r:?}"
    );
    assert!(r.secs < 30.0, "too slow: {r:?}");
    // One operation can at most double a value that fits under the cap.
    assert!(r.peak < 2 * cap + 100 * MIB, "peak too high: {r:?}");
}

#[test]
fn string_doubling_stops_at_the_cap() {
    let r = run(&[
        "--max-memory",
        "256M",
        "-e",
        r#"let s = "x"; loop { s += s; }"#,
    ]);
    assert_stopped(&r, "the script used more than 256 MiB of memory", 256 * MIB);
    // Located at the operation that found the cap passed.
    assert!(r.stderr.contains("(at <expr>:1:"), "{r:?}");
}

#[test]
fn blob_pad_is_refused_before_it_allocates() {
    let r = run(&[
        "--max-memory",
        "256M",
        "-e",
        "let b = blob(); b.pad(1000000000, 0); b.len()",
    ]);
    assert_stopped(
        &r,
        "pad(1000000000) of a BLOB would need 953.7 MiB, past the script's memory limit of 256 MiB",
        256 * MIB,
    );
    assert!(r.peak < 64 * MIB, "it allocated: {r:?}");
    // blob(n) likewise, and under the default cap too.
    let r = run(&["-e", "let b = blob(20000000000); b.len()"]);
    assert_stopped(
        &r,
        "blob(20000000000) would need 18.6 GiB, past the script's memory limit of",
        0,
    );
}

#[test]
fn huge_array_stops() {
    let r = run(&[
        "--max-memory",
        "256M",
        "-e",
        "let a = [0, 1, 2, 3]; loop { a += a; }",
    ]);
    assert_stopped(&r, "the script used more than 256 MiB of memory", 256 * MIB);
    let r = run(&[
        "--max-memory",
        "256M",
        "-e",
        "let a = []; a.pad(1000000000, 0); a.len()",
    ]);
    assert_stopped(&r, "pad(1000000000) of an array would need 14.9 GiB", 0);
}

#[test]
fn huge_map_stops() {
    let r = run(&[
        "--max-memory",
        "256M",
        "-e",
        r#"let v = "x"; v.pad(4096, "y"); let m = #{}; let i = 0; loop { m[`key${i}`] = v + i; i += 1; }"#,
    ]);
    assert_stopped(&r, "the script used more than 256 MiB of memory", 256 * MIB);
}

#[test]
fn allocation_heavy_script_stops() {
    let r = run(&[
        "--max-memory",
        "256M",
        "-e",
        "let a = []; loop { a.push(Ether() / IPv4() / UDP() / Raw(blob(1000, 1))); }",
    ]);
    assert_stopped(&r, "the script used more than 256 MiB of memory", 256 * MIB);
    // No try catches it.
    let r = run(&[
        "--max-memory",
        "256M",
        "-e",
        r#"let s = "x"; try { loop { s += s; } } catch { print("caught"); }"#,
    ]);
    assert_stopped(&r, "the script used more than 256 MiB of memory", 256 * MIB);
    assert!(!r.stdout.contains("caught"), "{r:?}");
}

#[test]
fn none_lifts_the_cap() {
    // blob(n) is zeroed memory the kernel maps lazily: cheap to ask for.
    let script = "let b = blob(300000000); b.len()";
    let r = run(&["--max-memory", "256M", "-e", script]);
    assert_stopped(&r, "blob(300000000) would need 286.1 MiB", 256 * MIB);
    for none in ["none", "0", "unlimited"] {
        let r = run(&["--max-memory", none, "-e", script]);
        assert_eq!(r.status, Some(0), "--max-memory {none}: {r:?}");
        assert_eq!(r.stdout.trim(), "300000000", "{r:?}");
    }
    let r = run(&["--max-memory", "1G", "-e", script]);
    assert_eq!(r.status, Some(0), "{r:?}");
}

#[test]
fn a_normal_script_is_unaffected() {
    let script = r#"
        let pkts = read_pcap("scripts/data/echo.pcap");
        let built = [];
        for i in 0..2000 {
            built.push(Ether() / IPv4(#{dst: "198.18.0.2", ttl: i % 255}) / ICMP() / Raw(blob(64, i)));
        }
        let s = "";
        for i in 0..1000 { s += `${i},`; }
        print(`${pkts.len()} ${built.len()} ${s.len()} ${built[1999].ip.ttl}`);
    "#;
    for args in [
        vec![],
        vec!["--max-memory", "64M"],
        vec!["--max-memory=none"],
    ] {
        let mut a = args.clone();
        a.extend(["-e", script]);
        let r = run(&a);
        assert_eq!(r.status, Some(0), "{args:?}: {r:?}");
        assert_eq!(r.stdout, "2 2000 3890 214\n", "{args:?}: {r:?}");
        assert!(r.stderr.is_empty(), "{r:?}");
    }
}

#[test]
fn the_flag_takes_sizes_and_says_so() {
    let r = run(&["--help"]);
    assert_eq!(r.status, Some(0), "{r:?}");
    assert!(r.stdout.contains("--max-memory <SIZE>"), "{r:?}");
    assert!(r.stdout.contains("0 or none = unlimited"), "{r:?}");
    assert!(r.stdout.contains("[default: "), "{r:?}");
    for good in ["512M", "2G", "1.5G", "2GiB", "1048576k"] {
        let r = run(&["--max-memory", good, "-e", "1 + 1"]);
        assert_eq!(
            (r.status, r.stdout.as_str()),
            (Some(0), "2\n"),
            "{good}: {r:?}"
        );
    }
    for bad in ["lots", "-1G", "2X", "1e9"] {
        let r = run(&[&format!("--max-memory={bad}"), "-e", "1"]);
        assert_eq!(r.status, Some(2), "{bad}: {r:?}");
        assert!(r.stderr.contains("is not a size"), "{bad}: {r:?}");
    }
    // The value is the flag's, not the script's: arguments after it still
    // reach the script.
    let dir = std::env::temp_dir().join(format!("pktscript-limits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("argv.rhai");
    std::fs::write(&script, "print(ARGV);").unwrap();
    let r = run(&["--max-memory", "1G", script.to_str().unwrap(), "a", "--b"]);
    assert_eq!(r.stdout, "[\"a\", \"--b\"]\n", "{r:?}");
}

#[test]
fn the_repl_has_the_same_cap_and_recovers() {
    let dir = std::env::temp_dir().join(format!("pktscript-limits-repl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let init = dir.join("init.rhai");
    std::fs::write(&init, "let keep = 7;\n").unwrap();
    let r = run_with(
        &["--max-memory", "256M", "-i", init.to_str().unwrap()],
        Some("let s = \"x\";\nloop { s += s; }\nlet b = blob(); b.pad(1000000000, 0);\nkeep * 6\n"),
    );
    assert_eq!(r.status, Some(0), "{r:?}");
    assert!(
        r.stderr
            .contains("the script used more than 256 MiB of memory"),
        "{r:?}"
    );
    assert!(
        r.stderr.contains("pad(1000000000) of a BLOB would need"),
        "{r:?}"
    );
    // The grown variable was let go, so later entries run.
    assert!(r.stderr.contains("were set to (): s"), "{r:?}");
    assert!(r.stdout.contains("42"), "{r:?}");
    assert!(r.peak < 2 * 256 * MIB + 100 * MIB, "{r:?}");
}
