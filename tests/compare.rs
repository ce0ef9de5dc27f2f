//! Packet-list comparison for golden files: what differs, and the report.

use pktscript::Packet;
use pktscript::compare::{CompareOptions, FieldDiff, compare_one, compare_packets};
use pktscript::layers::{self, Input};

fn set(p: &mut Packet, layer: &str, name: &str, v: i64) {
    let i = p.find(layer).expect("layer");
    let fi = p.field_index(i, name).expect("field");
    p.set(i, fi, &Input::Int(v)).expect("set");
}

/// IPv4 / ICMP echo request.
fn ping() -> Packet {
    let mut p = Packet::new_layer(&layers::ipv4::IPV4);
    p.stack(&Packet::new_layer(&layers::icmp::ICMP));
    p
}

/// IPv4 / UDP.
fn udp() -> Packet {
    let mut p = Packet::new_layer(&layers::ipv4::IPV4);
    p.stack(&Packet::new_layer(&layers::udp::UDP));
    p
}

fn opts(ignore: &[&str]) -> CompareOptions {
    CompareOptions {
        timestamps: false,
        ignore: ignore.iter().map(|s| s.to_string()).collect(),
    }
}

fn ether_ping() -> Packet {
    let mut p = Packet::new_layer(&layers::ether::ETHER);
    p.stack(&ping());
    p
}

fn diff(layer: &str, field: &str, expected: &str, actual: &str) -> FieldDiff {
    FieldDiff {
        layer: layer.into(),
        field: field.into(),
        expected: expected.into(),
        actual: actual.into(),
    }
}

#[test]
fn equal_lists_compare_equal() {
    let mut e = vec![ping(), udp(), ether_ping()];
    let mut a = vec![ping(), udp(), ether_ping()];
    assert_eq!(compare_packets(&mut e, &mut a, &opts(&[])), Ok(()));
    assert_eq!(compare_packets(&mut e, &mut a, &opts(&["ip.ttl"])), Ok(()));
    assert_eq!(compare_packets(&mut [], &mut [], &opts(&[])), Ok(()));
    // A parsed copy of a built packet is the same packet.
    let bytes = ether_ping().bytes().to_vec();
    let mut parsed = vec![Packet::parse(&bytes)];
    assert_eq!(
        compare_packets(&mut [ether_ping()], &mut parsed, &opts(&[])),
        Ok(())
    );
}

#[test]
fn ttl_difference_names_the_field_and_the_checksum_follows() {
    let mut e = ping();
    let mut a = ping();
    set(&mut a, "ip", "ttl", 63);
    let d = compare_one(&mut e, &mut a, &opts(&[]));
    assert_eq!(d.len(), 2, "{d:?}");
    assert_eq!(d[0], diff("IPv4", "ttl", "64", "63"));
    assert_eq!(d[1].layer, "IPv4");
    assert_eq!(d[1].field, "chksum");
    assert!(d[1].expected.ends_with(" (valid)"), "{d:?}");
    assert_ne!(d[1].expected, d[1].actual);
    assert_eq!(d[0].to_string(), "IPv4.ttl: expected 64, got 63");

    let report = compare_packets(&mut [ping()], &mut [a], &opts(&[])).unwrap_err();
    assert!(report.starts_with("packet 1 of 1 differs (1 packet differs in all):\n  IPv4.ttl: expected 64, got 63\n  IPv4.chksum: expected 0x"), "{report}");
}

#[test]
fn ignoring_ttl_and_checksum_makes_them_equal() {
    let mut e = vec![ping()];
    let mut a = vec![ping()];
    set(&mut a[0], "ip", "ttl", 63);
    assert!(compare_packets(&mut e, &mut a, &opts(&["ip.ttl"])).is_err());
    assert_eq!(
        compare_packets(&mut e, &mut a, &opts(&["ip.ttl", "ip.chksum"])),
        Ok(())
    );
    // By protocol name or alias, any case; and a whole layer.
    assert_eq!(
        compare_packets(&mut e, &mut a, &opts(&["IPv4.TTL", "IP.chksum"])),
        Ok(())
    );
    assert_eq!(compare_packets(&mut e, &mut a, &opts(&["ip"])), Ok(()));
    // Ignoring another layer's field does not hide this one.
    let d = compare_one(&mut e[0], &mut a[0], &opts(&["icmp.chksum"]));
    assert_eq!(d[0], diff("IPv4", "ttl", "64", "63"));
}

#[test]
fn misspelt_ignore_is_an_error() {
    let err = compare_packets(&mut [ping()], &mut [ping()], &opts(&["ip.tll"])).unwrap_err();
    assert!(err.contains("IPv4 has no field `tll`"), "{err}");
    assert!(err.contains("did you mean `ip.ttl`?"), "{err}");
    let err = compare_packets(&mut [ping()], &mut [ping()], &opts(&["ipx"])).unwrap_err();
    assert!(err.contains("unknown layer `ipx`"), "{err}");
}

#[test]
fn different_layer_stacks() {
    let mut e = ping();
    let mut a = udp();
    let d = compare_one(&mut e, &mut a, &opts(&[]));
    assert_eq!(d[0], diff("", "<layers>", "IPv4 / ICMP", "IPv4 / UDP"));
    assert_eq!(d[1], diff("IPv4", "proto", "1 (icmp)", "17 (udp)"));
    assert_eq!(d[2].field, "chksum");
    assert_eq!(d.len(), 3, "{d:?}");
    // Ignoring every compared field still reports the stacks.
    let d = compare_one(&mut e, &mut a, &opts(&["ip"]));
    assert_eq!(d, vec![diff("", "<layers>", "IPv4 / ICMP", "IPv4 / UDP")]);
}

#[test]
fn truncated_capture_shows_missing_fields() {
    let full = ether_ping().bytes().to_vec();
    // Ethernet and the first 16 bytes of IPv4: dst is cut off.
    let mut e = Packet::parse(&full);
    let mut a = Packet::parse(&full[..30]);
    let d = compare_one(&mut e, &mut a, &opts(&[]));
    assert_eq!(
        d[0],
        diff("", "<layers>", "Ether / IPv4 / ICMP", "Ether / IPv4")
    );
    assert!(
        d.contains(&diff("IPv4", "dst", "127.0.0.1", "<missing>")),
        "{d:?}"
    );
}

#[test]
fn count_mismatch_lists_the_extra_packets() {
    let mut e = vec![ping(), udp()];
    let mut a = vec![ping(), udp(), udp(), ping()];
    let r = compare_packets(&mut e, &mut a, &opts(&[])).unwrap_err();
    let mut s3 = udp();
    let mut s4 = ping();
    assert_eq!(
        r,
        format!(
            "packet count differs: expected 2 packets, got 4\n  extra packet 3: {}\n  extra packet 4: {}\nthe first 2 packets in common are equal",
            s3.summary(),
            s4.summary()
        )
    );
    let r = compare_packets(&mut a, &mut e, &opts(&[])).unwrap_err();
    assert!(
        r.starts_with("packet count differs: expected 4 packets, got 2\n  missing packet 3: "),
        "{r}"
    );

    // The common prefix is compared too.
    let mut e = vec![ping(), udp(), ping()];
    let mut a = vec![ping(), ping()];
    let r = compare_packets(&mut e, &mut a, &opts(&[])).unwrap_err();
    assert!(r.contains("\n  missing packet 3: "), "{r}");
    assert!(r.contains("\npacket 2 of the first 2 differs (1 packet differs in all):\n  <layers>: expected IPv4 / UDP, got IPv4 / ICMP\n"), "{r}");
}

#[test]
fn only_the_first_mismatch_is_shown_and_all_are_counted() {
    let mut e = vec![ping(), ping(), ping(), ping()];
    let mut a = vec![ping(), ping(), ping(), ping()];
    set(&mut a[1], "ip", "id", 7);
    set(&mut a[3], "ip", "ttl", 1);
    let r = compare_packets(&mut e, &mut a, &opts(&[])).unwrap_err();
    assert!(
        r.starts_with(
            "packet 2 of 4 differs (2 packets differ in all):\n  IPv4.id: expected 1, got 7\n"
        ),
        "{r}"
    );
    assert!(!r.contains("ttl: expected"), "{r}");
    assert_eq!(r.matches("###[ IPv4 ]###").count(), 2, "{r}");
}

#[test]
fn timestamps_only_when_asked() {
    let mut e = vec![ping()];
    let mut a = vec![ping()];
    e[0].time = Some((1_700_000_000, 5));
    a[0].time = Some((1_700_000_000, 6));
    assert_eq!(compare_packets(&mut e, &mut a, &opts(&[])), Ok(()));
    let with = CompareOptions {
        timestamps: true,
        ignore: vec![],
    };
    let d = compare_one(&mut e[0], &mut a[0], &with);
    assert_eq!(
        d,
        vec![diff(
            "",
            "<time>",
            "1700000000.000000005",
            "1700000000.000000006"
        )]
    );
    a[0].time = None;
    let d = compare_one(&mut e[0], &mut a[0], &with);
    assert_eq!(d[0].actual, "none");
    a[0].time = e[0].time;
    assert_eq!(compare_packets(&mut e, &mut a, &with), Ok(()));
}

#[test]
fn side_by_side_holds_both_dumps() {
    let mut e = ether_ping();
    let mut a = ether_ping();
    set(&mut a, "icmp", "seq", 9);
    let r = compare_packets(&mut [e.clone()], &mut [a.clone()], &opts(&[])).unwrap_err();
    let (head, dumps) = r.split_once("--- expected ").expect("dump header");
    assert!(head.contains("ICMP.seq: expected 0, got 9"), "{r}");
    let left: Vec<String> = dumps
        .lines()
        .skip(1)
        .map(|l| {
            l.chars()
                .take(40)
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect();
    let expected: Vec<String> = e
        .details()
        .lines()
        .map(|l| l.trim_end().to_string())
        .collect();
    assert_eq!(left, expected, "{r}");
    let right: Vec<String> = dumps
        .lines()
        .skip(1)
        .map(|l| l.chars().skip(43).collect())
        .collect();
    let actual: Vec<String> = a.details().lines().map(String::from).collect();
    assert_eq!(right, actual, "{r}");
    assert!(r.contains("|   seq        = 9"), "{r}");
}

#[test]
fn report_format_is_exact() {
    let e = Packet::new_layer(&layers::ipv4::IPV4);
    let mut a = Packet::new_layer(&layers::ipv4::IPV4);
    set(&mut a, "ip", "ttl", 63);
    let r =
        compare_packets(&mut [e.clone(), e.clone()], &mut [e.clone(), a], &opts(&[])).unwrap_err();
    let want = "\
packet 2 of 2 differs (1 packet differs in all):
  IPv4.ttl: expected 64, got 63
  IPv4.chksum: expected 0xfbe8 (valid), got 0xfce8 (valid)
--- expected ---------------------------   --- actual -----------------------------
###[ IPv4 ]###                             ###[ IPv4 ]###
  version = 4                                version = 4
  ihl     = 5                                ihl     = 5
  tos     = 0x00                             tos     = 0x00
  len     = 20                               len     = 20
  id      = 1                                id      = 1
  flags   = 0                                flags   = 0
  frag    = 0                                frag    = 0
  ttl     = 64                           |   ttl     = 63
  proto   = 0 (hopopt)                       proto   = 0 (hopopt)
  chksum  = 0xfbe8 (valid)               |   chksum  = 0xfce8 (valid)
  src     = 0.0.0.0                          src     = 0.0.0.0
  dst     = 127.0.0.1                        dst     = 127.0.0.1
  options = []                               options = []";
    assert_eq!(r, want);
}
