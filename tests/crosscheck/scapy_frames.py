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


def eth(src=MA, dst=MB):
    return Ether(src=src, dst=dst)


def pad60(frame):
    """Pads a frame to Ethernet's minimum as a NIC does."""
    b = raw(frame)
    return Ether(b + b"\x00" * max(0, 60 - len(b)))


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
    fs = frames()
    pkts = []
    for i, (f, _, _) in enumerate(fs):
        f.time = 1700000000 + i
        pkts.append(f)
    wrpcap(sys.argv[1], pkts)
    for i, (_, bad, what) in enumerate(fs, start=1):
        print(f"{i}\t{bad}\t{what}")


if __name__ == "__main__":
    main()
