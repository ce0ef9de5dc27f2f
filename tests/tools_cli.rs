//! The pkttools-style shell tools offline (`convert`, `filter`, `analyze`,
//! `correct`, `check`), piped into each other, checked against the script
//! API they wrap; and `edit()` through `$EDITOR`. The live `recv` and
//! `send` are in tests/tools_live.rs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_pktscript");

fn bin() -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c.env("NO_COLOR", "1");
    c.env_remove("VISUAL");
    c
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run pktscript")
}

fn run_in(args: &[&str], input: &[u8]) -> Output {
    let mut c = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pktscript");
    let mut stdin = c.stdin.take().unwrap();
    let data = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let o = c.wait_with_output().unwrap();
    feeder.join().unwrap();
    o
}

/// `sh -c PIPELINE` with `$P` the pktscript binary.
fn shell(pipeline: &str) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(pipeline)
        .env("P", BIN)
        .env("NO_COLOR", "1")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pktscript-tools-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A capture of varied packets, one with a bad ICMP checksum (packet 5).
fn mixed(dir: &Path) -> PathBuf {
    let path = dir.join("mixed.pcap");
    let script = format!(
        r#"
        let t = 1700000000;
        let ps = [
            Ether(#{{src: "02:00:00:00:00:01"}}) / ARP(#{{psrc: "198.18.0.1", pdst: "198.18.0.2", hwsrc: "02:00:00:00:00:01"}}),
            Ether(#{{src: "02:00:00:00:00:02", dst: "02:00:00:00:00:01"}}) / ARP(#{{op: "is-at", psrc: "198.18.0.2", pdst: "198.18.0.1", hwsrc: "02:00:00:00:00:02"}}),
            Ether() / IPv4(#{{src: "198.18.0.1", dst: "198.18.0.2"}}) / ICMP(#{{seq: 1}}) / Raw("ping"),
            Ether() / IPv4(#{{src: "198.18.0.1", dst: "198.18.0.2"}}) / UDP(#{{sport: 5353, dport: 53}}) / Raw("query"),
            Ether() / IPv4(#{{src: "198.18.0.1", dst: "198.18.0.2"}}) / TCP(#{{sport: 40000, dport: 80, flags: "S"}}),
            Ether() / IPv4(#{{src: "198.18.0.2", dst: "198.18.0.1"}}) / ICMP(#{{type: "echo-reply", chksum: 0x1234}}),
            Ether() / Dot1Q(#{{vlan: 7}}) / IPv4(#{{src: "198.18.0.3", dst: "198.18.0.4", ttl: 3}}) / UDP(#{{dport: 9}}) / WoL(#{{target: "02:00:00:00:00:09"}}),
            Ether(#{{src: "02:00:00:00:00:02", dst: "02:00:00:00:00:01"}}) / ARP(#{{op: 2, psrc: "198.18.0.9", pdst: "198.18.0.1"}}),
        ];
        for i in 0..ps.len() {{ ps[i].time = t + i * 0.25; }}
        write_pcap("{}", ps);
        "#,
        s(&path)
    );
    ok(&run(&["-e", &script]));
    path
}

#[test]
fn pcap_text_pcap_is_byte_identical() {
    let d = scratch("roundtrip");
    let m = mixed(&d);
    let txt = d.join("m.txt");
    ok(&run(&["convert", s(&m), s(&txt)]));
    let back = d.join("back.pcap");
    ok(&run(&["convert", s(&txt), s(&back)]));
    assert_eq!(std::fs::read(&m).unwrap(), std::fs::read(&back).unwrap());
    // With field lines, through pipes, and from pcapng.
    let ng = d.join("m.pcapng");
    ok(&run(&["convert", s(&m), "-o", s(&ng)]));
    assert_eq!(std::fs::read(&ng).unwrap()[..4], [0x0a, 0x0d, 0x0d, 0x0a]);
    let o = shell(&format!(
        "$P convert {} -a | $P convert --to pcap > {}",
        s(&ng),
        s(&back)
    ));
    ok(&o);
    assert_eq!(std::fs::read(&m).unwrap(), std::fs::read(&back).unwrap());
    // Standard input is sniffed: pcap in, text out.
    let o = run_in(&["convert"], &std::fs::read(&m).unwrap());
    assert_eq!(ok(&o), std::fs::read_to_string(&txt).unwrap());
}

#[test]
fn tcpdump_reads_what_convert_writes() {
    let d = scratch("tcpdump");
    let m = mixed(&d);
    let txt = d.join("m.txt");
    ok(&run(&["convert", s(&m), s(&txt), "-a"]));
    let back = d.join("back.pcap");
    ok(&run(&["convert", s(&txt), s(&back)]));
    let dump = |p: &Path| {
        let o = Command::new("tcpdump")
            .args(["-r", s(p), "-nn", "-xx", "-tt"])
            .output()
            .expect("tcpdump (apt-get install tcpdump)");
        assert!(o.status.success(), "{}", stderr(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    let a = dump(&m);
    assert_eq!(a, dump(&back));
    assert!(a.contains("1700000000.250000 "), "{a}");
    assert!(
        a.contains("ARP, Reply 198.18.0.2 is-at 02:00:00:00:00:02"),
        "{a}"
    );
}

#[test]
fn filter_and_analyze_in_a_pipeline_match_the_script_api() {
    let d = scratch("pipeline");
    let m = mixed(&d);
    // Text through the pipe equals the script's to_text of read_pcap(path, "arp").
    let piped = ok(&shell(&format!("$P convert {} | $P filter arp", s(&m))));
    let script = ok(&run(&[
        "-e",
        &format!(r#"print(to_text(read_pcap("{}", "arp")))"#, s(&m)),
    ]));
    assert_eq!(piped.trim_end(), script.trim_end());
    assert_eq!(piped.matches("\n==\n").count(), 3);
    // analyze: summary and show() of each, as the script prints them.
    let analyzed = ok(&shell(&format!(
        "$P convert {} | $P filter arp | $P analyze",
        s(&m)
    )));
    let kept: String = analyzed
        .lines()
        .filter(|l| !l.starts_with("TIME:") && !l.starts_with("SIZE:"))
        .map(|l| format!("{l}\n"))
        .collect();
    let expected = ok(&run(&[
        "-e",
        &format!(
            r#"let n = 0;
               for p in read_pcap("{}", "arp") {{ n += 1; print(`-- ${{n}} --`); print(p.summary()); print(p.details() + "=="); }}"#,
            s(&m)
        ),
    ]));
    assert_eq!(kept, expected);
    assert!(analyzed.contains("SIZE: 42/42\n"), "{analyzed}");
    assert!(analyzed.contains("TIME: 1700000000.000000 Tue Nov 14 22:13:20 2023\n"));
}

#[test]
fn field_tests_and_tcpdump_expressions_select_the_same_packets() {
    let d = scratch("fieldtest");
    let m = mixed(&d);
    let a = ok(&run(&["filter", "arp.op==2", "-r", s(&m)]));
    let b = ok(&run(&["filter", "arp[6:2] = 2", "-r", s(&m)]));
    let c = ok(&run(&["filter", "ARP.OPERATION==0x2", s(&m)]));
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert_eq!(a.matches("\n==\n").count(), 2);
    // -v keeps the rest; together they are everything.
    let v = ok(&run(&["filter", "-v", "arp.op==2", "-r", s(&m)]));
    assert_eq!(v.matches("\n==\n").count(), 6);
    // A VLAN-tagged UDP datagram, selected by a tcpdump expression.
    let vl = ok(&run(&["filter", "vlan 7 and udp port 9", "-r", s(&m)]));
    assert_eq!(vl.matches("\n==\n").count(), 1);
    // Packets keep their numbering per output, and their times.
    assert!(vl.starts_with("LINKTYPE: 1 "), "{vl}");
    assert!(vl.contains("-- 1 --\nTIME: 1700000001.500000 "), "{vl}");
}

#[test]
fn correct_is_the_script_fix_and_check_tells_bad_from_good() {
    let d = scratch("correct");
    let m = mixed(&d);
    // check: lists packet 6, exit status 1.
    let o = run(&["check", s(&m)]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let listed = String::from_utf8(o.stdout.clone()).unwrap();
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(
        listed.starts_with("6: IP 198.18.0.2 > 198.18.0.1: ICMP echo reply")
            && listed.contains("ICMP checksum 0x1234, should be 0x"),
        "{listed}"
    );
    assert!(stderr(&o).contains("8 packets, 1 with bad checksums"));
    // correct writes what the script's p.fix() gives, byte for byte.
    let fixed = d.join("fixed.pcap");
    ok(&run(&["correct", s(&m), "-o", s(&fixed)]));
    let by_script = d.join("by_script.pcap");
    ok(&run(&[
        "-e",
        &format!(
            r#"let ps = read_pcap("{}"); for i in 0..ps.len() {{ ps[i].fix(); }} write_pcap("{}", ps);"#,
            s(&m),
            s(&by_script)
        ),
    ]));
    assert_eq!(
        std::fs::read(&fixed).unwrap(),
        std::fs::read(&by_script).unwrap()
    );
    let o = run(&["check", s(&fixed)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // In a pipe, text in and text out: pkt-correct's use.
    let o = shell(&format!("$P convert {} | $P correct | $P check", s(&m)));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn a_text_edit_in_the_shell_becomes_a_packet_with_its_checksum_fixed() {
    // Seed note 000's forgery, with sed for an editor.
    let d = scratch("sed");
    let out = d.join("forged.pcap");
    let o = shell(&format!(
        "$P convert scripts/data/echo.pcap -a | $P filter 'icmp[0] = 0' \
         | sed 's/^icmp.type: .*/icmp.type: echo-request/' | $P convert -o {}",
        s(&out)
    ));
    ok(&o);
    let forged = ok(&run(&[
        "-e",
        &format!(r#"let p = read_pcap("{}")[0]; p.icmp.chksum"#, s(&out)),
    ]));
    assert_eq!(forged.trim(), "13927", "0x3667, as pkt-correct computes");
}

#[test]
fn errors_name_the_file_line_and_column() {
    let d = scratch("errors");
    let bad = d.join("bad.txt");
    std::fs::write(
        &bad,
        "-- 1 --\n000000: FF FF FF FF  FF FF 02 00  00 00 00 01  08 06\nip.ttl: 5\n==\n",
    )
    .unwrap();
    let o = run(&["analyze", s(&bad)]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains(&format!("{}:3:1", s(&bad))), "{e}");
    assert!(e.contains("this packet has no IPv4 layer"), "{e}");
    assert!(e.contains("3 │ ip.ttl: 5"), "{e}");
    // A filter that does not compile points at the token.
    let o = run(&["filter", "tcp port", "-r", "scripts/data/echo.pcap"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("tcp port"), "{}", stderr(&o));
    let o = run(&["filter", "arp.op==banana", "-r", "scripts/data/echo.pcap"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not a known value"), "{}", stderr(&o));
    // A missing file, and a corrupt capture.
    let o = run(&["convert", s(&d.join("missing.pcap"))]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("missing.pcap"), "{}", stderr(&o));
    let mut corrupt = std::fs::read("scripts/data/echo.pcap").unwrap();
    corrupt.truncate(50);
    let o = run_in(&["analyze"], &corrupt);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("<stdin>"), "{}", stderr(&o));
    // A compressed capture is recognised and explained, not read as text.
    let o = run_in(&["analyze"], &[0x1f, 0x8b, 0x08, 0x00, 1, 2, 3, 4]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("gzip-compressed: decompress it first"),
        "{}",
        stderr(&o)
    );
    // A timeout no duration can hold is an error, not a panic (and no link is opened).
    for t in ["1e30", "-1", "nan"] {
        let o = run(&["recv", "nosuchdev0", &format!("--timeout={t}")]);
        assert_eq!(o.status.code(), Some(1), "-t {t}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("is not a timeout"),
            "-t {t}: {}",
            stderr(&o)
        );
    }
    // Arrays with something that is not a packet.
    let o = run(&["-e", r#"write_text("/nonexistent/x.txt", [Ether(), 3])"#]);
    assert!(
        stderr(&o).contains("element 1 of the array is a i64, not a packet"),
        "{}",
        stderr(&o)
    );
    let o = run(&["-e", r#"sendp([Ether(), 5], "nosuchdev0")"#]);
    assert!(
        stderr(&o).contains("element 1 is a i64, not a packet"),
        "{}",
        stderr(&o)
    );
    // Binary that is no capture is not read as text.
    let o = run_in(&["analyze"], &[0xff, 0xfe, 0x00, 0x80, 0x81]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("neither pcap, pcapng nor text"),
        "{}",
        stderr(&o)
    );
    // A usage error is status 2.
    let o = run(&["convert", "--to", "xml"]);
    assert_eq!(o.status.code(), Some(2));
    for args in [
        &["recv"][..],
        &["send"],
        &["send", "a", "b", "c"],
        &["filter"],
    ] {
        let o = run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
    assert!(stderr(&run(&["recv"])).contains("recv needs an interface"));
}

#[test]
fn tools_stream_packet_by_packet() {
    // The first packet comes out of a pipe before the input has ended.
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("$P filter arp | $P analyze")
        .env("P", BIN)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/pkttools/recv_arp.txt"
    ))
    .unwrap();
    let first = &text[..text.find("-- 2 --").unwrap()];
    stdin.write_all(first.as_bytes()).unwrap();
    stdin.flush().unwrap();
    let mut out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::Read;
        let mut buf = [0u8; 4096];
        let mut got = String::new();
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            got.push_str(&String::from_utf8_lossy(&buf[..n]));
            if got.contains("==\n") {
                let _ = tx.send(got.clone());
            }
        }
    });
    let got = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the first packet came through while the input was still open");
    assert!(
        got.contains("ARP who has 10.0.2.2 tell 10.0.2.15") || got.contains("ARP"),
        "{got}"
    );
    drop(stdin);
    child.wait().unwrap();
}

// ---- edit() ------------------------------------------------------------------

fn edit_with(editor: &str, script: &str) -> Output {
    bin()
        .env("EDITOR", editor)
        .args(["-e", script])
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn edit_opens_the_editor_and_returns_the_edited_packet() {
    let o = edit_with(
        "sed -i -e 's/^icmp.type: .*/icmp.type: 8/'",
        r#"let p = read_pcap("scripts/data/echo.pcap")[1];
           let q = edit(p);
           print(q.icmp.type); print(q.icmp.chksum); print(p.icmp.type);"#,
    );
    assert_eq!(ok(&o), "echo-request\n13927\necho-reply\n");
    // An editor that changes nothing: the very same packet.
    let o = edit_with(
        "true",
        r#"let p = read_pcap("scripts/data/echo.pcap")[1]; let q = edit(p); print(q.bytes() == p.bytes());"#,
    );
    assert_eq!(ok(&o), "true\n");
    // An array in, an array out.
    let o = edit_with(
        "sed -i -e 's/^ip.ttl: .*/ip.ttl: 9/'",
        r#"let a = edit(read_pcap("scripts/data/echo.pcap")); print(a.len()); print(a[0].ip.ttl); print(a[1].ip.ttl);
           print(a[1].bad_checksums().len());"#,
    );
    assert_eq!(ok(&o), "2\n9\n9\n0\n");
}

#[test]
fn edit_reports_bad_text_and_failing_editors() {
    let o = edit_with(
        "sed -i -e 's/^ip.ttl: .*/ip.ttl: 999/'",
        r#"let q = edit(read_pcap("scripts/data/echo.pcap")[1]);"#,
    );
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("999 is out of range for ip.ttl"), "{e}");
    assert!(e.contains("pktscript-edit-"), "names the edited file: {e}");
    let o = edit_with(
        "false",
        r#"let q = edit(read_pcap("scripts/data/echo.pcap")[1]);"#,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("the editor `false` failed"),
        "{}",
        stderr(&o)
    );
    // Two packets where one was expected.
    let o = edit_with(
        "sh -c 'cat \"$1\" \"$1\" > \"$1.x\" && mv \"$1.x\" \"$1\"' sh",
        r#"let q = edit(read_pcap("scripts/data/echo.pcap")[1]);"#,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("holds 2 packets"), "{}", stderr(&o));
}

#[test]
fn script_text_functions_write_and_read_files() {
    let d = scratch("textfns");
    let f = d.join("x.txt");
    let o = run(&[
        "-e",
        &format!(
            r#"let ps = read_pcap("scripts/data/echo.pcap");
               print(write_text("{f}", ps, #{{fields: true}}));
               let back = read_text("{f}");
               print(back[1].icmp.type == "echo-reply");
               print(back[0].to_text() == ps[0].to_text());
               let t = ps[1].to_text(#{{fields: true}});
               t.replace("icmp.type:      0", "icmp.type: 8");
               let one = parse_text(t);
               print(one[0].icmp.chksum);"#,
            f = s(&f)
        ),
    ]);
    assert_eq!(ok(&o), "2\ntrue\ntrue\n13927\n");
    let t = std::fs::read_to_string(&f).unwrap();
    assert!(
        t.starts_with("LINKTYPE: 1 (ETHERNET)\n-- 1 --\nTIME: 1625635176.702412 "),
        "{t}"
    );
    // parse_text errors become script errors with the text's line and column.
    let o = run(&["-e", r#"parse_text("-- 1 --\n000000: 0Z\n==\n")"#]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("'Z' is not a hex digit (at <text>:2:10)"),
        "{}",
        stderr(&o)
    );
}

// ---- nothing lost, nothing unbounded ------------------------------------------

fn u32b(v: u32, be: bool) -> [u8; 4] {
    if be { v.to_be_bytes() } else { v.to_le_bytes() }
}

/// A classic pcap with every field a copy used to change: FCS bits in the
/// link-type word, an original length below the captured one, fractions of
/// a second out of range, an empty record, a snapshot length of 65535 and
/// a time zone, in either byte order and resolution.
fn odd_pcap(be: bool, nano: bool) -> Vec<u8> {
    let unit: u32 = if nano { 1_000_000_000 } else { 1_000_000 };
    let magic: u32 = if nano { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
    let mut f = Vec::new();
    f.extend(u32b(magic, be));
    f.extend(if be { [0, 2, 0, 4] } else { [2, 0, 4, 0] });
    f.extend(u32b(-3600i32 as u32, be));
    f.extend(u32b(0, be));
    f.extend(u32b(65535, be));
    f.extend(u32b(1 | 0x0400_0000 | (2 << 28), be));
    let frame = std::fs::read("scripts/data/echo.pcap").unwrap()[40..138].to_vec();
    for (sec, frac, data, orig) in [
        (1_700_000_000u32, 5u32, &frame[..], 98u32),
        (1_700_000_001, 6, &frame[..], 10),
        (1_700_000_002, unit + unit / 2, &frame[..], 1514),
        (1_700_000_003, u32::MAX, &frame[..20], 60),
        (1_700_000_004, 7, &[][..], 60),
    ] {
        f.extend(u32b(sec, be));
        f.extend(u32b(frac, be));
        f.extend(u32b(data.len() as u32, be));
        f.extend(u32b(orig, be));
        f.extend(data);
    }
    f
}

#[test]
fn convert_copies_a_capture_byte_for_byte() {
    let d = scratch("exact");
    for be in [false, true] {
        for nano in [false, true] {
            let bytes = odd_pcap(be, nano);
            let src = d.join(format!("odd_{be}_{nano}.pcap"));
            std::fs::write(&src, &bytes).unwrap();
            let dst = d.join(format!("copy_{be}_{nano}.pcap"));
            ok(&run(&["convert", s(&src), s(&dst)]));
            assert_eq!(std::fs::read(&dst).unwrap(), bytes, "be {be} ns {nano}");
            // and through a pipe
            let o = run_in(&["convert", "--to", "pcap"], &bytes);
            assert!(o.status.success(), "{}", stderr(&o));
            assert_eq!(o.stdout, bytes, "pipe: be {be} ns {nano}");
        }
    }
    // the captures the tests keep, and a pcapng this tool wrote
    let ng = d.join("echo.pcapng");
    ok(&run(&["convert", "scripts/data/echo.pcap", s(&ng)]));
    for src in [
        "scripts/data/echo.pcap",
        "tests/data/linktypes/sll2.pcap",
        "tests/data/linktypes/raw229.pcap",
        s(&ng),
    ] {
        let ext = if src.ends_with("ng") {
            "pcapng"
        } else {
            "pcap"
        };
        let dst = d.join(format!("copy.{ext}"));
        ok(&run(&["convert", src, s(&dst)]));
        assert_eq!(
            std::fs::read(&dst).unwrap(),
            std::fs::read(src).unwrap(),
            "{src}"
        );
    }
}

#[test]
fn input_that_is_no_capture_and_no_text_says_so() {
    let d = scratch("neither");
    let bin = d.join("firmware.bin");
    std::fs::write(&bin, [0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02, 0x03, 0x04]).unwrap();
    let o = run(&["convert", s(&bin)]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains(&format!(
            "\"{}\" is neither pcap, pcapng nor text: it starts with the bytes de ad be ef 00 01 02 03",
            s(&bin)
        )),
        "{e}"
    );
    assert!(e.contains("a1 b2 c3 d4"), "{e}");
    assert!(!e.contains("UTF-8"), "{e}");
}

#[test]
fn an_empty_file_is_an_error_and_an_empty_pipe_is_no_packets() {
    let d = scratch("empty");
    let empty = d.join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    let out = d.join("out.pcap");
    let o = run(&["convert", s(&empty), s(&out)]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("\"{}\" is empty", s(&empty))),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists(), "an empty input made {}", s(&out));
    // a pipeline whose filter kept nothing still runs through
    let o = run_in(&["analyze"], b"");
    assert_eq!(ok(&o), "");
}

#[test]
fn filter_says_when_its_last_word_names_no_file() {
    let d = scratch("nofile");
    let missing = d.join("missing.pcap");
    for args in [
        vec!["filter", "ip", s(&missing)],
        vec!["filter", "ip", "missing.pcap"],
        vec!["filter", "host", "198.18.0.1", "missing.pcap"],
        vec!["filter", "arp.op==2", "capture"],
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let e = stderr(&o);
        let word = args.last().unwrap();
        assert!(
            e.contains(&format!("cannot open \"{word}\": no such file")),
            "{args:?}: {e}"
        );
        assert!(!e.contains("unexpected"), "{args:?}: {e}");
    }
    // an expression that is wrong by itself is still reported as such
    let o = run_in(&["filter", "net", "10.0.0.0/33"], b"");
    assert!(stderr(&o).contains("prefix length"), "{}", stderr(&o));
    let o = run_in(&["filter", "tcp", "port"], b"");
    assert!(!stderr(&o).contains("no such file"), "{}", stderr(&o));
}

#[test]
fn reports_do_not_wrap_when_read_by_a_program() {
    // A deep path made the report wrap at 80 columns, splitting the
    // message that tests and log searches look for.
    let d = scratch(&"deep".repeat(20));
    let missing = d.join("a_capture_that_is_not_there.pcap");
    let o = run(&["analyze", s(&missing)]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.lines()
            .any(|l| l.contains(s(&missing)) && l.contains("No such file")),
        "{e}"
    );
    let o = run(&["-e", &format!("read_pcap(\"{}\")", s(&missing))]);
    assert!(
        stderr(&o)
            .lines()
            .any(|l| l.contains(s(&missing)) && l.contains("no such file")),
        "{}",
        stderr(&o)
    );
}

#[test]
fn endless_text_is_cut_at_a_line_not_read_into_memory() {
    // `pktscript convert /dev/zero` grew to gigabytes in seconds.
    let start = std::time::Instant::now();
    let o = bin()
        .args(["convert", "/dev/zero"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("neither pcap, pcapng nor text"),
        "{}",
        stderr(&o)
    );
    assert!(start.elapsed().as_secs() < 10);
    // text without a line end, from a pipe
    let o = run_in(&["convert"], &vec![b'a'; 1 << 20]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("line 1 is longer than 65536 bytes"),
        "{}",
        stderr(&o)
    );
    // a SIZE line that disagrees with the hex names its line
    let o = run_in(&["convert"], b"-- 1 --\nSIZE: 42/42\n000000: 01 02\n==\n");
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("SIZE says 42 bytes were captured, but the hex lines of this packet hold 2"),
        "{e}"
    );
    assert!(e.contains("<stdin>:2:7"), "{e}");
}
