#!/usr/bin/env python3
"""Writes a capture of frames built by Scapy (not by pktscript), for the
dissection cross-check in tests/crosscheck.rs.

usage: scapy_frames.py OUT.pcap

Prints one line per frame: its number, the layers (pktscript's names) whose
checksum is wrong on purpose, comma-separated (empty when all are good), and
a description.
"""

import sys
import warnings

warnings.filterwarnings("ignore")

try:
    from scapy.all import (  # noqa: E402
        ARP,
        DNS,
        DNSQR,
        ICMP,
        IP,
        TCP,
        ICMPv6DestUnreach,
        ICMPv6EchoReply,
        ICMPv6EchoRequest,
        ICMPv6MLDMultAddrRec,
        ICMPv6MLReport2,
        ICMPv6ND_NA,
        ICMPv6ND_NS,
        ICMPv6ND_RA,
        ICMPv6ND_Redirect,
        ICMPv6ND_RS,
        ICMPv6NDOptDstLLAddr,
        ICMPv6NDOptMTU,
        ICMPv6NDOptPrefixInfo,
        ICMPv6NDOptRDNSS,
        ICMPv6NDOptSrcLLAddr,
        ICMPv6PacketTooBig,
        ICMPv6ParamProblem,
        ICMPv6TimeExceeded,
        IPv6,
        IPv6ExtHdrDestOpt,
        IPv6ExtHdrFragment,
        IPv6ExtHdrHopByHop,
        IPv6ExtHdrRouting,
        IPv6ExtHdrSegmentRouting,
        PadN,
        RouterAlert,
        fragment6,
        UDP,
        Dot1Q,
        Ether,
        IPOption_RR,
        Padding,
        Raw,
        raw,
        wrpcap,
    )
except ImportError as e:  # pragma: no cover - reported by the Rust test
    sys.exit(f"scapy is not installed ({e}): python3 -m pip install scapy")

A, B, R = "198.18.1.1", "198.18.1.2", "198.19.0.254"
MA, MB = "02:00:00:00:10:01", "02:00:00:00:10:02"
A6, B6, R6 = "fd00::1", "fd00::2", "fd00::fe"
MR = "02:00:00:00:10:fe"


def eth(src=MA, dst=MB):
    return Ether(src=src, dst=dst)


def pad60(frame):
    """Pads a frame to Ethernet's minimum as a NIC does."""
    b = raw(frame)
    return Ether(b + b"\x00" * max(0, 60 - len(b)))


def summed_to_first_hop():
    """A routed UDP datagram whose checksum was summed to the IPv6 header's
    destination (the first hop), not to the final one: wrong."""
    good = eth() / IPv6(src=A6, dst=R6) / UDP(sport=7015, dport=7016) / b"x"
    wrong = raw(good)[54 + 6:54 + 8]
    routed = eth() / IPv6(src=A6, dst=R6) / IPv6ExtHdrRouting(addresses=[B6]) / UDP(
        sport=7015, dport=7016, chksum=int.from_bytes(wrong, "big")) / b"x"
    return routed


def frames6():
    """IPv6 as Scapy builds it: its ND classes set the hop limit to 255, its
    extension headers pad themselves, fragment6() cuts a datagram whose UDP
    checksum it computed over the whole."""
    syn = IPv6(src=A6, dst=B6, fl=0x5A5A5, hlim=64) / TCP(
        sport=45679, dport=443, seq=3141592653, flags="S", window=64800,
        options=[("MSS", 1440), ("SAckOK", b""), ("Timestamp", (271828, 0)),
                 ("NOP", None), ("WScale", 7)])
    dns = IPv6(src=A6, dst=B6) / UDP(sport=53536, dport=53) / DNS(
        id=0xCAFE, rd=1, qd=DNSQR(qname="example.com", qtype="AAAA"))
    ping = IPv6(src=A6, dst=B6, hlim=1) / ICMPv6EchoRequest(id=0x4321, seq=1, data=bytes(range(56)))
    sol = "ff02::1:ff00:2"
    frags = fragment6(
        IPv6(src=A6, dst=B6) / IPv6ExtHdrFragment(id=0x1234ABCD)
        / UDP(sport=40001, dport=40002) / Raw(bytes(range(200))), 120)
    quoted_tcp = IPv6(src=A6, dst=B6) / TCP(sport=45680, dport=22, seq=7, flags="S")
    return [
        (eth() / syn, "", "IPv6 TCP SYN with options and a flow label"),
        (eth(MB, MA) / IPv6(src=B6, dst=A6) / TCP(sport=443, dport=45679, seq=1, ack=3141592654,
                                                  flags="SA", options=[("MSS", 1220)]),
         "", "IPv6 TCP SYN-ACK"),
        (eth() / dns, "", "IPv6 UDP DNS query"),
        (eth() / ping, "", "ICMPv6 echo request with 56 bytes of data"),
        (eth(MB, MA) / IPv6(src=B6, dst=A6) / ICMPv6EchoReply(id=0x4321, seq=1, data=b"pong"),
         "", "ICMPv6 echo reply"),
        (Ether(src=MA, dst="33:33:ff:00:00:02") / IPv6(src=A6, dst=sol)
         / ICMPv6ND_NS(tgt=B6) / ICMPv6NDOptSrcLLAddr(lladdr=MA),
         "", "neighbor solicitation with the source link-layer address"),
        (Ether(src=MA, dst="33:33:ff:00:00:02") / IPv6(src="::", dst=sol) / ICMPv6ND_NS(tgt=B6),
         "", "duplicate address detection"),
        (eth(MB, MA) / IPv6(src=B6, dst=A6) / ICMPv6ND_NA(tgt=B6, R=0, S=1, O=1)
         / ICMPv6NDOptDstLLAddr(lladdr=MB), "", "solicited neighbor advertisement"),
        (Ether(src=MA, dst="33:33:00:00:00:02") / IPv6(src=A6, dst="ff02::2")
         / ICMPv6ND_RS() / ICMPv6NDOptSrcLLAddr(lladdr=MA), "", "router solicitation"),
        (Ether(src=MR, dst="33:33:00:00:00:01") / IPv6(src=R6, dst="ff02::1")
         / ICMPv6ND_RA(chlim=64, M=0, O=1, prf=3, routerlifetime=9000, reachabletime=30000,
                       retranstimer=1000)
         / ICMPv6NDOptPrefixInfo(prefix="fd00::", prefixlen=64, validlifetime=2592000,
                                 preferredlifetime=604800)
         / ICMPv6NDOptMTU(mtu=1500) / ICMPv6NDOptRDNSS(lifetime=1200, dns=["fd00::53", "fd00::54"])
         / ICMPv6NDOptSrcLLAddr(lladdr=MR),
         "", "router advertisement with prefix, MTU, DNS servers and link-layer address"),
        (eth(MR, MA) / IPv6(src=R6, dst=A6) / ICMPv6ND_Redirect(tgt="fd00::fd", dst="fd00::99")
         / ICMPv6NDOptDstLLAddr(lladdr="02:00:00:00:10:fd"), "", "redirect"),
        (eth(MB, MA) / IPv6(src=B6, dst=A6) / ICMPv6DestUnreach(code=4) / raw(dns),
         "", "ICMPv6 port unreachable quoting the whole DNS query"),
        (eth(MR, MA) / IPv6(src=R6, dst=A6) / ICMPv6TimeExceeded() / raw(ping)[:48],
         "", "ICMPv6 time exceeded quoting 48 bytes of an echo request"),
        (eth(MR, MA) / IPv6(src=R6, dst=A6) / ICMPv6PacketTooBig(mtu=1280) / raw(quoted_tcp),
         "", "ICMPv6 packet too big quoting a TCP SYN"),
        (eth(MB, MA) / IPv6(src=B6, dst=A6) / ICMPv6ParamProblem(code=1, ptr=40)
         / raw(IPv6(src=A6, dst=B6, nh=253) / Raw(b"experiment")),
         "", "ICMPv6 parameter problem (unknown next header)"),
        (Ether(src=MA, dst="33:33:00:00:00:16") / IPv6(src=A6, dst="ff02::16", hlim=1)
         / IPv6ExtHdrHopByHop(options=[RouterAlert()])
         / ICMPv6MLReport2(records=[ICMPv6MLDMultAddrRec(rtype=4, dst="ff02::fb")]),
         "", "MLDv2 report behind a router alert"),
        (eth() / IPv6(src=A6, dst=B6) / IPv6ExtHdrHopByHop(options=[PadN(optdata=b"\0\0")])
         / IPv6ExtHdrDestOpt() / UDP(sport=7001, dport=7002) / b"options",
         "", "Hop-by-Hop and Destination options"),
        (eth() / IPv6(src=A6, dst=R6) / IPv6ExtHdrRouting(addresses=["fd00::10", B6])
         / UDP(sport=7003, dport=7004) / b"source route",
         "", "type 0 routing header, UDP checksum to the final destination"),
        (eth() / IPv6(src=A6, dst=R6) / IPv6ExtHdrSegmentRouting(addresses=[B6, "fd00::10"])
         / TCP(sport=7005, dport=7006, flags="S"),
         "", "segment routing header, TCP checksum to the final destination"),
    ] + [
        (eth() / f, "", f"IPv6 fragment {i + 1} of {len(frags)} of a UDP datagram")
        for i, f in enumerate(frags)
    ] + [
        (eth() / IP(src=A, dst=B) / IPv6(src=A6, dst=B6) / UDP(sport=7007, dport=7008) / b"6in4",
         "", "IPv6 in IPv4"),
        (eth() / IPv6(src=A6, dst=B6) / IP(src=A, dst=B) / ICMP(id=3, seq=3) / b"4in6",
         "", "IPv4 in IPv6"),
        (eth() / Dot1Q(vlan=66, prio=2) / IPv6(src=A6, dst=B6) / UDP(sport=7009, dport=7010) / b"vlan",
         "", "802.1Q-tagged IPv6"),
        (Ether(raw(eth() / IPv6(src=A6, dst=B6) / UDP(sport=7011, dport=7012) / b"pad") + b"\xa5\xa5"),
         "", "bytes past the IPv6 payload length"),
        (eth() / IPv6(src=A6, dst=B6) / ICMPv6EchoRequest(id=1, seq=2, cksum=0xBAD6),
         "ICMPv6", "ICMPv6 checksum wrong on purpose"),
        (eth() / IPv6(src=A6, dst=B6) / UDP(sport=7013, dport=7014, chksum=0) / b"no checksum",
         "UDP", "UDP over IPv6 without a checksum (0): not allowed (RFC 8200)"),
        (summed_to_first_hop(), "UDP",
         "routed UDP with its checksum summed to the first hop, not the final destination"),
        (eth() / IPv6(src=A6, dst=B6) / TCP(sport=7017, dport=7018, flags="R", chksum=0x0BAD),
         "TCP", "IPv6 TCP RST, checksum wrong on purpose"),
    ]


def frames():
    syn = IP(src=A, dst=B, id=54321, flags="DF", ttl=64) / TCP(
        sport=45678, dport=443, seq=123456789, flags="S", window=64240,
        options=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (12345, 0)),
                 ("NOP", None), ("WScale", 7)])
    synack = IP(src=B, dst=A, id=0, flags="DF", ttl=63) / TCP(
        sport=443, dport=45678, seq=987654321, ack=123456790, flags="SA", window=65160,
        options=[("MSS", 1400), ("NOP", None), ("NOP", None), ("SAckOK", b""),
                 ("NOP", None), ("WScale", 10)])
    dns = IP(src=A, dst=B, id=4242) / UDP(sport=53535, dport=53) / DNS(
        id=0xBEEF, rd=1, qd=DNSQR(qname="example.com", qtype="A"))
    ping = IP(src=A, dst=B, id=7, ttl=1) / ICMP(id=0x1234, seq=1) / Raw(bytes(range(56)))
    return [
        (eth() / syn, "", "TCP SYN with MSS, SAckOK, timestamps, NOP, window scale"),
        (eth(MB, MA) / synack, "", "TCP SYN-ACK with options"),
        (eth() / dns, "", "UDP DNS query"),
        (eth(MB, MA) / IP(src=B, dst=A) / ICMP(type=3, code=3) / Raw(raw(dns)),
         "", "ICMP port unreachable quoting the whole DNS query"),
        (eth(MB, MA) / IP(src=B, dst=A) / ICMP(type=3, code=3) / Raw(raw(dns)[:28]),
         "", "ICMP port unreachable quoting the IP header and 8 bytes"),
        (eth() / ping, "", "ICMP echo request with 56 bytes of data"),
        (eth(MB, MA) / IP(src=R, dst=A) / ICMP(type=11, code=0) / Raw(raw(ping)[:28]),
         "", "ICMP time exceeded quoting an echo request's IP header and 8 bytes (traceroute -I)"),
        (pad60(eth() / IP(src=A, dst=B) / TCP(sport=45678, dport=443, flags="A",
                                                seq=123456790, ack=987654322)),
         "", "TCP ACK padded to 60 bytes"),
        (pad60(eth(MB, "ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=MB, psrc=B, pdst=A)),
         "", "ARP request padded to 60 bytes"),
        (eth() / Dot1Q(vlan=42, prio=5) / IP(src=A, dst=B) / UDP(sport=1234, dport=5678) / b"vlan",
         "", "802.1Q-tagged UDP"),
        (eth() / IP(src=A, dst=B, options=[IPOption_RR(routers=["198.18.1.254", "0.0.0.0"])])
         / UDP(sport=41111, dport=42222) / b"rr", "", "IP record-route option"),
        (eth() / IP(src=A, dst=B) / UDP(sport=3333, dport=4444, chksum=0) / b"no checksum",
         "", "UDP without a checksum (0)"),
        (eth() / IP(src=A, dst=B, chksum=0x1234) / ICMP(id=1, seq=1) / b"bad ip",
         "IPv4", "IP header checksum wrong on purpose"),
        (eth() / IP(src=A, dst=B) / UDP(sport=5555, dport=6666, chksum=0xBEEF) / b"bad udp",
         "UDP", "UDP checksum wrong on purpose"),
        (pad60(eth() / IP(src=A, dst=B) / TCP(sport=7777, dport=8888, flags="R", chksum=0x0BAD)),
         "TCP", "TCP RST, checksum wrong on purpose, padded"),
    ]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    fs = frames() + frames6()
    pkts = []
    for i, (f, _, _) in enumerate(fs):
        f.time = 1700000000 + i
        pkts.append(f)
    wrpcap(sys.argv[1], pkts)
    for i, (_, bad, what) in enumerate(fs, start=1):
        print(f"{i}\t{bad}\t{what}")


if __name__ == "__main__":
    main()
