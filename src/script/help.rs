//! Documentation of every script function and protocol layer, kept in one
//! place: the REPL's `:help`, its tab completion and `docs/reference.md`
//! are all generated from [`FUNCTIONS`] and the layer registry, and
//! `tests/reference.rs` checks [`FUNCTIONS`] against the engine's
//! registrations.

use crate::layers::{self, Auto, Proto, REGISTRY};
use std::fmt::Write;

/// One script function (all its overloads).
#[derive(Debug, Clone, Copy)]
pub struct FnDoc {
    pub name: &'static str,
    /// Group heading in the reference.
    pub group: &'static str,
    /// How it is called (overloads separated by `; `).
    pub signature: &'static str,
    pub doc: &'static str,
}

/// Groups in the order the reference shows them.
pub const GROUPS: &[&str] = &[
    "packets",
    "fields",
    "display",
    "pcap",
    "text",
    "network",
    "tests",
    "utilities",
];

macro_rules! f {
    ($group:literal, $name:literal, $sig:literal, $doc:literal) => {
        FnDoc {
            name: $name,
            group: $group,
            signature: $sig,
            doc: $doc,
        }
    };
}

/// Every function pktscript registers (layer constructors aside: they are
/// documented with their layer).
pub static FUNCTIONS: &[FnDoc] = &[
    // packets
    f!(
        "packets",
        "parse",
        "parse(blob) -> Packet; parse(blob, linktype) -> Packet",
        "Dissects bytes into a packet (Ethernet unless another pcap link type is given)."
    ),
    f!(
        "packets",
        "len",
        "p.len() -> int",
        "Length of the packet in bytes (after building)."
    ),
    f!(
        "packets",
        "bytes",
        "p.bytes() -> blob",
        "The serialised packet; automatic fields are brought up to date."
    ),
    f!(
        "packets",
        "layers",
        "p.layers() -> array of strings",
        "Layer names, outermost first: `[\"Ether\", \"IPv4\", \"ICMP\"]`."
    ),
    f!(
        "packets",
        "has",
        "p.has(name) -> bool",
        "Whether the packet has a layer of that protocol (name, accessor or alias, any case)."
    ),
    f!(
        "packets",
        "matches",
        "p.matches(expr) -> bool",
        "Whether a tcpdump filter expression (`\"icmp and host 198.18.0.2\"`) selects the packet, as tcpdump would."
    ),
    f!(
        "packets",
        "copy",
        "p.copy() -> Packet",
        "A copy of the packet (the same as `let q = p;`)."
    ),
    f!(
        "packets",
        "pin",
        "p.pin(\"layer.field\")",
        "Pins a field at its current value: automatic recomputation leaves it alone."
    ),
    f!(
        "packets",
        "fix",
        "p.fix()",
        "Recomputes every automatic field (lengths, checksums, types); pins are dropped."
    ),
    f!(
        "packets",
        "bad_checksums",
        "p.bad_checksums() -> array of strings",
        "Names of the layers whose checksum is wrong."
    ),
    f!(
        "packets",
        "answers",
        "reply.answers(sent) -> bool",
        "Whether a packet answers another (as sr/srp match them)."
    ),
    f!(
        "packets",
        "explain_match",
        "reply.explain_match(sent) -> string",
        "Why a packet does or does not answer another."
    ),
    // fields
    f!(
        "fields",
        "fields",
        "l.fields() -> array of strings",
        "Names of the fields present in this layer's header."
    ),
    f!(
        "fields",
        "layer_name",
        "l.layer_name() -> string",
        "The layer's protocol name: `\"IPv4\"`."
    ),
    f!(
        "fields",
        "payload",
        "l.payload() -> blob",
        "The bytes after this header, up to any padding."
    ),
    f!(
        "fields",
        "field_bytes",
        "l.field_bytes(name) -> blob",
        "The bytes a field occupies, as they are: `p.tcp.field_bytes(\"options\")` gives the options with their padding, where `p.tcp.options` gives the list."
    ),
    f!(
        "fields",
        "packet",
        "l.packet() -> Packet",
        "The whole packet the layer belongs to."
    ),
    f!(
        "fields",
        "contains",
        "flags.contains(\"SA\") -> bool",
        "Whether all the given flags are set (and at least one is given)."
    ),
    f!(
        "fields",
        "to_int",
        "flags.to_int() -> int; enum.to_int() -> int",
        "The number behind a flags or enum field value."
    ),
    // display
    f!(
        "display",
        "summary",
        "p.summary() -> string",
        "One tcpdump-like line (what `print(p)` shows)."
    ),
    f!(
        "display",
        "show",
        "p.show()",
        "Prints every field of every layer, with enum names and checksum status."
    ),
    f!(
        "display",
        "details",
        "p.details() -> string",
        "The text `p.show()` prints, as a string."
    ),
    f!(
        "display",
        "hexdump",
        "p.hexdump() -> string; hexdump(blob) -> string",
        "Offset, hex in groups of four, ASCII, as pkttools prints frames."
    ),
    f!(
        "display",
        "to_string",
        "x.to_string() -> string",
        "Text of a packet (its summary), layer (`IPv4(version=4, ...)`), flags, enum or error."
    ),
    f!(
        "display",
        "to_debug",
        "x.to_debug() -> string",
        "Debug text of a packet, layer, flags or enum value."
    ),
    // pcap
    f!(
        "pcap",
        "read_pcap",
        "read_pcap(path [, expr]) -> array of packets",
        "Reads a whole pcap or pcapng file into an array of packets; with a tcpdump filter expression, only the packets it selects."
    ),
    f!(
        "pcap",
        "pcap_reader",
        "pcap_reader(path [, expr]) -> reader",
        "Opens a capture file for `for p in pcap_reader(path) { ... }`, one packet at a time, in constant memory; with a tcpdump filter expression, only the packets it selects."
    ),
    f!(
        "pcap",
        "write_pcap",
        "write_pcap(path, packets) -> int; write_pcap(path, p) -> int",
        "Writes an array of packets (or one) to a pcap file; returns how many."
    ),
    f!(
        "pcap",
        "pcap_writer",
        "pcap_writer(path) -> writer",
        "Creates the file now and returns a writer (`w.write(p)`, `w.close()`)."
    ),
    f!(
        "pcap",
        "write",
        "w.write(p); w.write(packets)",
        "Appends one packet or an array to a pcap writer."
    ),
    f!(
        "pcap",
        "close",
        "w.close()",
        "Flushes and closes a pcap writer, reporting any error."
    ),
    f!(
        "pcap",
        "rewrite_pcap",
        "rewrite_pcap(in, out, #{\"ip.ttl\": 63, ...}) -> #{read, changed}",
        "Copies a capture, setting the named fields in every packet that has the layer."
    ),
    // text
    f!(
        "text",
        "to_text",
        "p.to_text([#{fields: true}]) -> string; to_text(packets [, #{fields: true}]) -> string",
        "The packet (or packets, numbered) in the text format of docs/text-format.md, pkttools' dump: TIME, SIZE, hex lines, and with `fields: true` one `layer.field: value` line per field."
    ),
    f!(
        "text",
        "parse_text",
        "parse_text(text) -> array of packets",
        "Reads packets from text: the hex lines are the bytes; a field line whose value differs from them is applied as an edit, and lengths and checksums follow unless the edited line was one. Reads pkttools' dumps too."
    ),
    f!(
        "text",
        "read_text",
        "read_text(path) -> array of packets",
        "Reads a text file of packets (as parse_text); errors name the file, line and column."
    ),
    f!(
        "text",
        "write_text",
        "write_text(path, packets [, #{fields: true}]) -> int; write_text(path, p [, opts]) -> int",
        "Writes packets to a text file, pkttools' format; returns how many."
    ),
    f!(
        "text",
        "edit",
        "edit(p) -> Packet; edit(packets) -> array",
        "Opens the packet's text, field lines included, in $VISUAL or $EDITOR (else vi) and returns it as edited; unchanged if the text is. On a terminal, text that does not parse is shown with the error and can be edited again."
    ),
    // network
    f!(
        "network",
        "interfaces",
        "interfaces() -> array of maps",
        "The interfaces of this network namespace: `name`, `index`, `mac`, `ipv4` (`\"198.18.0.1/24\"`), `ipv6` (`\"fd00::1/64\"`), `up`, `promisc`, `loopback`."
    ),
    f!(
        "network",
        "iface_mac",
        "iface_mac(name) -> string",
        "An interface's MAC address."
    ),
    f!(
        "network",
        "iface_ip",
        "iface_ip(name) -> string or ()",
        "An interface's first IPv4 address, or `()`."
    ),
    f!(
        "network",
        "iface",
        "iface() -> string",
        "The default interface: `--iface`, else `set_iface`, else the default route's."
    ),
    f!(
        "network",
        "set_iface",
        "set_iface(name)",
        "Sets the default interface."
    ),
    f!(
        "network",
        "set_promisc",
        "set_promisc(name, on)",
        "Switches an interface's promiscuous mode."
    ),
    f!(
        "network",
        "sendp",
        "sendp(p_or_array) -> int; sendp(p_or_array, iface) -> int",
        "Sends frames as they are; returns how many."
    ),
    f!(
        "network",
        "send",
        "send(p_or_array) -> int",
        "Sends IPv4 packets through the kernel's routing on a raw IP socket."
    ),
    f!(
        "network",
        "capture",
        "capture(iface, #{count, timeout, filter, where, promisc, snaplen, outgoing}) -> array; capture(iface, opts, |p| ...) -> int",
        "Captures packets arriving on an interface, or calls a closure on each until it returns false. `filter` is a tcpdump expression (compiled to BPF and run in the kernel) or a closure; `where` adds a closure after an expression."
    ),
    f!(
        "network",
        "expect",
        "expect(iface, |p| bool, timeout) -> Packet or ()",
        "The first matching packet, or `()` after `timeout` seconds."
    ),
    f!(
        "network",
        "srp1",
        "srp1(p) -> Packet or (); srp1(p, #{iface, timeout, explain})",
        "Sends a frame and returns the first answer, or `()` after the timeout (default 2 s)."
    ),
    f!(
        "network",
        "sr1",
        "sr1(ip_packet) -> Packet or (); sr1(ip_packet, opts)",
        "The same as srp1 for an IPv4 packet: the route gives the interface and next hop."
    ),
    f!(
        "network",
        "srp",
        "srp(packets) -> #{answered, unanswered}; srp(packets, opts)",
        "Sends frames and pairs them with their answers: `#{answered: [[sent, reply], ...], unanswered: [...]}`."
    ),
    f!(
        "network",
        "sr",
        "sr(packets) -> #{answered, unanswered}; sr(packets, opts)",
        "The same as srp for IPv4 packets."
    ),
    f!(
        "network",
        "replay",
        "replay(path) -> link",
        "A link that replays a pcap instead of the network (for `use_link`)."
    ),
    f!(
        "network",
        "use_link",
        "use_link(link)",
        "From now on, the link stands in for the network."
    ),
    f!(
        "network",
        "sent",
        "sent() -> array of packets",
        "What was sent since `use_link(replay(...))`."
    ),
    // tests
    f!(
        "tests",
        "assert",
        "assert(cond); assert(cond, msg)",
        "Error `assertion failed: msg` unless `cond`."
    ),
    f!(
        "tests",
        "assert_eq",
        "assert_eq(a, b)",
        "Error showing both sides unless `a == b`."
    ),
    f!(
        "tests",
        "expect_pcap",
        "expect_pcap(packets, path); expect_pcap(p, path); expect_pcap(packets, path, opts)",
        "Compares packets with a golden pcap file (written by `pktscript test --bless`)."
    ),
    f!(
        "tests",
        "run_script",
        "run_script(path, args) -> #{status, output, ...}",
        "Runs another script and returns its exit status and output."
    ),
    // utilities
    f!(
        "utilities",
        "from_hex",
        "from_hex(s) -> blob",
        "Blob from hex digits; spaces, `:` and `-` are ignored."
    ),
    f!(
        "utilities",
        "to_hex",
        "to_hex(blob) -> string; enum.to_hex() -> string",
        "Lowercase hex string: `\"deadbeef\"`."
    ),
    f!(
        "utilities",
        "blob",
        "blob() -> blob; blob(n) -> blob; blob(n, byte) -> blob",
        "Rhai's BLOB of n zero bytes (or copies of byte); refused when n bytes would pass the memory limit (--max-memory)."
    ),
    f!(
        "utilities",
        "pad",
        "blob.pad(n, byte); array.pad(n, item); string.pad(n, char_or_string)",
        "Rhai's pad: grows the value to n bytes, items or characters; refused when that would pass the memory limit (--max-memory)."
    ),
    f!(
        "utilities",
        "to_chars",
        "string.to_chars() -> array",
        "Rhai's array of the characters of a string (16 bytes each); refused when it would pass the memory limit (--max-memory)."
    ),
    f!(
        "utilities",
        "to_array",
        "blob.to_array() -> array",
        "Rhai's array of the bytes of a BLOB, as integers (16 bytes each); refused when it would pass the memory limit (--max-memory)."
    ),
    f!(
        "utilities",
        "eprint",
        "eprint(s)",
        "Prints a line on standard error."
    ),
    f!(
        "utilities",
        "sleep",
        "sleep(seconds)",
        "Waits (seconds may be fractional, up to a day)."
    ),
    f!(
        "utilities",
        "exit",
        "exit(); exit(n)",
        "Ends the script with exit status n (0 by default)."
    ),
];

/// The documentation of a function.
pub fn function(name: &str) -> Option<&'static FnDoc> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

/// The script constructors of a layer (as `script::packet` registers them:
/// the name and the aliases that start with a capital; none for Padding).
pub fn constructors(p: &Proto) -> Vec<&'static str> {
    if p.name == "Padding" {
        return Vec::new();
    }
    let mut names = vec![p.name];
    names.extend(
        p.aliases
            .iter()
            .copied()
            .filter(|a| a.starts_with(|c: char| c.is_ascii_uppercase())),
    );
    names.extend(p.variants.iter().map(|v| v.name));
    names
}

/// The protocol whose name, accessor or alias is `name` (any case).
pub fn layer(name: &str) -> Option<&'static Proto> {
    REGISTRY.iter().copied().find(|p| p.is_named(name))
}

fn auto_name(a: &Auto) -> &'static str {
    match a {
        Auto::No => "",
        Auto::Len => "length",
        Auto::Chksum => "checksum",
        Auto::Next => "type",
        Auto::Derived => "derived",
    }
}

fn field_default(p: &Proto, f: &layers::Field) -> String {
    if f.when.is_some_and(|w| !w(p.template)) {
        return "(absent)".into();
    }
    let v = layers::get_value(f, p.template);
    layers::format_value(f, &v)
}

fn bits(f: &layers::Field) -> String {
    if f.bits == 0 {
        "var".into()
    } else {
        f.bits.to_string()
    }
}

/// A layer's help: constructor, accessor and field table.
pub fn layer_text(p: &Proto) -> String {
    let mut s = String::new();
    let names = constructors(p);
    let _ = writeln!(s, "{} — {}", p.name, p.doc);
    let _ = writeln!(
        s,
        "constructors: {}",
        names
            .iter()
            .map(|n| format!("{n}(), {n}(#{{...}})"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(s, "accessor: p.{}", p.accessor);
    let w = p
        .fields
        .iter()
        .map(|f| f.name.len())
        .max()
        .unwrap_or(4)
        .max(5);
    let _ = writeln!(
        s,
        "  {:w$}  {:>4}  {:10}  {:8}  default",
        "field", "bits", "type", "auto"
    );
    for f in p.fields {
        let _ = writeln!(
            s,
            "  {:w$}  {:>4}  {:10}  {:8}  {}  — {}",
            f.name,
            bits(f),
            f.kind.type_name(),
            auto_name(&f.auto),
            field_default(p, f),
            f.doc
        );
    }
    s
}

/// `:help` with no argument.
pub fn overview() -> String {
    let mut s = String::from(
        "pktscript REPL: type Rhai statements; the value of an expression is shown.\n\
         Commands:\n  :help             this overview\n  :help NAME        a function or a layer (fields, types, defaults)\n  \
         :load FILE        run a script into this session\n  :vars             the session's variables\n  \
         :quit             leave (or Ctrl-D)\n\
         Ctrl-C cancels the line or interrupts a running statement. Tab completes names and fields.\n\n",
    );
    let _ = writeln!(
        s,
        "Layers: {}",
        REGISTRY
            .iter()
            .map(|p| p.name)
            .collect::<Vec<_>>()
            .join(", ")
    );
    for g in GROUPS {
        let names: Vec<&str> = FUNCTIONS
            .iter()
            .filter(|f| f.group == *g)
            .map(|f| f.name)
            .collect();
        let _ = writeln!(s, "{g}: {}", names.join(", "));
    }
    let _ = writeln!(
        s,
        "Modules (import \"NAME\" as NAME;): {}",
        crate::script::resolver::stdlib_names().join(", ")
    );
    s
}

/// `:help NAME`: a function or a layer.
pub fn help_for(name: &str) -> Option<String> {
    let name = name.trim().trim_end_matches("()");
    if let Some(f) = function(name) {
        return Some(format!("{}\n  {}\n", f.signature, f.doc));
    }
    layer(name).map(layer_text)
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The full text of `docs/reference.md`.
pub fn reference_markdown() -> String {
    let mut s = String::from(
        "# pktscript function and layer reference\n\n\
         Generated by `pktscript --reference > docs/reference.md` from the same tables as the \
         REPL's `:help` and completion (`src/script/help.rs` and the protocol field tables); \
         do not edit by hand.\n\n## Functions\n",
    );
    for g in GROUPS {
        let _ = writeln!(s, "\n### {g}\n\n| function | description |\n| --- | --- |");
        for f in FUNCTIONS.iter().filter(|f| f.group == *g) {
            let sig = f
                .signature
                .split("; ")
                .map(|x| format!("`{}`", md_escape(x)))
                .collect::<Vec<_>>()
                .join("<br>");
            let _ = writeln!(s, "| {sig} | {} |", md_escape(f.doc));
        }
    }
    s.push_str("\n## Layers\n");
    for p in REGISTRY {
        let names = constructors(p);
        let _ = writeln!(
            s,
            "\n### {}\n\n{}\n\nConstructors: {}; accessor `p.{}`.\n\n| field | bits | type | automatic | default | description |\n| --- | --- | --- | --- | --- | --- |",
            p.name,
            p.doc,
            names
                .iter()
                .map(|n| format!("`{n}()`"))
                .collect::<Vec<_>>()
                .join(", "),
            p.accessor
        );
        for f in p.fields {
            let _ = writeln!(
                s,
                "| `{}` | {} | {} | {} | {} | {} |",
                f.name,
                bits(f),
                f.kind.type_name(),
                auto_name(&f.auto),
                md_escape(&field_default(p, f)),
                md_escape(&match f.pkttools {
                    Some(a) => format!("{} (pkttools: `{a}`)", f.doc),
                    None => f.doc.to_string(),
                })
            );
        }
    }
    s
}
