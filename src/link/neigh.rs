//! The kernel's neighbour table (ARP and IPv6 neighbour discovery cache),
//! read with a netlink `RTM_GETNEIGH` dump: no `ip` process, and the table
//! of the calling thread's network namespace.

use super::{LinkError, LinkErrorKind};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Neighbour states (NUD_*) in which the link-layer address is known and
/// the kernel itself would send to it.
pub const NUD_REACHABLE: u16 = 0x02;
pub const NUD_STALE: u16 = 0x04;
pub const NUD_DELAY: u16 = 0x08;
pub const NUD_PERMANENT: u16 = 0x80;
const USABLE: u16 = NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PERMANENT;

const NDA_DST: u16 = 1;
const NDA_LLADDR: u16 = 2;
const NLMSG_HDR: usize = 16;
const NDMSG: usize = 12;

/// One entry of the neighbour table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbour {
    /// The interface's index.
    pub ifindex: u32,
    pub addr: IpAddr,
    /// The link-layer address, when the entry has one of 6 bytes.
    pub mac: Option<[u8; 6]>,
    /// NUD_* state bits.
    pub state: u16,
}

impl Neighbour {
    /// Whether the kernel would send to this entry's MAC address as it stands
    /// (reachable, stale, delay or permanent).
    pub fn usable(&self) -> bool {
        self.mac.is_some() && self.state & USABLE != 0
    }
}

/// The usable MAC address the kernel has for `addr` on interface `ifindex`.
pub fn lookup(ifindex: u32, addr: IpAddr) -> Option<[u8; 6]> {
    let family = match addr {
        IpAddr::V4(_) => libc::AF_INET,
        IpAddr::V6(_) => libc::AF_INET6,
    };
    neighbours(family)
        .ok()?
        .into_iter()
        .find(|n| n.ifindex == ifindex && n.addr == addr && n.usable())
        .and_then(|n| n.mac)
}

/// The neighbour table for one address family (`libc::AF_INET` or
/// `libc::AF_INET6`) of this thread's network namespace.
pub fn neighbours(family: i32) -> Result<Vec<Neighbour>, LinkError> {
    let err = |what: &str, e: io::Error| {
        LinkError::os(
            LinkErrorKind::Io,
            format!("reading the neighbour table: {what}"),
            e,
        )
    };
    // SAFETY: plain socket call.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if raw < 0 {
        return Err(err("netlink socket", io::Error::last_os_error()));
    }
    // SAFETY: `raw` is a new descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let tv = libc::timeval {
        tv_sec: 2,
        tv_usec: 0,
    };
    // SAFETY: SO_RCVTIMEO takes a timeval of the size given.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            size_of::<libc::timeval>() as libc::socklen_t,
        );
    }
    let seq: u32 = 1;
    let mut req = Vec::with_capacity(NLMSG_HDR + NDMSG);
    req.extend_from_slice(&((NLMSG_HDR + NDMSG) as u32).to_ne_bytes());
    req.extend_from_slice(&libc::RTM_GETNEIGH.to_ne_bytes());
    req.extend_from_slice(&((libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16).to_ne_bytes());
    req.extend_from_slice(&seq.to_ne_bytes());
    req.extend_from_slice(&0u32.to_ne_bytes());
    req.push(family as u8);
    req.resize(NLMSG_HDR + NDMSG, 0);
    // SAFETY: sockaddr_nl is plain data; all zeroes addresses the kernel.
    let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    // SAFETY: the buffer and address are valid for the lengths given.
    let n = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            req.as_ptr().cast(),
            req.len(),
            0,
            (&sa as *const libc::sockaddr_nl).cast(),
            size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if n < 0 {
        return Err(err("netlink request", io::Error::last_os_error()));
    }
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // SAFETY: `buf` is writable for its length.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err("netlink answer", e));
        }
        if n == 0 {
            return Ok(out);
        }
        if parse_messages(&buf[..n as usize], seq, &mut out)? {
            return Ok(out);
        }
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Reads the netlink messages in `b` into `out`; true at the end of the dump.
fn parse_messages(b: &[u8], seq: u32, out: &mut Vec<Neighbour>) -> Result<bool, LinkError> {
    let mut off = 0;
    while let Some(len) = u32_at(b, off) {
        let len = len as usize;
        if len < NLMSG_HDR || off + len > b.len() {
            break;
        }
        let msg = &b[off..off + len];
        let kind = u16_at(msg, 4).unwrap_or(0);
        let mseq = u32_at(msg, 8).unwrap_or(0);
        off += len.next_multiple_of(4);
        if mseq != seq {
            continue;
        }
        match i32::from(kind) {
            libc::NLMSG_DONE => return Ok(true),
            libc::NLMSG_ERROR => {
                let code = u32_at(msg, NLMSG_HDR).map_or(0, |c| c as i32);
                if code == 0 {
                    return Ok(true);
                }
                return Err(LinkError::os(
                    LinkErrorKind::Io,
                    "reading the neighbour table",
                    io::Error::from_raw_os_error(-code),
                ));
            }
            _ if kind == libc::RTM_NEWNEIGH => {
                if let Some(n) = parse_neigh(&msg[NLMSG_HDR..]) {
                    out.push(n);
                }
            }
            _ => {}
        }
    }
    Ok(false)
}

/// An `ndmsg` and its attributes.
fn parse_neigh(b: &[u8]) -> Option<Neighbour> {
    let family = i32::from(*b.first()?);
    let ifindex = u32_at(b, 4)?;
    let state = u16_at(b, 8)?;
    let mut addr = None;
    let mut mac = None;
    let mut off = NDMSG;
    while let (Some(len), Some(kind)) = (u16_at(b, off), u16_at(b, off + 2)) {
        let len = len as usize;
        if len < 4 || off + len > b.len() {
            break;
        }
        let data = &b[off + 4..off + len];
        match kind {
            NDA_DST => {
                addr = match (family, data.len()) {
                    (libc::AF_INET, 4) => Some(IpAddr::V4(Ipv4Addr::new(
                        data[0], data[1], data[2], data[3],
                    ))),
                    (libc::AF_INET6, 16) => {
                        let a: [u8; 16] = data.try_into().ok()?;
                        Some(IpAddr::V6(Ipv6Addr::from(a)))
                    }
                    _ => None,
                }
            }
            NDA_LLADDR => mac = data.try_into().ok(),
            _ => {}
        }
        off += len.next_multiple_of(4);
    }
    Some(Neighbour {
        ifindex,
        addr: addr?,
        mac,
        state,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_dump_and_never_panics_on_junk() {
        let mut m = Vec::new();
        let body_len = NDMSG + 20 + 12;
        m.extend_from_slice(&((NLMSG_HDR + body_len) as u32).to_ne_bytes());
        m.extend_from_slice(&libc::RTM_NEWNEIGH.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&1u32.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.push(libc::AF_INET6 as u8);
        m.extend_from_slice(&[0, 0, 0]);
        m.extend_from_slice(&3u32.to_ne_bytes());
        m.extend_from_slice(&NUD_STALE.to_ne_bytes());
        m.extend_from_slice(&[0, 0]);
        m.extend_from_slice(&20u16.to_ne_bytes());
        m.extend_from_slice(&NDA_DST.to_ne_bytes());
        m.extend_from_slice(&"fd00::2".parse::<Ipv6Addr>().unwrap().octets());
        m.extend_from_slice(&10u16.to_ne_bytes());
        m.extend_from_slice(&NDA_LLADDR.to_ne_bytes());
        m.extend_from_slice(&[2, 0, 0, 0, 0, 2, 0, 0]);
        let mut out = Vec::new();
        assert!(!parse_messages(&m, 1, &mut out).unwrap());
        assert_eq!(out.len(), 1);
        assert!(out[0].usable());
        assert_eq!(out[0].mac, Some([2, 0, 0, 0, 0, 2]));
        assert_eq!(out[0].ifindex, 3);
        for cut in 0..m.len() {
            let _ = parse_messages(&m[..cut], 1, &mut Vec::new());
            let _ = parse_neigh(&m[NLMSG_HDR.min(cut)..cut]);
        }
    }
}
