//! `pktscript test`: the repository's own script tests pass, and the runner
//! reports failures as a person needs them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn pktscript(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pktscript"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("run pktscript")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pktscript-runner-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("t")).unwrap();
    d
}

fn write(dir: &Path, name: &str, body: &str) {
    std::fs::write(dir.join(name), body).unwrap();
}

#[test]
fn the_repository_script_tests_pass() {
    let o = pktscript(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &["test", "tests/pkt"],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.trim_end().ends_with("passed, 0 failed"), "{t}");
    assert!(
        !t.contains("golden"),
        "a normal run writes no golden file: {t}"
    );
}

const TTL_TEST: &str = "let p = Ether(#{src: \"02:00:00:00:00:01\"}) / IPv4(#{src: \"198.18.0.1\", dst: \"198.18.0.2\", ttl: TTL}) / ICMP();\n\
                        expect_pcap([p], \"golden/ttl.pcap\");\n";

#[test]
fn bless_writes_goldens_and_a_mismatch_names_the_field() {
    let d = scratch("bless");
    write(&d.join("t"), "ttl.rhai", &TTL_TEST.replace("TTL", "64"));
    // No golden yet: a normal run fails and says how to make one.
    let o = pktscript(&d, &["test", "t"]);
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(
        t.contains("golden file t/golden/ttl.pcap does not exist"),
        "{t}"
    );
    assert!(t.contains("--bless"), "{t}");
    assert!(!d.join("t/golden/ttl.pcap").exists());
    // --bless writes it and says it is new; then the test passes.
    let o = pktscript(&d, &["test", "--bless", "t"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("new golden t/golden/ttl.pcap"), "{t}");
    let o = pktscript(&d, &["test", "t"]);
    assert_eq!(text(&o).lines().last(), Some("1 passed, 0 failed"));
    // A changed TTL: the report names the packet, layer, field and both values,
    // and shows both packets side by side.
    write(&d.join("t"), "ttl.rhai", &TTL_TEST.replace("TTL", "63"));
    let o = pktscript(&d, &["test", "t"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("FAILED  t/ttl.rhai"), "{t}");
    assert!(t.contains("packets differ from t/golden/ttl.pcap"), "{t}");
    assert!(t.contains("packet 1 of 1 differs"), "{t}");
    assert!(t.contains("IPv4.ttl: expected 64, got 63"), "{t}");
    assert!(t.contains("IPv4.chksum: expected"), "{t}");
    assert!(t.contains("--- expected"), "{t}");
    assert!(t.contains("--- actual"), "{t}");
    assert!(
        t.contains("ttl     = 64") && t.contains("ttl     = 63"),
        "{t}"
    );
    assert_eq!(t.lines().last(), Some("0 passed, 1 failed"));
    // Ignoring the fields makes it pass; --bless rewrites it and says so.
    write(
        &d.join("t"),
        "ttl.rhai",
        &TTL_TEST.replace("TTL", "63").replace(
            "\"golden/ttl.pcap\")",
            "\"golden/ttl.pcap\", #{ignore: [\"ip.ttl\", \"ip.chksum\"]})",
        ),
    );
    assert_eq!(pktscript(&d, &["test", "t"]).status.code(), Some(0));
    let o = pktscript(&d, &["test", "--bless", "t"]);
    assert!(
        text(&o).contains("blessed t/golden/ttl.pcap"),
        "{}",
        text(&o)
    );
}

#[test]
fn errors_fail_their_test_only_and_the_summary_counts_all() {
    let d = scratch("errors");
    let t = d.join("t");
    write(&t, "a_ok.rhai", "assert_eq(1 + 1, 2);\nprint(\"fine\");\n");
    write(&t, "b_error.rhai", "let p = IPv4();\np.ip.tll = 5;\n");
    write(&t, "c_assert.rhai", "assert(false, \"the thing\");\n");
    write(&t, "d_exit.rhai", "exit(3);\n");
    write(&t, "e_skip.rhai", "// skip: not today\nassert(false);\n");
    std::fs::create_dir_all(t.join("golden")).unwrap();
    write(&t.join("golden"), "not_a_test.rhai", "assert(false);\n");
    write(&t, "_helper.rhai", "assert(false);\n");
    let o = pktscript(&d, &["test", "t", "-j", "3"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("ok      t/a_ok.rhai"), "{out}");
    assert!(out.contains("FAILED  t/b_error.rhai"), "{out}");
    assert!(out.contains("IPv4 has no field `tll`"), "{out}");
    assert!(out.contains("t/b_error.rhai:2:"), "{out}");
    assert!(out.contains("did you mean `ttl`?"), "{out}");
    assert!(out.contains("assertion failed: the thing"), "{out}");
    assert!(out.contains("the test ended with exit(3)"), "{out}");
    assert!(out.contains("skipped t/e_skip.rhai (not today)"), "{out}");
    assert!(
        !out.contains("not_a_test") && !out.contains("_helper"),
        "{out}"
    );
    assert_eq!(out.lines().last(), Some("1 passed, 3 failed, 1 skipped"));
    // Output is shown with -v, and --filter picks tests.
    let o = pktscript(&d, &["test", "t", "-v", "--filter", "a_ok"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("| fine"), "{out}");
    assert_eq!(out.lines().last(), Some("1 passed, 0 failed"));
}

#[test]
fn replay_directive_answers_from_a_pcap_and_records_sends() {
    let d = scratch("replay");
    let t = d.join("t");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/replay/promisc_yes.pcap"),
        t.join("answers.pcap"),
    )
    .unwrap();
    write(
        &t,
        "arp.rhai",
        "// replay: answers.pcap\n\
         let me = \"02:00:00:00:00:01\";\n\
         let r = srp1(Ether(#{src: me}) / ARP(#{hwsrc: me, psrc: \"198.18.0.1\", pdst: \"198.18.0.2\"}), #{timeout: 1});\n\
         assert_eq(r.arp.hwsrc, \"02:00:00:00:00:02\");\n\
         assert_eq(sent().len(), 1);\n\
         assert_eq(sent()[0].arp.pdst, \"198.18.0.2\");\n",
    );
    let o = pktscript(&d, &["test", "t"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}
