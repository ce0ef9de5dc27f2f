//! pktscript builds IPv6 packets byte for byte as Scapy does.
//!
//! `tests/crosscheck/build6.rhai` and `tests/crosscheck/build6.py` build the
//! same list of packets (IPv6 with every extension header, ICMPv6 and
//! neighbour discovery with options, errors quoting packets, tunnels),
//! with the same explicit field values and each tool's defaults for the
//! rest; each prints one `name<TAB>hex` line per packet. Every packet must
//! come out the same, but for the known differences listed in [`KNOWN`].
//!
//! python3 with Scapy is required (`.ci/run` installs it): without it this
//! test fails, it does not skip.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Packets known to differ, with why: each is a pktscript bug to fix (the
/// test fails when one of them comes out right, so that it leaves the list).
const KNOWN: &[(&str, &str)] = &[];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/crosscheck")
}

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("{what} could not be run ({e}); python3 with Scapy is needed: `python3 -m pip install scapy` (or run .ci/run)")
    });
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("output is UTF-8")
}

/// `name<TAB>hex` lines as (name, bytes).
fn packets(text: &str, what: &str) -> Vec<(String, Vec<u8>)> {
    text.lines()
        .map(|l| {
            let (name, hex) = l
                .split_once('\t')
                .unwrap_or_else(|| panic!("{what}: not `name<TAB>hex`: {l:?}"));
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .unwrap_or_else(|e| panic!("{what}: {name}: not hex ({e})"));
            (name.to_string(), bytes)
        })
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Where two packets first differ, and a few bytes of each from there.
fn difference(ours: &[u8], theirs: &[u8]) -> Option<String> {
    if ours == theirs {
        return None;
    }
    let at = ours
        .iter()
        .zip(theirs)
        .position(|(a, b)| a != b)
        .unwrap_or(ours.len().min(theirs.len()));
    let show = |b: &[u8]| hex(&b[at.min(b.len())..(at + 8).min(b.len())]);
    Some(format!(
        "first difference at byte {at} ({} bytes from pktscript, {} from Scapy): pktscript {}.., Scapy {}..",
        ours.len(),
        theirs.len(),
        show(ours),
        show(theirs)
    ))
}

#[test]
fn ipv6_packets_build_byte_for_byte_as_in_scapy() {
    let ours = run(
        Command::new(env!("CARGO_BIN_EXE_pktscript"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("NO_COLOR", "1")
            .arg(dir().join("build6.rhai")),
        "pktscript build6.rhai",
    );
    let theirs = run(
        Command::new("python3").arg(dir().join("build6.py")),
        "python3 build6.py",
    );
    let (ours, theirs) = (packets(&ours, "build6.rhai"), packets(&theirs, "build6.py"));
    let names = |v: &[(String, Vec<u8>)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&ours),
        names(&theirs),
        "build6.rhai and build6.py must build the same packets in the same order"
    );
    assert!(ours.len() >= 40, "only {} packets compared", ours.len());
    for (name, _) in KNOWN {
        assert!(
            ours.iter().any(|(n, _)| n == name),
            "KNOWN names {name}, which is not built"
        );
    }

    let mut problems = Vec::new();
    for (i, ((name, a), (_, b))) in ours.iter().zip(&theirs).enumerate() {
        let known = KNOWN.iter().find(|(n, _)| n == name);
        match (difference(a, b), known) {
            (Some(d), None) => problems.push(format!("packet {} ({name}): {d}", i + 1)),
            (None, Some(_)) => problems.push(format!(
                "packet {} ({name}) now builds as in Scapy: remove it from KNOWN",
                i + 1
            )),
            _ => {}
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} packets:\n{}",
        problems.len(),
        ours.len(),
        problems.join("\n")
    );
}
