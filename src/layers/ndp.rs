//! Neighbour discovery options (RFC 4861 section 4.6, RFC 8106), each a sub-layer after an ND message.
//!
//! As in Scapy, every option is a small layer of its own, found by its type
//! byte in [`Space::NdOption`] and stacked after the ND message and after one
//! another: `ICMPv6ND_NS(#{tgt: a}) / ICMPv6NDOptSrcLLAddr(#{lladdr: m})`.
//! `len` (in units of 8 bytes, type and length included) is computed unless
//! set, and an option built to a length that is not a multiple of 8 is padded
//! with zeros. The ICMPv6 message covers its options, so an edit of one
//! recomputes the message's checksum.

use super::items::{self, Codec};
use super::{Auto, Binding, Changed, Field, Kind, Lookup, Next, Proto, Space};
use crate::packet::Packet;

/// Option types, for every option's `type` field.
const OPT_TYPES: &[(u64, &str)] = &[
    (1, "src-lladdr"),
    (2, "dst-lladdr"),
    (3, "prefix-info"),
    (4, "redirected-header"),
    (5, "mtu"),
    (14, "nonce"),
    (24, "route-info"),
    (25, "rdnss"),
    (31, "dnssl"),
];

/// The first option of `payload` (the bytes after an ND message or after
/// an option), or nothing when no bytes remain. Types without a layer of
/// their own are [`UNKNOWN`].
pub fn first_option(payload: &[u8], lookup: &Lookup) -> Option<Next> {
    let t = *payload.first()?;
    Some(Next::plain(
        lookup(Space::NdOption, t as u64).unwrap_or(&UNKNOWN),
    ))
}

/// `len` counts 8-byte units; 0 is malformed, and the rest of the bytes are
/// taken as this option (nothing can follow it).
fn header_len(b: &[u8]) -> usize {
    match b.get(1) {
        Some(&n) if n > 0 => n as usize * 8,
        _ => b.len(),
    }
}

fn next(_h: &[u8], payload: &[u8], lookup: &Lookup) -> Option<Next> {
    first_option(payload, lookup)
}

/// Every option table has `len` second (checked at compile time below).
const LEN: usize = 1;

/// Pads the option to a multiple of 8 bytes and computes `len`, unless the
/// script set `len` itself.
fn build(p: &mut Packet, idx: usize, ch: Changed) {
    if !ch.this || p.layers()[idx].quoted || p.is_pinned(idx, LEN) {
        return;
    }
    let hl = p.header(idx).len();
    if !hl.is_multiple_of(8) {
        p.splice(idx, hl..hl, &vec![0u8; 8 - hl % 8]);
    }
    let units = p.header(idx).len() / 8;
    p.write_auto(idx, LEN, units.min(255) as u64);
}

/// Options do not decide whether a message answers another; the message does.
fn answers(_: &Packet, _: usize, _: &Packet, _: usize) -> bool {
    true
}

const fn type_field() -> Field {
    Field::new("type", 0, 8, Kind::Enum(OPT_TYPES), "option type")
}

const fn len_field() -> Field {
    Field::new(
        "len",
        8,
        8,
        Kind::Int,
        "length in units of 8 bytes, type and length included (computed unless set)",
    )
    .auto(Auto::Len)
}

/// The defaults every option shares.
const OPTION: Proto = Proto {
    min_len: 2,
    header_len,
    next,
    build,
    answers,
    option: true,
    ..super::BASE
};

static LLADDR_FIELDS: &[Field] = &[
    type_field(),
    len_field(),
    Field::new("lladdr", 16, 48, Kind::Mac, "link-layer (Ethernet) address"),
];

pub static SRC_LLADDR: Proto = Proto {
    name: "ICMPv6NDOptSrcLLAddr",
    accessor: "ndp_src_lladdr",
    doc: "ND option: source link-layer address (type 1). Scapy fills lladdr from the interface; here it starts as 00:00:00:00:00:00.",
    fields: LLADDR_FIELDS,
    template: &[1, 1, 0, 0, 0, 0, 0, 0],
    bindings: &[Binding::new(Space::NdOption, 1)],
    ..OPTION
};

pub static DST_LLADDR: Proto = Proto {
    name: "ICMPv6NDOptDstLLAddr",
    accessor: "ndp_dst_lladdr",
    doc: "ND option: target link-layer address (type 2). Scapy fills lladdr from the interface; here it starts as 00:00:00:00:00:00.",
    fields: LLADDR_FIELDS,
    template: &[2, 1, 0, 0, 0, 0, 0, 0],
    bindings: &[Binding::new(Space::NdOption, 2)],
    ..OPTION
};

static PREFIX_FIELDS: &[Field] = &[
    type_field(),
    len_field(),
    Field::new("prefixlen", 16, 8, Kind::Int, "prefix length in bits"),
    Field::new("L", 24, 1, Kind::Int, "on-link: the prefix is on this link"),
    Field::new(
        "A",
        25,
        1,
        Kind::Int,
        "autonomous: hosts may form addresses in the prefix (SLAAC)",
    ),
    Field::new(
        "R",
        26,
        1,
        Kind::Int,
        "router address: prefix holds the router's address, RFC 6275",
    ),
    Field::new("res1", 27, 5, Kind::Int, "reserved"),
    Field::new(
        "validlifetime",
        32,
        32,
        Kind::Int,
        "seconds the prefix is valid for on-link use (0xffffffff: forever)",
    ),
    Field::new(
        "preferredlifetime",
        64,
        32,
        Kind::Int,
        "seconds addresses from the prefix stay preferred (0xffffffff: forever)",
    ),
    Field::new("res2", 96, 32, Kind::Hex, "reserved"),
    Field::new("prefix", 128, 128, Kind::Ipv6, "the prefix"),
];

pub static PREFIX_INFO: Proto = Proto {
    name: "ICMPv6NDOptPrefixInfo",
    accessor: "ndp_prefix",
    doc: "ND option: prefix information (type 3), in router advertisements.",
    fields: PREFIX_FIELDS,
    template: &[
        3, 4, 64, 0xc0, // type len prefixlen, L=1 A=1 R=0 res1
        0xff, 0xff, 0xff, 0xff, // validlifetime
        0xff, 0xff, 0xff, 0xff, // preferredlifetime
        0, 0, 0, 0, // res2
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // prefix
    ],
    bindings: &[Binding::new(Space::NdOption, 3)],
    ..OPTION
};

static MTU_FIELDS: &[Field] = &[
    type_field(),
    len_field(),
    Field::new("res", 16, 16, Kind::Hex, "reserved"),
    Field::new("mtu", 32, 32, Kind::Int, "the link's MTU"),
];

pub static MTU: Proto = Proto {
    name: "ICMPv6NDOptMTU",
    accessor: "ndp_mtu",
    doc: "ND option: MTU (type 5), in router advertisements.",
    fields: MTU_FIELDS,
    template: &[5, 1, 0, 0, 0, 0, 0x05, 0x00],
    bindings: &[Binding::new(Space::NdOption, 5)],
    ..OPTION
};

static DNS_LIST: Codec = Codec {
    type_name: "IPv6 addresses",
    decode: items::decode_ipv6_list,
    encode: |t| items::encode_ipv6_list(t, "dns"),
    help: "write a list of addresses, like [\"2001:db8::53\", \"2001:db8::54\"]",
};

static RDNSS_FIELDS: &[Field] = &[
    type_field(),
    len_field(),
    Field::new("res", 16, 16, Kind::Int, "reserved"),
    Field::new(
        "lifetime",
        32,
        32,
        Kind::Int,
        "seconds the servers may be used (0xffffffff: forever)",
    ),
    Field::new(
        "dns",
        64,
        0,
        Kind::List(&DNS_LIST),
        "recursive DNS server addresses",
    ),
];

pub static RDNSS: Proto = Proto {
    name: "ICMPv6NDOptRDNSS",
    accessor: "ndp_rdnss",
    doc: "ND option: recursive DNS servers (type 25, RFC 8106), in router advertisements.",
    fields: RDNSS_FIELDS,
    template: &[25, 1, 0, 0, 0xff, 0xff, 0xff, 0xff],
    bindings: &[Binding::new(Space::NdOption, 25)],
    ..OPTION
};

static UNKNOWN_FIELDS: &[Field] = &[
    type_field(),
    len_field(),
    Field::new(
        "data",
        16,
        0,
        Kind::Bytes,
        "the option's data (padded with zeros to a multiple of 8 bytes when built)",
    ),
];

pub static UNKNOWN: Proto = Proto {
    name: "ICMPv6NDOptUnknown",
    accessor: "ndp_opt",
    doc: "ND option of a type not decoded further (type, length and data).",
    fields: UNKNOWN_FIELDS,
    template: &[0, 1, 0, 0, 0, 0, 0, 0],
    ..OPTION
};

// Every table has `len` where the build hook looks for it.
const _: () = {
    assert!(super::field_id(LLADDR_FIELDS, "len") == LEN);
    assert!(super::field_id(PREFIX_FIELDS, "len") == LEN);
    assert!(super::field_id(MTU_FIELDS, "len") == LEN);
    assert!(super::field_id(RDNSS_FIELDS, "len") == LEN);
    assert!(super::field_id(UNKNOWN_FIELDS, "len") == LEN);
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{Input, Tree, Value};

    // Made with Scapy 2.8; tshark reads the same options (types, nonce,
    // link-layer addresses, RDNSS servers) and a good ICMPv6 checksum.
    const RA: &str = "33330000000102000000000386dd6000000000683afffe800000000000000000000000000003ff02000000000000000000000000000186003a5540c8070800007530000003e8030440c000015180000038400000000020010db800010000000000000000000005010000000005dc190500000000025820010db800000000000000000000005320010db80000000000000000000000540101020000000003";
    /// RA with the RDNSS option cut to one server (Scapy recomputed len,
    /// plen and the checksum).
    const RA_ONE_DNS: &str = "33330000000102000000000386dd6000000000583afffe800000000000000000000000000003ff0200000000000000000000000000018600687440c8070800007530000003e8030440c000015180000038400000000020010db800010000000000000000000005010000000005dc190300000000025820010db80000000000000000000000530101020000000003";
    /// NS with a nonce option (type 14, not decoded: Unknown) before the
    /// source link-layer address.
    const NS_NONCE: &str = "3333ff00000202000000000186dd6000000000283afffe800000000000000000000000000001ff0200000000000000000001ff0000028700638200000000fe8000000000000000000000000000020e010102030405060101020000000001";

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn set(p: &mut Packet, idx: usize, name: &str, input: &Input) {
        let fi = p.field_index(idx, name).unwrap();
        p.set(idx, fi, input).unwrap();
    }

    fn get(p: &mut Packet, idx: usize, name: &str) -> Value {
        let fi = p.field_index(idx, name).unwrap();
        p.get(idx, fi).unwrap()
    }

    fn int(p: &mut Packet, idx: usize, name: &str) -> u64 {
        match get(p, idx, name) {
            Value::Int(n) => n,
            v => panic!("{name} is {v:?}"),
        }
    }

    fn addrs(list: &[&str]) -> Tree {
        Tree::List(list.iter().map(|a| Tree::Str(a.to_string())).collect())
    }

    #[test]
    fn templates_are_scapys_defaults() {
        // bytes(ICMPv6NDOpt...()) in Scapy 2.8 (lladdr 00:..:00 without an interface).
        for (proto, scapy) in [
            (&SRC_LLADDR, "0101000000000000"),
            (&DST_LLADDR, "0201000000000000"),
            (
                &PREFIX_INFO,
                "030440c0ffffffffffffffff0000000000000000000000000000000000000000",
            ),
            (&MTU, "0501000000000500"),
            (&RDNSS, "19010000ffffffff"),
            (&UNKNOWN, "0001000000000000"),
        ] {
            assert_eq!(proto.template, &hex(scapy)[..], "{}", proto.name);
            let mut p = Packet::new_layer(proto);
            assert_eq!(p.bytes(), &hex(scapy)[..], "{}", proto.name);
            assert_eq!(header_len(proto.template), proto.template.len());
        }
        let mut p = Packet::new_layer(&PREFIX_INFO);
        for (name, v) in [
            ("prefixlen", 64),
            ("L", 1),
            ("A", 1),
            ("R", 0),
            ("res1", 0),
            ("validlifetime", 0xffff_ffff),
            ("preferredlifetime", 0xffff_ffff),
            ("res2", 0),
        ] {
            assert_eq!(int(&mut p, 0, name), v, "{name}");
        }
    }

    #[test]
    fn len_follows_the_data_as_in_scapy() {
        // ICMPv6NDOptRDNSS(dns=["2001:db8::1", "2001:db8::2"]): len 5.
        let mut p = Packet::new_layer(&RDNSS);
        set(
            &mut p,
            0,
            "dns",
            &Input::Tree(&addrs(&["2001:db8::1", "2001:db8::2"])),
        );
        assert_eq!(
            p.bytes(),
            &hex(
                "19050000ffffffff20010db800000000000000000000000120010db8000000000000000000000002"
            )[..]
        );
        assert_eq!(
            (DNS_LIST.decode)(&p.peek(0, 4).as_bytes()),
            addrs(&["2001:db8::1", "2001:db8::2"])
        );
        // ICMPv6NDOptUnknown(data=b"abc"): padded to 8 bytes, len 1; 8
        // bytes of data: 16 bytes, len 2.
        let mut p = Packet::new_layer(&UNKNOWN);
        set(&mut p, 0, "data", &Input::Bytes(b"abc"));
        assert_eq!(p.bytes(), &hex("0001616263000000")[..]);
        let mut p = Packet::new_layer(&UNKNOWN);
        set(&mut p, 0, "data", &Input::Bytes(b"abcdefgh"));
        assert_eq!(p.bytes(), &hex("00026162636465666768000000000000")[..]);
        // A len set by the script stays, and nothing is padded.
        let mut p = Packet::new_layer(&UNKNOWN);
        set(&mut p, 0, "len", &Input::Int(7));
        set(&mut p, 0, "data", &Input::Bytes(b"abc"));
        assert_eq!(p.bytes(), &hex("0007616263")[..]);
    }

    #[test]
    fn router_advertisement_options() {
        let b = hex(RA);
        let mut p = Packet::parse(&b);
        assert_eq!(p.bytes(), &b[..]);
        assert_eq!(
            p.layer_names()[3..],
            [
                "ICMPv6NDOptPrefixInfo",
                "ICMPv6NDOptMTU",
                "ICMPv6NDOptRDNSS",
                "ICMPv6NDOptSrcLLAddr"
            ]
        );
        assert_eq!(int(&mut p, 3, "len"), 4);
        assert_eq!(int(&mut p, 3, "prefixlen"), 64);
        assert_eq!((int(&mut p, 3, "L"), int(&mut p, 3, "A")), (1, 1));
        assert_eq!(int(&mut p, 3, "validlifetime"), 86400);
        assert_eq!(int(&mut p, 3, "preferredlifetime"), 14400);
        assert_eq!(
            get(&mut p, 3, "prefix"),
            Value::Ipv6(
                "2001:db8:1::"
                    .parse::<std::net::Ipv6Addr>()
                    .unwrap()
                    .octets()
            )
        );
        assert_eq!(int(&mut p, 4, "mtu"), 1500);
        assert_eq!(int(&mut p, 5, "len"), 5);
        assert_eq!(int(&mut p, 5, "lifetime"), 600);
        let dns = get(&mut p, 5, "dns").as_bytes();
        assert_eq!(
            (DNS_LIST.decode)(&dns),
            addrs(&["2001:db8::53", "2001:db8::54"])
        );
        assert_eq!(get(&mut p, 6, "lladdr"), Value::Mac([2, 0, 0, 0, 0, 3]));
        assert!(p.details().contains("dns"));
        // One server fewer: len, the IPv6 payload length and the ICMPv6
        // checksum follow, as Scapy computes them.
        set(&mut p, 5, "dns", &Input::Tree(&addrs(&["2001:db8::53"])));
        assert_eq!(p.bytes(), &hex(RA_ONE_DNS)[..]);
        assert!(p.bad_checksums().is_empty());
    }

    #[test]
    fn unknown_types_and_malformed_lengths() {
        let b = hex(NS_NONCE);
        let mut p = Packet::parse(&b);
        assert_eq!(p.bytes(), &b[..]);
        assert_eq!(
            p.layer_names(),
            [
                "Ether",
                "IPv6",
                "ICMPv6",
                "ICMPv6NDOptUnknown",
                "ICMPv6NDOptSrcLLAddr"
            ]
        );
        assert_eq!(int(&mut p, 3, "type"), 14);
        assert_eq!(get(&mut p, 3, "data"), Value::Bytes(vec![1, 2, 3, 4, 5, 6]));
        assert!(p.bad_checksums().is_empty());

        // len 0: the rest is this option, nothing follows it.
        let mut z = b.clone();
        z[79] = 0;
        let mut p = Packet::parse(&z);
        assert_eq!(p.bytes(), &z[..]);
        assert_eq!(p.layer_names().len(), 4);
        assert_eq!(p.header(3).len(), 16);

        // len beyond the bytes: a truncated option.
        let mut t = b.clone();
        t[79] = 9;
        let mut p = Packet::parse(&t);
        assert_eq!(p.bytes(), &t[..]);
        assert!(p.layers()[3].truncated);

        // A lone trailing byte.
        let mut one = b.clone();
        one.truncate(b.len() - 7);
        let mut p = Packet::parse(&one);
        assert_eq!(p.bytes(), &one[..]);
        let _ = (p.summary(), p.details());
    }

    #[test]
    fn no_panic_on_any_option_bytes() {
        let b = hex(RA);
        // Every value of every byte of the options, and every cut.
        for i in 70..b.len() {
            for v in [0u8, 1, 2, 3, 4, 5, 7, 25, 0x80, 0xff] {
                let mut x = b.clone();
                x[i] = v;
                let mut p = Packet::parse(&x);
                assert_eq!(p.bytes(), &x[..]);
                let _ = (p.summary(), p.details(), p.bad_checksums());
                for l in 3..p.layers().len() {
                    if let Ok(fi) = p.field_index(l, "len") {
                        let _ = p.set(l, fi, &Input::Int(3));
                        let _ = (p.details(), p.bytes().len());
                    }
                }
            }
        }
        for n in 0..b.len() {
            let mut p = Packet::parse(&b[..n]);
            assert_eq!(p.bytes(), &b[..n]);
            let _ = (p.summary(), p.details());
        }
    }

    trait AsBytes {
        fn as_bytes(&self) -> Vec<u8>;
    }
    impl AsBytes for Value {
        fn as_bytes(&self) -> Vec<u8> {
            match self {
                Value::Bytes(b) => b.clone(),
                v => panic!("not bytes: {v:?}"),
            }
        }
    }
}
