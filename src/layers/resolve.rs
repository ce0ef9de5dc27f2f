//! Link-address resolution: how a network layer learns the Ethernet
//! address of a next hop. IPv4 asks with ARP (RFC 826, the who-has built
//! in `arp.rs`), IPv6 with a neighbour solicitation to the target's
//! solicited-node multicast address (RFC 4861 section 7.2). Each network
//! layer's [`NetOps`](super::NetOps) names its [`Resolve`]; `net.rs` and
//! the script bindings ask it and never a protocol by name.

use super::{Proto, Value, arp, ether, icmpv6, ipv6, ndp};
use crate::packet::Packet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// How a network layer resolves a next hop's link-layer (Ethernet) address.
pub struct Resolve {
    /// The request's name, for messages ("ARP who-has").
    pub name: &'static str,
    /// The frame asking for the link-layer address of `hop`, from our
    /// (`mac`, `src`); None when the addresses are not of this family.
    pub request: fn(mac: [u8; 6], src: IpAddr, hop: IpAddr) -> Option<Packet>,
    /// The link-layer address `reply` gives for `hop`, if it answers a request.
    pub answer: fn(reply: &Packet, hop: IpAddr) -> Option<[u8; 6]>,
    /// The Ethernet address of a broadcast or multicast destination, which
    /// needs no request.
    pub group_mac: fn(dst: IpAddr) -> Option<[u8; 6]>,
}

/// ARP, for IPv4.
pub static ARP: Resolve = Resolve {
    name: "ARP who-has",
    request: |mac, src, hop| {
        let IpAddr::V4(hop) = hop else { return None };
        let src = match src {
            IpAddr::V4(s) => s,
            IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
        };
        Some(arp::who_has(mac, src, hop))
    },
    answer: arp_answer,
    group_mac: |dst| match dst {
        IpAddr::V4(d) if d.is_broadcast() => Some([0xff; 6]),
        IpAddr::V4(d) if d.is_multicast() => {
            let o = d.octets();
            Some([0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]])
        }
        _ => None,
    },
};

/// Neighbour discovery, for IPv6.
pub static ND: Resolve = Resolve {
    name: "neighbour solicitation",
    request: |mac, src, hop| match (src, hop) {
        (IpAddr::V6(s), IpAddr::V6(h)) => neighbor_solicit(mac, s, h),
        _ => None,
    },
    answer: |reply, hop| match hop {
        IpAddr::V6(h) => advertised_mac(reply, h),
        IpAddr::V4(_) => None,
    },
    group_mac: |dst| match dst {
        IpAddr::V6(d) if d.is_multicast() => Some(multicast_mac(d)),
        _ => None,
    },
};

/// The MAC address of an ARP is-at for `hop`.
fn arp_answer(reply: &Packet, hop: IpAddr) -> Option<[u8; 6]> {
    let IpAddr::V4(hop) = hop else { return None };
    let i = reply.find_proto(&arp::ARP, 0)?;
    let h = reply.header(i);
    if reply.peek_int(i, "op") != 2 || h.get(14..18)? != hop.octets() {
        return None;
    }
    arp::sender_mac(h)
}

/// The solicited-node multicast address of `a` (ff02::1:ffXX:XXXX, its last 24 bits).
pub fn solicited_node(a: Ipv6Addr) -> Ipv6Addr {
    let o = a.octets();
    Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | o[13] as u16,
        u16::from_be_bytes([o[14], o[15]]),
    )
}

/// The Ethernet address of IPv6 multicast address `a` (33:33 and its last 32 bits, RFC 2464).
pub fn multicast_mac(a: Ipv6Addr) -> [u8; 6] {
    let o = a.octets();
    [0x33, 0x33, o[12], o[13], o[14], o[15]]
}

fn set(p: &mut Packet, idx: usize, proto: &Proto, name: &str, v: Value) -> Option<()> {
    let fi = proto.field_index(name)?;
    p.set_value(idx, fi, v);
    Some(())
}

/// A neighbour solicitation for `target` from (`mac`, `src`), to its
/// solicited-node address and that address's Ethernet group, hop limit 255,
/// with our link-layer address as an option (none from `::`, as in
/// duplicate address detection).
pub fn neighbor_solicit(mac: [u8; 6], src: Ipv6Addr, target: Ipv6Addr) -> Option<Packet> {
    let group = solicited_node(target);
    let mut p = ether::header(multicast_mac(group), mac);
    let mut ip = Packet::new_layer(&ipv6::IPV6);
    set(&mut ip, 0, &ipv6::IPV6, "src", Value::Ipv6(src.octets()))?;
    set(&mut ip, 0, &ipv6::IPV6, "dst", Value::Ipv6(group.octets()))?;
    set(&mut ip, 0, &ipv6::IPV6, "hlim", Value::Int(255))?;
    p.stack(&ip);
    let mut ns = Packet::new_variant(&icmpv6::ICMPV6, icmpv6::ICMPV6.variant("ICMPv6ND_NS")?);
    set(
        &mut ns,
        0,
        &icmpv6::ICMPV6,
        "tgt",
        Value::Ipv6(target.octets()),
    )?;
    p.stack(&ns);
    if !src.is_unspecified() {
        let mut opt = Packet::new_layer(&ndp::SRC_LLADDR);
        let fi = ndp::SRC_LLADDR.field_index("lladdr")?;
        opt.set_value(0, fi, Value::Mac(mac));
        p.stack(&opt);
    }
    p.finish();
    Some(p)
}

/// The link-layer address a neighbour advertisement in `reply` gives for
/// `target`: its target link-layer address option, else the frame's
/// Ethernet source. None when `reply` is no advertisement for `target`.
pub fn advertised_mac(reply: &Packet, target: Ipv6Addr) -> Option<[u8; 6]> {
    let i = reply.find_proto(&icmpv6::ICMPV6, 0)?;
    if reply.layers()[i].quoted || reply.peek_int(i, "type") != 136 {
        return None;
    }
    let tgt = icmpv6::ICMPV6.field_index("tgt")?;
    if reply.peek(i, tgt) != Value::Ipv6(target.octets()) {
        return None;
    }
    if let Some(o) = reply.find_proto(&ndp::DST_LLADDR, i)
        && let Some(fi) = ndp::DST_LLADDR.field_index("lladdr")
        && let Value::Mac(m) = reply.peek(o, fi)
    {
        return Some(m);
    }
    match reply.peek(0, reply.layers().first()?.proto.field_index("src")?) {
        Value::Mac(m) if reply.layers()[0].proto == &ether::ETHER => Some(m),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const HIM: [u8; 6] = [2, 0, 0, 0, 0, 2];

    fn a6(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn a_solicitation_goes_to_the_solicited_node_group_with_hop_limit_255() {
        let mut p = (ND.request)(ME, a6("fd00::1").into(), a6("fd00::1:2:3").into()).unwrap();
        assert_eq!(
            p.layer_names(),
            ["Ether", "IPv6", "ICMPv6", "ICMPv6NDOptSrcLLAddr"]
        );
        let b = p.bytes().to_vec();
        assert_eq!(b[0..6], [0x33, 0x33, 0xff, 0x02, 0x00, 0x03]);
        assert_eq!(b[6..12], ME);
        assert_eq!(b[12..14], [0x86, 0xdd]);
        assert_eq!(b[21], 255);
        assert_eq!(b[38..54], a6("ff02::1:ff02:3").octets());
        assert_eq!(b[54], 135);
        assert_eq!(b[62..78], a6("fd00::1:2:3").octets());
        assert_eq!(b[78..86], [1, 1, 2, 0, 0, 0, 0, 1]);
        assert!(p.bad_checksums().is_empty());
        // From :: (duplicate address detection) there is no option.
        let p = (ND.request)(ME, Ipv6Addr::UNSPECIFIED.into(), a6("fd00::2").into()).unwrap();
        assert_eq!(p.layer_names(), ["Ether", "IPv6", "ICMPv6"]);
        // Not this family.
        assert!((ND.request)(ME, a6("fd00::1").into(), Ipv4Addr::LOCALHOST.into()).is_none());
        assert!((ARP.request)(ME, Ipv4Addr::UNSPECIFIED.into(), a6("fd00::2").into()).is_none());
    }

    /// An advertisement for `tgt` from HIM, with its option when `opt`.
    fn advert(tgt: &str, opt: bool) -> Packet {
        let mut p = ether::header(ME, HIM);
        let mut ip = Packet::new_layer(&ipv6::IPV6);
        set(
            &mut ip,
            0,
            &ipv6::IPV6,
            "src",
            Value::Ipv6(a6(tgt).octets()),
        )
        .unwrap();
        p.stack(&ip);
        let mut na = Packet::new_variant(
            &icmpv6::ICMPV6,
            icmpv6::ICMPV6.variant("ICMPv6ND_NA").unwrap(),
        );
        set(
            &mut na,
            0,
            &icmpv6::ICMPV6,
            "tgt",
            Value::Ipv6(a6(tgt).octets()),
        )
        .unwrap();
        p.stack(&na);
        if opt {
            let mut o = Packet::new_layer(&ndp::DST_LLADDR);
            set(
                &mut o,
                0,
                &ndp::DST_LLADDR,
                "lladdr",
                Value::Mac([2, 0, 0, 0, 0, 9]),
            )
            .unwrap();
            p.stack(&o);
        }
        p.finish();
        Packet::parse(p.bytes())
    }

    #[test]
    fn an_advertisement_gives_its_option_or_its_ethernet_source() {
        let t = a6("fd00::2");
        assert_eq!(
            advertised_mac(&advert("fd00::2", true), t),
            Some([2, 0, 0, 0, 0, 9])
        );
        assert_eq!(advertised_mac(&advert("fd00::2", false), t), Some(HIM));
        assert_eq!(advertised_mac(&advert("fd00::3", true), t), None);
        let ns = (ND.request)(ME, a6("fd00::1").into(), t.into()).unwrap();
        assert_eq!(advertised_mac(&ns, t), None);
        assert_eq!(
            (ND.answer)(&advert("fd00::2", false), Ipv4Addr::LOCALHOST.into()),
            None
        );
    }

    #[test]
    fn group_addresses_need_no_request() {
        assert_eq!(
            (ND.group_mac)(a6("ff02::1:ff00:2").into()),
            Some([0x33, 0x33, 0xff, 0, 0, 2])
        );
        assert_eq!((ND.group_mac)(a6("fd00::2").into()), None);
        assert_eq!((ARP.group_mac)(Ipv4Addr::BROADCAST.into()), Some([0xff; 6]));
        assert_eq!(
            (ARP.group_mac)(Ipv4Addr::new(239, 129, 2, 3).into()),
            Some([1, 0, 0x5e, 1, 2, 3])
        );
        assert_eq!((ARP.group_mac)(Ipv4Addr::new(198, 18, 0, 2).into()), None);
        assert_eq!(
            solicited_node(a6("fd00::abcd:1234")),
            a6("ff02::1:ffcd:1234")
        );
    }

    #[test]
    fn an_arp_reply_gives_the_mac_of_the_address_asked() {
        let hop = Ipv4Addr::new(198, 18, 0, 2);
        let req = (ARP.request)(ME, Ipv4Addr::new(198, 18, 0, 1).into(), hop.into()).unwrap();
        assert_eq!(
            (ARP.answer)(&req, hop.into()),
            None,
            "a request is no answer"
        );
        let mut b = req.raw_bytes().to_vec();
        b[21] = 2; // is-at
        b[22..28].copy_from_slice(&HIM);
        b[28..32].copy_from_slice(&hop.octets());
        let reply = Packet::parse(&b);
        assert_eq!((ARP.answer)(&reply, hop.into()), Some(HIM));
        assert_eq!(
            (ARP.answer)(&reply, Ipv4Addr::new(198, 18, 0, 3).into()),
            None
        );
    }
}
