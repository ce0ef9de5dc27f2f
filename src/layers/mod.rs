//! The protocol registry and the declarative field tables.
//!
//! Every protocol lives in one file of this folder and exports one
//! [`Proto`]: its field table (name, bit offset and width, kind, which
//! automatic role the field plays), its default header bytes, and its hooks
//! (header length, next-layer demultiplexing, automatic-field build,
//! checksum, reply matching, one-line summary). Adding a protocol means adding
//! its file and one line to [`REGISTRY`].
//!
//! Fields are read from and written to the packet's bytes directly: the bytes
//! are the truth, the table only says where each field lives.

pub mod arp;
pub mod dot1q;
pub mod ether;
pub mod icmp;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod ipv6_ext;
pub mod items;
pub mod ndp;
pub mod padding;
pub mod raw;
pub mod resolve;
pub mod sll;
pub mod tcp;
pub mod udp;
pub mod wol;

use crate::packet::Packet;
pub use items::{Codec, Tree};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Every protocol pktscript knows, in dissection-priority order.
pub static REGISTRY: &[&Proto] = &[
    &ether::ETHER,
    &sll::SLL,
    &sll::SLL2,
    &dot1q::DOT1Q,
    &arp::ARP,
    &ipv4::IPV4,
    &ipv6::IPV6,
    &ipv6_ext::HOPBYHOP,
    &ipv6_ext::DESTOPT,
    &ipv6_ext::ROUTING,
    &ipv6_ext::FRAGMENT,
    &icmp::ICMP,
    &icmpv6::ICMPV6,
    &ndp::SRC_LLADDR,
    &ndp::DST_LLADDR,
    &ndp::PREFIX_INFO,
    &ndp::MTU,
    &ndp::RDNSS,
    &ndp::UNKNOWN,
    &udp::UDP,
    &tcp::TCP,
    &wol::WOL,
    &raw::RAW,
    &padding::PADDING,
];

/// How a field's bits are interpreted, shown and parsed.
#[derive(Debug)]
pub enum Kind {
    /// Unsigned integer shown in decimal.
    Int,
    /// Unsigned integer shown in hexadecimal (types, checksums, ids).
    Hex,
    /// Unsigned integer with names for some values.
    Enum(&'static [(u64, &'static str)]),
    /// Like `Enum`, shown in hexadecimal (EtherTypes).
    HexEnum(&'static [(u64, &'static str)]),
    /// Bit flags; names are given from the least significant bit up.
    Flags(&'static [&'static str]),
    /// 48-bit MAC address.
    Mac,
    /// IPv4 address.
    Ipv4,
    /// IPv6 address.
    Ipv6,
    /// Variable-length bytes from the field's offset to the end of the header.
    Bytes,
    /// Variable-length bytes (to the end of the header, like `Bytes`) that
    /// scripts see as a list of named, typed items through a [`Codec`]
    /// (TCP and IP options, address lists).
    List(&'static Codec),
}

impl Kind {
    /// A short type name for docs and help.
    pub fn type_name(&self) -> &'static str {
        match self {
            Kind::Int => "int",
            Kind::Hex => "int (hex)",
            Kind::Enum(_) | Kind::HexEnum(_) => "enum",
            Kind::Flags(_) => "flags",
            Kind::Mac => "MAC",
            Kind::Ipv4 => "IPv4",
            Kind::Ipv6 => "IPv6",
            Kind::Bytes => "bytes",
            Kind::List(c) => c.type_name,
        }
    }
}

/// The index of the field called `name` in a table, found at compile time
/// (`const TTL: usize = field_id(FIELDS, "ttl");`): hooks name fields, the
/// table alone says where they are, and a misspelt name does not compile.
pub const fn field_id(fields: &[Field], name: &str) -> usize {
    let mut i = 0;
    while i < fields.len() {
        let a = fields[i].name.as_bytes();
        let b = name.as_bytes();
        if a.len() == b.len() {
            let mut j = 0;
            while j < a.len() && a[j] == b[j] {
                j += 1;
            }
            if j == a.len() {
                return i;
            }
        }
        i += 1;
    }
    panic!("no field of that name in the table")
}

/// The automatic role of a field: computed at build time unless pinned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auto {
    /// An ordinary field.
    No,
    /// A length (or header-length) field computed from the bytes.
    Len,
    /// A checksum.
    Chksum,
    /// A type/protocol field that follows the layer above.
    Next,
    /// Filled in from other fields of the same layer.
    Derived,
}

/// One row of a protocol's field table.
#[derive(Debug)]
pub struct Field {
    pub name: &'static str,
    /// Offset in bits from the start of the layer's header.
    pub off: u32,
    /// Width in bits (0 for [`Kind::Bytes`]).
    pub bits: u32,
    pub kind: Kind,
    pub auto: Auto,
    pub doc: &'static str,
    /// The field exists only when this holds for the header bytes
    /// (ICMP fields that depend on the type, for instance).
    pub when: Option<fn(&[u8]) -> bool>,
    /// The name pkttools gives the field in its text dumps, layer and
    /// field (`ARP.TARGET_IPADDR`); the field part is accepted when packets
    /// are read as text.
    pub pkttools: Option<&'static str>,
    /// The number space this field demultiplexes in (EtherType, IP protocol):
    /// an `Auto::Next` field follows the binding of the layer above in it.
    pub space: Option<Space>,
    /// The field's bit offset when it depends on earlier fields (given the
    /// header bytes); `off` otherwise.
    pub at: Option<fn(&[u8]) -> u32>,
}

impl Field {
    /// A field that is always present.
    pub const fn new(
        name: &'static str,
        off: u32,
        bits: u32,
        kind: Kind,
        doc: &'static str,
    ) -> Field {
        Field {
            name,
            off,
            bits,
            kind,
            auto: Auto::No,
            doc,
            when: None,
            pkttools: None,
            space: None,
            at: None,
        }
    }
    /// The number space the field demultiplexes in (see [`Space`]).
    pub const fn space(mut self, space: Space) -> Field {
        self.space = Some(space);
        self
    }
    /// The field starts where `at` says, given the header (a layout that
    /// depends on earlier fields).
    pub const fn at(mut self, at: fn(&[u8]) -> u32) -> Field {
        self.at = Some(at);
        self
    }
    /// The field's bit offset in this header.
    pub fn bit_off(&self, hdr: &[u8]) -> u32 {
        match self.at {
            Some(at) => at(hdr),
            None => self.off,
        }
    }
    /// Whether the field's length varies (bytes to the end of the header).
    pub fn is_var(&self) -> bool {
        matches!(self.kind, Kind::Bytes | Kind::List(_))
    }
    pub const fn auto(mut self, auto: Auto) -> Field {
        self.auto = auto;
        self
    }
    pub const fn when(mut self, f: fn(&[u8]) -> bool) -> Field {
        self.when = Some(f);
        self
    }
    /// The field's name in pkttools' text dumps, `LAYER.FIELD` (read as an alias).
    pub const fn pkttools(mut self, name: &'static str) -> Field {
        self.pkttools = Some(name);
        self
    }
    /// Whether `name` names this field: its name or the field part of its
    /// pkttools name, in any case.
    pub fn answers_to(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
            || self
                .pkttools
                .and_then(|p| p.rsplit_once('.'))
                .is_some_and(|(_, f)| f.eq_ignore_ascii_case(name))
    }
    /// Whether the field is present in this header.
    pub fn present(&self, hdr: &[u8]) -> bool {
        self.when.is_none_or(|f| f(hdr))
    }
    /// The byte range the field occupies in this header.
    pub fn byte_range(&self, hdr: &[u8]) -> std::ops::Range<usize> {
        let off = self.bit_off(hdr);
        let start = (off / 8) as usize;
        if self.is_var() {
            start.min(hdr.len())..hdr.len()
        } else {
            start..((off + self.bits).div_ceil(8) as usize)
        }
    }
    /// Reads the field as an integer (missing bytes read as 0).
    pub fn int(&self, hdr: &[u8]) -> u64 {
        read_bits(hdr, self.bit_off(hdr), self.bits)
    }
}

/// A number space in which a lower layer says what follows it. An upper
/// protocol binds to a value in a space once, and every lower layer that
/// demultiplexes in that space finds it: UDP binds to 17 in `IpProto` and
/// so sits on IPv4, IPv6 and any extension header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Space {
    /// pcap link types: the first layer of a captured frame.
    LinkType,
    /// EtherTypes (Ethernet, 802.1Q, Linux cooked captures).
    EtherType,
    /// IP protocol numbers (IPv4 `proto`, IPv6 `nh` and its extension headers).
    IpProto,
    /// UDP ports (destination tried first, then source).
    UdpPort,
    /// TCP ports (destination tried first, then source).
    TcpPort,
    /// ICMPv6 neighbour-discovery option types.
    NdOption,
}

impl Space {
    /// A short name for docs and help.
    pub fn name(self) -> &'static str {
        match self {
            Space::LinkType => "link type",
            Space::EtherType => "EtherType",
            Space::IpProto => "IP protocol",
            Space::UdpPort => "UDP port",
            Space::TcpPort => "TCP port",
            Space::NdOption => "ND option type",
        }
    }
}

/// "This protocol follows a layer that says `value` in `space`", optionally
/// only when its bytes pass `when` (a guess, like Wake-on-LAN on UDP port 9).
#[derive(Debug)]
pub struct Binding {
    pub space: Space,
    pub value: u64,
    pub when: Option<fn(&[u8]) -> bool>,
}

impl Binding {
    pub const fn new(space: Space, value: u64) -> Binding {
        Binding {
            space,
            value,
            when: None,
        }
    }
    /// The binding holds only for bytes that pass `f`.
    pub const fn when(mut self, f: fn(&[u8]) -> bool) -> Binding {
        self.when = Some(f);
        self
    }
}

/// The network-layer capability: what transport checksums, summaries,
/// reply matching and routing ask of the layer that carries them, instead
/// of asking its name. IPv4 and IPv6 provide it.
pub struct NetOps {
    /// Source and destination address of the header at `net`.
    pub addrs: fn(&Packet, usize) -> Option<(IpAddr, IpAddr)>,
    /// The ones'-complement sum of the pseudo-header for the upper-layer
    /// message at `upper` (protocol number, its length), or None when that
    /// message is not all in this packet (a fragment). For IPv6 the
    /// destination is the final one when a Routing header has segments left.
    pub pseudo_sum: fn(&Packet, usize, usize, u8, usize) -> Option<u32>,
    /// Whether the message at `upper`, carried by this header, is only part
    /// of a datagram (its checksum then covers bytes that are not here).
    pub fragment: fn(&Packet, usize, usize) -> bool,
    /// How to learn a next hop's Ethernet address for this network layer
    /// (ARP, neighbour solicitation), for sending at layer 2 (`sr1`, `sr`).
    pub resolve: Option<&'static resolve::Resolve>,
}

/// An IP extension header (IPv6 Hop-by-Hop, Routing, Fragment, ...): the
/// network layer below it still carries the layers above.
pub struct ExtOps {
    /// This header says the payload is a fragment (offset or more-fragments set).
    pub fragment: fn(&[u8]) -> bool,
    /// The final destination this header names, if it redirects the
    /// datagram (an IPv6 Routing header with segments left).
    pub final_dst: fn(&[u8]) -> Option<IpAddr>,
    /// The address that stands for the source in the pseudo-header, if
    /// this header gives one (a Destination header's Home Address option).
    pub final_src: fn(&[u8]) -> Option<IpAddr>,
}

/// A constructor named after a message type of a protocol (Scapy's
/// `ICMPv6EchoRequest` is ICMPv6 with type 128): its own template, and a
/// test that tells the variant in dissected bytes (for `has()`).
#[derive(Debug)]
pub struct Variant {
    pub name: &'static str,
    pub template: &'static [u8],
    pub is: fn(&[u8]) -> bool,
    pub doc: &'static str,
}

/// What the build hook may know about what changed since the bytes were last consistent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Changed {
    /// A field of this layer was set (or the layer is newly built).
    pub this: bool,
    /// Something in the layers this one covers (its payload) changed.
    pub payload: bool,
    /// The layer directly below changed (pseudo-header inputs, for instance).
    pub lower: bool,
}

impl Changed {
    pub fn any(&self) -> bool {
        self.this || self.payload || self.lower
    }
}

/// A protocol: its table and hooks. Start a new one from [`BASE`]
/// (`Proto { name: ..., ..BASE }`) and give only what it needs.
pub struct Proto {
    /// Display name ("IPv4").
    pub name: &'static str,
    /// Property name used in scripts (`p.ip`).
    pub accessor: &'static str,
    /// Other names accepted by `has()` and constructors ("IP").
    pub aliases: &'static [&'static str],
    pub doc: &'static str,
    pub fields: &'static [Field],
    /// The header a constructor starts from.
    pub template: &'static [u8],
    /// Bytes needed before anything past the fixed part can be interpreted.
    pub min_len: usize,
    /// Header length given the bytes from the layer's start (may exceed them: truncated).
    pub header_len: fn(&[u8]) -> usize,
    /// Payload length this header declares (IPv4 total length minus header);
    /// bytes beyond it are padding. `None`: the payload runs to the end.
    pub payload_len: Option<PayloadLen>,
    /// Which protocol follows, given this header and the bytes after it;
    /// `lookup(space, value)` finds a protocol bound in a number space.
    pub next: fn(&[u8], &[u8], &Lookup) -> Option<Next>,
    /// The values in number spaces this protocol follows (drives dissection
    /// and the lower layers' type fields).
    pub bindings: &'static [Binding],
    /// A bound layer is dissected only if its bytes pass this check (for
    /// bindings that are all a guess, like Wake-on-LAN).
    pub accepts: Option<fn(&[u8]) -> bool>,
    /// Recompute automatic fields. Called innermost layer first.
    pub build: fn(&mut Packet, usize, Changed),
    /// The correct checksum for the layer's current bytes, if it has one.
    pub checksum: Option<fn(&Packet, usize) -> Option<u16>>,
    /// Whether layer `idx` of `reply` answers layer `sidx` of `sent`.
    pub answers: fn(&Packet, usize, &Packet, usize) -> bool,
    /// A tcpdump-like one-line description, or None to defer to lower layers.
    pub summary: fn(&Packet, usize) -> Option<String>,
    /// Header length implied by the fields after an edit (for layouts chosen by a field).
    pub relayout: Option<fn(&[u8]) -> usize>,
    /// The network-layer capability, for IPv4 and IPv6.
    pub net: Option<&'static NetOps>,
    /// Set for IP extension headers, which the network layer's capability
    /// looks through.
    pub ext: Option<&'static ExtOps>,
    /// Fields that feed the pseudo-header of the transport layers above (an
    /// edit of one re-sums their checksums).
    pub pseudo_fields: &'static [&'static str],
    /// Constructors named after message types (`ICMPv6EchoRequest`).
    pub variants: &'static [Variant],
    /// Words this layer puts before the packet's summary line, given its
    /// header (802.1Q's `802.1Q vlan 5`).
    pub summary_tag: Option<fn(&[u8]) -> String>,
    /// A sub-layer that belongs to the message below it (an ND option): it
    /// takes no part in reply matching, where the message decides.
    pub option: bool,
    /// For a link layer that starts captures: where its fields are, for
    /// code that reads frames without dissecting them (the filter compiler).
    pub link: Option<&'static LinkLayout>,
}

/// Where a link-layer header keeps what the filter compiler reads: the
/// EtherType of the payload, the payload's start, the MAC addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkLayout {
    /// Byte offset of the 16-bit EtherType of the payload.
    pub ethertype_at: Option<u32>,
    /// Byte offset of the network layer.
    pub net_at: u32,
    /// Byte offsets of the destination and source MAC addresses, if the
    /// header has them.
    pub dst_mac_at: Option<u32>,
    pub src_mac_at: Option<u32>,
}

/// A link type whose frames start with an IP header (raw IP: 101, 228,
/// 229): no EtherType, the version nibble tells IPv4 from IPv6.
pub const RAW_IP_LAYOUT: LinkLayout = LinkLayout {
    ethertype_at: None,
    net_at: 0,
    dst_mac_at: None,
    src_mac_at: None,
};

/// The layout of frames of a pcap link type: the link layer's own, raw IP
/// when the link type starts with a network layer, None when no layer file
/// knows the link type.
pub fn link_layout(linktype: u32) -> Option<LinkLayout> {
    let mut raw_ip = false;
    for (p, _) in bound(Space::LinkType, linktype as u64) {
        if let Some(l) = p.link {
            return Some(*l);
        }
        raw_ip |= p.net.is_some();
    }
    raw_ip.then_some(RAW_IP_LAYOUT)
}

/// The defaults a protocol starts from: no fields, a header as long as its
/// bytes, followed by Raw, bound to nothing, building and matching nothing.
pub const BASE: Proto = Proto {
    name: "",
    accessor: "",
    aliases: &[],
    doc: "",
    fields: &[],
    template: &[],
    min_len: 0,
    header_len: all_bytes,
    payload_len: None,
    next: next_raw,
    bindings: &[],
    accepts: None,
    build: build_nothing,
    checksum: None,
    answers: answers_never,
    summary: summary_none,
    relayout: None,
    net: None,
    ext: None,
    pseudo_fields: &[],
    variants: &[],
    summary_tag: None,
    option: false,
    link: None,
};

fn all_bytes(b: &[u8]) -> usize {
    b.len()
}

impl std::fmt::Debug for Proto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Proto({})", self.name)
    }
}

impl PartialEq for Proto {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

/// The payload length a header declares, if it declares one.
pub type PayloadLen = fn(&[u8]) -> Option<usize>;

/// Finds the protocol bound in a number space to a value (for the bytes that follow).
pub type Lookup<'a> = dyn Fn(Space, u64) -> Option<&'static Proto> + 'a;

/// What follows a header.
#[derive(Debug, Clone, Copy)]
pub struct Next {
    pub proto: &'static Proto,
    /// The following layers are a packet quoted inside an ICMP error.
    pub quoted: bool,
}

impl Next {
    pub fn plain(proto: &'static Proto) -> Next {
        Next {
            proto,
            quoted: false,
        }
    }
}

impl Proto {
    /// Index of a field by name.
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// Whether `name` names this protocol (case-insensitive on name, aliases, accessor).
    pub fn is_named(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
            || self.accessor.eq_ignore_ascii_case(name)
            || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    }

    /// The variant called `name`, if this protocol has one.
    pub fn variant(&self, name: &str) -> Option<&'static Variant> {
        self.variants
            .iter()
            .find(|v| v.name.eq_ignore_ascii_case(name))
    }

    /// The field that demultiplexes in `space`, if any.
    pub fn demux_field(&self, space: Space) -> Option<usize> {
        self.fields.iter().position(|f| f.space == Some(space))
    }

    /// The value `self` must put in its field of `space` for `upper` to follow, if bound.
    pub fn binding_for(&self, upper: &Proto, space: Space) -> Option<u64> {
        upper
            .bindings
            .iter()
            .find(|b| b.space == space)
            .map(|b| b.value)
    }

    /// Whether this protocol is bound to `value` in `space`.
    pub fn bound_to(&self, space: Space, value: u64) -> bool {
        self.bindings
            .iter()
            .any(|b| b.space == space && b.value == value)
    }
}

/// Finds a protocol by any of its names.
pub fn find_proto(name: &str) -> Option<&'static Proto> {
    REGISTRY.iter().copied().find(|p| p.is_named(name))
}

/// Finds a protocol or one of its variants by name (`ICMPv6EchoRequest`).
pub fn find_constructor(name: &str) -> Option<(&'static Proto, Option<&'static Variant>)> {
    if let Some(p) = find_proto(name) {
        return Some((p, None));
    }
    REGISTRY
        .iter()
        .find_map(|p| p.variant(name).map(|v| (*p, Some(v))))
}

/// Every registered binding as (key, protocol, binding), sorted by key and
/// then in registry order: a binary search finds a value's protocols (no
/// hashing on the per-layer path of dissection).
type BindingIndex = Vec<(u64, &'static Proto, &'static Binding)>;

fn binding_key(space: Space, value: u64) -> u64 {
    ((space as u64) << 56) | (value & ((1 << 56) - 1))
}

/// The bindings of every registered protocol, by space and value, in registry order.
fn binding_index() -> &'static BindingIndex {
    static INDEX: std::sync::OnceLock<BindingIndex> = std::sync::OnceLock::new();
    INDEX.get_or_init(|| {
        let mut v: BindingIndex = REGISTRY
            .iter()
            .flat_map(|p| {
                p.bindings
                    .iter()
                    .map(move |b| (binding_key(b.space, b.value), *p, b))
            })
            .collect();
        v.sort_by_key(|(k, _, _)| *k); // stable: registry order within a key
        v
    })
}

/// The protocols bound to `value` in `space`, in registry order.
fn bound(space: Space, value: u64) -> impl Iterator<Item = (&'static Proto, &'static Binding)> {
    let index = binding_index();
    let key = binding_key(space, value);
    let start = index.partition_point(|(k, _, _)| *k < key);
    index[start..]
        .iter()
        .take_while(move |(k, _, b)| *k == key && b.value == value)
        .map(|(_, p, b)| (*p, *b))
}

/// Finds the protocol bound to `value` in `space` whose bytes would be
/// `payload` (guarded bindings and `accepts` checks see them). The first in
/// registry order wins.
pub fn lookup_binding(space: Space, value: u64, payload: &[u8]) -> Option<&'static Proto> {
    bound(space, value)
        .find(|(p, b)| {
            b.when.is_none_or(|ok| ok(payload)) && p.accepts.is_none_or(|ok| ok(payload))
        })
        .map(|(p, _)| p)
}

/// A field's value as the bytes hold it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(u64),
    Mac([u8; 6]),
    Ipv4([u8; 4]),
    Ipv6([u8; 16]),
    Bytes(Vec<u8>),
}

/// A value offered by a script (or the text format) for a field.
#[derive(Debug, Clone)]
pub enum Input<'a> {
    Int(i64),
    Str(&'a str),
    Bytes(&'a [u8]),
    /// A structured value (an option list) for a [`Kind::List`] field.
    Tree(&'a Tree),
}

/// Why a value does not fit a field; `help` says what would.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub message: String,
    pub help: Option<String>,
}

impl FieldError {
    pub fn new(message: impl Into<String>) -> FieldError {
        FieldError {
            message: message.into(),
            help: None,
        }
    }
    pub fn help(mut self, help: impl Into<String>) -> FieldError {
        self.help = Some(help.into());
        self
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FieldError {}

/// Reads `bits` bits (at most 64) at bit offset `off`, big-endian. Missing bytes read as 0.
pub fn read_bits(buf: &[u8], off: u32, bits: u32) -> u64 {
    if off.is_multiple_of(8) {
        let s = (off / 8) as usize;
        match bits {
            8 => return buf.get(s).copied().unwrap_or(0) as u64,
            16 => {
                if let Some(b) = buf.get(s..s + 2) {
                    return u16::from_be_bytes([b[0], b[1]]) as u64;
                }
            }
            32 => {
                if let Some(b) = buf.get(s..s + 4) {
                    return u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as u64;
                }
            }
            _ => {}
        }
    }
    let mut v: u64 = 0;
    for i in 0..bits {
        let bit = off + i;
        let byte = buf.get((bit / 8) as usize).copied().unwrap_or(0);
        v = (v << 1) | ((byte >> (7 - bit % 8)) & 1) as u64;
    }
    v
}

/// Writes the low `bits` bits of `v` at bit offset `off`, big-endian. Bytes past the end are ignored.
pub fn write_bits(buf: &mut [u8], off: u32, bits: u32, v: u64) {
    if off.is_multiple_of(8) && bits.is_multiple_of(8) {
        let s = (off / 8) as usize;
        let n = (bits / 8) as usize;
        for i in 0..n {
            if let Some(b) = buf.get_mut(s + i) {
                *b = (v >> (8 * (n - 1 - i))) as u8;
            }
        }
        return;
    }
    for i in 0..bits {
        let bit = off + i;
        let val = (v >> (bits - 1 - i)) & 1;
        if let Some(byte) = buf.get_mut((bit / 8) as usize) {
            let mask = 1u8 << (7 - bit % 8);
            if val == 1 {
                *byte |= mask;
            } else {
                *byte &= !mask;
            }
        }
    }
}

/// Reads a field's value from a header.
pub fn get_value(f: &Field, hdr: &[u8]) -> Value {
    let r = f.byte_range(hdr);
    let slice = |n: usize| -> Vec<u8> {
        let mut v = vec![0u8; n];
        for (i, b) in v.iter_mut().enumerate() {
            *b = hdr.get(r.start + i).copied().unwrap_or(0);
        }
        v
    };
    match f.kind {
        Kind::Mac => {
            let mut a = [0u8; 6];
            a.copy_from_slice(&slice(6));
            Value::Mac(a)
        }
        Kind::Ipv4 => {
            let mut a = [0u8; 4];
            a.copy_from_slice(&slice(4));
            Value::Ipv4(a)
        }
        Kind::Ipv6 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&slice(16));
            Value::Ipv6(a)
        }
        Kind::Bytes | Kind::List(_) => {
            Value::Bytes(hdr.get(r).map(|s| s.to_vec()).unwrap_or_default())
        }
        _ => Value::Int(f.int(hdr)),
    }
}

/// Whether two values of field `f` are the same: for an item list, the
/// same items (the padding the header's build adds is no difference).
pub fn same_value(f: &Field, a: &Value, b: &Value) -> bool {
    match (&f.kind, a, b) {
        (Kind::List(c), Value::Bytes(x), Value::Bytes(y)) => {
            x == y || (c.decode)(x) == (c.decode)(y)
        }
        _ => a == b,
    }
}

/// An IPv6 address as tshark, tcpdump and Scapy print it (inet_ntop): RFC
/// 5952's compressed form, with the last 32 bits in dotted decimal for
/// IPv4-mapped (`::ffff:198.18.0.1`) and IPv4-compatible (`::198.18.0.1`)
/// addresses.
pub struct Ip6(pub Ipv6Addr);

impl std::fmt::Display for Ip6 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let o = self.0.octets();
        // Exactly the first 96 bits zero, and not :: or ::1 (whose zero run is longer).
        if o[..12].iter().all(|&b| b == 0) && (o[12] != 0 || o[13] != 0) {
            return write!(f, "::{}", Ipv4Addr::new(o[12], o[13], o[14], o[15]));
        }
        write!(f, "{}", self.0)
    }
}

/// An IP address as tshark prints it (see [`Ip6`]).
pub fn ip_text(a: IpAddr) -> String {
    match a {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => Ip6(a).to_string(),
    }
}

/// Parses a MAC address written as six hex pairs separated by `:` or `-` (or none).
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let s = s.trim();
    let parts: Vec<&str> = if s.contains(':') {
        s.split(':').collect()
    } else if s.contains('-') {
        s.split('-').collect()
    } else if s.len() == 12 {
        (0..6).map(|i| &s[2 * i..2 * i + 2]).collect()
    } else {
        return None;
    };
    if parts.len() != 6 {
        return None;
    }
    let mut mac = [0u8; 6];
    for (m, p) in mac.iter_mut().zip(parts) {
        if p.is_empty() || p.len() > 2 {
            return None;
        }
        *m = u8::from_str_radix(p, 16).ok()?;
    }
    Some(mac)
}

pub fn format_mac(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

fn max_for(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

fn enum_names(names: &[(u64, &str)]) -> String {
    names.iter().map(|(_, n)| *n).collect::<Vec<_>>().join(", ")
}

/// Parses flags written as letters ("SA"), as names joined by `+` ("MF+DF"), or as "" for none.
fn parse_flags(names: &[&str], s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() {
        return Some(0);
    }
    let single = names.iter().all(|n| n.len() == 1);
    let mut v = 0u64;
    if single && !s.contains('+') {
        for c in s.chars() {
            let i = names.iter().position(|n| n.starts_with(c))?;
            v |= 1 << i;
        }
    } else {
        for part in s.split(['+', '|', ',']) {
            let part = part.trim();
            let i = names.iter().position(|n| n.eq_ignore_ascii_case(part))?;
            v |= 1 << i;
        }
    }
    Some(v)
}

/// Formats flags the way they are parsed: letters run together, longer names joined by `+`.
pub fn format_flags(names: &[&str], v: u64) -> String {
    let single = names.iter().all(|n| n.len() == 1);
    let mut out = Vec::new();
    for (i, n) in names.iter().enumerate() {
        if v & (1 << i) != 0 {
            out.push(*n);
        }
    }
    let extra = v & !max_for(names.len() as u32);
    let mut s = if single { out.concat() } else { out.join("+") };
    if extra != 0 {
        if !s.is_empty() {
            s.push('+');
        }
        let _ = write!(s, "{extra:#x}");
    }
    s
}

/// Converts script input to a field value, or says why it does not fit.
pub fn parse_value(proto: &Proto, f: &Field, input: &Input) -> Result<Value, FieldError> {
    let what = || format!("{}.{}", proto.accessor, f.name);
    if let Input::Tree(t) = input
        && !matches!(f.kind, Kind::List(_))
    {
        return match t {
            Tree::Int(n) => parse_value(proto, f, &Input::Int(*n)),
            Tree::Str(s) => parse_value(proto, f, &Input::Str(s)),
            Tree::Bytes(b) => parse_value(proto, f, &Input::Bytes(b)),
            _ => Err(FieldError::new(format!(
                "{} takes a single value, not a list",
                what()
            ))),
        };
    }
    match (&f.kind, input) {
        (Kind::Mac, Input::Str(s)) => parse_mac(s).map(Value::Mac).ok_or_else(|| {
            FieldError::new(format!("{s:?} is not a MAC address (for {})", what()))
                .help("write six hex pairs separated by colons, like \"02:00:00:00:00:01\"")
        }),
        (Kind::Mac, Input::Bytes(b)) if b.len() == 6 => {
            let mut m = [0u8; 6];
            m.copy_from_slice(b);
            Ok(Value::Mac(m))
        }
        (Kind::Ipv4, Input::Str(s)) => s
            .trim()
            .parse::<Ipv4Addr>()
            .map(|a| Value::Ipv4(a.octets()))
            .map_err(|_| {
                FieldError::new(format!("{s:?} is not an IPv4 address (for {})", what()))
                    .help("write four decimal numbers 0-255 separated by dots, like \"198.18.0.2\"")
            }),
        (Kind::Ipv4, Input::Int(n)) if (0..=u32::MAX as i64).contains(n) => {
            Ok(Value::Ipv4((*n as u32).to_be_bytes()))
        }
        (Kind::Ipv4, Input::Bytes(b)) if b.len() == 4 => Ok(Value::Ipv4([b[0], b[1], b[2], b[3]])),
        (Kind::Ipv6, Input::Str(s)) => s
            .trim()
            .parse::<Ipv6Addr>()
            .map(|a| Value::Ipv6(a.octets()))
            .map_err(|_| {
                FieldError::new(format!("{s:?} is not an IPv6 address (for {})", what()))
                    .help("write it the usual way, like \"2001:db8::1\"")
            }),
        (Kind::List(_), Input::Bytes(b)) => Ok(Value::Bytes(b.to_vec())),
        // The codec's messages name the field already.
        (Kind::List(c), Input::Tree(t)) => (c.encode)(t).map(Value::Bytes),
        (Kind::List(_), Input::Str(s)) if matches!(s.trim(), "''" | "\"\"") => {
            Ok(Value::Bytes(Vec::new()))
        }
        (Kind::List(c), Input::Str(s)) => match items::parse_tree(s) {
            Ok(t) => parse_value(proto, f, &Input::Tree(&t)),
            Err(m) => Err(FieldError::new(format!(
                "{s:?} is not a list of {} (for {}): {m}",
                c.type_name,
                what()
            ))
            .help(c.help)),
        },
        (Kind::List(c), Input::Int(_)) => Err(FieldError::new(format!(
            "{} takes a list of {}, not a number",
            what(),
            c.type_name
        ))
        .help(c.help)),
        (Kind::Ipv6, Input::Bytes(b)) if b.len() == 16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            Ok(Value::Ipv6(a))
        }
        (Kind::Bytes, Input::Bytes(b)) => Ok(Value::Bytes(b.to_vec())),
        (Kind::Bytes, Input::Str(s)) => Ok(Value::Bytes(s.as_bytes().to_vec())),
        (Kind::Mac | Kind::Ipv4 | Kind::Ipv6 | Kind::Bytes, _) => Err(FieldError::new(format!(
            "{} takes {}, not {}",
            what(),
            match f.kind {
                Kind::Bytes => "a blob or a string",
                _ => "an address string",
            },
            input_type(input)
        ))),
        (_, Input::Int(n)) => {
            let max = max_for(f.bits);
            if *n < 0 || (*n as u64) > max {
                Err(FieldError::new(format!(
                    "{n} is out of range for {} ({} bits: 0 to {max})",
                    what(),
                    f.bits
                )))
            } else {
                Ok(Value::Int(*n as u64))
            }
        }
        (Kind::Enum(names) | Kind::HexEnum(names), Input::Str(s)) => {
            if let Some((v, _)) = names.iter().find(|(_, n)| n.eq_ignore_ascii_case(s.trim())) {
                Ok(Value::Int(*v))
            } else if let Some(v) = parse_int_str(s) {
                parse_value(proto, f, &Input::Int(v))
            } else {
                Err(
                    FieldError::new(format!("{s:?} is not a known value of {}", what()))
                        .help(format!("use a number or one of: {}", enum_names(names))),
                )
            }
        }
        (Kind::Flags(names), Input::Str(s)) => {
            if let Some(v) = parse_flags(names, s) {
                parse_value(proto, f, &Input::Int(v as i64))
            } else if let Some(v) = parse_int_str(s) {
                parse_value(proto, f, &Input::Int(v))
            } else {
                Err(
                    FieldError::new(format!("{s:?} is not a valid flag set for {}", what()))
                        .help(format!("flags are: {}", names.join(" "))),
                )
            }
        }
        (_, Input::Str(s)) => match parse_int_str(s) {
            Some(v) => parse_value(proto, f, &Input::Int(v)),
            None => Err(FieldError::new(format!(
                "{s:?} is not a number (for {})",
                what()
            ))),
        },
        (_, Input::Bytes(_)) => Err(FieldError::new(format!(
            "{} takes a number, not a blob",
            what()
        ))),
        (_, Input::Tree(_)) => Err(FieldError::new(format!(
            "{} takes a single value, not a list",
            what()
        ))),
    }
}

fn input_type(i: &Input) -> &'static str {
    match i {
        Input::Int(_) => "a number",
        Input::Str(_) => "a string",
        Input::Bytes(_) => "a blob",
        Input::Tree(_) => "a list",
    }
}

/// Parses "123", "0x1f", "0b101" and "0o17".
pub fn parse_int_str(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let v = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(b) = s.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()?
    } else if let Some(o) = s.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()?
    } else {
        s.parse::<i64>().ok()?
    };
    Some(if neg { -v } else { v })
}

/// Formats a value for `show()`: enums with their names, flags as letters, addresses as text.
pub fn format_value(f: &Field, v: &Value) -> String {
    match (v, &f.kind) {
        (Value::Int(n), Kind::Enum(names)) => match names.iter().find(|(k, _)| k == n) {
            Some((_, name)) => format!("{n} ({name})"),
            None => n.to_string(),
        },
        (Value::Int(n), Kind::HexEnum(names)) => match names.iter().find(|(k, _)| k == n) {
            Some((_, name)) => format!("{n:#06x} ({name})"),
            None => format!("{n:#06x}"),
        },
        (Value::Int(n), Kind::Flags(names)) => {
            let s = format_flags(names, *n);
            if s.is_empty() {
                n.to_string()
            } else {
                format!("{s} ({n:#x})")
            }
        }
        (Value::Int(n), Kind::Hex) => {
            let digits = f.bits.div_ceil(4) as usize;
            format!("0x{n:0digits$x}")
        }
        (Value::Int(n), _) => n.to_string(),
        (Value::Mac(m), _) => format_mac(m),
        (Value::Ipv4(a), _) => Ipv4Addr::from(*a).to_string(),
        (Value::Ipv6(a), _) => Ip6(Ipv6Addr::from(*a)).to_string(),
        (Value::Bytes(b), Kind::List(c)) => items::format_tree(&(c.decode)(b)),
        (Value::Bytes(b), _) => {
            if b.is_empty() {
                "''".to_string()
            } else {
                let mut s = String::with_capacity(b.len() * 2 + 2);
                s.push_str("0x");
                for x in b {
                    let _ = write!(s, "{x:02x}");
                }
                s
            }
        }
    }
}

/// The name an enum field's value has, if any.
pub fn enum_name(f: &Field, v: u64) -> Option<&'static str> {
    match f.kind {
        Kind::Enum(names) | Kind::HexEnum(names) => {
            names.iter().find(|(k, _)| *k == v).map(|(_, n)| *n)
        }
        _ => None,
    }
}

/// The known field names closest to `name` (for "did you mean").
pub fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = edit_distance(&name.to_ascii_lowercase(), &c.to_ascii_lowercase());
        let limit = (c.len().max(name.len()) / 2).max(1);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// Edit distance counting a swap of neighbours as one edit ("dts" -> "dst").
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

// ---- defaults shared by simple protocols --------------------------------

/// `next` for a protocol that is always last (or followed by Raw).
pub fn next_raw(_: &[u8], _: &[u8], _: &Lookup) -> Option<Next> {
    Some(Next::plain(&raw::RAW))
}

/// A build hook that computes nothing.
pub fn build_nothing(_: &mut Packet, _: usize, _: Changed) {}

/// An `answers` hook that never matches.
pub fn answers_never(_: &Packet, _: usize, _: &Packet, _: usize) -> bool {
    false
}

/// A `summary` hook that defers to the layers below.
pub fn summary_none(_: &Packet, _: usize) -> Option<String> {
    None
}

/// Sets an automatic type field (one that demultiplexes in a number space)
/// to the binding of the layer above, unless pinned or already naming that layer.
pub fn build_next_field(pkt: &mut Packet, idx: usize, fi: usize) {
    let Some(upper) = pkt.layer(idx + 1).map(|l| l.proto) else {
        return;
    };
    if upper == &padding::PADDING || pkt.is_pinned(idx, fi) {
        return;
    }
    let proto = pkt.layers()[idx].proto;
    let f = &proto.fields[fi];
    let Some(space) = f.space else {
        return;
    };
    let current = f.int(pkt.header(idx));
    if upper.bound_to(space, current) {
        return;
    }
    if let Some(v) = proto.binding_for(upper, space) {
        pkt.write_auto(idx, fi, v);
    }
}

/// The value layer `idx` gives in `space` (its demultiplexing field), if it has one.
pub fn demux_value(p: &Packet, idx: usize, space: Space) -> Option<u64> {
    let l = p.layers().get(idx)?;
    let f = &l.proto.fields[l.proto.demux_field(space)?];
    Some(f.int(p.header(idx)))
}

/// The ones'-complement sum of `data` as 16-bit big-endian words (an odd
/// last byte padded with zero), leaving out the word at byte offset `skip`.
pub fn ones_sum(data: &[u8], skip: Option<usize>) -> u32 {
    let mut sum: u64 = 0;
    let mut chunks = data.chunks_exact(2);
    for (i, c) in chunks.by_ref().enumerate() {
        if Some(i * 2) != skip {
            sum += u16::from_be_bytes([c[0], c[1]]) as u64;
        }
    }
    if let [last] = chunks.remainder() {
        sum += (*last as u64) << 8;
    }
    fold(sum)
}

/// Folds a sum into 16 bits plus carry-free form (as a u32 below 0x10000).
pub fn fold(mut sum: u64) -> u32 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u32
}

/// The Internet checksum of `data` with the word at byte offset `skip` taken as zero.
pub fn inet_checksum(data: &[u8], skip: Option<usize>) -> u16 {
    !(ones_sum(data, skip) as u16)
}

/// The checksum of the upper-layer message at `idx` (header at `idx`,
/// checksum word at byte `skip` of it) over the pseudo-header of the
/// network layer that carries it, whichever that is. None without a network
/// layer below, on a truncated header, or for a fragment.
pub fn transport_checksum(p: &Packet, idx: usize, skip: usize) -> Option<u16> {
    if p.layers().get(idx)?.truncated {
        return None;
    }
    let net = p.net_below(idx)?;
    let ops = p.layers()[net].proto.net?;
    if (ops.fragment)(p, net, idx) {
        return None;
    }
    let proto = demux_value(p, idx - 1, Space::IpProto)? as u8;
    let seg = p.segment(idx);
    let pseudo = (ops.pseudo_sum)(p, net, idx, proto, seg.len())?;
    let sum = fold(pseudo as u64 + ones_sum(seg, Some(skip)) as u64);
    Some(!(sum as u16))
}

/// Whether an edit since the bytes were last consistent touched a field
/// feeding the pseudo-header of the transport layer at `idx` (in the
/// network layer below it, or an extension header between).
pub fn pseudo_touched(p: &Packet, idx: usize) -> bool {
    let Some(net) = p.net_below(idx) else {
        return false;
    };
    (net..idx).any(|i| p.touched_any(i, p.layers()[i].proto.pseudo_fields))
}

/// Whether the packet quoted after the error at `ri` of `reply` is the one
/// `sent` sent, whose layer `si` the error stands in for: the same network
/// protocol, addresses and payload protocol, and the same first bytes of
/// payload (up to 8: the ports, or an echo's id and sequence). Routers
/// rewrite TTLs, hop limits and checksums, so those are not compared.
pub fn quote_matches(reply: &Packet, ri: usize, sent: &Packet, si: usize) -> bool {
    let Some(snet) = sent.net_below(si) else {
        return false;
    };
    let qnet = ri + 1;
    let Some(ql) = reply.layers().get(qnet) else {
        return false;
    };
    if !ql.quoted || ql.proto != sent.layers()[snet].proto {
        return false;
    }
    let addrs = reply.addrs_at(qnet);
    if addrs.is_none()
        || addrs != sent.addrs_at(snet)
        || demux_value(reply, qnet, Space::IpProto) != demux_value(sent, snet, Space::IpProto)
    {
        return false;
    }
    let (qp, op) = (reply.payload(qnet), sent.payload(snet));
    let n = qp.len().min(op.len()).min(8);
    qp[..n] == op[..n]
}

/// `IP a.p > b.q` (or `IP6 ...`) for the ports of layer `idx` and the
/// addresses of the network layer below it, as tcpdump prints them.
pub fn transport_prefix(p: &Packet, idx: usize) -> String {
    let h = p.header(idx);
    let (sp, dp) = (read_bits(h, 0, 16), read_bits(h, 16, 16));
    match p.net_addrs(idx) {
        Some((IpAddr::V4(s), IpAddr::V4(d))) => format!("IP {s}.{sp} > {d}.{dp}"),
        Some((s, d)) => format!("IP6 {}.{sp} > {}.{dp}", ip_text(s), ip_text(d)),
        None => format!("{sp} > {dp}"),
    }
}

/// `IP a > b: ` (or `IP6 a > b: `) for the network layer below `idx`, or nothing.
pub fn net_prefix(p: &Packet, idx: usize) -> String {
    match p.net_addrs(idx) {
        Some((IpAddr::V4(s), IpAddr::V4(d))) => format!("IP {s} > {d}: "),
        Some((s, d)) => format!("IP6 {} > {}: ", ip_text(s), ip_text(d)),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_fits_and_every_type_field_names_its_space() {
        for p in REGISTRY {
            assert!(p.fields.len() <= crate::packet::MAX_FIELDS, "{}", p.name);
            for f in p.fields {
                assert!(
                    f.auto != Auto::Next || f.space.is_some(),
                    "{}.{} follows the layer above but names no number space",
                    p.name,
                    f.name
                );
            }
            for q in REGISTRY {
                assert!(
                    std::ptr::eq(*p, *q) || !q.is_named(p.name),
                    "{} and {} share a name",
                    p.name,
                    q.name
                );
            }
        }
    }

    #[test]
    fn lookup_finds_bindings_in_registry_order_with_guards() {
        assert_eq!(
            lookup_binding(Space::EtherType, 0x0800, &[]),
            Some(&ipv4::IPV4)
        );
        assert_eq!(lookup_binding(Space::IpProto, 17, &[]), Some(&udp::UDP));
        // Raw IP: the version nibble picks the protocol.
        assert_eq!(
            lookup_binding(Space::LinkType, 101, &[0x45]),
            Some(&ipv4::IPV4)
        );
        assert_eq!(
            lookup_binding(Space::LinkType, 101, &[0x60]),
            Some(&ipv6::IPV6)
        );
        assert_eq!(lookup_binding(Space::LinkType, 101, &[0x10]), None);
        // A guessed binding refuses bytes that are not its protocol.
        assert_eq!(lookup_binding(Space::UdpPort, 9, &[0; 10]), None);
        assert_eq!(lookup_binding(Space::IpProto, 99_999, &[]), None);
    }

    #[test]
    fn ipv6_addresses_print_as_tshark_prints_them() {
        for (text, want) in [
            ("::", "::"),
            ("::1", "::1"),
            ("::198.18.0.1", "::198.18.0.1"),
            ("::ffff:198.18.0.1", "::ffff:198.18.0.1"),
            ("fd00:0:0:0:0:0:0:1", "fd00::1"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("::1:0:0:0:1", "::1:0:0:0:1"),
        ] {
            let a: Ipv6Addr = text.parse().unwrap();
            assert_eq!(Ip6(a).to_string(), want, "{text}");
        }
    }

    static MANY: [Field; 100] = {
        let mut f = [const { Field::new("f", 0, 1, Kind::Int, "") }; 100];
        let mut i = 0;
        while i < 100 {
            f[i].off = i as u32;
            i += 1;
        }
        f[99] = Field::new("last", 99, 1, Kind::Int, "").auto(Auto::Len);
        f[98] = Field::new("moving", 0, 8, Kind::Int, "")
            .at(|h| 8 * h.first().copied().unwrap_or(0) as u32 % 96);
        f
    };

    static WIDE: Proto = Proto {
        name: "Wide",
        accessor: "wide",
        fields: &MANY,
        template: &[0; 13],
        ..BASE
    };

    #[test]
    fn a_layer_may_have_more_than_64_fields_and_moving_offsets() {
        let mut p = Packet::new_layer(&WIDE);
        p.finish();
        // Field 99, automatic: assigning it pins it.
        p.set(0, 99, &Input::Int(1)).unwrap();
        assert!(p.is_pinned(0, 99));
        assert!(!p.is_pinned(0, 98));
        assert_eq!(p.get(0, 99).unwrap(), Value::Int(1));
        // Field 98 starts at the byte the first byte names.
        p.set(0, 0, &Input::Int(1)).unwrap(); // the first bit: byte 0 becomes 0x80
        assert_eq!(p.raw_bytes()[0], 0x80);
        assert_eq!(MANY[98].bit_off(p.header(0)), 64); // 8 * 0x80 % 96
        p.set(0, 98, &Input::Int(0xab)).unwrap();
        assert_eq!(p.raw_bytes()[8], 0xab);
        assert!(p.touched_any(0, &["moving"]));
        assert_eq!(p.get(0, 98).unwrap(), Value::Int(0xab));
    }
}
