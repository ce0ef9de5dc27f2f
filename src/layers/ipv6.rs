//! IPv6 (RFC 8200): the fixed header.

use super::Proto;

pub static IPV6: Proto = Proto {
    name: "IPv6",
    accessor: "ipv6",
    doc: "Internet Protocol version 6. (being written)",
    ..super::BASE
};
