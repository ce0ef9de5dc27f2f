//! The replay link: receptions from a pcap file (written with
//! `pktscript::pcap`) or a list, sends recorded.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use miette::Diagnostic;
use pktscript::link::{Direction, Frame, Link, LinkErrorKind, ReplayLink};
use pktscript::pcap::{Format, PcapWriter, Record};

fn tmp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("link_replay");
    std::fs::create_dir_all(&dir).expect("create temp dir");
    let p = dir.join(name);
    let _ = std::fs::remove_file(&p);
    p
}

fn frame_bytes(seq: u8, len: usize) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x88, 0xb5, seq];
    f.resize(len, seq);
    f
}

fn records() -> Vec<Record> {
    (0..3u8)
        .map(|i| Record {
            data: frame_bytes(i, 60 + usize::from(i)),
            ts_sec: 1_700_000_000 + i64::from(i),
            ts_nsec: 123_456_000 * u32::from(i),
            orig_len: 60 + u32::from(i) + if i == 2 { 100 } else { 0 },
            linktype: 1,
            raw: Default::default(),
        })
        .collect()
}

fn write_pcap(name: &str, format: Format) -> PathBuf {
    let p = tmp(name);
    let mut w = PcapWriter::create_with(&p, 1, format).expect("create pcap");
    for r in records() {
        w.write(&r).expect("write record");
    }
    w.close().expect("close pcap");
    p
}

/// Something written once against the trait: sends a frame, then collects
/// what comes back.
fn exchange(link: &mut dyn Link, frame: &[u8]) -> Vec<Frame> {
    link.send(frame).expect("send");
    let mut got = Vec::new();
    while let Some(f) = link.recv(Some(Duration::from_secs(5))).expect("recv") {
        got.push(f);
    }
    got
}

#[test]
fn replays_a_pcap_in_order() {
    for (name, format) in [
        ("replay.pcap", Format::Pcap),
        ("replay_ns.pcap", Format::PcapNs),
        ("replay.pcapng", Format::PcapNg),
    ] {
        let p = write_pcap(name, format);
        let mut link = ReplayLink::from_pcap(&p).expect("open replay");
        assert_eq!(link.name(), p.display().to_string());
        assert_eq!(link.linktype(), 1);
        assert_eq!(link.remaining(), 3);
        let t = Instant::now();
        let got = exchange(&mut link, &frame_bytes(9, 60));
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "an exhausted replay does not wait for its timeout"
        );
        assert_eq!(got.len(), 3, "{name}");
        for (f, r) in got.iter().zip(records()) {
            assert_eq!(f.data, r.data, "{name}");
            assert_eq!(f.ts_sec, r.ts_sec, "{name}");
            // Microsecond pcap keeps microseconds.
            assert_eq!(f.ts_nsec / 1000, r.ts_nsec / 1000, "{name}");
            assert_eq!(f.orig_len, r.orig_len, "{name}");
            assert_eq!(f.direction, Direction::Incoming);
        }
        assert_eq!(link.remaining(), 0);
        assert!(link.recv(None).expect("recv").is_none(), "stays exhausted");
        let st = link.stats().expect("stats");
        assert_eq!((st.received, st.dropped), (3, 0));
        // The send was recorded.
        assert_eq!(link.sent().len(), 1);
        assert_eq!(link.sent()[0].data, frame_bytes(9, 60));
    }
}

#[test]
fn sends_are_recorded() {
    // One frame to receive, recorded at 1_700_000_000.5: sends are stamped on
    // the recording's clock, just before the frame that answers them.
    let answer = Frame {
        ts_sec: 1_700_000_000,
        ts_nsec: 500_000_000,
        ..Frame::new(frame_bytes(7, 60), Direction::Incoming)
    };
    let mut link = ReplayLink::from_frames(vec![answer]).with_name("test0");
    assert_eq!(link.name(), "test0");
    let a = frame_bytes(1, 60);
    let b = frame_bytes(2, 70);
    let c = frame_bytes(3, 1514);
    link.send(&a).expect("send");
    assert_eq!(
        link.send_batch(&[b.as_slice(), c.as_slice()])
            .expect("send_batch"),
        2
    );
    let sent = link.sent();
    assert_eq!(sent.len(), 3);
    for (f, want) in sent.iter().zip([&a, &b, &c]) {
        assert_eq!(&f.data, want);
        assert_eq!(f.orig_len as usize, want.len());
        assert_eq!(f.direction, Direction::Outgoing);
        assert_eq!(
            (f.ts_sec, f.ts_nsec),
            (1_700_000_000, 500_000_000),
            "stamped on the replay's clock"
        );
    }
    assert!(
        sent.windows(2)
            .all(|w| (w[0].ts_sec, w[0].ts_nsec) <= (w[1].ts_sec, w[1].ts_nsec))
    );
    // Sent frames are not received: the replay is dumb.
    assert_eq!(
        link.recv(None).expect("recv").map(|f| f.data),
        Some(frame_bytes(7, 60))
    );
    assert!(link.recv(None).expect("recv").is_none());
    let taken = link.take_sent();
    assert_eq!(taken.len(), 3);
    assert!(link.sent().is_empty());
    // Recorded sends can be written as a capture.
    let p = tmp("sent.pcap");
    let mut w = PcapWriter::create(&p, link.linktype()).expect("create");
    for f in &taken {
        w.write(&f.to_record(link.linktype())).expect("write");
    }
    w.close().expect("close");
    let back = ReplayLink::from_pcap(&p).expect("reopen");
    assert_eq!(back.remaining(), 3);
}

#[test]
fn outgoing_frames_only_when_asked() {
    let frames = vec![
        Frame::new(frame_bytes(1, 60), Direction::Incoming),
        Frame::new(frame_bytes(2, 60), Direction::Outgoing),
        Frame::new(frame_bytes(3, 60), Direction::Incoming),
    ];
    let mut link = ReplayLink::from_frames(frames.clone());
    let seqs = |l: &mut ReplayLink| {
        let mut v = Vec::new();
        while let Some(f) = l.recv(None).expect("recv") {
            v.push(f.data[14]);
        }
        v
    };
    assert_eq!(seqs(&mut link), vec![1, 3]);
    let mut link = ReplayLink::from_frames(frames);
    link.set_outgoing(true);
    link.push(Frame::new(frame_bytes(4, 60), Direction::Incoming));
    assert_eq!(seqs(&mut link), vec![1, 2, 3, 4]);
    assert_eq!(link.stats().expect("stats").received, 4);
}

#[test]
fn frames_become_packets() {
    let mut f = Frame::new(frame_bytes(5, 60), Direction::Outgoing);
    f.orig_len = 200;
    let p = f.to_packet(1);
    assert_eq!(p.direction, Some(Direction::Outgoing));
    assert_eq!(p.time, Some((f.ts_sec, f.ts_nsec)));
    assert_eq!(p.wire_len(), 200);
    assert_eq!(p.layer_names().first(), Some(&"Ether"));
    let r = f.to_record(1);
    assert_eq!(Frame::from_record(r.clone()).data, f.data);
    assert_eq!(r.orig_len, 200);
}

#[test]
fn unreadable_captures_are_errors_with_hints() {
    let err = ReplayLink::from_pcap(tmp("missing.pcap")).expect_err("missing file");
    assert_eq!(err.kind, LinkErrorKind::Replay);
    assert!(err.to_string().contains("missing.pcap"), "{err}");
    assert!(err.help().is_some());
    let p = tmp("text.pcap");
    std::fs::write(&p, "this is not a capture\n").expect("write");
    let err = ReplayLink::from_pcap(&p).expect_err("text file");
    assert_eq!(err.kind, LinkErrorKind::Replay);
    assert!(
        err.help
            .as_deref()
            .unwrap_or("")
            .contains("looks like text"),
        "{err:?}"
    );
    assert_eq!(
        err.code().map(|c| c.to_string()).as_deref(),
        Some("link::replay")
    );
}
