#!/usr/bin/env python3
"""Prints the fields Scapy decodes from a capture, in the format of dump.rhai.

usage: scapy_dump.py FILE.pcap...

For each file, one tab-separated line per frame after a header line naming the columns
(tshark's field names, the same list as dump.rhai). Numbers in decimal,
addresses as text, bytes in lowercase hex; a field found in several layers
(an ICMP error quoting a packet) lists every occurrence, outermost first,
separated by commas. "*" marks a column Scapy does not decode (Wake-on-LAN).

Checksum status (1 good, 0 bad, 2 not verifiable) is Scapy's own verdict:
the layer is copied with its checksum deleted, rebuilt with raw(), and the
checksum Scapy computes is compared with the one in the capture. Checksums
that cannot be verified from the bytes are 2: transport checksums inside IP
fragments, layers quoted in an ICMP error when the quote is cut short,
truncated headers, and UDP's "no checksum" (0) over IPv4 (over IPv6 it is
not allowed: 0).

The last column, pktscript.bad_checksums, lists the layers (pktscript's
names) whose status is 0.
"""

import sys
import warnings

warnings.filterwarnings("ignore")

try:
    from scapy.all import (  # noqa: E402
        ARP,
        ICMP,
        IP,
        TCP,
        UDP,
        Dot1Q,
        Dot3,
        Ether,
        ICMPerror,
        IPerror,
        IPerror6,
        IPv6,
        IPv6ExtHdrDestOpt,
        IPv6ExtHdrFragment,
        IPv6ExtHdrHopByHop,
        IPv6ExtHdrRouting,
        IPv6ExtHdrSegmentRouting,
        NoPayload,
        Padding,
        TCPerror,
        UDPerror,
        bind_layers,
        raw,
        rdpcap,
    )
except ImportError as e:  # pragma: no cover - reported by the Rust test
    sys.exit(f"scapy is not installed ({e}): python3 -m pip install scapy")

# RARP (RFC 903) is ARP's packet in EtherType 0x8035; Scapy binds only 0x0806.
bind_layers(Ether, ARP, type=0x8035)

COLUMNS = [
    "frame.number", "frame.len",
    "eth.dst", "eth.src", "eth.type", "eth.padding",
    "vlan.priority", "vlan.dei", "vlan.id", "vlan.etype",
    "arp.hw.type", "arp.proto.type", "arp.opcode", "arp.src.hw_mac", "arp.src.proto_ipv4",
    "arp.dst.hw_mac", "arp.dst.proto_ipv4",
    "ip.version", "ip.hdr_len", "ip.dsfield", "ip.len", "ip.id", "ip.flags", "ip.frag_offset",
    "ip.ttl", "ip.proto", "ip.checksum", "ip.checksum.status", "ip.src", "ip.dst", "ip.opt.type",
    "ipv6.version", "ipv6.tclass", "ipv6.flow", "ipv6.plen", "ipv6.nxt", "ipv6.hlim", "ipv6.src", "ipv6.dst",
    "ipv6.hopopts.nxt", "ipv6.hopopts.len", "ipv6.dstopts.nxt", "ipv6.dstopts.len",
    "ipv6.opt.type", "ipv6.opt.length", "ipv6.opt.router_alert",
    "ipv6.routing.nxt", "ipv6.routing.len", "ipv6.routing.type", "ipv6.routing.segleft",
    "ipv6.routing.src.addr", "ipv6.routing.mipv6.home_address", "ipv6.routing.srh.last_entry",
    "ipv6.routing.srh.addr",
    "ipv6.fraghdr.nxt", "ipv6.fraghdr.offset", "ipv6.fraghdr.more", "ipv6.fraghdr.ident",
    "icmp.type", "icmp.code", "icmp.checksum", "icmp.checksum.status", "icmp.ident", "icmp.seq",
    "icmp.redir_gw", "icmp.mtu", "icmp.pointer", "icmp.originate_timestamp",
    "icmp.receive_timestamp", "icmp.transmit_timestamp", "icmp.address_mask",
    "icmpv6.type", "icmpv6.code", "icmpv6.checksum", "icmpv6.checksum.status",
    "icmpv6.echo.identifier", "icmpv6.echo.sequence_number", "icmpv6.mtu", "icmpv6.pointer",
    "icmpv6.nd.ra.cur_hop_limit", "icmpv6.nd.ra.flag", "icmpv6.nd.ra.router_lifetime",
    "icmpv6.nd.ra.reachable_time", "icmpv6.nd.ra.retrans_timer",
    "icmpv6.nd.ns.target_address", "icmpv6.nd.na.flag.r", "icmpv6.nd.na.flag.s",
    "icmpv6.nd.na.flag.o", "icmpv6.nd.na.target_address", "icmpv6.nd.rd.target_address",
    "icmpv6.rd.na.destination_address",
    "icmpv6.opt.type", "icmpv6.opt.length", "icmpv6.opt.linkaddr", "icmpv6.opt.prefix.length",
    "icmpv6.opt.prefix.flag", "icmpv6.opt.prefix.valid_lifetime",
    "icmpv6.opt.prefix.preferred_lifetime", "icmpv6.opt.prefix", "icmpv6.opt.mtu",
    "icmpv6.opt.rdnss.lifetime", "icmpv6.opt.rdnss",
    "udp.srcport", "udp.dstport", "udp.length", "udp.checksum", "udp.checksum.status",
    "tcp.srcport", "tcp.dstport", "tcp.seq", "tcp.ack", "tcp.hdr_len", "tcp.flags",
    "tcp.window_size_value", "tcp.checksum", "tcp.checksum.status", "tcp.urgent_pointer",
    "tcp.option_kind", "tcp.options.mss_val", "tcp.options.wscale.shift",
    "tcp.options.timestamp.tsval", "tcp.options.timestamp.tsecr", "tcp.len",
    "wol.mac",
    "pktscript.bad_checksums",
]

# Header length each checksummed layer needs, and where its checksum sits.
CHKSUM_OFFSET = {"IPv4": 10, "ICMP": 2, "ICMPv6": 2, "UDP": 6, "TCP": 16}
TCP_OPTION_KINDS = {
    "EOL": 0, "NOP": 1, "MSS": 2, "WScale": 3, "SAckOK": 4, "SAck": 5,
    "Timestamp": 8, "AltChkSum": 14, "AltChkSumOpt": 15, "MD5": 19,
    "Mood": 25, "UTO": 28, "AO": 29, "TFO": 34,
}
ICMP_ERRORS = (3, 4, 5, 11, 12)
ICMPV6_ERRORS = (1, 2, 3, 4)


def layers(pkt):
    out = []
    layer = pkt
    while not isinstance(layer, NoPayload):
        out.append(layer)
        layer = layer.payload
    return out


def kind(layer):
    """pktscript's name for a Scapy layer."""
    if isinstance(layer, (IP, IPerror)):
        return "IPv4"
    if isinstance(layer, (ICMP, ICMPerror)):
        return "ICMP"
    if isinstance(layer, (UDP, UDPerror)):
        return "UDP"
    if isinstance(layer, (TCP, TCPerror)):
        return "TCP"
    if isinstance(layer, (IPv6, IPerror6)):
        return "IPv6"
    name = type(layer).__name__
    # Scapy has a class per ICMPv6 message type (ICMPv6EchoRequest,
    # ICMPv6ND_NS, ...) and per neighbour discovery option (ICMPv6NDOpt...).
    if name.startswith("ICMPv6NDOpt"):
        return "NDOpt"
    if name.startswith("ICMPv6"):
        return "ICMPv6"
    return name


def has(layer, name):
    """Whether the field was dissected from the bytes (not a default of a cut-short header)."""
    return name in layer.fields


def num(v):
    return str(int(v))


def original_len(layer):
    orig = getattr(layer, "original", None)
    return None if orig is None else len(orig)


def checksum_status(pkt, depth, layer, quoted, fragment, quote_complete):
    """1 if Scapy rebuilds the same checksum, 0 if not, 2 if it cannot tell."""
    k = kind(layer)
    if k != "IPv4" and fragment:
        return "2"
    if quoted and k != "IPv4" and not quote_complete:
        return "2"
    if not has(layer, chksum_field(layer)):
        return "2"
    if k == "UDP" and layer.chksum == 0:
        # "No checksum" over IPv4; over IPv6 a checksum is required (RFC 8200).
        return "0" if network_below(layer) == "IPv6" else "2"
    copy = pkt.copy()
    target = layers(copy)[depth]
    setattr(target, chksum_field(layer), None)
    rebuilt = raw(target)
    off = CHKSUM_OFFSET[k]
    if len(rebuilt) < off + 2:
        return "2"
    computed = int.from_bytes(rebuilt[off:off + 2], "big")
    return "1" if computed == getattr(layer, chksum_field(layer)) else "0"


def network_below(layer):
    """pktscript's name for the nearest IPv4 or IPv6 header below a layer."""
    u = layer.underlayer
    while u is not None and kind(u) not in ("IPv4", "IPv6"):
        u = u.underlayer
    return None if u is None else kind(u)


def chksum_field(layer):
    """Scapy calls ICMPv6's checksum cksum, the others' chksum."""
    return "cksum" if kind(layer) == "ICMPv6" else "chksum"


def get(layer, name):
    """A field dissected from the bytes, as a decimal string (None when absent)."""
    return num(layer.fields[name]) if name in layer.fields else None


def ipv6_options(layer):
    """Type and length (None for Pad1) of each Hop-by-Hop or Destination option."""
    out = []
    for o in layer.options:
        if o.otype == 0:
            out.append((0, None))
        else:
            out.append((int(o.otype), int(o.optlen)))
    return out


def ip_option_types(ip):
    """Option type bytes up to the first End-of-Options-List, from the raw header."""
    hdr = raw(ip)[: ip.ihl * 4] if has(ip, "ihl") else b""
    opts = hdr[20:]
    out, k = [], 0
    while k < len(opts):
        out.append(str(opts[k]))
        if opts[k] == 0:
            break
        if opts[k] == 1:
            k += 1
            continue
        if k + 1 >= len(opts) or opts[k + 1] < 2:
            break
        k += opts[k + 1]
    return out


def dump(pkt, number):
    row = {c: [] for c in COLUMNS}

    def add(col, v):
        if v is not None and v != "":
            row[col].append(v)

    add("frame.number", str(number))
    add("frame.len", str(original_len(pkt) or len(pkt)))
    ls = layers(pkt)
    quoted = False
    quote_complete = True
    fragment = False
    bad = []
    for depth, layer in enumerate(ls):
        k = kind(layer)
        status = None
        if k in CHKSUM_OFFSET:
            status = checksum_status(pkt, depth, layer, quoted, fragment, quote_complete)
            if status == "0":
                bad.append(k)
        if isinstance(layer, Ether):
            add("eth.dst", layer.dst)
            add("eth.src", layer.src)
            add("eth.type", num(layer.type))
        elif isinstance(layer, Dot3):
            # Scapy calls a frame whose type is <= 1500 802.3; the two bytes are the same.
            add("eth.dst", layer.dst)
            add("eth.src", layer.src)
            add("eth.type", num(layer.len))
        elif isinstance(layer, Dot1Q):
            add("vlan.priority", num(layer.prio))
            dei = layer.fields.get("dei", layer.fields.get("id"))
            add("vlan.dei", None if dei is None else num(dei))
            add("vlan.id", num(layer.vlan))
            add("vlan.etype", num(layer.type))
        elif isinstance(layer, ARP):
            add("arp.hw.type", num(layer.hwtype))
            add("arp.proto.type", num(layer.ptype))
            add("arp.opcode", num(layer.op))
            if layer.hwlen == 6 and layer.plen == 4:
                add("arp.src.hw_mac", layer.hwsrc)
                add("arp.src.proto_ipv4", layer.psrc)
                add("arp.dst.hw_mac", layer.hwdst)
                add("arp.dst.proto_ipv4", layer.pdst)
        elif k == "IPv4":
            add("ip.version", num(layer.version))
            add("ip.hdr_len", num(layer.ihl * 4))
            add("ip.dsfield", num(layer.tos))
            add("ip.len", num(layer.len))
            add("ip.id", num(layer.id))
            add("ip.flags", num(layer.flags))
            add("ip.frag_offset", num(layer.frag))
            add("ip.ttl", num(layer.ttl))
            add("ip.proto", num(layer.proto))
            add("ip.checksum", num(layer.chksum))
            add("ip.checksum.status", status)
            add("ip.src", layer.src)
            add("ip.dst", layer.dst)
            for t in ip_option_types(layer):
                add("ip.opt.type", t)
            if layer.flags.MF or layer.frag:
                fragment = True
            if quoted:
                # The quoted datagram is complete when its length covers what follows.
                quote_complete = original_len(layer) is not None and original_len(layer) >= layer.len
        elif k == "IPv6":
            add("ipv6.version", num(layer.version))
            add("ipv6.tclass", num(layer.tc))
            add("ipv6.flow", num(layer.fl))
            add("ipv6.plen", num(layer.plen))
            add("ipv6.nxt", num(layer.nh))
            add("ipv6.hlim", num(layer.hlim))
            add("ipv6.src", layer.src)
            add("ipv6.dst", layer.dst)
            if quoted:
                quote_complete = original_len(layer) is not None and original_len(layer) >= 40 + layer.plen
        elif isinstance(layer, (IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt)):
            hdr = "ipv6.hopopts" if isinstance(layer, IPv6ExtHdrHopByHop) else "ipv6.dstopts"
            add(hdr + ".nxt", num(layer.nh))
            add(hdr + ".len", num(layer.len))
            for t, n in ipv6_options(layer):
                add("ipv6.opt.type", str(t))
                add("ipv6.opt.length", None if n is None else str(n))
            for o in layer.options:
                if o.otype == 5 and o.optlen == 2:
                    add("ipv6.opt.router_alert", num(o.value))
        elif isinstance(layer, (IPv6ExtHdrRouting, IPv6ExtHdrSegmentRouting)):
            add("ipv6.routing.nxt", num(layer.nh))
            add("ipv6.routing.len", num(layer.len))
            add("ipv6.routing.type", num(layer.type))
            add("ipv6.routing.segleft", num(layer.segleft))
            col = {0: "ipv6.routing.src.addr", 2: "ipv6.routing.mipv6.home_address",
                   4: "ipv6.routing.srh.addr"}.get(int(layer.type))
            if isinstance(layer, IPv6ExtHdrSegmentRouting):
                add("ipv6.routing.srh.last_entry", num(layer.lastentry))
            if col:
                for a in layer.addresses:
                    add(col, a)
        elif isinstance(layer, IPv6ExtHdrFragment):
            add("ipv6.fraghdr.nxt", num(layer.nh))
            add("ipv6.fraghdr.offset", num(layer.offset))
            add("ipv6.fraghdr.more", num(layer.m))
            add("ipv6.fraghdr.ident", num(layer.id))
            if layer.m or layer.offset:
                fragment = True
        elif k == "ICMPv6":
            t = int(layer.type)
            add("icmpv6.type", num(t))
            # ICMPv6MLReport2 calls its code byte res.
            add("icmpv6.code", get(layer, "code" if "code" in layer.fields else "res"))
            add("icmpv6.checksum", get(layer, "cksum"))
            add("icmpv6.checksum.status", status if has(layer, "cksum") else None)
            if t in (128, 129):
                add("icmpv6.echo.identifier", get(layer, "id"))
                add("icmpv6.echo.sequence_number", get(layer, "seq"))
            if t == 2:
                add("icmpv6.mtu", get(layer, "mtu"))
            if t == 4:
                add("icmpv6.pointer", get(layer, "ptr"))
            if t == 134:
                add("icmpv6.nd.ra.cur_hop_limit", num(layer.chlim))
                add("icmpv6.nd.ra.flag", str(layer.M << 7 | layer.O << 6 | layer.H << 5
                                             | layer.prf << 3 | layer.P << 2 | layer.res))
                add("icmpv6.nd.ra.router_lifetime", num(layer.routerlifetime))
                add("icmpv6.nd.ra.reachable_time", num(layer.reachabletime))
                add("icmpv6.nd.ra.retrans_timer", num(layer.retranstimer))
            if t == 135:
                add("icmpv6.nd.ns.target_address", layer.tgt)
            if t == 136:
                add("icmpv6.nd.na.flag.r", num(layer.R))
                add("icmpv6.nd.na.flag.s", num(layer.S))
                add("icmpv6.nd.na.flag.o", num(layer.O))
                add("icmpv6.nd.na.target_address", layer.tgt)
            if t == 137:
                add("icmpv6.nd.rd.target_address", layer.tgt)
                add("icmpv6.rd.na.destination_address", layer.dst)
            if t in ICMPV6_ERRORS and not quoted:
                quoted = True
        elif k == "NDOpt":
            add("icmpv6.opt.type", num(layer.type))
            add("icmpv6.opt.length", num(layer.len))
            if "lladdr" in layer.fields:
                add("icmpv6.opt.linkaddr", layer.lladdr)
            if layer.type == 3:
                add("icmpv6.opt.prefix.length", num(layer.prefixlen))
                add("icmpv6.opt.prefix.flag", str(layer.L << 7 | layer.A << 6 | layer.R << 5 | layer.res1))
                add("icmpv6.opt.prefix.valid_lifetime", num(layer.validlifetime))
                add("icmpv6.opt.prefix.preferred_lifetime", num(layer.preferredlifetime))
                add("icmpv6.opt.prefix", layer.prefix)
            if layer.type == 5:
                add("icmpv6.opt.mtu", num(layer.mtu))
            if layer.type == 25:
                add("icmpv6.opt.rdnss.lifetime", num(layer.lifetime))
                for a in layer.dns:
                    add("icmpv6.opt.rdnss", a)
        elif k == "ICMP":
            t, code = int(layer.type), int(layer.code)
            add("icmp.type", num(t))
            add("icmp.code", num(code))
            add("icmp.checksum", num(layer.chksum))
            add("icmp.checksum.status", status)
            if t in (0, 8, 13, 14, 15, 16, 17, 18):
                add("icmp.ident", num(layer.id) if has(layer, "id") else None)
                add("icmp.seq", num(layer.seq) if has(layer, "seq") else None)
            if t == 5:
                add("icmp.redir_gw", layer.gw)
            if t == 3 and code == 4:
                add("icmp.mtu", num(layer.nexthopmtu))
            if t == 12:
                add("icmp.pointer", num(layer.ptr))
            if t in (13, 14):
                add("icmp.originate_timestamp", num(layer.ts_ori))
                add("icmp.receive_timestamp", num(layer.ts_rx))
                add("icmp.transmit_timestamp", num(layer.ts_tx))
            if t in (17, 18):
                add("icmp.address_mask", layer.addr_mask)
            if t in ICMP_ERRORS and not quoted:
                quoted = True
        elif k == "UDP":
            add("udp.srcport", num(layer.sport))
            add("udp.dstport", num(layer.dport))
            add("udp.length", num(layer.len))
            add("udp.checksum", num(layer.chksum))
            add("udp.checksum.status", status)
        elif k == "TCP":
            f = layer.fields
            add("tcp.srcport", num(layer.sport))
            add("tcp.dstport", num(layer.dport))
            add("tcp.seq", num(f["seq"]) if "seq" in f else None)
            add("tcp.ack", num(f["ack"]) if "ack" in f else None)
            add("tcp.hdr_len", num(f["dataofs"] * 4) if "dataofs" in f else None)
            add("tcp.flags", num(f["flags"]) if "flags" in f else None)
            add("tcp.window_size_value", num(f["window"]) if "window" in f else None)
            add("tcp.checksum", num(f["chksum"]) if "chksum" in f else None)
            add("tcp.checksum.status", status if "chksum" in f else None)
            add("tcp.urgent_pointer", num(f["urgptr"]) if "urgptr" in f else None)
            for name, value in f.get("options", []):
                add("tcp.option_kind", str(TCP_OPTION_KINDS.get(name, name)))
                if name == "MSS":
                    add("tcp.options.mss_val", num(value))
                elif name == "WScale":
                    add("tcp.options.wscale.shift", num(value))
                elif name == "Timestamp":
                    add("tcp.options.timestamp.tsval", num(value[0]))
                    add("tcp.options.timestamp.tsecr", num(value[1]))
                if name == "EOL":
                    break
            if not quoted and not fragment and "dataofs" in f:
                payload = layer.payload
                n = len(raw(payload)) if not isinstance(payload, NoPayload) else 0
                if payload.haslayer(Padding):
                    n -= len(payload[Padding].load)
                add("tcp.len", str(n))
        elif isinstance(layer, Padding):
            # Ethernet padding: the bytes after an IP datagram or an ARP message.
            if depth > 0 and kind(ls[depth - 1]) != "Dot3":
                add("eth.padding", bytes(layer.load).hex())
    row["wol.mac"] = ["*"]
    row["pktscript.bad_checksums"] = bad
    return "\t".join(",".join(row[c]) for c in COLUMNS)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for path in sys.argv[1:]:
        print("\t".join(COLUMNS))
        for i, pkt in enumerate(rdpcap(path), start=1):
            print(dump(pkt, i))


if __name__ == "__main__":
    main()
