//! Script regression tests: every `tests/scripts/NAME.rhai` runs with the
//! output path as ARGV[0]; the packets it writes must equal
//! `tests/golden/NAME.pcap` (bytes and timestamps) and what it prints must
//! equal `tests/golden/NAME.out`. `PKTSCRIPT_BLESS=1 cargo test --test scripts`
//! rewrites the golden files from the current output.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run_one(script: &Path) -> Result<(), String> {
    let name = script.file_stem().unwrap().to_string_lossy().to_string();
    let out = std::env::temp_dir().join(format!(
        "pktscript-golden-{}-{name}.pcap",
        std::process::id()
    ));
    let res = Command::new(env!("CARGO_BIN_EXE_pktscript"))
        .arg(script)
        .arg(&out)
        .current_dir(root())
        .output()
        .map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&res.stdout).to_string();
    if !res.status.success() {
        return Err(format!(
            "{name}: exit {:?}\n{}{}",
            res.status.code(),
            stdout,
            String::from_utf8_lossy(&res.stderr)
        ));
    }
    let golden_pcap = root().join("tests/golden").join(format!("{name}.pcap"));
    let golden_out = root().join("tests/golden").join(format!("{name}.out"));
    if std::env::var_os("PKTSCRIPT_BLESS").is_some() {
        std::fs::copy(&out, &golden_pcap).map_err(|e| e.to_string())?;
        std::fs::write(&golden_out, &stdout).map_err(|e| e.to_string())?;
        return Ok(());
    }
    let got = pktscript::pcap::read_all(&out).map_err(|e| format!("{name}: {e}"))?;
    let want = pktscript::pcap::read_all(&golden_pcap)
        .map_err(|e| format!("{name}: {e} (new test? run with PKTSCRIPT_BLESS=1)"))?;
    if got.len() != want.len() {
        return Err(format!(
            "{name}: {} packets written, golden has {}",
            got.len(),
            want.len()
        ));
    }
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        if g.data != w.data || (g.ts_sec, g.ts_nsec) != (w.ts_sec, w.ts_nsec) {
            let mut gp = pktscript::Packet::dissect(g.data.clone(), g.linktype);
            let mut wp = pktscript::Packet::dissect(w.data.clone(), w.linktype);
            return Err(format!(
                "{name}: packet {i} differs\n--- golden ({}.{:09})\n{}--- got ({}.{:09})\n{}",
                w.ts_sec,
                w.ts_nsec,
                wp.details(),
                g.ts_sec,
                g.ts_nsec,
                gp.details()
            ));
        }
    }
    let want_out = std::fs::read_to_string(&golden_out).unwrap_or_default();
    if stdout != want_out {
        return Err(format!(
            "{name}: output differs\n--- golden\n{want_out}--- got\n{stdout}"
        ));
    }
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(out.with_extension("pcap.tmp.pcapng"));
    let _ = std::fs::remove_file(out.with_extension("pcap.loop.pcap"));
    Ok(())
}

#[test]
fn scripts_match_their_golden_files() {
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(root().join("tests/scripts"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "rhai"))
        .collect();
    scripts.sort();
    assert!(!scripts.is_empty());
    let failures: Vec<String> = scripts.iter().filter_map(|s| run_one(s).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} scripts failed:\n{}",
        failures.len(),
        scripts.len(),
        failures.join("\n")
    );
}
