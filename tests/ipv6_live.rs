//! IPv6 on a live network: send(), sr1 with neighbour discovery, the
//! kernel's neighbour table, interfaces(), and the scripts ping.rhai,
//! ndping.rhai and promisc.rhai against hosts of a test LAN in network
//! namespaces (see netns/mod.rs). Needs root: without it the tests fail,
//! they are never skipped.
//!
//! Every host gets fd00::(i+1)/64 (no duplicate address detection, no
//! link-local address, no router solicitations) beside its IPv4 address;
//! frames go only between hosts of the test's own LAN.

mod netns;

use std::path::Path;
use std::time::Duration;

use netns::{Lan, Run};
use pktscript::link::{self, Link, LiveOptions};

const BIN: &str = env!("CARGO_BIN_EXE_pktscript");

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A LAN of `n` hosts, each with its IPv6 address.
fn lan6(n: usize) -> Lan {
    let lan = Lan::new(n);
    lan.enable_ipv6_all();
    lan
}

/// Runs pktscript with `args` in host `i`'s namespace, from the crate root.
fn pktscript(lan: &Lan, i: usize, args: &[&str]) -> Run {
    let mut all = vec![BIN];
    all.extend_from_slice(args);
    Run::from(lan.exec_output(i, &all, root()))
}

/// Runs pktscript in host `i`; panics, showing everything, unless it ends
/// with `status`.
fn scenario(lan: &Lan, i: usize, args: &[&str], status: i32) -> Run {
    let r = pktscript(lan, i, args);
    assert_eq!(
        r.status, status,
        "pktscript {args:?} in host {i}: exit status {}, expected {status}\n--- stdout\n{}--- stderr\n{}",
        r.status, r.stdout, r.stderr
    );
    r
}

fn ip6(lan: &Lan, i: usize) -> String {
    lan.ip6(i).to_string()
}

/// The number before "ms" / " ms" at the end of `line`.
fn ms_at_end(line: &str) -> f64 {
    let t = line.trim_end_matches("ms").trim_end();
    let n = t.rsplit(['=', ' ']).next().unwrap_or("");
    n.parse()
        .unwrap_or_else(|_| panic!("no time at the end of {line:?}"))
}

/// Whether frame `f` is an Ethernet/IPv6/ICMPv6 message of `icmp_type`.
fn icmpv6_type(f: &[u8], icmp_type: u8) -> bool {
    f.len() >= 55 && f[12..14] == [0x86, 0xdd] && f[20] == 58 && f[54] == icmp_type
}

// ---------------------------------------------------------------------------
// The script API
// ---------------------------------------------------------------------------

#[test]
fn send_of_an_ipv6_udp_packet_reaches_the_other_host() {
    // send() takes an IPv6 packet without Ethernet: the kernel routes it
    // over its raw IPv6 socket and resolves the MAC; the source (IPv6()'s
    // ::1, as in Scapy) becomes the interface's address, with the UDP
    // checksum to match.
    let lan = lan6(2);
    let (a, b) = (ip6(&lan, 0), ip6(&lan, 1));
    let rx = lan.spawn(
        1,
        &[
            BIN,
            "-e",
            "let p = capture(iface(), #{count: 1, timeout: 10, filter: |p| p.has(\"UDP\") && p.udp.dport == 4243}); \
             print(`${p[0].ipv6.src} > ${p[0].ipv6.dst} ${p[0].udp.sport} ${p[0].raw.load.as_string()} ${p[0].bad_checksums()}`)",
        ],
        root(),
    );
    lan.wait_packet_sockets(1, 1, Duration::from_secs(10));
    let tx = scenario(
        &lan,
        0,
        &[
            "-e",
            &format!(
                "send(IPv6(#{{dst: \"{b}\"}}) / UDP(#{{sport: 4242, dport: 4243}}) / \"sent over IPv6\")"
            ),
        ],
        0,
    );
    assert_eq!(tx.stdout, "1\n", "{tx:?}");
    let rx = Run::from(rx.wait_with_output().expect("receiver"));
    assert_eq!(rx.status, 0, "{rx:?}");
    assert_eq!(
        rx.stdout,
        format!("{a} > {b} 4242 sent over IPv6 []\n"),
        "{rx:?}"
    );
}

#[test]
fn sr1_of_an_icmpv6_echo_request_is_answered() {
    // The kernel of host 1 answers: an echo reply, and a port unreachable
    // error quoting a UDP probe. Host 0 finds host 1's MAC with a neighbour
    // solicitation (its kernel's table is empty).
    let lan = lan6(2);
    let (a, b) = (ip6(&lan, 0), ip6(&lan, 1));
    let script = format!(
        r#"
        let t = "{b}";
        let r = sr1(IPv6(#{{dst: t}}) / ICMPv6EchoRequest(#{{id: 7, seq: 3}}) / "ping", #{{timeout: 2}});
        print(`echo: ${{r}} eth=${{r.eth.src}}`);
        let r = sr1(IPv6(#{{dst: t}}) / UDP(#{{sport: 40001, dport: 9}}) / "probe", #{{timeout: 2}});
        print(`udp: ${{r}}`);
        print(`layers=${{r.layers()}} quoted ${{r[3].src}} > ${{r[3].dst}} ${{r.udp.dport}} ${{r.raw.load}}`);
        let res = sr([IPv6(#{{dst: t}}) / ICMPv6EchoRequest(#{{id: 8, seq: 1}}),
                      IPv6(#{{dst: t}}) / ICMPv6EchoRequest(#{{id: 8, seq: 2}})], #{{timeout: 2}});
        print(`sr: ${{res.answered.len()}} answered, ${{res.unanswered.len()}} unanswered`);
        "#
    );
    let r = scenario(&lan, 0, &["-e", &script], 0);
    let mac = netns::mac_str(&lan.host(1).mac);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            format!("echo: IP6 {b} > {a}: ICMP6, echo reply, id 7, seq 3, length 12 eth={mac}")
                .as_str(),
            &format!(
                "udp: IP6 {b} > {a}: ICMP6, destination unreachable, unreachable port, {b} udp port 9, length 61"
            ),
            &format!(
                r#"layers=["Ether", "IPv6", "ICMPv6", "IPv6", "UDP", "Raw"] quoted {a} > {b} 9 [70726f6265]"#
            ),
            "sr: 2 answered, 0 unanswered",
        ],
        "{r:?}"
    );
}

#[test]
fn sr1_to_an_address_nobody_has_returns_unit_and_explains() {
    // fd00::99 is on the LAN's network but no host has it: the neighbour
    // solicitation goes unanswered, sr1 returns () as Scapy returns None,
    // and explain says why, from the option and from --explain alike.
    let lan = lan6(2);
    let script = r#"
        let r = sr1(IPv6(#{dst: "fd00::99"}) / ICMPv6EchoRequest(), #{timeout: 0.5, explain: true});
        print(`got ${type_of(r)}`);
        let res = sr(IPv6(#{dst: "fd00::99"}) / ICMPv6EchoRequest(), #{timeout: 0.5});
        print(`sr: ${res.answered.len()} answered, ${res.unanswered.len()} unanswered`);
    "#;
    let r = scenario(&lan, 0, &["-e", script], 0);
    assert_eq!(r.stdout, "got ()\nsr: 0 answered, 1 unanswered\n", "{r:?}");
    let dev = &lan.host(0).dev;
    let why = format!(
        "explain: the neighbour fd00::99 did not answer the neighbour solicitation on {dev} within 0.5 s: not sent"
    );
    assert_eq!(r.stderr.matches(&why).count(), 1, "{r:?}");

    let r = scenario(
        &lan,
        0,
        &[
            "--explain",
            "-e",
            r#"print(type_of(sr1(IPv6(#{dst: "fd00::99"}) / ICMPv6EchoRequest(), #{timeout: 0.5})))"#,
        ],
        0,
    );
    assert_eq!(r.stdout, "()\n", "{r:?}");
    assert!(r.stderr.contains(&why), "{r:?}");
}

#[test]
fn sr1_takes_the_mac_from_the_kernels_neighbour_table() {
    // With a permanent entry for host 1 in host 0's neighbour table, sr1
    // sends no solicitation: host 1 sees the echo request only.
    let lan = lan6(2);
    let b = ip6(&lan, 1);
    let dev0 = lan.host(0).dev.clone();
    let mac1 = netns::mac_str(&lan.host(1).mac);
    lan.ip(
        0,
        &[
            "-6",
            "neigh",
            "replace",
            &b,
            "lladdr",
            &mac1,
            "dev",
            &dev0,
            "nud",
            "permanent",
        ],
    );
    let mut rx = lan.link(1);
    let r = scenario(
        &lan,
        0,
        &[
            "-e",
            &format!(
                "print(sr1(IPv6(#{{dst: \"{b}\"}}) / ICMPv6EchoRequest(#{{id: 9, seq: 1}}), #{{timeout: 2}}))"
            ),
        ],
        0,
    );
    assert!(r.stdout.contains("echo reply, id 9, seq 1"), "{r:?}");
    let frames = netns::collect(&mut rx, Duration::from_millis(300));
    let from0: Vec<_> = frames
        .iter()
        .filter(|f| f.data.len() > 12 && f.data[6..12] == lan.host(0).mac)
        .collect();
    assert!(
        from0.iter().any(|f| icmpv6_type(&f.data, 128)),
        "no echo request reached host 1: {frames:?}"
    );
    assert!(
        !from0.iter().any(|f| icmpv6_type(&f.data, 135)),
        "host 0 solicited although its kernel knew the MAC: {frames:?}"
    );
}

#[test]
fn interfaces_lists_ipv6_addresses() {
    let lan = lan6(2);
    let dev = lan.host(0).dev.clone();
    let list = lan.in_host(0, link::interfaces).expect("interfaces");
    let me = list.iter().find(|i| i.name == dev).expect("our interface");
    assert_eq!(me.ipv6, vec![(lan.ip6(0), 64)], "{me:?}");
    let r = scenario(
        &lan,
        0,
        &[
            "-e",
            &format!(
                "for i in interfaces() {{ if i.name == \"{dev}\" {{ print(i.ipv6); print(i.ipv4); }} }}"
            ),
        ],
        0,
    );
    assert_eq!(
        r.stdout,
        format!("[\"fd00::1/64\"]\n[\"{}/24\"]\n", lan.host(0).ip),
        "{r:?}"
    );
}

// ---------------------------------------------------------------------------
// ping.rhai, ndping.rhai
// ---------------------------------------------------------------------------

#[test]
fn ping_an_ipv6_host_prints_replies_with_round_trip_times() {
    let lan = lan6(3);
    let b = ip6(&lan, 1);
    let r = scenario(
        &lan,
        0,
        &["scripts/ping.rhai", "-c", "3", "-i", "0.1", &b],
        0,
    );
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines[0],
        format!("PING {b} 56(104) bytes of data."),
        "{r:?}"
    );
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
    let c = ip6(&lan, 2);
    lan.exec(
        2,
        &["sysctl", "-q", "-w", "net.ipv6.icmp.echo_ignore_all=1"],
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

    // An address nobody has: no neighbour advertisement, errors.
    let r = scenario(
        &lan,
        0,
        &[
            "scripts/ping.rhai",
            "-c",
            "2",
            "-i",
            "0",
            "-W",
            "0.3",
            "fd00::99",
        ],
        1,
    );
    assert!(
        r.stdout.contains(
            "From fd00::1 icmp_seq=1 Destination unreachable: Address unreachable (no neighbour advertisement)"
        ),
        "{r:?}"
    );
    assert!(
        r.stdout
            .contains("2 packets transmitted, 0 received, +2 errors, 100% packet loss"),
        "{r:?}"
    );
}

#[test]
fn ndping_prints_advertisements_with_round_trip_times() {
    let lan = lan6(2);
    let b = ip6(&lan, 1);
    let mac = netns::mac_str(&lan.host(1).mac);
    let r = scenario(
        &lan,
        0,
        &["scripts/ndping.rhai", "-c", "3", "-i", "0.1", &b],
        0,
    );
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines[0],
        format!("NDPING {b} from {} {}", ip6(&lan, 0), lan.host(0).dev),
        "{r:?}"
    );
    for line in &lines[1..4] {
        assert!(
            line.starts_with(&format!("Unicast reply from {b} [{mac}]  ")),
            "{line:?} in {r:?}"
        );
        let t = ms_at_end(line);
        assert!(t > 0.0 && t < 1000.0, "round-trip time {t} ms");
    }
    assert_eq!(lines[4], "Sent 3 probes (1 multicast)");
    assert_eq!(lines[5], "Received 3 response(s)");

    // Nobody has fd00::99: timeouts, status 1.
    let r = scenario(
        &lan,
        0,
        &[
            "scripts/ndping.rhai",
            "-c",
            "2",
            "-i",
            "0",
            "-W",
            "0.3",
            "fd00::99",
        ],
        1,
    );
    assert_eq!(
        r.stdout,
        format!(
            "NDPING fd00::99 from {} {}\nTimeout (no answer within 0.3 s)\nTimeout (no answer within 0.3 s)\n\
             Sent 2 probes (2 multicast)\nReceived 0 response(s)\n",
            ip6(&lan, 0),
            lan.host(0).dev
        )
    );
}

// ---------------------------------------------------------------------------
// promisc.rhai
// ---------------------------------------------------------------------------

fn set_promisc(lan: &Lan, i: usize, on: bool) {
    let dev = lan.host(i).dev.clone();
    let state = if on { "on" } else { "off" };
    lan.ip(i, &["link", "set", "dev", &dev, "promisc", state]);
}

/// Makes sure host `i`'s interface, while not promiscuous, drops frames to
/// every IPv6 probe address of promisc.rhai --thorough: the macvlan filters
/// group addresses through a hash that differs for every device, so one of
/// them may pass by chance; then the device is made again.
fn ensure_probes_dropped(lan: &Lan, prober: usize, i: usize) {
    for _ in 0..8 {
        let target = ip6(lan, i);
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
            "host {i}'s multicast filter passes an IPv6 probe address while not promiscuous: making its device again"
        );
        lan.recreate_dev6(i);
    }
    panic!("host {i}'s device kept passing a probe address after 8 tries");
}

#[test]
fn promisc_with_an_ipv6_target_tells_a_promiscuous_host_from_others() {
    // Host 0 probes; 1 goes promiscuous; 2 stays normal; nobody has fd00::99.
    // Each host's macvlan sits on the switch's veth in bridge mode and
    // filters group addresses as a NIC does.
    let lan = lan6(3);
    ensure_probes_dropped(&lan, 0, 1);
    ensure_probes_dropped(&lan, 0, 2);
    let (t1, t2) = (ip6(&lan, 1), ip6(&lan, 2));

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
    // Host 2 stays normal beside it.
    let r = scenario(&lan, 0, &["scripts/promisc.rhai", "--thorough", &t2], 1);
    assert_eq!(
        r.stdout,
        format!("{t2} is not in promiscuous mode (no reply)\n")
    );

    // Nobody answers for fd00::99: nothing can be said.
    let r = scenario(
        &lan,
        0,
        &["scripts/promisc.rhai", "-t", "0.5", "fd00::99"],
        2,
    );
    assert_eq!(
        r.stdout,
        "fd00::99 does not answer neighbour solicitations at all (no advertisement within 0.5 s): nothing can be said\n"
    );

    // Back to normal.
    set_promisc(&lan, 1, false);
    let r = scenario(&lan, 0, &["scripts/promisc.rhai", "--thorough", &t1], 1);
    assert_eq!(
        r.stdout,
        format!("{t1} is not in promiscuous mode (no reply)\n")
    );

    // The IPv4 probe still works on the same hosts.
    let v4 = lan.host(1).ip.to_string();
    set_promisc(&lan, 1, true);
    let r = scenario(&lan, 0, &["scripts/promisc.rhai", &v4], 0);
    assert_eq!(r.stdout, format!("{v4} is in promiscuous mode\n"));
}

#[test]
fn live_link_sees_the_neighbour_solicitation_sr1_sends() {
    // The solicitation sr1 sends is well formed: to the solicited-node
    // group's MAC, hop limit 255, our link-layer address as an option.
    let lan = lan6(2);
    let b = ip6(&lan, 1);
    let mut rx = lan.open(1, LiveOptions::default()).expect("open host 1");
    scenario(
        &lan,
        0,
        &[
            "-e",
            &format!("sr1(IPv6(#{{dst: \"{b}\"}}) / ICMPv6EchoRequest(), #{{timeout: 2}})"),
        ],
        0,
    );
    let frames = netns::collect(&mut rx, Duration::from_millis(300));
    let ns = frames
        .iter()
        .find(|f| icmpv6_type(&f.data, 135))
        .unwrap_or_else(|| panic!("no neighbour solicitation seen: {frames:?}"));
    let d = &ns.data;
    assert_eq!(d[0..6], [0x33, 0x33, 0xff, 0, 0, 2], "{d:02x?}");
    assert_eq!(d[6..12], lan.host(0).mac, "{d:02x?}");
    assert_eq!(d[21], 255, "hop limit");
    assert_eq!(
        d[38..54],
        "ff02::1:ff00:2"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets()
    );
    assert_eq!(d[62..78], lan.ip6(1).octets(), "target");
    assert_eq!(d[78..80], [1, 1], "source link-layer address option");
    assert_eq!(d[80..86], lan.host(0).mac);
    let _ = rx.name();
}
