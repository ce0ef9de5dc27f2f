//! Bindings for packets, layers and flag values.

use super::{err_help, err_msg, user_err};
use crate::layers::{self, Input, Kind, Proto, REGISTRY, Tree, Value, Variant, items};
use crate::packet::Packet;
use rhai::{Array, Blob, Dynamic, Engine, EvalAltResult, ImmutableString, Map};

type R<T> = Result<T, Box<EvalAltResult>>;

/// One layer of a packet, as returned by `p.ip`: a copy of the packet and
/// the layer's index. Writing a field and assigning it back (`p.ip.ttl = 5`
/// does both) updates the packet.
#[derive(Debug, Clone)]
pub struct LayerView {
    pub pkt: Packet,
    pub idx: usize,
}

/// A flags field's value: compares equal to its letters ("SA") or its number.
#[derive(Debug, Clone, Copy)]
pub struct Flags {
    pub value: u64,
    pub names: &'static [&'static str],
}

impl Flags {
    fn text(&self) -> String {
        layers::format_flags(self.names, self.value)
    }
    fn eq_str(&self, s: &str) -> bool {
        let f = layers::Field::new("flags", 0, 16, Kind::Flags(self.names), "");
        let dummy = &layers::raw::RAW;
        matches!(layers::parse_value(dummy, &f, &Input::Str(s)), Ok(Value::Int(v)) if v == self.value)
    }
}

/// An enum field's value: a number that also compares equal to its name
/// (`p.icmp.type == 8` and `p.icmp.type == "echo-request"` both hold).
#[derive(Debug, Clone, Copy)]
pub struct EnumValue {
    pub value: u64,
    pub names: &'static [(u64, &'static str)],
}

impl EnumValue {
    fn name(&self) -> Option<&'static str> {
        self.names
            .iter()
            .find(|(v, _)| *v == self.value)
            .map(|(_, n)| *n)
    }
    fn eq_str(&self, s: &str) -> bool {
        match self
            .names
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(s.trim()))
        {
            Some((v, _)) => *v == self.value,
            None => layers::parse_int_str(s) == Some(self.value as i64),
        }
    }
}

/// Converts a script value to field input; keeps the owned text alive.
pub enum Owned {
    Int(i64),
    Str(String),
    Bytes(Vec<u8>),
    Tree(Tree),
}

impl Owned {
    pub fn input(&self) -> Input<'_> {
        match self {
            Owned::Int(i) => Input::Int(*i),
            Owned::Str(s) => Input::Str(s),
            Owned::Bytes(b) => Input::Bytes(b),
            Owned::Tree(t) => Input::Tree(t),
        }
    }
}

/// A script value as a tree (an option list), nested at most
/// [`items::MAX_DEPTH`] deep.
fn to_tree(v: &Dynamic, depth: usize) -> R<Tree> {
    if depth > items::MAX_DEPTH {
        return Err(err_msg(format!(
            "a list nests deeper than {} levels",
            items::MAX_DEPTH
        )));
    }
    if v.is_unit() {
        return Ok(Tree::Unit);
    }
    if let Ok(a) = v.as_array_ref() {
        return a
            .iter()
            .map(|x| to_tree(x, depth + 1))
            .collect::<R<Vec<_>>>()
            .map(Tree::List);
    }
    Ok(match to_owned_input(v)? {
        Owned::Int(i) => Tree::Int(i),
        Owned::Str(s) => Tree::Str(s),
        Owned::Bytes(b) => Tree::Bytes(b),
        Owned::Tree(t) => t,
    })
}

/// A tree as script values: lists as arrays, `()` as unit.
pub fn tree_to_dynamic(t: Tree) -> Dynamic {
    match t {
        Tree::Unit => Dynamic::UNIT,
        Tree::Int(n) => Dynamic::from_int(n),
        Tree::Str(s) => Dynamic::from(s),
        Tree::Bytes(b) => Dynamic::from_blob(b),
        Tree::List(items) => Dynamic::from_array(items.into_iter().map(tree_to_dynamic).collect()),
    }
}

pub fn to_owned_input(v: &Dynamic) -> R<Owned> {
    if let Ok(i) = v.as_int() {
        return Ok(Owned::Int(i));
    }
    if let Ok(b) = v.as_bool() {
        return Ok(Owned::Int(b as i64));
    }
    if v.is_string() {
        return Ok(Owned::Str(v.clone().into_string().unwrap_or_default()));
    }
    if let Ok(c) = v.as_char() {
        return Ok(Owned::Str(c.to_string()));
    }
    if v.is_blob() {
        return Ok(Owned::Bytes(v.clone().cast::<Blob>()));
    }
    if v.is_array() {
        return to_tree(v, 0).map(Owned::Tree);
    }
    if let Some(f) = v.clone().try_cast::<Flags>() {
        return Ok(Owned::Int(f.value as i64));
    }
    if let Some(f) = v.clone().try_cast::<EnumValue>() {
        return Ok(Owned::Int(f.value as i64));
    }
    Err(err_help(
        format!("a field cannot hold a value of type {}", v.type_name()),
        "use a number, a string (addresses, enum names, flag letters) or a blob",
    ))
}

/// Converts a field value for scripts: numbers, address strings, blobs, flags.
pub fn value_to_dynamic(proto: &Proto, fi: usize, v: Value) -> Dynamic {
    match (v, &proto.fields[fi].kind) {
        (Value::Int(n), Kind::Flags(names)) => Dynamic::from(Flags { value: n, names }),
        (Value::Int(n), Kind::Enum(names) | Kind::HexEnum(names)) => {
            Dynamic::from(EnumValue { value: n, names })
        }
        (Value::Int(n), _) => Dynamic::from_int(n as i64),
        (Value::Bytes(b), Kind::List(c)) => tree_to_dynamic((c.decode)(&b)),
        (Value::Bytes(b), _) => Dynamic::from_blob(b),
        (v, _) => Dynamic::from(layers::format_value(&proto.fields[fi], &v)),
    }
}

/// Index of the layer a script names (`ip`, `IPv4`, `icmp`...), or an error naming those present.
pub fn layer_index(p: &Packet, name: &str) -> R<usize> {
    if let Some(i) = p.find(name) {
        return Ok(i);
    }
    let present = p.layer_names().join(" / ");
    match layers::find_proto(name) {
        Some(proto) => Err(err_help(
            format!("this packet has no {} layer", proto.name),
            format!(
                "its layers are: {present}; test first with p.has(\"{}\")",
                proto.name
            ),
        )),
        None => {
            let names = REGISTRY.iter().flat_map(|p| [p.accessor, p.name]);
            let mut help = format!("layers here: {present}; layer names: {}", accessor_list());
            if let Some(c) = layers::closest(name, names) {
                help = format!("did you mean `{c}`? {help}");
            }
            Err(err_help(
                format!("`{name}` is not a layer or property of a packet"),
                help,
            ))
        }
    }
}

fn accessor_list() -> String {
    REGISTRY
        .iter()
        .map(|p| p.accessor)
        .collect::<Vec<_>>()
        .join(", ")
}

fn get_field(p: &mut Packet, idx: usize, name: &str) -> R<Dynamic> {
    let fi = p.field_index(idx, name).map_err(user_err)?;
    if !p.field_captured(idx, fi) && p.field_present(idx, fi) {
        return Ok(Dynamic::UNIT); // cut off by the capture: no value
    }
    let v = p.get(idx, fi).map_err(user_err)?;
    Ok(value_to_dynamic(p.layers()[idx].proto, fi, v))
}

fn set_field(p: &mut Packet, idx: usize, name: &str, v: &Dynamic) -> R<()> {
    let fi = p.field_index(idx, name).map_err(user_err)?;
    let owned = to_owned_input(v)?;
    p.set(idx, fi, &owned.input()).map_err(user_err)
}

/// Splits "ip.ttl" into a layer index and a field name.
fn path<'a>(p: &Packet, key: &'a str) -> R<(usize, &'a str)> {
    let (layer, field) = key.split_once('.').unwrap_or((key, ""));
    let idx = layer_index(p, layer)?;
    if field.is_empty() {
        return Err(err_msg(format!(
            "{key:?} names a layer, not a field: write \"{layer}.FIELD\""
        )));
    }
    Ok((idx, field))
}

fn packet_index_get(p: &mut Packet, key: &str) -> R<Dynamic> {
    if key.contains('.') {
        let (idx, field) = path(p, key)?;
        return get_field(p, idx, field);
    }
    let idx = layer_index(p, key)?;
    Ok(Dynamic::from(LayerView {
        pkt: p.clone(),
        idx,
    }))
}

fn packet_index_set(p: &mut Packet, key: &str, v: Dynamic) -> R<()> {
    if key.contains('.') {
        let (idx, field) = path(p, key)?;
        return set_field(p, idx, field, &v);
    }
    let idx = layer_index(p, key)?;
    match v.try_cast::<LayerView>() {
        Some(view) => assign_layer(p, idx, &view),
        None => Err(err_help(
            format!("p.{key} takes a layer (such as another packet's p.{key}), not another value"),
            format!(
                "set its fields instead: p.{key}.FIELD = value, or build a new packet with `/`"
            ),
        )),
    }
}

/// `p.ip = view`: the layer's header becomes the view's (the write-back of
/// `p.ip.ttl = 5`, or a header copied from another packet of the same protocol).
fn assign_layer(p: &mut Packet, idx: usize, view: &LayerView) -> R<()> {
    let (Some(mine), Some(theirs)) = (p.layers().get(idx), view.pkt.layers().get(view.idx)) else {
        return Err(err_msg("that layer no longer exists"));
    };
    if mine.proto != theirs.proto {
        return Err(err_msg(format!(
            "cannot put a {} header in place of a {} header",
            theirs.proto.name, mine.proto.name
        )));
    }
    let (pinned, touched) = (theirs.pinned, theirs.touched);
    p.replace_header(idx, view.pkt.header(view.idx), pinned, touched);
    Ok(())
}

fn layer_pos(p: &Packet, i: i64) -> R<usize> {
    let n = p.layers().len() as i64;
    let j = if i < 0 { n + i } else { i };
    if j < 0 || j >= n {
        return Err(err_msg(format!(
            "layer index {i} is out of range: the packet has {n} layers"
        )));
    }
    Ok(j as usize)
}

/// Builds one layer from a map of field values, applied in table order.
pub fn construct(
    proto: &'static Proto,
    variant: Option<&'static Variant>,
    map: Option<&Map>,
) -> R<Packet> {
    let mut p = match variant {
        Some(v) => Packet::new_variant(proto, v),
        None => Packet::new_layer(proto),
    };
    if let Some(map) = map {
        for key in map.keys() {
            if proto.field_index(key).is_none() {
                let mut e = p.field_index(0, key).map_err(user_err).err();
                return Err(e
                    .take()
                    .unwrap_or_else(|| err_msg(format!("{} has no field {key}", proto.name))));
            }
        }
        for (fi, f) in proto.fields.iter().enumerate() {
            if let Some(v) = map.get(f.name) {
                if !f.present(p.header(0)) {
                    // Another layout's field of the same name (ICMP `unused`): use the present one.
                    if proto
                        .fields
                        .iter()
                        .any(|g| g.name == f.name && g.present(p.header(0)))
                    {
                        continue;
                    }
                }
                let owned = to_owned_input(v)?;
                let fi = if f.present(p.header(0)) {
                    fi
                } else {
                    p.field_index(0, f.name).map_err(user_err)?
                };
                p.set(0, fi, &owned.input()).map_err(user_err)?;
                // A value given to the constructor stays, as in Scapy
                // (`UDP(#{chksum: 0})` keeps its 0 once stacked).
                if proto.fields[fi].auto != layers::Auto::No {
                    p.pin(0, fi);
                }
            }
        }
    }
    Ok(p)
}

fn time_get(p: &mut Packet) -> Dynamic {
    match p.time {
        Some((s, ns)) => Dynamic::from_float(s as f64 + ns as f64 / 1e9),
        None => Dynamic::UNIT,
    }
}

fn time_set(p: &mut Packet, v: Dynamic) -> R<()> {
    let t = if let Ok(f) = v.as_float() {
        f
    } else if let Ok(i) = v.as_int() {
        i as f64
    } else if v.is_unit() {
        p.time = None;
        return Ok(());
    } else {
        return Err(err_msg(format!(
            "p.time takes seconds as a number, not {}",
            v.type_name()
        )));
    };
    if !t.is_finite() {
        return Err(err_msg("p.time must be a finite number of seconds"));
    }
    // A double holds about 16 significant digits: at today's epoch seconds
    // that is a quarter of a microsecond, so round to the microsecond (use
    // p.time_ns for nanoseconds).
    let mut s = t.floor();
    let mut us = ((t - s) * 1e6).round();
    if us >= 1e6 {
        s += 1.0;
        us -= 1e6;
    }
    p.time = Some((s as i64, us as u32 * 1000));
    Ok(())
}

/// Registers the packet API.
pub fn register(e: &mut Engine) {
    e.register_type_with_name::<Packet>("Packet")
        .register_type_with_name::<LayerView>("Layer")
        .register_type_with_name::<Flags>("Flags")
        .register_type_with_name::<EnumValue>("Enum");
    register_enum(e);

    // Constructors, one per protocol, from the registry.
    for proto in REGISTRY.iter().copied() {
        if proto.name == "Padding" {
            continue;
        }
        let mut names = vec![proto.name];
        names.extend(
            proto
                .aliases
                .iter()
                .filter(|a| a.starts_with(|c: char| c.is_ascii_uppercase())),
        );
        for name in names {
            if proto.name == "Raw" {
                e.register_fn(name, |b: Blob| Packet::raw(&b));
                e.register_fn(name, |s: &str| Packet::raw(s.as_bytes()));
            }
            e.register_fn(name, move || Packet::new_layer(proto));
            e.register_fn(name, move |m: Map| construct(proto, None, Some(&m)));
        }
        // Message types with constructors of their own (ICMPv6EchoRequest).
        for v in proto.variants {
            e.register_fn(v.name, move || Packet::new_variant(proto, v));
            e.register_fn(v.name, move |m: Map| construct(proto, Some(v), Some(&m)));
        }
    }

    // Stacking.
    e.register_fn("/", |a: Packet, b: Packet| {
        let mut a = a;
        a.stack(&b);
        a
    });
    e.register_fn("/", |a: Packet, b: Blob| {
        let mut a = a;
        a.stack(&Packet::raw(&b));
        a
    });
    e.register_fn("/", |a: Packet, b: &str| {
        let mut a = a;
        a.stack(&Packet::raw(b.as_bytes()));
        a
    });

    // Parsing.
    e.register_fn("parse", |b: Blob| Packet::parse(&b));
    e.register_fn("parse", |b: Blob, linktype: i64| -> R<Packet> {
        let lt = u32::try_from(linktype)
            .map_err(|_| err_msg(format!("{linktype} is not a link type")))?;
        Ok(Packet::dissect(b, lt))
    });

    // Fields and layers.
    e.register_indexer_get(packet_index_get)
        .register_indexer_set(packet_index_set)
        .register_indexer_get(|p: &mut Packet, i: i64| -> R<LayerView> {
            let idx = layer_pos(p, i)?;
            Ok(LayerView {
                pkt: p.clone(),
                idx,
            })
        })
        .register_indexer_set(|p: &mut Packet, i: i64, v: LayerView| -> R<()> {
            let idx = layer_pos(p, i)?;
            assign_layer(p, idx, &v)
        })
        .register_indexer_get(|l: &mut LayerView, name: &str| get_field(&mut l.pkt, l.idx, name))
        .register_indexer_set(|l: &mut LayerView, name: &str, v: Dynamic| {
            set_field(&mut l.pkt, l.idx, name, &v)
        });

    // Explicit properties for every layer accessor and every field name, so
    // `p.ip.ttl` resolves directly instead of through Rhai's slower
    // property-to-indexer fallback (the indexers above stay for `p["ip.ttl"]`).
    let mut field_names: Vec<&'static str> = Vec::new();
    for proto in REGISTRY.iter().copied() {
        let acc = proto.accessor;
        e.register_get_set(
            acc,
            move |p: &mut Packet| -> R<LayerView> {
                let idx = layer_index(p, acc)?;
                Ok(LayerView {
                    pkt: p.clone(),
                    idx,
                })
            },
            move |p: &mut Packet, v: LayerView| -> R<()> {
                let idx = layer_index(p, acc)?;
                assign_layer(p, idx, &v)
            },
        );
        for f in proto.fields {
            if !field_names.contains(&f.name) {
                field_names.push(f.name);
            }
        }
    }
    for name in field_names {
        e.register_get_set(
            name,
            move |l: &mut LayerView| get_field(&mut l.pkt, l.idx, name),
            move |l: &mut LayerView, v: Dynamic| set_field(&mut l.pkt, l.idx, name, &v),
        );
    }

    // Packet methods.
    e.register_get_set("time", time_get, time_set)
        .register_get_set(
            "time_ns",
            |p: &mut Packet| -> Dynamic {
                match p.time {
                    Some((s, ns)) => {
                        Dynamic::from_int(s.saturating_mul(1_000_000_000).saturating_add(ns as i64))
                    }
                    None => Dynamic::UNIT,
                }
            },
            |p: &mut Packet, v: Dynamic| -> R<()> {
                let v = v
                    .as_int()
                    .map_err(|t| err_msg(format!("p.time_ns takes an integer, not {t}")))?;
                p.time = Some((
                    v.div_euclid(1_000_000_000),
                    v.rem_euclid(1_000_000_000) as u32,
                ));
                Ok(())
            },
        )
        .register_get("iface", |p: &mut Packet| -> Dynamic {
            p.iface.clone().map(Dynamic::from).unwrap_or(Dynamic::UNIT)
        })
        .register_get("direction", |p: &mut Packet| -> Dynamic {
            match p.direction {
                Some(crate::packet::Direction::Incoming) => "in".into(),
                Some(crate::packet::Direction::Outgoing) => "out".into(),
                None => Dynamic::UNIT,
            }
        })
        .register_get_set(
            "linktype",
            |p: &mut Packet| p.linktype as i64,
            |p: &mut Packet, v: i64| -> R<()> {
                p.linktype =
                    u32::try_from(v).map_err(|_| err_msg(format!("{v} is not a link type")))?;
                Ok(())
            },
        )
        .register_fn("summary", |p: &mut Packet| p.summary())
        .register_fn("to_string", |p: &mut Packet| p.summary())
        .register_fn("to_debug", |p: &mut Packet| format!("<{}>", p.summary()))
        .register_fn("details", |p: &mut Packet| p.details())
        .register_fn("show", |p: &mut Packet| super::emit(&p.details()))
        .register_fn("hexdump", |p: &mut Packet| -> R<String> {
            super::limits::reserve(p.len().div_ceil(16).saturating_mul(76), || {
                format!("hexdump() of a packet of {} bytes", p.len())
            })?;
            Ok(p.hexdump())
        })
        .register_fn("len", |p: &mut Packet| p.len() as i64)
        .register_fn("bytes", |p: &mut Packet| -> Blob { p.bytes().to_vec() })
        .register_fn("has", |p: &mut Packet, name: &str| p.has(name))
        .register_fn("layers", |p: &mut Packet| -> Array {
            p.layer_names().into_iter().map(Dynamic::from).collect()
        })
        .register_fn("fix", |p: &mut Packet| p.fix())
        .register_fn("bad_checksums", |p: &mut Packet| -> Array {
            p.bad_checksums().into_iter().map(Dynamic::from).collect()
        })
        .register_fn("copy", |p: &mut Packet| p.clone())
        .register_fn("matches", |p: &mut Packet, expr: &str| -> R<bool> {
            // Compiled for the packet's link type, as tcpdump would for a
            // capture of it; an expression no packet of that link type can
            // match (`ip6` on raw IPv4) is just false for this one.
            let f = super::filter_of(expr)?;
            let prog = match f.program(p.linktype) {
                Ok(prog) => prog,
                Err(e) if e.rejects_all_packets() => return Ok(false),
                Err(e) => return Err(super::filter_error(expr, &e)),
            };
            let wire = p.wire_len() as u32;
            Ok(crate::filter::run(&prog, p.bytes(), wire) != 0)
        })
        .register_fn("pin", |p: &mut Packet, key: &str| -> R<()> {
            let (idx, field) = path(p, key)?;
            let fi = p.field_index(idx, field).map_err(user_err)?;
            p.pin(idx, fi);
            Ok(())
        })
        .register_fn("==", |a: &mut Packet, b: Packet| {
            let mut b = b;
            a.bytes() == b.bytes()
        })
        .register_fn("!=", |a: &mut Packet, b: Packet| {
            let mut b = b;
            a.bytes() != b.bytes()
        });

    // Layer methods.
    e.register_fn("to_string", |l: &mut LayerView| layer_text(l))
        .register_fn("to_debug", |l: &mut LayerView| layer_text(l))
        .register_fn("fields", |l: &mut LayerView| -> Array {
            let hdr = l.pkt.header(l.idx);
            l.pkt.layers()[l.idx]
                .proto
                .fields
                .iter()
                .filter(|f| f.present(hdr))
                .map(|f| Dynamic::from(f.name))
                .collect()
        })
        .register_fn("layer_name", |l: &mut LayerView| {
            l.pkt.layers()[l.idx].proto.name
        })
        .register_fn("payload", |l: &mut LayerView| -> Blob {
            l.pkt.finish();
            l.pkt.payload(l.idx).to_vec()
        })
        .register_fn("field_bytes", |l: &mut LayerView, name: &str| -> R<Blob> {
            let fi = l.pkt.field_index(l.idx, name).map_err(user_err)?;
            l.pkt.finish();
            let hdr = l.pkt.header(l.idx);
            let r = l.pkt.layers()[l.idx].proto.fields[fi].byte_range(hdr);
            Ok(hdr
                .get(r.start.min(hdr.len())..r.end.min(hdr.len()))
                .unwrap_or_default()
                .to_vec())
        })
        .register_fn("packet", |l: &mut LayerView| l.pkt.clone());

    // Flags values.
    e.register_fn("to_string", |f: &mut Flags| f.text())
        .register_fn("to_debug", |f: &mut Flags| format!("{:?}", f.text()))
        .register_fn("to_int", |f: &mut Flags| f.value as i64)
        .register_get("value", |f: &mut Flags| f.value as i64)
        .register_fn("==", |f: &mut Flags, s: &str| f.eq_str(s))
        .register_fn("!=", |f: &mut Flags, s: &str| !f.eq_str(s))
        .register_fn("==", |s: &str, f: Flags| f.eq_str(s))
        .register_fn("==", |f: &mut Flags, i: i64| f.value as i64 == i)
        .register_fn("!=", |f: &mut Flags, i: i64| f.value as i64 != i)
        .register_fn("==", |f: &mut Flags, g: Flags| f.value == g.value)
        .register_fn("&", |f: &mut Flags, i: i64| f.value as i64 & i)
        .register_fn("|", |f: &mut Flags, i: i64| f.value as i64 | i)
        .register_fn("contains", |f: &mut Flags, s: &str| -> bool {
            let fl = layers::Field::new("flags", 0, 16, Kind::Flags(f.names), "");
            match layers::parse_value(&layers::raw::RAW, &fl, &Input::Str(s)) {
                Ok(Value::Int(v)) => v != 0 && f.value & v == v,
                _ => false,
            }
        });

    // Hex helpers for blobs.
    e.register_fn("from_hex", |s: &str| -> R<Blob> {
        let digits: Vec<u8> = s
            .bytes()
            .filter(|c| !c.is_ascii_whitespace() && *c != b':' && *c != b'-')
            .collect();
        if !digits.len().is_multiple_of(2) {
            // The text shown is cut: it may be huge.
            let shown: String = s.chars().take(40).collect();
            let more = if shown.len() < s.len() { "..." } else { "" };
            return Err(err_msg(format!(
                "from_hex: odd number of hex digits ({}) in {shown:?}{more}",
                digits.len()
            )));
        }
        digits
            .chunks(2)
            .map(|c| {
                std::str::from_utf8(c)
                    .ok()
                    .and_then(|t| u8::from_str_radix(t, 16).ok())
                    .ok_or_else(|| {
                        err_msg(format!(
                            "from_hex: {:?} is not a hex byte",
                            String::from_utf8_lossy(c)
                        ))
                    })
            })
            .collect()
    });
    e.register_fn("to_hex", |b: Blob| -> R<ImmutableString> {
        super::limits::reserve(b.len().saturating_mul(2), || {
            format!("to_hex() of a BLOB of {} bytes", b.len())
        })?;
        Ok(b.iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
            .into())
    });
    e.register_fn("hexdump", |b: Blob| -> R<String> {
        // 76 characters a line of 16 bytes.
        super::limits::reserve(b.len().div_ceil(16).saturating_mul(76), || {
            format!("hexdump() of a BLOB of {} bytes", b.len())
        })?;
        Ok(crate::packet::hexdump(&b))
    });
}

fn register_enum(e: &mut Engine) {
    type E = EnumValue;
    e.register_fn("to_string", |v: &mut E| {
        v.name()
            .map(str::to_string)
            .unwrap_or_else(|| v.value.to_string())
    })
    .register_fn("to_debug", |v: &mut E| match v.name() {
        Some(n) => format!("{} ({n})", v.value),
        None => v.value.to_string(),
    })
    .register_fn("to_int", |v: &mut E| v.value as i64)
    .register_fn("to_hex", |v: &mut E| format!("{:x}", v.value))
    .register_get("value", |v: &mut E| v.value as i64)
    .register_get("name", |v: &mut E| {
        v.name().map(Dynamic::from).unwrap_or(Dynamic::UNIT)
    })
    .register_fn("==", |v: &mut E, s: &str| v.eq_str(s))
    .register_fn("!=", |v: &mut E, s: &str| !v.eq_str(s))
    .register_fn("==", |s: &str, v: E| v.eq_str(s))
    .register_fn("!=", |s: &str, v: E| !v.eq_str(s))
    .register_fn("==", |v: &mut E, i: i64| v.value as i64 == i)
    .register_fn("!=", |v: &mut E, i: i64| v.value as i64 != i)
    .register_fn("==", |i: i64, v: E| v.value as i64 == i)
    .register_fn("!=", |i: i64, v: E| v.value as i64 != i)
    .register_fn("==", |v: &mut E, w: E| v.value == w.value)
    .register_fn("!=", |v: &mut E, w: E| v.value != w.value)
    .register_fn("<", |v: &mut E, i: i64| (v.value as i64) < i)
    .register_fn("<=", |v: &mut E, i: i64| (v.value as i64) <= i)
    .register_fn(">", |v: &mut E, i: i64| (v.value as i64) > i)
    .register_fn(">=", |v: &mut E, i: i64| (v.value as i64) >= i)
    .register_fn("+", |v: &mut E, i: i64| v.value as i64 + i)
    .register_fn("-", |v: &mut E, i: i64| v.value as i64 - i)
    .register_fn("&", |v: &mut E, i: i64| v.value as i64 & i)
    .register_fn("|", |v: &mut E, i: i64| v.value as i64 | i);
}

fn layer_text(l: &mut LayerView) -> String {
    l.pkt.finish();
    let name = l.pkt.layers()[l.idx].proto.name;
    let hdr = l.pkt.header(l.idx);
    let fields: Vec<String> = l.pkt.layers()[l.idx]
        .proto
        .fields
        .iter()
        .filter(|f| f.present(hdr))
        .map(|f| {
            format!(
                "{}={}",
                f.name,
                layers::format_value(f, &layers::get_value(f, hdr))
            )
        })
        .collect();
    format!("{name}({})", fields.join(", "))
}

/// How `-e` and the REPL show a value: packets by summary, arrays of packets numbered.
pub fn display_value(v: &Dynamic) -> String {
    if let Some(mut p) = v.clone().try_cast::<Packet>() {
        return p.summary();
    }
    if let Some(mut l) = v.clone().try_cast::<LayerView>() {
        return layer_text(&mut l);
    }
    if let Some(f) = v.clone().try_cast::<Flags>() {
        return f.text();
    }
    if let Some(f) = v.clone().try_cast::<EnumValue>() {
        return match f.name() {
            Some(n) => format!("{} ({n})", f.value),
            None => f.value.to_string(),
        };
    }
    if v.is_array() {
        let a = v.clone().cast::<Array>();
        if !a.is_empty() && a.iter().all(|x| x.is::<Packet>()) {
            let width = a.len().to_string().len();
            return a
                .iter()
                .enumerate()
                .map(|(i, x)| format!("{i:>width$}  {}", display_value(x)))
                .collect::<Vec<_>>()
                .join("\n");
        }
        let items: Vec<String> = a
            .iter()
            .map(|x| {
                if x.is_string() {
                    format!("{:?}", x.clone().into_string().unwrap_or_default())
                } else {
                    display_value(x)
                }
            })
            .collect();
        return format!("[{}]", items.join(", "));
    }
    if v.is_string() {
        return v.clone().into_string().unwrap_or_default();
    }
    v.to_string()
}
