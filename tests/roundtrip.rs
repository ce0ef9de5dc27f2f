//! Property tests: random packets built from the field tables survive
//! build -> bytes -> parse -> bytes, and arbitrary bytes dissect without
//! panicking and re-serialise exactly.

use pktscript::Packet;
use pktscript::layers::{self, Auto, Input, Kind, Proto, Value};

/// xorshift64*: deterministic, seedable, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// A layer of `proto` with every ordinary field set to a random valid value.
fn random_layer(rng: &mut Rng, proto: &'static Proto) -> Packet {
    let mut p = Packet::new_layer(proto);
    for (fi, f) in proto.fields.iter().enumerate() {
        if f.auto != Auto::No || f.name == "version" || !p.field_present(0, fi) {
            continue;
        }
        if proto.name == "ARP" && (f.name == "hwlen" || f.name == "plen") {
            continue;
        }
        if proto.name == "IPv4" && f.name == "frag" && rng.below(4) != 0 {
            continue; // mostly first fragments, so the transport layer is dissected
        }
        let input_bytes;
        let input = match f.kind {
            Kind::Mac => {
                input_bytes = rng.bytes(6);
                Input::Bytes(&input_bytes)
            }
            Kind::Ipv4 => Input::Int((rng.next() & 0xffff_ffff) as i64),
            Kind::Ipv6 => continue,
            Kind::Bytes | Kind::List(_) => {
                // Options: a multiple of 4 bytes, at most 40.
                let n = 4 * rng.below(11) as usize;
                input_bytes = rng.bytes(n);
                Input::Bytes(&input_bytes)
            }
            _ => {
                let max = if f.bits >= 63 {
                    u64::MAX >> 1
                } else {
                    (1u64 << f.bits) - 1
                };
                Input::Int((rng.next() & max) as i64)
            }
        };
        p.set(0, fi, &input)
            .unwrap_or_else(|e| panic!("{}.{}: {e}", proto.name, f.name));
    }
    p
}

fn random_packet(rng: &mut Rng) -> Packet {
    use layers::*;
    let mut p = random_layer(rng, &ether::ETHER);
    if rng.below(4) == 0 {
        p.stack(&random_layer(rng, &dot1q::DOT1Q));
    }
    if rng.below(5) == 0 {
        p.stack(&random_layer(rng, &arp::ARP));
        return p;
    }
    p.stack(&random_layer(rng, &ipv4::IPV4));
    let upper: &'static Proto = match rng.below(3) {
        0 => &icmp::ICMP,
        1 => &udp::UDP,
        _ => &tcp::TCP,
    };
    let mut l = random_layer(rng, upper);
    if upper.name == "ICMP" {
        // Keep to types whose payload is not itself dissected as a quoted packet.
        let t = [0i64, 8, 13, 14, 17, 18, 9, 10][rng.below(8) as usize];
        l.set(0, 0, &Input::Int(t)).unwrap();
    }
    p.stack(&l);
    if rng.below(2) == 0 {
        let n = rng.below(200) as usize;
        p.stack(&Packet::raw(&rng.bytes(n)));
    }
    p
}

fn values(p: &mut Packet) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for i in 0..p.layers().len() {
        let proto = p.layers()[i].proto;
        for (fi, f) in proto.fields.iter().enumerate() {
            if p.field_present(i, fi) {
                out.push((format!("{}.{}", proto.name, f.name), p.get(i, fi).unwrap()));
            }
        }
    }
    out
}

#[test]
fn built_packets_round_trip_through_bytes() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for n in 0..3000 {
        let mut built = random_packet(&mut rng);
        let bytes = built.bytes().to_vec();
        let mut parsed = Packet::parse(&bytes);
        assert_eq!(parsed.bytes(), &bytes[..], "packet {n}");
        if built.layer_names() == parsed.layer_names() {
            assert_eq!(
                values(&mut built),
                values(&mut parsed),
                "packet {n}: {}",
                built.details()
            );
        }
        assert!(
            parsed.bad_checksums().is_empty(),
            "packet {n}: bad {:?}\n{}",
            parsed.bad_checksums(),
            parsed.details()
        );
        // The checksum the build computed is the one an independent sum gives.
        if let Some(ip) = parsed.find("IPv4") {
            let h = parsed.header(ip);
            assert_eq!(ones_complement(h), 0xffff, "packet {n}: IPv4 header sum");
        }
    }
}

/// One's-complement sum of 16-bit words, computed independently of pnet.
fn ones_complement(b: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in b.chunks(2) {
        sum += u32::from(c[0]) << 8 | u32::from(*c.get(1).unwrap_or(&0));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// Steers half the random frames into the interesting protocols: IPv4
/// (with ICMP, TCP or UDP), ARP or 802.1Q.
fn steer(rng: &mut Rng, data: &mut [u8]) {
    let len = data.len();
    if len >= 14 && rng.below(2) == 0 {
        let t: [u8; 2] = [[0x08, 0x00], [0x08, 0x06], [0x81, 0x00]][rng.below(3) as usize];
        data[12..14].copy_from_slice(&t);
        if len > 24 && t == [0x08, 0x00] {
            data[14] = 0x40 | (data[14] & 0x0f);
            data[23] = [1u8, 6, 17][rng.below(3) as usize];
        }
    }
}

#[test]
fn arbitrary_bytes_dissect_exactly_and_never_panic() {
    let mut rng = Rng(12345);
    for n in 0..20000 {
        let len = rng.below(120) as usize;
        let mut data = rng.bytes(len);
        steer(&mut rng, &mut data);
        let mut p = Packet::parse(&data);
        assert_eq!(p.bytes(), &data[..], "frame {n}");
        let _ = p.summary();
        let _ = p.details();
        let _ = p.bad_checksums();
        // Editing any present field to a random value never panics and leaves a dissectable packet.
        for i in 0..p.layers().len() {
            for fi in 0..p.layers()[i].proto.fields.len() {
                if p.field_present(i, fi) && rng.below(3) == 0 {
                    let _ = p.set(i, fi, &Input::Int(rng.below(70000) as i64));
                }
            }
        }
        let again = p.bytes().to_vec();
        let mut q = Packet::parse(&again);
        assert_eq!(q.bytes(), &again[..], "frame {n} after edits");
    }
}

#[test]
fn mutated_real_frames_never_panic() {
    let mut rng = Rng(777);
    for _ in 0..300 {
        let mut base = random_packet(&mut rng);
        let good = base.bytes().to_vec();
        for _ in 0..20 {
            let mut m = good.clone();
            match rng.below(3) {
                0 => m.truncate(rng.below(m.len() as u64 + 1) as usize),
                1 => {
                    let i = rng.below(m.len() as u64) as usize;
                    m[i] ^= 1 << rng.below(8);
                }
                _ => {
                    let n = rng.below(30) as usize;
                    m.extend(rng.bytes(n))
                }
            }
            let mut p = Packet::parse(&m);
            assert_eq!(p.bytes(), &m[..]);
            let _ = (p.summary(), p.details(), p.hexdump());
        }
    }
}

// ---- the text format -----------------------------------------------------------

use pktscript::text::{self, TextOptions};

const FIELDS: TextOptions = TextOptions { fields: true };

/// Text → packet → text is identical, and the bytes are exactly the packet's.
fn text_round_trip(p: &mut Packet, what: &str) {
    let t = text::to_text(p, FIELDS);
    let mut back = text::parse_text(&t, "t")
        .unwrap_or_else(|e| panic!("{what}: {e}\n{t}"))
        .remove(0);
    assert_eq!(back.raw_bytes(), p.raw_bytes(), "{what}\n{t}");
    assert!(
        !back.is_dirty(),
        "{what}: field lines that agree edited\n{t}"
    );
    assert_eq!(text::to_text(&mut back, FIELDS), t, "{what}");
    let plain = text::to_text(p, TextOptions::default());
    let back = text::parse_text(&plain, "t").unwrap().remove(0);
    assert_eq!(back.raw_bytes(), p.raw_bytes(), "{what} without fields");
}

#[test]
fn built_packets_round_trip_through_text() {
    let mut rng = Rng(0x005e_ed0f_7ec7);
    for n in 0..2000 {
        let mut p = random_packet(&mut rng);
        p.time = Some((
            rng.below(2_000_000_000) as i64,
            rng.below(1_000_000_000) as u32,
        ));
        p.finish();
        text_round_trip(&mut p, &format!("packet {n}"));
    }
}

#[test]
fn arbitrary_bytes_round_trip_through_text() {
    let mut rng = Rng(4242);
    for n in 0..5000 {
        let len = rng.below(150) as usize;
        let mut data = rng.bytes(len);
        steer(&mut rng, &mut data);
        let mut p = Packet::parse(&data);
        text_round_trip(&mut p, &format!("frame {n}: {data:02x?}"));
    }
}

/// Changing a field line does what the same assignment in a script does.
#[test]
fn field_line_edits_equal_script_assignments() {
    let mut rng = Rng(99);
    let mut edited = 0;
    for n in 0..2000 {
        let mut built = random_packet(&mut rng);
        let mut p = Packet::parse(built.bytes());
        let t = text::to_text(&mut p, FIELDS);
        // A random field of a layer that is the first of its protocol.
        let idx = rng.below(p.layers().len() as u64) as usize;
        let proto = p.layers()[idx].proto;
        if p.layers()[..idx].iter().any(|l| l.proto == proto) || proto.name == "Raw" {
            continue;
        }
        let fi = rng.below(proto.fields.len() as u64) as usize;
        let f = &proto.fields[fi];
        if !p.field_present(idx, fi) || matches!(f.kind, Kind::Bytes | Kind::List(_) | Kind::Ipv6) {
            continue;
        }
        let v = match f.kind {
            Kind::Mac => Value::Mac(rng.bytes(6).try_into().unwrap()),
            Kind::Ipv4 => Value::Ipv4(rng.bytes(4).try_into().unwrap()),
            _ => Value::Int(rng.next() & ((1u64 << f.bits.min(63)) - 1)),
        };
        let shown = layers::format_value(f, &v);
        let shown = shown.split(" (").next().unwrap().to_string();
        let prefix = format!("{}.{}:", proto.accessor, f.name);
        assert_eq!(
            t.lines().filter(|l| l.starts_with(&prefix)).count(),
            1,
            "packet {n}: one line for {prefix}\n{t}"
        );
        let new_text: String = t
            .lines()
            .map(|l| {
                if l.starts_with(&prefix) {
                    format!("{prefix} {shown}\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        let mut by_text = text::parse_text(&new_text, "t")
            .unwrap_or_else(|e| panic!("packet {n}: {e}\n{new_text}"))
            .remove(0);
        let mut by_script = p.clone();
        let input_bytes;
        let input = match &v {
            Value::Int(x) => Input::Int(*x as i64),
            Value::Mac(m) => {
                input_bytes = m.to_vec();
                Input::Bytes(&input_bytes)
            }
            Value::Ipv4(a) => {
                input_bytes = a.to_vec();
                Input::Bytes(&input_bytes)
            }
            _ => unreachable!(),
        };
        by_script.set(idx, fi, &input).unwrap();
        assert_eq!(
            by_text.bytes(),
            by_script.bytes(),
            "packet {n}: {}.{} = {shown}\n{new_text}",
            proto.name,
            f.name
        );
        edited += 1;
    }
    assert!(edited > 500, "only {edited} edits tried");
}

/// Random text, made of the format's own pieces and some that are not,
/// never panics the reader: it gives packets or an error with a line.
#[test]
fn random_text_never_panics_the_reader() {
    const PIECES: &[&str] = &[
        "-- 1 --",
        "==",
        "TIME:",
        "SIZE:",
        "000000:",
        "000010: ",
        " FF",
        " 0",
        " 08",
        "06",
        "G",
        "é",
        "日本",
        "ip.",
        "ttl",
        ":",
        " ",
        "  ",
        "\t",
        "#",
        " #",
        "[2]",
        "[0]",
        "[",
        "]",
        "eth",
        ".dst",
        "arp.op",
        "icmp.type",
        "0x",
        "''",
        "\"",
        "LINKTYPE:",
        " 101",
        " 1",
        "\n",
        "\n",
        "\n",
        "\r\n",
        "ARP.",
        "OPERATION",
        "(",
        ")",
        "-",
        "/",
        "42",
        "42/42",
        "0/0",
        "99999999999999999999",
        "1.5",
        ".",
        "ip.options: 0x0101",
        "tcp.flags: SA",
        "echo-request",
        "ff:ff:ff:ff:ff:fe",
        "198.18.0.1",
        "dot1q.vlan:",
        "wol.target:",
    ];
    let mut rng = Rng(2024);
    let mut parsed = 0;
    for n in 0..20_000 {
        let mut t = String::new();
        for _ in 0..rng.below(60) {
            t.push_str(PIECES[rng.below(PIECES.len() as u64) as usize]);
        }
        match text::parse_text(&t, "t") {
            Ok(ps) => {
                parsed += 1;
                for mut p in ps {
                    let _ = text::to_text(&mut p, FIELDS);
                }
            }
            Err(e) => {
                assert!(e.line <= t.lines().count().max(1), "text {n}: {e}\n{t:?}");
                let _ = format!("{:?}", miette::Report::new(e));
            }
        }
    }
    assert!(parsed > 100, "only {parsed} texts parsed");
}

/// Valid text with random characters changed, lines dropped or repeated:
/// packets or an error, never a panic.
#[test]
fn mutated_text_never_panics_the_reader() {
    let mut rng = Rng(31337);
    let chars = [
        '0', 'F', 'g', ':', '.', '#', ' ', '\n', '=', '-', 'é', '[', ']', 'x',
    ];
    for _ in 0..300 {
        let mut p = random_packet(&mut rng);
        let good = text::to_text(&mut p, FIELDS);
        for _ in 0..20 {
            let mut t: Vec<char> = good.chars().collect();
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(t.len() as u64) as usize;
                match rng.below(3) {
                    0 => t[i] = chars[rng.below(chars.len() as u64) as usize],
                    1 => {
                        t.remove(i);
                    }
                    _ => t.insert(i, chars[rng.below(chars.len() as u64) as usize]),
                }
            }
            let t: String = t.into_iter().collect();
            if let Err(e) = text::parse_text(&t, "t") {
                let _ = format!("{:?}", miette::Report::new(e));
            }
        }
    }
}
