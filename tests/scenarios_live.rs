//! The scenario scripts (scripts/*.rhai) live, on test LANs in network
//! namespaces (see netns/mod.rs): the script runs in one host's namespace
//! (`ip netns exec NS pktscript scripts/X.rhai ...`), other hosts answer,
//! capture or are switched into promiscuous mode. Needs root: without it
//! the tests fail, they are never skipped.
//!
//! Frames go only between hosts of the test's own LAN; the ranges scanned
//! are /28s of the LAN's own /24.
//!
//! `replay_recordings_match_live` also checks the recordings the replay
//! tests use (tests/replay/); `PKTSCRIPT_RECORD=1 cargo test --test
//! scenarios_live replay_recordings` records them again.

#[path = "replay/cases.rs"]
mod cases;
mod netns;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use netns::{Lan, Run, collect};
use pktscript::link::{Direction, Frame, Link, LiveOptions};
use pktscript::pcap::{Format, PcapWriter};

const BIN: &str = env!("CARGO_BIN_EXE_pktscript");

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs pktscript with `args` in host `i`'s namespace, from the crate root.
fn pktscript(lan: &Lan, i: usize, args: &[&str]) -> Run {
    let mut all = vec![BIN];
    all.extend_from_slice(args);
    Run::from(lan.exec_output(i, &all, root()))
}

/// Runs a scenario script in host `i`; panics, showing everything, unless
/// it ends with `status`.
fn scenario(lan: &Lan, i: usize, args: &[&str], status: i32) -> Run {
    let r = pktscript(lan, i, args);
    assert_eq!(
        r.status, status,
        "pktscript {args:?} in host {i}: exit status {}, expected {status}\n--- stdout\n{}--- stderr\n{}",
        r.status, r.stdout, r.stderr
    );
    r
}

fn ip(lan: &Lan, i: usize) -> String {
    lan.host(i).ip.to_string()
}

/// The LAN's /28 holding its first hosts, as "a.b.c.0/28".
fn first_28(lan: &Lan) -> String {
    let o = lan.host(0).ip.octets();
    format!("{}/28", Ipv4Addr::new(o[0], o[1], o[2], o[3] & 0xf0))
}

fn ethertype(f: &[u8]) -> u16 {
    if f.len() < 14 {
        return 0;
    }
    u16::from_be_bytes([f[12], f[13]])
}

/// The IPv4 header of a frame (without options checks), if it is IPv4.
fn ipv4(f: &[u8]) -> Option<&[u8]> {
    (ethertype(f) == 0x0800 && f.len() >= 34).then(|| &f[14..])
}

/// The ICMP message of an IPv4 frame.
fn icmp(f: &[u8]) -> Option<&[u8]> {
    let ip = ipv4(f)?;
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    (ip[9] == 1 && ip.len() >= ihl + 8).then(|| &ip[ihl..])
}

fn addrs(ip: &[u8]) -> (Ipv4Addr, Ipv4Addr) {
    (
        Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]),
        Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]),
    )
}

/// A Wake-on-LAN magic packet for `mac`.
fn magic(mac: [u8; 6]) -> Vec<u8> {
    let mut m = vec![0xff; 6];
    for _ in 0..16 {
        m.extend_from_slice(&mac);
    }
    m
}

/// Makes sure host `i`'s interface, while not promiscuous, drops frames to
/// every probe address of promisc.rhai --thorough: the macvlan filters
/// group addresses through a hash that differs for every device, so one
/// of them may pass by chance; then the device is made again.
fn ensure_probes_dropped(lan: &Lan, prober: usize, i: usize) {
    for _ in 0..8 {
        let target = ip(lan, i);
        let r = pktscript(
            lan,
            prober,
            &["scripts/promisc.rhai", "--thorough", &target],
        );
        if r.status == 1 {
            return;
        }
        assert_eq!(
            r.status, 0,
            "baseline promisc.rhai --thorough {target}: {r:?}"
        );
        eprintln!(
            "host {i}'s multicast filter passes a probe address while not promiscuous: making its device again"
        );
        lan.recreate_dev(i);
    }
    panic!("host {i}'s device kept passing a probe address after 8 tries");
}

fn set_promisc(lan: &Lan, i: usize, on: bool) {
    let dev = lan.host(i).dev.clone();
    lan.ip(
        i,
        &[
            "link",
            "set",
            "dev",
            &dev,
            "promisc",
            if on { "on" } else { "off" },
        ],
    );
}

// ---------------------------------------------------------------------------
// promisc.rhai
// ---------------------------------------------------------------------------

#[test]
fn promisc_tells_a_promiscuous_host_from_others() {
    // Host 0 probes; 1 goes promiscuous; 2 stays normal; 3 answers no ARP.
    let lan = Lan::new(4);
    let dev3 = lan.host(3).dev.clone();
    lan.ip(3, &["link", "set", "dev", &dev3, "arp", "off"]);
    ensure_probes_dropped(&lan, 0, 1);
    ensure_probes_dropped(&lan, 0, 2);
    let (t1, t2, t3) = (ip(&lan, 1), ip(&lan, 2), ip(&lan, 3));

    let r = scenario(&lan, 0, &["scripts/promisc.rhai", &t1], 1);
    assert_eq!(
        r.stdout,
        format!("{t1} is not in promiscuous mode (no reply)\n")
    );

    set_promisc(&lan, 1, true);
    let r = scenario(&lan, 0, &["scripts/promisc.rhai", &t1], 0);
    assert_eq!(r.stdout, format!("{t1} is in promiscuous mode\n"));
    let r = scenario(&lan, 0, &["scripts/promisc.rhai", "--thorough", &t1], 0);
    assert_eq!(
        r.stdout,
        format!("{t1} is in promiscuous mode (answered 5 of 5 probes)\n")
    );
    // The interface named explicitly, and the range in one pass.
    let range = first_28(&lan);
    let dev0 = lan.host(0).dev.clone();
    let r = scenario(&lan, 0, &["scripts/promisc.rhai", &range, &dev0], 0);
    assert_eq!(
        r.stdout,
        format!(
            "{t1} is in promiscuous mode\n\
             {t2} is not in promiscuous mode (no reply)\n\
             --- {range}: 13 addresses probed, 2 answered ARP, 1 in promiscuous mode\n"
        )
    );

    let r = scenario(&lan, 0, &["scripts/promisc.rhai", &t3], 2);
    assert!(
        r.stdout
            .contains(&format!("{t3} does not answer ARP at all")),
        "{r:?}"
    );

    set_promisc(&lan, 1, false);
    let r = scenario(&lan, 0, &["scripts/promisc.rhai", "--thorough", &t1], 1);
    assert_eq!(
        r.stdout,
        format!("{t1} is not in promiscuous mode (no reply)\n")
    );
    let r = scenario(&lan, 0, &["scripts/promisc.rhai", &range], 1);
    assert!(
        r.stdout
            .ends_with("2 answered ARP, 0 in promiscuous mode\n"),
        "{r:?}"
    );
}

// ---------------------------------------------------------------------------
// wol.rhai
// ---------------------------------------------------------------------------

#[test]
fn wol_magic_packet_reaches_another_host() {
    let lan = Lan::new(2);
    let target = [0x02, 0, 0, 0xaa, 0xbb, 0xcc];
    let target_s = netns::mac_str(&target);
    let mut link = lan.link(1);

    // EtherType 0x0842 to the broadcast address.
    let r = scenario(&lan, 0, &["scripts/wol.rhai", &target_s], 0);
    assert!(
        r.stdout.starts_with(&format!(
            "sent a Wake-on-LAN magic packet for {target_s} in an Ethernet frame of type 0x0842"
        )),
        "{r:?}"
    );
    let got = collect(&mut link, Duration::from_millis(500));
    let frames: Vec<&Frame> = got
        .iter()
        .filter(|f| ethertype(&f.data) == 0x0842)
        .collect();
    assert_eq!(frames.len(), 1, "one WoL frame at host 1: {got:?}");
    let f = &frames[0].data;
    assert_eq!(f[0..6], [0xff; 6], "to the broadcast address");
    assert_eq!(f[6..12], lan.host(0).mac, "from host 0");
    assert_eq!(f[14..], magic(target)[..], "6 x ff, then 16 x the MAC");

    // UDP to port 9 of the LAN's broadcast address.
    let o = lan.host(0).ip.octets();
    let bcast = Ipv4Addr::new(o[0], o[1], o[2], 255);
    let r = scenario(
        &lan,
        0,
        &["scripts/wol.rhai", "--udp", &bcast.to_string(), &target_s],
        0,
    );
    assert!(
        r.stdout.contains(&format!("in UDP to {bcast} port 9")),
        "{r:?}"
    );
    let got = collect(&mut link, Duration::from_millis(500));
    let frames: Vec<&Frame> = got
        .iter()
        .filter(|f| ipv4(&f.data).is_some_and(|ip| ip[9] == 17))
        .collect();
    assert_eq!(frames.len(), 1, "one UDP frame at host 1: {got:?}");
    let f = &frames[0].data;
    assert_eq!(f[0..6], [0xff; 6]);
    let ip = ipv4(f).unwrap();
    assert_eq!(addrs(ip), (lan.host(0).ip, bcast));
    let udp = &ip[20..];
    assert_eq!(
        u16::from_be_bytes([udp[2], udp[3]]),
        9,
        "destination port 9"
    );
    assert_eq!(usize::from(u16::from_be_bytes([udp[4], udp[5]])), 8 + 102);
    assert_eq!(udp[8..], magic(target)[..]);
}

// ---------------------------------------------------------------------------
// forge_echo.rhai
// ---------------------------------------------------------------------------

#[test]
fn forge_echo_forged_request_is_answered() {
    let lan = Lan::new(2);
    let (a, b) = (ip(&lan, 0), ip(&lan, 1));
    let mut link = lan.link(1);
    let r = scenario(&lan, 0, &["scripts/forge_echo.rhai", &b], 0);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{r:?}");
    assert_eq!(
        lines[0],
        format!("ping: IP {a} > {b}: ICMP echo request, id 20550, seq 1, length 64")
    );
    assert!(
        lines[1].starts_with(&format!(
            "reply: IP {b} > {a}: ICMP echo reply, id 20550, seq 1, length 64, icmp chksum 0x"
        )),
        "{r:?}"
    );
    assert!(
        lines[2].starts_with(&format!(
            "forged: IP {a} > {b}: ICMP echo request, id 20550, seq 1, length 64, icmp chksum 0x"
        )) && lines[2].ends_with("(type 0 -> 8, checksum recomputed)"),
        "{r:?}"
    );
    assert_eq!(
        lines[3],
        "  its ICMP message is byte for byte the request we sent"
    );
    assert!(
        lines[4].starts_with(&format!(
            "answer: IP {b} > {a}: ICMP echo reply, id 20550, seq 1, length 64, time="
        )),
        "{r:?}"
    );
    // Host 1 got the request and the forged one: the same ICMP message,
    // with a valid checksum (it answered both).
    let got = collect(&mut link, Duration::from_millis(300));
    let requests: Vec<&[u8]> = got
        .iter()
        .filter_map(|f| icmp(&f.data))
        .filter(|m| m[0] == 8)
        .collect();
    assert_eq!(requests.len(), 2, "{got:?}");
    assert_eq!(requests[0], requests[1]);
}

#[test]
fn forge_echo_spoofed_reply_reaches_the_spoofed_host() {
    let lan = Lan::new(3);
    let (b, c) = (ip(&lan, 1), ip(&lan, 2));
    let mut link = lan.link(2);
    let r = scenario(&lan, 0, &["scripts/forge_echo.rhai", "--spoof", &c, &b], 0);
    assert_eq!(
        r.stdout,
        format!(
            "sent: IP {c} > {b}: ICMP echo request, id 20550, seq 1, length 64 (source forged: {b} will answer {c})\n\
             the answer went to {c}; it did not come here\n"
        )
    );
    let got = collect(&mut link, Duration::from_millis(500));
    let replies: Vec<&Frame> = got
        .iter()
        .filter(|f| icmp(&f.data).is_some_and(|m| m[0] == 0))
        .collect();
    assert_eq!(replies.len(), 1, "one echo reply at host 2: {got:?}");
    let f = &replies[0].data;
    assert_eq!(addrs(ipv4(f).unwrap()), (lan.host(1).ip, lan.host(2).ip));
    assert_eq!(f[0..6], lan.host(2).mac);
    let m = icmp(f).unwrap();
    assert_eq!(m[4..8], [0x50, 0x46, 0, 1], "id 0x5046, seq 1");
}

// ---------------------------------------------------------------------------
// ping.rhai, arping.rhai, arp_scan.rhai
// ---------------------------------------------------------------------------

/// The number before " ms" / "ms" at the end of `line`.
fn ms_at_end(line: &str) -> f64 {
    let t = line.trim_end_matches("ms").trim_end();
    let n = t.rsplit(['=', ' ']).next().unwrap_or("");
    n.parse()
        .unwrap_or_else(|_| panic!("no time at the end of {line:?}"))
}

#[test]
fn ping_prints_replies_with_round_trip_times() {
    let lan = Lan::new(3);
    let b = ip(&lan, 1);
    let r = scenario(
        &lan,
        0,
        &["scripts/ping.rhai", "-c", "3", "-i", "0.1", &b],
        0,
    );
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], format!("PING {b} 56(84) bytes of data."));
    for (k, line) in lines[1..4].iter().enumerate() {
        let prefix = format!("64 bytes from {b}: icmp_seq={} ttl=64 time=", k + 1);
        assert!(line.starts_with(&prefix), "{line:?} in {r:?}");
        let t = ms_at_end(line);
        assert!(t > 0.0 && t < 1000.0, "round-trip time {t} ms");
    }
    assert_eq!(lines[5], format!("--- {b} ping statistics ---"));
    assert_eq!(
        lines[6],
        "3 packets transmitted, 3 received, 0% packet loss"
    );
    assert!(lines[7].starts_with("rtt min/avg/max/mdev = "), "{r:?}");

    // A host that ignores echo requests: no reply, status 1.
    let c = ip(&lan, 2);
    lan.exec(
        2,
        &["sysctl", "-q", "-w", "net.ipv4.icmp_echo_ignore_all=1"],
    );
    let r = scenario(
        &lan,
        0,
        &["scripts/ping.rhai", "-c", "2", "-i", "0", "-W", "0.3", &c],
        1,
    );
    assert!(
        r.stdout
            .contains("2 packets transmitted, 0 received, 100% packet loss"),
        "{r:?}"
    );
}

#[test]
fn arping_prints_replies_with_round_trip_times() {
    let lan = Lan::new(2);
    let b = ip(&lan, 1);
    let mac = netns::mac_str(&lan.host(1).mac);
    let r = scenario(
        &lan,
        0,
        &["scripts/arping.rhai", "-c", "3", "-i", "0.1", &b],
        0,
    );
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines[0],
        format!("ARPING {b} from {} {}", ip(&lan, 0), lan.host(0).dev)
    );
    for line in &lines[1..4] {
        assert!(
            line.starts_with(&format!("Unicast reply from {b} [{mac}]  ")),
            "{line:?}"
        );
        let t = ms_at_end(line);
        assert!(t > 0.0 && t < 1000.0, "round-trip time {t} ms");
    }
    assert_eq!(lines[4], "Sent 3 probes (1 broadcast(s))");
    assert_eq!(lines[5], "Received 3 response(s)");
}

#[test]
fn arp_scan_lists_the_hosts_of_a_range() {
    let lan = Lan::new(4);
    let range = first_28(&lan);
    let r = scenario(&lan, 0, &["scripts/arp_scan.rhai", "-t", "0.5", &range], 0);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines[1],
        format!("Scanning {range}: 14 addresses, 13 probed")
    );
    for i in 1..4 {
        let line = lines[1 + i];
        let want = format!(
            "{:<16}{:<19}",
            ip(&lan, i),
            netns::mac_str(&lan.host(i).mac)
        );
        assert!(line.starts_with(&want), "{line:?} in {r:?}");
        let t = ms_at_end(line);
        assert!((0.0..1000.0).contains(&t), "round-trip time {t} ms");
    }
    assert!(
        lines[5].starts_with("3 hosts answered out of 13 probed in "),
        "{r:?}"
    );
}

// ---------------------------------------------------------------------------
// sr1 against the kernel's own answers
// ---------------------------------------------------------------------------

#[test]
fn sr1_answers_arp_icmp_tcp_and_udp() {
    let lan = Lan::new(2);
    let (a, b) = (ip(&lan, 0), ip(&lan, 1));
    let script = format!(
        r#"
        let me = iface_mac(iface());
        let ip = iface_ip(iface());
        let t = "{b}";
        let r = srp1(Ether(#{{src: me}}) / ARP(#{{hwsrc: me, psrc: ip, pdst: t}}), #{{timeout: 2}});
        print(`arp: ${{r}}`);
        let r = sr1(IPv4(#{{dst: t}}) / ICMP(#{{type: "echo-request", id: 7, seq: 3}}) / "ping", #{{timeout: 2}});
        print(`icmp: ${{r}}`);
        let r = sr1(IPv4(#{{dst: t}}) / TCP(#{{sport: 40000, dport: 9, flags: "S", seq: 1000}}), #{{timeout: 2}});
        print(`tcp: ${{r}} flags=${{r.tcp.flags}} ack=${{r.tcp.ack}}`);
        let probe = IPv4(#{{dst: t}}) / UDP(#{{sport: 40001, dport: 9}}) / "probe";
        let r = sr1(probe, #{{timeout: 2}});
        print(`udp: ${{r}}`);
        print(`icmp type=${{r.icmp.type}} code=${{r.icmp.code}} layers=${{r.layers()}}`);
        print(`quoted ${{r[3].src}} > ${{r[3].dst}} udp ${{r.udp.sport}} > ${{r.udp.dport}} ${{r.raw.load}}`);
        "#
    );
    let r = scenario(&lan, 0, &["-e", &script], 0);
    let mac = netns::mac_str(&lan.host(1).mac);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            format!("arp: ARP, Reply {b} is-at {mac}, length 28").as_str(),
            &format!("icmp: IP {b} > {a}: ICMP echo reply, id 7, seq 3, length 12"),
            &format!(
                "tcp: IP {b}.9 > {a}.40000: Flags [R.], seq 0, ack 1001, win 0, length 0 flags=RA ack=1001"
            ),
            &format!("udp: IP {b} > {a}: ICMP {b} port-unreachable, length 41"),
            r#"icmp type=dest-unreach code=3 layers=["Ether", "IPv4", "ICMP", "IPv4", "UDP", "Raw"]"#,
            // The probe quoted whole, its payload included ("probe").
            &format!("quoted {a} > {b} udp 40001 > 9 [70726f6265]"),
        ],
        "{r:?}"
    );
}

// ---------------------------------------------------------------------------
// Capture at speed
// ---------------------------------------------------------------------------

/// A script sending `n` 60-byte frames of the experimental EtherType from host 0 to host 1 in one sendp.
fn sender(lan: &Lan, n: usize) -> String {
    format!(
        r#"let f = Ether(#{{src: "{}", dst: "{}", type: 0x88b5}}) / Raw(blob(46, 0x5a));
           let a = [];
           a.pad({n}, f);
           print(sendp(a));"#,
        netns::mac_str(&lan.host(0).mac),
        netns::mac_str(&lan.host(1).mac)
    )
}

#[test]
fn capture_of_100000_frames_loses_none() {
    let lan = Lan::new(2);
    let rx = lan.spawn(
        1,
        &[
            BIN,
            "-e",
            "print(capture(iface(), #{count: 100000, timeout: 60, filter: |p| p.eth.type == 0x88b5}).len())",
        ],
        root(),
    );
    lan.wait_packet_sockets(1, 1, Duration::from_secs(10));
    let tx = scenario(&lan, 0, &["-e", &sender(&lan, 100_000)], 0);
    assert_eq!(tx.stdout, "100000\n");
    let rx = Run::from(rx.wait_with_output().expect("receiver"));
    assert_eq!(rx.status, 0, "{rx:?}");
    assert_eq!(rx.stdout, "100000\n", "every frame captured: {rx:?}");
    assert!(
        !rx.stderr.contains("dropped"),
        "no drop reported: {}",
        rx.stderr
    );
}

#[test]
fn capture_reports_kernel_drops() {
    // A reader far too slow for 300,000 frames at once: the kernel's buffer
    // fills and it drops frames; capture reads its counters and says so,
    // the frames received and dropped adding up to those sent.
    let lan = Lan::new(2);
    let rx = lan.spawn(
        1,
        &[
            BIN,
            "-e",
            "print(capture(iface(), #{count: 300000, timeout: 4}, |p| { let x = 0; for i in 0..300 { x += i; } true }))",
        ],
        root(),
    );
    lan.wait_packet_sockets(1, 1, Duration::from_secs(10));
    let tx = scenario(&lan, 0, &["-e", &sender(&lan, 300_000)], 0);
    assert_eq!(tx.stdout, "300000\n");
    let rx = Run::from(rx.wait_with_output().expect("receiver"));
    assert_eq!(rx.status, 0, "{rx:?}");
    let seen: u64 = rx.stdout.trim().parse().expect("a count");
    let warning = rx
        .stderr
        .lines()
        .find(|l| l.starts_with("warning: the kernel dropped "))
        .unwrap_or_else(|| panic!("no drop warning: {rx:?}"));
    let dev = &lan.host(1).dev;
    let nums: Vec<u64> = warning.split(' ').filter_map(|w| w.parse().ok()).collect();
    assert_eq!(nums.len(), 2, "{warning}");
    let (dropped, total) = (nums[0], nums[1]);
    assert!(dropped > 0 && seen < 300_000, "{warning}; {seen} seen");
    assert_eq!(total, 300_000, "received + dropped = sent: {warning}");
    assert!(
        warning.ends_with(&format!("packets on {dev} (receive buffer full)")),
        "{warning}"
    );
}

// ---------------------------------------------------------------------------
// The recordings of tests/replay/
// ---------------------------------------------------------------------------

/// Runs `case` in host 0 while capturing there, both directions: what the
/// script printed, the frames host 0 received and those it sent.
fn record_case(lan: &Lan, case: &cases::Case) -> (Run, Vec<Frame>, Vec<Frame>) {
    let mut link = lan
        .open(0, LiveOptions::default())
        .expect("open a capture on host 0");
    link.set_outgoing(true);
    let mut args = vec![BIN, case.script];
    args.extend_from_slice(case.args);
    let mut child = lan.spawn(0, &args, root());
    let mut frames = Vec::new();
    let mut ended: Option<Instant> = None;
    loop {
        if let Some(f) = link.recv(Some(Duration::from_millis(20))).expect("recv") {
            frames.push(f);
        }
        if ended.is_none() && child.try_wait().expect("wait").is_some() {
            ended = Some(Instant::now());
        }
        if ended.is_some_and(|t| t.elapsed() > Duration::from_millis(300)) {
            break;
        }
    }
    let run = Run::from(child.wait_with_output().expect("script"));
    let (sent, received): (Vec<Frame>, Vec<Frame>) = frames
        .into_iter()
        .partition(|f| f.direction == Direction::Outgoing);
    (run, received, sent)
}

fn write_frames(path: &Path, frames: &[Frame]) {
    let mut w = PcapWriter::create_with(path, 1, Format::Pcap)
        .unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    for f in frames {
        w.write(&f.to_record(1)).expect("write record");
    }
    w.close().expect("close pcap");
}

fn read_frames(path: &Path) -> Vec<Vec<u8>> {
    pktscript::pcap::read_all(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .into_iter()
        .map(|r| r.data)
        .collect()
}

/// Replays a recording: the script's run and the frames it sent.
fn replay(case: &cases::Case, pcap: &Path, tmp: &Path) -> (Run, Vec<Vec<u8>>) {
    let sent = tmp.join(format!("{}.replay-sent.pcap", case.name));
    let out = std::process::Command::new(BIN)
        .args(cases::replay_args(case, pcap, &sent))
        .current_dir(root())
        .output()
        .expect("run pktscript");
    (Run::from(out), read_frames(&sent))
}

fn describe(frames: &[Vec<u8>]) -> String {
    frames
        .iter()
        .map(|f| pktscript::Packet::dissect(f.clone(), 1).summary() + "\n")
        .collect()
}

/// Frames with the IPv4 identification and header checksum zeroed: the
/// request forge_echo.rhai forges carries the id its target chose for the
/// reply, which changes from run to run.
fn normalised(frames: &[Vec<u8>]) -> Vec<Vec<u8>> {
    frames
        .iter()
        .map(|f| {
            let mut f = f.clone();
            if ethertype(&f) == 0x0800 && f.len() >= 34 {
                f[18..20].fill(0);
                f[24..26].fill(0);
            }
            f
        })
        .collect()
}

#[test]
fn replay_recordings_match_live() {
    let record = std::env::var_os("PKTSCRIPT_RECORD").is_some();
    let mut lan = Lan::new(cases::HOSTS);
    lan.renumber(0);
    let silent_dev = lan.host(cases::SILENT).dev.clone();
    lan.ip(
        cases::SILENT,
        &["link", "set", "dev", &silent_dev, "arp", "off"],
    );
    for i in 1..cases::HOSTS {
        if i != cases::SILENT {
            ensure_probes_dropped(&lan, 0, i);
        }
    }
    // Static neighbours everywhere: no host asks another for its MAC while
    // recording (such requests, and our kernel's answers, would be noise).
    for i in 0..cases::HOSTS {
        for j in 0..cases::HOSTS {
            if i != j {
                let (dev, peer) = (lan.host(i).dev.clone(), lan.host(j).clone());
                lan.ip(
                    i,
                    &[
                        "neigh",
                        "replace",
                        &peer.ip.to_string(),
                        "lladdr",
                        &netns::mac_str(&peer.mac),
                        "nud",
                        "permanent",
                        "dev",
                        &dev,
                    ],
                );
            }
        }
    }
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("scenarios_live-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let golden = root().join("tests/replay");
    let dir = if record { golden.clone() } else { tmp.clone() };
    let mut failures = Vec::new();
    for case in cases::CASES {
        for &i in case.promisc {
            set_promisc(&lan, i, true);
        }
        for &i in case.no_echo {
            lan.exec(
                i,
                &["sysctl", "-q", "-w", "net.ipv4.icmp_echo_ignore_all=1"],
            );
        }
        let (run, received, sent) = record_case(&lan, case);
        for &i in case.promisc {
            set_promisc(&lan, i, false);
        }
        for &i in case.no_echo {
            lan.exec(
                i,
                &["sysctl", "-q", "-w", "net.ipv4.icmp_echo_ignore_all=0"],
            );
        }
        let name = case.name;
        if run.status != case.status {
            failures.push(format!(
                "{name}: live exit status {}, expected {}\n{}{}",
                run.status, case.status, run.stdout, run.stderr
            ));
            continue;
        }
        let pcap = dir.join(format!("{name}.pcap"));
        write_frames(&pcap, &received);
        write_frames(&dir.join(format!("{name}.sent.pcap")), &sent);
        let live_sent: Vec<Vec<u8>> = sent.iter().map(|f| f.data.clone()).collect();

        let (rep, rep_sent) = replay(case, &pcap, &tmp);
        if rep.status != case.status {
            failures.push(format!(
                "{name}: replayed exit status {}, expected {}\n{}{}",
                rep.status, case.status, rep.stdout, rep.stderr
            ));
            continue;
        }
        if rep_sent != live_sent {
            failures.push(format!(
                "{name}: the replay sent other frames than the live run\n--- live\n{}--- replay\n{}",
                describe(&live_sent),
                describe(&rep_sent)
            ));
            continue;
        }
        let out = cases::mask_times(&rep.stdout);
        let out_path = golden.join(format!("{name}.out"));
        if record {
            std::fs::write(&out_path, &out).expect("write .out");
            continue;
        }
        let want_sent = read_frames(&golden.join(format!("{name}.sent.pcap")));
        if normalised(&live_sent) != normalised(&want_sent) {
            failures.push(format!(
                "{name}: sent other frames than tests/replay/{name}.sent.pcap\n--- golden\n{}--- live\n{}",
                describe(&want_sent),
                describe(&live_sent)
            ));
        }
        let want_out = std::fs::read_to_string(&out_path).unwrap_or_default();
        if out != want_out {
            failures.push(format!(
                "{name}: replaying this run printed\n{out}instead of tests/replay/{name}.out\n{want_out}"
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(
        failures.is_empty(),
        "{}\n(if the change is meant, record again: PKTSCRIPT_RECORD=1 cargo test --test scenarios_live replay_recordings)",
        failures.join("\n")
    );
}

#[test]
fn send_routes_ip_packets_through_the_kernel() {
    // send() takes an IP packet without Ethernet; the kernel routes it, fills
    // in the source address and resolves the MAC: host B sees a whole frame.
    let lan = Lan::new(2);
    let (a, b) = (ip(&lan, 0), ip(&lan, 1));
    let rx = lan.spawn(
        1,
        &[
            BIN,
            "-e",
            "let p = capture(iface(), #{count: 1, timeout: 10, filter: |p| p.has(\"ICMP\") && p.icmp.id == 4242}); \
             print(`${p[0].ip.src} ${p[0].icmp.seq} ${p[0].raw.load.as_string()} ${p[0].bad_checksums()}`)",
        ],
        root(),
    );
    lan.wait_packet_sockets(1, 1, Duration::from_secs(10));
    let tx = scenario(
        &lan,
        0,
        &[
            "-e",
            &format!("send(IPv4(#{{dst: \"{b}\"}}) / ICMP(#{{id: 4242, seq: 5}}) / \"sent\")"),
        ],
        0,
    );
    assert_eq!(tx.stdout, "1\n", "{tx:?}");
    let rx = Run::from(rx.wait_with_output().expect("receiver"));
    assert_eq!(rx.status, 0, "{rx:?}");
    assert_eq!(rx.stdout, format!("{a} 5 sent []\n"), "{rx:?}");
}

#[test]
fn test_record_mode_saves_what_a_live_run_receives_for_replay() {
    // `pktscript test --record IFACE` runs a test that names a replay file on
    // the live interface and saves what it received there; a normal run then
    // gets the same answers from the file, without the network.
    let lan = Lan::new(2);
    let (a, b) = (ip(&lan, 0), ip(&lan, 1));
    let me = netns::mac_str(&lan.host(0).mac);
    let dir = std::env::temp_dir().join(format!("pktscript-record-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("arp.rhai"),
        format!(
            "// replay: answers.pcap\n\
             let r = srp1(Ether(#{{src: \"{me}\"}}) / ARP(#{{hwsrc: \"{me}\", psrc: \"{a}\", pdst: \"{b}\"}}), #{{timeout: 2}});\n\
             assert(r != (), \"no answer\");\n\
             print(r);\n"
        ),
    )
    .unwrap();
    let d = dir.to_str().unwrap();
    let dev = lan.host(0).dev.clone();
    let rec = scenario(&lan, 0, &["test", "--record", &dev, "-v", d], 0);
    assert!(rec.stdout.contains("1 passed, 0 failed"), "{rec:?}");
    assert!(rec.stderr.contains("recorded"), "{rec:?}");
    let frames = pktscript::pcap::read_all(dir.join("answers.pcap")).unwrap();
    assert!(!frames.is_empty());
    // Replayed, unprivileged, outside the namespace: the same answer.
    let o = std::process::Command::new(BIN)
        .args(["test", "-v", d])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains(&format!("ARP, Reply {b} is-at")), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn capture_filters_run_in_the_kernel() {
    // An expression filter is attached to the socket: host B's capture sees
    // only the ICMP that host A sends among ARP and UDP noise.
    let lan = Lan::new(2);
    let b = ip(&lan, 1);
    let rx = lan.spawn(
        1,
        &[
            BIN,
            "-e",
            "let got = capture(iface(), #{count: 3, timeout: 10, filter: \"icmp and icmp[icmptype] = icmp-echo\"}); \
             print(got.len()); for p in got { print(p.icmp.seq); }",
        ],
        root(),
    );
    lan.wait_packet_sockets(1, 1, Duration::from_secs(10));
    let tx = format!(
        "let me = iface_mac(iface()); let ip = iface_ip(iface()); let dst = \"{b}\"; \
         let frames = []; \
         for i in 0..3 {{ \
            frames.push(Ether(#{{src: me, dst: \"ff:ff:ff:ff:ff:ff\"}}) / ARP(#{{hwsrc: me, psrc: ip, pdst: dst}})); \
            frames.push(Ether(#{{src: me, dst: \"02:00:00:00:00:99\"}}) / IPv4(#{{src: ip, dst: dst}}) / UDP(#{{dport: 9}})); \
            frames.push(Ether(#{{src: me, dst: \"ff:ff:ff:ff:ff:ff\"}}) / IPv4(#{{src: ip, dst: dst}}) / ICMP(#{{id: 1, seq: i}})); \
         }} \
         sendp(frames)"
    );
    let sent = scenario(&lan, 0, &["-e", &tx], 0);
    assert_eq!(sent.stdout, "9\n");
    let rx = Run::from(rx.wait_with_output().expect("receiver"));
    assert_eq!(rx.status, 0, "{rx:?}");
    assert_eq!(rx.stdout, "3\n0\n1\n2\n", "{rx:?}");
}

#[test]
fn vlan_filters_work_on_live_captures() {
    // The kernel strips VLAN tags before socket filters run, so `vlan`
    // expressions are checked in user space on the frames with their tags
    // put back: tagged ICMP in VLAN 5 is seen, VLAN 6 and untagged are not.
    let lan = Lan::new(2);
    let b = ip(&lan, 1);
    let bmac = netns::mac_str(&lan.host(1).mac);
    let rx = lan.spawn(
        1,
        &[
            BIN,
            "-e",
            "let got = capture(iface(), #{count: 2, timeout: 10, filter: \"vlan 5 and icmp\"}); \
             print(got.len()); for p in got { print(`${p.dot1q.vlan} ${p.icmp.seq}`); }",
        ],
        root(),
    );
    lan.wait_packet_sockets(1, 1, Duration::from_secs(10));
    let tx = format!(
        "let me = iface_mac(iface()); let ip = iface_ip(iface()); let frames = []; \
         for i in 0..2 {{ \
            frames.push(Ether(#{{src: me, dst: \"{bmac}\"}}) / IPv4(#{{src: ip, dst: \"{b}\"}}) / ICMP(#{{seq: 10 + i}})); \
            frames.push(Ether(#{{src: me, dst: \"{bmac}\"}}) / Dot1Q(#{{vlan: 6}}) / IPv4(#{{src: ip, dst: \"{b}\"}}) / ICMP(#{{seq: 20 + i}})); \
            frames.push(Ether(#{{src: me, dst: \"{bmac}\"}}) / Dot1Q(#{{vlan: 5}}) / IPv4(#{{src: ip, dst: \"{b}\"}}) / ICMP(#{{seq: i}})); \
         }} \
         sendp(frames)"
    );
    let sent = scenario(&lan, 0, &["-e", &tx], 0);
    assert_eq!(sent.stdout, "6\n");
    let rx = Run::from(rx.wait_with_output().expect("receiver"));
    assert_eq!(rx.status, 0, "{rx:?}");
    assert_eq!(rx.stdout, "2\n5 0\n5 1\n", "{rx:?}");
}
