#!/usr/bin/env python3
"""Scapy peer of bench/count.rhai: counts the packets of a capture per protocol.

    python3 bench/scapy_count.py FILE.pcap

Prints the same lines as count.rhai, then `loop_seconds S`: the time of the
PcapReader loop alone (without Python's start-up and Scapy's import), from
which bench/run.sh computes packets/s.
"""
import sys
import time

from scapy.all import ARP, ICMP, IP, TCP, UDP, Dot1Q, PcapReader

c = dict(total=0, arp=0, ipv4=0, icmp=0, udp=0, tcp=0, vlan=0, other=0)
t0 = time.perf_counter()
for p in PcapReader(sys.argv[1]):
    c["total"] += 1
    if Dot1Q in p:
        c["vlan"] += 1
    if IP in p:
        c["ipv4"] += 1
        if TCP in p:
            c["tcp"] += 1
        elif UDP in p:
            c["udp"] += 1
        elif ICMP in p:
            c["icmp"] += 1
    elif ARP in p:
        c["arp"] += 1
    else:
        c["other"] += 1
dt = time.perf_counter() - t0
for k, v in c.items():
    print(k, v)
print("loop_seconds", f"{dt:.3f}")
