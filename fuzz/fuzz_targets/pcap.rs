//! The capture reader (classic pcap in both byte orders and resolutions,
//! pcapng) on any bytes.
//!
//! Every record is read until the end or an error; errors are rendered as
//! the tools render them. Checks: no panic, no record above the reader's
//! limit, memory bounded (a counting allocator: the peak of live heap
//! bytes during one input stays under a few buffers plus a multiple of the
//! input, whatever lengths the input declares), and what was read, written
//! again as pcapng, reads back the same.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pktscript::pcap::{Format, MAX_RECORD, PcapReader, PcapWriter, Record};
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Cursor;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

/// The system allocator, counting live bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Relaxed) + l.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        LIVE.fetch_sub(l.size(), Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// What one input may make the reader, the writer and the read-back hold
/// at once: their buffers (256 KiB each), a record buffer sized by a
/// declared length up to `MAX_RECORD`, and a few copies of the input.
fn memory_bound(input: usize) -> usize {
    4 * 1024 * 1024 + 16 * input
}

/// A `Write` whose bytes stay reachable after the writer that owns it is closed.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn render(e: pktscript::pcap::PcapError) {
    let _ = e.to_string();
    let _ = e.hint();
    let _ = format!("{:?}", miette::Report::new(e));
}

fn read_all(bytes: Vec<u8>) -> Result<Vec<Record>, ()> {
    let mut r = match PcapReader::from_reader(Box::new(Cursor::new(bytes)), "fuzz.pcap") {
        Ok(r) => r,
        Err(e) => {
            render(e);
            return Err(());
        }
    };
    let _ = (r.format(), r.linktype(), r.snaplen());
    let mut out = Vec::new();
    let mut rec = Record::default();
    loop {
        match r.next_into(&mut rec) {
            Ok(true) => {
                assert!(
                    rec.data.len() <= MAX_RECORD as usize,
                    "record above MAX_RECORD"
                );
                assert!(rec.ts_nsec < 1_000_000_000, "ts_nsec out of range");
                out.push(rec.clone());
            }
            Ok(false) => break,
            Err(e) => {
                render(e);
                // After an error the reader stays at its end.
                assert!(!r.next_into(&mut rec).unwrap_or(true));
                return Err(());
            }
        }
    }
    assert_eq!(r.records_read(), out.len() as u64);
    Ok(out)
}

fuzz_target!(|data: &[u8]| {
    PEAK.store(LIVE.load(Relaxed), Relaxed);
    let base = LIVE.load(Relaxed);
    check(data);
    let peak = PEAK.load(Relaxed) - base;
    assert!(
        peak <= memory_bound(data.len()),
        "{peak} bytes live at once for a {}-byte input",
        data.len()
    );
});

fn check(data: &[u8]) {
    let Ok(recs) = read_all(data.to_vec()) else {
        return;
    };
    // Every record written again (pcapng: any link types, nanoseconds)
    // reads back as it was read.
    let Some(first) = recs.first() else {
        return;
    };
    let buf = Shared::default();
    let Ok(mut w) = PcapWriter::to_writer(Box::new(buf.clone()), first.linktype, Format::PcapNg)
    else {
        return;
    };
    for rec in &recs {
        if w.write(rec).is_err() {
            return;
        }
    }
    w.close().expect("closing a pcapng writer to memory");
    let written = buf.0.lock().unwrap().clone();
    let again = read_all(written).expect("reading back what was written");
    assert_eq!(again.len(), recs.len());
    for (i, (a, b)) in recs.iter().zip(&again).enumerate() {
        assert_eq!(a.data, b.data, "record {i}: data");
        assert_eq!(
            (a.ts_sec, a.ts_nsec),
            (b.ts_sec, b.ts_nsec),
            "record {i}: time"
        );
        assert_eq!(a.linktype, b.linktype, "record {i}: link type");
        assert_eq!(a.orig_len, b.orig_len, "record {i}: original length");
    }
}
