//! IPv6 extension headers (RFC 8200 section 4): Hop-by-Hop, Destination
//! options, Routing, Fragment.
//!
//! Each is a layer bound to its IP protocol number, so any of them stacks
//! on IPv6 (or on another extension header) and is followed by whatever its
//! `nh` names. Their [`ExtOps`] let the IPv6 layer below see through them:
//! a Routing header with segments left names the final destination of the
//! upper-layer pseudo-header, a Fragment header says the payload is a
//! fragment.

use super::ipv4::IP_PROTOS;
use super::items::{Codec, OptSpec, OptVal, Tlv, Tree};
use super::{Auto, Binding, Changed, ExtOps, Field, Kind, Lookup, Next, Proto, Space};
use crate::packet::Packet;
use std::net::{IpAddr, Ipv6Addr};

/// Next header, in every extension header.
const fn nh_field() -> Field {
    Field::new(
        "nh",
        0,
        8,
        Kind::Enum(IP_PROTOS),
        "next header: protocol of what follows (follows the layer above unless set)",
    )
    .auto(Auto::Next)
    .space(Space::IpProto)
}

/// Header length in 8-octet units minus one (Hop-by-Hop, Destination options, Routing).
const fn len_field() -> Field {
    Field::new(
        "len",
        8,
        8,
        Kind::Int,
        "header length in 8-byte units, not counting the first 8 (computed unless set)",
    )
    .auto(Auto::Len)
}

/// A header as long as its length byte says: (len + 1) * 8 bytes.
fn len8(b: &[u8]) -> usize {
    b.get(1).map_or(8, |&l| (l as usize + 1) * 8)
}

fn next(h: &[u8], _payload: &[u8], lookup: &Lookup) -> Option<Next> {
    lookup(Space::IpProto, super::read_bits(h, 0, 8)).map(Next::plain)
}

/// Replies carry their own extension headers; the layers around decide.
fn answers_any(_: &Packet, _: usize, _: &Packet, _: usize) -> bool {
    true
}

// ---- Hop-by-Hop and Destination options -----------------------------------

/// The options Scapy knows by class (RFC 8200, RFC 2711, RFC 2675, RFC 6275).
static OPTION_KINDS: &[OptSpec] = &[
    OptSpec {
        kind: 0,
        name: "Pad1",
        val: OptVal::Single,
    },
    OptSpec {
        kind: 1,
        name: "PadN",
        val: OptVal::Bytes,
    },
    OptSpec {
        kind: 5,
        name: "RouterAlert",
        val: OptVal::Uint(2),
    },
    OptSpec {
        kind: 0xc2,
        name: "Jumbo",
        val: OptVal::Uint(4),
    },
    OptSpec {
        kind: 0xc9,
        name: "HAO",
        val: OptVal::Ipv6,
    },
];

static TLV: Tlv = Tlv {
    specs: OPTION_KINDS,
    len_counts_header: false,
    end: None,
    align: 8,
};

const OPTIONS_HELP: &str = "write [[\"RouterAlert\", 0]], [[\"Jumbo\", 70000]], [[\"HAO\", \"2001:db8::1\"]], [[\"PadN\", 0x0000]] or [type, blob] for any other type; the header is padded to 8 bytes with Pad1/PadN, and options to their alignment, as Scapy does";

static HBH_OPTIONS: Codec = Codec {
    type_name: "IPv6 options",
    decode: |b| TLV.decode(b),
    encode: |t| TLV.encode(t, "hopbyhop.options"),
    help: OPTIONS_HELP,
};

static DEST_OPTIONS: Codec = Codec {
    type_name: "IPv6 options",
    decode: |b| TLV.decode(b),
    encode: |t| TLV.encode(t, "destopt.options"),
    help: OPTIONS_HELP,
};

const OPTIONS_DOC: &str = "options as [name, value] pairs: [[\"RouterAlert\", 0], [\"PadN\", 0x]] (padded to 8 bytes when built)";

static HBH_FIELDS: &[Field] = &[
    nh_field(),
    len_field(),
    Field::new("options", 16, 0, Kind::List(&HBH_OPTIONS), OPTIONS_DOC),
];

static DEST_FIELDS: &[Field] = &[
    nh_field(),
    len_field(),
    Field::new("options", 16, 0, Kind::List(&DEST_OPTIONS), OPTIONS_DOC),
];

const OPT_LEN: usize = super::field_id(HBH_FIELDS, "len");
const _: () = assert!(OPT_LEN == super::field_id(DEST_FIELDS, "len"));

/// Scapy's IPv6ExtHdrHopByHop() and IPv6ExtHdrDestOpt(): no next header,
/// the options a PadN of four zero bytes.
const OPTIONS_TEMPLATE: &[u8] = &[59, 0, 1, 4, 0, 0, 0, 0];

static NO_EXT: ExtOps = ExtOps {
    fragment: |_| false,
    final_dst: |_| None,
    final_src: |_| None,
};

static DESTOPT_EXT: ExtOps = ExtOps {
    fragment: |_| false,
    final_dst: |_| None,
    final_src: |h| home_address(h).map(std::net::IpAddr::V6),
};

pub static HOPBYHOP: Proto = Proto {
    name: "IPv6ExtHdrHopByHop",
    accessor: "hopbyhop",
    aliases: &["HBH"],
    doc: "IPv6 Hop-by-Hop options header.",
    fields: HBH_FIELDS,
    template: OPTIONS_TEMPLATE,
    min_len: 8,
    header_len: len8,
    next,
    bindings: &[Binding::new(Space::IpProto, 0)],
    build: build_options,
    answers: answers_any,
    ext: Some(&NO_EXT),
    pseudo_fields: &["nh"],
    ..super::BASE
};

pub static DESTOPT: Proto = Proto {
    name: "IPv6ExtHdrDestOpt",
    accessor: "destopt",
    doc: "IPv6 Destination options header.",
    fields: DEST_FIELDS,
    template: OPTIONS_TEMPLATE,
    min_len: 8,
    header_len: len8,
    next,
    bindings: &[Binding::new(Space::IpProto, 60)],
    build: build_options,
    answers: answers_any,
    ext: Some(&DESTOPT_EXT),
    // A Home Address option stands for the source in the pseudo-header.
    pseudo_fields: &["nh", "options"],
    ..super::BASE
};

/// The alignment Scapy gives an option type, `(x, y)` for xn+y from the
/// start of the header (RFC 8200 section 4.2).
fn alignment(kind: u8) -> Option<(usize, usize)> {
    match kind {
        5 | 0x63 => Some((2, 0)), // Router Alert, RPL
        0xc2 => Some((4, 2)),     // Jumbo Payload
        0xc9 => Some((8, 6)),     // Home Address
        _ => None,
    }
}

/// `n` bytes of padding: Pad1 for one, PadN for more.
fn push_pad(out: &mut Vec<u8>, n: usize) {
    match n {
        0 => {}
        1 => out.push(0),
        n => {
            out.push(1);
            out.push((n - 2) as u8);
            out.resize(out.len() + n - 2, 0);
        }
    }
}

/// The options padded as Scapy pads them: each known option moved to its
/// alignment, the header to a multiple of 8 bytes. Well-aligned options
/// come back unchanged; a malformed tail is kept as it is.
fn pad_options(opts: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(opts.len() + 8);
    let mut i = 0;
    while let Some(&kind) = opts.get(i) {
        if kind == 0 {
            out.push(0);
            i += 1;
            continue;
        }
        let Some(&len) = opts.get(i + 1) else {
            break;
        };
        let end = i + 2 + len as usize;
        if end > opts.len() {
            break;
        }
        if let Some((x, y)) = alignment(kind) {
            let pos = 2 + out.len();
            push_pad(&mut out, (y + x - pos % x) % x);
        }
        out.extend_from_slice(&opts[i..end]);
        i = end;
    }
    out.extend_from_slice(&opts[i..]);
    let pos = 2 + out.len();
    push_pad(&mut out, (8 - pos % 8) % 8);
    out
}

fn build_options(p: &mut Packet, idx: usize, ch: Changed) {
    if !ch.this {
        return;
    }
    if p.touched_any(idx, &["options"]) {
        let h = p.header(idx);
        let opts = h.get(2..).unwrap_or(&[]);
        let padded = pad_options(opts);
        if padded != opts {
            let hl = h.len();
            p.splice(idx, 2.min(hl)..hl, &padded);
        }
    }
    let hl = p.header(idx).len();
    p.write_auto(idx, OPT_LEN, (hl / 8).saturating_sub(1).min(255) as u64);
}

/// The home address a Destination options header carries (Mobile IPv6),
/// if it has a well-formed Home Address option.
pub fn home_address(h: &[u8]) -> Option<Ipv6Addr> {
    let opts = h.get(2..)?;
    let mut i = 0;
    while let Some(&kind) = opts.get(i) {
        if kind == 0 {
            i += 1;
            continue;
        }
        let len = *opts.get(i + 1)? as usize;
        let data = opts.get(i + 2..i + 2 + len)?;
        if kind == 0xc9 && len == 16 {
            let a: [u8; 16] = data.try_into().ok()?;
            return Some(Ipv6Addr::from(a));
        }
        i += 2 + len;
    }
    None
}

// ---- Routing ---------------------------------------------------------------

static ROUTING_TYPES: &[(u64, &str)] = &[
    (0, "source-route"),
    (2, "mobile-ipv6"),
    (3, "rpl"),
    (4, "segment-routing"),
];

static ADDRESSES: Codec = Codec {
    type_name: "IPv6 addresses",
    decode: super::items::decode_ipv6_list,
    encode: |t: &Tree| super::items::encode_ipv6_list(t, "routing.addresses"),
    help: "write a list of addresses, like [\"2001:db8::10\", \"2001:db8::20\"]",
};

static ROUTING_FIELDS: &[Field] = &[
    nh_field(),
    len_field(),
    Field::new(
        "type",
        16,
        8,
        Kind::Enum(ROUTING_TYPES),
        "routing type (0: source route, deprecated; 4: segment routing)",
    ),
    Field::new(
        "segleft",
        24,
        8,
        Kind::Int,
        "segments left: addresses still to visit (the number of addresses unless set)",
    )
    .auto(Auto::Derived),
    Field::new(
        "reserved",
        32,
        32,
        Kind::Hex,
        "reserved (type 4: last entry, flags and tag)",
    ),
    Field::new(
        "addresses",
        64,
        0,
        Kind::List(&ADDRESSES),
        "the addresses to visit, in order: [\"2001:db8::10\", \"2001:db8::20\"]",
    ),
];

const RT_LEN: usize = super::field_id(ROUTING_FIELDS, "len");
const RT_TYPE: usize = super::field_id(ROUTING_FIELDS, "type");
const SEGLEFT: usize = super::field_id(ROUTING_FIELDS, "segleft");

static ROUTING_EXT: ExtOps = ExtOps {
    fragment: |_| false,
    final_dst: routing_final_dst,
    final_src: |_| None,
};

pub static ROUTING: Proto = Proto {
    name: "IPv6ExtHdrRouting",
    accessor: "routing",
    doc: "IPv6 Routing header.",
    fields: ROUTING_FIELDS,
    // Scapy's IPv6ExtHdrRouting(): no next header, type 0, no addresses.
    template: &[59, 0, 0, 0, 0, 0, 0, 0],
    min_len: 8,
    header_len: len8,
    next,
    bindings: &[Binding::new(Space::IpProto, 43)],
    build: build_routing,
    answers: answers_any,
    ext: Some(&ROUTING_EXT),
    pseudo_fields: &["nh", "type", "segleft", "addresses"],
    ..super::BASE
};

/// The final destination a Routing header with segments left names: the
/// last address (types 0 and 2), the first for segment routing (type 4,
/// whose list is in reverse order). RPL's compressed addresses (type 3)
/// are not expanded.
fn routing_final_dst(h: &[u8]) -> Option<IpAddr> {
    if ROUTING_FIELDS[SEGLEFT].int(h) == 0 {
        return None;
    }
    let addrs = h.get(8..)?;
    let a: &[u8] = match ROUTING_FIELDS[RT_TYPE].int(h) {
        3 => return None,
        4 => addrs.get(..16)?,
        _ => addrs.chunks_exact(16).last()?,
    };
    let a: [u8; 16] = a.try_into().ok()?;
    Some(IpAddr::V6(Ipv6Addr::from(a)))
}

fn build_routing(p: &mut Packet, idx: usize, ch: Changed) {
    if !ch.this {
        return;
    }
    if p.touched_any(idx, &["addresses"]) {
        let hl = p.header(idx).len();
        if !hl.is_multiple_of(8) {
            p.splice(idx, hl..hl, &vec![0u8; 8 - hl % 8]);
        }
        let h = p.header(idx);
        let n = h.len().saturating_sub(8) / 16;
        // Scapy: every address still to visit; a segment list counts from 0.
        let seg = if ROUTING_FIELDS[RT_TYPE].int(h) == 4 {
            n.saturating_sub(1)
        } else {
            n
        };
        let before = ROUTING_FIELDS[SEGLEFT].int(h);
        p.write_auto(idx, SEGLEFT, seg.min(255) as u64);
        if ROUTING_FIELDS[SEGLEFT].int(p.header(idx)) != before {
            resum_upper(p, idx);
        }
    }
    let hl = p.header(idx).len();
    p.write_auto(idx, RT_LEN, (hl / 8).saturating_sub(1).min(255) as u64);
}

/// Builds again the upper-layer message above the extension header at
/// `idx` after `segleft` changed: builds run innermost first, so its
/// checksum was summed before this header said which destination is final.
fn resum_upper(p: &mut Packet, idx: usize) {
    let Some(up) = (idx + 1..p.layers().len()).find(|&i| p.layers()[i].proto.ext.is_none()) else {
        return;
    };
    let l = p.layers()[up];
    if !l.truncated {
        let lower = Changed {
            lower: true,
            ..Changed::default()
        };
        (l.proto.build)(p, up, lower);
    }
}

// ---- Fragment --------------------------------------------------------------

static FRAGMENT_FIELDS: &[Field] = &[
    nh_field(),
    Field::new("res1", 8, 8, Kind::Int, "reserved"),
    Field::new(
        "offset",
        16,
        13,
        Kind::Int,
        "fragment offset in 8-byte units",
    ),
    Field::new("res2", 29, 2, Kind::Int, "reserved"),
    Field::new("m", 31, 1, Kind::Int, "more fragments follow (1)"),
    Field::new("id", 32, 32, Kind::Hex, "identification"),
];

const OFFSET: usize = super::field_id(FRAGMENT_FIELDS, "offset");
const M: usize = super::field_id(FRAGMENT_FIELDS, "m");
const ID: usize = super::field_id(FRAGMENT_FIELDS, "id");

static FRAGMENT_EXT: ExtOps = ExtOps {
    fragment: is_fragment,
    final_dst: |_| None,
    final_src: |_| None,
};

pub static FRAGMENT: Proto = Proto {
    name: "IPv6ExtHdrFragment",
    accessor: "fragment",
    aliases: &["Frag6"],
    doc: "IPv6 Fragment header.",
    fields: FRAGMENT_FIELDS,
    // Scapy's IPv6ExtHdrFragment(): no next header, offset 0, id 0.
    template: &[59, 0, 0, 0, 0, 0, 0, 0],
    min_len: 8,
    header_len: |_| 8,
    next: fragment_next,
    bindings: &[Binding::new(Space::IpProto, 44)],
    answers: answers_any,
    ext: Some(&FRAGMENT_EXT),
    // Offset and M decide whether the upper layer's checksum can be computed.
    pseudo_fields: &["nh", "offset", "m"],
    ..super::BASE
};

/// The payload is part of a datagram (an offset, or more fragments to come).
fn is_fragment(h: &[u8]) -> bool {
    FRAGMENT_FIELDS[OFFSET].int(h) != 0 || FRAGMENT_FIELDS[M].int(h) == 1
}

fn fragment_next(h: &[u8], payload: &[u8], lookup: &Lookup) -> Option<Next> {
    if FRAGMENT_FIELDS[OFFSET].int(h) != 0 {
        return Some(Next::plain(&super::raw::RAW)); // not the start: no header here
    }
    next(h, payload, lookup)
}

/// ` (frag ID:OFFSET|LENGTH)` for a Fragment header that starts `len`
/// bytes of fragment, offset in bytes, as tcpdump -v prints it; nothing
/// for an atomic fragment.
pub fn fragment_summary(h: &[u8], len: usize) -> String {
    if !is_fragment(h) {
        return String::new();
    }
    format!(
        " (frag {:#x}:{}|{len})",
        FRAGMENT_FIELDS[ID].int(h),
        FRAGMENT_FIELDS[OFFSET].int(h) * 8
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::ipv6::IPV6;
    use crate::layers::{Input, Value, ether::ETHER, udp::UDP};

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    fn idx(p: &Packet, layer: &str) -> usize {
        p.find(layer)
            .unwrap_or_else(|| panic!("no {layer} in {:?}", p.layer_names()))
    }

    fn int(p: &mut Packet, layer: &str, name: &str) -> u64 {
        let i = idx(p, layer);
        let fi = p.field_index(i, name).unwrap();
        match p.get(i, fi).unwrap() {
            Value::Int(v) => v,
            v => panic!("{layer}.{name} is {v:?}"),
        }
    }

    fn text(p: &mut Packet, layer: &str, name: &str) -> String {
        let i = idx(p, layer);
        let fi = p.field_index(i, name).unwrap();
        let v = p.get(i, fi).unwrap();
        crate::layers::format_value(&p.layers()[i].proto.fields[fi], &v)
    }

    fn set(p: &mut Packet, layer: &str, name: &str, v: Input) {
        let i = idx(p, layer);
        let fi = p.field_index(i, name).unwrap();
        p.set(i, fi, &v).unwrap();
    }

    fn layer(proto: &'static Proto, fields: &[(&str, Input)]) -> Packet {
        let mut p = Packet::new_layer(proto);
        for (name, v) in fields {
            let fi = p.field_index(0, name).unwrap();
            p.set(0, fi, v).unwrap();
        }
        p
    }

    /// Ether(dst="02:00:00:00:00:02", src="02:00:00:00:00:01")/IPv6(src=.., dst=..)
    fn ether_ipv6(src: &str, dst: &str, extra: &[(&str, Input)]) -> Packet {
        let mut p = layer(
            &ETHER,
            &[
                ("dst", Input::Str("02:00:00:00:00:02")),
                ("src", Input::Str("02:00:00:00:00:01")),
            ],
        );
        let mut f = vec![("src", Input::Str(src)), ("dst", Input::Str(dst))];
        f.extend(extra.iter().cloned());
        p.stack(&layer(&IPV6, &f));
        p
    }

    fn udp(sport: i64, dport: i64) -> Packet {
        layer(
            &UDP,
            &[("sport", Input::Int(sport)), ("dport", Input::Int(dport))],
        )
    }

    // Scapy 2.8, all after Ether(dst="02:00:00:00:00:02", src="02:00:00:00:00:01"):
    // IPv6(src="fe80::1", dst="ff02::16", hlim=1)/
    //   IPv6ExtHdrHopByHop(options=[RouterAlert(value=0)])/Raw(b"\x8f\0\0\0")
    const HBH: &str = "02000000000202000000000186dd60000000000c0001fe800000000000000000000000000001ff0200000000000000000000000000163b000502000001008f000000";
    // IPv6(src="2001:db8::1", dst="2001:db8::10")/
    //   IPv6ExtHdrRouting(addresses=["2001:db8::10", "2001:db8::20"], segleft=2)/
    //   UDP(sport=1000, dport=2000)/Raw(b"route me")
    // The UDP checksum is over the final destination 2001:db8::20: Scapy,
    // tshark (udp.checksum.status 1) and tcpdump -v ("udp sum ok") agree.
    const RT: &str = "02000000000202000000000186dd6000000000382b4020010db800000000000000000000000120010db8000000000000000000000010110400020000000020010db800000000000000000000001020010db800000000000000000000002003e807d00010de19726f757465206d65";
    // IPv6(src="2001:db8::1", dst="2001:db8::2")/
    //   IPv6ExtHdrFragment(id=0x1234, m=1, offset=0)/
    //   UDP(sport=1000, dport=2000, len=48, chksum=0xabcd)/Raw(b"A" * 16)
    const FRAG1: &str = "02000000000202000000000186dd6000000000202c4020010db800000000000000000000000120010db8000000000000000000000002110000010000123403e807d00030abcd41414141414141414141414141414141";
    // IPv6(src="2001:db8::1", dst="2001:db8::2")/
    //   IPv6ExtHdrFragment(nh=17, id=0x1234, m=0, offset=3)/Raw(b"B" * 16)
    const FRAG2: &str = "02000000000202000000000186dd6000000000182c4020010db800000000000000000000000120010db8000000000000000000000002110000180000123442424242424242424242424242424242";
    // IPv6(src="2001:db8::1", dst="2001:db8::2")/
    //   IPv6ExtHdrDestOpt(options=[HAO(hoa="2001:db8:1::99")])/UDP(sport=9, dport=9)
    // (Scapy pads to HAO's 8n+6 alignment; the UDP checksum uses the home
    // address as source: tshark says good.)
    const DSTHAO: &str = "02000000000202000000000186dd6000000000203c4020010db800000000000000000000000120010db8000000000000000000000002110201020000c91020010db8000100000000000000000099000900090008a3be";
    // Raw IPv6 (link type 229): IPv6(src="2001:db8::1", dst="2001:db8::2", plen=0)/
    //   IPv6ExtHdrHopByHop(options=[Jumbo(jumboplen=70000)])/UDP(sport=1, dport=2)
    const JUMBO: &str = "600000000000004020010db800000000000000000000000120010db80000000000000000000000021100c20400011170000100020008a466";

    #[test]
    fn templates_are_scapys() {
        // bytes(IPv6ExtHdrHopByHop()) etc.
        assert_eq!(HOPBYHOP.template, hex("3b00010400000000"));
        assert_eq!(DESTOPT.template, hex("3b00010400000000"));
        assert_eq!(ROUTING.template, hex("3b00000000000000"));
        assert_eq!(FRAGMENT.template, hex("3b00000000000000"));
        // IPv6()/IPv6ExtHdrX(): nh follows the extension header.
        for (proto, want) in [
            (
                &HOPBYHOP,
                "600000000008004000000000000000000000000000000001000000000000000000000000000000013b00010400000000",
            ),
            (
                &DESTOPT,
                "6000000000083c4000000000000000000000000000000001000000000000000000000000000000013b00010400000000",
            ),
            (
                &ROUTING,
                "6000000000082b4000000000000000000000000000000001000000000000000000000000000000013b00000000000000",
            ),
            (
                &FRAGMENT,
                "6000000000082c4000000000000000000000000000000001000000000000000000000000000000013b00000000000000",
            ),
        ] {
            let mut p = Packet::new_layer(&IPV6);
            p.stack(&Packet::new_layer(proto));
            assert_eq!(p.bytes(), hex(want), "{}", proto.name);
            let mut q = Packet::dissect(hex(want), 229);
            assert_eq!(q.layer_names(), ["IPv6", proto.name]);
            assert_eq!(q.bytes(), hex(want));
        }
    }

    #[test]
    fn hop_by_hop_router_alert() {
        let bytes = hex(HBH);
        let mut p = Packet::parse(&bytes);
        assert_eq!(
            p.layer_names(),
            ["Ether", "IPv6", "IPv6ExtHdrHopByHop", "Raw"]
        );
        assert_eq!(text(&mut p, "ipv6", "nh"), "0 (hopopt)");
        assert_eq!(text(&mut p, "hopbyhop", "nh"), "59 (no-next-header)");
        assert_eq!(int(&mut p, "hopbyhop", "len"), 0);
        assert_eq!(
            text(&mut p, "hopbyhop", "options"),
            r#"[["RouterAlert", 0], ["PadN", 0x]]"#
        );
        assert_eq!(p.bytes(), bytes);
        assert_eq!(
            p.summary(),
            "IP6 fe80::1 > ff02::16: no-next-header, length 12"
        );

        let mut b = ether_ipv6("fe80::1", "ff02::16", &[("hlim", Input::Int(1))]);
        b.stack(&layer(
            &HOPBYHOP,
            &[("options", Input::Str(r#"[["RouterAlert", 0]]"#))],
        ));
        b.stack(&Packet::raw(&[0x8f, 0, 0, 0]));
        assert_eq!(b.bytes(), bytes);
    }

    #[test]
    fn options_are_padded_and_aligned_as_scapy_does() {
        // bytes(IPv6ExtHdrHopByHop(options=...)) for each list
        for (opts, want) in [
            (r#"[]"#, "3b00010400000000"),
            (r#"[["RouterAlert", 1]]"#, "3b00050200010100"),
            (r#"[["Jumbo", 70000]]"#, "3b00c20400011170"),
            (
                r#"[["HAO", "2001:db8::1"]]"#,
                "3b0201020000c91020010db8000000000000000000000001",
            ),
            (r#"[["Pad1", ()]]"#, "3b00000103000000"),
            (
                r#"[["PadN", 0x00], ["RouterAlert", 2]]"#,
                "3b010101000005020002010400000000",
            ),
            (r#"[[7, 0x010203]]"#, "3b00070301020300"),
            (r#"[[7, 0x0102030405]]"#, "3b010705010203040501050000000000"),
        ] {
            let mut p = Packet::new_layer(&HOPBYHOP);
            set(&mut p, "hopbyhop", "options", Input::Str(opts));
            assert_eq!(p.bytes(), hex(want), "{opts}");
            let mut q = Packet::new_layer(&DESTOPT);
            set(&mut q, "destopt", "options", Input::Str(opts));
            assert_eq!(q.bytes(), hex(want), "{opts}");
        }
    }

    #[test]
    fn routing_checksum_uses_the_final_destination() {
        let bytes = hex(RT);
        let mut p = Packet::parse(&bytes);
        assert_eq!(
            p.layer_names(),
            ["Ether", "IPv6", "IPv6ExtHdrRouting", "UDP", "Raw"]
        );
        assert_eq!(text(&mut p, "ipv6", "nh"), "43 (ipv6-route)");
        assert_eq!(int(&mut p, "routing", "len"), 4);
        assert_eq!(text(&mut p, "routing", "type"), "0 (source-route)");
        assert_eq!(int(&mut p, "routing", "segleft"), 2);
        assert_eq!(
            text(&mut p, "routing", "addresses"),
            r#"["2001:db8::10", "2001:db8::20"]"#
        );
        assert!(p.bad_checksums().is_empty());
        assert_eq!(p.bytes(), bytes);

        let mut b = ether_ipv6("2001:db8::1", "2001:db8::10", &[]);
        b.stack(&layer(
            &ROUTING,
            &[(
                "addresses",
                Input::Str(r#"["2001:db8::10", "2001:db8::20"]"#),
            )],
        ));
        b.stack(&udp(1000, 2000));
        b.stack(&Packet::raw(b"route me"));
        assert_eq!(b.bytes(), bytes);

        // Editing the final address re-sums UDP (Scapy: 0xde18 after
        // p[IPv6ExtHdrRouting].addresses = ["2001:db8::10", "2001:db8::21"]).
        set(
            &mut p,
            "routing",
            "addresses",
            Input::Str(r#"["2001:db8::10", "2001:db8::21"]"#),
        );
        assert_eq!(int(&mut p, "udp", "chksum"), 0xde18);
        // With no segments left the header's own destination counts.
        set(&mut p, "routing", "segleft", Input::Int(0));
        set(&mut p, "udp", "sport", Input::Int(1000));
        assert!(p.bad_checksums().is_empty());
        assert_eq!(int(&mut p, "udp", "chksum"), 0xde29);
    }

    #[test]
    fn segment_routing_checksum_uses_the_first_address() {
        // IPv6(src="2001:db8::1", dst="2001:db8::30")/IPv6ExtHdrSegmentRouting(
        //   addresses=["2001:db8::10", "2001:db8::20", "2001:db8::30"], segleft=1)/
        //   UDP(sport=1000, dport=2000)/Raw(b"srv6")   (tshark: checksum good)
        let bytes = hex(
            "02000000000202000000000186dd6000000000442b4020010db800000000000000000000000120010db8000000000000000000000030110604010200000020010db800000000000000000000001020010db800000000000000000000002020010db800000000000000000000003003e807d0000caef273727636",
        );
        let mut p = Packet::parse(&bytes);
        assert_eq!(
            p.layer_names(),
            ["Ether", "IPv6", "IPv6ExtHdrRouting", "UDP", "Raw"]
        );
        assert_eq!(text(&mut p, "routing", "type"), "4 (segment-routing)");
        assert!(p.bad_checksums().is_empty());
        assert_eq!(p.bytes(), bytes);

        // bytes(IPv6ExtHdrSegmentRouting(addresses=["2001:db8::10", "2001:db8::20"])):
        // a segment list counts segments left from 0 (lastentry is ours to give).
        let mut r = layer(
            &ROUTING,
            &[
                ("type", Input::Int(4)),
                ("reserved", Input::Int(0x0100_0000)),
                (
                    "addresses",
                    Input::Str(r#"["2001:db8::10", "2001:db8::20"]"#),
                ),
            ],
        );
        assert_eq!(
            r.bytes(),
            hex("3b0404010100000020010db800000000000000000000001020010db8000000000000000000000020")
        );
    }

    #[test]
    fn first_and_later_fragments() {
        let bytes = hex(FRAG1);
        let mut p = Packet::parse(&bytes);
        assert_eq!(
            p.layer_names(),
            ["Ether", "IPv6", "IPv6ExtHdrFragment", "UDP", "Raw"]
        );
        assert_eq!(int(&mut p, "fragment", "nh"), 17);
        assert_eq!(int(&mut p, "fragment", "offset"), 0);
        assert_eq!(int(&mut p, "fragment", "m"), 1);
        assert_eq!(int(&mut p, "fragment", "id"), 0x1234);
        // The checksum covers bytes that are not here: nothing to check.
        assert!(p.bad_checksums().is_empty());
        let u = idx(&p, "udp");
        assert!(p.checksum_status(u).is_none());
        assert_eq!(p.bytes(), bytes);

        let mut b = ether_ipv6("2001:db8::1", "2001:db8::2", &[]);
        b.stack(&layer(
            &FRAGMENT,
            &[("id", Input::Int(0x1234)), ("m", Input::Int(1))],
        ));
        let mut u = udp(1000, 2000);
        set(&mut u, "udp", "len", Input::Int(48));
        set(&mut u, "udp", "chksum", Input::Int(0xabcd));
        b.stack(&u);
        b.stack(&Packet::raw(&[b'A'; 16]));
        assert_eq!(b.bytes(), bytes);
        // An edit of the addresses leaves a fragment's checksum alone.
        set(&mut p, "ipv6", "src", Input::Str("2001:db8::7"));
        assert_eq!(int(&mut p, "udp", "chksum"), 0xabcd);

        let bytes = hex(FRAG2);
        let mut p = Packet::parse(&bytes);
        assert_eq!(
            p.layer_names(),
            ["Ether", "IPv6", "IPv6ExtHdrFragment", "Raw"]
        );
        assert_eq!(int(&mut p, "fragment", "offset"), 3);
        assert_eq!(int(&mut p, "fragment", "m"), 0);
        assert_eq!(
            p.summary(),
            "IP6 2001:db8::1 > 2001:db8::2: udp, length 24 (frag 0x1234:24|16)"
        );
        assert_eq!(p.bytes(), bytes);
    }

    #[test]
    fn home_address_stands_for_the_source() {
        let bytes = hex(DSTHAO);
        let mut p = Packet::parse(&bytes);
        assert_eq!(
            p.layer_names(),
            ["Ether", "IPv6", "IPv6ExtHdrDestOpt", "UDP"]
        );
        assert_eq!(
            text(&mut p, "destopt", "options"),
            r#"[["PadN", 0x0000], ["HAO", "2001:db8:1::99"]]"#
        );
        assert!(p.bad_checksums().is_empty());
        assert_eq!(p.bytes(), bytes);

        let mut b = ether_ipv6("2001:db8::1", "2001:db8::2", &[]);
        b.stack(&layer(
            &DESTOPT,
            &[("options", Input::Str(r#"[["HAO", "2001:db8:1::99"]]"#))],
        ));
        b.stack(&udp(9, 9));
        assert_eq!(b.bytes(), bytes);
    }

    #[test]
    fn jumbogram_runs_to_the_end() {
        let bytes = hex(JUMBO);
        let mut p = Packet::dissect(bytes.clone(), 229);
        assert_eq!(p.layer_names(), ["IPv6", "IPv6ExtHdrHopByHop", "UDP"]);
        assert_eq!(text(&mut p, "hopbyhop", "options"), r#"[["Jumbo", 70000]]"#);
        assert!(p.bad_checksums().is_empty());
        assert_eq!(p.bytes(), bytes);
    }

    #[test]
    fn no_panic_on_short_or_odd_headers() {
        for frame in [HBH, RT, FRAG1, FRAG2, DSTHAO] {
            let full = hex(frame);
            for n in 0..full.len() {
                let mut p = Packet::parse(&full[..n]);
                let _ = p.summary();
                let _ = p.details();
                let _ = p.bad_checksums();
                assert_eq!(p.bytes(), &full[..n]);
            }
            // Lengths and counts past the end.
            for at in [55, 56, 57] {
                let mut odd = full.clone();
                odd[at] = 0xff;
                let mut p = Packet::parse(&odd);
                let _ = p.summary();
                let _ = p.details();
                let _ = p.bad_checksums();
                assert_eq!(p.bytes(), odd);
            }
        }
        for h in [&[][..], &[0xc9], &[0, 0, 0xc9, 16, 1], &[0, 0, 1, 200, 0]] {
            assert_eq!(home_address(h), None);
            let _ = pad_options(h);
            let _ = routing_final_dst(h);
        }
    }
}
