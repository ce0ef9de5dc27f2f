//! Neighbour discovery options (RFC 4861 section 4.6, RFC 8106), each a sub-layer after an ND message.

use super::Proto;

pub static SRC_LLADDR: Proto = Proto {
    name: "ICMPv6NDOptSrcLLAddr",
    accessor: "ndp_src_lladdr",
    doc: "ND option: source link-layer address. (being written)",
    ..super::BASE
};

pub static DST_LLADDR: Proto = Proto {
    name: "ICMPv6NDOptDstLLAddr",
    accessor: "ndp_dst_lladdr",
    doc: "ND option: target link-layer address. (being written)",
    ..super::BASE
};

pub static PREFIX_INFO: Proto = Proto {
    name: "ICMPv6NDOptPrefixInfo",
    accessor: "ndp_prefix",
    doc: "ND option: prefix information. (being written)",
    ..super::BASE
};

pub static MTU: Proto = Proto {
    name: "ICMPv6NDOptMTU",
    accessor: "ndp_mtu",
    doc: "ND option: MTU. (being written)",
    ..super::BASE
};

pub static RDNSS: Proto = Proto {
    name: "ICMPv6NDOptRDNSS",
    accessor: "ndp_rdnss",
    doc: "ND option: recursive DNS servers. (being written)",
    ..super::BASE
};

pub static UNKNOWN: Proto = Proto {
    name: "ICMPv6NDOptUnknown",
    accessor: "ndp_opt",
    doc: "ND option of a type not decoded further. (being written)",
    ..super::BASE
};
