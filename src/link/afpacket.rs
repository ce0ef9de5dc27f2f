//! The live link: a raw `AF_PACKET` socket bound to one interface.
//!
//! - The socket is created with protocol 0, which receives nothing, and
//!   only starts receiving when bound to its interface: a capture sees the
//!   frames of that interface that arrive after [`LiveLink::open`], and no
//!   frames of other interfaces queued in between.
//! - Receive timestamps are the kernel's (`SO_TIMESTAMPNS`); the direction
//!   comes from the packet type in the source address (`PACKET_OUTGOING`).
//!   Outgoing frames are not delivered unless asked for
//!   ([`Link::set_outgoing`]); the kernel then does not even queue them
//!   (`PACKET_IGNORE_OUTGOING`).
//! - VLAN tags that the kernel took out of the frame (it always does on
//!   receive) are put back from `PACKET_AUXDATA`, so frames read as they
//!   were on the wire.
//! - Promiscuous mode is only switched on when asked, through a socket
//!   membership that ends with the socket.
//! - [`Link::stats`] reads `PACKET_STATISTICS` (which resets the kernel's
//!   counters) and keeps totals.

use super::{Frame, Link, LinkError, LinkErrorKind, Stats, now};
use crate::packet::{Direction, LINKTYPE_ETHERNET};
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// pcap link type for raw IP (no link header).
const LINKTYPE_RAW: u32 = 101;
/// pcap link type for 802.11 frames.
const LINKTYPE_IEEE802_11: u32 = 105;
/// pcap link type for 802.11 frames with a radiotap header.
const LINKTYPE_IEEE802_11_RADIOTAP: u32 = 127;
/// ARPHRD_RAWIP (not in every libc).
const ARPHRD_RAWIP: u16 = 519;

/// Frames per `sendmmsg` call.
const BATCH: usize = 1024;
/// How long sending may make no progress (the kernel reporting no buffer
/// space) before it is an error.
const STALL_LIMIT: Duration = Duration::from_secs(2);

/// How to open a [`LiveLink`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveOptions {
    /// Receive frames addressed to other hosts too, while the link is open.
    pub promisc: bool,
    /// Bytes kept of each frame (0: the default, 262144).
    pub snaplen: u32,
    /// Kernel receive buffer in bytes (0: the system default). The kernel
    /// allows twice this and charges each queued frame with its overhead:
    /// about 830 bytes for a minimum-size frame. Beyond
    /// `net.core.rmem_max` only with CAP_NET_ADMIN; without it the size is
    /// capped there (see [`LiveLink::receive_buffer`]).
    pub buffer_bytes: usize,
}

impl Default for LiveOptions {
    /// Not promiscuous, 262144-byte snapshots, a 64 MiB receive buffer
    /// (room for about 160,000 small frames that nobody reads yet; memory
    /// is only used by frames waiting to be read).
    fn default() -> Self {
        LiveOptions {
            promisc: false,
            snaplen: DEFAULT_SNAPLEN,
            buffer_bytes: 64 << 20,
        }
    }
}

const DEFAULT_SNAPLEN: u32 = 262_144;

/// A raw packet socket on one interface. See the [module](self) notes.
pub struct LiveLink {
    fd: OwnedFd,
    name: String,
    ifindex: u32,
    linktype: u32,
    mac: Option<[u8; 6]>,
    snaplen: usize,
    outgoing: bool,
    buf: Vec<u8>,
    totals: Stats,
    /// Frames the kernel counted as received that [`LiveLink::drain`]
    /// discarded since the last [`Link::stats`].
    discarded: u64,
}

impl std::fmt::Debug for LiveLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveLink")
            .field("fd", &self.fd)
            .field("name", &self.name)
            .field("ifindex", &self.ifindex)
            .field("linktype", &self.linktype)
            .field("snaplen", &self.snaplen)
            .field("outgoing", &self.outgoing)
            .field("totals", &self.totals)
            .finish_non_exhaustive()
    }
}

/// What one non-blocking receive gave.
enum Got {
    Frame(Frame),
    /// A frame that is not delivered (outgoing), or an interrupted call.
    Skipped,
    /// Nothing queued.
    Empty,
}

impl LiveLink {
    /// Opens a raw socket on `iface` (needs CAP_NET_RAW). An unknown name
    /// gives an error listing the interfaces that exist; an interface that
    /// is down gives [`LinkErrorKind::InterfaceDown`].
    pub fn open(iface: &str, opts: LiveOptions) -> Result<LiveLink, LinkError> {
        let ifindex = super::ifindex(iface).ok_or_else(|| LinkError::no_such_interface(iface))?;
        // Protocol 0: nothing is received until bind() names the protocol.
        // SAFETY: plain socket call.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            let e = io::Error::last_os_error();
            return Err(match e.raw_os_error() {
                Some(libc::EPERM) | Some(libc::EACCES) => {
                    LinkError::permission("opening a raw packet socket", "CAP_NET_RAW", e)
                }
                Some(libc::EAFNOSUPPORT) => LinkError::os(
                    LinkErrorKind::Unsupported,
                    "raw packet sockets (AF_PACKET) are not available",
                    e,
                )
                .with_help("the kernel needs CONFIG_PACKET (the af_packet module)"),
                _ => LinkError::os(LinkErrorKind::Io, "cannot open a raw packet socket", e),
            });
        }
        // SAFETY: `raw` is a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let snaplen = if opts.snaplen == 0 {
            DEFAULT_SNAPLEN
        } else {
            opts.snaplen
        } as usize;
        let mut link = LiveLink {
            fd,
            name: iface.to_string(),
            ifindex,
            linktype: LINKTYPE_ETHERNET,
            mac: None,
            snaplen,
            outgoing: false,
            buf: vec![0; snaplen],
            totals: Stats::default(),
            discarded: 0,
        };
        if opts.buffer_bytes > 0 {
            let size = i32::try_from(opts.buffer_bytes).unwrap_or(i32::MAX / 2);
            // Past net.core.rmem_max only with CAP_NET_ADMIN (SO_RCVBUFFORCE).
            if link
                .setopt(libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, size)
                .is_err()
            {
                link.setopt(libc::SOL_SOCKET, libc::SO_RCVBUF, size)
                    .map_err(|e| link.opt_error("set the receive buffer size", e))?;
            }
        }
        link.setopt(libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, 1)
            .map_err(|e| link.opt_error("ask for receive timestamps", e))?;
        link.setopt(libc::SOL_PACKET, libc::PACKET_AUXDATA, 1)
            .map_err(|e| link.opt_error("ask for packet metadata", e))?;
        // Before 4.20 the kernel lacks this; outgoing frames are then
        // dropped here instead.
        let _ = link.setopt(libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, 1);
        if opts.promisc {
            // SAFETY: packet_mreq is plain data.
            let mut mreq: libc::packet_mreq = unsafe { zeroed() };
            mreq.mr_ifindex = ifindex as libc::c_int;
            mreq.mr_type = libc::PACKET_MR_PROMISC as libc::c_ushort;
            link.setopt(libc::SOL_PACKET, libc::PACKET_ADD_MEMBERSHIP, mreq)
                .map_err(|e| link.opt_error("switch on promiscuous mode", e))?;
        }
        link.bind()?;
        Ok(link)
    }

    fn bind(&mut self) -> Result<(), LinkError> {
        // SAFETY: sockaddr_ll is plain data.
        let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
        sll.sll_family = libc::AF_PACKET as libc::c_ushort;
        sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        sll.sll_ifindex = self.ifindex as libc::c_int;
        // SAFETY: `sll` is a valid sockaddr_ll of the length given.
        let r = unsafe {
            libc::bind(
                self.raw(),
                (&raw const sll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            return Err(match e.raw_os_error() {
                Some(libc::ENODEV) | Some(libc::ENXIO) => LinkError::no_such_interface(&self.name),
                Some(libc::ENETDOWN) => self.down_error(),
                _ => LinkError::os(
                    LinkErrorKind::Io,
                    format_args!("cannot bind to \"{}\"", self.name),
                    e,
                ),
            });
        }
        // Binding to an interface that is down succeeds but leaves ENETDOWN
        // pending, and the socket receives nothing until the interface
        // comes up.
        let mut err: libc::c_int = 0;
        let mut len = size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: SO_ERROR writes an int into `err`.
        let r = unsafe {
            libc::getsockopt(
                self.raw(),
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&raw mut err).cast(),
                &mut len,
            )
        };
        if r == 0 && err == libc::ENETDOWN {
            return Err(self.down_error());
        }
        // SAFETY: sockaddr_ll is plain data.
        let mut me: libc::sockaddr_ll = unsafe { zeroed() };
        let mut len = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: getsockname writes at most `len` bytes into `me`.
        let r = unsafe { libc::getsockname(self.raw(), (&raw mut me).cast(), &mut len) };
        if r == 0 {
            self.linktype = linktype_of(me.sll_hatype);
            if me.sll_halen == 6 {
                let mut mac = [0u8; 6];
                mac.copy_from_slice(&me.sll_addr[..6]);
                self.mac = Some(mac);
            }
        }
        Ok(())
    }

    /// The interface index.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The interface's hardware address, when it is 6 bytes long.
    pub fn mac(&self) -> Option<[u8; 6]> {
        self.mac
    }

    /// The receive buffer the kernel grants, in bytes (twice what was
    /// asked for, or capped by `net.core.rmem_max` without CAP_NET_ADMIN).
    pub fn receive_buffer(&self) -> Result<usize, LinkError> {
        let size: libc::c_int =
            self.getopt(libc::SOL_SOCKET, libc::SO_RCVBUF, 0, "receive buffer size")?;
        Ok(usize::try_from(size).unwrap_or(0))
    }

    /// Replaces the kernel filter with a classic BPF program (as `tcpdump
    /// -dd` prints). Frames the program rejects are neither queued nor
    /// counted. Frames queued before the call are discarded, so everything
    /// received afterwards passed the program.
    pub fn attach_filter(&mut self, program: &[libc::sock_filter]) -> Result<(), LinkError> {
        let len = match u16::try_from(program.len()) {
            Ok(n) if n > 0 => n,
            _ => {
                return Err(LinkError::new(
                    LinkErrorKind::Invalid,
                    format!("a BPF program of {} instructions", program.len()),
                )
                .with_help("a program has 1 to 4096 instructions"));
            }
        };
        // Reject everything, empty the queue, then install the program: no
        // frame that the program did not see is left in the queue.
        let reject = [libc::sock_filter {
            code: (libc::BPF_RET | libc::BPF_K) as u16,
            jt: 0,
            jf: 0,
            k: 0,
        }];
        self.set_filter(&reject, 1)?;
        self.drain();
        self.set_filter(program, len)
    }

    fn set_filter(&mut self, program: &[libc::sock_filter], len: u16) -> Result<(), LinkError> {
        let prog = libc::sock_fprog {
            len,
            filter: program.as_ptr().cast_mut(),
        };
        self.setopt(libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, prog)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::EINVAL) => LinkError::os(
                    LinkErrorKind::Invalid,
                    format_args!("the kernel rejected the BPF program ({len} instructions)"),
                    e,
                )
                .with_help(
                    "a classic BPF program jumps only forward, stays within the program, and \
                     ends with a return; at most 4096 instructions",
                ),
                Some(libc::ENOMEM) => LinkError::os(
                    LinkErrorKind::Invalid,
                    format_args!("the BPF program ({len} instructions) is too large"),
                    e,
                )
                .with_help("socket options are limited by net.core.optmem_max"),
                _ => LinkError::os(LinkErrorKind::Io, "cannot attach the BPF program", e),
            })
    }

    /// Removes the kernel filter: all frames are received again.
    pub fn detach_filter(&mut self) -> Result<(), LinkError> {
        match self.setopt(libc::SOL_SOCKET, libc::SO_DETACH_FILTER, 0) {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
            Err(e) => Err(LinkError::os(
                LinkErrorKind::Io,
                "cannot detach the BPF program",
                e,
            )),
        }
    }

    /// Discards the frames queued on the socket; returns how many. They
    /// do not count as received in [`Link::stats`].
    pub fn drain(&mut self) -> usize {
        let n = self.discard_queued();
        self.discarded += n as u64;
        n
    }

    fn discard_queued(&mut self) -> usize {
        let mut n = 0;
        let mut byte = [0u8; 1];
        loop {
            // SAFETY: receives at most one byte into `byte`.
            let r = unsafe {
                libc::recv(
                    self.raw(),
                    byte.as_mut_ptr().cast(),
                    1,
                    libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                )
            };
            if r < 0 {
                if io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return n;
            }
            n += 1;
        }
    }

    fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    fn setopt<T>(&self, level: libc::c_int, name: libc::c_int, value: T) -> io::Result<()> {
        // SAFETY: `value` lives across the call and its size is passed.
        let r = unsafe {
            libc::setsockopt(
                self.raw(),
                level,
                name,
                (&raw const value).cast(),
                size_of::<T>() as libc::socklen_t,
            )
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Reads a socket option of plain-data type `T` (zeroed first).
    fn getopt<T: Copy>(
        &self,
        level: libc::c_int,
        name: libc::c_int,
        init: T,
        what: &str,
    ) -> Result<T, LinkError> {
        let mut value = init;
        let mut len = size_of::<T>() as libc::socklen_t;
        // SAFETY: the kernel writes at most `len` bytes into `value`.
        let r =
            unsafe { libc::getsockopt(self.raw(), level, name, (&raw mut value).cast(), &mut len) };
        if r < 0 {
            return Err(LinkError::os(
                LinkErrorKind::Io,
                format_args!("cannot read the {what} of \"{}\"", self.name),
                io::Error::last_os_error(),
            ));
        }
        Ok(value)
    }

    fn opt_error(&self, what: &str, e: io::Error) -> LinkError {
        if matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES)) {
            return LinkError::permission(
                format_args!("to {what} on \"{}\"", self.name),
                "CAP_NET_ADMIN",
                e,
            );
        }
        LinkError::os(
            LinkErrorKind::Io,
            format_args!("cannot {what} on \"{}\"", self.name),
            e,
        )
    }

    fn down_error(&self) -> LinkError {
        LinkError::new(
            LinkErrorKind::InterfaceDown,
            format!("interface \"{}\" is down", self.name),
        )
        .with_help(format!("bring it up: ip link set dev {} up", self.name))
    }

    fn send_error(&self, len: usize, e: io::Error) -> LinkError {
        let name = &self.name;
        match e.raw_os_error() {
            Some(libc::EMSGSIZE) => LinkError::os(
                LinkErrorKind::FrameTooLarge,
                format_args!("a frame of {len} bytes is too large for \"{name}\""),
                e,
            )
            .with_help(format!(
                "a frame may hold the interface's MTU plus its link header (14 bytes for \
                 Ethernet); see `ip link show dev {name}`"
            )),
            Some(libc::ENETDOWN) => self.down_error(),
            Some(libc::ENXIO) | Some(libc::ENODEV) => LinkError::os(
                LinkErrorKind::NoSuchInterface,
                format_args!("interface \"{name}\" is gone"),
                e,
            ),
            Some(libc::EINVAL) => LinkError::os(
                LinkErrorKind::Invalid,
                format_args!("the kernel refused a frame of {len} bytes on \"{name}\""),
                e,
            )
            .with_help("a frame starts with the complete link header (14 bytes for Ethernet)"),
            Some(libc::EPERM) | Some(libc::EACCES) => {
                LinkError::permission("sending raw frames", "CAP_NET_RAW", e)
            }
            _ => LinkError::os(
                LinkErrorKind::Io,
                format_args!("cannot send on \"{name}\""),
                e,
            ),
        }
    }

    fn stall_error(&self) -> LinkError {
        LinkError::new(
            LinkErrorKind::Io,
            format!(
                "\"{}\" accepted no frame for {} s (the kernel reports no buffer space)",
                self.name,
                STALL_LIMIT.as_secs()
            ),
        )
        .with_help("the interface cannot keep up: send fewer frames at a time, or more slowly")
    }

    /// Receives one frame without waiting.
    fn recv_once(&mut self) -> Result<Got, LinkError> {
        // SAFETY (for the zeroed values): plain data.
        let mut addr: libc::sockaddr_ll = unsafe { zeroed() };
        let mut iov = libc::iovec {
            iov_base: self.buf.as_mut_ptr().cast(),
            iov_len: self.buf.len(),
        };
        let mut control = [0u64; 32];
        let mut msg: libc::msghdr = unsafe { zeroed() };
        msg.msg_name = (&raw mut addr).cast();
        msg.msg_namelen = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = size_of::<[u64; 32]>() as _;
        // SAFETY: every pointer in `msg` refers to a live buffer of the
        // length given.
        let n = unsafe {
            libc::recvmsg(
                self.fd.as_raw_fd(),
                &mut msg,
                libc::MSG_DONTWAIT | libc::MSG_TRUNC,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EAGAIN) => Ok(Got::Empty),
                Some(libc::EINTR) => Ok(Got::Skipped),
                Some(libc::ENETDOWN) => Err(LinkError::new(
                    LinkErrorKind::InterfaceDown,
                    format!("interface \"{}\" went down", self.name),
                )),
                _ => Err(LinkError::os(
                    LinkErrorKind::Io,
                    format_args!("cannot receive on \"{}\"", self.name),
                    e,
                )),
            };
        }
        let direction = if addr.sll_pkttype == libc::PACKET_OUTGOING {
            Direction::Outgoing
        } else {
            Direction::Incoming
        };
        if direction == Direction::Outgoing && !self.outgoing {
            return Ok(Got::Skipped);
        }
        let wire = n as usize; // with MSG_TRUNC: the whole frame's length
        let mut ts = None;
        let mut aux: Option<libc::tpacket_auxdata> = None;
        // SAFETY: the kernel filled `control` with well-formed cmsgs up to
        // msg_controllen; each payload is read only if long enough.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                let h = &*c;
                let have = (h.cmsg_len as usize).saturating_sub(libc::CMSG_LEN(0) as usize);
                let data = libc::CMSG_DATA(c);
                if h.cmsg_level == libc::SOL_SOCKET
                    && h.cmsg_type == libc::SCM_TIMESTAMPNS
                    && have >= size_of::<libc::timespec>()
                {
                    let t = std::ptr::read_unaligned(data as *const libc::timespec);
                    ts = Some((t.tv_sec as i64, t.tv_nsec.clamp(0, 999_999_999) as u32));
                } else if h.cmsg_level == libc::SOL_PACKET
                    && h.cmsg_type == libc::PACKET_AUXDATA
                    && have >= size_of::<libc::tpacket_auxdata>()
                {
                    aux = Some(std::ptr::read_unaligned(
                        data as *const libc::tpacket_auxdata,
                    ));
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
        let captured = wire.min(self.buf.len());
        let mut orig_len = aux.map_or(wire, |a| a.tp_len as usize);
        let mut data = Vec::with_capacity(captured + 4);
        data.extend_from_slice(&self.buf[..captured]);
        if self.linktype == LINKTYPE_ETHERNET
            && let Some(tag) = aux.as_ref().and_then(vlan_tag)
        {
            insert_vlan_tag(&mut data, tag);
            orig_len += 4;
            data.truncate(self.snaplen);
        }
        let (ts_sec, ts_nsec) = ts.unwrap_or_else(now);
        Ok(Got::Frame(Frame {
            data,
            ts_sec,
            ts_nsec,
            direction,
            orig_len: u32::try_from(orig_len).unwrap_or(u32::MAX),
        }))
    }

    /// Waits until the socket is readable or `deadline` passes; false when
    /// the time is up.
    fn wait_readable(&self, deadline: Option<Instant>) -> Result<bool, LinkError> {
        loop {
            let ms = match deadline {
                None => -1,
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(false);
                    }
                    // Round up, so that a short wait does not spin.
                    i32::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i32::MAX)
                }
            };
            let mut p = libc::pollfd {
                fd: self.raw(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: polls one valid pollfd.
            let r = unsafe { libc::poll(&mut p, 1, ms) };
            if r > 0 {
                return Ok(true);
            }
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() != Some(libc::EINTR) {
                    return Err(LinkError::os(
                        LinkErrorKind::Io,
                        format_args!("cannot wait for frames on \"{}\"", self.name),
                        e,
                    ));
                }
            }
        }
    }
}

/// The VLAN tag (TPID and TCI) the kernel took out of a frame, if any.
fn vlan_tag(aux: &libc::tpacket_auxdata) -> Option<[u8; 4]> {
    if aux.tp_status & libc::TP_STATUS_VLAN_VALID == 0 {
        return None;
    }
    let tpid = if aux.tp_status & libc::TP_STATUS_VLAN_TPID_VALID != 0 {
        aux.tp_vlan_tpid
    } else {
        libc::ETH_P_8021Q as u16
    };
    let [a, b] = tpid.to_be_bytes();
    let [c, d] = aux.tp_vlan_tci.to_be_bytes();
    Some([a, b, c, d])
}

/// Puts a VLAN tag back after the Ethernet addresses.
fn insert_vlan_tag(data: &mut Vec<u8>, tag: [u8; 4]) {
    if data.len() >= 12 {
        data.splice(12..12, tag);
    }
}

/// The pcap link type for an ARPHRD hardware type. Types without a
/// mapping here are taken for Ethernet.
fn linktype_of(hatype: u16) -> u32 {
    match hatype {
        libc::ARPHRD_NONE | ARPHRD_RAWIP | libc::ARPHRD_TUNNEL | libc::ARPHRD_TUNNEL6 => {
            LINKTYPE_RAW
        }
        libc::ARPHRD_IEEE80211 => LINKTYPE_IEEE802_11,
        libc::ARPHRD_IEEE80211_RADIOTAP => LINKTYPE_IEEE802_11_RADIOTAP,
        _ => LINKTYPE_ETHERNET,
    }
}

/// Retries of sends the kernel refused for lack of buffer space.
#[derive(Default)]
struct Stall {
    since: Option<Instant>,
    rounds: u32,
}

impl Stall {
    /// Waits a little before a retry; false once the stall lasted too long.
    fn wait(&mut self, fd: RawFd) -> bool {
        let since = *self.since.get_or_insert_with(Instant::now);
        if since.elapsed() > STALL_LIMIT {
            return false;
        }
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: polls one valid pollfd.
        unsafe { libc::poll(&mut p, 1, 10) };
        if self.rounds > 0 {
            let us = (20u64 << self.rounds.min(6)).min(1000);
            std::thread::sleep(Duration::from_micros(us));
        }
        self.rounds += 1;
        true
    }

    fn progress(&mut self) {
        self.since = None;
        self.rounds = 0;
    }
}

impl Link for LiveLink {
    fn set_filter(&mut self, program: Option<&[libc::sock_filter]>) -> Result<(), LinkError> {
        match program {
            Some(p) => self.attach_filter(p),
            None => self.detach_filter(),
        }
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn linktype(&self) -> u32 {
        self.linktype
    }

    fn send(&mut self, frame: &[u8]) -> Result<(), LinkError> {
        let mut stall = Stall::default();
        loop {
            // SAFETY: sends `frame.len()` bytes from `frame` on the bound socket.
            let r = unsafe { libc::send(self.raw(), frame.as_ptr().cast(), frame.len(), 0) };
            if r >= 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => {}
                Some(libc::ENOBUFS) | Some(libc::EAGAIN) => {
                    if !stall.wait(self.raw()) {
                        return Err(self.stall_error());
                    }
                }
                _ => return Err(self.send_error(frame.len(), e)),
            }
        }
    }

    fn send_batch(&mut self, frames: &[&[u8]]) -> Result<usize, LinkError> {
        let mut sent = 0;
        let mut stall = Stall::default();
        let mut iovs: Vec<libc::iovec> = Vec::with_capacity(BATCH.min(frames.len()));
        let mut hdrs: Vec<libc::mmsghdr> = Vec::with_capacity(BATCH.min(frames.len()));
        while sent < frames.len() {
            let chunk = &frames[sent..frames.len().min(sent + BATCH)];
            iovs.clear();
            hdrs.clear();
            iovs.extend(chunk.iter().map(|f| libc::iovec {
                iov_base: f.as_ptr().cast_mut().cast(),
                iov_len: f.len(),
            }));
            for iov in iovs.iter_mut() {
                // SAFETY: mmsghdr is plain data.
                let mut h: libc::mmsghdr = unsafe { zeroed() };
                h.msg_hdr.msg_iov = iov;
                h.msg_hdr.msg_iovlen = 1;
                hdrs.push(h);
            }
            // SAFETY: each header points to one iovec of a live frame; the
            // kernel only reads them.
            let r = unsafe {
                libc::sendmmsg(self.raw(), hdrs.as_mut_ptr(), hdrs.len() as libc::c_uint, 0)
            };
            if r > 0 {
                sent += r as usize;
                stall.progress();
                continue;
            }
            if r == 0 {
                if !stall.wait(self.raw()) {
                    return Err(self.stall_error());
                }
                continue;
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => {}
                Some(libc::ENOBUFS) | Some(libc::EAGAIN) => {
                    if !stall.wait(self.raw()) {
                        return Err(self.stall_error());
                    }
                }
                _ => {
                    let mut err = self.send_error(frames[sent].len(), e);
                    if sent > 0 {
                        err.message = format!("{} (after {sent} frames were sent)", err.message);
                    }
                    return Err(err);
                }
            }
        }
        Ok(sent)
    }

    fn recv(&mut self, timeout: Option<Duration>) -> Result<Option<Frame>, LinkError> {
        // A timeout too large to represent is no timeout.
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            match self.recv_once()? {
                Got::Frame(f) => return Ok(Some(f)),
                Got::Skipped => {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Ok(None);
                    }
                }
                Got::Empty => {
                    if !self.wait_readable(deadline)? {
                        return Ok(None);
                    }
                }
            }
        }
    }

    fn stats(&mut self) -> Result<Stats, LinkError> {
        let zero = libc::tpacket_stats {
            tp_packets: 0,
            tp_drops: 0,
        };
        let st = self.getopt(
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
            zero,
            "packet statistics",
        )?;
        // tp_packets counts the dropped frames too.
        self.totals.received += u64::from(st.tp_packets.saturating_sub(st.tp_drops));
        // Discarded frames were counted when queued, in this read or before.
        self.totals.received = self
            .totals
            .received
            .saturating_sub(std::mem::take(&mut self.discarded));
        self.totals.dropped += u64::from(st.tp_drops);
        Ok(self.totals)
    }

    fn set_outgoing(&mut self, yes: bool) {
        self.outgoing = yes;
        let _ = self.setopt(
            libc::SOL_PACKET,
            libc::PACKET_IGNORE_OUTGOING,
            libc::c_int::from(!yes),
        );
    }
}

impl AsRawFd for LiveLink {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for LiveLink {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aux(status: u32, tci: u16, tpid: u16) -> libc::tpacket_auxdata {
        libc::tpacket_auxdata {
            tp_status: status,
            tp_len: 0,
            tp_snaplen: 0,
            tp_mac: 0,
            tp_net: 0,
            tp_vlan_tci: tci,
            tp_vlan_tpid: tpid,
        }
    }

    #[test]
    fn vlan_tag_from_auxdata() {
        assert_eq!(vlan_tag(&aux(0, 42, 0x8100)), None);
        assert_eq!(
            vlan_tag(&aux(libc::TP_STATUS_VLAN_VALID, 0x202a, 0)),
            Some([0x81, 0x00, 0x20, 0x2a])
        );
        assert_eq!(
            vlan_tag(&aux(
                libc::TP_STATUS_VLAN_VALID | libc::TP_STATUS_VLAN_TPID_VALID,
                5,
                0x88a8
            )),
            Some([0x88, 0xa8, 0x00, 0x05])
        );
    }

    #[test]
    fn vlan_tag_goes_after_the_addresses() {
        let mut f: Vec<u8> = (0..16).collect();
        insert_vlan_tag(&mut f, [0x81, 0, 0, 7]);
        assert_eq!(&f[..12], &(0..12).collect::<Vec<u8>>()[..]);
        assert_eq!(&f[12..16], &[0x81, 0, 0, 7]);
        assert_eq!(&f[16..], &[12, 13, 14, 15]);
        let mut short = vec![1, 2, 3];
        insert_vlan_tag(&mut short, [0x81, 0, 0, 7]);
        assert_eq!(short, vec![1, 2, 3]);
    }

    #[test]
    fn linktypes() {
        assert_eq!(linktype_of(libc::ARPHRD_ETHER), 1);
        assert_eq!(linktype_of(libc::ARPHRD_LOOPBACK), 1);
        assert_eq!(linktype_of(libc::ARPHRD_NONE), 101);
        assert_eq!(linktype_of(libc::ARPHRD_IEEE80211_RADIOTAP), 127);
    }
}
