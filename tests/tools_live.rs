//! The shell tools `pktscript recv` and `pktscript send` live, on test LANs
//! in network namespaces (see netns/mod.rs): the tool runs in one host's
//! namespace (`ip netns exec NS pktscript recv DEV ...`), other hosts send,
//! answer or capture with a `LiveLink` of the test's own. Needs root:
//! without it the tests fail, they are never skipped.
//!
//! Frames go only between hosts of the test's own LAN (198.18.0.0/15,
//! MACs 02:00:00:xx:xx:xx), or to the fake group address of the
//! promiscuous-mode probe (ff:ff:ff:ff:ff:fe), which never leaves the LAN's
//! switch namespace either.

mod netns;

use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use netns::{Lan, Run, mac_str};
use pktscript::link::{Frame, Link, LiveLink};
use pktscript::pcap::{Format, PcapReader};

const BIN: &str = env!("CARGO_BIN_EXE_pktscript");

/// EtherType for local experiments (IEEE 802 "Local Experimental 1"): no
/// kernel answers it, so a capture of it holds what the test sent, only.
const EXP: u16 = 0x88b5;

// ---------------------------------------------------------------------------
// Running the tools
// ---------------------------------------------------------------------------

/// A scratch directory for one test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("tools_live-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap_or_else(|e| panic!("create {}: {e}", p.display()));
        TempDir(p)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// `name` in the directory, as a string for a command line.
    fn file(&self, name: &str) -> String {
        self.join(name).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `pktscript args...` in host `i`'s namespace and waits for it.
fn pktscript(lan: &Lan, i: usize, args: &[&str], dir: &Path) -> Run {
    let mut all = vec![BIN];
    all.extend_from_slice(args);
    Run::from(lan.exec_output(i, &all, dir))
}

/// Like [`pktscript`], but panics, showing everything, unless the exit status is 0.
fn pktscript_ok(lan: &Lan, i: usize, args: &[&str], dir: &Path) -> Run {
    let r = pktscript(lan, i, args, dir);
    assert_eq!(r.status, 0, "pktscript {args:?} in host {i}: {r:#?}");
    r
}

/// Packet sockets in host `i`'s namespace that are bound to a protocol
/// (a socket shows in /proc/net/packet from its creation, with protocol 0
/// until bind(); only then does it receive).
fn bound_packet_sockets(lan: &Lan, i: usize) -> usize {
    lan.in_host(i, || {
        let t = std::fs::read_to_string("/proc/thread-self/net/packet").unwrap_or_default();
        // sk RefCnt Type Proto Iface R Rmem User Inode
        t.lines()
            .skip(1)
            .filter(|l| l.split_whitespace().nth(3).is_some_and(|p| p != "0000"))
            .count()
    })
}

/// Starts `args` (a command line, `pktscript recv ...` somewhere in it) in
/// host `i`'s namespace and waits until `sockets` more packet sockets are
/// bound there, so that the capture is listening; its output is piped.
fn start_capture(lan: &Lan, i: usize, args: &[&str], dir: &Path, sockets: usize) -> Child {
    let base = bound_packet_sockets(lan, i);
    let mut child = lan.spawn(i, args, dir);
    let end = Instant::now() + Duration::from_secs(10);
    while bound_packet_sockets(lan, i) < base + sockets {
        if let Some(st) = child.try_wait().expect("wait") {
            let r = Run::from(child.wait_with_output().expect("output"));
            panic!("{args:?} ended ({st}) before capturing: {r:#?}");
        }
        assert!(
            Instant::now() < end,
            "{args:?}: no packet socket bound in host {i} within 10 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // bind() comes first, then the filter and the outgoing switch: let the
    // capture finish setting up.
    std::thread::sleep(Duration::from_millis(150));
    child
}

/// Waits for `child` to end (at most `limit`, else kills it and panics).
fn finish(mut child: Child, limit: Duration) -> Run {
    let end = Instant::now() + limit;
    loop {
        if child.try_wait().expect("wait").is_some() {
            return Run::from(child.wait_with_output().expect("output"));
        }
        if Instant::now() > end {
            let _ = child.kill();
            let r = Run::from(child.wait_with_output().expect("output"));
            panic!("still running after {limit:?}: {r:#?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends `sig` to `child` (`ip netns exec` execs its command, so the child
/// is pktscript itself, or the `sh` of a pipeline).
fn signal(child: &Child, sig: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    // SAFETY: kill on the pid of a child we started and have not reaped.
    let r = unsafe { libc::kill(pid, sig) };
    assert_eq!(r, 0, "kill: {}", std::io::Error::last_os_error());
}

/// The lines a child writes to its standard output, as they come.
fn stdout_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let out = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// Reads lines from `rx` up to and including the next `==` (a whole
/// packet block); panics if it does not come within `limit`.
fn next_block(rx: &mpsc::Receiver<String>, limit: Duration, got: &mut Vec<String>) {
    let end = Instant::now() + limit;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let done = line == "==";
                got.push(line);
                if done {
                    return;
                }
            }
            Err(e) => panic!(
                "no complete packet block on stdout within {limit:?} ({e}); so far: {got:#?}"
            ),
        }
    }
}

// ---------------------------------------------------------------------------
// Frames
// ---------------------------------------------------------------------------

fn ip(lan: &Lan, i: usize) -> String {
    lan.host(i).ip.to_string()
}

fn mac(lan: &Lan, i: usize) -> String {
    mac_str(&lan.host(i).mac)
}

fn ether(dst: [u8; 6], src: [u8; 6], ty: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ty.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn ethertype(f: &[u8]) -> u16 {
    if f.len() < 14 {
        return 0;
    }
    u16::from_be_bytes([f[12], f[13]])
}

/// An Ethernet + ARP frame (28-byte ARP message, no padding).
fn arp_frame(
    dst: [u8; 6],
    op: u16,
    sha: [u8; 6],
    spa: Ipv4Addr,
    tha: [u8; 6],
    tpa: Ipv4Addr,
) -> Vec<u8> {
    let mut a = vec![0, 1, 8, 0, 6, 4];
    a.extend_from_slice(&op.to_be_bytes());
    a.extend_from_slice(&sha);
    a.extend_from_slice(&spa.octets());
    a.extend_from_slice(&tha);
    a.extend_from_slice(&tpa.octets());
    ether(dst, sha, 0x0806, &a)
}

/// An ARP message: (op, sha, spa, tha, tpa).
type Arp = (u16, [u8; 6], Ipv4Addr, [u8; 6], Ipv4Addr);

/// The ARP message of a frame.
fn arp_fields(f: &[u8]) -> Option<Arp> {
    if ethertype(f) != 0x0806 || f.len() < 42 {
        return None;
    }
    let a = &f[14..];
    let six = |o: usize| <[u8; 6]>::try_from(&a[o..o + 6]).unwrap();
    let four = |o: usize| Ipv4Addr::new(a[o], a[o + 1], a[o + 2], a[o + 3]);
    Some((
        u16::from_be_bytes([a[6], a[7]]),
        six(8),
        four(14),
        six(18),
        four(24),
    ))
}

/// The Internet checksum of `data`.
fn checksum(data: &[u8]) -> u16 {
    let mut sum = 0u32;
    for c in data.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An ICMP echo request from host `from` to host `to`, checksums right.
fn echo_request(lan: &Lan, from: usize, to: usize, id: u16, seq: u16) -> Vec<u8> {
    let data = b"pktscript tools_live";
    let mut icmp = vec![8, 0, 0, 0];
    icmp.extend_from_slice(&id.to_be_bytes());
    icmp.extend_from_slice(&seq.to_be_bytes());
    icmp.extend_from_slice(data);
    let c = checksum(&icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let total = (20 + icmp.len()) as u16;
    let mut iph = vec![0x45, 0];
    iph.extend_from_slice(&total.to_be_bytes());
    iph.extend_from_slice(&[0x12, 0x34, 0x40, 0, 64, 1, 0, 0]);
    iph.extend_from_slice(&lan.host(from).ip.octets());
    iph.extend_from_slice(&lan.host(to).ip.octets());
    let c = checksum(&iph);
    iph[10..12].copy_from_slice(&c.to_be_bytes());
    iph.extend_from_slice(&icmp);
    ether(lan.host(to).mac, lan.host(from).mac, 0x0800, &iph)
}

/// The ICMP (type, id, seq) of an IPv4 frame, with its addresses.
fn icmp_fields(f: &[u8]) -> Option<(u8, u16, u16, Ipv4Addr, Ipv4Addr)> {
    if ethertype(f) != 0x0800 || f.len() < 34 || f[23] != 1 {
        return None;
    }
    let ihl = usize::from(f[14] & 0x0f) * 4;
    let m = f.get(14 + ihl..)?;
    (m.len() >= 8).then(|| {
        (
            m[0],
            u16::from_be_bytes([m[4], m[5]]),
            u16::from_be_bytes([m[6], m[7]]),
            Ipv4Addr::new(f[26], f[27], f[28], f[29]),
            Ipv4Addr::new(f[30], f[31], f[32], f[33]),
        )
    })
}

/// Frame `seq` of the experimental EtherType from host `from` to host `to`:
/// `len` bytes, the sequence number in the first two payload bytes.
fn exp_frame(lan: &Lan, from: usize, to: usize, seq: u16, len: usize) -> Vec<u8> {
    let mut payload = seq.to_be_bytes().to_vec();
    payload.extend((0..len.saturating_sub(16)).map(|k| (k as u8).wrapping_mul(7) ^ 0x5a));
    ether(lan.host(to).mac, lan.host(from).mac, EXP, &payload)
}

/// The sequence number of an experimental frame from `src`.
fn exp_seq(f: &[u8], src: [u8; 6]) -> Option<u16> {
    (ethertype(f) == EXP && f[6..12] == src && f.len() >= 16)
        .then(|| u16::from_be_bytes([f[14], f[15]]))
}

/// Frames `link` receives until `pick` has chosen `n` or `limit` has passed.
fn gather(
    link: &mut LiveLink,
    n: usize,
    limit: Duration,
    pick: impl Fn(&Frame) -> bool,
) -> Vec<Frame> {
    let end = Instant::now() + limit;
    let mut out = Vec::new();
    while out.len() < n {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match link.recv(Some(left)) {
            Ok(Some(f)) if pick(&f) => out.push(f),
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => panic!("recv on {}: {e}", link.name()),
        }
    }
    out
}

fn secs(sec: i64, nsec: u32) -> f64 {
    sec as f64 + f64::from(nsec) / 1e9
}

fn frame_time(f: &Frame) -> f64 {
    secs(f.ts_sec, f.ts_nsec)
}

// ---------------------------------------------------------------------------
// Text
// ---------------------------------------------------------------------------

/// One packet block in pkttools text: `-- n --`, an optional TIME line, the
/// hex lines (16 bytes each, with the ASCII column), `==`.
fn text_block(n: usize, time: Option<(i64, u32)>, bytes: &[u8]) -> String {
    let mut s = format!("-- {n} --\n");
    if let Some((sec, nsec)) = time {
        s.push_str(&format!("TIME: {sec}.{:06}\n", nsec / 1000));
    }
    s.push_str(&format!("SIZE: {0}/{0}\n", bytes.len()));
    for (k, chunk) in bytes.chunks(16).enumerate() {
        let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02X}")).collect();
        let ascii: String = chunk
            .iter()
            .map(|&b| if b.is_ascii_graphic() { b as char } else { '.' })
            .collect();
        s.push_str(&format!(
            "{:06x}: {:<47} : {ascii}\n",
            k * 16,
            hex.join(" ")
        ));
    }
    s.push_str("==\n");
    s
}

/// The packet blocks of a text: the lines from `-- n --` to `==`.
fn blocks(text: &str) -> Vec<Vec<&str>> {
    let mut out = Vec::new();
    let mut cur: Option<Vec<&str>> = None;
    for line in text.lines() {
        if line.starts_with("-- ") && line.ends_with(" --") {
            assert!(cur.is_none(), "block not closed before {line:?} in\n{text}");
            cur = Some(vec![line]);
        } else if let Some(b) = cur.as_mut() {
            b.push(line);
            if line == "==" {
                out.extend(cur.take());
            }
        }
    }
    assert!(cur.is_none(), "last block not closed in\n{text}");
    out
}

/// The value of field line `name:` in a block (without its `# comment`).
fn field<'a>(block: &[&'a str], name: &str) -> Option<&'a str> {
    let key = format!("{name}:");
    block.iter().find_map(|l| {
        let rest = l.strip_prefix(key.as_str())?;
        Some(rest.split(" #").next().unwrap_or("").trim())
    })
}

/// The packets of a text, as pktscript's reader reads them.
fn parse(text: &str) -> Vec<pktscript::Packet> {
    pktscript::text::parse_text(text, "<recv output>")
        .unwrap_or_else(|e| panic!("recv output does not read back: {e}\n{text}"))
}

/// The number in `N packets sent on IFACE in S s`.
fn reported_secs(stderr: &str, n: usize, dev: &str) -> f64 {
    let plural = if n == 1 { "" } else { "s" };
    let prefix = format!("{n} packet{plural} sent on {dev} in ");
    let line = stderr
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("no {prefix:?} line in {stderr:?}"));
    line.trim_end_matches(" s")
        .parse()
        .unwrap_or_else(|_| panic!("no seconds in {line:?}"))
}

// ---------------------------------------------------------------------------
// recv
// ---------------------------------------------------------------------------

#[test]
fn recv_prints_what_another_host_sends_as_text() {
    let lan = Lan::new(2);
    let dir = TempDir::new("recv-text");
    let dev0 = lan.host(0).dev.clone();
    let mut watch = lan.link(0);
    watch.set_outgoing(true);
    let child = start_capture(
        &lan,
        0,
        &[BIN, "recv", &dev0, "-c", "3", "-t", "10", "-a", "icmp"],
        dir.path(),
        1,
    );
    // Host 1 sends an echo request, waits for host 0's reply, sends another:
    // request, reply, request.
    let mut l1 = lan.link(1);
    let req1 = echo_request(&lan, 1, 0, 0x7a7a, 1);
    l1.send(&req1).expect("send request 1");
    let reply = gather(&mut l1, 1, Duration::from_secs(3), |f| {
        icmp_fields(&f.data).is_some_and(|m| m.0 == 0)
    });
    assert_eq!(reply.len(), 1, "host 0 did not answer the echo request");
    let req2 = echo_request(&lan, 1, 0, 0x7a7a, 2);
    l1.send(&req2).expect("send request 2");

    let r = finish(child, Duration::from_secs(10));
    assert_eq!(r.status, 0, "{r:#?}");
    assert_eq!(
        r.stderr.trim_end(),
        format!("3 packets captured on {dev0}, 0 dropped by the kernel"),
        "{r:#?}"
    );
    // What a capture of the test's own saw in host 0, both directions.
    let seen: Vec<Frame> = gather(&mut watch, 3, Duration::from_secs(1), |f| {
        icmp_fields(&f.data).is_some()
    });
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(seen[0].data, req1);
    assert_eq!(seen[2].data, req2);

    assert!(r.stdout.starts_with("LINKTYPE: 1 "), "{}", r.stdout);
    let bl = blocks(&r.stdout);
    assert_eq!(bl.len(), 3, "{}", r.stdout);
    let (h0, h1) = (ip(&lan, 0), ip(&lan, 1));
    let want = [
        (h1.as_str(), h0.as_str(), "8", "1", mac(&lan, 1)),
        (h0.as_str(), h1.as_str(), "0", "1", mac(&lan, 0)),
        (h1.as_str(), h0.as_str(), "8", "2", mac(&lan, 1)),
    ];
    for (k, (b, w)) in bl.iter().zip(&want).enumerate() {
        assert_eq!(b[0], format!("-- {} --", k + 1));
        assert!(b[1].starts_with("TIME: "), "{b:?}");
        let len = seen[k].data.len();
        assert_eq!(b[2], format!("SIZE: {len}/{len}"), "{b:?}");
        assert!(b[3].starts_with("000000: "), "{b:?}");
        assert_eq!(field(b, "eth.src"), Some(w.4.as_str()), "{b:?}");
        assert_eq!(field(b, "eth.type"), Some("0x0800"), "{b:?}");
        assert_eq!(field(b, "ip.src"), Some(w.0), "{b:?}");
        assert_eq!(field(b, "ip.dst"), Some(w.1), "{b:?}");
        assert_eq!(field(b, "ip.proto"), Some("1"), "{b:?}");
        assert_eq!(field(b, "icmp.type"), Some(w.2), "{b:?}");
        assert_eq!(field(b, "icmp.id"), Some("31354"), "{b:?}");
        assert_eq!(field(b, "icmp.seq"), Some(w.3), "{b:?}");
        let ck = b
            .iter()
            .find(|l| l.starts_with("icmp.chksum:"))
            .expect("icmp.chksum line");
        assert!(ck.ends_with("# valid"), "{ck}");
    }
    // Read back, the text is exactly the frames, with their kernel times.
    let parsed = parse(&r.stdout);
    assert_eq!(parsed.len(), 3);
    for (p, f) in parsed.iter().zip(&seen) {
        assert_eq!(p.raw_bytes(), &f.data[..]);
        let (sec, nsec) = p.time.expect("a TIME line");
        let dt = (secs(sec, nsec) - frame_time(f)).abs();
        assert!(
            dt < 0.001,
            "TIME {sec}.{nsec:09} vs kernel {}.{:09}",
            f.ts_sec,
            f.ts_nsec
        );
    }
}

#[test]
fn recv_writes_pcap_and_pcapng_files() {
    let lan = Lan::new(2);
    let dir = TempDir::new("recv-files");
    let dev0 = lan.host(0).dev.clone();
    let (pcap, pcapng) = (dir.file("three.pcap"), dir.file("three.pcapng"));
    let filter = "ether proto 0x88b5";
    let a = start_capture(
        &lan,
        0,
        &[
            BIN, "recv", &dev0, "-c", "3", "-t", "10", "-w", &pcap, filter,
        ],
        dir.path(),
        1,
    );
    let b = start_capture(
        &lan,
        0,
        &[
            BIN, "recv", &dev0, "-c", "3", "-t", "10", "-w", &pcapng, filter,
        ],
        dir.path(),
        1,
    );
    let mut l1 = lan.link(1);
    let frames: Vec<Vec<u8>> = [60, 333, 1514]
        .iter()
        .enumerate()
        .map(|(k, &len)| exp_frame(&lan, 1, 0, k as u16, len))
        .collect();
    for f in &frames {
        // Noise the filter leaves out: another EtherType, before each.
        let noise = ether(lan.host(0).mac, lan.host(1).mac, 0x88b6, &[0xee; 46]);
        l1.send(&noise).expect("send noise");
        l1.send(f).expect("send");
    }
    let ra = finish(a, Duration::from_secs(10));
    let rb = finish(b, Duration::from_secs(10));
    for r in [&ra, &rb] {
        assert_eq!(r.status, 0, "{r:#?}");
        assert_eq!(r.stdout, "", "nothing on stdout with -w");
        assert!(
            r.stderr.contains(&format!(
                "3 packets captured on {dev0}, 0 dropped by the kernel"
            )),
            "{r:#?}"
        );
    }
    assert_eq!(
        PcapReader::open(&pcap).expect("open pcap").format(),
        Format::Pcap
    );
    assert_eq!(
        PcapReader::open(&pcapng).expect("open pcapng").format(),
        Format::PcapNg
    );
    let ra = pktscript::pcap::read_all(&pcap).unwrap_or_else(|e| panic!("{pcap}: {e}"));
    let rb = pktscript::pcap::read_all(&pcapng).unwrap_or_else(|e| panic!("{pcapng}: {e}"));
    for recs in [&ra, &rb] {
        let data: Vec<&Vec<u8>> = recs.iter().map(|r| &r.data).collect();
        assert_eq!(data, frames.iter().collect::<Vec<_>>());
        for r in recs.iter() {
            assert_eq!(r.linktype, 1);
            assert_eq!(r.orig_len as usize, r.data.len());
            assert!(r.ts_sec > 1_000_000_000, "a real time stamp: {r:?}");
        }
        assert!(
            recs.windows(2)
                .all(|w| secs(w[0].ts_sec, w[0].ts_nsec) <= secs(w[1].ts_sec, w[1].ts_nsec)),
            "times in order"
        );
    }
    // Both captures saw the same kernel time stamps (to the microsecond,
    // the precision a classic pcap may keep).
    for (x, y) in ra.iter().zip(&rb) {
        let dt = (secs(x.ts_sec, x.ts_nsec) - secs(y.ts_sec, y.ts_nsec)).abs();
        assert!(dt < 2e-6, "{x:?} vs {y:?}");
    }
}

#[test]
fn recv_ends_on_sigint_with_everything_flushed() {
    let lan = Lan::new(2);
    let dir = TempDir::new("recv-sigint");
    let dev0 = lan.host(0).dev.clone();
    let mut child = start_capture(
        &lan,
        0,
        &[BIN, "recv", &dev0, "-t", "30", "ether proto 0x88b5"],
        dir.path(),
        1,
    );
    let lines = stdout_lines(&mut child);
    let mut l1 = lan.link(1);
    let frames = [exp_frame(&lan, 1, 0, 1, 60), exp_frame(&lan, 1, 0, 2, 98)];
    let mut got = Vec::new();
    // Each packet is on stdout (flushed) while recv still runs.
    for f in &frames {
        l1.send(f).expect("send");
        next_block(&lines, Duration::from_secs(5), &mut got);
    }
    assert!(
        child.try_wait().expect("wait").is_none(),
        "recv ended early"
    );
    let t = Instant::now();
    signal(&child, libc::SIGINT);
    let r = finish(child, Duration::from_secs(5));
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "took {:?} to stop",
        t.elapsed()
    );
    assert_eq!(r.status, 130, "exit status after SIGINT: {r:#?}");
    assert_eq!(
        r.stderr.trim_end(),
        format!("2 packets captured on {dev0}, 0 dropped by the kernel"),
        "{r:#?}"
    );
    // Nothing came after the second block.
    let rest: Vec<String> = lines.iter().collect();
    assert!(rest.is_empty(), "more output after the packets: {rest:?}");
    let text = got.join("\n") + "\n";
    let parsed = parse(&text);
    let data: Vec<&[u8]> = parsed.iter().map(|p| p.raw_bytes()).collect();
    assert_eq!(data, [&frames[0][..], &frames[1][..]], "{text}");
}

/// Host `i`'s promiscuity count (`ip -d link show`) and whether its device
/// flags (/sys/class/net/DEV/flags) have IFF_PROMISC.
fn promiscuity(lan: &Lan, i: usize) -> (u32, bool) {
    let dev = lan.host(i).dev.clone();
    let out = lan.ip(i, &["-d", "link", "show", "dev", &dev]);
    let mut words = out.split_whitespace();
    let count = loop {
        match words.next() {
            Some("promiscuity") => {
                break words
                    .next()
                    .and_then(|w| w.parse().ok())
                    .unwrap_or_else(|| panic!("no count after promiscuity in {out}"));
            }
            Some(_) => {}
            None => panic!("no promiscuity in {out}"),
        }
    };
    let path = format!("/sys/class/net/{dev}/flags");
    let flags = lan.exec(i, &["cat", &path]);
    let flags = u32::from_str_radix(flags.trim().trim_start_matches("0x"), 16)
        .unwrap_or_else(|_| panic!("flags {flags:?}"));
    (count, flags & libc::IFF_PROMISC as u32 != 0)
}

#[test]
fn recv_leaves_promiscuous_mode_off_unless_asked() {
    let lan = Lan::new(1);
    let dir = TempDir::new("recv-promisc");
    let dev0 = lan.host(0).dev.clone();
    assert_eq!(promiscuity(&lan, 0), (0, false), "before");

    let child = start_capture(&lan, 0, &[BIN, "recv", &dev0, "-t", "30"], dir.path(), 1);
    let during = promiscuity(&lan, 0);
    signal(&child, libc::SIGINT);
    let r = finish(child, Duration::from_secs(5));
    assert_eq!(r.status, 130, "{r:#?}");
    assert_eq!(during, (0, false), "plain recv made {dev0} promiscuous");

    let child = start_capture(
        &lan,
        0,
        &[BIN, "recv", &dev0, "--promisc", "-t", "30"],
        dir.path(),
        1,
    );
    let during = promiscuity(&lan, 0);
    signal(&child, libc::SIGINT);
    let r = finish(child, Duration::from_secs(5));
    assert_eq!(r.status, 130, "{r:#?}");
    assert_eq!(
        during,
        (1, true),
        "recv --promisc did not make {dev0} promiscuous"
    );
    assert_eq!(
        promiscuity(&lan, 0),
        (0, false),
        "promiscuous mode left on after recv --promisc"
    );
}

// ---------------------------------------------------------------------------
// send
// ---------------------------------------------------------------------------

#[test]
fn send_text_with_an_edited_field_line() {
    let lan = Lan::new(2);
    let dir = TempDir::new("send-text");
    let dev0 = lan.host(0).dev.clone();
    let (m0, m1) = (lan.host(0).mac, lan.host(1).mac);
    let (i0, i1) = (lan.host(0).ip, lan.host(1).ip);
    // The hex asks for 198.18.255.254 (no host); the field line edits the
    // target to host 1.
    let hex = arp_frame(
        [0xff; 6],
        1,
        m0,
        i0,
        [0; 6],
        Ipv4Addr::new(198, 18, 255, 254),
    );
    let mut text = text_block(1, None, &hex);
    text = text.replace("==\n", &format!("arp.pdst:       {i1}\n==\n"));
    let file = dir.join("who-has.txt");
    std::fs::write(&file, &text).expect("write text");
    let want = arp_frame([0xff; 6], 1, m0, i0, [0; 6], i1);
    // What the text reads as.
    let parsed = pktscript::text::read_file(&file).expect("the text reads");
    assert_eq!(parsed.len(), 1);
    assert_eq!(parsed[0].clone().bytes(), &want[..]);

    let mut rx1 = lan.link(1);
    let mut rx0 = lan.link(0);
    let r = pktscript_ok(
        &lan,
        0,
        &["send", &dev0, &file.display().to_string()],
        dir.path(),
    );
    reported_secs(&r.stderr, 1, &dev0);

    let got = gather(&mut rx1, 1, Duration::from_secs(2), |f| {
        f.data.get(6..12) == Some(&m0[..]) && ethertype(&f.data) == 0x0806
    });
    assert_eq!(got.len(), 1, "host 1 got no ARP from host 0");
    assert_eq!(got[0].data, want, "the frame arrives byte for byte");
    let answers = gather(&mut rx0, 1, Duration::from_secs(2), |f| {
        arp_fields(&f.data).is_some_and(|a| a.0 == 2)
    });
    assert_eq!(answers.len(), 1, "host 1's kernel did not answer");
    let a = &answers[0].data;
    assert_eq!(a[0..6], m0, "to host 0");
    assert_eq!(
        arp_fields(a),
        Some((2, m1, i1, m0, i0)),
        "{i1} is-at {}",
        mac(&lan, 1)
    );
}

#[test]
fn promiscuous_host_found_with_recv_sed_and_send() {
    // Seed note 002 with the shell tools: capture an ARP request as text,
    // change its Ethernet destination to ff:ff:ff:ff:ff:fe in the text,
    // send it. Only a host in promiscuous mode takes that frame in, and its
    // kernel answers the ARP request in it.
    let lan = Lan::new(2);
    let dir = TempDir::new("promisc-workflow");
    let dev0 = lan.host(0).dev.clone();
    let dev1 = lan.host(1).dev.clone();
    let (m0, m1) = (lan.host(0).mac, lan.host(1).mac);
    let (i0, i1) = (lan.host(0).ip, lan.host(1).ip);

    // 1. pktscript recv: host 0's kernel asks for host 1 (a UDP datagram to
    // host 1 makes it); the request goes to text.
    let child = start_capture(
        &lan,
        0,
        &[
            BIN, "recv", "-i", &dev0, "-c", "1", "-t", "10", "-a", "-Q", "out", "arp",
        ],
        dir.path(),
        1,
    );
    lan.in_host(0, || {
        let s = std::net::UdpSocket::bind("0.0.0.0:0").expect("udp socket");
        s.send_to(b"x", (i1, 9)).expect("udp send");
    });
    let r = finish(child, Duration::from_secs(10));
    assert_eq!(r.status, 0, "{r:#?}");
    let bl = blocks(&r.stdout);
    assert_eq!(bl.len(), 1, "{}", r.stdout);
    assert_eq!(
        field(&bl[0], "eth.dst"),
        Some("ff:ff:ff:ff:ff:ff"),
        "{}",
        r.stdout
    );
    assert_eq!(field(&bl[0], "arp.op"), Some("1"), "{}", r.stdout);
    assert_eq!(
        field(&bl[0], "arp.pdst"),
        Some(i1.to_string().as_str()),
        "{}",
        r.stdout
    );
    let captured = dir.join("who-has.txt");
    std::fs::write(&captured, &r.stdout).expect("write text");

    // 2. sed: the destination changed in the text's field line only.
    let probe = dir.file("probe.txt");
    std::fs::copy(&captured, &probe).expect("copy");
    netns::run(&[
        "sed",
        "-i",
        "s/^eth\\.dst:.*/eth.dst:        ff:ff:ff:ff:ff:fe/",
        &probe,
    ]);
    let orig = pktscript::text::read_file(&captured).expect("captured text reads");
    let mut edited = pktscript::text::read_file(Path::new(&probe)).expect("edited text reads");
    assert_eq!(edited.len(), 1);
    let mut want = orig[0].raw_bytes().to_vec();
    want[..6].copy_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]);
    assert_eq!(
        edited[0].bytes(),
        &want[..],
        "the edit changed the destination only"
    );
    assert_eq!(arp_fields(&want), Some((1, m0, i0, [0; 6], i1)));

    // 3. pktscript send: is there an answer at host 0?
    let probe_answered = || {
        let mut rx = lan.link(0);
        // pkt-send's way of naming the interface.
        let r = pktscript_ok(&lan, 0, &["send", "-i", &dev0, &probe], dir.path());
        reported_secs(&r.stderr, 1, &dev0);
        let got = gather(&mut rx, 1, Duration::from_millis(400), |f| {
            arp_fields(&f.data).is_some_and(|a| a.0 == 2 && a.2 == i1)
        });
        got.first().map(|f| f.data.clone())
    };
    // Not promiscuous: silent. The macvlan filters group addresses through
    // a hash of its own; if it happens to let ff:ff:ff:ff:ff:fe through, the
    // device is made again.
    let mut silent = false;
    for _ in 0..8 {
        if probe_answered().is_none() {
            silent = true;
            break;
        }
        eprintln!("host 1's multicast filter passes ff:ff:ff:ff:ff:fe: making its device again");
        lan.recreate_dev(1);
    }
    assert!(
        silent,
        "host 1 kept answering the probe while not promiscuous"
    );

    lan.ip(1, &["link", "set", "dev", &dev1, "promisc", "on"]);
    let answer = probe_answered().expect("host 1 in promiscuous mode did not answer the probe");
    assert_eq!(answer[0..6], m0, "the answer goes to host 0");
    assert_eq!(arp_fields(&answer), Some((2, m1, i1, m0, i0)));

    lan.ip(1, &["link", "set", "dev", &dev1, "promisc", "off"]);
    assert_eq!(
        probe_answered(),
        None,
        "host 1 answered after promiscuous mode went off"
    );
}

/// `n` experimental frames from host 0 to host 1 as text, with TIME lines
/// `step` apart.
fn timed_text(lan: &Lan, n: usize, step: Duration) -> String {
    let t0 = Duration::from_secs(1_700_000_000);
    (0..n)
        .map(|k| {
            let t = t0 + step * k as u32;
            let f = exp_frame(lan, 0, 1, k as u16, 60);
            text_block(k + 1, Some((t.as_secs() as i64, t.subsec_nanos())), &f)
        })
        .collect()
}

/// The experimental frames from host 0 that `link` receives, up to `n`.
fn receive_exp(lan: &Lan, link: &mut LiveLink, n: usize, limit: Duration) -> Vec<Frame> {
    let src = lan.host(0).mac;
    gather(link, n, limit, |f| exp_seq(&f.data, src).is_some())
}

fn seqs(lan: &Lan, frames: &[Frame]) -> Vec<u16> {
    frames
        .iter()
        .filter_map(|f| exp_seq(&f.data, lan.host(0).mac))
        .collect()
}

#[test]
fn send_keeps_the_recorded_spacing() {
    let lan = Lan::new(2);
    let dir = TempDir::new("send-timing");
    let dev0 = lan.host(0).dev.clone();
    let file = dir.file("five.txt");
    std::fs::write(&file, timed_text(&lan, 5, Duration::from_millis(100))).expect("write");
    let mut rx = lan.link(1);
    let r = pktscript_ok(&lan, 0, &["send", &dev0, &file], dir.path());
    let got = receive_exp(&lan, &mut rx, 5, Duration::from_secs(3));
    assert_eq!(seqs(&lan, &got), [0, 1, 2, 3, 4]);
    let times: Vec<f64> = got.iter().map(frame_time).collect();
    for w in times.windows(2) {
        let gap = w[1] - w[0];
        assert!(
            (0.060..=0.140).contains(&gap),
            "frames {:.0} ms apart, recorded 100 ms: {times:?}",
            gap * 1e3
        );
    }
    let span = times[4] - times[0];
    assert!(
        span >= 0.350,
        "5 frames 100 ms apart over {:.0} ms",
        span * 1e3
    );
    let s = reported_secs(&r.stderr, 5, &dev0);
    assert!(s >= 0.350, "{}", r.stderr);
}

#[test]
fn send_fast_sends_1000_frames_at_once_and_loop_repeats() {
    let lan = Lan::new(2);
    let dir = TempDir::new("send-fast");
    let dev0 = lan.host(0).dev.clone();
    // Recorded 10 ms apart (10 s in all): --fast ignores that.
    let file = dir.file("thousand.txt");
    std::fs::write(&file, timed_text(&lan, 1000, Duration::from_millis(10))).expect("write");
    let mut rx = lan.link(1);
    let t = Instant::now();
    let r = pktscript_ok(&lan, 0, &["send", &dev0, "--fast", &file], dir.path());
    let wall = t.elapsed();
    assert!(
        wall < Duration::from_secs(1),
        "send --fast of 1000 frames took {wall:?}"
    );
    let s = reported_secs(&r.stderr, 1000, &dev0);
    assert!(s < 0.5, "{}", r.stderr);
    let got = receive_exp(&lan, &mut rx, 1000, Duration::from_secs(3));
    assert_eq!(got.len(), 1000, "frames received");
    assert_eq!(
        seqs(&lan, &got),
        (0..1000).collect::<Vec<u16>>(),
        "all, in order"
    );
    let span = frame_time(&got[999]) - frame_time(&got[0]);
    assert!(span < 0.5, "1000 frames over {span:.3} s");

    // --loop 3: the input three times over, in order.
    let file = dir.file("five.txt");
    std::fs::write(&file, timed_text(&lan, 5, Duration::from_millis(100))).expect("write");
    let r = pktscript_ok(
        &lan,
        0,
        &["send", &dev0, "--fast", "--loop", "3", &file],
        dir.path(),
    );
    reported_secs(&r.stderr, 15, &dev0);
    let got = receive_exp(&lan, &mut rx, 15, Duration::from_secs(2));
    assert_eq!(seqs(&lan, &got), [0, 1, 2, 3, 4].repeat(3));
}

#[test]
fn send_pps_sets_the_rate() {
    let lan = Lan::new(2);
    let dir = TempDir::new("send-pps");
    let dev0 = lan.host(0).dev.clone();
    // Recorded 1 s apart: --pps 50 overrides that, 20 ms apart.
    let file = dir.file("ten.txt");
    std::fs::write(&file, timed_text(&lan, 10, Duration::from_secs(1))).expect("write");
    let mut rx = lan.link(1);
    let r = pktscript_ok(&lan, 0, &["send", &dev0, "--pps", "50", &file], dir.path());
    let got = receive_exp(&lan, &mut rx, 10, Duration::from_secs(3));
    assert_eq!(seqs(&lan, &got), (0..10).collect::<Vec<u16>>());
    let span = frame_time(&got[9]) - frame_time(&got[0]);
    assert!(
        (0.175..1.0).contains(&span),
        "10 frames at 50/s over {:.0} ms (want about 180)",
        span * 1e3
    );
    for w in got.windows(2) {
        let gap = frame_time(&w[1]) - frame_time(&w[0]);
        assert!(gap >= 0.010, "frames {:.1} ms apart at 50/s", gap * 1e3);
    }
    let s = reported_secs(&r.stderr, 10, &dev0);
    assert!((0.175..1.0).contains(&s), "{}", r.stderr);
}

// ---------------------------------------------------------------------------
// Pipelines and errors
// ---------------------------------------------------------------------------

#[test]
fn recv_piped_into_analyze_shows_arp_fields() {
    let lan = Lan::new(2);
    let dir = TempDir::new("pipeline");
    let dev0 = lan.host(0).dev.clone();
    let cmd = format!("'{BIN}' recv {dev0} -c 2 -t 10 arp | '{BIN}' analyze");
    let child = start_capture(&lan, 0, &["sh", "-c", &cmd], dir.path(), 1);
    // Host 1 asks for host 0; host 0's kernel answers.
    let m1 = lan.host(1).mac;
    let (i0, i1) = (lan.host(0).ip, lan.host(1).ip);
    let mut l1 = lan.link(1);
    l1.send(&arp_frame([0xff; 6], 1, m1, i1, [0; 6], i0))
        .expect("send who-has");
    let r = finish(child, Duration::from_secs(10));
    assert_eq!(r.status, 0, "{r:#?}");
    assert!(
        r.stderr.contains(&format!("2 packets captured on {dev0}")),
        "{r:#?}"
    );
    let bl = blocks(&r.stdout);
    assert_eq!(bl.len(), 2, "{}", r.stdout);
    let (s0, s1) = (mac(&lan, 0), mac(&lan, 1));
    let words = |b: &[&str]| -> Vec<String> {
        b.iter()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    };
    let (a, b) = (words(&bl[0]), words(&bl[1]));
    assert_eq!(a[0], "-- 1 --");
    assert!(a[1].starts_with("TIME: "), "{a:?}");
    assert_eq!(a[2], "SIZE: 42/42");
    assert_eq!(
        a[3],
        format!("ARP, Request who-has {i0} tell {i1}, length 28")
    );
    for want in [
        "###[ ARP ]###".to_string(),
        "op = 1 (who-has)".into(),
        format!("hwsrc = {s1}"),
        format!("psrc = {i1}"),
        "hwdst = 00:00:00:00:00:00".into(),
        format!("pdst = {i0}"),
        "dst = ff:ff:ff:ff:ff:ff".into(),
    ] {
        assert!(a.contains(&want), "no {want:?} in {a:#?}");
    }
    assert_eq!(b[0], "-- 2 --");
    assert_eq!(b[3], format!("ARP, Reply {i0} is-at {s0}, length 28"));
    for want in [
        "op = 2 (is-at)".to_string(),
        format!("hwsrc = {s0}"),
        format!("psrc = {i0}"),
        format!("hwdst = {s1}"),
        format!("pdst = {i1}"),
        format!("dst = {s1}"),
    ] {
        assert!(b.contains(&want), "no {want:?} in {b:#?}");
    }
    assert!(
        !a.iter().any(|l| l.starts_with("000000:")),
        "analyze prints no hex"
    );
}

#[test]
fn errors_name_the_interface_and_the_bad_line() {
    let lan = Lan::new(2);
    let dir = TempDir::new("errors");
    let dev0 = lan.host(0).dev.clone();

    let r = pktscript(
        &lan,
        0,
        &["recv", "nosuchdev0", "-c", "1", "-t", "2"],
        dir.path(),
    );
    assert_eq!(r.status, 1, "{r:#?}");
    assert_eq!(r.stdout, "");
    assert!(r.stderr.contains("\"nosuchdev0\""), "{r:#?}");
    let listed = r
        .stderr
        .lines()
        .find(|l| l.contains("interfaces here:"))
        .unwrap_or_else(|| panic!("no list of interfaces: {r:#?}"));
    assert!(listed.contains("lo") && listed.contains(&dev0), "{listed}");

    // Without the privilege: the report names the capability and how to
    // grant it. (A copy of the binary in /tmp, which any user can reach.)
    let unpriv = std::env::temp_dir().join(format!("pktscript-unpriv-{}", std::process::id()));
    std::fs::create_dir_all(&unpriv).expect("mkdir");
    let copy = unpriv.join("pktscript");
    std::fs::copy(BIN, &copy).expect("copy the binary");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&unpriv, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let copy_s = copy.display().to_string();
    for args in [
        vec!["recv", dev0.as_str(), "-c", "1"],
        vec!["send", dev0.as_str(), "/dev/null"],
    ] {
        let mut all = vec![
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            &copy_s,
        ];
        all.extend(args.iter().copied());
        let r = Run::from(lan.exec_output(0, &all, Path::new("/")));
        assert_eq!(r.status, 1, "{args:?} unprivileged: {r:#?}");
        assert!(
            r.stderr.contains("CAP_NET_RAW") && r.stderr.contains("setcap"),
            "{args:?} unprivileged: {r:#?}"
        );
    }
    let _ = std::fs::remove_dir_all(&unpriv);

    let r = pktscript(&lan, 0, &["send", "nosuchdev0", "/dev/null"], dir.path());
    assert_eq!(r.status, 1, "{r:#?}");
    assert!(r.stderr.contains("\"nosuchdev0\""), "{r:#?}");

    // A text whose third line has a letter that is no hex digit (line 3,
    // column 13), then a good packet: nothing is sent.
    let good = exp_frame(&lan, 0, 1, 7, 60);
    let mut bad = text_block(1, None, &good);
    bad = bad.replacen("000000: ", "000000: 0G ", 1);
    bad.push_str(&text_block(2, None, &good));
    let line3 = bad.lines().nth(2).unwrap().to_string();
    assert_eq!(line3.find('G'), Some(9), "{line3}");
    std::fs::write(dir.join("bad.txt"), &bad).expect("write");
    let mut rx = lan.link(1);
    // A name relative to the working directory, so the report is not wrapped.
    let r = pktscript(&lan, 0, &["send", &dev0, "bad.txt"], dir.path());
    assert_eq!(r.status, 1, "{r:#?}");
    assert!(
        r.stderr
            .contains("'G' is not a hex digit (at bad.txt:3:10)"),
        "the message names line and column: {r:#?}"
    );
    assert!(
        r.stderr.contains("3 │ 000000: 0G "),
        "the line is shown: {r:#?}"
    );
    assert!(!r.stderr.contains("sent on"), "{r:#?}");
    let got = receive_exp(&lan, &mut rx, 1, Duration::from_millis(300));
    assert!(got.is_empty(), "frames sent from a malformed text: {got:?}");

    // The mistake in the last packet of a file: still nothing is sent (the
    // file is read through first), and the report's header has the column.
    let mut late = text_block(1, None, &good);
    late.push_str(&text_block(2, None, &good).replacen("000000: ", "000000: 0G ", 1));
    std::fs::write(dir.join("late.txt"), &late).expect("write");
    let r = pktscript(&lan, 0, &["send", &dev0, "late.txt"], dir.path());
    assert_eq!(r.status, 1, "{r:#?}");
    let at = format!(
        "late.txt:{}:10",
        late.lines().position(|l| l.contains("0G")).unwrap() + 1
    );
    assert!(r.stderr.contains(&format!("[{at}]")), "{at}: {r:#?}");
    let got = receive_exp(&lan, &mut rx, 1, Duration::from_millis(300));
    assert!(
        got.is_empty(),
        "frames sent before a malformed packet: {got:?}"
    );
}

#[test]
fn send_ends_on_sigint_during_a_long_recorded_pause() {
    let lan = Lan::new(2);
    let dir = TempDir::new("send-sigint");
    let dev0 = lan.host(0).dev.clone();
    // Two frames recorded at the two ends of time: the pause between them
    // is longer than anyone waits, and working it out must not overflow.
    let (f0, f1) = (exp_frame(&lan, 0, 1, 0, 60), exp_frame(&lan, 0, 1, 1, 60));
    let text = text_block(1, Some((i64::MIN, 0)), &f0)
        + text_block(2, Some((i64::MAX, 999_999_999)), &f1).as_str();
    let file = dir.file("pause.txt");
    std::fs::write(&file, text).expect("write");
    let mut rx = lan.link(1);
    let child = lan.spawn(0, &[BIN, "send", &dev0, &file], dir.path());
    let got = receive_exp(&lan, &mut rx, 1, Duration::from_secs(5));
    assert_eq!(seqs(&lan, &got), [0], "the first frame goes at once");
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    signal(&child, libc::SIGINT);
    let r = finish(child, Duration::from_secs(5));
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "took {:?} to stop",
        t.elapsed()
    );
    assert_eq!(r.status, 130, "{r:#?}");
    assert!(
        r.stderr.contains(&format!("1 packet sent on {dev0} in ")),
        "{r:#?}"
    );
    let more = receive_exp(&lan, &mut rx, 1, Duration::from_millis(300));
    assert!(
        more.is_empty(),
        "the second frame went out after Ctrl-C: {more:?}"
    );
}
