//! Bindings for the network: interfaces, sendp/send, capture, sr/srp and
//! expect, over a live interface or a replayed pcap (`use_link`).

use super::packet::to_owned_input;
use super::{UserError, err_help, err_msg, user_err};
use crate::layers::{Proto, Space};
use crate::link::{self, Link, LinkError, LiveLink, LiveOptions, ReplayLink};
use crate::net::{self, CaptureError, CaptureOptions, Flow, SrOptions};
use crate::packet::Packet;
use rhai::{Array, Dynamic, Engine, EvalAltResult, FnPtr, Map, NativeCallContext};
use std::cell::RefCell;
use std::net::IpAddr;
use std::rc::Rc;
use std::time::Duration;

type R<T> = Result<T, Box<EvalAltResult>>;

impl From<LinkError> for UserError {
    fn from(e: LinkError) -> Self {
        use miette::Diagnostic;
        UserError {
            message: e.to_string(),
            help: e.help().map(|h| h.to_string()),
        }
    }
}

/// Network settings of a script run.
#[derive(Default)]
pub struct NetState {
    /// Default interface (`--iface`, `set_iface`).
    pub iface: Option<String>,
    /// A replay link standing in for every interface (`use_link`).
    pub replay: Option<ReplayLink>,
    /// Print why each received packet did or did not match (`--explain`).
    pub explain: bool,
    /// Live sockets kept open between calls: closing a packet socket waits
    /// for the kernel (tens of milliseconds), which would dominate `srp1`.
    pub live: Vec<(String, LiveOptions, LiveLink)>,
    /// Record mode: every frame received on a live link is kept here, to be
    /// saved as a replay file when the script ends.
    pub recording: Option<Vec<link::Frame>>,
}

/// A link that keeps a copy of every frame it receives.
struct Recorder<'a> {
    inner: &'a mut dyn Link,
    log: &'a mut Vec<link::Frame>,
}

impl Link for Recorder<'_> {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn linktype(&self) -> u32 {
        self.inner.linktype()
    }
    fn send(&mut self, frame: &[u8]) -> Result<(), LinkError> {
        self.inner.send(frame)
    }
    fn send_batch(&mut self, frames: &[&[u8]]) -> Result<usize, LinkError> {
        self.inner.send_batch(frames)
    }
    fn recv(&mut self, timeout: Option<Duration>) -> Result<Option<link::Frame>, LinkError> {
        let f = self.inner.recv(timeout)?;
        if let Some(f) = &f
            && f.direction == link::Direction::Incoming
        {
            self.log.push(f.clone());
        }
        Ok(f)
    }
    fn stats(&mut self) -> Result<link::Stats, LinkError> {
        self.inner.stats()
    }
    fn set_outgoing(&mut self, yes: bool) {
        self.inner.set_outgoing(yes)
    }
}

/// Writes recorded frames as a replay file.
pub fn save_recording(
    path: &std::path::Path,
    frames: &[link::Frame],
) -> Result<(), crate::pcap::PcapError> {
    let mut w = crate::pcap::PcapWriter::create(path, crate::packet::LINKTYPE_ETHERNET)?;
    for f in frames {
        w.write(&f.to_record(crate::packet::LINKTYPE_ETHERNET))?;
    }
    w.close()
}

pub type Shared = Rc<RefCell<NetState>>;

/// A link a script can hand to `use_link`.
#[derive(Clone)]
pub struct LinkHandle(Rc<RefCell<Option<ReplayLink>>>);

fn current_iface(st: &NetState, given: Option<&str>) -> R<String> {
    if let Some(i) = given.filter(|s| !s.is_empty()) {
        return Ok(i.to_string());
    }
    if let Some(i) = &st.iface {
        return Ok(i.clone());
    }
    if st.replay.is_some() {
        return Ok("replay".into());
    }
    net::default_iface().ok_or_else(|| {
        err_help(
            "no network interface to use",
            "name one (sendp(p, \"eth0\"), #{iface: \"eth0\"}), or set a default with --iface or set_iface()",
        )
    })
}

/// Runs `f` on the link for `iface`: the replay if one is in use, else a fresh live socket.
fn with_link<T>(
    state: &Shared,
    iface: Option<&str>,
    opts: LiveOptions,
    f: impl FnOnce(&mut dyn Link) -> R<T>,
) -> R<T> {
    let name = current_iface(&state.borrow(), iface)?;
    let mut st = state.borrow_mut();
    if let Some(r) = st.replay.as_mut() {
        return f(r);
    }
    // Reuse an open socket for the same interface and options; drop what
    // queued up since its last use, so only new frames are seen.
    let pos = st
        .live
        .iter()
        .position(|(n, o, _)| *n == name && *o == opts);
    let mut entry = match pos {
        Some(i) => {
            let mut e = st.live.swap_remove(i);
            e.2.drain();
            e
        }
        None => {
            drop(st);
            let link = LiveLink::open(&name, opts).map_err(user_err)?;
            st = state.borrow_mut();
            (name, opts, link)
        }
    };
    let mut log = st.recording.take();
    drop(st);
    let out = match log.as_mut() {
        Some(log) => f(&mut Recorder {
            inner: &mut entry.2,
            log,
        }),
        None => f(&mut entry.2),
    };
    let mut st = state.borrow_mut();
    if log.is_some() {
        st.recording = log;
    }
    if st.live.len() >= 4 {
        st.live.remove(0);
    }
    st.live.push(entry);
    out
}

fn packets_of(v: Dynamic) -> R<Vec<Packet>> {
    if v.is::<Packet>() {
        return Ok(vec![v.cast::<Packet>()]);
    }
    if v.is_array() {
        return v
            .cast::<Array>()
            .into_iter()
            .enumerate()
            .map(|(i, x)| {
                let t = x.type_name().to_string();
                x.try_cast::<Packet>()
                    .ok_or_else(|| err_msg(format!("element {i} is a {t}, not a packet")))
            })
            .collect();
    }
    Err(err_msg(format!(
        "expected a packet or an array of packets, not {}",
        v.type_name()
    )))
}

/// An optional option: absent or `()` is None; otherwise `conv` must accept it.
fn opt_value<T>(
    m: &Map,
    key: &str,
    what: &str,
    conv: impl Fn(&Dynamic) -> Result<T, &'static str>,
) -> R<Option<T>> {
    match m.get(key) {
        None => Ok(None),
        Some(v) if v.is_unit() => Ok(None),
        Some(v) => conv(v)
            .map(Some)
            .map_err(|t| err_msg(format!("option {key} takes {what}, not {t}"))),
    }
}

fn opt_f64(m: &Map, key: &str) -> R<Option<f64>> {
    opt_value(m, key, "a number of seconds", |v| {
        v.as_float().or_else(|_| v.as_int().map(|i| i as f64))
    })
}

fn opt_int(m: &Map, key: &str) -> R<Option<i64>> {
    opt_value(m, key, "an integer", |v| v.as_int())
}

fn opt_bool(m: &Map, key: &str) -> R<bool> {
    match m.get(key) {
        None => Ok(false),
        Some(v) => v
            .as_bool()
            .map_err(|t| err_msg(format!("option {key} takes true or false, not {t}"))),
    }
}

fn opt_str(m: &Map, key: &str) -> Option<String> {
    m.get(key).and_then(|v| v.clone().into_string().ok())
}

fn check_keys(m: &Map, allowed: &[&str], what: &str) -> R<()> {
    for k in m.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(err_help(
                format!("{what} has no option `{k}`"),
                format!("options: {}", allowed.join(", ")),
            ));
        }
    }
    Ok(())
}

fn live_opts(m: &Map) -> R<LiveOptions> {
    let mut o = LiveOptions {
        promisc: opt_bool(m, "promisc")?,
        ..LiveOptions::default()
    };
    if let Some(s) = opt_int(m, "snaplen")? {
        o.snaplen =
            u32::try_from(s).map_err(|_| err_msg(format!("snaplen {s} is out of range")))?;
    }
    Ok(o)
}

fn duration(secs: f64) -> R<Duration> {
    if !secs.is_finite() || secs < 0.0 {
        return Err(err_msg(format!(
            "a timeout of {secs} seconds makes no sense"
        )));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn warn_drops(stats: &link::Stats, iface: &str) {
    if stats.dropped > 0 {
        eprintln!(
            "warning: the kernel dropped {} of {} packets on {iface} (receive buffer full)",
            stats.dropped,
            stats.received + stats.dropped
        );
    }
}

/// Calls a script closure with a packet and reads its answer as a bool.
fn call_filter(ctx: &NativeCallContext, f: &FnPtr, p: &Packet) -> R<bool> {
    let v: Dynamic = f.call_within_context(ctx, (p.clone(),))?;
    Ok(v.as_bool().unwrap_or(!v.is_unit()))
}

fn capture_impl(
    ctx: &NativeCallContext,
    state: &Shared,
    iface: &str,
    opts: &Map,
    each: Option<FnPtr>,
) -> R<Dynamic> {
    check_keys(
        opts,
        &[
            "count", "timeout", "filter", "promisc", "snaplen", "outgoing",
        ],
        "capture",
    )?;
    let count = opt_int(opts, "count")?.map(|c| c.max(0) as usize);
    let timeout = opt_f64(opts, "timeout")?.map(duration).transpose()?;
    if count.is_none() && timeout.is_none() && each.is_none() && state.borrow().replay.is_none() {
        return Err(err_help(
            "capture without count or timeout would never end",
            "give #{count: N} or #{timeout: SECONDS}",
        ));
    }
    // `filter` is a tcpdump expression (run in the kernel, then checked
    // again here for links without one) or a closure; `where` adds a
    // closure after an expression.
    let mut bpf = None;
    let mut kernel = false;
    let mut filter = None;
    match opts.get("filter") {
        Some(f) if f.is_fnptr() => filter = Some(f.clone().cast::<FnPtr>()),
        Some(f) if f.is_string() => {
            let expr = f.clone().into_string().unwrap_or_default();
            bpf = Some(super::compile_filter(&expr)?);
            kernel = crate::filter::runs_in_kernel(&expr);
        }
        Some(f) if !f.is_unit() => {
            return Err(err_help(
                format!(
                    "capture's filter is an expression or a closure, not {}",
                    f.type_name()
                ),
                "write #{filter: \"icmp and host 198.18.0.2\"} or #{filter: |p| p.has(\"ICMP\")}",
            ));
        }
        _ => {}
    }
    if let Some(w) = opts.get("where") {
        if !w.is_fnptr() {
            return Err(err_help(
                "capture's `where` is a closure",
                "#{filter: \"udp\", where: |p| p.udp.dport == 53}",
            ));
        }
        if filter.is_some() {
            return Err(err_msg(
                "give one closure: either `filter: |p| ...` or an expression with `where: |p| ...`",
            ));
        }
        filter = Some(w.clone().cast::<FnPtr>());
    }
    let outgoing = opt_bool(opts, "outgoing")?;
    let lo = live_opts(opts)?;
    let copts = CaptureOptions {
        count,
        timeout,
        // SIGINT or SIGTERM (when pktscript runs a script file) ends the
        // capture; the script then stops at its next operation.
        stop: Some(&crate::output::STOP),
    };
    let mut kept = Array::new();
    let mut seen = 0i64;
    with_link(state, Some(iface), lo, |link| {
        link.set_outgoing(outgoing);
        if let Some(prog) = bpf.as_ref().filter(|_| kernel) {
            link.set_filter(Some(&crate::filter::to_sock_filters(prog)))
                .map_err(user_err)?;
        }
        let res = net::capture(link, &copts, |p| -> R<Flow> {
            if let Some(prog) = &bpf
                && crate::filter::run(prog, p.raw_bytes(), p.wire_len() as u32) == 0
            {
                return Ok(Flow::Skip);
            }
            if let Some(f) = &filter
                && !call_filter(ctx, f, &p)?
            {
                return Ok(Flow::Skip);
            }
            seen += 1;
            match &each {
                Some(cb) => {
                    let go: Dynamic = cb.call_within_context(ctx, (p,))?;
                    Ok(if go.as_bool().unwrap_or(true) {
                        Flow::Keep
                    } else {
                        Flow::Stop
                    })
                }
                None => {
                    kept.push(Dynamic::from(p));
                    Ok(Flow::Keep)
                }
            }
        });
        link.set_outgoing(false);
        if bpf.is_some() && kernel {
            link.set_filter(None).map_err(user_err)?;
        }
        match res {
            Ok(stats) => {
                warn_drops(&stats, link.name());
                Ok(())
            }
            Err(CaptureError::Link(e)) => Err(user_err(e)),
            Err(CaptureError::Callback(e)) => Err(e),
        }
    })?;
    Ok(if each.is_some() {
        Dynamic::from_int(seen)
    } else {
        Dynamic::from_array(kept)
    })
}

/// A packet made ready to go out on a link, or why it cannot be.
enum Ready {
    /// The frame and the interface to send it on.
    Frame(String, Packet),
    /// The next hop's link-layer address could not be learnt: the packet
    /// (its source filled in) and why.
    Unresolved(Packet, String),
}

/// Link-layer addresses learnt during one call, by interface and next hop.
type HopCache = std::collections::HashMap<(String, IpAddr), Option<[u8; 6]>>;

/// Whether `proto` starts a frame: a link layer (bound to a pcap link type)
/// that is not itself a network layer (IPv4 and IPv6 bind to the raw-IP
/// link types too).
fn is_link_layer(proto: &Proto) -> bool {
    proto.net.is_none() && proto.bindings.iter().any(|b| b.space == Space::LinkType)
}

/// Readies a packet for layer 2. A frame that starts with a link layer
/// goes as it is. A packet that starts with a network layer gets an
/// Ethernet header: the route (of its address family) names the interface
/// and next hop, an unspecified source becomes the interface's address,
/// and the next hop's MAC comes from the kernel's neighbour table, else
/// from the request the network layer's capability builds (ARP, neighbour
/// solicitation). `iface` restricts the routes to one interface.
fn resolve_l2(
    state: &Shared,
    mut p: Packet,
    timeout: Duration,
    iface: Option<&str>,
    cache: &mut HopCache,
) -> R<Ready> {
    let Some(first) = p.layers().first().map(|l| l.proto) else {
        return Err(err_msg("cannot send an empty packet"));
    };
    if is_link_layer(first) {
        let iface = current_iface(&state.borrow(), iface)?;
        return Ok(Ready::Frame(iface, p));
    }
    let Some(ops) = first.net else {
        return Err(err_help(
            format!(
                "cannot send a packet starting with {} at layer 3",
                first.name
            ),
            "sr, sr1 and send take a packet that starts with IPv4() or IPv6(); \
             frames with a link layer go with srp, srp1 and sendp",
        ));
    };
    p.finish();
    let Some((src, dst)) = p.addrs_at(0) else {
        return Err(err_msg(format!(
            "the {} header is cut short: no destination to send to",
            first.name
        )));
    };
    let replaying = state.borrow().replay.is_some();
    let recording = state.borrow().recording.is_some();
    let (ifname, hop) = if replaying {
        ("replay".to_string(), dst)
    } else {
        net::route_ip(dst, iface).ok_or_else(|| {
            let on = iface.map(|i| format!(" through {i}")).unwrap_or_default();
            err_help(
                format!("no route to {dst}{on} in this network namespace"),
                "`ip route` and `ip -6 route` show the routes; an address on a local \
                 network needs an interface with an address there",
            )
        })?
    };
    let info = if replaying {
        None
    } else {
        Some(link::interface(&ifname).map_err(user_err)?)
    };
    let my_mac = info.as_ref().and_then(|i| i.mac).unwrap_or([0; 6]);
    // Our address on the interface, of the destination's family.
    let mine: Option<IpAddr> = info.as_ref().and_then(|i| match dst {
        IpAddr::V4(_) => i.ipv4.first().map(|a| IpAddr::V4(a.0)),
        IpAddr::V6(d) => net::source6(&i.name, d).map(IpAddr::V6),
    });
    if net::needs_source(src, dst)
        && let Some(m) = mine
    {
        net::set_src(&mut p, m).map_err(user_err)?;
    }
    let Some(res) = ops.resolve else {
        return Err(err_msg(format!(
            "{} has no way to learn a next hop's link-layer address",
            first.name
        )));
    };
    let mac = match (res.group_mac)(dst) {
        Some(m) => Some(m),
        None => match cache.get(&(ifname.clone(), hop)) {
            Some(m) => *m,
            None => {
                // Replaying or recording, the answer must be on the wire.
                let known = match &info {
                    Some(i) if !recording => link::neigh::lookup(i.index, hop),
                    _ => None,
                };
                let m = match known {
                    Some(m) => Some(m),
                    None => {
                        let from = mine.or_else(|| p.addrs_at(0).map(|a| a.0)).unwrap_or(src);
                        if from.is_unspecified() && hop.is_ipv6() {
                            return Err(err_help(
                                format!("{ifname} has no IPv6 address to ask for {hop} from"),
                                format!(
                                    "add one (ip -6 addr add ADDR/64 dev {ifname}), or give the packet a source address"
                                ),
                            ));
                        }
                        let mut req = (res.request)(my_mac, from, hop).ok_or_else(|| {
                            err_msg(format!("cannot build a {} for {hop}", res.name))
                        })?;
                        with_link(state, Some(&ifname), LiveOptions::default(), |link| {
                            net::solicit(link, &mut req, &|r| (res.answer)(r, hop), timeout)
                                .map_err(user_err)
                        })?
                    }
                };
                cache.insert((ifname.clone(), hop), m);
                m
            }
        },
    };
    let Some(mac) = mac else {
        let what = if hop == dst {
            format!("{hop}")
        } else {
            format!("{hop}, the next hop to {dst},")
        };
        return Ok(Ready::Unresolved(
            p,
            format!(
                "the neighbour {what} did not answer the {} on {ifname} within {} s: not sent",
                res.name,
                timeout.as_secs_f64()
            ),
        ));
    };
    let mut eth = crate::layers::ether::header(mac, my_mac);
    eth.stack(&p);
    Ok(Ready::Frame(ifname, eth))
}

fn sr_impl(state: &Shared, pkts: Vec<Packet>, opts: &Map, layer3: bool) -> R<net::SrResult> {
    check_keys(
        opts,
        &["iface", "timeout", "multi", "promisc", "explain"],
        "sr",
    )?;
    let timeout = duration(opt_f64(opts, "timeout")?.unwrap_or(2.0))?;
    let multi = opt_bool(opts, "multi")?;
    let explain = opt_bool(opts, "explain")? || state.borrow().explain;
    let given = opt_str(opts, "iface");
    let mut iface = given.clone();
    let mut to_send = Vec::with_capacity(pkts.len());
    let mut unresolved = Vec::new();
    let mut cache = HopCache::new();
    for p in pkts {
        if !layer3 {
            to_send.push(p);
            continue;
        }
        match resolve_l2(state, p, timeout, given.as_deref(), &mut cache)? {
            Ready::Frame(i, p) => {
                iface.get_or_insert(i);
                to_send.push(p);
            }
            Ready::Unresolved(p, why) => {
                if explain {
                    eprintln!("explain: {why}");
                }
                unresolved.push(p);
            }
        }
    }
    let lo = live_opts(opts)?;
    let mut res = if to_send.is_empty() {
        net::SrResult::default()
    } else {
        with_link(state, iface.as_deref(), lo, |link| {
            let mut log = |s: String| eprintln!("explain: {s}");
            let explain_to: Option<&mut dyn FnMut(String)> =
                if explain { Some(&mut log) } else { None };
            let res = net::sr(link, to_send, &SrOptions { timeout, multi }, explain_to)
                .map_err(user_err)?;
            warn_drops(&res.stats, link.name());
            Ok(res)
        })?
    };
    res.unanswered.extend(unresolved);
    Ok(res)
}

fn sr_result_map(res: net::SrResult) -> Map {
    let mut m = Map::new();
    let answered: Array = res
        .answered
        .into_iter()
        .map(|(s, r)| Dynamic::from_array(vec![Dynamic::from(s), Dynamic::from(r)]))
        .collect();
    m.insert("answered".into(), Dynamic::from_array(answered));
    m.insert(
        "unanswered".into(),
        Dynamic::from_array(res.unanswered.into_iter().map(Dynamic::from).collect()),
    );
    m
}

fn iface_map(i: &link::IfaceInfo) -> Map {
    let mut m = Map::new();
    m.insert("name".into(), i.name.clone().into());
    m.insert("index".into(), Dynamic::from_int(i.index as i64));
    m.insert(
        "mac".into(),
        i.mac
            .map(|x| Dynamic::from(crate::layers::format_mac(&x)))
            .unwrap_or(Dynamic::UNIT),
    );
    let addrs: Array = i
        .ipv4
        .iter()
        .map(|(a, l)| Dynamic::from(format!("{a}/{l}")))
        .collect();
    m.insert("ipv4".into(), Dynamic::from_array(addrs));
    let addrs: Array = i
        .ipv6
        .iter()
        .map(|(a, l)| Dynamic::from(format!("{a}/{l}")))
        .collect();
    m.insert("ipv6".into(), Dynamic::from_array(addrs));
    m.insert("up".into(), Dynamic::from_bool(i.up));
    m.insert("promisc".into(), Dynamic::from_bool(i.promisc));
    m.insert("loopback".into(), Dynamic::from_bool(i.loopback));
    m
}

pub fn register(e: &mut Engine, state: Shared) {
    e.register_type_with_name::<LinkHandle>("Link");
    e.register_fn("interfaces", || -> R<Array> {
        Ok(link::interfaces()
            .map_err(user_err)?
            .iter()
            .map(|i| Dynamic::from_map(iface_map(i)))
            .collect())
    });
    e.register_fn("iface_mac", |name: &str| -> R<String> {
        let i = link::interface(name).map_err(user_err)?;
        i.mac
            .map(|m| crate::layers::format_mac(&m))
            .ok_or_else(|| err_msg(format!("{name} has no MAC address")))
    });
    e.register_fn("iface_ip", |name: &str| -> R<Dynamic> {
        let i = link::interface(name).map_err(user_err)?;
        Ok(i.ipv4
            .first()
            .map(|(a, _)| Dynamic::from(a.to_string()))
            .unwrap_or(Dynamic::UNIT))
    });
    e.register_fn("set_promisc", |name: &str, on: bool| {
        link::set_promisc(name, on).map_err(user_err)
    });
    let s = state.clone();
    e.register_fn("set_iface", move |name: &str| -> R<()> {
        if s.borrow().replay.is_none() {
            link::interface(name).map_err(user_err)?;
        }
        s.borrow_mut().iface = Some(name.to_string());
        Ok(())
    });
    let s = state.clone();
    e.register_fn("iface", move || -> R<String> {
        current_iface(&s.borrow(), None)
    });

    // Sending.
    let s = state.clone();
    e.register_fn("sendp", move |v: Dynamic| -> R<i64> { sendp(&s, v, None) });
    // An array is taken by reference (no copy of a million packets) and
    // sent from the packets' own buffers.
    let s = state.clone();
    e.register_fn("sendp", move |a: &mut Array| -> R<i64> {
        sendp_array(&s, a, None)
    });
    let s = state.clone();
    e.register_fn("sendp", move |a: &mut Array, iface: &str| -> R<i64> {
        sendp_array(&s, a, Some(iface))
    });
    let s = state.clone();
    e.register_fn("sendp", move |v: Dynamic, iface: &str| -> R<i64> {
        sendp(&s, v, Some(iface))
    });
    let s = state.clone();
    e.register_fn("send", move |v: Dynamic| -> R<i64> {
        let pkts = packets_of(v)?;
        if s.borrow().replay.is_some() {
            let mut n = 0;
            let mut cache = HopCache::new();
            for p in pkts {
                match resolve_l2(&s, p, Duration::from_secs(1), None, &mut cache)? {
                    Ready::Frame(iface, p) => n += sendp(&s, Dynamic::from(p), Some(&iface))?,
                    Ready::Unresolved(_, why) => return Err(err_msg(why)),
                }
            }
            return Ok(n);
        }
        let mut n = 0;
        for mut p in pkts {
            net::send_l3(&mut p).map_err(user_err)?;
            n += 1;
        }
        Ok(n)
    });

    // Capturing.
    let s = state.clone();
    e.register_fn(
        "capture",
        move |ctx: NativeCallContext, iface: &str, opts: Map| {
            capture_impl(&ctx, &s, iface, &opts, None)
        },
    );
    let s = state.clone();
    e.register_fn(
        "capture",
        move |ctx: NativeCallContext, iface: &str, opts: Map, f: FnPtr| {
            capture_impl(&ctx, &s, iface, &opts, Some(f))
        },
    );
    let s = state.clone();
    e.register_fn(
        "expect",
        move |ctx: NativeCallContext, iface: &str, filter: FnPtr, timeout: Dynamic| -> R<Dynamic> {
            let t = timeout
                .as_float()
                .or_else(|_| timeout.as_int().map(|i| i as f64))
                .map_err(|t| err_msg(format!("expect's timeout is seconds, not {t}")))?;
            let mut opts = Map::new();
            opts.insert("count".into(), Dynamic::from_int(1));
            opts.insert("timeout".into(), Dynamic::from_float(t));
            opts.insert("filter".into(), Dynamic::from(filter));
            let got = capture_impl(&ctx, &s, iface, &opts, None)?.cast::<Array>();
            Ok(got.into_iter().next().unwrap_or(Dynamic::UNIT))
        },
    );

    // Send and match.
    for (name, l3) in [("srp1", false), ("sr1", true)] {
        let s = state.clone();
        e.register_fn(name, move |p: Packet, opts: Map| -> R<Dynamic> {
            let res = sr_impl(&s, vec![p], &opts, l3)?;
            Ok(res
                .answered
                .into_iter()
                .next()
                .map(|(_, r)| Dynamic::from(r))
                .unwrap_or(Dynamic::UNIT))
        });
        let s = state.clone();
        e.register_fn(name, move |p: Packet| -> R<Dynamic> {
            let res = sr_impl(&s, vec![p], &Map::new(), l3)?;
            Ok(res
                .answered
                .into_iter()
                .next()
                .map(|(_, r)| Dynamic::from(r))
                .unwrap_or(Dynamic::UNIT))
        });
    }
    for (name, l3) in [("srp", false), ("sr", true)] {
        let s = state.clone();
        e.register_fn(name, move |v: Dynamic, opts: Map| -> R<Map> {
            Ok(sr_result_map(sr_impl(&s, packets_of(v)?, &opts, l3)?))
        });
        let s = state.clone();
        e.register_fn(name, move |v: Dynamic| -> R<Map> {
            Ok(sr_result_map(sr_impl(&s, packets_of(v)?, &Map::new(), l3)?))
        });
    }
    e.register_fn("answers", |reply: &mut Packet, sent: Packet| {
        net::answers(reply, &sent)
    });
    e.register_fn(
        "explain_match",
        |reply: &mut Packet, sent: Packet| match net::explain(reply, &sent) {
            Ok(()) => "answers".to_string(),
            Err(why) => why,
        },
    );

    // Replay links.
    e.register_fn("replay", |path: &str| -> R<LinkHandle> {
        let r = ReplayLink::from_pcap(path).map_err(user_err)?;
        Ok(LinkHandle(Rc::new(RefCell::new(Some(r)))))
    });
    let s = state.clone();
    e.register_fn("use_link", move |h: LinkHandle| -> R<()> {
        let r =
            h.0.borrow_mut()
                .take()
                .ok_or_else(|| err_msg("that link is already in use"))?;
        s.borrow_mut().replay = Some(r);
        Ok(())
    });
    let s = state.clone();
    e.register_fn("sent", move || -> R<Array> {
        let st = s.borrow();
        let r = st.replay.as_ref().ok_or_else(|| {
            err_msg("sent() lists what a replay link recorded; call use_link(replay(path)) first")
        })?;
        Ok(r.sent()
            .iter()
            .map(|f| Dynamic::from(f.to_packet(crate::packet::LINKTYPE_ETHERNET)))
            .collect())
    });
    let _ = to_owned_input;
}

fn sendp_array(state: &Shared, a: &mut Array, iface: Option<&str>) -> R<i64> {
    for (i, x) in a.iter_mut().enumerate() {
        if !x.is::<Packet>() {
            return Err(err_msg(format!(
                "element {i} is a {}, not a packet",
                x.type_name()
            )));
        }
        if let Some(mut p) = x.write_lock::<Packet>() {
            p.finish();
        }
    }
    sending(state, iface, |link| {
        let mut sent = 0usize;
        for chunk in a.chunks(1024) {
            let packets: Vec<_> = chunk
                .iter()
                .filter_map(|x| x.read_lock::<Packet>())
                .collect();
            let refs: Vec<&[u8]> = packets.iter().map(|p| p.raw_bytes()).collect();
            sent += link.send_batch(&refs).map_err(user_err)?;
        }
        Ok(sent as i64)
    })
}

/// Runs `f` on the link for sending (no receive buffer).
fn sending(state: &Shared, iface: Option<&str>, f: impl FnOnce(&mut dyn Link) -> R<i64>) -> R<i64> {
    with_link(
        state,
        iface,
        LiveOptions {
            buffer_bytes: 0,
            ..LiveOptions::default()
        },
        f,
    )
}

fn sendp(state: &Shared, v: Dynamic, iface: Option<&str>) -> R<i64> {
    let mut pkts = packets_of(v)?;
    let frames: Vec<Vec<u8>> = pkts.iter_mut().map(|p| p.bytes().to_vec()).collect();
    let refs: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
    sending(state, iface, |link| {
        link.send_batch(&refs).map(|n| n as i64).map_err(user_err)
    })
}
