//! The scenario scripts (scripts/*.rhai) over the pcap-replay link,
//! without privileges: each case of tests/replay/cases.rs runs with
//! `--replay tests/replay/NAME.pcap` (frames recorded live on a namespace
//! LAN, see scenarios_live.rs), must end with the status it had live, print
//! `tests/replay/NAME.out` (times masked) and send exactly the frames of
//! `tests/replay/NAME.sent.pcap` (what it sent live).
//!
//! `PKTSCRIPT_BLESS=1 cargo test --test scenarios_replay` rewrites the
//! .out files from the current output (the pcaps come only from live
//! recordings: `PKTSCRIPT_RECORD=1 cargo test --test scenarios_live
//! replay_recordings`, as root).
//!
//! Also here: the scripts' usage errors, and the helpers of stdlib/net.rhai.

#[path = "replay/cases.rs"]
mod cases;

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_pktscript");

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn tmp(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("scenarios_replay");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let p = dir.join(format!("{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

fn pktscript(args: &[String]) -> Run {
    let o = Command::new(BIN)
        .args(args)
        .current_dir(root())
        .output()
        .expect("run pktscript");
    Run {
        status: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn frames(path: &Path) -> Vec<Vec<u8>> {
    pktscript::pcap::read_all(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .into_iter()
        .map(|r| r.data)
        .collect()
}

fn details(frames: &[Vec<u8>]) -> String {
    frames
        .iter()
        .map(|f| pktscript::Packet::dissect(f.clone(), 1).details())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Replays case `name` and checks status, output and frames sent.
fn check(name: &str) {
    let case = cases::by_name(name);
    let dir = root().join("tests/replay");
    let pcap = dir.join(format!("{name}.pcap"));
    let sent = tmp(&format!("{name}.sent.pcap"));
    let r = pktscript(&cases::replay_args(case, &pcap, &sent));
    let show = format!("--- stdout\n{}--- stderr\n{}", r.stdout, r.stderr);
    assert_eq!(
        r.status, case.status,
        "{name}: exit status {}, expected {}\n{show}",
        r.status, case.status
    );
    assert_eq!(r.stderr, "", "{name}: nothing on stderr");

    let out = cases::mask_times(&r.stdout);
    let golden_out = dir.join(format!("{name}.out"));
    if std::env::var_os("PKTSCRIPT_BLESS").is_some() {
        std::fs::write(&golden_out, &out).expect("write .out");
    } else {
        let want = std::fs::read_to_string(&golden_out)
            .unwrap_or_else(|e| panic!("{}: {e}", golden_out.display()));
        assert_eq!(
            out,
            want,
            "{name}: output differs from {}",
            golden_out.display()
        );
    }

    let got = frames(&sent);
    let want = frames(&dir.join(format!("{name}.sent.pcap")));
    assert!(
        got == want,
        "{name}: sent {} frames, the live run sent {}\n=== replay sent\n{}\n=== live sent\n{}",
        got.len(),
        want.len(),
        details(&got),
        details(&want)
    );
    let _ = std::fs::remove_file(&sent);
}

macro_rules! replay_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                check(stringify!($name));
            }
        )*
        const TESTED: &[&str] = &[$(stringify!($name)),*];
    };
}

replay_tests!(
    promisc_not,
    promisc_yes,
    promisc_thorough,
    promisc_silent,
    promisc_range,
    wol,
    wol_udp,
    forge_echo,
    forge_echo_spoof,
    ping,
    ping_lost,
    arping,
    arping_silent,
    arp_scan,
);

#[test]
fn every_case_is_replayed() {
    for c in cases::CASES {
        assert!(
            TESTED.contains(&c.name),
            "add {} to replay_tests! in scenarios_replay.rs",
            c.name
        );
    }
}

// ---------------------------------------------------------------------------
// Usage errors: status 2, the error and the usage on stdout, nothing sent.
// ---------------------------------------------------------------------------

const SCRIPTS: &[&str] = &[
    "scripts/promisc.rhai",
    "scripts/wol.rhai",
    "scripts/forge_echo.rhai",
    "scripts/ping.rhai",
    "scripts/arping.rhai",
    "scripts/arp_scan.rhai",
];

fn run_script(script: &str, args: &[&str]) -> Run {
    let mut all = vec![script.to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    pktscript(&all)
}

fn usage_error(script: &str, args: &[&str], message: &str) {
    let r = run_script(script, args);
    assert_eq!(
        (r.status, r.stderr.as_str()),
        (2, ""),
        "{script} {args:?}: {}",
        r.stdout
    );
    let name = script.trim_start_matches("scripts/");
    assert!(
        r.stdout
            .starts_with(&format!("error: {message}\nusage: {name} [options] ")),
        "{script} {args:?}:\n{}",
        r.stdout
    );
}

#[test]
fn scripts_without_arguments_print_usage() {
    for s in SCRIPTS {
        usage_error(s, &[], "missing argument");
    }
}

#[test]
fn scripts_print_help() {
    // After an argument: right after the script name, pktscript itself
    // takes --help, -h and -V (see the report on src/main.rs).
    for s in SCRIPTS {
        let r = run_script(s, &["198.18.0.2", "--help"]);
        assert_eq!(r.status, 0, "{s}");
        assert!(r.stdout.starts_with("usage: "), "{s}: {}", r.stdout);
        assert!(r.stdout.contains("--replay FILE"), "{s}: {}", r.stdout);
        let h = run_script(s, &["198.18.0.2", "-h"]);
        assert_eq!(h.stdout, r.stdout);
    }
}

#[test]
fn scripts_refuse_bad_arguments() {
    usage_error(
        "scripts/promisc.rhai",
        &["--bogus", "198.18.0.2"],
        "unknown option --bogus",
    );
    usage_error(
        "scripts/promisc.rhai",
        &["198.18.0.0/33"],
        "\"198.18.0.0/33\": the prefix length after / must be 0 to 32",
    );
    usage_error(
        "scripts/promisc.rhai",
        &["198.18.0.256"],
        "\"198.18.0.256\" is not an IPv4 address (a.b.c.d, each 0 to 255)",
    );
    usage_error(
        "scripts/promisc.rhai",
        &["-t", "soon", "198.18.0.2"],
        "-t takes a number, not \"soon\"",
    );
    usage_error(
        "scripts/promisc.rhai",
        &["198.18.0.2", "eth0", "extra"],
        "unexpected argument extra",
    );
    usage_error(
        "scripts/wol.rhai",
        &["02:00:00:00:00:zz"],
        "\"02:00:00:00:00:zz\" is not a MAC address (aa:bb:cc:dd:ee:ff)",
    );
    usage_error(
        "scripts/wol.rhai",
        &["--udp", "198.18.0", "02:00:00:00:00:05"],
        "\"198.18.0\" is not an IPv4 address (a.b.c.d, each 0 to 255)",
    );
    usage_error(
        "scripts/wol.rhai",
        &["--thorough", "02:00:00:00:00:05"],
        "unknown option --thorough",
    );
    usage_error(
        "scripts/forge_echo.rhai",
        &["--spoof"],
        "--spoof needs a value",
    );
    usage_error(
        "scripts/forge_echo.rhai",
        &["host.example"],
        "\"host.example\" is not an IPv4 address",
    );
    usage_error(
        "scripts/ping.rhai",
        &["-c", "x", "198.18.0.2"],
        "-c takes an integer, not \"x\"",
    );
    usage_error(
        "scripts/ping.rhai",
        &["-c0", "198.18.0.2"],
        "--count 0: at least 1",
    );
    usage_error(
        "scripts/ping.rhai",
        &["-s", "9000", "198.18.0.2"],
        "--size 9000: 0 to 1472 bytes",
    );
    usage_error(
        "scripts/arping.rhai",
        &["-b=1", "198.18.0.2"],
        "-b takes no value",
    );
    usage_error(
        "scripts/arping.rhai",
        &["--broadcast=yes", "198.18.0.2"],
        "--broadcast takes no value",
    );
    usage_error(
        "scripts/arp_scan.rhai",
        &["10.0.0.0/8"],
        "10.0.0.0/8 holds 16777214 addresses, more than 65536: scan a smaller range",
    );
}

#[test]
fn replaying_needs_our_addresses() {
    for s in SCRIPTS {
        let target = match *s {
            "scripts/wol.rhai" => "02:00:00:00:00:05",
            "scripts/arp_scan.rhai" => "198.18.0.0/28",
            _ => "198.18.0.2",
        };
        let r = run_script(s, &["--replay", "tests/replay/ping.pcap", target]);
        assert_eq!(r.status, 2, "{s}: {}{}", r.stdout, r.stderr);
        assert_eq!(
            r.stdout, "error: with --replay, give our own addresses: --mac MAC --ip IP[/LEN]\n",
            "{s}"
        );
    }
    let r = run_script(
        "scripts/ping.rhai",
        &["--write-sent", "x.pcap", "198.18.0.2"],
    );
    assert_eq!(
        (r.status, r.stdout.as_str()),
        (2, "error: --write-sent goes with --replay\n")
    );
}

// ---------------------------------------------------------------------------
// stdlib/net.rhai
// ---------------------------------------------------------------------------

#[test]
fn net_module_helpers() {
    let script = r#"
        import "net" as net;
        let spec = #{"-c": "int", "--count": "-c", "--thorough": "flag", "-t": "float", "--ip": "ip", "--mac": "mac"};
        assert_eq(net::parse_args(["-c", "3", "x"], spec), #{args: ["x"], c: 3});
        assert_eq(net::parse_args(["--count=4", "-t0.5", "--thorough"], spec), #{args: [], c: 4, t: 0.5, thorough: true});
        assert_eq(net::parse_args(["--", "-c"], spec), #{args: ["-c"]});
        assert_eq(net::parse_args(["-", "--mac", "AA-BB-CC-DD-EE-FF"], spec), #{args: ["-"], mac: "aa:bb:cc:dd:ee:ff"});
        let err = "";
        try { net::parse_args(["--ip", "1.2.3.4.5"], spec); } catch (e) { err = e; }
        assert_eq(err, "\"1.2.3.4.5\" is not an IPv4 address (a.b.c.d, each 0 to 255)");
        try { net::parse_args(["-c"], spec); } catch (e) { err = e; }
        assert_eq(err, "-c needs a value");

        assert_eq(net::ip_to_int("198.18.0.1"), 0xc6120001);
        assert_eq(net::int_to_ip(0xc61201ff), "198.18.1.255");
        assert(!net::is_ipv4("1.2.3"));
        assert(!net::is_ipv4("1.2.3.04444"));
        assert(!net::is_ipv4("a.b.c.d"));
        assert_eq(net::cidr_hosts("198.18.0.0/30", 10), ["198.18.0.1", "198.18.0.2"]);
        assert_eq(net::cidr_hosts("198.18.0.4/31", 10), ["198.18.0.4", "198.18.0.5"]);
        assert_eq(net::cidr_hosts("198.18.0.9/32", 10), ["198.18.0.9"]);
        assert_eq(net::cidr_hosts("198.18.0.9", 10), ["198.18.0.9"]);
        assert_eq(net::cidr_hosts("198.18.7.200/28", 20).len(), 14);
        assert_eq(net::cidr_hosts("198.18.7.200/28", 20)[0], "198.18.7.193");
        let c = net::parse_cidr("198.18.3.77/20");
        assert_eq([net::int_to_ip(c.network), net::int_to_ip(c.broadcast), c.count], ["198.18.0.0", "198.18.15.255", 4094]);
        assert_eq(net::parse_cidr("0.0.0.0/0").count, 4294967294);
        assert(net::in_net("198.18.0.77", net::ip_to_int("198.18.0.0"), 24));
        assert(!net::in_net("198.18.1.77", net::ip_to_int("198.18.0.0"), 24));
        assert_eq(net::sort_ips(["198.18.0.10", "198.18.0.9", "10.0.0.1"]), ["10.0.0.1", "198.18.0.9", "198.18.0.10"]);
        assert_eq(net::norm_mac("0200.0000.00AB"), "02:00:00:00:00:ab");
        assert_eq(net::norm_mac("020000000001"), "02:00:00:00:00:01");

        assert_eq(net::fixed(0.0814, 3), "0.081");
        assert_eq(net::fixed(-1.5, 1), "-1.5");
        assert_eq(net::fixed(2.9996, 3), "3.000");
        assert_eq(net::fixed(12, 0), "12");
        assert_eq(net::pad("ab", 5), "ab   ");
        assert_eq(net::pad("abcdef", 3), "abcdef ");
        let s = net::stats([1.0, 2.0, 3.0, 4.0]);
        assert_eq([s.count, s.min, s.max, s.avg, s.median], [4, 1.0, 4.0, 2.5, 2.5]);
        assert(s.mdev > 1.118 && s.mdev < 1.1181);
        assert_eq(net::median([5, 1, 3]), 3.0);
        assert_eq(net::stats([]).count, 0);
        print("ok");
    "#;
    let r = pktscript(&["-e".to_string(), script.to_string()]);
    assert_eq!((r.status, r.stdout.as_str()), (0, "ok\n"), "{}", r.stderr);
}
