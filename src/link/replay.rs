//! A link that replays frames, for tests: receptions come from a pcap file
//! or a list, and sent frames are recorded.
//!
//! It is deliberately dumb: frames are delivered in order, whatever was
//! sent, and timeouts are ignored (`recv` returns `Ok(None)` at once when
//! no frame is left). Like the live link, it delivers outgoing frames only
//! after [`Link::set_outgoing`]`(true)`.

use super::{Frame, Link, LinkError, LinkErrorKind, Stats};
use crate::packet::{Direction, LINKTYPE_ETHERNET};
use crate::pcap::PcapReader;
use std::collections::VecDeque;
use std::path::Path;
use std::time::Duration;

/// Frames to receive, and a record of the frames sent.
#[derive(Debug, Clone)]
pub struct ReplayLink {
    name: String,
    linktype: u32,
    pending: VecDeque<Frame>,
    sent: Vec<Frame>,
    outgoing: bool,
    received: u64,
    /// The last frame delivered (its time stamps sends after the end).
    last: Option<Frame>,
}

impl ReplayLink {
    /// Frames to receive from a pcap or pcapng file (all incoming). The
    /// link is named after the file.
    pub fn from_pcap(path: impl AsRef<Path>) -> Result<ReplayLink, LinkError> {
        let path = path.as_ref();
        let err = |e: crate::pcap::PcapError| {
            let help = e.hint();
            LinkError {
                kind: LinkErrorKind::Replay,
                message: format!("cannot replay: {e}"),
                help,
                source: None,
            }
        };
        let reader = PcapReader::open(path).map_err(err)?;
        let linktype = reader.linktype();
        let mut frames = Vec::new();
        for rec in reader {
            frames.push(Frame::from_record(rec.map_err(err)?));
        }
        let mut link = ReplayLink::from_frames(frames);
        link.linktype = linktype;
        link.name = path.display().to_string();
        Ok(link)
    }

    /// Frames to receive, in order (Ethernet, named "replay").
    pub fn from_frames(frames: Vec<Frame>) -> ReplayLink {
        ReplayLink {
            name: "replay".to_string(),
            linktype: LINKTYPE_ETHERNET,
            pending: frames.into(),
            sent: Vec::new(),
            outgoing: false,
            received: 0,
            last: None,
        }
    }

    /// Renames the link.
    pub fn with_name(mut self, name: impl Into<String>) -> ReplayLink {
        self.name = name.into();
        self
    }

    /// Adds a frame to receive after the others.
    pub fn push(&mut self, frame: Frame) {
        self.pending.push_back(frame);
    }

    /// Frames not received yet.
    pub fn remaining(&self) -> usize {
        self.pending.len()
    }

    /// The frames sent so far, stamped when sent, direction outgoing.
    pub fn sent(&self) -> &[Frame] {
        &self.sent
    }

    /// Takes the record of sent frames, leaving it empty.
    pub fn take_sent(&mut self) -> Vec<Frame> {
        std::mem::take(&mut self.sent)
    }
}

impl Link for ReplayLink {
    fn name(&self) -> &str {
        &self.name
    }

    fn linktype(&self) -> u32 {
        self.linktype
    }

    fn send(&mut self, frame: &[u8]) -> Result<(), LinkError> {
        let mut f = Frame::new(frame.to_vec(), Direction::Outgoing);
        (f.ts_sec, f.ts_nsec) = Link::now(self);
        self.sent.push(f);
        Ok(())
    }

    fn now(&self) -> (i64, u32) {
        // Just before the next recorded frame (or at the last one, at the end).
        match self.pending.front().or(self.last.as_ref()) {
            Some(f) => (f.ts_sec, f.ts_nsec),
            None => (0, 0),
        }
    }

    fn send_batch(&mut self, frames: &[&[u8]]) -> Result<usize, LinkError> {
        for f in frames {
            self.send(f)?;
        }
        Ok(frames.len())
    }

    fn recv(&mut self, _timeout: Option<Duration>) -> Result<Option<Frame>, LinkError> {
        while let Some(f) = self.pending.pop_front() {
            if f.direction == Direction::Outgoing && !self.outgoing {
                continue;
            }
            self.received += 1;
            self.last = Some(f.clone());
            return Ok(Some(f));
        }
        Ok(None)
    }

    fn stats(&mut self) -> Result<Stats, LinkError> {
        Ok(Stats {
            received: self.received,
            dropped: 0,
        })
    }

    fn exhausted(&self) -> bool {
        self.remaining() == 0
    }

    fn set_outgoing(&mut self, yes: bool) {
        self.outgoing = yes;
    }
}
