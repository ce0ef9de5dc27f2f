//! IPv6 extension headers (RFC 8200 section 4): Hop-by-Hop, Destination options, Routing, Fragment.

use super::Proto;

pub static HOPBYHOP: Proto = Proto {
    name: "IPv6ExtHdrHopByHop",
    accessor: "hopbyhop",
    doc: "IPv6 Hop-by-Hop options header. (being written)",
    ..super::BASE
};

pub static DESTOPT: Proto = Proto {
    name: "IPv6ExtHdrDestOpt",
    accessor: "destopt",
    doc: "IPv6 Destination options header. (being written)",
    ..super::BASE
};

pub static ROUTING: Proto = Proto {
    name: "IPv6ExtHdrRouting",
    accessor: "routing",
    doc: "IPv6 Routing header. (being written)",
    ..super::BASE
};

pub static FRAGMENT: Proto = Proto {
    name: "IPv6ExtHdrFragment",
    accessor: "fragment",
    doc: "IPv6 Fragment header. (being written)",
    ..super::BASE
};
