//! Outputs are never torn and never destroy what was there (docs/scripting.md,
//! "Output files"): a job that fails or is interrupted leaves the old file
//! byte for byte; one that completes, or a live capture stopped by a signal,
//! leaves a whole capture that tcpdump reads; a final flush that fails is an
//! error, even when the script never called close().

use pktscript::pcap::{PcapReader, PcapWriter};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_pktscript");

/// Packets in the large input: long enough to convert that a signal lands
/// in the middle.
const BIG: usize = 200_000;

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("pktscript-safe-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Names of the temporary files left in the directory.
    fn leftovers(&self) -> Vec<String> {
        std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".pktscript-"))
            .collect()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn bin() -> Command {
    let mut c = Command::new(BIN);
    c.env("NO_COLOR", "1");
    c
}

fn run_in(dir: &Path, args: &[&str]) -> Output {
    bin()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run pktscript")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// An Ethernet/IPv4/UDP frame, numbered through the IP id and the payload.
fn frame(i: usize) -> Vec<u8> {
    let mut f = vec![
        0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00, // Ethernet
        0x45, 0, 0, 36, 0, 0, 0, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2, // IPv4
        0x30, 0x39, 0, 9, 0, 16, 0, 0, // UDP
    ];
    f[18..20].copy_from_slice(&(i as u16).to_be_bytes());
    f.extend_from_slice(&(i as u64).to_be_bytes());
    f
}

/// A capture of `n` frames, written through the library.
fn write_capture(path: &Path, n: usize) {
    let mut w = PcapWriter::create(path, 1).unwrap();
    for i in 0..n {
        let f = frame(i);
        w.write_frame(&f, 1_700_000_000 + i as i64, 0, f.len() as u32, 1)
            .unwrap();
    }
    w.close().unwrap();
}

/// How many records a capture holds, or why it cannot be read to its end.
fn count_records(path: &Path) -> Result<usize, String> {
    let r = PcapReader::open(path).map_err(|e| e.to_string())?;
    let mut n = 0;
    for rec in r {
        rec.map_err(|e| e.to_string())?;
        n += 1;
    }
    Ok(n)
}

/// tcpdump reads the whole file without complaint (skipped without tcpdump).
fn tcpdump_reads(path: &Path) -> Result<(), String> {
    let o = match Command::new("tcpdump")
        .args(["-r", s(path), "-w", "/dev/null"])
        .output()
    {
        Ok(o) => o,
        Err(_) => return Ok(()),
    };
    if o.status.success() {
        Ok(())
    } else {
        Err(stderr(&o))
    }
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill has no memory effects; the pid is our own child's.
    unsafe {
        libc::kill(child.id() as libc::pid_t, sig);
    }
}

/// Waits for the child, killing it after `limit`.
fn wait(mut child: Child, limit: Duration) -> std::process::ExitStatus {
    let t = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            panic!("pktscript did not end within {limit:?} of the signal");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until a temporary output file shows up in `dir` (so the job has
/// started and its signal handler is in place), or the child ends.
fn wait_for_temp(dir: &TempDir, child: &mut Child) {
    let t = Instant::now();
    while dir.leftovers().is_empty() && t.elapsed() < Duration::from_secs(60) {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Whether we may mount and make namespaces (root, with unshare(1)).
fn can_unshare() -> bool {
    // SAFETY: geteuid cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    root && Command::new("unshare")
        .args(["-m", "true"])
        .status()
        .is_ok_and(|s| s.success())
}

// ---------------------------------------------------------------------------
// Failures leave the old file
// ---------------------------------------------------------------------------

/// Text of five ARP frames whose line 22 has a bad hex digit.
fn text_with_error_on_line_22() -> String {
    let arp = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let mut lines = Vec::new();
    for i in 1..=5 {
        lines.push(format!("-- {i} --"));
        for (k, chunk) in arp.chunks(16).enumerate() {
            let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02X}")).collect();
            lines.push(format!("{:06X}: {}", k * 16, hex.join(" ")));
        }
        lines.push("==".to_string());
    }
    lines[21] = "000000: FF FF GG".to_string();
    lines.join("\n") + "\n"
}

#[test]
fn convert_with_an_error_on_line_22_leaves_the_output_byte_identical() {
    let dir = TempDir::new("convert-error");
    let keep = dir.file("keep.pcap");
    write_capture(&keep, 50);
    let before = std::fs::read(&keep).unwrap();
    std::fs::write(dir.file("bad.txt"), text_with_error_on_line_22()).unwrap();
    for args in [
        &["convert", "bad.txt", "keep.pcap"][..],
        &["convert", "bad.txt", "-o", "keep.pcap"],
        &["filter", "arp", "-r", "bad.txt", "-o", "keep.pcap"],
        &["correct", "bad.txt", "-o", "keep.pcap"],
    ] {
        let o = run_in(dir.path(), args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("bad.txt:22:"),
            "{args:?}: {}",
            stderr(&o)
        );
        assert!(
            std::fs::read(&keep).unwrap() == before,
            "{args:?} changed keep.pcap"
        );
        assert!(dir.leftovers().is_empty(), "{:?}", dir.leftovers());
    }
    // The same job on a good input replaces the file.
    let good = text_with_error_on_line_22().replace("000000: FF FF GG", "000000: FF FF FF");
    std::fs::write(dir.file("good.txt"), good).unwrap();
    let o = run_in(dir.path(), &["convert", "good.txt", "keep.pcap"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(count_records(&keep), Ok(5));
    assert!(dir.leftovers().is_empty(), "{:?}", dir.leftovers());
}

#[test]
fn a_script_error_after_pcap_writer_leaves_the_old_file() {
    let dir = TempDir::new("script-error");
    let old = dir.file("old.pcap");
    write_capture(&old, 50);
    let before = std::fs::read(&old).unwrap();
    let cases = [
        // At the top level, the writer still in scope.
        "let w = pcap_writer(\"old.pcap\");\n\
         w.write(Ether() / IPv4() / UDP());\n\
         let x = 1 / 0;\n",
        // Inside a function: its writer is dropped as the error unwinds.
        "fn f() {\n\
           let w = pcap_writer(\"old.pcap\");\n\
           for i in 0..3000 { w.write(Ether() / IPv4() / UDP()); }\n\
           throw \"stop\";\n\
         }\n\
         f();\n",
        // A text file and a capture rewritten, then the error.
        "write_text(\"new.txt\", [Ether()]);\n\
         let w = pcap_writer(\"old.pcap\");\n\
         w.write(Ether() / ARP());\n\
         let p = Ether();\n\
         p.ip.ttl = 1;\n",
    ];
    for (i, src) in cases.iter().enumerate() {
        std::fs::write(dir.file("s.rhai"), src).unwrap();
        let o = run_in(dir.path(), &["s.rhai"]);
        assert_eq!(o.status.code(), Some(1), "case {i}: {}", stderr(&o));
        assert!(
            std::fs::read(&old).unwrap() == before,
            "case {i} changed old.pcap"
        );
        assert!(
            dir.leftovers().is_empty(),
            "case {i}: {:?}",
            dir.leftovers()
        );
    }
    // Without the error, the script's end puts the file in place.
    std::fs::write(
        dir.file("s.rhai"),
        "let w = pcap_writer(\"old.pcap\");\nw.write(Ether() / IPv4() / UDP());\n",
    )
    .unwrap();
    let o = run_in(dir.path(), &["s.rhai"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(count_records(&old), Ok(1));
    assert!(dir.leftovers().is_empty(), "{:?}", dir.leftovers());
}

// ---------------------------------------------------------------------------
// Signals
// ---------------------------------------------------------------------------

const DELAYS_MS: [u64; 8] = [0, 40, 90, 160, 250, 400, 600, 900];

fn sig_name(sig: i32) -> &'static str {
    if sig == libc::SIGINT {
        "SIGINT"
    } else {
        "SIGTERM"
    }
}

/// Runs an offline job 8 times, signalled after varied delays (SIGTERM and
/// SIGINT in turn): each run exits 143 or 130 (or 0 had it finished), and
/// leaves `out` either byte-identical to what it was or a complete capture
/// of `want` records that tcpdump reads.
fn interrupt_offline_job(name: &str, args: &[&str], out: &str, want: usize) {
    let dir = TempDir::new(name);
    write_capture(&dir.file("big.pcap"), BIG);
    let target = dir.file(out);
    write_capture(&target, 10);
    let before = std::fs::read(&target).unwrap();
    let mut interrupted = 0;
    for (i, delay) in DELAYS_MS.iter().enumerate() {
        let sig = if i % 2 == 0 {
            libc::SIGTERM
        } else {
            libc::SIGINT
        };
        let mut child = bin()
            .current_dir(dir.path())
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for_temp(&dir, &mut child);
        std::thread::sleep(Duration::from_millis(*delay));
        signal(&child, sig);
        let st = wait(child, Duration::from_secs(30));
        let what = format!("{args:?}, {} after {delay} ms", sig_name(sig));
        match st.code() {
            Some(c) if c == 128 + sig => interrupted += 1,
            Some(0) => {}
            _ => panic!("{what}: exit status {st:?} (signal {:?})", st.signal()),
        }
        let now = std::fs::read(&target).unwrap();
        if now != before {
            assert_eq!(count_records(&target), Ok(want), "{what}: a partial output");
            tcpdump_reads(&target).unwrap_or_else(|e| panic!("{what}: tcpdump: {e}"));
            // Back to the old content for the next run.
            std::fs::write(&target, &before).unwrap();
        }
        assert!(dir.leftovers().is_empty(), "{what}: {:?}", dir.leftovers());
    }
    assert!(
        interrupted > 0,
        "{args:?}: every run finished before its signal"
    );
}

#[test]
fn signals_during_convert_leave_the_old_file_or_a_complete_one() {
    interrupt_offline_job(
        "sig-convert",
        &["convert", "big.pcap", "out.pcapng"],
        "out.pcapng",
        BIG,
    );
}

#[test]
fn signals_during_filter_leave_the_old_file_or_a_complete_one() {
    interrupt_offline_job(
        "sig-filter",
        &[
            "filter",
            "udp and ip[5] & 1 == 0",
            "-r",
            "big.pcap",
            "-o",
            "out.pcap",
        ],
        "out.pcap",
        BIG / 2,
    );
}

#[test]
fn signals_during_a_pcap_writer_script_leave_whole_records() {
    let dir = TempDir::new("sig-script");
    let target = dir.file("out.pcap");
    write_capture(&target, 10);
    let before = std::fs::read(&target).unwrap();
    std::fs::write(
        dir.file("w.rhai"),
        "let w = pcap_writer(\"out.pcap\");\n\
         let p = Ether() / IPv4(#{dst: \"198.18.0.2\"}) / UDP(#{dport: 9}) / Raw(\"hello world\");\n\
         for i in 0..2000000 { p.ip.id = i % 65536; w.write(p); }\n",
    )
    .unwrap();
    let mut most = 0;
    for (i, delay) in DELAYS_MS.iter().enumerate() {
        let sig = if i % 2 == 0 {
            libc::SIGTERM
        } else {
            libc::SIGINT
        };
        let mut child = bin()
            .current_dir(dir.path())
            .arg("w.rhai")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for_temp(&dir, &mut child);
        std::thread::sleep(Duration::from_millis(*delay));
        signal(&child, sig);
        let st = wait(child, Duration::from_secs(30));
        let what = format!("{} after {delay} ms", sig_name(sig));
        assert_eq!(
            st.code(),
            Some(128 + sig),
            "{what}: exit status {st:?} (signal {:?})",
            st.signal()
        );
        // The writer is closed at the signal: whole records, in place.
        let now = std::fs::read(&target).unwrap();
        assert!(now != before, "{what}: the capture was not put in place");
        // A signal before the first write leaves an empty capture.
        let n = count_records(&target).unwrap_or_else(|e| panic!("{what}: {e}"));
        most = most.max(n);
        tcpdump_reads(&target).unwrap_or_else(|e| panic!("{what}: tcpdump: {e}"));
        assert!(dir.leftovers().is_empty(), "{what}: {:?}", dir.leftovers());
        std::fs::write(&target, &before).unwrap();
    }
    assert!(most > 0, "no run wrote a record before its signal");
}

/// `recv -w` and a script's capture callback writing to a pcap_writer, on
/// the loopback of a private network namespace while `send` feeds it: SIGINT and
/// SIGTERM end them with whole records in place, and exit 130 and 143.
#[test]
fn signals_during_live_captures_leave_whole_records() {
    if !can_unshare() {
        eprintln!("skipped: needs root and unshare(1)");
        return;
    }
    let dir = TempDir::new("sig-live");
    write_capture(&dir.file("frames.pcap"), 20);
    std::fs::write(
        dir.file("cap.rhai"),
        "let w = pcap_writer(\"script.pcap\");\n\
         capture(\"lo\", #{timeout: 60, outgoing: true}, |p| { w.write(p); true });\n",
    )
    .unwrap();
    let jobs: [(&str, &str); 2] = [
        ("recv.pcap", "exec \"$P\" recv lo -t 60 -w recv.pcap"),
        ("script.pcap", "exec \"$P\" cap.rhai"),
    ];
    for (out, cmd) in jobs {
        for (i, sig) in [libc::SIGINT, libc::SIGTERM, libc::SIGINT, libc::SIGTERM]
            .into_iter()
            .enumerate()
        {
            let target = dir.file(out);
            let _ = std::fs::remove_file(&target);
            // unshare execs sh, which execs pktscript: the child's pid is
            // pktscript's, and SIGINT is not ignored (no `&` in a shell).
            let script = format!(
                "ip link set lo up && (timeout 20 \"$P\" send lo --pps 2000 --loop 1000 frames.pcap >/dev/null 2>&1 &) && {cmd}"
            );
            let mut child = Command::new("unshare")
                .args(["-n", "sh", "-c", &script])
                .env("P", BIN)
                .env("NO_COLOR", "1")
                .current_dir(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            wait_for_temp(&dir, &mut child);
            std::thread::sleep(Duration::from_millis(300 + 150 * i as u64));
            signal(&child, sig);
            let st = wait(child, Duration::from_secs(10));
            let what = format!("{out}, {}", sig_name(sig));
            assert_eq!(
                st.code(),
                Some(128 + sig),
                "{what}: exit status {st:?} (signal {:?})",
                st.signal()
            );
            let n = count_records(&target).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert!(n > 0, "{what}: nothing captured");
            tcpdump_reads(&target).unwrap_or_else(|e| panic!("{what}: tcpdump: {e}"));
            assert!(dir.leftovers().is_empty(), "{what}: {:?}", dir.leftovers());
        }
    }
}

// ---------------------------------------------------------------------------
// A final flush that fails
// ---------------------------------------------------------------------------

/// A script whose writer holds more than a 64 KiB disk takes, all of it in
/// the write buffer, and that never calls close().
const UNCLOSED: &str = "let w = pcap_writer(ARGV[0]);\n\
    let p = Ether() / IPv4(#{dst: \"198.18.0.2\"}) / UDP(#{dport: 9}) / Raw(\"hello world\");\n\
    for i in 0..2000 { w.write(p); }\n";

#[test]
fn a_final_flush_that_fails_on_a_full_disk_is_an_error() {
    if !can_unshare() {
        eprintln!("skipped: needs root and unshare(1)");
        return;
    }
    let dir = TempDir::new("full");
    std::fs::write(dir.file("w.rhai"), UNCLOSED).unwrap();
    std::fs::create_dir(dir.file("small")).unwrap();
    write_capture(&dir.file("big.pcap"), 5000);
    // A 64 KiB tmpfs in a private mount namespace; a small old file on it
    // must survive each failure.
    let o = Command::new("unshare")
        .args([
            "-m",
            "sh",
            "-c",
            "old() { [ \"$(cat small/out.pcap)\" = old ] && echo old || echo changed; }; \
             mount -t tmpfs -o size=64k none small && echo old > small/out.pcap \
             && \"$P\" w.rhai small/out.pcap; echo \"status $?\"; old; \
             \"$P\" convert big.pcap small/out.pcap; echo \"status $?\"; old; \
             ls -A small",
        ])
        .env("P", BIN)
        .env("NO_COLOR", "1")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = stderr(&o);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["status 1", "old", "status 1", "old", "out.pcap"],
        "{err}"
    );
    assert_eq!(
        err.matches("cannot write \"small/out.pcap\": No space left on device")
            .count(),
        2,
        "{err}"
    );
}

#[test]
fn a_final_flush_to_dev_full_is_an_error() {
    let dir = TempDir::new("dev-full");
    std::fs::write(dir.file("w.rhai"), UNCLOSED).unwrap();
    let o = run_in(dir.path(), &["w.rhai", "/dev/full"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cannot write \"/dev/full\": No space left on device"),
        "{}",
        stderr(&o)
    );
    // Text through a shell tool too.
    std::fs::write(
        dir.file("t.txt"),
        text_with_error_on_line_22().replace("GG", "FF"),
    )
    .unwrap();
    let o = run_in(
        dir.path(),
        &["convert", "t.txt", "-o", "/dev/full", "--to", "text"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cannot write /dev/full: No space left on device"),
        "{}",
        stderr(&o)
    );
}
