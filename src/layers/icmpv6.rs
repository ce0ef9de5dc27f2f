//! ICMPv6 (RFC 4443) and neighbour discovery messages (RFC 4861).

use super::Proto;

pub static ICMPV6: Proto = Proto {
    name: "ICMPv6",
    accessor: "icmpv6",
    doc: "Internet Control Message Protocol for IPv6. (being written)",
    ..super::BASE
};
