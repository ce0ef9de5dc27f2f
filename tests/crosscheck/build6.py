#!/usr/bin/env python3
"""Builds IPv6 packets with Scapy, with explicit field values, for the
byte-for-byte comparison in tests/scapy_build.rs; build6.rhai builds the
same list with pktscript, in the same order and under the same names.

usage: build6.py

Prints one line per packet: its name, a tab, its bytes in lowercase hex.
"""

import sys
import warnings

warnings.filterwarnings("ignore")

try:
    from scapy.all import (  # noqa: E402
        HAO,
        ICMP,
        IP,
        TCP,
        UDP,
        Dot1Q,
        Ether,
        HBHOptUnknown,
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
        ICMPv6NDOptUnknown,
        ICMPv6PacketTooBig,
        ICMPv6ParamProblem,
        ICMPv6TimeExceeded,
        IPv6,
        IPv6ExtHdrDestOpt,
        IPv6ExtHdrFragment,
        IPv6ExtHdrHopByHop,
        IPv6ExtHdrRouting,
        IPv6ExtHdrSegmentRouting,
        Jumbo,
        PadN,
        Raw,
        RouterAlert,
        raw,
    )
except ImportError as e:  # pragma: no cover - reported by the Rust test
    sys.exit(f"scapy is not installed ({e}): python3 -m pip install scapy")

M1, M2 = "02:00:00:00:60:01", "02:00:00:00:60:02"
A, B, C = "fd00::1", "fd00::2", "fd00::3"


def eth(src=M1, dst=M2):
    return Ether(src=src, dst=dst)


def ip6(**kw):
    kw.setdefault("src", A)
    kw.setdefault("dst", B)
    return IPv6(**kw)


def packets():
    inner_udp = ip6(src=B, dst=C, hlim=1) / UDP(sport=33434, dport=33435) / Raw(b"probe")
    return [
        ("ipv6-fields", eth() / ip6(tc=0xB8, fl=0xABCDE, hlim=7, nh=59) / Raw(b"no next header")),
        ("tcp-syn-options", eth() / ip6(fl=0x12345) / TCP(
            sport=40000, dport=443, seq=0xDEADBEEF, flags="S", window=64800,
            options=[("MSS", 1440), ("SAckOK", b""), ("Timestamp", (123456, 0)),
                     ("NOP", None), ("WScale", 7)])),
        ("tcp-data", eth() / ip6(tc=0x10) / TCP(
            sport=443, dport=40000, seq=1, ack=2, flags="PA", window=501,
            options=[("NOP", None), ("NOP", None), ("Timestamp", (7, 8))]) / Raw(b"hello")),
        ("tcp-urgent", eth() / ip6() / TCP(sport=1, dport=2, flags="UA", urgptr=3, ack=4) / Raw(b"!")),
        ("udp", eth() / ip6() / UDP(sport=5353, dport=5353) / Raw(b"datagram")),
        ("udp-empty", eth() / ip6() / UDP(sport=1000, dport=2000)),
        ("udp-plen-set", eth() / ip6(plen=20) / UDP(sport=1001, dport=2001) / Raw(b"abc")),
        ("echo-request", eth() / ip6(hlim=64) / ICMPv6EchoRequest(id=0x1234, seq=1, data=b"ping6 data")),
        ("echo-reply", eth(M2, M1) / ip6(src=B, dst=A) / ICMPv6EchoReply(id=0x1234, seq=1, data=b"ping6 data")),
        ("echo-empty", eth() / ip6() / ICMPv6EchoRequest(id=0, seq=0)),
        ("ns", Ether(src=M1, dst="33:33:ff:00:00:02") / ip6(dst="ff02::1:ff00:2", hlim=255)
         / ICMPv6ND_NS(tgt=B) / ICMPv6NDOptSrcLLAddr(lladdr=M1)),
        ("ns-dad", Ether(src=M1, dst="33:33:ff:00:00:02") / ip6(src="::", dst="ff02::1:ff00:2", hlim=255)
         / ICMPv6ND_NS(tgt=B)),
        ("ns-nonce", Ether(src=M1, dst="33:33:ff:00:00:02") / ip6(dst="ff02::1:ff00:2", hlim=255)
         / ICMPv6ND_NS(tgt=B) / ICMPv6NDOptUnknown(type=14, data=b"\x01\x02\x03\x04\x05\x06")
         / ICMPv6NDOptSrcLLAddr(lladdr=M1)),
        ("na", eth(M2, M1) / ip6(src=B, dst=A, hlim=255) / ICMPv6ND_NA(tgt=B, R=0, S=1, O=1)
         / ICMPv6NDOptDstLLAddr(lladdr=M2)),
        ("na-router", eth(M2, M1) / ip6(src=B, dst="ff02::1", hlim=255) / ICMPv6ND_NA(tgt=B, R=1, S=0, O=0)),
        ("rs", Ether(src=M1, dst="33:33:00:00:00:02") / ip6(dst="ff02::2", hlim=255)
         / ICMPv6ND_RS() / ICMPv6NDOptSrcLLAddr(lladdr=M1)),
        ("ra", Ether(src=M2, dst="33:33:00:00:00:01") / ip6(src=B, dst="ff02::1", hlim=255)
         / ICMPv6ND_RA(chlim=64, M=1, O=0, H=0, prf=3, P=0, routerlifetime=1800,
                       reachabletime=30000, retranstimer=1000)
         / ICMPv6NDOptPrefixInfo(prefixlen=64, L=1, A=1, validlifetime=86400,
                                 preferredlifetime=14400, prefix="fd00::")
         / ICMPv6NDOptMTU(mtu=1500)
         / ICMPv6NDOptRDNSS(lifetime=600, dns=["fd00::53", "fd00::54"])
         / ICMPv6NDOptSrcLLAddr(lladdr=M2)),
        ("ra-no-options", Ether(src=M2, dst="33:33:00:00:00:01") / ip6(src=B, dst="ff02::1", hlim=255)
         / ICMPv6ND_RA(chlim=0, M=0, O=1, prf=1, routerlifetime=0)),
        ("redirect", eth(M2, M1) / ip6(src=B, dst=A, hlim=255)
         / ICMPv6ND_Redirect(tgt=C, dst="fd00::99") / ICMPv6NDOptDstLLAddr(lladdr="02:00:00:00:60:03")),
        ("dest-unreach-udp", eth(M2, M1) / ip6(src=B, dst=A) / ICMPv6DestUnreach(code=4) / inner_udp),
        ("dest-unreach-cut", eth(M2, M1) / ip6(src=B, dst=A) / ICMPv6DestUnreach(code=3)
         / Raw(raw(inner_udp)[:48])),
        ("packet-too-big-tcp", eth(M2, M1) / ip6(src=C, dst=A) / ICMPv6PacketTooBig(mtu=1280)
         / ip6() / TCP(sport=40000, dport=443, flags="A", seq=5, ack=6) / Raw(b"x" * 40)),
        ("time-exceeded-echo", eth(M2, M1) / ip6(src=C, dst=A) / ICMPv6TimeExceeded(code=0)
         / ip6(hlim=1) / ICMPv6EchoRequest(id=9, seq=9)),
        ("param-problem", eth(M2, M1) / ip6(src=B, dst=A) / ICMPv6ParamProblem(code=1, ptr=40)
         / ip6(nh=253) / Raw(b"experimental")),
        ("hbh-router-alert-mld", Ether(src=M1, dst="33:33:00:00:00:16") / ip6(dst="ff02::16", hlim=1)
         / IPv6ExtHdrHopByHop(options=[RouterAlert(value=0)])
         / ICMPv6MLReport2(records=[ICMPv6MLDMultAddrRec(rtype=4, dst="ff02::fb")])),
        ("hbh-padn-udp", eth() / ip6() / IPv6ExtHdrHopByHop(options=[RouterAlert(value=1), PadN(optdata=b"\0\0\0")])
         / UDP(sport=1, dport=2) / Raw(b"x")),
        ("hbh-unknown-tcp", eth() / ip6() / IPv6ExtHdrHopByHop(options=[HBHOptUnknown(otype=0x3e, optdata=b"abc")])
         / TCP(sport=3, dport=4, flags="S")),
        ("hbh-jumbo", eth() / ip6() / IPv6ExtHdrHopByHop(options=[Jumbo(jumboplen=70000)]) / Raw(b"jumbo")),
        ("destopt-udp", eth() / ip6() / IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\0\0\0\0")])
         / UDP(sport=5, dport=6) / Raw(b"d")),
        ("destopt-hao-udp", eth() / ip6() / IPv6ExtHdrDestOpt(options=[HAO(hoa="fd00::4")])
         / UDP(sport=7, dport=8) / Raw(b"home")),
        ("hbh-destopt-echo", eth() / ip6() / IPv6ExtHdrHopByHop(options=[RouterAlert(value=2)])
         / IPv6ExtHdrDestOpt(options=[HBHOptUnknown(otype=0x1e, optdata=b"\x22\x22")])
         / ICMPv6EchoRequest(id=1, seq=2)),
        ("routing0-udp", eth() / ip6(dst="fd00::10") / IPv6ExtHdrRouting(addresses=["fd00::11", C])
         / UDP(sport=9, dport=10) / Raw(b"routed")),
        ("routing0-segleft0-tcp", eth() / ip6(dst=C) / IPv6ExtHdrRouting(segleft=0, addresses=["fd00::11"])
         / TCP(sport=11, dport=12, flags="S")),
        ("routing2-echo", eth() / ip6(dst="fd00::10") / IPv6ExtHdrRouting(type=2, addresses=["fd00::4"])
         / ICMPv6EchoRequest(id=3, seq=4)),
        ("srh-udp", eth() / ip6(dst="fd00::10") / IPv6ExtHdrSegmentRouting(
            segleft=1, lastentry=1, addresses=[C, "fd00::11"]) / UDP(sport=13, dport=14) / Raw(b"srv6")),
        ("fragment-first", eth() / ip6() / IPv6ExtHdrFragment(nh=17, offset=0, m=1, id=0x12345678)
         / Raw(bytes(range(24)))),
        ("fragment-later", eth() / ip6() / IPv6ExtHdrFragment(nh=17, offset=3, m=0, id=0x12345678)
         / Raw(bytes(range(24, 40)))),
        ("fragment-udp-pinned", eth() / ip6() / IPv6ExtHdrFragment(m=1, id=7)
         / UDP(sport=15, dport=16, chksum=0x1234, len=200) / Raw(b"first piece")),
        ("fragment-atomic-udp", eth() / ip6() / IPv6ExtHdrFragment(id=8) / UDP(sport=17, dport=18) / Raw(b"atomic")),
        ("ipv6-in-ipv4", eth() / IP(src="198.18.0.1", dst="198.18.0.2", id=1) / ip6()
         / UDP(sport=19, dport=20) / Raw(b"6in4")),
        ("ipv4-in-ipv6", eth() / ip6() / IP(src="198.18.0.1", dst="198.18.0.2", id=2)
         / ICMP(id=5, seq=6) / Raw(b"4in6")),
        ("ipv6-in-ipv6", eth() / ip6() / ip6(src=C, dst="fd00::4", hlim=9) / TCP(sport=21, dport=22, flags="R")),
        ("dot1q", eth() / Dot1Q(vlan=600, prio=6) / ip6() / ICMPv6EchoRequest(id=7, seq=8)),
        ("mapped-address", eth() / ip6(src="::ffff:198.18.0.1") / UDP(sport=23, dport=24)),
        ("udp-zero-sum-as-ffff", eth() / ip6() / UDP(sport=25, dport=26) / Raw(b"\x05\xa3")),
        ("udp-chksum-zero", eth() / ip6() / UDP(sport=27, dport=28, chksum=0) / Raw(b"zero")),
    ]


def main():
    for name, p in packets():
        print(f"{name}\t{raw(p).hex()}")


if __name__ == "__main__":
    main()
