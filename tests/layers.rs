//! Per-layer tests on the real frames of the seed notes, and on packets built
//! from the constructors' defaults.

use pktscript::Packet;
use pktscript::layers::{Input, Value};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn field(p: &mut Packet, layer: &str, name: &str) -> Value {
    let i = p
        .find(layer)
        .unwrap_or_else(|| panic!("no {layer} in {:?}", p.layer_names()));
    let fi = p.field_index(i, name).unwrap();
    p.get(i, fi).unwrap()
}

fn int(p: &mut Packet, layer: &str, name: &str) -> u64 {
    match field(p, layer, name) {
        Value::Int(v) => v,
        v => panic!("{layer}.{name} is {v:?}"),
    }
}

fn text(p: &mut Packet, layer: &str, name: &str) -> String {
    let i = p.find(layer).unwrap();
    let fi = p.field_index(i, name).unwrap();
    let v = p.get(i, fi).unwrap();
    pktscript::layers::format_value(&p.layers()[i].proto.fields[fi], &v)
}

fn set(p: &mut Packet, layer: &str, name: &str, v: Input) {
    let i = p.find(layer).unwrap();
    let fi = p.field_index(i, name).unwrap();
    p.set(i, fi, &v).unwrap();
}

// seed 002: pkt-recv of an ARP request (42 bytes) and its reply (60 bytes, padded)
const ARP_REQUEST: &str = "FF FF FF FF  FF FF 08 00  27 20 E8 38  08 06 00 01
08 00 06 04  00 01 08 00  27 20 E8 38  0A 00 02 0F
00 00 00 00  00 00 0A 00  02 02";
const ARP_REPLY: &str = "08 00 27 20  E8 38 52 54  00 12 35 02  08 06 00 01
08 00 06 04  00 02 52 54  00 12 35 02  0A 00 02 02
08 00 27 20  E8 38 0A 00  02 0F 00 00  00 00 00 00
00 00 00 00  00 00 00 00  00 00 00 00";
// seed 002: OpenBSD `arp -W 00:0c:29:59:e8:ba`, a Wake-on-LAN frame of EtherType 0
const WOL_FRAME: &str = "FF FF FF FF  FF FF 00 0C  29 59 E8 BA  00 00 FF FF
FF FF FF FF  00 0C 29 59  E8 BA 00 0C  29 59 E8 BA
00 0C 29 59  E8 BA 00 0C  29 59 E8 BA  00 0C 29 59
E8 BA 00 0C  29 59 E8 BA  00 0C 29 59  E8 BA 00 0C
29 59 E8 BA  00 0C 29 59  E8 BA 00 0C  29 59 E8 BA
00 0C 29 59  E8 BA 00 0C  29 59 E8 BA  00 0C 29 59
E8 BA 00 0C  29 59 E8 BA  00 0C 29 59  E8 BA 00 0C
29 59 E8 BA";

#[test]
fn seed_arp_request_fields_as_pkt_txt2txt_shows_them() {
    let bytes = hex(ARP_REQUEST);
    let mut p = Packet::parse(&bytes);
    assert_eq!(p.layer_names(), ["Ether", "ARP"]);
    assert_eq!(text(&mut p, "Ether", "dst"), "ff:ff:ff:ff:ff:ff");
    assert_eq!(text(&mut p, "Ether", "src"), "08:00:27:20:e8:38");
    assert_eq!(int(&mut p, "Ether", "type"), 0x806);
    assert_eq!(int(&mut p, "ARP", "hwtype"), 1);
    assert_eq!(int(&mut p, "ARP", "ptype"), 0x800);
    assert_eq!(int(&mut p, "ARP", "hwlen"), 6);
    assert_eq!(int(&mut p, "ARP", "plen"), 4);
    assert_eq!(int(&mut p, "ARP", "op"), 1);
    assert_eq!(text(&mut p, "ARP", "op"), "1 (who-has)");
    assert_eq!(text(&mut p, "ARP", "hwsrc"), "08:00:27:20:e8:38");
    assert_eq!(text(&mut p, "ARP", "psrc"), "10.0.2.15");
    assert_eq!(text(&mut p, "ARP", "hwdst"), "00:00:00:00:00:00");
    assert_eq!(text(&mut p, "ARP", "pdst"), "10.0.2.2");
    assert_eq!(
        p.summary(),
        "ARP, Request who-has 10.0.2.2 tell 10.0.2.15, length 28"
    );
    assert_eq!(p.bytes(), &bytes[..]);
}

#[test]
fn seed_arp_reply_keeps_its_padding() {
    let bytes = hex(ARP_REPLY);
    let mut p = Packet::parse(&bytes);
    assert_eq!(p.layer_names(), ["Ether", "ARP", "Padding"]);
    assert_eq!(text(&mut p, "ARP", "op"), "2 (is-at)");
    assert_eq!(text(&mut p, "ARP", "hwsrc"), "52:54:00:12:35:02");
    assert_eq!(text(&mut p, "ARP", "psrc"), "10.0.2.2");
    assert_eq!(text(&mut p, "ARP", "pdst"), "10.0.2.15");
    assert_eq!(
        p.summary(),
        "ARP, Reply 10.0.2.2 is-at 52:54:00:12:35:02, length 46"
    );
    assert_eq!(p.bytes().len(), 60);
    assert_eq!(p.bytes(), &bytes[..]);
    // An edit keeps the trailing bytes.
    set(&mut p, "ARP", "pdst", Input::Str("198.18.0.9"));
    assert_eq!(p.bytes().len(), 60);
    assert_eq!(&p.bytes()[42..], &bytes[42..]);
}

#[test]
fn seed_arp_hexdump_matches_pkt_recv() {
    let mut p = Packet::parse(&hex(ARP_REQUEST));
    assert_eq!(
        p.hexdump(),
        "000000: FF FF FF FF  FF FF 08 00  27 20 E8 38  08 06 00 01 : ........ ' .8....\n\
         000010: 08 00 06 04  00 01 08 00  27 20 E8 38  0A 00 02 0F : ........ ' .8....\n\
         000020: 00 00 00 00  00 00 0A 00  02 02                    : ........ ..\n"
    );
}

#[test]
fn seed_promisc_probe_is_a_who_has_to_the_fake_broadcast() {
    // seed 002, LOG128: the probe sent to find a promiscuous host.
    let mut p = Packet::parse(&hex(ARP_REQUEST));
    set(&mut p, "Ether", "dst", Input::Str("ff:ff:ff:ff:ff:fe"));
    assert_eq!(&p.bytes()[..6], &[0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]);
    assert_eq!(&p.bytes()[6..], &hex(ARP_REQUEST)[6..]);
}

#[test]
fn seed_wol_frame_of_ethertype_zero_round_trips() {
    let bytes = hex(WOL_FRAME);
    assert_eq!(bytes.len(), 116);
    let mut p = Packet::parse(&bytes);
    assert_eq!(p.layer_names(), ["Ether", "WoL"]);
    assert_eq!(int(&mut p, "Ether", "type"), 0);
    assert_eq!(text(&mut p, "WoL", "target"), "00:0c:29:59:e8:ba");
    assert_eq!(p.summary(), "WoL magic packet for 00:0c:29:59:e8:ba");
    assert_eq!(p.bytes(), &bytes[..]);
}

#[test]
fn wol_builds_the_sixteen_repetitions_and_is_only_guessed_on_magic() {
    let mut p = Packet::new_layer(&pktscript::layers::ether::ETHER);
    let mut w = Packet::new_layer(&pktscript::layers::wol::WOL);
    set(&mut w, "WoL", "target", Input::Str("00:0c:29:59:e8:ba"));
    p.stack(&w);
    let b = p.bytes().to_vec();
    assert_eq!(&b[12..14], &[0x08, 0x42]);
    assert_eq!(&b[14..], &hex(WOL_FRAME)[14..]);
    // UDP port 9 carrying something else is not a magic packet.
    let mut u = Packet::new_layer(&pktscript::layers::ipv4::IPV4);
    let mut udp = Packet::new_layer(&pktscript::layers::udp::UDP);
    set(&mut udp, "UDP", "dport", Input::Int(9));
    u.stack(&udp);
    u.stack(&Packet::raw(b"discard me"));
    let mut e = Packet::new_layer(&pktscript::layers::ether::ETHER);
    e.stack(&u);
    assert_eq!(
        Packet::parse(e.bytes()).layer_names(),
        ["Ether", "IPv4", "UDP", "Raw"]
    );
}

/// seed 000: the IPv4 header values pkt-analyze printed for the echo request and reply.
#[test]
fn seed_echo_ip_checksums_match_the_dump() {
    for (src, dst, id, sum) in [
        ("10.0.2.15", "10.0.2.2", 0xd038, 0xd35f),
        ("10.0.2.2", "10.0.2.15", 0x0076, 0xa322),
    ] {
        let mut ip = Packet::new_layer(&pktscript::layers::ipv4::IPV4);
        set(&mut ip, "IPv4", "src", Input::Str(src));
        set(&mut ip, "IPv4", "dst", Input::Str(dst));
        set(&mut ip, "IPv4", "id", Input::Int(id));
        set(&mut ip, "IPv4", "ttl", Input::Int(255));
        let mut p = Packet::new_layer(&pktscript::layers::ether::ETHER);
        p.stack(&ip);
        p.stack(&Packet::new_layer(&pktscript::layers::icmp::ICMP));
        p.stack(&Packet::raw(&[0u8; 56]));
        assert_eq!(int(&mut p, "IPv4", "len"), 84);
        assert_eq!(int(&mut p, "IPv4", "chksum"), sum, "{src} id {id:#x}");
        assert_eq!(int(&mut p, "Ether", "type"), 0x0800);
        assert_eq!(int(&mut p, "IPv4", "proto"), 1);
    }
}

#[test]
fn seed_echo_forgery_changes_the_icmp_checksum_by_the_type() {
    // Reply of seed 000 (checksum 0x3e67) -> request: 0x3667, as pkt-correct gave.
    let pcap = pktscript::pcap::read_all(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/data/echo.pcap"
    ))
    .unwrap();
    let mut reply = Packet::dissect(pcap[1].data.clone(), 1);
    assert_eq!(int(&mut reply, "ICMP", "chksum"), 0x3e67);
    let original = reply.bytes().to_vec();
    set(&mut reply, "ICMP", "type", Input::Str("echo-request"));
    assert_eq!(int(&mut reply, "ICMP", "chksum"), 0x3667);
    // Only the type and checksum bytes changed; the IP header is untouched.
    let forged = reply.bytes().to_vec();
    let diff: Vec<usize> = (0..forged.len())
        .filter(|&i| forged[i] != original[i])
        .collect();
    assert_eq!(diff, vec![34, 36]);
    assert!(reply.bad_checksums().is_empty());
}

#[test]
fn bad_checksums_survive_unrelated_edits() {
    let mut p = Packet::parse(&hex(
        "020000000002 020000000001 0800 4500001c0001000040010000c6120001c6120002 0800f7ff00000000",
    ));
    // IP checksum zero: wrong.
    assert_eq!(p.bad_checksums(), vec!["IPv4"]);
    // Editing the Ethernet source does not touch the IP header.
    set(&mut p, "Ether", "src", Input::Str("02:00:00:00:00:09"));
    assert_eq!(p.bad_checksums(), vec!["IPv4"]);
    // Editing ICMP recomputes ICMP's checksum but not IP's.
    set(&mut p, "ICMP", "seq", Input::Int(5));
    assert_eq!(p.bad_checksums(), vec!["IPv4"]);
    // Editing the IP header recomputes its checksum.
    set(&mut p, "IPv4", "ttl", Input::Int(3));
    assert!(p.bad_checksums().is_empty());
}

#[test]
fn pinned_checksum_is_kept_and_fix_recomputes_it() {
    let mut p = Packet::new_layer(&pktscript::layers::ether::ETHER);
    p.stack(&Packet::new_layer(&pktscript::layers::ipv4::IPV4));
    p.stack(&Packet::new_layer(&pktscript::layers::udp::UDP));
    set(&mut p, "UDP", "chksum", Input::Int(0x1234));
    set(&mut p, "UDP", "dport", Input::Int(9));
    assert_eq!(int(&mut p, "UDP", "chksum"), 0x1234);
    assert_eq!(p.bad_checksums(), vec!["UDP"]);
    p.fix();
    assert!(p.bad_checksums().is_empty());
}

#[test]
fn vlan_tagged_frames_dissect_and_build() {
    let mut p = Packet::new_layer(&pktscript::layers::ether::ETHER);
    let mut tag = Packet::new_layer(&pktscript::layers::dot1q::DOT1Q);
    set(&mut tag, "Dot1Q", "vlan", Input::Int(42));
    set(&mut tag, "Dot1Q", "prio", Input::Int(5));
    p.stack(&tag);
    p.stack(&Packet::new_layer(&pktscript::layers::arp::ARP));
    let bytes = p.bytes().to_vec();
    assert_eq!(&bytes[12..18], &[0x81, 0x00, 0xa0, 0x2a, 0x08, 0x06]);
    let mut q = Packet::parse(&bytes);
    assert_eq!(q.layer_names(), ["Ether", "Dot1Q", "ARP"]);
    assert_eq!(int(&mut q, "Dot1Q", "vlan"), 42);
    assert!(q.summary().starts_with("802.1Q vlan 42, ARP"));
}

#[test]
fn ip_padding_is_kept_shown_and_reemitted() {
    // 20-byte IP + 8-byte ICMP in a 60-byte frame: 18 bytes of padding.
    let mut built = Packet::new_layer(&pktscript::layers::ether::ETHER);
    built.stack(&Packet::new_layer(&pktscript::layers::ipv4::IPV4));
    built.stack(&Packet::new_layer(&pktscript::layers::icmp::ICMP));
    let mut frame = built.bytes().to_vec();
    frame.extend_from_slice(&[0xaa; 18]);
    let mut p = Packet::parse(&frame);
    assert_eq!(p.layer_names(), ["Ether", "IPv4", "ICMP", "Padding"]);
    assert!(p.details().contains("###[ Padding ]###"));
    set(&mut p, "ICMP", "seq", Input::Int(7));
    assert_eq!(p.bytes().len(), 60);
    assert_eq!(int(&mut p, "IPv4", "len"), 28);
    assert!(p.bad_checksums().is_empty());
}

#[test]
fn icmp_error_quotes_a_dissected_packet() {
    let mut probe = Packet::new_layer(&pktscript::layers::ipv4::IPV4);
    set(&mut probe, "IPv4", "dst", Input::Str("198.18.0.2"));
    probe.stack(&Packet::new_layer(&pktscript::layers::udp::UDP));
    probe.stack(&Packet::raw(b"probe"));
    let quoted = probe.bytes().to_vec();
    let mut err = Packet::new_layer(&pktscript::layers::ether::ETHER);
    err.stack(&Packet::new_layer(&pktscript::layers::ipv4::IPV4));
    let mut icmp = Packet::new_layer(&pktscript::layers::icmp::ICMP);
    set(&mut icmp, "ICMP", "type", Input::Str("dest-unreach"));
    set(&mut icmp, "ICMP", "code", Input::Int(3));
    err.stack(&icmp);
    err.stack(&Packet::raw(&quoted));
    let mut p = Packet::parse(err.bytes());
    assert_eq!(
        p.layer_names(),
        ["Ether", "IPv4", "ICMP", "IPv4", "UDP", "Raw"]
    );
    assert!(p.layers()[3].quoted && p.layers()[4].quoted);
    assert_eq!(
        p.summary(),
        "IP 0.0.0.0 > 127.0.0.1: ICMP 198.18.0.2 port-unreachable, length 41"
    );
    assert!(p.bad_checksums().is_empty());
    // ICMP error fields depend on the type.
    let i = p.find("ICMP").unwrap();
    assert!(p.field_index(i, "nexthopmtu").is_ok());
    let id = p.field_index(i, "id").unwrap();
    assert!(p.get(i, id).is_err());
}

#[test]
fn tcp_options_and_flags() {
    let mut tcp = Packet::new_layer(&pktscript::layers::tcp::TCP);
    set(&mut tcp, "TCP", "flags", Input::Str("SA"));
    set(
        &mut tcp,
        "TCP",
        "options",
        Input::Bytes(&[2, 4, 5, 0xb4, 1, 3, 3]),
    );
    let mut p = Packet::new_layer(&pktscript::layers::ipv4::IPV4);
    p.stack(&tcp);
    let b = p.bytes().to_vec();
    assert_eq!(b.len(), 20 + 28);
    assert_eq!(b[20 + 12] >> 4, 7);
    assert_eq!(text(&mut p, "TCP", "flags"), "SA (0x12)");
    assert!(p.bad_checksums().is_empty());
    // Flags parse from letters in any order, and reject unknown letters.
    set(&mut p, "TCP", "flags", Input::Str("AP"));
    assert_eq!(int(&mut p, "TCP", "flags"), 0x18);
    let ti = p.find("TCP").unwrap();
    let fi = p.field_index(ti, "flags").unwrap();
    assert!(p.set(ti, fi, &Input::Str("SX")).is_err());
}

#[test]
fn invalid_values_leave_the_packet_unchanged() {
    let mut p = Packet::new_layer(&pktscript::layers::ipv4::IPV4);
    let before = p.bytes().to_vec();
    let ttl = p.field_index(0, "ttl").unwrap();
    let e = p.set(0, ttl, &Input::Int(300)).unwrap_err();
    assert!(e.message.contains("out of range"), "{}", e.message);
    let src = p.field_index(0, "src").unwrap();
    assert!(p.set(0, src, &Input::Str("198.18.0.300")).is_err());
    assert_eq!(p.bytes(), &before[..]);
    let e = p.field_index(0, "tll").unwrap_err();
    assert!(e.help.unwrap().contains("did you mean `ttl`"));
}

#[test]
fn truncated_headers_dissect_as_far_as_the_bytes_go() {
    let mut built = Packet::new_layer(&pktscript::layers::ether::ETHER);
    built.stack(&Packet::new_layer(&pktscript::layers::ipv4::IPV4));
    built.stack(&Packet::new_layer(&pktscript::layers::tcp::TCP));
    let full = built.bytes().to_vec();
    let cut = &full[..14 + 20 + 9];
    let mut p = Packet::parse(cut);
    assert_eq!(p.layer_names(), ["Ether", "IPv4", "TCP"]);
    assert!(p.layers()[2].truncated);
    assert!(
        p.details()
            .contains("truncated: 9 of 20 header bytes present")
    );
    assert!(p.summary().ends_with("[truncated]"));
    assert_eq!(p.bytes(), cut);
}

#[test]
fn unknown_types_dissect_as_raw() {
    let mut p = Packet::parse(&hex("020000000002 020000000001 88b5 0102030405"));
    assert_eq!(p.layer_names(), ["Ether", "Raw"]);
    let mut q = Packet::parse(&hex(
        "020000000002 020000000001 0800 45000018000100004063 0000 c6120001c6120002 01020304",
    ));
    assert_eq!(q.layer_names(), ["Ether", "IPv4", "Raw"]);
    assert!(p.bytes().len() == 19 && q.bytes().len() == 38);
}

#[test]
fn transport_checksums_follow_only_their_pseudo_header() {
    for upper in [&pktscript::layers::udp::UDP, &pktscript::layers::tcp::TCP] {
        let mut p = Packet::new_layer(&pktscript::layers::ether::ETHER);
        p.stack(&Packet::new_layer(&pktscript::layers::ipv4::IPV4));
        p.stack(&Packet::new_layer(upper));
        p.stack(&Packet::raw(b"x"));
        set(&mut p, upper.name, "chksum", Input::Int(0x1234));
        let mut q = Packet::parse(p.bytes());
        assert_eq!(q.bad_checksums(), vec![upper.name]);
        // TTL is not in the pseudo-header: the planted bad checksum stays.
        set(&mut q, "IPv4", "ttl", Input::Int(63));
        assert_eq!(q.bad_checksums(), vec![upper.name]);
        // The source address is.
        set(&mut q, "IPv4", "src", Input::Str("198.18.0.9"));
        assert!(q.bad_checksums().is_empty());
    }
}
