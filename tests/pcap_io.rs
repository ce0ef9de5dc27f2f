//! Integration tests for `pktscript::pcap`: round trips through every
//! format, hand-made files (big-endian, odd pcapng resolutions, several
//! sections, unknown blocks), every error case, and a cross-check with
//! tcpdump.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use miette::Diagnostic;
use pktscript::pcap::*;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A fresh path in cargo's per-target temporary directory.
fn tmp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pcap_io");
    std::fs::create_dir_all(&dir).expect("create temp dir");
    let p = dir.join(name);
    let _ = std::fs::remove_file(&p);
    p
}

fn write_bytes(name: &str, bytes: &[u8]) -> PathBuf {
    let p = tmp(name);
    std::fs::write(&p, bytes).expect("write test file");
    p
}

/// A small Ethernet/IPv4/UDP frame, so that tcpdump has something to print.
fn udp_frame(payload: &[u8]) -> Vec<u8> {
    let mut f = vec![
        0x02, 0, 0, 0, 0, 0x02, // dst
        0x02, 0, 0, 0, 0, 0x01, // src
        0x08, 0x00, // IPv4
    ];
    let ip_len = 20 + 8 + payload.len() as u16;
    f.extend_from_slice(&[0x45, 0, (ip_len >> 8) as u8, ip_len as u8]);
    f.extend_from_slice(&[0, 1, 0, 0, 64, 17, 0, 0]);
    f.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
    let udp_len = 8 + payload.len() as u16;
    f.extend_from_slice(&[0x04, 0xd2, 0x16, 0x2e]); // 1234 -> 5678
    f.extend_from_slice(&[(udp_len >> 8) as u8, udp_len as u8, 0, 0]);
    f.extend_from_slice(payload);
    f
}

fn rec(data: Vec<u8>, ts_sec: i64, ts_nsec: u32, linktype: u32) -> Record {
    let orig_len = data.len() as u32;
    Record {
        data,
        ts_sec,
        ts_nsec,
        orig_len,
        linktype,
        raw: RawFields::default(),
    }
}

fn sample_records() -> Vec<Record> {
    vec![
        rec(udp_frame(b"one"), 1_625_635_176, 702_412_345, 1),
        rec(udp_frame(b"two!"), 1_625_635_177, 0, 1),
        rec(udp_frame(b""), 0, 999_999_999, 1),
        rec(vec![], 4_000_000_000, 1, 1),
        Record {
            // snapped record: orig_len larger than the data
            data: vec![0xab; 61],
            ts_sec: 1_700_000_000,
            ts_nsec: 123_456_789,
            orig_len: 1514,
            linktype: 1,
            raw: RawFields::default(),
        },
        Record {
            // incl_len > orig_len is tolerated and kept
            data: vec![0xcd; 64],
            ts_sec: 1_700_000_001,
            ts_nsec: 5,
            orig_len: 60,
            linktype: 1,
            raw: RawFields::default(),
        },
        rec(vec![0x5a; MAX_RECORD as usize], 1_700_000_002, 7, 1),
    ]
}

fn write_file(path: &Path, format: Format, records: &[Record]) {
    let mut w = PcapWriter::create_with(path, 1, format).expect("create");
    for r in records {
        w.write(r).expect("write");
    }
    w.close().expect("close");
}

/// Truncates nanoseconds to microseconds, as classic pcap stores them.
fn to_micros(mut r: Record) -> Record {
    r.ts_nsec = r.ts_nsec / 1000 * 1000;
    r
}

/// A writer whose bytes the test can look at afterwards.
#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// --- hand-made pcapng ----------------------------------------------------------

fn u16b(v: u16, be: bool) -> [u8; 2] {
    if be { v.to_be_bytes() } else { v.to_le_bytes() }
}

fn u32b(v: u32, be: bool) -> [u8; 4] {
    if be { v.to_be_bytes() } else { v.to_le_bytes() }
}

/// A block with its two length fields; the body is padded to 4 bytes.
fn block(be: bool, btype: u32, body: &[u8]) -> Vec<u8> {
    let padded = body.len().div_ceil(4) * 4;
    let len = (12 + padded) as u32;
    let mut b = Vec::new();
    b.extend_from_slice(&u32b(btype, be));
    b.extend_from_slice(&u32b(len, be));
    b.extend_from_slice(body);
    b.resize(8 + padded, 0);
    b.extend_from_slice(&u32b(len, be));
    b
}

fn options(be: bool, opts: &[(u16, &[u8])]) -> Vec<u8> {
    let mut b = Vec::new();
    if opts.is_empty() {
        return b;
    }
    for (code, val) in opts {
        b.extend_from_slice(&u16b(*code, be));
        b.extend_from_slice(&u16b(val.len() as u16, be));
        b.extend_from_slice(val);
        b.resize(b.len().div_ceil(4) * 4, 0);
    }
    b.extend_from_slice(&[0; 4]);
    b
}

fn shb(be: bool) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&u32b(0x1a2b_3c4d, be));
    body.extend_from_slice(&u16b(1, be));
    body.extend_from_slice(&u16b(0, be));
    body.extend_from_slice(&[0xff; 8]);
    body.extend_from_slice(&options(be, &[(4, b"handmade")]));
    block(be, 0x0a0d_0d0a, &body)
}

fn idb(be: bool, linktype: u16, snaplen: u32, opts: &[(u16, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&u16b(linktype, be));
    body.extend_from_slice(&[0, 0]);
    body.extend_from_slice(&u32b(snaplen, be));
    body.extend_from_slice(&options(be, opts));
    block(be, 1, &body)
}

fn epb(be: bool, iface: u32, ts: u64, data: &[u8], orig_len: u32) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&u32b(iface, be));
    body.extend_from_slice(&u32b((ts >> 32) as u32, be));
    body.extend_from_slice(&u32b(ts as u32, be));
    body.extend_from_slice(&u32b(data.len() as u32, be));
    body.extend_from_slice(&u32b(orig_len, be));
    body.extend_from_slice(data);
    body.resize(body.len().div_ceil(4) * 4, 0);
    // an epb_flags option, to be skipped
    body.extend_from_slice(&options(be, &[(2, &u32b(1, be))]));
    block(be, 6, &body)
}

/// The obsolete Packet Block (type 2).
fn pb(be: bool, iface: u16, ts: u64, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&u16b(iface, be));
    body.extend_from_slice(&u16b(0, be)); // drops
    body.extend_from_slice(&u32b((ts >> 32) as u32, be));
    body.extend_from_slice(&u32b(ts as u32, be));
    body.extend_from_slice(&u32b(data.len() as u32, be));
    body.extend_from_slice(&u32b(data.len() as u32, be));
    body.extend_from_slice(data);
    block(be, 2, &body)
}

fn spb(be: bool, orig_len: u32, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&u32b(orig_len, be));
    body.extend_from_slice(data);
    block(be, 3, &body)
}

/// A classic pcap file header.
fn classic_header(be: bool, magic: u32, linktype: u32) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&u32b(magic, be));
    h.extend_from_slice(&u16b(2, be));
    h.extend_from_slice(&u16b(4, be));
    h.extend_from_slice(&[0; 8]);
    h.extend_from_slice(&u32b(65535, be));
    h.extend_from_slice(&u32b(linktype, be));
    h
}

fn classic_record(be: bool, sec: u32, frac: u32, data: &[u8], orig_len: u32) -> Vec<u8> {
    let mut r = Vec::new();
    r.extend_from_slice(&u32b(sec, be));
    r.extend_from_slice(&u32b(frac, be));
    r.extend_from_slice(&u32b(data.len() as u32, be));
    r.extend_from_slice(&u32b(orig_len, be));
    r.extend_from_slice(data);
    r
}

/// Opens `path` and reads until the first error, which it returns.
fn first_error(path: &Path) -> PcapError {
    match PcapReader::open(path) {
        Err(e) => e,
        Ok(r) => {
            for item in r {
                if let Err(e) = item {
                    return e;
                }
            }
            panic!("{}: expected an error, read the whole file", path.display());
        }
    }
}

fn help_of(e: &PcapError) -> String {
    e.help().map(|h| h.to_string()).unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------

#[test]
fn roundtrip_pcap_microseconds() {
    let p = tmp("rt.pcap");
    let recs = sample_records();
    write_file(&p, Format::Pcap, &recs);
    let r = PcapReader::open(&p).unwrap();
    assert_eq!(r.format(), Format::Pcap);
    assert_eq!(r.linktype(), 1);
    let back: Vec<Record> = r.collect::<Result<_, _>>().unwrap();
    let want: Vec<Record> = recs.into_iter().map(to_micros).collect();
    assert_eq!(back, want);
}

#[test]
fn roundtrip_pcap_nanoseconds() {
    let p = tmp("rt_ns.pcap");
    let recs = sample_records();
    write_file(&p, Format::PcapNs, &recs);
    let bytes = std::fs::read(&p).unwrap();
    assert_eq!(&bytes[..4], &[0x4d, 0x3c, 0xb2, 0xa1]);
    let r = PcapReader::open(&p).unwrap();
    assert_eq!(r.format(), Format::PcapNs);
    assert_eq!(read_all(&p).unwrap(), recs);
}

#[test]
fn roundtrip_pcapng_nanoseconds() {
    let p = tmp("rt.pcapng");
    let recs = sample_records();
    write_file(&p, Format::PcapNg, &recs);
    let r = PcapReader::open(&p).unwrap();
    assert_eq!(r.format(), Format::PcapNg);
    assert_eq!(r.linktype(), 1);
    assert_eq!(read_all(&p).unwrap(), recs);
}

#[test]
fn create_picks_format_from_extension() {
    for (name, want) in [
        ("ext.pcap", Format::Pcap),
        ("ext.cap", Format::Pcap),
        ("ext.pcapng", Format::PcapNg),
        ("ext.PCAPNG", Format::PcapNg),
    ] {
        let p = tmp(name);
        let mut w = PcapWriter::create(&p, 1).unwrap();
        assert_eq!(w.format(), want, "{name}");
        w.write(&rec(vec![1, 2, 3], 10, 20_000, 1)).unwrap();
        w.close().unwrap();
        let r = PcapReader::open(&p).unwrap();
        assert_eq!(r.format(), want, "{name}");
        assert_eq!(
            read_all(&p).unwrap(),
            vec![rec(vec![1, 2, 3], 10, 20_000, 1)]
        );
    }
}

#[test]
fn empty_captures_are_valid() {
    for (name, format) in [
        ("empty_out.pcap", Format::Pcap),
        ("empty_out_ns.pcap", Format::PcapNs),
        ("empty_out.pcapng", Format::PcapNg),
    ] {
        let p = tmp(name);
        PcapWriter::create_with(&p, 101, format)
            .unwrap()
            .close()
            .unwrap();
        let r = PcapReader::open(&p).unwrap();
        assert_eq!(r.format(), format);
        assert_eq!(r.linktype(), 101);
        assert_eq!(r.count(), 0);
    }
}

#[test]
fn next_into_reuses_the_record() {
    let p = tmp("reuse.pcap");
    write_file(&p, Format::PcapNs, &sample_records());
    let mut r = PcapReader::open(&p).unwrap();
    let mut rec = Record::default();
    let mut n = 0;
    while r.next_into(&mut rec).unwrap() {
        n += 1;
        assert_eq!(rec, sample_records()[n - 1]);
    }
    assert_eq!(n, sample_records().len());
    assert_eq!(r.records_read(), n as u64);
    // stays at the end
    assert!(!r.next_into(&mut rec).unwrap());
    assert!(r.next().is_none());
}

#[test]
fn to_writer_and_from_reader_streams() {
    for format in [Format::Pcap, Format::PcapNs, Format::PcapNg] {
        let buf = SharedBuf::default();
        let mut w = PcapWriter::to_writer(Box::new(buf.clone()), 1, format).unwrap();
        for r in sample_records() {
            w.write(&r).unwrap();
        }
        w.close().unwrap();
        let bytes = buf.0.lock().unwrap().clone();
        let r = PcapReader::from_reader(Box::new(std::io::Cursor::new(bytes)), "<stdin>").unwrap();
        assert_eq!(r.format(), format);
        let back: Vec<Record> = r.collect::<Result<_, _>>().unwrap();
        let want: Vec<Record> = match format {
            Format::Pcap => sample_records().into_iter().map(to_micros).collect(),
            _ => sample_records(),
        };
        assert_eq!(back, want, "{format:?}");
    }
}

#[test]
fn drop_without_close_leaves_the_path_as_it_was() {
    for (name, format) in [
        ("drop.pcap", Format::Pcap),
        ("drop_ns.pcap", Format::PcapNs),
        ("drop.pcapng", Format::PcapNg),
    ] {
        let p = tmp(name);
        let write_1000 = |old: Option<&[u8]>| {
            if let Some(old) = old {
                std::fs::write(&p, old).unwrap();
            }
            let mut w = PcapWriter::create_with(&p, 1, format).unwrap();
            for i in 0..1000u32 {
                w.write(&rec(
                    udp_frame(&i.to_be_bytes()),
                    1_000 + i64::from(i),
                    i * 1000,
                    1,
                ))
                .unwrap();
            }
            w
        };
        // No close(): the writer is dropped, as when a job fails, and the
        // path keeps what it had (here: nothing, then an old file).
        drop(write_1000(None));
        assert!(!p.exists(), "{name}");
        drop(write_1000(Some(b"old")));
        assert_eq!(std::fs::read(&p).unwrap(), b"old", "{name}");
        // close() puts the file in place.
        write_1000(Some(b"old")).close().unwrap();
        let back = read_all(&p).unwrap();
        assert_eq!(back.len(), 1000, "{name}");
        assert_eq!(back[999].data, udp_frame(&999u32.to_be_bytes()));
        assert_eq!(back[999].ts_sec, 1999);
        assert_eq!(back[999].ts_nsec, 999_000);
        let dir = p.parent().unwrap();
        let left: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!(".{name}.pktscript-"))
            })
            .collect();
        assert!(left.is_empty(), "temporary files left: {left:?}");
    }
}

// ---------------------------------------------------------------------------
// Timestamps
// ---------------------------------------------------------------------------

#[test]
fn odd_timestamps_on_write() {
    // nanoseconds >= 1e9 are carried into the seconds
    for format in [Format::Pcap, Format::PcapNs, Format::PcapNg] {
        let p = tmp(&format!("carry_{format:?}.cap"));
        let mut w = PcapWriter::create_with(&p, 1, format).unwrap();
        w.write(&rec(vec![1], 5, 2_500_000_000, 1)).unwrap();
        w.write(&rec(vec![2], 6, u32::MAX, 1)).unwrap();
        w.close().unwrap();
        let back = read_all(&p).unwrap();
        assert_eq!((back[0].ts_sec, back[0].ts_nsec / 1000), (7, 500_000));
        assert_eq!((back[1].ts_sec, back[1].ts_nsec / 1000), (10, 294_967));
    }
    // negative and too-large seconds are errors, not panics, and the file
    // stays valid
    for (format, bad) in [
        (Format::Pcap, -1),
        (Format::Pcap, 1 << 32),
        (Format::PcapNs, i64::MIN),
        (Format::PcapNg, -1),
        (Format::PcapNg, i64::MAX),
        (Format::PcapNg, 20_000_000_000),
    ] {
        let p = tmp(&format!("bad_ts_{format:?}.cap"));
        let mut w = PcapWriter::create_with(&p, 1, format).unwrap();
        w.write(&rec(vec![1], 1, 0, 1)).unwrap();
        let e = w.write(&rec(vec![2], bad, 999_999_999, 1)).unwrap_err();
        assert!(
            matches!(e.kind, PcapErrorKind::TimestampOutOfRange { index: 1, .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("record #2"), "{e}");
        assert!(help_of(&e).contains("between 1970"), "{}", help_of(&e));
        w.close().unwrap();
        assert_eq!(read_all(&p).unwrap().len(), 1);
    }
}

#[test]
fn pcapng_largest_timestamp() {
    // u64::MAX nanoseconds
    let p = tmp("max_ts.pcapng");
    let r = rec(vec![1], 18_446_744_073, 709_551_615, 1);
    write_file(&p, Format::PcapNg, std::slice::from_ref(&r));
    assert_eq!(read_all(&p).unwrap(), vec![r]);
}

#[test]
fn classic_fraction_out_of_range_is_carried() {
    // A bad writer put 1,500,000 in the microseconds field.
    let mut f = classic_header(false, 0xa1b2_c3d4, 1);
    f.extend(classic_record(false, 100, 1_500_000, &[1, 2], 2));
    f.extend(classic_record(false, u32::MAX, u32::MAX, &[3], 1));
    let p = write_bytes("carry_read.pcap", &f);
    let back = read_all(&p).unwrap();
    assert_eq!((back[0].ts_sec, back[0].ts_nsec), (101, 500_000_000));
    assert_eq!(
        (back[1].ts_sec, back[1].ts_nsec),
        (i64::from(u32::MAX) + 4294, 967_295_000)
    );
}

// ---------------------------------------------------------------------------
// Hand-made files
// ---------------------------------------------------------------------------

#[test]
fn big_endian_classic_microseconds() {
    let mut f = classic_header(true, 0xa1b2_c3d4, 1);
    f.extend(classic_record(
        true,
        1_625_635_176,
        702_412,
        &[1, 2, 3, 4],
        60,
    ));
    f.extend(classic_record(true, 2, 999_999, &[5], 1));
    let p = write_bytes("be_us.pcap", &f);
    let r = PcapReader::open(&p).unwrap();
    assert_eq!(r.format(), Format::Pcap);
    assert_eq!(r.linktype(), 1);
    assert_eq!(r.snaplen(), 65535);
    let back: Vec<Record> = r.collect::<Result<_, _>>().unwrap();
    assert_eq!(
        back,
        vec![
            Record {
                data: vec![1, 2, 3, 4],
                ts_sec: 1_625_635_176,
                ts_nsec: 702_412_000,
                orig_len: 60,
                linktype: 1,
                raw: RawFields::default(),
            },
            rec(vec![5], 2, 999_999_000, 1),
        ]
    );
}

#[test]
fn big_endian_classic_nanoseconds_and_fcs_bits() {
    // linktype 1 with the FCS-present bit and a 4-byte FCS length set
    let network = 1 | 0x1000_0000 | (2 << 29);
    let mut f = classic_header(true, 0xa1b2_3c4d, network);
    f.extend(classic_record(
        true,
        1_625_635_176,
        702_412_345,
        &[9; 100],
        100,
    ));
    let p = write_bytes("be_ns.pcap", &f);
    let r = PcapReader::open(&p).unwrap();
    assert_eq!(r.format(), Format::PcapNs);
    assert_eq!(r.linktype(), 1);
    let back: Vec<Record> = r.collect::<Result<_, _>>().unwrap();
    // the FCS bits are kept to be written back, apart from the link type
    assert_eq!(back[0].raw.linktype_ext, 0x5000_0000);
    assert_eq!(back, vec![rec(vec![9; 100], 1_625_635_176, 702_412_345, 1)]);
}

#[test]
fn pcapng_tsresol_microseconds() {
    // if_tsresol = 6: microseconds (also the default, tested below)
    let mut f = shb(false);
    f.extend(idb(false, 1, 0, &[(9, &[6])]));
    f.extend(epb(false, 0, 1_625_635_176_702_412, &[1, 2, 3], 3));
    // no if_tsresol at all: 10^-6 by default
    f.extend(idb(false, 101, 0, &[]));
    f.extend(epb(false, 1, 1_000_001, &[4, 5, 6, 7, 8], 5));
    let p = write_bytes("tsresol6.pcapng", &f);
    let back = read_all(&p).unwrap();
    assert_eq!(
        back,
        vec![
            rec(vec![1, 2, 3], 1_625_635_176, 702_412_000, 1),
            rec(vec![4, 5, 6, 7, 8], 1, 1_000, 101),
        ]
    );
}

#[test]
fn pcapng_tsresol_power_of_two_big_endian() {
    // if_tsresol = 0x8a: units of 2^-10 s, in a big-endian section
    let ts = 1_625_635_176u64 * 1024 + 719;
    let mut f = shb(true);
    f.extend(idb(true, 1, 65535, &[(9, &[0x80 | 10])]));
    f.extend(epb(true, 0, ts, &[0xaa; 7], 1500));
    let p = write_bytes("tsresol_2_10.pcapng", &f);
    let r = PcapReader::open(&p).unwrap();
    assert_eq!(r.format(), Format::PcapNg);
    assert_eq!(r.snaplen(), 65535);
    let back: Vec<Record> = r.collect::<Result<_, _>>().unwrap();
    // 719 / 1024 s = 0.7021484375 s, truncated to whole nanoseconds
    assert_eq!(
        back,
        vec![Record {
            data: vec![0xaa; 7],
            ts_sec: 1_625_635_176,
            ts_nsec: 702_148_437,
            orig_len: 1500,
            linktype: 1,
            raw: RawFields::default(),
        }]
    );
}

#[test]
fn pcapng_odd_resolutions_and_tsoffset() {
    let mut f = shb(false);
    // picoseconds
    f.extend(idb(false, 1, 0, &[(9, &[12])]));
    // whole seconds, with an offset of 1.6e9 s
    let offset = 1_600_000_000i64.to_le_bytes();
    f.extend(idb(false, 1, 0, &[(9, &[0]), (14, &offset)]));
    // the finest resolutions a 64-bit timestamp can count a second in
    // (finer ones are refused: see error_bad_pcapng_options)
    f.extend(idb(false, 1, 0, &[(9, &[19])]));
    f.extend(idb(false, 1, 0, &[(9, &[0x80 | 63])]));
    // microseconds with an offset
    f.extend(idb(false, 1, 0, &[(14, &offset)]));
    // (u64 picoseconds only reach about 213 days)
    f.extend(epb(false, 0, 12_702_412_345_678, &[1], 1));
    f.extend(epb(false, 1, 25_635_176, &[2], 1));
    f.extend(epb(false, 2, u64::MAX, &[3], 1));
    f.extend(epb(false, 3, u64::MAX, &[4], 1));
    f.extend(epb(false, 4, 25_635_176_702_412, &[5], 1));
    f.extend(epb(false, 1, u64::MAX, &[6], 1));
    let p = write_bytes("odd_resol.pcapng", &f);
    let back = read_all(&p).unwrap();
    let ts: Vec<(i64, u32)> = back.iter().map(|r| (r.ts_sec, r.ts_nsec)).collect();
    assert_eq!(
        ts,
        vec![
            (12, 702_412_345),
            (1_625_635_176, 0),
            // u64::MAX units of 10^-19 s and of 2^-63 s
            (1, 844_674_407),
            (1, 999_999_999),
            (1_625_635_176, 702_412_000),
            (i64::MAX, 0),
        ]
    );
}

#[test]
fn pcapng_sections_unknown_blocks_spb_and_pb() {
    let mut f = shb(false);
    f.extend(block(false, 0xbad, &[1, 2, 3])); // unknown block type
    // simple packets are cut to the snapshot length
    f.extend(idb(false, 1, 8, &[]));
    // Name Resolution Block
    f.extend(block(
        false,
        4,
        &[1, 0, 8, 0, 10, 0, 0, 1, b'h', b'o', b's', b't', 0, 0, 0, 0],
    ));
    f.extend(epb(false, 0, 1_000_002, &[1, 1], 2));
    f.extend(spb(false, 3, &[2, 2, 2]));
    // a simple packet snapped shorter than its original length
    f.extend(spb(false, 1500, &[3; 8]));
    // Interface Statistics Block
    f.extend(block(false, 5, &[0; 12]));
    // Custom Block
    f.extend(block(false, 0x0000_0bad, &[0, 0, 0x7e, 0x8a, 9, 9]));
    f.extend(block(false, 0x4000_0bad, &[0, 0, 0x7e, 0x8a]));
    f.extend(pb(false, 0, 3_000_000, &[4]));
    // Decryption Secrets Block
    f.extend(block(false, 10, &[0; 8]));
    // a second section, big-endian, with its own interfaces
    f.extend(shb(true));
    f.extend(idb(true, 101, 0, &[(9, &[9])]));
    f.extend(idb(true, 113, 0, &[]));
    f.extend(epb(true, 1, 7_000_000, &[5], 1));
    f.extend(epb(true, 0, 8_000_000_001, &[6], 1));
    // a third, little-endian again, with nothing in it
    f.extend(shb(false));
    let p = write_bytes("sections.pcapng", &f);
    let r = PcapReader::open(&p).unwrap();
    assert_eq!(r.linktype(), 1);
    let back: Vec<Record> = r.collect::<Result<_, _>>().unwrap();
    assert_eq!(
        back,
        vec![
            rec(vec![1, 1], 1, 2_000, 1),
            rec(vec![2, 2, 2], 0, 0, 1),
            Record {
                data: vec![3; 8],
                ts_sec: 0,
                ts_nsec: 0,
                orig_len: 1500,
                linktype: 1,
                raw: RawFields::default(),
            },
            rec(vec![4], 3, 0, 1),
            rec(vec![5], 7, 0, 113),
            rec(vec![6], 8, 1, 101),
        ]
    );
}

#[test]
fn pcapng_linktype_comes_from_the_first_interface() {
    // blocks before the first interface are fine
    let mut f = shb(false);
    f.extend(block(false, 4, &[0; 4]));
    f.extend(idb(false, 105, 0, &[]));
    let p = write_bytes("lt_first.pcapng", &f);
    let r = PcapReader::open(&p).unwrap();
    assert_eq!(r.linktype(), 105);
    // a file with no interface at all
    let p = write_bytes("no_iface.pcapng", &shb(true));
    let r = PcapReader::open(&p).unwrap();
    assert_eq!(r.format(), Format::PcapNg);
    assert_eq!(r.count(), 0);
}

#[test]
fn pcapng_multiple_linktypes() {
    let p = tmp("multi.pcapng");
    let recs = vec![
        rec(udp_frame(b"eth"), 1, 1, 1),
        rec(vec![0x45, 0, 0, 20], 2, 2, 101),
        rec(udp_frame(b"eth again"), 3, 3, 1),
        rec(vec![0; 16], 4, 4, 113),
        rec(vec![0x60, 0, 0, 0], 5, 5, 101),
    ];
    write_file(&p, Format::PcapNg, &recs);
    assert_eq!(read_all(&p).unwrap(), recs);
    // three interfaces, in order of first use
    let bytes = std::fs::read(&p).unwrap();
    let idbs = bytes
        .windows(8)
        .filter(|w| w[..4] == [1, 0, 0, 0] && w[4..] == [32, 0, 0, 0])
        .count();
    assert_eq!(idbs, 3);
}

#[test]
fn classic_pcap_rejects_another_linktype() {
    let p = tmp("mismatch.pcap");
    let mut w = PcapWriter::create(&p, 1).unwrap();
    w.write(&rec(vec![1], 1, 0, 1)).unwrap();
    let e = w.write(&rec(vec![2], 1, 0, 101)).unwrap_err();
    assert!(
        matches!(
            e.kind,
            PcapErrorKind::LinktypeMismatch {
                index: 1,
                file: 1,
                record: 101
            }
        ),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("record #2") && msg.contains("101 (RAW)") && msg.contains("1 (ETHERNET)"),
        "{msg}"
    );
    assert!(help_of(&e).contains(".pcapng"));
    w.close().unwrap();
    assert_eq!(read_all(&p).unwrap().len(), 1);
}

#[test]
fn pcapng_rejects_a_32_bit_linktype() {
    let p = tmp("lt32.pcapng");
    let mut w = PcapWriter::create(&p, 1).unwrap();
    let e = w.write(&rec(vec![1], 1, 0, 70_000)).unwrap_err();
    assert!(matches!(e.kind, PcapErrorKind::Unsupported(_)), "{e:?}");
    assert!(PcapWriter::create(tmp("lt32b.pcapng"), 70_000).is_err());
}

#[test]
fn writer_rejects_oversized_records() {
    let p = tmp("big_write.pcap");
    let mut w = PcapWriter::create(&p, 1).unwrap();
    let e = w
        .write(&rec(vec![0; MAX_RECORD as usize + 1], 1, 0, 1))
        .unwrap_err();
    assert!(
        matches!(e.kind, PcapErrorKind::RecordTooLarge { index: 0, len } if len == MAX_RECORD + 1),
        "{e:?}"
    );
    assert!(e.to_string().starts_with("cannot write record #1"), "{e}");
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

#[test]
fn error_missing_file() {
    let p = tmp("does-not-exist.pcap");
    let e = PcapReader::open(&p).unwrap_err();
    assert!(matches!(e.kind, PcapErrorKind::NotFound), "{e:?}");
    assert_eq!(e.path, p.display().to_string());
    assert!(e.to_string().contains("does-not-exist.pcap"), "{e}");
    assert!(e.to_string().contains("no such file"), "{e}");
    assert!(read_all(&p).is_err());
}

#[test]
fn error_create_in_missing_directory() {
    let p = tmp("no-such-dir").join("out.pcap");
    let e = PcapWriter::create(&p, 1).unwrap_err();
    assert!(matches!(e.kind, PcapErrorKind::Io(_)), "{e:?}");
    assert!(e.to_string().starts_with("cannot write"), "{e}");
    assert!(help_of(&e).contains("directory"));
}

#[test]
fn error_bad_magic() {
    let p = write_bytes("bad_magic.pcap", b"hello, this is not a capture\n");
    let e = PcapReader::open(&p).unwrap_err();
    assert!(
        matches!(e.kind, PcapErrorKind::BadMagic(m) if &m == b"hell"),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(msg.contains("68 65 6c 6c"), "{msg}");
    assert!(msg.contains("bad_magic.pcap"), "{msg}");
    let help = help_of(&e);
    assert!(help.contains("a1 b2 c3 d4"), "{help}");
    assert!(help.contains("a1 b2 3c 4d"), "{help}");
    assert!(help.contains("pcapng"), "{help}");
    assert!(help.contains("text"), "{help}");
    assert_eq!(
        e.code().map(|c| c.to_string()).as_deref(),
        Some("pcap::bad_magic")
    );

    // a gzip-compressed capture gets a specific hint
    let p = write_bytes("gz.pcap", &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0]);
    let e = PcapReader::open(&p).unwrap_err();
    assert!(help_of(&e).contains("gunzip"), "{}", help_of(&e));
}

#[test]
fn error_truncated_header() {
    let p = write_bytes("empty.pcap", &[]);
    let e = PcapReader::open(&p).unwrap_err();
    assert!(matches!(e.kind, PcapErrorKind::TruncatedHeader), "{e:?}");
    assert!(e.to_string().contains("is empty"), "{e}");

    let p = write_bytes("short_magic.pcap", &[0xd4, 0xc3]);
    let e = PcapReader::open(&p).unwrap_err();
    assert!(matches!(e.kind, PcapErrorKind::TruncatedHeader), "{e:?}");

    let header = classic_header(false, 0xa1b2_c3d4, 1);
    let p = write_bytes("short_header.pcap", &header[..10]);
    let e = PcapReader::open(&p).unwrap_err();
    assert!(matches!(e.kind, PcapErrorKind::TruncatedHeader), "{e:?}");
    assert_eq!(e.offset, Some(10));
    assert!(e.to_string().contains("byte 10"), "{e}");
    assert!(!help_of(&e).is_empty());

    let section = shb(false);
    let p = write_bytes("short_shb.pcapng", &section[..20]);
    let e = PcapReader::open(&p).unwrap_err();
    assert!(matches!(e.kind, PcapErrorKind::TruncatedHeader), "{e:?}");
}

#[test]
fn error_truncated_record_data() {
    let p = tmp("cut_data.pcap");
    write_file(&p, Format::Pcap, &sample_records()[..3]);
    let bytes = std::fs::read(&p).unwrap();
    // cut 5 bytes into the data of the third record
    let third = 24 + 16 + udp_frame(b"one").len() + 16 + udp_frame(b"two!").len();
    std::fs::write(&p, &bytes[..third + 16 + 5]).unwrap();
    let mut r = PcapReader::open(&p).unwrap();
    assert!(r.next().unwrap().is_ok());
    assert!(r.next().unwrap().is_ok());
    let e = r.next().unwrap().unwrap_err();
    assert!(
        matches!(e.kind, PcapErrorKind::TruncatedRecord { index: 2 }),
        "{e:?}"
    );
    assert_eq!(e.offset, Some(third as u64));
    let msg = e.to_string();
    assert!(msg.contains("record #3"), "{msg}");
    assert!(msg.contains(&format!("byte {third}")), "{msg}");
    assert!(msg.contains("cut off"), "{msg}");
    assert!(
        help_of(&e).contains("the 2 records before it are intact"),
        "{}",
        help_of(&e)
    );
    // after an error the iterator ends
    assert!(r.next().is_none());
    assert!(r.next().is_none());
}

#[test]
fn error_truncated_record_header() {
    let mut f = classic_header(false, 0xa1b2_3c4d, 1);
    f.extend(classic_record(false, 1, 2, &[1, 2, 3], 3));
    f.extend(&classic_record(false, 1, 2, &[1, 2, 3], 3)[..9]);
    let p = write_bytes("cut_header.pcap", &f);
    let e = first_error(&p);
    assert!(
        matches!(e.kind, PcapErrorKind::TruncatedRecord { index: 1 }),
        "{e:?}"
    );
    assert_eq!(e.offset, Some(24 + 19));
    assert!(e.to_string().contains("record #2"), "{e}");
}

#[test]
fn error_truncated_pcapng_packet() {
    let mut f = shb(false);
    f.extend(idb(false, 1, 0, &[]));
    f.extend(epb(false, 0, 1, &[1; 10], 10));
    let start = f.len();
    let second = epb(false, 0, 2, &[2; 100], 100);
    f.extend(&second[..50]);
    let p = write_bytes("cut.pcapng", &f);
    let e = first_error(&p);
    assert!(
        matches!(e.kind, PcapErrorKind::TruncatedRecord { index: 1 }),
        "{e:?}"
    );
    assert_eq!(e.offset, Some(start as u64));
    assert!(e.to_string().contains("record #2"), "{e}");
    // cut in the middle of a block header
    let mut g = f[..start].to_vec();
    g.extend(&second[..6]);
    let e = first_error(&write_bytes("cut_hdr.pcapng", &g));
    assert!(
        matches!(e.kind, PcapErrorKind::TruncatedRecord { index: 1 }),
        "{e:?}"
    );
}

#[test]
fn error_record_too_large() {
    // a classic record claiming 300 KiB: an error, not a 300 KiB allocation
    let mut f = classic_header(false, 0xa1b2_c3d4, 1);
    f.extend(classic_record(false, 1, 2, &[1], 1));
    let mut big = classic_record(false, 1, 2, &[], 300 * 1024);
    big[8..12].copy_from_slice(&(300u32 * 1024).to_le_bytes());
    f.extend(big);
    f.extend([0; 100]);
    let p = write_bytes("huge_record.pcap", &f);
    let e = first_error(&p);
    assert!(
        matches!(
            e.kind,
            PcapErrorKind::RecordTooLarge {
                index: 1,
                len: 307_200
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.offset, Some(24 + 17));
    assert!(e.to_string().contains("record #2"), "{e}");
    assert!(e.to_string().contains("307200"), "{e}");

    // the same in a pcapng enhanced packet block
    let mut f = shb(false);
    f.extend(idb(false, 1, 0, &[]));
    let mut b = epb(false, 0, 1, &[0; 8], 8);
    b[20..24].copy_from_slice(&(300u32 * 1024).to_le_bytes());
    f.extend(b);
    let e = first_error(&write_bytes("huge_record.pcapng", &f));
    assert!(
        matches!(
            e.kind,
            PcapErrorKind::RecordTooLarge {
                index: 0,
                len: 307_200
            }
        ),
        "{e:?}"
    );
}

#[test]
fn error_absurd_pcapng_block_length() {
    let base = {
        let mut f = shb(false);
        f.extend(idb(false, 1, 0, &[]));
        f
    };
    for (name, len) in [
        ("huge", 0xffff_fff0u32),
        ("over_16mib", 16 * 1024 * 1024 + 4),
        ("unaligned", 37),
        ("tiny", 8),
        ("zero", 0),
    ] {
        for btype in [6u32, 3, 2, 1, 5, 0x1234] {
            let mut f = base.clone();
            let start = f.len() as u64;
            f.extend(btype.to_le_bytes());
            f.extend(len.to_le_bytes());
            f.extend([0u8; 64]);
            let p = write_bytes(&format!("absurd_{name}_{btype}.pcapng"), &f);
            let e = first_error(&p);
            assert!(
                matches!(e.kind, PcapErrorKind::BadBlock(_)),
                "{name} {btype}: {e:?}"
            );
            assert_eq!(e.offset, Some(start));
            let msg = e.to_string();
            assert!(msg.contains(&format!("byte {start}")), "{msg}");
            assert!(msg.contains("impossible length"), "{msg}");
        }
    }
    // the section header itself
    let mut f = shb(false);
    f[4..8].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    let e = PcapReader::open(write_bytes("absurd_shb.pcapng", &f)).unwrap_err();
    assert!(matches!(e.kind, PcapErrorKind::BadBlock(_)), "{e:?}");
}

#[test]
fn error_other_bad_pcapng_blocks() {
    let base = {
        let mut f = shb(false);
        f.extend(idb(false, 1, 0, &[]));
        f
    };
    // trailing length differs from the leading one
    let mut f = base.clone();
    let mut b = epb(false, 0, 1, &[1; 4], 4);
    let n = b.len();
    b[n - 4..].copy_from_slice(&999u32.to_le_bytes());
    f.extend(b);
    let e = first_error(&write_bytes("bad_trailer.pcapng", &f));
    assert!(
        matches!(e.kind, PcapErrorKind::BadBlock(ref m) if m.contains("999")),
        "{e:?}"
    );

    // a packet of an interface that does not exist
    let mut f = base.clone();
    f.extend(epb(false, 3, 1, &[1; 4], 4));
    let e = first_error(&write_bytes("bad_iface.pcapng", &f));
    assert!(
        matches!(e.kind, PcapErrorKind::BadBlock(ref m) if m.contains("interface 3")),
        "{e:?}"
    );

    // a captured length larger than the block
    let mut f = base.clone();
    let mut b = epb(false, 0, 1, &[1; 4], 4);
    b[20..24].copy_from_slice(&200u32.to_le_bytes());
    f.extend(b);
    let e = first_error(&write_bytes("bad_caplen.pcapng", &f));
    assert!(matches!(e.kind, PcapErrorKind::BadBlock(_)), "{e:?}");

    // a simple packet before any interface
    let mut f = shb(false);
    f.extend(spb(false, 4, &[1; 4]));
    let e = first_error(&write_bytes("spb_no_iface.pcapng", &f));
    assert!(matches!(e.kind, PcapErrorKind::BadBlock(_)), "{e:?}");

    // a bad byte-order magic
    let mut f = shb(false);
    f[8..12].copy_from_slice(&[1, 2, 3, 4]);
    let e = PcapReader::open(write_bytes("bad_bom.pcapng", &f)).unwrap_err();
    assert!(
        matches!(e.kind, PcapErrorKind::BadBlock(ref m) if m.contains("01 02 03 04")),
        "{e:?}"
    );

    // pcapng version 2
    let mut f = shb(false);
    f[12..14].copy_from_slice(&2u16.to_le_bytes());
    let e = PcapReader::open(write_bytes("v2.pcapng", &f)).unwrap_err();
    assert!(matches!(e.kind, PcapErrorKind::Unsupported(_)), "{e:?}");
}

#[test]
fn garbage_never_panics() {
    // Every prefix of valid files, and files with bytes flipped, give either
    // records or an error, never a panic.
    let mut files = Vec::new();
    for format in [Format::Pcap, Format::PcapNs, Format::PcapNg] {
        let buf = SharedBuf::default();
        let mut w = PcapWriter::to_writer(Box::new(buf.clone()), 1, format).unwrap();
        for r in &sample_records()[..4] {
            w.write(r).unwrap();
        }
        w.write(&rec(vec![1, 2, 3], 1, 1, 101)).ok();
        w.close().unwrap();
        files.push(buf.0.lock().unwrap().clone());
    }
    let mut f = shb(true);
    f.extend(idb(true, 1, 0, &[(9, &[0x8a]), (14, &[0xff; 8])]));
    f.extend(epb(true, 0, u64::MAX, &[1; 5], 5));
    f.extend(spb(true, 5, &[1; 5]));
    f.extend(pb(true, 0, 5, &[1; 5]));
    files.push(f);
    let mut seed = 0x1234_5678u32;
    for file in &files {
        for cut in 0..file.len().min(400) {
            let _ =
                PcapReader::from_reader(Box::new(std::io::Cursor::new(file[..cut].to_vec())), "x")
                    .map(|r| r.count());
        }
        for _ in 0..300 {
            let mut g = file[..file.len().min(400)].to_vec();
            for _ in 0..3 {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                let i = seed as usize % g.len();
                g[i] = (seed >> 8) as u8;
            }
            if let Ok(r) = PcapReader::from_reader(Box::new(std::io::Cursor::new(g)), "x") {
                for item in r {
                    if let Err(e) = item {
                        // messages and hints render
                        assert!(!e.to_string().is_empty());
                        let _ = e.help();
                    }
                }
            }
        }
    }
}

#[test]
fn errors_render_through_miette() {
    // A long path (a deep checkout) must not wrap the message apart.
    let p = write_bytes(&format!("miette_{}.pcap", "long".repeat(25)), b"GARBAGE!");
    let e = PcapReader::open(&p).unwrap_err();
    let mut text = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .with_width(usize::MAX)
        .render_report(&mut text, &e)
        .unwrap();
    assert!(text.contains("pcap::bad_magic"), "{text}");
    assert!(text.contains("is not a pcap or pcapng"), "{text}");
    assert!(text.contains("accepted formats"), "{text}");
}

// ---------------------------------------------------------------------------
// Cross-check with tcpdump
// ---------------------------------------------------------------------------

fn tcpdump() -> PathBuf {
    for p in [
        "/usr/sbin/tcpdump",
        "/usr/bin/tcpdump",
        "/sbin/tcpdump",
        "/bin/tcpdump",
    ] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let p = dir.join("tcpdump");
            if p.exists() {
                return p;
            }
        }
    }
    panic!(
        "tcpdump is not installed, and this test needs it to check the files written by \
         pktscript::pcap: install it (e.g. `apt-get install tcpdump`); CI installs it"
    );
}

/// The timestamps tcpdump prints for `path`.
fn tcpdump_times(path: &Path, nano: bool) -> Vec<String> {
    let mut cmd = Command::new(tcpdump());
    cmd.args(["-nn", "-tt"]);
    if nano {
        cmd.arg("--nano");
    }
    cmd.arg("-r").arg(path);
    let out = cmd.output().expect("run tcpdump");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tcpdump -r {} failed: {}\n{}",
        path.display(),
        String::from_utf8_lossy(&out.stderr),
        stdout
    );
    stdout
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
        .collect()
}

#[test]
fn tcpdump_reads_our_timestamps() {
    let recs = vec![
        rec(udp_frame(b"a"), 1_625_635_176, 702_412_000, 1),
        rec(udp_frame(b"b"), 1_625_635_176, 702_412_345, 1),
        rec(udp_frame(b"c"), 1_700_000_000, 1, 1),
    ];
    let micro = [
        "1625635176.702412",
        "1625635176.702412",
        "1700000000.000000",
    ];
    let nano = [
        "1625635176.702412000",
        "1625635176.702412345",
        "1700000000.000000001",
    ];

    let p = tmp("tcpdump.pcap");
    write_file(&p, Format::Pcap, &recs);
    assert_eq!(tcpdump_times(&p, false), micro);

    let p = tmp("tcpdump_ns.pcap");
    write_file(&p, Format::PcapNs, &recs);
    assert_eq!(tcpdump_times(&p, true), nano);

    let p = tmp("tcpdump.pcapng");
    write_file(&p, Format::PcapNg, &recs);
    assert_eq!(tcpdump_times(&p, true), nano);
    assert_eq!(tcpdump_times(&p, false), micro);

    // and tcpdump sees the packets themselves
    let out = Command::new(tcpdump())
        .args(["-nn", "-tt", "-r"])
        .arg(&p)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("10.0.0.1.1234 > 10.0.0.2.5678: UDP, length 1"),
        "{text}"
    );
}

// ---------------------------------------------------------------------------
// Copies keep every byte
// ---------------------------------------------------------------------------

/// A classic pcap file with every header field chosen.
#[allow(clippy::too_many_arguments)]
fn classic_file(
    be: bool,
    nano: bool,
    thiszone: i32,
    sigfigs: u32,
    snaplen: u32,
    word: u32,
    records: &[(u32, u32, &[u8], u32)],
) -> Vec<u8> {
    let magic = if nano { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
    let mut f = Vec::new();
    f.extend_from_slice(&u32b(magic, be));
    f.extend_from_slice(&u16b(2, be));
    f.extend_from_slice(&u16b(4, be));
    f.extend_from_slice(&u32b(thiszone as u32, be));
    f.extend_from_slice(&u32b(sigfigs, be));
    f.extend_from_slice(&u32b(snaplen, be));
    f.extend_from_slice(&u32b(word, be));
    for (sec, frac, data, orig) in records {
        f.extend(classic_record(be, *sec, *frac, data, *orig));
    }
    f
}

/// Classic files with everything a plain copy used to change: the FCS bits
/// of the link-type word, an original length below the captured one, a
/// fraction of a second out of range, an empty record, odd header fields,
/// both byte orders and both resolutions.
fn odd_classic_files() -> Vec<(String, Vec<u8>)> {
    let frame = udp_frame(b"odd");
    let mut files = Vec::new();
    for be in [false, true] {
        for nano in [false, true] {
            let unit = if nano { 1_000_000_000 } else { 1_000_000 };
            let recs: Vec<(u32, u32, &[u8], u32)> = vec![
                (1_700_000_000, 5, &frame, frame.len() as u32),
                // original length smaller than the captured length
                (1_700_000_001, 6, &frame, 10),
                // a fraction of 1.5 s, and the largest one
                (1_700_000_002, unit + unit / 2, &frame, 1514),
                (1_700_000_003, u32::MAX, &frame[..20], 60),
                // nothing captured (tcpdump: "Invalid header: caplen==0")
                (1_700_000_004, 7, &[], 60),
            ];
            let name = format!(
                "odd_{}_{}.pcap",
                if be { "be" } else { "le" },
                if nano { "ns" } else { "us" }
            );
            // Ethernet with a 4-byte FCS declared (FCS length 2, flag set)
            let word = 1 | 0x0400_0000 | (2 << 28);
            files.push((name, classic_file(be, nano, -3600, 7, 65535, word, &recs)));
        }
    }
    // a reserved bit libpcap keeps in the link type: 65537, not Ethernet
    files.push((
        "reserved_bit.pcap".to_string(),
        classic_file(
            false,
            false,
            0,
            0,
            262_144,
            0x0001_0001,
            &[(1, 2, &frame, 42)],
        ),
    ));
    files
}

/// Captures the tests keep under tests/ and scripts/.
fn stored_captures() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            if p.is_dir() {
                walk(&p, out);
            } else if name.ends_with(".pcap") || name.ends_with(".pcapng") {
                out.push(p);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    walk(&root.join("tests"), &mut out);
    walk(&root.join("scripts"), &mut out);
    out.sort();
    out
}

/// Copies `src` to `dst` through the library: reader, records, writer.
fn copy_records(src: &Path, dst: &Path) {
    let r = PcapReader::open(src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    let format = if r.format() == Format::PcapNg {
        Format::PcapNg
    } else {
        Format::Pcap
    };
    let mut w = PcapWriter::create_with(dst, r.linktype(), format).unwrap();
    for rec in r {
        w.write(&rec.unwrap()).unwrap();
    }
    w.close().unwrap();
}

/// Copies `src` to `dst` with a script.
fn copy_by_script(script: &str, src: &Path, dst: &Path) {
    let args = [src.display().to_string(), dst.display().to_string()];
    if let Err(e) = pktscript::script::run_source("<copy>", script, &args, &Default::default()) {
        panic!("{script} on {}: {e:?}", src.display());
    }
}

const READ_WRITE: &str = "write_pcap(ARGV[1], read_pcap(ARGV[0]));";
const READER_WRITER: &str =
    "let w = pcap_writer(ARGV[1]); for p in pcap_reader(ARGV[0]) { w.write(p); } w.close();";

/// A way of copying a capture from one path to another.
type CopyFn = dyn Fn(&Path, &Path);

/// Every way of copying a capture gives the same bytes.
fn assert_copies_exactly(src: &Path, tag: &str) {
    let original = std::fs::read(src).unwrap();
    let ext = if src.extension().is_some_and(|e| e == "pcapng") {
        "pcapng"
    } else {
        "pcap"
    };
    let ways: [(&str, &CopyFn); 3] = [
        ("reader/writer", &copy_records),
        ("read_pcap/write_pcap", &|s, d| {
            copy_by_script(READ_WRITE, s, d)
        }),
        ("pcap_reader/pcap_writer", &|s, d| {
            copy_by_script(READER_WRITER, s, d)
        }),
    ];
    for (i, (way, copy)) in ways.iter().enumerate() {
        let dst = tmp(&format!("copy_{tag}_{i}.{ext}"));
        copy(src, &dst);
        let copied = std::fs::read(&dst).unwrap();
        if copied != original {
            let at = copied
                .iter()
                .zip(&original)
                .position(|(a, b)| a != b)
                .unwrap_or(copied.len().min(original.len()));
            panic!(
                "{} copied by {way} differs from byte {at} on ({} bytes, was {})",
                src.display(),
                copied.len(),
                original.len()
            );
        }
    }
}

#[test]
fn copies_keep_every_byte_of_every_capture() {
    let stored = stored_captures();
    assert!(stored.len() > 20, "{stored:?}");
    for (i, p) in stored.iter().enumerate() {
        assert_copies_exactly(p, &format!("stored{i}"));
    }
    for (name, bytes) in odd_classic_files() {
        let p = write_bytes(&name, &bytes);
        assert_copies_exactly(&p, &name);
    }
    // what this module writes, in every format and byte order it writes
    for (i, format) in [Format::Pcap, Format::PcapNs, Format::PcapNg]
        .into_iter()
        .enumerate()
    {
        let p = tmp(&format!(
            "ours{i}.{}",
            if i == 2 { "pcapng" } else { "pcap" }
        ));
        let mut recs = sample_records();
        recs.push(rec(vec![0x45, 0, 0, 20], 9, 9, 101));
        let mut w = PcapWriter::create_with(&p, 1, format).unwrap();
        for r in &recs {
            if format == Format::PcapNg || r.linktype == 1 {
                w.write(r).unwrap();
            }
        }
        w.close().unwrap();
        assert_copies_exactly(&p, &format!("ours{i}"));
    }
}

#[test]
fn copies_keep_the_odd_fields_a_copy_used_to_change() {
    // The defects one by one, each through a packet (read_pcap, write_pcap).
    let frame = udp_frame(b"x");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "fcs_bits",
            classic_file(
                false,
                false,
                0,
                0,
                65535,
                0x1400_0001,
                &[(1, 2, &frame, 42)],
            ),
        ),
        (
            "orig_below_caplen",
            classic_file(false, false, 0, 0, 65535, 1, &[(1, 2, &frame, 10)]),
        ),
        (
            "usec_out_of_range",
            classic_file(false, false, 0, 0, 65535, 1, &[(1, 1_500_000, &frame, 42)]),
        ),
    ];
    for (name, bytes) in cases {
        let src = write_bytes(&format!("defect_{name}.pcap"), &bytes);
        let dst = tmp(&format!("defect_{name}_copy.pcap"));
        copy_by_script(READ_WRITE, &src, &dst);
        assert_eq!(std::fs::read(&dst).unwrap(), bytes, "{name}");
    }
    // What scripts see of them: the link type without its FCS bits, the
    // original length as given, the time the out-of-range fraction means.
    let src = write_bytes(
        "defect_seen.pcap",
        &classic_file(
            false,
            false,
            0,
            0,
            65535,
            0x1400_0001,
            &[(1, 1_500_000, &frame, 10)],
        ),
    );
    let args = [src.display().to_string()];
    let out = pktscript::script::run_source(
        "<t>",
        "let p = read_pcap(ARGV[0])[0]; [p.linktype, p.time]",
        &args,
        &Default::default(),
    );
    let v = match out {
        Ok(pktscript::script::Outcome::Value(v)) => v.to_string(),
        Ok(_) => panic!("no value"),
        Err(e) => panic!("{e:?}"),
    };
    assert!(v.starts_with("[1, 2.5"), "{v}");
    let r = read_all(&src).unwrap().remove(0);
    assert_eq!((r.ts_sec, r.ts_nsec, r.orig_len), (2, 500_000_000, 10));
    assert_eq!(r.raw.ts, Some((1, 1_500_000)));
    assert_eq!(r.raw.linktype_ext, 0x1400_0000);
}

#[test]
fn an_edited_time_or_length_is_written_as_edited() {
    // The stored fields go back only while the packet says what they said.
    let frame = udp_frame(b"x");
    let src = write_bytes(
        "edited_src.pcap",
        &classic_file(false, false, 0, 0, 65535, 1, &[(1, 1_500_000, &frame, 10)]),
    );
    let dst = tmp("edited_dst.pcap");
    copy_by_script(
        "let p = read_pcap(ARGV[0])[0]; p.time = 7.25; p.ip.ttl = 9; write_pcap(ARGV[1], p);",
        &src,
        &dst,
    );
    let r = read_all(&dst).unwrap().remove(0);
    assert_eq!((r.ts_sec, r.ts_nsec), (7, 250_000_000));
    assert_eq!(r.raw.ts, None);
    // an edited packet's original length is its length
    assert_eq!(r.orig_len as usize, r.data.len());
}

#[test]
fn foreign_pcapng_copies_keep_every_record() {
    // Blocks and options pcapng copies do not keep (statistics, names,
    // comments) aside, each record comes back field for field.
    let mut f = shb(true);
    f.extend(idb(true, 1, 0, &[(9, &[6]), (14, &100i64.to_be_bytes())]));
    f.extend(idb(true, 101, 0, &[(9, &[0x80 | 10])]));
    f.extend(epb(true, 0, 1_625_635_176_702_412, &[1, 2, 3], 1500));
    f.extend(epb(true, 1, 5 * 1024 + 512, &[0x45; 20], 10));
    f.extend(epb(true, 0, 7, &[], 60));
    let src = write_bytes("foreign.pcapng", &f);
    let want = read_all(&src).unwrap();
    assert_eq!(want[1].orig_len, 10);
    for (i, script) in [READ_WRITE, READER_WRITER].into_iter().enumerate() {
        let dst = tmp(&format!("foreign_copy{i}.pcapng"));
        copy_by_script(script, &src, &dst);
        assert_eq!(read_all(&dst).unwrap(), want, "{script}");
    }
}

// ---------------------------------------------------------------------------
// What libpcap refuses is refused, with the offset and the reason
// ---------------------------------------------------------------------------

/// Whether `tcpdump -r` reads the file to its end without an error.
fn tcpdump_accepts(path: &Path) -> bool {
    Command::new(tcpdump())
        .args(["-nn", "-r"])
        .arg(path)
        .output()
        .expect("run tcpdump")
        .status
        .success()
}

/// The file is refused by tcpdump and by pktscript, whose message holds
/// every piece of `wants` (among them the byte offset).
fn refused_by_both(name: &str, bytes: &[u8], wants: &[&str]) -> PcapError {
    let p = write_bytes(name, bytes);
    assert!(!tcpdump_accepts(&p), "tcpdump reads {name}");
    let e = first_error(&p);
    let msg = e.to_string();
    for w in wants {
        assert!(msg.contains(w), "{name}: {msg:?} lacks {w:?}");
    }
    assert!(!help_of(&e).is_empty(), "{name}: no hint");
    e
}

#[test]
fn pcap_versions_libpcap_refuses_are_refused() {
    let frame = udp_frame(b"v");
    for (major, minor) in [(9u16, 9u16), (2, 5), (3, 4), (1, 0), (0, 0)] {
        let mut f = classic_header(false, 0xa1b2_c3d4, 1);
        f[4..6].copy_from_slice(&major.to_le_bytes());
        f[6..8].copy_from_slice(&minor.to_le_bytes());
        f.extend(classic_record(false, 1, 2, &frame, frame.len() as u32));
        let e = refused_by_both(
            &format!("v{major}{minor}.pcap"),
            &f,
            &[&format!("version {major}.{minor}"), "byte 4"],
        );
        assert!(matches!(e.kind, PcapErrorKind::BadVersion { .. }), "{e:?}");
        assert_eq!(e.offset, Some(4));
    }
    // 2.2 is read by libpcap with its length fields swapped; it is refused
    // here (stricter), with the way out
    let mut f = classic_header(false, 0xa1b2_c3d4, 1);
    f[6..8].copy_from_slice(&2u16.to_le_bytes());
    let e = PcapReader::open(write_bytes("v22.pcap", &f)).unwrap_err();
    assert!(help_of(&e).contains("editcap"), "{}", help_of(&e));
}

#[test]
fn pcapng_interfaces_libpcap_refuses_are_refused() {
    let frame = udp_frame(b"i");
    let base = shb(false);
    let at = base.len();
    let with_idb = |idb_bytes: Vec<u8>| {
        let mut f = base.clone();
        f.extend(idb_bytes);
        f.extend(epb(false, 0, 1, &frame, frame.len() as u32));
        f
    };
    let opt_at = format!("byte {}", at + 16);
    for (name, opts, wants) in [
        (
            "tsresol_7f",
            vec![(9u16, vec![0x7fu8])],
            vec!["0x7f", "10^-127"],
        ),
        ("tsresol_20", vec![(9, vec![20])], vec!["0x14", "10^-20"]),
        (
            "tsresol_2_64",
            vec![(9, vec![0x80 | 64])],
            vec!["0xc0", "2^-64"],
        ),
        (
            "tsresol_len2",
            vec![(9, vec![6, 0])],
            vec!["if_tsresol", "2 bytes"],
        ),
        (
            "tsresol_twice",
            vec![(9, vec![6]), (9, vec![9])],
            vec!["second if_tsresol"],
        ),
        (
            "tsoffset_len4",
            vec![(14, vec![0; 4])],
            vec!["if_tsoffset", "4 bytes"],
        ),
        (
            "tsoffset_twice",
            vec![(14, vec![0; 8]), (14, vec![0; 8])],
            vec!["second if_tsoffset"],
        ),
    ] {
        let o: Vec<(u16, &[u8])> = opts.iter().map(|(c, v)| (*c, v.as_slice())).collect();
        let mut wants = wants;
        // the offending option: the second one when it is a repeat
        let opt_at = match o.as_slice() {
            [(_, first), _] => format!("byte {}", at + 16 + 4 + first.len().div_ceil(4) * 4),
            _ => opt_at.clone(),
        };
        wants.push(&opt_at);
        let e = refused_by_both(
            &format!("{name}.pcapng"),
            &with_idb(idb(false, 1, 0, &o)),
            &[&wants[..], &[&format!("block at byte {at}")]].concat(),
        );
        assert!(matches!(e.kind, PcapErrorKind::BadBlock(_)), "{e:?}");
        assert_eq!(e.offset, Some(at as u64));
    }
    // an option whose length runs past the end of its block
    let mut body = Vec::new();
    body.extend_from_slice(&1u16.to_le_bytes());
    body.extend_from_slice(&[0, 0]);
    body.extend_from_slice(&0u32.to_le_bytes());
    body.extend_from_slice(&2u16.to_le_bytes()); // if_name
    body.extend_from_slice(&200u16.to_le_bytes());
    body.extend_from_slice(b"eth0");
    refused_by_both(
        "opt_past_block.pcapng",
        &with_idb(block(false, 1, &body)),
        &[
            &format!("block at byte {at}"),
            &opt_at,
            "length 200",
            "runs past",
        ],
    );
}

#[test]
fn pcapng_blocks_whose_lengths_disagree_are_refused() {
    let frame = udp_frame(b"l");
    let mut base = shb(false);
    base.extend(idb(false, 1, 0, &[]));
    for (name, mut b) in [
        ("epb", epb(false, 0, 1, &frame, frame.len() as u32)),
        ("idb", idb(false, 1, 0, &[])),
        ("unknown", block(false, 0xbad, &[1, 2, 3, 4])),
    ] {
        let n = b.len();
        b[n - 4..].copy_from_slice(&999u32.to_le_bytes());
        let at = base.len();
        let mut f = base.clone();
        f.extend(b);
        f.extend(epb(false, 0, 2, &frame, frame.len() as u32));
        refused_by_both(
            &format!("lengths_{name}.pcapng"),
            &f,
            &[
                &format!("block at byte {at}"),
                "ends with the length 999",
                "leading length",
            ],
        );
    }
}

#[test]
fn simple_packets_are_read_as_the_spec_says() {
    let frame = udp_frame(b"simple"); // 48 bytes, padded to 48
    let odd = &frame[..45]; // padded to 48
    // the original length says how much is data; the rest is padding
    let mut f = shb(false);
    f.extend(idb(false, 1, 0, &[]));
    f.extend(spb(false, 45, odd));
    let p = write_bytes("spb_padding.pcapng", &f);
    assert!(tcpdump_accepts(&p));
    let r = read_all(&p).unwrap();
    assert_eq!((r[0].data.as_slice(), r[0].orig_len), (odd, 45));
    // a snapshot length cuts it
    let mut f = shb(false);
    f.extend(idb(false, 1, 20, &[]));
    f.extend(spb(false, 45, odd));
    let r = read_all(write_bytes("spb_snapped.pcapng", &f)).unwrap();
    assert_eq!((r[0].data.as_slice(), r[0].orig_len), (&odd[..20], 45));
    // a block too short for its original length is refused, padding is
    // not data (this read 48 bytes, 3 of them padding, before)
    let mut f = shb(false);
    f.extend(idb(false, 1, 0, &[]));
    let at = f.len();
    f.extend(spb(false, 1500, odd));
    let e = refused_by_both(
        "spb_short.pcapng",
        &f,
        &[&format!("block at byte {at}"), "1500", "room for only 48"],
    );
    assert!(matches!(e.kind, PcapErrorKind::BadBlock(_)), "{e:?}");
}

#[test]
fn records_libpcap_accepts_are_read_and_kept() {
    // caplen 0, and an original length below the captured one: tcpdump
    // reads the file (and flags the record), so they are read, and kept
    let frame = udp_frame(b"k");
    let f = classic_file(
        false,
        false,
        0,
        0,
        65535,
        1,
        &[(1, 2, &[], 60), (1, 3, &frame, 10)],
    );
    let p = write_bytes("accepted.pcap", &f);
    assert!(tcpdump_accepts(&p));
    let r = read_all(&p).unwrap();
    assert_eq!((r[0].data.len(), r[0].orig_len), (0, 60));
    assert_eq!((r[1].data.len(), r[1].orig_len), (frame.len(), 10));
    let mut g = shb(false);
    g.extend(idb(false, 1, 0, &[]));
    g.extend(epb(false, 0, 1, &[], 60));
    let p = write_bytes("accepted.pcapng", &g);
    assert!(tcpdump_accepts(&p));
    assert_eq!(read_all(&p).unwrap()[0].data.len(), 0);
}
