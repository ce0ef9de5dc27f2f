//! The pktscript command as a user meets it: exit statuses, error reports
//! with file, line, column and hint, imports, and the sandbox.

use std::path::PathBuf;
use std::process::{Command, Output};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pktscript"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c.env("NO_COLOR", "1");
    c
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run pktscript")
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// A scratch directory unique to this test process and name.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pktscript-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn script(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn readme_first_command_forges_the_echo_request() {
    let d = scratch("forge");
    let outp = d.join("forged.pcap");
    let o = run(&[
        "scripts/forge_echo_offline.rhai",
        "scripts/data/echo.pcap",
        outp.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", err(&o));
    let text = out(&o);
    assert!(
        text.contains("ICMP checksum: reply 3e67 -> forged 3667"),
        "{text}"
    );
    assert!(
        text.contains("bad checksums in the forged packet: []"),
        "{text}"
    );
    let recs = pktscript::pcap::read_all(&outp).unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].data[34], 8);
    assert_eq!(&recs[0].data[36..38], &[0x36, 0x67]);
}

#[test]
fn eval_prints_the_value() {
    let o = run(&["-e", "Ether() / IPv4(#{dst: \"198.18.0.2\"}) / ICMP()"]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(
        out(&o),
        "IP 0.0.0.0 > 198.18.0.2: ICMP echo request, id 0, seq 0, length 8\n"
    );
    let o = run(&[
        "-e",
        "[parse(from_hex(\"ffffffffffff020000000001080600010800060400010200000000011234567800000000000087654321\")), IPv4()/UDP()]",
    ]);
    assert_eq!(
        out(&o),
        "0  ARP, Request who-has 135.101.67.33 tell 18.52.86.120, length 28\n1  IP 0.0.0.0.53 > 127.0.0.1.53: UDP, length 0\n"
    );
    let o = run(&["-e", "40 + 2"]);
    assert_eq!(out(&o), "42\n");
}

#[test]
fn argv_and_exit_status() {
    let d = scratch("argv");
    let s = script(&d, "a.rhai", "print(ARGV); exit(ARGV.len() + 2);");
    let o = run(&[&s, "x", "--flag", "y"]);
    assert_eq!(out(&o), "[\"x\", \"--flag\", \"y\"]\n");
    assert_eq!(o.status.code(), Some(5));
    // exit inside a function still ends the script with that status
    let s = script(
        &d,
        "b.rhai",
        "fn f() { exit(4); } f(); print(\"not reached\");",
    );
    let o = run(&[&s]);
    assert_eq!(o.status.code(), Some(4));
    assert_eq!(out(&o), "");
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(run(&[]).status.code(), Some(2));
    assert_eq!(run(&["--no-such-flag"]).status.code(), Some(2));
    let o = run(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(out(&o).contains("-e, --eval <EXPR>"));
    assert!(out(&o).contains("ARGV"));
}

#[test]
fn bad_field_value_is_reported_at_its_position_and_leaves_the_packet() {
    let d = scratch("badval");
    let s = script(
        &d,
        "bad.rhai",
        "let p = IPv4();\nlet before = p.bytes();\ntry {\n  p.ip.ttl = 300;\n} catch (e) {\n  print(e.message);\n}\nassert_eq(p.bytes(), before);\np.ip.ttl = 300;\n",
    );
    let o = run(&[&s]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        out(&o).contains("300 is out of range for ip.ttl (8 bits: 0 to 255)"),
        "{}",
        out(&o)
    );
    let e = err(&o);
    assert!(e.contains("bad.rhai:9:"), "{e}");
    assert!(e.contains("p.ip.ttl = 300;"), "{e}");
}

#[test]
fn unknown_field_suggests_the_closest_name() {
    let o = run(&["-e", "let p = IPv4(); p.ip.tll"]);
    assert_eq!(o.status.code(), Some(1));
    let e = err(&o);
    assert!(e.contains("IPv4 has no field `tll`"), "{e}");
    assert!(e.contains("did you mean `ttl`?"), "{e}");
    let o = run(&["-e", "let p = IPv4(); p.tcp.sport"]);
    let e = err(&o);
    assert!(e.contains("this packet has no TCP layer"), "{e}");
    assert!(e.contains("its layers are: IPv4"), "{e}");
    let o = run(&["-e", "Ether(#{dts: \"02:00:00:00:00:01\"})"]);
    assert!(err(&o).contains("did you mean `dst`?"), "{}", err(&o));
    let o = run(&["-e", "Ether(#{dst: \"02:00:00:00:00\"})"]);
    assert!(err(&o).contains("is not a MAC address"), "{}", err(&o));
}

#[test]
fn errors_inside_functions_show_the_call_chain() {
    let d = scratch("chain");
    let s = script(
        &d,
        "chain.rhai",
        "fn inner(p) {\n  p.udp.dport = \"http\";\n}\nfn outer() {\n  inner(IPv4() / UDP());\n}\nouter();\n",
    );
    let o = run(&[&s]);
    assert_eq!(o.status.code(), Some(1));
    let e = err(&o);
    assert!(
        e.contains("\"http\" is not a number (for udp.dport)"),
        "{e}"
    );
    assert!(e.contains("chain.rhai:2:"), "{e}");
    assert!(e.contains("in function `inner`, called at"), "{e}");
    assert!(e.contains("in function `outer`, called at"), "{e}");
}

#[test]
fn syntax_errors_point_at_the_line() {
    let d = scratch("syntax");
    let s = script(&d, "syn.rhai", "let a = 1;\nlet b = (a + ;\n");
    let o = run(&[&s]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("syn.rhai:2:"), "{}", err(&o));
}

#[test]
fn imports_resolve_to_stdlib_or_beside_the_script_only() {
    let d = scratch("import");
    script(&d, "mylib.rhai", "fn twice(x) { x * 2 }");
    let s = script(
        &d,
        "main.rhai",
        "import \"mylib\" as m; import \"arp\" as arp; print(m::twice(21)); print(arp::fake_broadcast());",
    );
    let o = run(&[&s]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(out(&o), "42\nff:ff:ff:ff:ff:fe\n");
    for bad in ["../mylib", "/etc/passwd", "sub/mylib", "nosuchmodule"] {
        let s = script(&d, "bad.rhai", &format!("import \"{bad}\" as m;"));
        let o = run(&[&s]);
        assert_eq!(o.status.code(), Some(1), "{bad}");
        let e = err(&o);
        assert!(
            e.contains(&format!("cannot import \"{bad}\"")),
            "{bad}: {e}"
        );
        assert!(e.contains("bad.rhai:1:"), "{e}");
    }
    // An error inside a module names the module file.
    script(&d, "broken.rhai", "fn f() { IPv4().ip.nope }");
    let s = script(&d, "use.rhai", "import \"broken\" as b;\nb::f();");
    let e = err(&run(&[&s]));
    assert!(e.contains("broken.rhai:1:"), "{e}");
}

#[test]
fn sandbox_eval_is_disabled_and_runaway_loops_end() {
    let o = run(&["-e", "eval(\"1\")"]);
    assert_eq!(o.status.code(), Some(1));
    let o = run(&["--max-operations", "10000", "-e", "loop { }"]);
    assert_eq!(o.status.code(), Some(1));
    let e = err(&o);
    assert!(e.contains("operation limit"), "{e}");
    assert!(e.contains("--max-operations"), "{e}");
}

#[test]
fn pcap_errors_are_clear() {
    let d = scratch("pcaperr");
    let o = run(&["-e", "read_pcap(\"/nonexistent/x.pcap\")"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("/nonexistent/x.pcap"), "{}", err(&o));
    let junk = d.join("junk.pcap");
    std::fs::write(&junk, b"this is not a capture file at all").unwrap();
    let o = run(&["-e", &format!("read_pcap(\"{}\")", junk.display())]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).to_lowercase().contains("magic"), "{}", err(&o));
    // A record cut short: the streaming reader yields what is intact, then the error.
    let full = std::fs::read("scripts/data/echo.pcap").unwrap();
    let cut = d.join("cut.pcap");
    std::fs::write(&cut, &full[..full.len() - 10]).unwrap();
    let o = run(&[
        "-e",
        &format!(
            "let n = 0; for p in pcap_reader(\"{}\") {{ n += 1; print(n); }}",
            cut.display()
        ),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(out(&o), "1\n");
    assert!(err(&o).contains("record #2"), "{}", err(&o));
}

#[test]
fn writer_left_open_by_an_early_exit_is_valid() {
    let d = scratch("early");
    let f = d.join("early.pcap");
    let s = script(
        &d,
        "w.rhai",
        &format!(
            "let w = pcap_writer(\"{}\");\nw.write(IPv4() / UDP());\nw.write(IPv4() / TCP());\nexit(3);\n",
            f.display()
        ),
    );
    let o = run(&[&s]);
    assert_eq!(o.status.code(), Some(3), "{}", err(&o));
    assert_eq!(pktscript::pcap::read_all(&f).unwrap().len(), 2);
    let s = script(
        &d,
        "w2.rhai",
        &format!(
            "let w = pcap_writer(\"{}\");\nw.write(Ether() / ARP());\nthrow \"boom\";\n",
            f.display()
        ),
    );
    let o = run(&[&s]);
    assert_eq!(o.status.code(), Some(1));
    // A script that fails leaves the file as it was (docs/scripting.md,
    // "Output files"): the two records of the first run.
    assert_eq!(pktscript::pcap::read_all(&f).unwrap().len(), 2);
}

#[test]
fn reading_through_a_method_call_is_not_an_edit() {
    // Rhai writes `p.ip.options` back after `.len()`: that must not fix the bad checksum.
    let o = run(&[
        "-e",
        "let p = parse(from_hex(\"020000000002 020000000001 0800 4500001c0001000040010000c6120001c6120002 0800f7ff00000000\")); \
         p.ip.options.len(); p.wol_absent = 1;",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let o = run(&[
        "-e",
        "let p = parse(from_hex(\"020000000002 020000000001 0800 4500001c0001000040010000c6120001c6120002 0800f7ff00000000\")); \
         p.ip.options.len(); p.bad_checksums()",
    ]);
    assert_eq!(out(&o), "[\"IPv4\"]\n", "{}", err(&o));
}

#[test]
fn layers_by_index_and_by_copy() {
    let o = run(&["-e", "let p = Ether() / IPv4(); p[1].ttl = 9; p[-1].ttl"]);
    assert_eq!(out(&o), "9\n", "{}", err(&o));
    // A header copied from another packet of the same protocol replaces only that header.
    let o = run(&[
        "-e",
        "let a = Ether(#{src: \"02:00:00:00:00:01\"}) / IPv4(#{dst: \"198.18.0.2\"}); \
         let b = Ether(#{src: \"02:00:00:00:00:07\"}) / ARP(); a.eth = b.eth; [a.eth.src, a.eth.type, a.ip.dst]",
    ]);
    assert_eq!(
        out(&o),
        "[\"02:00:00:00:00:07\", 2048 (IPv4), \"198.18.0.2\"]\n",
        "{}",
        err(&o)
    );
    let o = run(&[
        "-e",
        "let a = Ether() / IPv4(); let b = Ether() / ARP(); a.ip = b.arp;",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err(&o).contains("cannot put a ARP header in place of a IPv4 header"),
        "{}",
        err(&o)
    );
}

#[test]
fn enums_compare_with_names_and_numbers() {
    let o = run(&[
        "-e",
        "let r = read_pcap(\"scripts/data/echo.pcap\").filter(|p| p.icmp.type == \"echo-reply\"); \
         [r.len(), r[0].icmp.type == 0, r[0].icmp.type != \"echo-request\", `${r[0].icmp.type}`, r[0].icmp.type + 8]",
    ]);
    assert_eq!(
        out(&o),
        "[1, true, true, \"echo-reply\", 8]\n",
        "{}",
        err(&o)
    );
}

#[test]
fn writing_after_close_is_an_error_and_keeps_the_file() {
    let d = scratch("closed");
    let f = d.join("c.pcap");
    let o = run(&[
        "-e",
        &format!(
            "let w = pcap_writer(\"{0}\"); w.write(Ether() / IPv4()); w.write(Ether() / ARP()); w.close(); w.write(Ether());",
            f.display()
        ),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("is closed"), "{}", err(&o));
    assert_eq!(pktscript::pcap::read_all(&f).unwrap().len(), 2);
}

#[test]
fn truncated_headers_refuse_edits_past_their_bytes() {
    let o = run(&[
        "-e",
        "let t = parse(from_hex(\"020000000002020000000001080045000054000100004001\")); t.ip.ttl = 3; print(to_hex(t.bytes())); t.ip.src = \"198.18.0.9\";",
    ]);
    assert_eq!(o.status.code(), Some(1));
    // The edit inside the captured bytes is made, without rebuilding the cut header.
    assert_eq!(
        out(&o),
        "020000000002020000000001080045000054000100000301\n"
    );
    assert!(err(&o).contains("beyond the captured bytes"), "{}", err(&o));
}

#[test]
fn eval_takes_arguments_and_imports_from_the_current_directory() {
    let d = scratch("evalargs");
    script(&d, "m.rhai", "fn f() { 41 }");
    let o = bin()
        .current_dir(&d)
        .args(["-e", "import \"m\" as m; m::f() + ARGV.len()", "x"])
        .output()
        .unwrap();
    assert_eq!(out(&o), "42\n", "{}", err(&o));
    assert_eq!(run(&["-e", "exit(-1)"]).status.code(), Some(255));
    let o = run(&["-e", "exit(\"a\")"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err(&o).contains("exit takes an integer status"),
        "{}",
        err(&o)
    );
}

#[test]
fn options_after_the_script_belong_to_the_script() {
    let d = scratch("scriptopts");
    let s = script(&d, "a.rhai", "print(ARGV);");
    let o = run(&[&s, "--help", "-x", "--iface", "z"]);
    assert_eq!(
        out(&o),
        "[\"--help\", \"-x\", \"--iface\", \"z\"]\n",
        "{}",
        err(&o)
    );
    let o = run(&["--max-operations", "1000000", "--", &s, "-e"]);
    assert_eq!(out(&o), "[\"-e\"]\n", "{}", err(&o));
    let o = run(&["-e", "ARGV", "a", "--help"]);
    assert_eq!(out(&o), "[\"a\", \"--help\"]\n");
}

#[test]
fn a_closed_pipe_ends_quietly() {
    use std::io::Read;
    let mut child = bin()
        .args(["-e", "for i in 0..100000 { print(i); }"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 2];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("panicked"),
        "{}",
        err(&o)
    );
}

#[test]
fn long_jobs_show_progress_on_a_terminal_only() {
    let expr = "for p in pcap_reader(\"scripts/data/echo.pcap\") { sleep(0.5); }";
    // Not a terminal: nothing on stderr.
    let o = run(&["-e", expr]);
    assert_eq!(err(&o), "");
    // A terminal (script(1) gives the command a pseudo-terminal): a spinner with counts and rate.
    let cmd = format!("{} -e '{expr}'", env!("CARGO_BIN_EXE_pktscript"));
    let o = Command::new("script")
        .args(["-qfec", &cmd, "/dev/null"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("script(1) from util-linux");
    let shown = String::from_utf8_lossy(&o.stdout).replace('\r', "\n");
    assert!(shown.contains("packets ("), "{shown:?}");
    assert!(shown.contains("/s,"), "{shown:?}");
}

#[test]
fn tcpdump_filters_in_scripts_and_dump_bpf() {
    // read_pcap/pcap_reader with an expression select what p.matches selects.
    let o = run(&[
        "-e",
        "let f = \"tests/golden/build_every_layer.pcap\"; let e = \"tcp or arp\"; \
         let a = read_pcap(f, e).len(); let b = 0; for p in pcap_reader(f, e) { b += 1; } \
         let c = read_pcap(f).filter(|p| p.matches(e)).len(); [a, b, c]",
    ]);
    assert_eq!(out(&o), "[4, 4, 4]\n", "{}", err(&o));
    // A bad expression points at the token.
    let o = run(&[
        "-e",
        "read_pcap(\"tests/golden/build_every_layer.pcap\", \"icmp and hst 1.2.3.4\")",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let e = err(&o);
    assert!(e.contains("bad filter"), "{e}");
    assert!(e.contains("icmp and hst 1.2.3.4"), "{e}");
    assert!(e.contains("^^^"), "{e}");
    // --dump-bpf prints what tcpdump -d prints for a simple expression.
    let ours = out(&run(&["--dump-bpf", "ip"]));
    let theirs = Command::new("tcpdump")
        .args(["-d", "ip"])
        .output()
        .expect("tcpdump (CI installs it)");
    assert_eq!(ours, String::from_utf8_lossy(&theirs.stdout));
}
