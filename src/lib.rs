//! pktscript: packets as scriptable objects.
//!
//! - [`layers`]: one declarative field table per protocol, and the registry.
//! - [`packet`]: the packet model (bytes plus layers), dissection, automatic fields.
//! - [`pcap`]: pcap and pcapng reading and writing.
//! - [`script`]: the Rhai bindings, module resolver and error reports.

pub mod compare;
pub mod filter;
pub mod layers;
pub mod link;
pub mod memory;
pub mod net;
pub mod output;
pub mod packet;
pub mod pcap;
pub mod progress;
pub mod repl;
pub mod script;
pub mod testrun;
pub mod text;
pub mod tools;

pub use packet::Packet;
