//! The packet: its bytes, and the layers dissected over them.
//!
//! A [`Packet`] owns one contiguous byte buffer. Each [`Layer`] is a window
//! onto that buffer (offset and header length) plus bookkeeping: which of its
//! automatic fields the script pinned, and whether it changed since the bytes
//! were last consistent. Reading a field reads the bytes; writing one writes
//! the bytes and marks the layer changed; serialising runs the build hooks of
//! the changed layers and of the layers that cover them, innermost first, so a
//! dissected packet keeps its exact bytes until something is edited.

use crate::layers::{
    self, Changed, Field, FieldError, Input, Next, Proto, Space, Value, padding::PADDING, raw::RAW,
};
use std::fmt::Write as _;

/// Ethernet's link type number in pcap files.
pub const LINKTYPE_ETHERNET: u32 = 1;

/// One protocol header inside a packet.
#[derive(Debug, Clone, Copy)]
pub struct Layer {
    pub proto: &'static Proto,
    /// Offset of the header in the packet's bytes.
    pub off: usize,
    /// Header bytes present (less than the header wants when truncated).
    pub len: usize,
    /// Bit i set: field i was assigned by the script and is not recomputed.
    pub pinned: FieldSet,
    /// Changed since the bytes were last made consistent.
    pub dirty: bool,
    /// The header is cut short by the end of the bytes.
    pub truncated: bool,
    /// Part of a packet quoted inside an ICMP error (its lengths describe the original).
    pub quoted: bool,
    /// Bit i set: field i changed since the bytes were last consistent
    /// (all bits when the header was respliced).
    pub touched: FieldSet,
}

/// A set of a layer's fields, by index (a table holds at most
/// [`MAX_FIELDS`] fields).
pub type FieldSet = u128;

/// The most fields one protocol's table may have.
pub const MAX_FIELDS: usize = FieldSet::BITS as usize;

fn bit(fi: usize) -> FieldSet {
    if fi < MAX_FIELDS { 1 << fi } else { 0 }
}

/// Direction of a captured packet relative to the capturing host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Incoming,
    Outgoing,
}

/// A packet: bytes plus the layers over them, and capture metadata.
#[derive(Debug, Clone)]
pub struct Packet {
    data: Vec<u8>,
    layers: Vec<Layer>,
    any_dirty: bool,
    /// Capture time: seconds and nanoseconds since the epoch.
    pub time: Option<(i64, u32)>,
    /// pcap link type of the bytes.
    pub linktype: u32,
    /// Length on the wire when captured (kept while the bytes are unchanged).
    orig_len: Option<u32>,
    /// Interface the packet was captured on.
    pub iface: Option<String>,
    pub direction: Option<Direction>,
    /// How the capture file the packet was read from encoded it (see
    /// [`crate::pcap::RawFields`]), so that it is written back the same.
    pub capture_raw: crate::pcap::RawFields,
}

/// Errors from field access, for scripts to report with a hint.
pub type FieldResult<T> = Result<T, FieldError>;

impl Packet {
    /// A packet of one layer holding the protocol's default header. Its
    /// link type is the first one the protocol is bound to (CookedLinux:
    /// 113, IPv4: raw IPv4), Ethernet for a protocol that starts no link;
    /// stacking keeps the lower packet's.
    pub fn new_layer(proto: &'static Proto) -> Packet {
        Packet {
            data: proto.template.to_vec(),
            layers: vec![Layer {
                proto,
                off: 0,
                len: proto.template.len(),
                pinned: 0,
                dirty: true,
                truncated: false,
                quoted: false,
                touched: FieldSet::MAX,
            }],
            any_dirty: true,
            time: None,
            linktype: proto
                .bindings
                .iter()
                .find(|b| b.space == Space::LinkType)
                .map_or(LINKTYPE_ETHERNET, |b| b.value as u32),
            orig_len: None,
            iface: None,
            direction: None,
            capture_raw: Default::default(),
        }
    }

    /// A packet of one layer starting from a variant's template
    /// (`ICMPv6EchoRequest` is ICMPv6 with its own defaults).
    pub fn new_variant(proto: &'static Proto, v: &layers::Variant) -> Packet {
        let mut p = Packet::new_layer(proto);
        p.data = v.template.to_vec();
        p.layers[0].len = v.template.len();
        p
    }

    /// A Raw layer holding `bytes`.
    pub fn raw(bytes: &[u8]) -> Packet {
        let mut p = Packet::new_layer(&RAW);
        p.data = bytes.to_vec();
        p.layers[0].len = bytes.len();
        p
    }

    /// Dissects bytes captured on a link of type `linktype`.
    pub fn dissect(data: Vec<u8>, linktype: u32) -> Packet {
        let mut p = Packet {
            data,
            layers: Vec::new(),
            any_dirty: false,
            time: None,
            linktype,
            orig_len: None,
            iface: None,
            direction: None,
            capture_raw: Default::default(),
        };
        p.redissect();
        p
    }

    /// Dissects an Ethernet frame.
    pub fn parse(data: &[u8]) -> Packet {
        Packet::dissect(data.to_vec(), LINKTYPE_ETHERNET)
    }

    /// Rebuilds the layer list from the bytes (pins and change marks are lost).
    fn redissect(&mut self) {
        self.layers.clear();
        let first = first_layer(self.linktype, &self.data);
        dissect_into(&self.data, first, &mut self.layers);
        self.any_dirty = false;
    }

    // ---- structure ------------------------------------------------------

    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    pub fn layer(&self, idx: usize) -> Option<&Layer> {
        self.layers.get(idx)
    }

    /// Header bytes of layer `idx` (empty if out of range).
    pub fn header(&self, idx: usize) -> &[u8] {
        match self.layers.get(idx) {
            Some(l) => self.data.get(l.off..l.off + l.len).unwrap_or(&[]),
            None => &[],
        }
    }

    /// Index of the first layer named `name` (protocol name, alias or
    /// accessor, or a variant's name when the header is of that variant).
    pub fn find(&self, name: &str) -> Option<usize> {
        if let Some(i) = self.layers.iter().position(|l| l.proto.is_named(name)) {
            return Some(i);
        }
        self.layers.iter().enumerate().position(|(i, l)| {
            !l.proto.variants.is_empty()
                && l.proto
                    .variant(name)
                    .is_some_and(|v| (v.is)(self.header(i)))
        })
    }

    /// Index of the first layer of protocol `proto` at or after `from`.
    pub fn find_proto(&self, proto: &Proto, from: usize) -> Option<usize> {
        (from..self.layers.len()).find(|&i| self.layers[i].proto == proto)
    }

    pub fn has(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// Names of the layers, outermost first.
    pub fn layer_names(&self) -> Vec<&'static str> {
        self.layers.iter().map(|l| l.proto.name).collect()
    }

    /// The byte range of the payload of layer `idx`: after its header, up to
    /// the first padding that follows it.
    pub fn payload_range(&self, idx: usize) -> std::ops::Range<usize> {
        let Some(l) = self.layers.get(idx) else {
            return 0..0;
        };
        let start = l.off + l.len;
        let end = self.layers[idx + 1..]
            .iter()
            .find(|x| x.proto == &PADDING)
            .map(|x| x.off)
            .unwrap_or(self.data.len());
        start..end.max(start)
    }

    /// Header and payload of layer `idx`.
    pub fn segment(&self, idx: usize) -> &[u8] {
        let Some(l) = self.layers.get(idx) else {
            return &[];
        };
        let r = self.payload_range(idx);
        &self.data[l.off..r.end]
    }

    /// Payload bytes of layer `idx`.
    pub fn payload(&self, idx: usize) -> &[u8] {
        let r = self.payload_range(idx);
        &self.data[r]
    }

    /// Index one past the last layer covered by layer `idx` (before padding).
    fn covered_end(&self, idx: usize) -> usize {
        self.layers[idx + 1..]
            .iter()
            .position(|x| x.proto == &PADDING)
            .map(|p| idx + 1 + p)
            .unwrap_or(self.layers.len())
    }

    // ---- fields ---------------------------------------------------------

    pub fn is_pinned(&self, idx: usize, field: usize) -> bool {
        self.layers
            .get(idx)
            .is_some_and(|l| l.pinned & bit(field) != 0)
    }

    /// The network layer (IPv4, IPv6) that carries layer `idx`: the nearest
    /// one below it, looking through extension headers. None when the layer
    /// directly below (past extension headers) is not a network layer.
    pub fn net_below(&self, idx: usize) -> Option<usize> {
        let mut i = idx.checked_sub(1)?;
        loop {
            let l = self.layers.get(i)?;
            if l.proto.net.is_some() {
                return Some(i);
            }
            if l.proto.ext.is_none() || l.quoted != self.layers[idx].quoted {
                return None;
            }
            i = i.checked_sub(1)?;
        }
    }

    /// Source and destination address of the network layer carrying `idx`.
    pub fn net_addrs(&self, idx: usize) -> Option<(std::net::IpAddr, std::net::IpAddr)> {
        let net = self.net_below(idx)?;
        (self.layers[net].proto.net?.addrs)(self, net)
    }

    /// Source and destination address of layer `idx`, if it is a network layer.
    pub fn addrs_at(&self, idx: usize) -> Option<(std::net::IpAddr, std::net::IpAddr)> {
        (self.layers.get(idx)?.proto.net?.addrs)(self, idx)
    }

    /// Whether layer `idx` is followed by a packet it quotes (an ICMP error).
    pub fn carries_quote(&self, idx: usize) -> bool {
        let Some(l) = self.layers.get(idx) else {
            return false;
        };
        if self
            .layers
            .get(idx + 1)
            .is_some_and(|n| n.quoted && !l.quoted)
        {
            return true;
        }
        let payload = self.payload(idx);
        let lookup = |space: Space, value: u64| layers::lookup_binding(space, value, payload);
        (l.proto.next)(self.header(idx), payload, &lookup).is_some_and(|n| n.quoted)
    }

    /// Whether field `fi` of layer `idx` exists in this header.
    pub fn field_present(&self, idx: usize, fi: usize) -> bool {
        let proto = self.layers[idx].proto;
        proto
            .fields
            .get(fi)
            .is_some_and(|f| f.present(self.header(idx)))
    }

    /// Finds a field of layer `idx` by name, or explains what exists.
    pub fn field_index(&self, idx: usize, name: &str) -> FieldResult<usize> {
        let proto = self.layers[idx].proto;
        let hdr = self.header(idx);
        // Some names exist in several layouts (ICMP's `unused`): prefer the present one.
        let present = proto
            .fields
            .iter()
            .position(|f| f.name == name && f.present(hdr));
        match present.or_else(|| proto.field_index(name)) {
            Some(fi) => Ok(fi),
            None => Err(unknown_field(proto, name, hdr)),
        }
    }

    /// Reads field `fi` of layer `idx` (after bringing automatic fields up to date).
    pub fn get(&mut self, idx: usize, fi: usize) -> FieldResult<Value> {
        self.finish();
        let proto = self.layers[idx].proto;
        let f = &proto.fields[fi];
        let hdr = self.header(idx);
        if !f.present(hdr) {
            return Err(absent_field(proto, f, hdr));
        }
        Ok(layers::get_value(f, hdr))
    }

    /// Whether all of field `fi` of layer `idx` lies within the captured bytes.
    pub fn field_captured(&self, idx: usize, fi: usize) -> bool {
        let hdr = self.header(idx);
        let f = &self.layers[idx].proto.fields[fi];
        f.is_var() || f.byte_range(hdr).end <= hdr.len()
    }

    /// Reads a field without building (for display of exact bytes).
    pub fn peek(&self, idx: usize, fi: usize) -> Value {
        let f = &self.layers[idx].proto.fields[fi];
        layers::get_value(f, self.header(idx))
    }

    /// Integer value of a field by name, without building; 0 if absent.
    pub fn peek_int(&self, idx: usize, name: &str) -> u64 {
        let Some(l) = self.layers.get(idx) else {
            return 0;
        };
        match l.proto.fields.iter().find(|f| f.name == name) {
            Some(f) => f.int(self.header(idx)),
            None => 0,
        }
    }

    /// Parses `input` for field `fi` of layer `idx` and writes it. On error
    /// the packet is unchanged. Assigning an automatic field pins it.
    pub fn set(&mut self, idx: usize, fi: usize, input: &Input) -> FieldResult<()> {
        let proto = self.layers[idx].proto;
        let f = &proto.fields[fi];
        // An automatic field is compared with the value it would be built
        // with: `p.udp.chksum = 0` on a packet not built yet pins the 0.
        if f.auto != layers::Auto::No {
            self.finish();
        }
        if !f.present(self.header(idx)) {
            return Err(absent_field(proto, f, self.header(idx)));
        }
        let value = layers::parse_value(proto, f, input)?;
        let hdr = self.header(idx);
        if !f.is_var() && f.byte_range(hdr).end > hdr.len() {
            return Err(FieldError::new(format!(
                "{}.{} lies beyond the captured bytes of this truncated {} header",
                proto.accessor, f.name, proto.name
            ))
            .help(format!(
                "only {} header bytes were captured; build a new layer to change it",
                hdr.len()
            )));
        }
        // Assigning the value a field already has changes nothing (Rhai writes
        // back after method calls like `p.ip.options.len()`); use `pin` to pin.
        if layers::same_value(f, &layers::get_value(f, hdr), &value) {
            return Ok(());
        }
        self.set_value(idx, fi, value);
        Ok(())
    }

    /// Pins field `fi` of layer `idx`: automatic recomputation leaves it alone.
    pub fn pin(&mut self, idx: usize, fi: usize) {
        self.layers[idx].pinned |= bit(fi);
    }

    /// Replaces the header of layer `idx` with `hdr` (from a copy of this
    /// layer, possibly from another packet of the same protocol), keeping
    /// its pins. Nothing changes when the bytes are the same.
    pub fn replace_header(&mut self, idx: usize, hdr: &[u8], pinned: FieldSet, touched: FieldSet) {
        self.layers[idx].pinned |= pinned;
        if self.header(idx) == hdr {
            return;
        }
        let l = self.layers[idx];
        if l.len == hdr.len() {
            self.data[l.off..l.off + l.len].copy_from_slice(hdr);
            self.layers[idx].touched |= touched;
            self.touch(idx);
        } else {
            self.splice(idx, 0..l.len, hdr);
        }
    }

    /// Writes an already-checked value.
    pub fn set_value(&mut self, idx: usize, fi: usize, value: Value) {
        let proto = self.layers[idx].proto;
        let f = &proto.fields[fi];
        self.store(idx, f, value);
        self.layers[idx].touched |= bit(fi);
        if f.auto != layers::Auto::No {
            self.layers[idx].pinned |= bit(fi);
        }
        self.touch(idx);
        if let Some(relayout) = proto.relayout {
            let want = relayout(self.header(idx));
            let have = self.layers[idx].len;
            if want > have {
                self.splice(idx, have..have, &vec![0u8; want - have]);
            } else if want < have {
                self.splice(idx, want..have, &[]);
            }
        }
    }

    fn store(&mut self, idx: usize, f: &Field, value: Value) {
        let l = self.layers[idx];
        let r = f.byte_range(self.header(idx));
        match value {
            Value::Int(v) => {
                let off = f.bit_off(self.header(idx));
                let hdr = &mut self.data[l.off..l.off + l.len];
                layers::write_bits(hdr, off, f.bits, v);
            }
            Value::Mac(m) => self.write_bytes(idx, r, &m),
            Value::Ipv4(a) => self.write_bytes(idx, r, &a),
            Value::Ipv6(a) => self.write_bytes(idx, r, &a),
            Value::Bytes(b) => self.splice(idx, r, &b),
        }
    }

    fn write_bytes(&mut self, idx: usize, r: std::ops::Range<usize>, src: &[u8]) {
        let l = self.layers[idx];
        for (i, b) in src.iter().enumerate() {
            if r.start + i < l.len {
                self.data[l.off + r.start + i] = *b;
            }
        }
    }

    /// Replaces bytes `r` (relative to layer `idx`'s header) with `with`,
    /// moving the layers after it.
    pub fn splice(&mut self, idx: usize, r: std::ops::Range<usize>, with: &[u8]) {
        let l = self.layers[idx];
        let start = l.off + r.start.min(l.len);
        let end = l.off + r.end.min(l.len);
        let delta = with.len() as isize - (end - start) as isize;
        self.data.splice(start..end, with.iter().copied());
        self.layers[idx].len = (l.len as isize + delta) as usize;
        self.layers[idx].touched = FieldSet::MAX;
        for x in &mut self.layers[idx + 1..] {
            x.off = (x.off as isize + delta) as usize;
        }
        self.touch(idx);
    }

    /// Marks layer `idx` changed.
    pub fn touch(&mut self, idx: usize) {
        self.layers[idx].dirty = true;
        self.any_dirty = true;
        self.orig_len = None;
    }

    /// Writes an automatic field from a build hook, unless pinned; marks the
    /// layer changed when the value differs.
    pub fn write_auto(&mut self, idx: usize, fi: usize, v: u64) {
        if self.is_pinned(idx, fi) {
            return;
        }
        let l = self.layers[idx];
        let f = &l.proto.fields[fi];
        let off = f.bit_off(self.header(idx));
        let hdr = &mut self.data[l.off..l.off + l.len];
        if layers::read_bits(hdr, off, f.bits) != v {
            layers::write_bits(hdr, off, f.bits, v);
            self.layers[idx].dirty = true;
            self.layers[idx].touched |= bit(fi);
        }
    }

    /// Whether any of the named fields of layer `idx` changed since the
    /// bytes were last consistent.
    pub fn touched_any(&self, idx: usize, names: &[&str]) -> bool {
        let Some(l) = self.layers.get(idx) else {
            return false;
        };
        names.iter().any(|n| {
            l.proto
                .field_index(n)
                .is_some_and(|fi| l.touched & bit(fi) != 0)
        })
    }

    /// Writes an automatic field by name (see [`Packet::write_auto`]).
    pub fn write_auto_named(&mut self, idx: usize, name: &str, v: u64) {
        if let Some(fi) = self.layers[idx].proto.field_index(name) {
            self.write_auto(idx, fi, v);
        }
    }

    /// Whether the named field of layer `idx` is pinned.
    pub fn is_pinned_named(&self, idx: usize, name: &str) -> bool {
        self.layers[idx]
            .proto
            .field_index(name)
            .is_some_and(|fi| self.is_pinned(idx, fi))
    }

    // ---- building -------------------------------------------------------

    /// Recomputes the automatic fields covering what changed, innermost
    /// layer first. A packet that was not edited is left exactly as it is.
    pub fn finish(&mut self) {
        if !self.any_dirty {
            return;
        }
        let n = self.layers.len();
        // Type fields first: they depend only on which layer is above, and
        // checksums below them (pseudo-headers) read them.
        for i in 0..n {
            let end = self.covered_end(i);
            if self.layers[i].dirty || self.layers[i + 1..end].iter().any(|l| l.dirty) {
                let proto = self.layers[i].proto;
                for (fi, f) in proto.fields.iter().enumerate() {
                    if f.auto == layers::Auto::Next {
                        layers::build_next_field(self, i, fi);
                    }
                }
            }
        }
        for i in (0..n).rev() {
            let end = self.covered_end(i);
            let changed = Changed {
                this: self.layers[i].dirty,
                payload: self.layers[i + 1..end].iter().any(|l| l.dirty),
                // The layer below, or any layer down to the network layer
                // that carries this one (extension headers in between).
                lower: i > 0
                    && (self.net_below(i).unwrap_or(i - 1)..i).any(|j| self.layers[j].dirty),
            };
            if changed.any() && !self.layers[i].truncated {
                (self.layers[i].proto.build)(self, i, changed);
            }
        }
        for l in &mut self.layers {
            l.dirty = false;
            l.touched = 0;
        }
        self.any_dirty = false;
    }

    /// Recomputes every automatic field, pinned or not (pkttools' pkt-correct).
    pub fn fix(&mut self) {
        for l in &mut self.layers {
            l.pinned = 0;
            l.dirty = true;
            l.touched = FieldSet::MAX;
        }
        self.any_dirty = true;
        self.orig_len = None;
        self.finish();
    }

    /// The serialised packet.
    pub fn bytes(&mut self) -> &[u8] {
        self.finish();
        &self.data
    }

    /// The bytes as they are now, without building (exact for unedited packets).
    pub fn raw_bytes(&self) -> &[u8] {
        &self.data
    }

    pub fn is_dirty(&self) -> bool {
        self.any_dirty
    }

    pub fn len(&mut self) -> usize {
        self.finish();
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Length on the wire: the captured original length while unchanged.
    pub fn wire_len(&self) -> usize {
        match self.orig_len {
            Some(o) => (o as usize).max(self.data.len()),
            None => self.data.len(),
        }
    }

    pub fn set_orig_len(&mut self, orig: u32) {
        self.orig_len = Some(orig);
    }

    /// The original length the capture gave, while the bytes are
    /// unchanged: as given, even when it is smaller than the bytes (which
    /// [`wire_len`](Packet::wire_len) does not go below).
    pub fn orig_len(&self) -> Option<u32> {
        self.orig_len
    }

    /// Stacks `upper` on top of this packet (Scapy's `/`).
    pub fn stack(&mut self, upper: &Packet) {
        let base = self.data.len();
        self.data.extend_from_slice(&upper.data);
        for l in &upper.layers {
            let mut l = *l;
            l.off += base;
            l.dirty = true;
            l.touched = FieldSet::MAX;
            self.layers.push(l);
        }
        if let Some(last) = self.layers.len().checked_sub(upper.layers.len() + 1) {
            self.layers[last].dirty = true;
        }
        self.any_dirty = true;
        self.orig_len = None;
    }

    /// Removes layer `idx` and everything after it.
    pub fn truncate_layers(&mut self, idx: usize) {
        if let Some(l) = self.layers.get(idx) {
            self.data.truncate(l.off);
            self.layers.truncate(idx);
            if idx > 0 {
                self.touch(idx - 1);
            }
        }
    }

    /// Layers whose stored checksum is wrong (pkttools' pkt-check).
    pub fn bad_checksums(&mut self) -> Vec<&'static str> {
        self.finish();
        let mut out = Vec::new();
        for (i, l) in self.layers.iter().enumerate() {
            if let Some(st) = self.checksum_status(i)
                && !st.ok
            {
                out.push(l.proto.name);
            }
        }
        out
    }

    /// Stored and correct checksum of layer `idx`, if it has one that can be checked.
    pub fn checksum_status(&self, idx: usize) -> Option<ChecksumStatus> {
        let l = self.layers.get(idx)?;
        let compute = l.proto.checksum?;
        if l.truncated {
            return None;
        }
        let fi = l
            .proto
            .fields
            .iter()
            .position(|f| f.auto == layers::Auto::Chksum)?;
        let f = &l.proto.fields[fi];
        let stored = f.int(self.header(idx)) as u16;
        let correct = compute(self, idx)?;
        Some(ChecksumStatus {
            stored,
            correct,
            ok: stored == correct,
        })
    }

    // ---- display --------------------------------------------------------

    /// One tcpdump-like line.
    pub fn summary(&mut self) -> String {
        self.finish();
        // Layers quoted inside an error (dissected or built) describe another packet.
        let mut limit = self.layers.len();
        for i in 0..self.layers.len() {
            if self.layers[i].quoted {
                limit = i;
                break;
            }
            if self.carries_quote(i) {
                limit = i + 1;
                break;
            }
        }
        let mut s = String::new();
        for i in (0..limit).rev() {
            if let Some(x) = (self.layers[i].proto.summary)(self, i) {
                s = x;
                break;
            }
        }
        if s.is_empty() {
            s = format!("{} bytes", self.data.len());
        }
        for i in (0..limit).rev() {
            if let Some(tag) = self.layers[i].proto.summary_tag {
                s = format!("{}, {s}", tag(self.header(i)));
            }
        }
        if self.layers.iter().any(|l| l.truncated) {
            s.push_str(" [truncated]");
        }
        s
    }

    /// The layer-by-layer field dump (`show()`).
    pub fn details(&mut self) -> String {
        self.finish();
        let mut out = String::new();
        for (i, l) in self.layers.iter().enumerate() {
            let hdr = self.header(i);
            let title = if l.quoted {
                format!("{} (quoted in ICMP error)", l.proto.name)
            } else {
                l.proto.name.to_string()
            };
            let _ = writeln!(out, "###[ {title} ]###");
            if l.truncated {
                let want = (l.proto.header_len)(hdr);
                let _ = writeln!(
                    out,
                    "  !! truncated: {} of {} header bytes present",
                    l.len,
                    want.max(l.proto.min_len)
                );
            }
            let width = l
                .proto
                .fields
                .iter()
                .map(|f| f.name.len())
                .max()
                .unwrap_or(0);
            for (fi, f) in l.proto.fields.iter().enumerate() {
                if !f.present(hdr) {
                    continue;
                }
                let r = f.byte_range(hdr);
                if r.start >= hdr.len() && (l.truncated || !f.is_var()) {
                    if l.truncated {
                        let _ = writeln!(out, "  {:width$} = <missing>", f.name);
                    }
                    continue;
                }
                if r.end > hdr.len() && !f.is_var() {
                    let _ = writeln!(out, "  {:width$} = <cut short>", f.name);
                    continue;
                }
                let v = layers::get_value(f, hdr);
                let mut text = layers::format_value(f, &v);
                if f.auto == layers::Auto::Chksum
                    && let Some(st) = self.checksum_status(i)
                {
                    if st.ok {
                        text.push_str(" (valid)");
                    } else {
                        let _ = write!(text, " (bad, should be {:#06x})", st.correct);
                    }
                }
                if self.is_pinned(i, fi) {
                    text.push_str(" [pinned]");
                }
                let _ = writeln!(out, "  {:width$} = {text}", f.name);
            }
        }
        out
    }

    /// Offset, hex in groups of four and ASCII, as pkttools prints frames.
    pub fn hexdump(&mut self) -> String {
        self.finish();
        hexdump(&self.data)
    }
}

/// A checksum as stored and as it should be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChecksumStatus {
    pub stored: u16,
    pub correct: u16,
    pub ok: bool,
}

/// Formats bytes as pkttools does: `000000: FF FF FF FF  FF FF 08 00  ... : ascii`.
pub fn hexdump(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(16) * 76);
    hexdump_into(&mut out, data);
    out
}

/// Appends [`hexdump`]'s lines to `out` (a table lookup per nibble: this is
/// most of the time of writing packets as text).
pub fn hexdump_into(out: &mut String, data: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut line = [b' '; 96];
    for (row, chunk) in data.chunks(16).enumerate() {
        let off = row * 16;
        let mut n = 0;
        // The offset: six hex digits, more if the packet is that long.
        let digits = if off >> 24 == 0 {
            6
        } else {
            (usize::BITS - off.leading_zeros()).div_ceil(4) as usize
        };
        for d in (0..digits).rev() {
            line[n] = HEX[(off >> (4 * d)) & 0xf];
            n += 1;
        }
        line[n] = b':';
        n += 1;
        for i in 0..16 {
            line[n] = b' ';
            n += 1;
            if i > 0 && i % 4 == 0 {
                line[n] = b' ';
                n += 1;
            }
            match chunk.get(i) {
                Some(b) => {
                    line[n] = HEX[(b >> 4) as usize];
                    line[n + 1] = HEX[(b & 0xf) as usize];
                }
                None => {
                    line[n] = b' ';
                    line[n + 1] = b' ';
                }
            }
            n += 2;
        }
        line[n..n + 3].copy_from_slice(b" : ");
        n += 3;
        for (i, b) in chunk.iter().enumerate() {
            if i == 8 {
                line[n] = b' ';
                n += 1;
            }
            line[n] = if b.is_ascii_graphic() || *b == b' ' {
                *b
            } else {
                b'.'
            };
            n += 1;
        }
        line[n] = b'\n';
        n += 1;
        // Only ASCII was written.
        out.push_str(std::str::from_utf8(&line[..n]).unwrap_or_default());
    }
}

/// The protocol a frame of link type `linktype` starts with (the layer
/// files bind to link types); Raw for a link type none of them knows.
pub fn first_layer(linktype: u32, data: &[u8]) -> &'static Proto {
    layers::lookup_binding(Space::LinkType, linktype as u64, data).unwrap_or(&RAW)
}

/// Dissects `data` starting with protocol `first`, appending layers.
fn dissect_into(data: &[u8], first: &'static Proto, out: &mut Vec<Layer>) {
    let mut off = 0usize;
    let mut end = data.len();
    let mut proto = first;
    let mut quoted = false;
    let mut pads: Vec<(usize, usize)> = Vec::new();
    while off < end {
        let avail = &data[off..end];
        if proto == &RAW {
            out.push(Layer::dissected(proto, off, avail.len(), false, quoted));
            break;
        }
        let want = (proto.header_len)(avail).max(proto.min_len);
        let truncated = want > avail.len();
        let hl = want.min(avail.len());
        out.push(Layer::dissected(proto, off, hl, truncated, quoted));
        if truncated {
            break;
        }
        let hdr = &avail[..hl];
        if let Some(pl) = proto.payload_len
            && let Some(pl) = pl(hdr)
        {
            let new_end = off + hl + pl;
            if new_end < end && !quoted {
                pads.push((new_end, end));
                end = new_end;
            }
        }
        let payload = &data[off + hl..end];
        let lookup = |space: Space, value: u64| layers::lookup_binding(space, value, payload);
        let next: Option<Next> = (proto.next)(hdr, payload, &lookup);
        off += hl;
        match next {
            Some(n) => {
                proto = n.proto;
                quoted |= n.quoted;
            }
            None => proto = &RAW,
        }
    }
    for (s, e) in pads.into_iter().rev() {
        out.push(Layer::dissected(&PADDING, s, e - s, false, false));
    }
}

impl Layer {
    fn dissected(
        proto: &'static Proto,
        off: usize,
        len: usize,
        truncated: bool,
        quoted: bool,
    ) -> Layer {
        Layer {
            proto,
            off,
            len,
            pinned: 0,
            dirty: false,
            truncated,
            quoted,
            touched: 0,
        }
    }
}

/// "IPv4 has no field `tll`", with the fields this header has and the closest name.
pub fn unknown_field(proto: &Proto, name: &str, hdr: &[u8]) -> FieldError {
    let present: Vec<&str> = proto
        .fields
        .iter()
        .filter(|f| f.present(hdr))
        .map(|f| f.name)
        .collect();
    let mut help = format!("{} fields: {}", proto.name, present.join(", "));
    if let Some(c) = layers::closest(name, proto.fields.iter().map(|f| f.name)) {
        help = format!("did you mean `{c}`? {help}");
    }
    FieldError::new(format!("{} has no field `{name}`", proto.name)).help(help)
}

fn absent_field(proto: &Proto, f: &Field, hdr: &[u8]) -> FieldError {
    let present: Vec<&str> = proto
        .fields
        .iter()
        .filter(|f| f.present(hdr))
        .map(|f| f.name)
        .collect();
    FieldError::new(format!(
        "{}.{} does not exist in this {} header",
        proto.accessor, f.name, proto.name
    ))
    .help(format!(
        "{} (it depends on the header's type); fields here: {}",
        f.doc,
        present.join(", ")
    ))
}
