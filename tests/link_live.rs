//! The live link (`AF_PACKET`) against the real kernel, on test LANs built
//! in network namespaces (see `netns/mod.rs`). Needs root: without it the
//! tests fail, they are never skipped.
//!
//! Frames go only between hosts of the test's own LAN.

mod netns;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use miette::Diagnostic;
use netns::{Lan, collect};
use pktscript::link::{
    self, Direction, Frame, IfaceInfo, Link, LinkErrorKind, LiveLink, LiveOptions,
};

/// A local experimental ethertype nobody handles.
const EXPERIMENTAL: u16 = 0x88b5;

// ---------------------------------------------------------------------------
// Frames
// ---------------------------------------------------------------------------

fn ether(dst: [u8; 6], src: [u8; 6], ethertype: u16) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f
}

/// A 60-byte frame of the experimental ethertype carrying `marker` and `seq`.
fn test_frame(dst: [u8; 6], src: [u8; 6], marker: u32, seq: u32) -> Vec<u8> {
    let mut f = ether(dst, src, EXPERIMENTAL);
    f.extend_from_slice(&marker.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.resize(60, 0);
    f
}

/// (marker, seq) of a test frame.
fn test_ids(f: &[u8]) -> Option<(u32, u32)> {
    if f.len() < 22 || f[12..14] != EXPERIMENTAL.to_be_bytes() {
        return None;
    }
    let marker = u32::from_be_bytes([f[14], f[15], f[16], f[17]]);
    let seq = u32::from_be_bytes([f[18], f[19], f[20], f[21]]);
    Some((marker, seq))
}

/// An ARP who-has for `target`, broadcast, padded to 60 bytes.
fn arp_request(mac: [u8; 6], ip: std::net::Ipv4Addr, target: std::net::Ipv4Addr) -> Vec<u8> {
    let mut f = ether([0xff; 6], mac, 0x0806);
    f.extend_from_slice(&[0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&ip.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target.octets());
    f.resize(60, 0);
    f
}

fn is_arp(f: &[u8]) -> bool {
    f.len() >= 14 && f[12..14] == [0x08, 0x06]
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

fn markers(frames: &[Frame]) -> Vec<(u32, Direction)> {
    frames
        .iter()
        .filter_map(|f| test_ids(&f.data).map(|(m, _)| (m, f.direction)))
        .collect()
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

/// A's socket asks who has B's address; B's kernel answers; A's socket
/// receives the answer within a second, timestamped by the kernel, incoming.
#[test]
fn arp_round_trip() {
    let lan = Lan::new(2);
    let (a, b) = (lan.host(0).clone(), lan.host(1).clone());
    let mut link = lan.link(0);
    assert_eq!(link.name(), a.dev);
    assert_eq!(link.mac(), Some(a.mac));
    assert_eq!(link.linktype(), 1);

    let start = Instant::now();
    link.send(&arp_request(a.mac, a.ip, b.ip))
        .expect("send ARP");
    let reply = loop {
        let left = Duration::from_secs(1).saturating_sub(start.elapsed());
        let f = link
            .recv(Some(left))
            .expect("recv")
            .unwrap_or_else(|| panic!("no ARP reply from {} within 1 s", b.ip));
        // is-at, sender B
        if is_arp(&f.data) && f.data[20..22] == [0, 2] && f.data[28..32] == b.ip.octets() {
            break f;
        }
    };
    assert_eq!(&reply.data[0..6], &a.mac, "reply to A");
    assert_eq!(&reply.data[22..28], &b.mac, "B's MAC in the reply");
    assert_eq!(reply.direction, Direction::Incoming);
    assert_eq!(reply.orig_len as usize, reply.data.len());
    let ts = reply.ts_sec as f64 + f64::from(reply.ts_nsec) * 1e-9;
    let now = unix_now();
    assert!(
        ts <= now && now - ts < 1.0,
        "kernel timestamp {ts} not within a second before now ({now})"
    );
    // The frame as a packet, with its metadata.
    let p = reply.to_packet(link.linktype());
    assert!(p.has("ARP"), "dissected as {:?}", p.layer_names());
    assert_eq!(p.direction, Some(Direction::Incoming));
    assert_eq!(p.time, Some((reply.ts_sec, reply.ts_nsec)));
}

/// Frames this host sends reach a capture only after set_outgoing(true),
/// and then with the outgoing direction.
#[test]
fn outgoing_frames_only_when_asked() {
    let lan = Lan::new(2);
    let (a, b) = (lan.host(0).clone(), lan.host(1).clone());
    let mut sender = lan.link(0);
    let mut quiet = lan.link(0);
    let mut all = lan.link(0);
    all.set_outgoing(true);
    let mut on_b = lan.link(1);

    sender
        .send(&test_frame(b.mac, a.mac, 1, 0))
        .expect("send 1");
    on_b.send(&test_frame(a.mac, b.mac, 2, 0)).expect("send 2");
    let got_all = markers(&collect(&mut all, Duration::from_millis(300)));
    let got_quiet = markers(&collect(&mut quiet, Duration::from_millis(300)));
    let got_b = markers(&collect(&mut on_b, Duration::from_millis(300)));
    assert_eq!(
        got_all,
        vec![(1, Direction::Outgoing), (2, Direction::Incoming)]
    );
    assert_eq!(got_quiet, vec![(2, Direction::Incoming)]);
    assert_eq!(got_b, vec![(1, Direction::Incoming)]);

    // Switching at run time, both ways.
    quiet.set_outgoing(true);
    sender
        .send(&test_frame(b.mac, a.mac, 3, 0))
        .expect("send 3");
    assert_eq!(
        markers(&collect(&mut quiet, Duration::from_millis(300))),
        vec![(3, Direction::Outgoing)]
    );
    quiet.set_outgoing(false);
    sender
        .send(&test_frame(b.mac, a.mac, 4, 0))
        .expect("send 4");
    assert_eq!(
        markers(&collect(&mut quiet, Duration::from_millis(300))),
        vec![]
    );
    let st = quiet.stats().expect("stats");
    assert_eq!(st.dropped, 0);
}

/// 100,000 60-byte frames sent in one send_batch from A all reach B's
/// socket, in order, with no kernel drops.
#[test]
fn burst_of_100k_frames_arrives_whole() {
    const N: u32 = 100_000;
    const MARKER: u32 = 0x5eed_0001;
    let lan = Lan::new(2);
    let (a, b) = (lan.host(0).clone(), lan.host(1).clone());
    let mut tx = lan.link(0);
    let rx = lan.link(1);

    let receiver = std::thread::spawn(move || {
        let mut rx = rx;
        let mut next = 0u32;
        let mut out_of_order = 0u32;
        let mut first: Option<Instant> = None;
        let mut last = Instant::now();
        while next < N {
            // Stop after a second without frames.
            match rx.recv(Some(Duration::from_secs(1))).expect("recv") {
                None => break,
                Some(f) => {
                    if let Some((MARKER, seq)) = test_ids(&f.data) {
                        first.get_or_insert_with(Instant::now);
                        last = Instant::now();
                        if seq != next {
                            out_of_order += 1;
                        }
                        next = next.max(seq + 1);
                    }
                }
            }
        }
        let took = first.map_or(Duration::ZERO, |t| last - t);
        (rx, next, out_of_order, took)
    });

    let frames: Vec<Vec<u8>> = (0..N)
        .map(|i| test_frame(b.mac, a.mac, MARKER, i))
        .collect();
    let refs: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
    let t = Instant::now();
    let sent = tx.send_batch(&refs).expect("send_batch");
    let send_time = t.elapsed();
    assert_eq!(sent, N as usize);

    let (mut rx, count, out_of_order, recv_time) = receiver.join().expect("receiver thread");
    let st = rx.stats().expect("stats");
    eprintln!(
        "burst: sent {N} frames in {send_time:?} ({:.0} frames/s); received {count} in \
         {recv_time:?} ({:.0} frames/s); kernel stats {st:?}",
        f64::from(N) / send_time.as_secs_f64(),
        f64::from(count) / recv_time.as_secs_f64().max(1e-9),
    );
    assert_eq!(st.dropped, 0, "kernel drops on the receiving socket");
    assert_eq!(count, N, "frames received");
    assert_eq!(out_of_order, 0, "frames out of order");
    assert!(st.received >= u64::from(N), "stats {st:?}");
    // Totals accumulate over reads: a second read adds nothing new.
    assert_eq!(rx.stats().expect("stats again").received, st.received);
}

/// The default receive buffer holds a burst of 100,000 small frames that
/// nobody reads while it arrives.
#[test]
fn burst_waits_in_the_receive_buffer() {
    const N: u32 = 100_000;
    const MARKER: u32 = 0x5eed_0002;
    let lan = Lan::new(2);
    let (a, b) = (lan.host(0).clone(), lan.host(1).clone());
    let mut tx = lan.link(0);
    let mut rx = lan.link(1);
    assert!(
        rx.receive_buffer().expect("receive buffer") >= 100 << 20,
        "root gets the buffer asked for"
    );
    let frames: Vec<Vec<u8>> = (0..N)
        .map(|i| test_frame(b.mac, a.mac, MARKER, i))
        .collect();
    let refs: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
    let t = Instant::now();
    assert_eq!(tx.send_batch(&refs).expect("send_batch"), N as usize);
    let send_time = t.elapsed();
    let st = rx.stats().expect("stats");
    assert_eq!(st.dropped, 0, "kernel drops: {st:?}");
    let t = Instant::now();
    let mut next = 0;
    while let Some(f) = rx.recv(Some(Duration::from_millis(500))).expect("recv") {
        if let Some((MARKER, seq)) = test_ids(&f.data) {
            assert_eq!(seq, next, "in order");
            next += 1;
        }
    }
    let recv_time = t.elapsed().saturating_sub(Duration::from_millis(500));
    eprintln!(
        "buffered burst: sent {N} frames in {send_time:?} ({:.0} frames/s) with no reader; \
         read them back in {recv_time:?} ({:.0} frames/s)",
        f64::from(N) / send_time.as_secs_f64(),
        f64::from(next) / recv_time.as_secs_f64().max(1e-9),
    );
    assert_eq!(next, N, "frames received");
}

/// An unknown interface name is an error that lists the interfaces there.
#[test]
fn unknown_interface_lists_interfaces() {
    let lan = Lan::new(1);
    let dev = lan.host(0).dev.clone();
    let err = lan
        .in_host(0, || LiveLink::open("nosuch0", LiveOptions::default()))
        .expect_err("open of an unknown interface");
    assert_eq!(err.kind, LinkErrorKind::NoSuchInterface);
    assert!(err.to_string().contains("nosuch0"), "{err}");
    let help = err.help().map(|h| h.to_string()).unwrap_or_default();
    assert!(
        help.contains("lo") && help.contains(&dev),
        "help lists the interfaces: {help}"
    );
    assert_eq!(
        err.code().map(|c| c.to_string()).as_deref(),
        Some("link::no_such_interface")
    );
    let err = lan
        .in_host(0, || link::set_promisc("nosuch0", true))
        .expect_err("set_promisc of an unknown interface");
    assert_eq!(err.kind, LinkErrorKind::NoSuchInterface);
}

/// interfaces() lists the namespace's devices with their addresses.
#[test]
fn interfaces_of_a_namespace() {
    let lan = Lan::new(1);
    let h = lan.host(0).clone();
    let list: Vec<IfaceInfo> = lan.in_host(0, link::interfaces).expect("interfaces");
    let names: Vec<&str> = list.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, vec!["lo", h.dev.as_str()]);
    let lo = &list[0];
    assert!(lo.loopback && lo.up);
    assert!(lo.ipv4.contains(&("127.0.0.1".parse().expect("ip"), 8)));
    let dev = &list[1];
    assert_eq!(dev.mac, Some(h.mac));
    assert_eq!(dev.ipv4, vec![(h.ip, 24)]);
    assert!(dev.up && !dev.loopback && !dev.promisc);
    assert!(dev.index > 0 && dev.index != lo.index);
    let one = lan
        .in_host(0, || link::interface(&h.dev))
        .expect("interface");
    assert_eq!(&one, dev);
}

/// A classic BPF program (ARP only) keeps everything else out.
#[test]
fn bpf_filter_accepts_only_arp() {
    let lan = Lan::new(2);
    let (a, b) = (lan.host(0).clone(), lan.host(1).clone());
    let mut tx = lan.link(0);
    let mut rx = lan.link(1);
    // ldh [12]; jeq #0x806, 0, 1; ret #262144; ret #0
    let arp_only = [
        libc::sock_filter {
            code: 0x28,
            jt: 0,
            jf: 0,
            k: 12,
        },
        libc::sock_filter {
            code: 0x15,
            jt: 0,
            jf: 1,
            k: 0x0806,
        },
        libc::sock_filter {
            code: 0x06,
            jt: 0,
            jf: 0,
            k: 262_144,
        },
        libc::sock_filter {
            code: 0x06,
            jt: 0,
            jf: 0,
            k: 0,
        },
    ];
    // Queued before the filter: discarded by attach_filter.
    tx.send(&test_frame(b.mac, a.mac, 7, 0)).expect("send");
    std::thread::sleep(Duration::from_millis(50));
    rx.attach_filter(&arp_only).expect("attach filter");

    tx.send(&test_frame(b.mac, a.mac, 8, 0)).expect("send");
    tx.send(&arp_request(a.mac, a.ip, b.ip)).expect("send ARP");
    tx.send(&test_frame(b.mac, a.mac, 9, 0)).expect("send");
    let got = collect(&mut rx, Duration::from_millis(300));
    assert!(!got.is_empty(), "the ARP request passes the filter");
    assert!(
        got.iter().all(|f| is_arp(&f.data)),
        "only ARP passes: {:?}",
        got.iter().map(|f| &f.data[12..14]).collect::<Vec<_>>()
    );
    let st = rx.stats().expect("stats");
    assert_eq!(
        st.received,
        got.len() as u64,
        "rejected frames are not counted"
    );

    // Without the filter, everything again.
    rx.detach_filter().expect("detach");
    tx.send(&test_frame(b.mac, a.mac, 10, 0)).expect("send");
    assert_eq!(
        markers(&collect(&mut rx, Duration::from_millis(300))),
        vec![(10, Direction::Incoming)]
    );

    // A program that jumps past its end is refused, with a hint.
    let bad = [libc::sock_filter {
        code: 0x05, // ja +5
        jt: 0,
        jf: 0,
        k: 5,
    }];
    let err = rx.attach_filter(&bad).expect_err("bad program");
    assert_eq!(err.kind, LinkErrorKind::Invalid);
    assert!(err.help.is_some());
    let err = rx.attach_filter(&[]).expect_err("empty program");
    assert_eq!(err.kind, LinkErrorKind::Invalid);
}

fn promiscuity(lan: &Lan, i: usize) -> u32 {
    let out = lan.ip(i, &["-d", "link", "show", "dev", &lan.host(i).dev]);
    let n = out
        .split_whitespace()
        .skip_while(|w| *w != "promiscuity")
        .nth(1)
        .unwrap_or_else(|| panic!("no promiscuity in: {out}"));
    n.parse().unwrap_or_else(|e| panic!("promiscuity {n}: {e}"))
}

/// The device flags the kernel uses (IFF_PROMISC = 0x100 while any reason
/// for promiscuous mode holds), read from sysfs inside the namespace.
fn sys_flags(lan: &Lan, i: usize) -> u32 {
    let path = format!("/sys/class/net/{}/flags", lan.host(i).dev);
    let out = lan.exec(i, &["cat", &path]);
    let hex = out.trim().trim_start_matches("0x");
    u32::from_str_radix(hex, 16).unwrap_or_else(|e| panic!("flags {out}: {e}"))
}

fn shows_promisc(lan: &Lan, i: usize) -> bool {
    lan.ip(i, &["link", "show", "dev", &lan.host(i).dev])
        .contains("PROMISC")
}

/// A capture does not switch promiscuous mode on unless asked; asked, it
/// holds only while the link is open. set_promisc switches the interface.
#[test]
fn promisc_only_when_asked() {
    let lan = Lan::new(2);
    let dev = lan.host(1).dev.clone();
    assert_eq!(promiscuity(&lan, 1), 0);

    let plain = lan.link(1);
    assert_eq!(promiscuity(&lan, 1), 0);
    assert_eq!(sys_flags(&lan, 1) & 0x100, 0);
    assert!(!shows_promisc(&lan, 1));
    drop(plain);

    let opts = LiveOptions {
        promisc: true,
        ..LiveOptions::default()
    };
    let promisc = lan.open(1, opts).expect("open promiscuous");
    assert_eq!(promiscuity(&lan, 1), 1);
    assert_ne!(sys_flags(&lan, 1) & 0x100, 0);
    // `ip link show` prints PROMISC only for the switch set by `ip link
    // set promisc on` (SIOCSIFFLAGS), not for sockets' requests.
    eprintln!(
        "with a promiscuous socket, `ip link show` shows PROMISC: {}",
        shows_promisc(&lan, 1)
    );
    drop(promisc);
    assert_eq!(promiscuity(&lan, 1), 0);
    assert_eq!(sys_flags(&lan, 1) & 0x100, 0);

    lan.in_host(1, || link::set_promisc(&dev, true))
        .expect("set_promisc on");
    assert!(shows_promisc(&lan, 1));
    assert_ne!(sys_flags(&lan, 1) & 0x100, 0);
    let info = lan.in_host(1, || link::interface(&dev)).expect("interface");
    assert!(info.promisc);
    lan.in_host(1, || link::set_promisc(&dev, true))
        .expect("set_promisc on again");
    assert_eq!(promiscuity(&lan, 1), 1, "switching on twice counts once");
    lan.in_host(1, || link::set_promisc(&dev, false))
        .expect("set_promisc off");
    assert!(!shows_promisc(&lan, 1));
    assert_eq!(promiscuity(&lan, 1), 0);
    assert_eq!(sys_flags(&lan, 1) & 0x100, 0);
}

/// The kernel takes VLAN tags out of received frames; the link puts them
/// back, so the frame reads as it was sent.
#[test]
fn vlan_tags_are_put_back() {
    let lan = Lan::new(2);
    let (a, b) = (lan.host(0).clone(), lan.host(1).clone());
    let mut tx = lan.link(0);
    let mut rx = lan.link(1);
    let mut f = ether(b.mac, a.mac, 0x8100);
    f.extend_from_slice(&[0x20, 0x2a]); // priority 1, VLAN 42
    f.extend_from_slice(&EXPERIMENTAL.to_be_bytes());
    f.extend_from_slice(&0x7a9u32.to_be_bytes());
    f.resize(64, 0xee);
    tx.send(&f).expect("send tagged");
    let got = collect(&mut rx, Duration::from_millis(300));
    assert_eq!(got.len(), 1, "one frame");
    assert_eq!(got[0].data, f, "received as sent, tag included");
    assert_eq!(got[0].orig_len, 64);
}

/// Errors for a down interface and for a frame over the MTU.
#[test]
fn down_interface_and_oversized_frame() {
    let lan = Lan::new(2);
    let (a, b) = (lan.host(0).clone(), lan.host(1).clone());
    let mut tx = lan.link(0);

    let mut big = test_frame(b.mac, a.mac, 11, 0);
    big.resize(1514, 0);
    tx.send(&big).expect("1514 bytes fit a 1500 MTU");
    big.push(0);
    let err = tx.send(&big).expect_err("1515 bytes");
    assert_eq!(err.kind, LinkErrorKind::FrameTooLarge, "{err}");
    assert!(err.help.is_some());
    let batch: Vec<&[u8]> = vec![&big[..60], &big[..]];
    let err = tx.send_batch(&batch).expect_err("batch with a large frame");
    assert_eq!(err.kind, LinkErrorKind::FrameTooLarge, "{err}");
    assert!(err.message.contains("after 1 frames"), "{err}");

    lan.ip(0, &["link", "set", "dev", &a.dev, "down"]);
    let err = tx
        .send(&test_frame(b.mac, a.mac, 12, 0))
        .expect_err("send on a down interface");
    assert_eq!(err.kind, LinkErrorKind::InterfaceDown, "{err}");
    let err = lan
        .open(0, LiveOptions::default())
        .expect_err("open of a down interface");
    assert_eq!(err.kind, LinkErrorKind::InterfaceDown, "{err}");
    assert!(err.help.as_deref().unwrap_or("").contains("up"), "{err:?}");
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAP_VERSION_3: u32 = 0x2008_0522;
const CAP_NET_ADMIN: u32 = 12;
const CAP_NET_RAW: u32 = 13;

/// Drops capabilities from the calling thread's effective set.
fn drop_caps(caps: &[u32]) {
    let mut hdr = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget/capset with a v3 header and two data structs; they
    // affect this thread only.
    unsafe {
        assert_eq!(
            libc::syscall(libc::SYS_capget, &mut hdr, data.as_mut_ptr()),
            0
        );
        for &c in caps {
            data[0].effective &= !(1 << c);
        }
        assert_eq!(libc::syscall(libc::SYS_capset, &mut hdr, data.as_ptr()), 0);
    }
}

/// Without CAP_NET_RAW (or CAP_NET_ADMIN) the error says what is missing
/// and how to grant it.
#[test]
fn missing_capabilities_are_explained() {
    let lan = Lan::new(1);
    let dev = lan.host(0).dev.clone();
    let (open, promisc) = lan.in_host(0, || {
        drop_caps(&[CAP_NET_RAW, CAP_NET_ADMIN]);
        (
            LiveLink::open(&dev, LiveOptions::default()),
            link::set_promisc(&dev, true),
        )
    });
    let err = open.expect_err("open without CAP_NET_RAW");
    assert_eq!(err.kind, LinkErrorKind::Permission);
    assert!(err.message.contains("CAP_NET_RAW"), "{err}");
    let help = err.help.clone().unwrap_or_default();
    assert!(help.contains("root"), "{help}");
    assert!(
        help.contains("setcap cap_net_raw,cap_net_admin+ep"),
        "{help}"
    );
    let err = promisc.expect_err("set_promisc without CAP_NET_ADMIN");
    assert_eq!(err.kind, LinkErrorKind::Permission);
    assert!(err.message.contains("CAP_NET_ADMIN"), "{err}");
}

/// recv honours its timeout.
#[test]
fn recv_times_out() {
    let lan = Lan::new(1);
    let mut rx = lan.link(0);
    let t = Instant::now();
    assert!(
        rx.recv(Some(Duration::from_millis(150)))
            .expect("recv")
            .is_none()
    );
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(150) && took < Duration::from_millis(600),
        "{took:?}"
    );
    assert!(rx.recv(Some(Duration::ZERO)).expect("recv").is_none());
}
