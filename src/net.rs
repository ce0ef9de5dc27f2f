//! Capture, send, and send-and-match, written once against the [`Link`]
//! trait so they work the same on a live interface and on a pcap replay.
//! Which reply answers which request is decided by each layer's `answers`
//! hook; this module only walks the layers.

use crate::link::{Direction, Link, LinkError, Stats};
use crate::packet::Packet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Why `reply` does not answer `sent`, or `Ok` if it does.
pub fn explain(reply: &Packet, sent: &Packet) -> Result<(), String> {
    let (rl, sl) = (reply.layers(), sent.layers());
    for (i, s) in sl.iter().enumerate() {
        if s.proto == &crate::layers::raw::RAW || s.proto == &crate::layers::padding::PADDING {
            return Ok(());
        }
        let Some(r) = rl.get(i) else {
            return Err(format!(
                "the reply has no layer {} ({} expected)",
                i, s.proto.name
            ));
        };
        // A layer that quotes the packet it answers (an ICMP error) decides alone.
        let quotes = reply.carries_quote(i);
        if r.proto != s.proto && !quotes {
            return Err(format!(
                "layer {i} is {}, the request's is {}",
                r.proto.name, s.proto.name
            ));
        }
        if !(r.proto.answers)(reply, i, sent, i) {
            return Err(format!(
                "{} does not answer the request's {}",
                r.proto.name, s.proto.name
            ));
        }
        if quotes {
            return Ok(());
        }
    }
    Ok(())
}

/// Whether `reply` answers `sent`.
pub fn answers(reply: &Packet, sent: &Packet) -> bool {
    explain(reply, sent).is_ok()
}

/// What to do with a captured packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep it (it counts toward `count`).
    Keep,
    /// Ignore it.
    Skip,
    /// Keep it and stop.
    Stop,
}

/// Options of a capture.
#[derive(Debug, Clone, Default)]
pub struct CaptureOptions {
    /// Stop after this many kept packets.
    pub count: Option<usize>,
    /// Stop after this long.
    pub timeout: Option<Duration>,
    /// Stop soon after this becomes true (set from a signal handler: the
    /// wait is cut into slices so the flag is seen within 100 ms).
    pub stop: Option<&'static std::sync::atomic::AtomicBool>,
}

/// A capture failed: the link, or the callback.
#[derive(Debug)]
pub enum CaptureError<E> {
    Link(LinkError),
    Callback(E),
}

/// Now, as (seconds, nanoseconds) since the epoch, on the clock kernel timestamps use.
pub fn now() -> (i64, u32) {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs() as i64, d.subsec_nanos())
}

/// The packet a received frame holds, with its time, interface and direction.
pub fn frame_packet(link: &dyn Link, f: crate::link::Frame) -> Packet {
    let mut p = Packet::dissect(f.data, link.linktype());
    p.time = Some((f.ts_sec, f.ts_nsec));
    p.set_orig_len(f.orig_len);
    p.iface = Some(link.name().to_string());
    p.direction = Some(f.direction);
    p
}

/// Receives packets, handing each to `on`, until `count` packets were kept,
/// the timeout passed, `on` said stop, or a replay ran out. Returns the
/// kernel's counters for the capture.
pub fn capture<E>(
    link: &mut dyn Link,
    opts: &CaptureOptions,
    mut on: impl FnMut(Packet) -> Result<Flow, E>,
) -> Result<Stats, CaptureError<E>> {
    let deadline = opts.timeout.map(|t| Instant::now() + t);
    let mut kept = 0usize;
    let mut progress =
        crate::progress::Progress::new("packets captured", opts.count.map(|c| c as u64));
    loop {
        progress.tick();
        if opts.count.is_some_and(|c| kept >= c) {
            break;
        }
        let mut wait = match deadline {
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    break;
                }
                Some(d - now)
            }
            None => None,
        };
        if let Some(stop) = opts.stop {
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                break;
            }
            let slice = Duration::from_millis(100);
            wait = Some(wait.map_or(slice, |w| w.min(slice)));
        }
        let Some(frame) = link.recv(wait).map_err(CaptureError::Link)? else {
            // Timeout, or a replay has nothing more.
            if link.exhausted() {
                break;
            }
            continue;
        };
        let p = frame_packet(link, frame);
        match on(p).map_err(CaptureError::Callback)? {
            Flow::Keep => {
                kept += 1;
                progress.inc(1);
            }
            Flow::Skip => {}
            Flow::Stop => break,
        }
    }
    link.stats().map_err(CaptureError::Link)
}

/// Options of a send-and-receive.
#[derive(Debug, Clone)]
pub struct SrOptions {
    pub timeout: Duration,
    /// Keep listening after every request was answered (to collect more than one answer).
    pub multi: bool,
}

impl Default for SrOptions {
    fn default() -> Self {
        SrOptions {
            timeout: Duration::from_secs(2),
            multi: false,
        }
    }
}

/// The outcome of a send-and-receive.
#[derive(Debug, Default)]
pub struct SrResult {
    /// (request as sent, with its send time; answer) in the order answers came.
    pub answered: Vec<(Packet, Packet)>,
    pub unanswered: Vec<Packet>,
    pub stats: Stats,
}

/// Sends `packets` on `link` (already receiving, so a fast answer is not
/// missed) and matches what comes back. `explain` hears, for every packet
/// received, why it did or did not match.
pub fn sr(
    link: &mut dyn Link,
    packets: Vec<Packet>,
    opts: &SrOptions,
    mut explain_to: Option<&mut dyn FnMut(String)>,
) -> Result<SrResult, LinkError> {
    let mut pending: Vec<Packet> = Vec::with_capacity(packets.len());
    for mut p in packets {
        p.finish();
        p.time = Some(link.now());
        link.send(p.raw_bytes())?;
        pending.push(p);
    }
    let mut res = SrResult::default();
    let deadline = Instant::now() + opts.timeout;
    let mut progress = crate::progress::Progress::new("answered", Some(pending.len() as u64));
    while opts.multi || !pending.is_empty() {
        progress.tick();
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let Some(frame) = link.recv(Some(deadline - now))? else {
            if link.exhausted() {
                break;
            }
            continue;
        };
        if frame.direction == Direction::Outgoing {
            continue;
        }
        let mut reply = frame_packet(link, frame);
        let summary = if explain_to.is_some() {
            reply.summary()
        } else {
            String::new()
        };
        let mut matched = None;
        for (i, s) in pending.iter().enumerate() {
            match explain(&reply, s) {
                Ok(()) => {
                    matched = Some(i);
                    break;
                }
                Err(why) => {
                    if let Some(log) = explain_to.as_mut() {
                        log(format!("no match: {summary}: {why}"));
                    }
                }
            }
        }
        if let Some(i) = matched {
            if let Some(log) = explain_to.as_mut() {
                log(format!("answer: {summary}"));
            }
            progress.inc(1);
            let s = if opts.multi {
                pending[i].clone()
            } else {
                pending.remove(i)
            };
            res.answered.push((s, reply));
        }
    }
    if opts.multi {
        pending.retain(|s| {
            !res.answered
                .iter()
                .any(|(a, _)| a.raw_bytes() == s.raw_bytes())
        });
    }
    res.unanswered = pending;
    res.stats = link.stats()?;
    Ok(res)
}

/// The interface holding the default route in this network namespace
/// (from /proc/net/route), else the first interface that is up and not loopback.
pub fn default_iface() -> Option<String> {
    if let Ok(text) = std::fs::read_to_string("/proc/net/route") {
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() > 7 && cols[1] == "00000000" && cols[7] == "00000000" {
                return Some(cols[0].to_string());
            }
        }
    }
    crate::link::interfaces()
        .ok()?
        .into_iter()
        .find(|i| i.up && !i.loopback)
        .map(|i| i.name)
}

/// The interface and next hop the kernel would use for `dst` (longest
/// prefix match over /proc/net/route); the next hop is `dst` itself on a
/// directly connected network.
pub fn route(dst: std::net::Ipv4Addr) -> Option<(String, std::net::Ipv4Addr)> {
    let text = std::fs::read_to_string("/proc/net/route").ok()?;
    let d = u32::from(dst);
    let mut best: Option<(u32, String, std::net::Ipv4Addr)> = None;
    for line in text.lines().skip(1) {
        let c: Vec<&str> = line.split_whitespace().collect();
        if c.len() < 8 {
            continue;
        }
        // /proc/net/route holds addresses in host byte order, printed in hex.
        // The kernel prints each address's bytes as one native-endian number.
        let parse = |s: &str| {
            u32::from_str_radix(s, 16)
                .ok()
                .map(|v| u32::from_be_bytes(v.to_ne_bytes()))
        };
        let (Some(net), Some(gw), Some(mask)) = (parse(c[1]), parse(c[2]), parse(c[7])) else {
            continue;
        };
        if d & mask == net
            && best
                .as_ref()
                .is_none_or(|(m, _, _)| mask.count_ones() > m.count_ones())
        {
            let hop = if gw == 0 {
                dst
            } else {
                std::net::Ipv4Addr::from(gw)
            };
            best = Some((mask, c[0].to_string(), hop));
        }
    }
    best.map(|(_, i, h)| (i, h))
}

/// An ARP who-has for `target`, from (`mac`, `ip`), to the broadcast address.
pub fn arp_request(mac: [u8; 6], ip: std::net::Ipv4Addr, target: std::net::Ipv4Addr) -> Packet {
    crate::layers::arp::who_has(mac, ip, target)
}

/// Sends an IPv4 packet (header included) through the kernel's routing, on
/// a raw IP socket; a zero source address is filled in by the kernel.
pub fn send_l3(ip_packet: &[u8]) -> Result<(), LinkError> {
    use crate::link::LinkErrorKind;
    if ip_packet.len() < 20 || ip_packet[0] >> 4 != 4 {
        return Err(LinkError::new(
            LinkErrorKind::Invalid,
            "send() takes an IPv4 packet (no Ethernet layer)",
        )
        .with_help("use sendp() for frames with an Ethernet header"));
    }
    let dst = [ip_packet[16], ip_packet[17], ip_packet[18], ip_packet[19]];
    // SAFETY: plain socket calls on a descriptor we own and close.
    unsafe {
        let fd = libc::socket(
            libc::AF_INET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::IPPROTO_RAW,
        );
        if fd < 0 {
            let e = std::io::Error::last_os_error();
            return Err(LinkError::new(LinkErrorKind::Permission, format!("cannot open a raw IP socket: {e}"))
                .with_help("sending raw packets needs root or CAP_NET_RAW: setcap cap_net_raw,cap_net_admin+ep $(which pktscript)"));
        }
        let mut sa: libc::sockaddr_in = std::mem::zeroed();
        sa.sin_family = libc::AF_INET as libc::sa_family_t;
        sa.sin_addr.s_addr = u32::from_ne_bytes(dst);
        let n = libc::sendto(
            fd,
            ip_packet.as_ptr().cast(),
            ip_packet.len(),
            0,
            (&sa as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        let err = std::io::Error::last_os_error();
        libc::close(fd);
        if n < 0 {
            return Err(LinkError::new(
                LinkErrorKind::Io,
                format!("send to {}: {err}", std::net::Ipv4Addr::from(dst)),
            ));
        }
    }
    Ok(())
}
