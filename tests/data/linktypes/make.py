#!/usr/bin/env python3
"""Writes the captures of tests/linktypes.rs with Scapy (run from this folder).

Linux cooked captures (SLL, link type 113; SLL2, 276) and raw IP (228 raw
IPv4, 229 raw IPv6, 101 raw IP of either version), with fixed times so
that the files do not change when remade.
"""
from scapy.all import (ARP, ICMP, IP, TCP, UDP, CookedLinux, CookedLinuxV2,
                       ICMPv6EchoRequest, IPv6, Raw, wrpcap)

T0 = 1_700_000_000


def timed(pkts):
    for i, p in enumerate(pkts):
        p.time = T0 + i + 0.25
    return pkts


MAC = b"\x02\x00\x00\x00\x00\x01\x00\x00"

sll = timed([
    # Sent by us on lo (tcpdump: Out).
    CookedLinux(pkttype=4, lladdrtype=772, lladdrlen=6, src=b"\0" * 8)
    / IP(src="127.0.0.1", dst="127.0.0.1", id=7)
    / ICMP(id=0x1234, seq=1) / b"hello",
    # Unicast to us on an Ethernet device (In).
    CookedLinux(pkttype=0, lladdrtype=1, lladdrlen=6, src=MAC)
    / IP(src="198.18.0.2", dst="198.18.0.1", ttl=63)
    / UDP(sport=53, dport=1234) / b"xyz",
    # Broadcast (B): an ARP request.
    CookedLinux(pkttype=1, lladdrtype=1, lladdrlen=6, src=MAC, proto=0x0806)
    / ARP(hwsrc="02:00:00:00:00:01", psrc="198.18.0.1", pdst="198.18.0.2"),
    # Multicast (M), 802.2 LLC: Linux's pseudo-protocol 4, not an EtherType.
    CookedLinux(pkttype=2, lladdrtype=1, lladdrlen=6, src=MAC, proto=0x0004)
    / Raw(b"\x42\x42\x03" + b"\0" * 9),
    # Unicast to another host (P), a TCP SYN.
    CookedLinux(pkttype=3, lladdrtype=1, lladdrlen=6, src=MAC)
    / IP(src="198.18.0.3", dst="198.18.0.4")
    / TCP(sport=40000, dport=80, flags="S", seq=1000),
])
wrpcap("sll.pcap", sll, linktype=113)

sll2 = timed([
    CookedLinuxV2(ifindex=3, pkttype=4, lladdrtype=1, lladdrlen=6, src=MAC)
    / IP(src="198.18.0.1", dst="198.18.0.2")
    / TCP(sport=40000, dport=80, flags="S", seq=1000),
    CookedLinuxV2(ifindex=1, pkttype=0, lladdrtype=772, lladdrlen=6)
    / IP(src="127.0.0.1", dst="127.0.0.1") / ICMP(type=0, id=9, seq=2),
    CookedLinuxV2(ifindex=2, pkttype=1, lladdrtype=1, lladdrlen=6, src=MAC,
                  proto=0x0806)
    / ARP(hwsrc="02:00:00:00:00:01", psrc="198.18.0.1", pdst="198.18.0.2"),
    CookedLinuxV2(ifindex=2, pkttype=0, lladdrtype=1, lladdrlen=6, src=MAC,
                  proto=0x86DD)
    / IPv6(src="2001:db8::1", dst="2001:db8::2") / ICMPv6EchoRequest(id=5, seq=1),
])
wrpcap("sll2.pcap", sll2, linktype=276)

v4 = [
    IP(src="10.0.0.1", dst="10.0.0.2") / ICMP(id=1, seq=1),
    IP(src="10.0.0.2", dst="10.0.0.1", flags="DF") / UDP(sport=5353, dport=53) / b"q",
]
wrpcap("raw228.pcap", timed(v4), linktype=228)
v6 = IPv6(src="2001:db8::1", dst="2001:db8::2") / ICMPv6EchoRequest(id=5, seq=1)
wrpcap("raw229.pcap", timed([v6]), linktype=229)
wrpcap("raw101.pcap", timed(
    [IP(src="10.0.0.1", dst="10.0.0.2") / ICMP(id=1, seq=1), v6.copy()]), linktype=101)
