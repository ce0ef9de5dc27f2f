//! The link layer: sending frames and receiving them with their kernel
//! timestamp and direction.
//!
//! [`Link`] is the one abstraction that capture, send and expect are written
//! against. It has two implementations:
//!
//! - [`afpacket::LiveLink`]: a raw `AF_PACKET` socket bound to one interface
//!   (kernel timestamps, packet direction, classic BPF filters, kernel drop
//!   counts, VLAN tags put back into the bytes);
//! - [`replay::ReplayLink`]: frames from a pcap file or a list, for tests;
//!   what is sent is recorded.
//!
//! Also here: the interface list ([`interfaces`], [`interface`]) with
//! IPv4 and IPv6 addresses ([`ipv6_addrs`]), the interface-wide
//! promiscuous switch ([`set_promisc`]), and the kernel's neighbour table
//! ([`neigh`]).

pub mod afpacket;
pub mod neigh;
pub mod replay;

pub use crate::packet::Direction;
pub use afpacket::{LiveLink, LiveOptions};
pub use replay::ReplayLink;

use crate::packet::Packet;
use crate::pcap::Record;
use std::ffi::{CStr, CString};
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// One frame received from (or sent on) a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The bytes captured (at most the snapshot length).
    pub data: Vec<u8>,
    /// Timestamp: seconds since the epoch.
    pub ts_sec: i64,
    /// Timestamp: nanoseconds within the second.
    pub ts_nsec: u32,
    /// Whether the frame came in or went out on the interface.
    pub direction: Direction,
    /// Length of the frame on the wire (at least `data.len()` unless edited).
    pub orig_len: u32,
}

impl Frame {
    /// A frame of `data`, stamped now, with `orig_len` its length.
    pub fn new(data: Vec<u8>, direction: Direction) -> Frame {
        let (ts_sec, ts_nsec) = now();
        let orig_len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        Frame {
            data,
            ts_sec,
            ts_nsec,
            direction,
            orig_len,
        }
    }

    /// An incoming frame from a capture file record (pcap keeps no direction).
    pub fn from_record(rec: Record) -> Frame {
        Frame {
            data: rec.data,
            ts_sec: rec.ts_sec,
            ts_nsec: rec.ts_nsec,
            direction: Direction::Incoming,
            orig_len: rec.orig_len,
        }
    }

    /// A capture file record of this frame, on a link of type `linktype`.
    pub fn to_record(&self, linktype: u32) -> Record {
        Record {
            data: self.data.clone(),
            ts_sec: self.ts_sec,
            ts_nsec: self.ts_nsec,
            orig_len: self.orig_len,
            linktype,
            raw: Default::default(),
        }
    }

    /// The frame dissected, with its time, direction and wire length.
    pub fn to_packet(&self, linktype: u32) -> Packet {
        let mut p = Packet::dissect(self.data.clone(), linktype);
        p.time = Some((self.ts_sec, self.ts_nsec));
        p.direction = Some(self.direction);
        p.set_orig_len(self.orig_len);
        p
    }
}

/// The current time as (seconds, nanoseconds) since the epoch.
pub(crate) fn now() -> (i64, u32) {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_nanos(),
        ),
        Err(_) => (0, 0),
    }
}

/// Frame counts of a link since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames the link accepted for reception (after its filter).
    pub received: u64,
    /// Frames the kernel dropped because the receive buffer was full.
    pub dropped: u64,
}

/// A network link that sends frames and receives them.
///
/// `send` and `recv` may be used from the same thread in any order; a
/// receiving link only sees frames that arrived after it was opened.
pub trait Link {
    /// The interface name.
    fn name(&self) -> &str;

    /// pcap link type of the frames (1 = Ethernet).
    fn linktype(&self) -> u32;

    /// Sends one frame, link header included.
    fn send(&mut self, frame: &[u8]) -> Result<(), LinkError>;

    /// Sends frames in order; returns how many were sent (all of them,
    /// unless an error is returned).
    fn send_batch(&mut self, frames: &[&[u8]]) -> Result<usize, LinkError>;

    /// The next frame, waiting at most `timeout` (`None`: without limit).
    /// `Ok(None)` when the time is up (or, replaying, when no frame is left).
    fn recv(&mut self, timeout: Option<Duration>) -> Result<Option<Frame>, LinkError>;

    /// Totals since the link was opened (the kernel's counters are read and
    /// added up; call after a capture to learn about drops).
    fn stats(&mut self) -> Result<Stats, LinkError>;

    /// Also deliver the frames this host sends (by any program) on the
    /// interface, with [`Direction::Outgoing`]. Off by default: only
    /// incoming frames are delivered.
    fn set_outgoing(&mut self, yes: bool);

    /// Lets only frames `program` (classic BPF) accepts through, or all with
    /// `None`. A live link runs it in the kernel; others may ignore it
    /// (callers also filter what they receive).
    fn set_filter(&mut self, program: Option<&[libc::sock_filter]>) -> Result<(), LinkError> {
        let _ = program;
        Ok(())
    }

    /// Whether nothing more can ever arrive (a replay that ran out).
    fn exhausted(&self) -> bool {
        false
    }

    /// The time to stamp a frame sent now with, on the clock of received
    /// frames: the wall clock for a live link; for a replay, the recorded
    /// time of the next frame to come, so round trips stay meaningful.
    fn now(&self) -> (i64, u32) {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        (d.as_secs() as i64, d.subsec_nanos())
    }
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// What went wrong on a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkErrorKind {
    /// The process lacks a capability (CAP_NET_RAW or CAP_NET_ADMIN).
    Permission,
    /// No interface has the name given.
    NoSuchInterface,
    /// The interface is down (sending needs it up).
    InterfaceDown,
    /// The frame is larger than the interface accepts.
    FrameTooLarge,
    /// The kernel refused the frame or an option.
    Invalid,
    /// Raw packet sockets are not available here.
    Unsupported,
    /// Reading frames to replay failed.
    Replay,
    /// Another error from the operating system.
    Io,
}

/// An error from a link: one line for people, a kind for programs, and
/// usually a hint on what to do (shown by miette as help).
#[derive(Debug)]
pub struct LinkError {
    pub kind: LinkErrorKind,
    pub message: String,
    pub help: Option<String>,
    /// The operating system's error, when there is one.
    pub source: Option<io::Error>,
}

impl LinkError {
    pub fn new(kind: LinkErrorKind, message: impl Into<String>) -> LinkError {
        LinkError {
            kind,
            message: message.into(),
            help: None,
            source: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> LinkError {
        self.help = Some(help.into());
        self
    }

    /// An error for `what` failing with the OS error `err` (its text is
    /// appended to the message).
    pub(crate) fn os(kind: LinkErrorKind, what: impl fmt::Display, err: io::Error) -> LinkError {
        LinkError {
            kind,
            message: format!("{what}: {err}"),
            help: None,
            source: Some(err),
        }
    }

    /// The error for a missing capability, with how to grant it.
    pub(crate) fn permission(what: impl fmt::Display, cap: &str, err: io::Error) -> LinkError {
        let exe = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "/path/to/pktscript".to_string());
        LinkError::os(
            LinkErrorKind::Permission,
            format!("{what} needs the {cap} capability, which this process lacks"),
            err,
        )
        .with_help(format!(
            "run as root (sudo), or grant the capabilities to the program once: \
             sudo setcap cap_net_raw,cap_net_admin+ep {exe}"
        ))
    }

    /// The error for an unknown interface, listing those that exist.
    pub(crate) fn no_such_interface(name: &str) -> LinkError {
        let help = match interfaces() {
            Ok(list) if list.is_empty() => "this network namespace has no interfaces".to_string(),
            Ok(list) => {
                let names: Vec<&str> = list.iter().map(|i| i.name.as_str()).collect();
                format!("interfaces here: {}", names.join(", "))
            }
            Err(e) => format!("the interfaces could not be listed: {}", e.message),
        };
        LinkError::new(
            LinkErrorKind::NoSuchInterface,
            format!("no interface named \"{name}\""),
        )
        .with_help(help)
    }

    fn code_str(&self) -> &'static str {
        match self.kind {
            LinkErrorKind::Permission => "link::permission",
            LinkErrorKind::NoSuchInterface => "link::no_such_interface",
            LinkErrorKind::InterfaceDown => "link::interface_down",
            LinkErrorKind::FrameTooLarge => "link::frame_too_large",
            LinkErrorKind::Invalid => "link::invalid",
            LinkErrorKind::Unsupported => "link::unsupported",
            LinkErrorKind::Replay => "link::replay",
            LinkErrorKind::Io => "link::io",
        }
    }
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for LinkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl miette::Diagnostic for LinkError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code_str()))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display + 'a>)
    }
}

// ---------------------------------------------------------------------------
// Interfaces
// ---------------------------------------------------------------------------

/// An interface of this network namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfaceInfo {
    pub name: String,
    pub index: u32,
    /// Hardware address, for 6-byte (Ethernet-like) addresses.
    pub mac: Option<[u8; 6]>,
    /// IPv4 addresses with their prefix length.
    pub ipv4: Vec<(Ipv4Addr, u8)>,
    /// IPv6 addresses with their prefix length (from /proc/net/if_inet6),
    /// those still in duplicate address detection or found duplicate left out.
    pub ipv6: Vec<(Ipv6Addr, u8)>,
    /// Administratively up.
    pub up: bool,
    /// Promiscuous mode switched on for the whole interface (`ip link set
    /// promisc on`, [`set_promisc`]). Sockets that asked for promiscuous
    /// mode (as a capture with `promisc: true`) do not show here: the
    /// kernel only counts them (`ip -d link` shows the count as
    /// "promiscuity").
    pub promisc: bool,
    pub loopback: bool,
}

/// Frees the list from getifaddrs.
struct IfAddrs(*mut libc::ifaddrs);

impl Drop for IfAddrs {
    fn drop(&mut self) {
        // SAFETY: the pointer came from a successful getifaddrs and is freed once.
        unsafe { libc::freeifaddrs(self.0) }
    }
}

/// The interfaces of the calling thread's network namespace, by index.
pub fn interfaces() -> Result<Vec<IfaceInfo>, LinkError> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs writes a list head into `head`.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(LinkError::os(
            LinkErrorKind::Io,
            "cannot list the interfaces",
            io::Error::last_os_error(),
        ));
    }
    let list = IfAddrs(head);
    let mut out: Vec<IfaceInfo> = Vec::new();
    let mut cur = list.0;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list, valid until `list` is dropped.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let mut name = unsafe { CStr::from_ptr(ifa.ifa_name) }
            .to_string_lossy()
            .into_owned();
        let family = if ifa.ifa_addr.is_null() {
            None
        } else {
            // SAFETY: ifa_addr points to a sockaddr of at least its family field.
            Some(i32::from(unsafe { (*ifa.ifa_addr).sa_family }))
        };
        // IPv4 address labels ("eth0:1") belong to their interface.
        if family == Some(libc::AF_INET)
            && !out.iter().any(|i| i.name == name)
            && let Some((base, _)) = name.split_once(':')
        {
            name = base.to_string();
        }
        let pos = match out.iter().position(|i| i.name == name) {
            Some(p) => p,
            None => {
                out.push(IfaceInfo {
                    name,
                    index: 0,
                    mac: None,
                    ipv4: Vec::new(),
                    ipv6: Vec::new(),
                    up: false,
                    promisc: false,
                    loopback: false,
                });
                out.len() - 1
            }
        };
        let info = &mut out[pos];
        let flags = ifa.ifa_flags as i32;
        if family == Some(libc::AF_PACKET) || family.is_none() {
            info.up = flags & libc::IFF_UP != 0;
            info.promisc = flags & libc::IFF_PROMISC != 0;
            info.loopback = flags & libc::IFF_LOOPBACK != 0;
        }
        match family {
            Some(libc::AF_PACKET) => {
                // SAFETY: AF_PACKET entries carry a sockaddr_ll.
                let ll =
                    unsafe { std::ptr::read_unaligned(ifa.ifa_addr as *const libc::sockaddr_ll) };
                info.index = u32::try_from(ll.sll_ifindex).unwrap_or(0);
                if ll.sll_halen == 6 {
                    let mut mac = [0u8; 6];
                    mac.copy_from_slice(&ll.sll_addr[..6]);
                    info.mac = Some(mac);
                }
            }
            Some(libc::AF_INET) => {
                // SAFETY: AF_INET entries carry a sockaddr_in.
                let sin =
                    unsafe { std::ptr::read_unaligned(ifa.ifa_addr as *const libc::sockaddr_in) };
                let addr = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                let prefix = if ifa.ifa_netmask.is_null() {
                    32
                } else {
                    // SAFETY: the netmask of an AF_INET entry is a sockaddr_in.
                    let m = unsafe {
                        std::ptr::read_unaligned(ifa.ifa_netmask as *const libc::sockaddr_in)
                    };
                    u32::from_be(m.sin_addr.s_addr).count_ones() as u8
                };
                info.ipv4.push((addr, prefix));
            }
            _ => {}
        }
    }
    drop(list);
    let v6 = ipv6_addrs();
    for info in &mut out {
        if info.index == 0 {
            info.index = ifindex(&info.name).unwrap_or(0);
        }
        info.ipv6 = v6
            .iter()
            .filter(|a| a.index == info.index && a.usable())
            .map(|a| (a.addr, a.prefix))
            .collect();
    }
    out.sort_by_key(|i| i.index);
    Ok(out)
}

/// A file of the calling thread's network namespace under /proc/net
/// (/proc/net itself follows the namespace of the process's main thread,
/// /proc/thread-self/net that of the thread asking).
pub fn read_proc_net(name: &str) -> io::Result<String> {
    std::fs::read_to_string(format!("/proc/thread-self/net/{name}"))
        .or_else(|_| std::fs::read_to_string(format!("/proc/net/{name}")))
}

/// One IPv6 address of an interface, as /proc/net/if_inet6 lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv6Entry {
    pub addr: Ipv6Addr,
    /// The interface's index.
    pub index: u32,
    pub prefix: u8,
    /// The kernel's scope: 0 global, 0x20 link, 0x10 host (loopback), ...
    pub scope: u8,
    /// IFA_F_* flags (0x40 tentative, 0x08 duplicate, 0x20 deprecated, ...).
    pub flags: u32,
    pub iface: String,
}

impl Ipv6Entry {
    /// Still in duplicate address detection (not yet usable).
    pub const TENTATIVE: u32 = 0x40;
    /// Found in use by another host.
    pub const DADFAILED: u32 = 0x08;
    /// Not to be chosen as a source for new communication.
    pub const DEPRECATED: u32 = 0x20;

    /// Whether the address can be used as a source now.
    pub fn usable(&self) -> bool {
        self.flags & (Self::TENTATIVE | Self::DADFAILED) == 0
    }

    /// Whether it is a link-local address (fe80::/10).
    pub fn link_local(&self) -> bool {
        self.addr.segments()[0] & 0xffc0 == 0xfe80
    }
}

/// Every IPv6 address of this network namespace (/proc/net/if_inet6);
/// empty when IPv6 is off or absent.
pub fn ipv6_addrs() -> Vec<Ipv6Entry> {
    read_proc_net("if_inet6")
        .map(|t| t.lines().filter_map(parse_if_inet6).collect())
        .unwrap_or_default()
}

/// 32 hex digits as an IPv6 address (as /proc/net prints them).
pub fn parse_hex_ipv6(s: &str) -> Option<Ipv6Addr> {
    if s.len() != 32 {
        return None;
    }
    u128::from_str_radix(s, 16).ok().map(Ipv6Addr::from)
}

/// A line of /proc/net/if_inet6: address, index, prefix length, scope,
/// flags (hex), name.
fn parse_if_inet6(line: &str) -> Option<Ipv6Entry> {
    let c: Vec<&str> = line.split_whitespace().collect();
    if c.len() < 6 {
        return None;
    }
    Some(Ipv6Entry {
        addr: parse_hex_ipv6(c[0])?,
        index: u32::from_str_radix(c[1], 16).ok()?,
        prefix: u8::from_str_radix(c[2], 16).ok()?,
        scope: u8::from_str_radix(c[3], 16).ok()?,
        flags: u32::from_str_radix(c[4], 16).ok()?,
        iface: c[5].to_string(),
    })
}

/// The interface named `name`; the error lists the interfaces that exist.
pub fn interface(name: &str) -> Result<IfaceInfo, LinkError> {
    interfaces()?
        .into_iter()
        .find(|i| i.name == name)
        .ok_or_else(|| LinkError::no_such_interface(name))
}

/// The index of interface `name`, if it exists.
pub(crate) fn ifindex(name: &str) -> Option<u32> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ {
        return None;
    }
    let c = CString::new(name).ok()?;
    // SAFETY: `c` is a valid NUL-terminated string.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (idx != 0).then_some(idx)
}

/// An `ifreq` naming `name` (checked by [`ifindex`] first).
fn ifreq_for(name: &str) -> Result<libc::ifreq, LinkError> {
    if ifindex(name).is_none() {
        return Err(LinkError::no_such_interface(name));
    }
    // SAFETY: ifreq is plain data; all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *d = s as libc::c_char;
    }
    Ok(req)
}

/// Switches promiscuous mode of the whole interface on or off, like `ip
/// link set dev IFACE promisc on|off` (needs CAP_NET_ADMIN). This lasts
/// until switched off; a capture that only needs promiscuous mode while it
/// runs should ask its [`LiveLink`] for it instead.
pub fn set_promisc(iface: &str, on: bool) -> Result<(), LinkError> {
    let mut req = ifreq_for(iface)?;
    // SAFETY: plain socket call.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(LinkError::os(
            LinkErrorKind::Io,
            "cannot open a socket to change interface flags",
            io::Error::last_os_error(),
        ));
    }
    // SAFETY: `fd` is a new descriptor that nothing else owns.
    let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
    // SAFETY: SIOCGIFFLAGS reads the flags into `req`, which names the interface.
    if unsafe { libc::ioctl(raw, libc::SIOCGIFFLAGS, &mut req) } < 0 {
        let e = io::Error::last_os_error();
        return Err(flags_error(iface, "read the flags of", e));
    }
    // SAFETY: SIOCGIFFLAGS filled the flags member of the union.
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    let promisc = libc::IFF_PROMISC as libc::c_short;
    let new = if on {
        flags | promisc
    } else {
        flags & !promisc
    };
    if new == flags {
        return Ok(());
    }
    req.ifr_ifru.ifru_flags = new;
    // SAFETY: SIOCSIFFLAGS reads `req`.
    if unsafe { libc::ioctl(raw, libc::SIOCSIFFLAGS, &req) } < 0 {
        let e = io::Error::last_os_error();
        return Err(flags_error(iface, "change the flags of", e));
    }
    Ok(())
}

fn flags_error(iface: &str, what: &str, e: io::Error) -> LinkError {
    match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => LinkError::permission(
            format_args!("switching promiscuous mode of \"{iface}\""),
            "CAP_NET_ADMIN",
            e,
        ),
        Some(libc::ENODEV) | Some(libc::ENXIO) => LinkError::no_such_interface(iface),
        _ => LinkError::os(
            LinkErrorKind::Io,
            format_args!("cannot {what} \"{iface}\""),
            e,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_inet6_lines_parse_and_junk_is_skipped() {
        let e = parse_if_inet6("fd000000000000000000000000000001 03 40 00 c2     eth0").unwrap();
        assert_eq!(e.addr, "fd00::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(
            (e.index, e.prefix, e.scope, e.iface.as_str()),
            (3, 64, 0, "eth0")
        );
        assert!(!e.usable(), "tentative (0x40)");
        let e = parse_if_inet6("fe800000000000000000000000000001 03 40 20 80     eth0").unwrap();
        assert!(e.usable() && e.link_local());
        for bad in [
            "",
            "fd00 03 40 00 80 eth0",
            "zz000000000000000000000000000001 03 40 00 80 eth0",
        ] {
            assert_eq!(parse_if_inet6(bad), None, "{bad:?}");
        }
    }
}
