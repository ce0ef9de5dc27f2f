//! Capture, send, and send-and-match, written once against the [`Link`]
//! trait so they work the same on a live interface and on a pcap replay.
//! Which reply answers which request is decided by each layer's `answers`
//! hook; this module only walks the layers. Also here: routes of both
//! families from the kernel's tables, source address choice, and sending
//! IPv4 or IPv6 packets through the kernel's routing (`send_l3`).

use crate::link::{Direction, Link, LinkError, Stats};
use crate::packet::Packet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Why `reply` does not answer `sent`, or `Ok` if it does. Layers are
/// compared in order, each by its `answers` hook; IP extension headers are
/// the network layer's business (a reply need not carry the request's
/// Hop-by-Hop or Destination options), so both sides look through them.
pub fn explain(reply: &Packet, sent: &Packet) -> Result<(), String> {
    let (rl, sl) = (reply.layers(), sent.layers());
    let (mut i, mut j) = (0, 0);
    loop {
        while sl.get(i).is_some_and(|l| l.proto.ext.is_some()) {
            i += 1;
        }
        while rl.get(j).is_some_and(|l| l.proto.ext.is_some()) {
            j += 1;
        }
        let Some(s) = sl.get(i) else {
            return Ok(());
        };
        if s.proto == &crate::layers::raw::RAW
            || s.proto == &crate::layers::padding::PADDING
            || s.proto.option
        {
            return Ok(());
        }
        let Some(r) = rl.get(j) else {
            return Err(format!(
                "the reply has no layer {j} ({} expected)",
                s.proto.name
            ));
        };
        // A layer that quotes the packet it answers (an ICMP error) decides alone.
        let quotes = reply.carries_quote(j);
        if r.proto != s.proto && !quotes {
            return Err(format!(
                "layer {j} is {}, the request's is {}",
                r.proto.name, s.proto.name
            ));
        }
        if !(r.proto.answers)(reply, j, sent, i) {
            return Err(format!(
                "{} does not answer the request's {}",
                r.proto.name, s.proto.name
            ));
        }
        if quotes {
            return Ok(());
        }
        i += 1;
        j += 1;
    }
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
    if let Ok(text) = crate::link::read_proc_net("route") {
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
pub fn route(dst: Ipv4Addr) -> Option<(String, Ipv4Addr)> {
    route4(dst, None)
}

/// The interface and next hop for `dst`, of either family (see [`route`]
/// and [`route6`]); with `iface`, only routes over that interface count.
pub fn route_ip(dst: IpAddr, iface: Option<&str>) -> Option<(String, IpAddr)> {
    match dst {
        IpAddr::V4(d) => route4(d, iface).map(|(i, h)| (i, IpAddr::V4(h))),
        IpAddr::V6(d) => route6(d, iface).map(|(i, h)| (i, IpAddr::V6(h))),
    }
}

fn route4(dst: Ipv4Addr, iface: Option<&str>) -> Option<(String, Ipv4Addr)> {
    let text = crate::link::read_proc_net("route").ok()?;
    let d = u32::from(dst);
    let mut best: Option<(u32, String, Ipv4Addr)> = None;
    for line in text.lines().skip(1) {
        let c: Vec<&str> = line.split_whitespace().collect();
        if c.len() < 8 || iface.is_some_and(|i| i != c[0]) {
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
            let hop = if gw == 0 { dst } else { Ipv4Addr::from(gw) };
            best = Some((mask, c[0].to_string(), hop));
        }
    }
    best.map(|(_, i, h)| (i, h))
}

/// The interface and next hop the kernel would use for `dst`, from its
/// IPv6 routes (/proc/net/ipv6_route, every table): the longest prefix,
/// then the lowest metric; rejecting routes (unreachable, prohibit) are
/// left out. The next hop is the gateway, or `dst` itself on link. With
/// `iface`, only routes over that interface count (a link-local `dst` is
/// on every interface).
pub fn route6(dst: Ipv6Addr, iface: Option<&str>) -> Option<(String, Ipv6Addr)> {
    route6_in(&crate::link::read_proc_net("ipv6_route").ok()?, dst, iface)
}

/// [`route6`] over the text of /proc/net/ipv6_route.
fn route6_in(text: &str, dst: Ipv6Addr, iface: Option<&str>) -> Option<(String, Ipv6Addr)> {
    const RTF_REJECT: u32 = 0x0200;
    let d = u128::from(dst);
    // (prefix length, metric, interface, next hop)
    let mut best: Option<(u8, u32, String, Ipv6Addr)> = None;
    for line in text.lines() {
        let c: Vec<&str> = line.split_whitespace().collect();
        if c.len() < 10 || iface.is_some_and(|i| i != c[9]) {
            continue;
        }
        let (Some(net), Ok(plen), Some(gw), Ok(metric), Ok(flags)) = (
            crate::link::parse_hex_ipv6(c[0]),
            u8::from_str_radix(c[1], 16),
            crate::link::parse_hex_ipv6(c[4]),
            u32::from_str_radix(c[5], 16),
            u32::from_str_radix(c[8], 16),
        ) else {
            continue;
        };
        if plen > 128 || flags & RTF_REJECT != 0 {
            continue;
        }
        let mask = u128::MAX.checked_shl(128 - u32::from(plen)).unwrap_or(0);
        if d & mask != u128::from(net) & mask {
            continue;
        }
        if best
            .as_ref()
            .is_none_or(|(p, m, _, _)| plen > *p || (plen == *p && metric < *m))
        {
            let hop = if gw.is_unspecified() { dst } else { gw };
            best = Some((plen, metric, c[9].to_string(), hop));
        }
    }
    best.map(|(_, _, i, h)| (i, h))
}

/// The IPv6 address of interface `iface` to send to `dst` from (as
/// /proc/net/if_inet6 lists them): a link-local one for a link-local or
/// link-scope multicast `dst`, else a wider one if there is any; the one
/// sharing the longest prefix with `dst` first, deprecated ones last.
/// Addresses still in duplicate address detection are not used.
pub fn source6(iface: &str, dst: Ipv6Addr) -> Option<Ipv6Addr> {
    let local = dst.segments()[0] & 0xffc0 == 0xfe80
        || (dst.segments()[0] & 0xff0f) == 0xff02
        || (dst.segments()[0] & 0xff0f) == 0xff01;
    let common = |a: Ipv6Addr| (u128::from(a) ^ u128::from(dst)).leading_zeros();
    crate::link::ipv6_addrs()
        .into_iter()
        .filter(|a| a.iface == iface && a.usable())
        .max_by_key(|a| {
            (
                a.link_local() == local,
                a.flags & crate::link::Ipv6Entry::DEPRECATED == 0,
                common(a.addr),
            )
        })
        .map(|a| a.addr)
}

/// An ARP who-has for `target`, from (`mac`, `ip`), to the broadcast address.
pub fn arp_request(mac: [u8; 6], ip: Ipv4Addr, target: Ipv4Addr) -> Packet {
    crate::layers::arp::who_has(mac, ip, target)
}

/// Sends `request` on `link` and waits up to `timeout` for a frame from
/// which `answer` reads a link-layer address; the request is sent again
/// every second meanwhile (as the kernel does). None when nothing answered.
pub fn solicit(
    link: &mut dyn Link,
    request: &mut Packet,
    answer: &dyn Fn(&Packet) -> Option<[u8; 6]>,
    timeout: Duration,
) -> Result<Option<[u8; 6]>, LinkError> {
    const RETRY: Duration = Duration::from_secs(1);
    let start = Instant::now();
    let deadline = start + timeout;
    let mut next_send = start;
    loop {
        let now = Instant::now();
        if now >= next_send {
            link.send(request.bytes())?;
            next_send = now + RETRY;
        }
        if now >= deadline {
            return Ok(None);
        }
        let wait = deadline.min(next_send).saturating_duration_since(now);
        let Some(frame) = link.recv(Some(wait))? else {
            if link.exhausted() {
                return Ok(None);
            }
            continue;
        };
        if frame.direction == Direction::Outgoing {
            continue;
        }
        let p = frame_packet(link, frame);
        if let Some(mac) = answer(&p) {
            return Ok(Some(mac));
        }
    }
}

/// Sends a packet that starts with a network layer (IPv4 or IPv6, as its
/// capability's addresses tell) through the kernel's routing, on a raw
/// socket of that family. A zero IPv4 source is filled in by the kernel;
/// an unspecified IPv6 source (`::`, or `::1` to another host, see
/// [`needs_source`]) is filled in here with the address the route's
/// interface would use (the checksums follow).
pub fn send_l3(p: &mut Packet) -> Result<(), LinkError> {
    use crate::link::LinkErrorKind;
    p.finish();
    let Some((src, dst)) = p.addrs_at(0) else {
        let first = p.layer_names().first().copied().unwrap_or("nothing");
        return Err(LinkError::new(
            LinkErrorKind::Invalid,
            format!(
                "send() takes a packet that starts with a network layer (IPv4, IPv6), not {first}"
            ),
        )
        .with_help("use sendp() for frames with a link-layer header (Ether() / ...)"));
    };
    match (src, dst) {
        (_, IpAddr::V4(d)) => send_raw(p.bytes(), IpAddr::V4(d), 0),
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let (iface, _) = route6(d, None).ok_or_else(|| {
                LinkError::new(LinkErrorKind::Invalid, format!("no route to {d} in this network namespace"))
                    .with_help("ip -6 route shows the routes; an address on a local network needs an interface with an IPv6 address there")
            })?;
            if needs_source(IpAddr::V6(s), IpAddr::V6(d)) {
                let mine = source6(&iface, d).ok_or_else(|| {
                    LinkError::new(
                        LinkErrorKind::Invalid,
                        format!("{iface} has no IPv6 address to send to {d} from"),
                    )
                    .with_help(format!("give the packet a source address, or add one: ip -6 addr add ADDR/64 dev {iface}"))
                })?;
                set_src(p, IpAddr::V6(mine))?;
            }
            let scope = crate::link::ifindex(&iface).unwrap_or(0);
            send_raw(p.bytes(), IpAddr::V6(d), scope)
        }
        (IpAddr::V4(_), IpAddr::V6(_)) => Err(LinkError::new(
            LinkErrorKind::Invalid,
            "the packet's addresses are of two families",
        )),
    }
}

/// Whether a packet from `src` to `dst` needs its source filled in: it is
/// unspecified (0.0.0.0, ::), or it is the loopback address (IPv6()'s
/// default, as in Scapy) while `dst` is not, which no kernel would let out.
pub fn needs_source(src: IpAddr, dst: IpAddr) -> bool {
    src.is_unspecified() || (src.is_loopback() && !dst.is_loopback())
}

/// Sets the source address of the network layer at the start of `p`.
pub fn set_src(p: &mut Packet, src: IpAddr) -> Result<(), LinkError> {
    use crate::link::LinkErrorKind;
    let bad = |e: crate::layers::FieldError| LinkError::new(LinkErrorKind::Invalid, e.message);
    let fi = p.field_index(0, "src").map_err(bad)?;
    p.set(0, fi, &crate::layers::Input::Str(&src.to_string()))
        .map_err(bad)?;
    p.finish();
    Ok(())
}

/// Sends a whole IP packet (header included) to `dst` on a raw socket of
/// its family; `scope` is the interface index for IPv6 (link-local and
/// multicast destinations need it).
fn send_raw(packet: &[u8], dst: IpAddr, scope: u32) -> Result<(), LinkError> {
    use crate::link::LinkErrorKind;
    let family = match dst {
        IpAddr::V4(_) => libc::AF_INET,
        IpAddr::V6(_) => libc::AF_INET6,
    };
    // SAFETY: plain socket call.
    let fd = unsafe {
        libc::socket(
            family,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::IPPROTO_RAW,
        )
    };
    if fd < 0 {
        let e = std::io::Error::last_os_error();
        let what = if family == libc::AF_INET {
            "IPv4"
        } else {
            "IPv6"
        };
        return Err(LinkError::permission(
            format_args!("opening a raw {what} socket"),
            "CAP_NET_RAW",
            e,
        ));
    }
    // SAFETY: `fd` is a new descriptor that nothing else owns.
    let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
    let n = match dst {
        IpAddr::V4(d) => {
            // SAFETY: sockaddr_in is plain data; all zeroes is valid.
            let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
            sa.sin_family = libc::AF_INET as libc::sa_family_t;
            sa.sin_addr.s_addr = u32::from_ne_bytes(d.octets());
            // SAFETY: the buffer and address are valid for the lengths given.
            unsafe {
                libc::sendto(
                    raw,
                    packet.as_ptr().cast(),
                    packet.len(),
                    0,
                    (&sa as *const libc::sockaddr_in).cast(),
                    size_of::<libc::sockaddr_in>() as libc::socklen_t,
                )
            }
        }
        IpAddr::V6(d) => {
            // IPPROTO_RAW already implies the header is included; say so
            // anyway for kernels that want it asked.
            let on: libc::c_int = 1;
            // SAFETY: an int option of the size given.
            unsafe {
                libc::setsockopt(
                    raw,
                    libc::IPPROTO_IPV6,
                    libc::IPV6_HDRINCL,
                    (&on as *const libc::c_int).cast(),
                    size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
            // SAFETY: sockaddr_in6 is plain data; all zeroes is valid.
            let mut sa: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
            sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sa.sin6_addr.s6_addr = d.octets();
            let seg0 = d.segments()[0];
            if seg0 & 0xffc0 == 0xfe80 || (seg0 & 0xff00 == 0xff00 && seg0 & 0x000f <= 2) {
                sa.sin6_scope_id = scope;
            }
            // SAFETY: the buffer and address are valid for the lengths given.
            unsafe {
                libc::sendto(
                    raw,
                    packet.as_ptr().cast(),
                    packet.len(),
                    0,
                    (&sa as *const libc::sockaddr_in6).cast(),
                    size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                )
            }
        }
    };
    if n < 0 {
        let err = std::io::Error::last_os_error();
        let help = match err.raw_os_error() {
            Some(libc::EMSGSIZE) => "the packet is larger than the route's MTU",
            Some(libc::ENETUNREACH) | Some(libc::EHOSTUNREACH) => {
                "the kernel has no route there: ip route / ip -6 route show the routes"
            }
            Some(libc::EINVAL) => {
                "the kernel refused the header: check the version, lengths and addresses"
            }
            _ => "the kernel refused the packet",
        };
        return Err(
            LinkError::os(LinkErrorKind::Io, format!("send to {dst}"), err).with_help(help),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTES: &str = "\
fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
fd010000000000000000000000000000 40 00000000000000000000000000000000 00 fd000000000000000000000000000002 00000400 00000001 00000000 00000003     eth0
fd010000000000000000000000000000 40 00000000000000000000000000000000 00 fd000000000000000000000000000003 00000100 00000001 00000000 00000003     eth1
fd020000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth1
fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd0000000000000000000000000000fe 00000400 00000001 00000000 00000003     eth0
fd000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001     eth0
junk
fd0 zz
";

    fn r(dst: &str, iface: Option<&str>) -> Option<(String, String)> {
        route6_in(ROUTES, dst.parse().unwrap(), iface).map(|(i, h)| (i, h.to_string()))
    }

    #[test]
    fn ipv6_routes_longest_prefix_then_metric() {
        let s = |i: &str, h: &str| Some((i.to_string(), h.to_string()));
        // On link: the next hop is the destination itself.
        assert_eq!(r("fd00::2", None), s("eth0", "fd00::2"));
        // Through a gateway, the lower metric winning.
        assert_eq!(r("fd01::5", None), s("eth1", "fd00::3"));
        assert_eq!(r("fd01::5", Some("eth0")), s("eth0", "fd00::2"));
        // A rejecting route is no route; the default route takes over.
        assert_eq!(r("fd02::1", None), s("eth0", "fd00::fe"));
        assert_eq!(r("2001:db8::1", None), s("eth0", "fd00::fe"));
        // Link-local: on every interface; one can be named.
        assert_eq!(r("fe80::1", Some("eth0")), s("eth0", "fe80::1"));
        assert_eq!(r("fe80::1", Some("eth9")), None);
        // Our own address.
        assert_eq!(r("fd00::1", None), s("eth0", "fd00::1"));
        assert_eq!(route6_in("", "fd00::1".parse().unwrap(), None), None);
    }

    #[test]
    fn unspecified_and_loopback_sources_are_filled() {
        let a = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(needs_source(a("::"), a("fd00::2")));
        assert!(needs_source(a("::1"), a("fd00::2")));
        assert!(!needs_source(a("::1"), a("::1")));
        assert!(!needs_source(a("fd00::1"), a("fd00::2")));
        assert!(needs_source(a("0.0.0.0"), a("198.18.0.2")));
        assert!(!needs_source(a("198.18.0.1"), a("198.18.0.2")));
    }
}
