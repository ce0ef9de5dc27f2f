//! Test LANs in network namespaces, shared by the tests that use real
//! kernel links.
//!
//! [`Lan::new`] builds, for one test:
//!
//! - a "switch" namespace holding a veth pair (both ends stay in it);
//! - one namespace per host, each holding a macvlan device (bridge mode)
//!   on the switch's veth end, with a MAC 02:00:00:xx:xx:xx and an address
//!   in 198.18.0.0/15 (benchmarking space, RFC 2544), IPv6 off so that the
//!   hosts stay silent unless spoken to.
//!
//! Nothing is created in, attached to, or routed to the root namespace.
//! Names carry a prefix unique to the process and the test, so tests can
//! run in parallel. Dropping the [`Lan`] (also when the test panics)
//! deletes every namespace it created, and with them the devices.

#![allow(dead_code)]

use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use pktscript::link::{LinkError, LiveLink, LiveOptions};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Fails the test unless it runs as root: these tests must not be skipped
/// silently.
pub fn require_root() {
    // SAFETY: geteuid cannot fail.
    let euid = unsafe { libc::geteuid() };
    assert!(
        euid == 0,
        "this test needs root (it creates network namespaces and raw sockets); \
         run it as root, e.g. `sudo -E cargo test --test link_live` (euid is {euid})"
    );
}

/// One host of a test LAN.
#[derive(Debug, Clone)]
pub struct Host {
    /// Its network namespace.
    pub ns: String,
    /// Its interface (a macvlan on the switch).
    pub dev: String,
    pub mac: [u8; 6],
    pub ip: Ipv4Addr,
}

/// A test LAN; see the module notes.
#[derive(Debug)]
pub struct Lan {
    /// Prefix of every name (namespaces and devices).
    pub prefix: String,
    /// The switch namespace.
    pub switch_ns: String,
    pub hosts: Vec<Host>,
    /// Namespaces to delete, in creation order.
    created: Vec<String>,
}

impl Lan {
    /// A LAN of `n` hosts (1 to 100); panics with the failing command's
    /// output if the kernel or `ip` refuses something.
    pub fn new(n: usize) -> Lan {
        require_root();
        assert!((1..=100).contains(&n), "a test LAN has 1 to 100 hosts");
        let pid = std::process::id();
        let count = COUNTER.fetch_add(1, Ordering::SeqCst);
        // pid in hex: at most 6 digits (pid_max is at most 2^22).
        let prefix = format!("pk{pid:x}x{count}");
        // A /24 of 198.18.0.0/15 for this LAN.
        let net = (pid.wrapping_mul(37).wrapping_add(count) % 512) as u16;
        let [net_hi, net_lo] = net.to_be_bytes();
        let mut lan = Lan {
            switch_ns: format!("{prefix}sw"),
            prefix: prefix.clone(),
            hosts: Vec::new(),
            created: Vec::new(),
        };
        let sw = lan.switch_ns.clone();
        lan.add_ns(&sw);
        let lower = format!("{prefix}s");
        let peer = format!("{prefix}p");
        run(&[
            "ip", "-n", &sw, "link", "add", "name", &lower, "type", "veth", "peer", "name", &peer,
        ]);
        run(&["ip", "-n", &sw, "link", "set", "dev", &lower, "up"]);
        run(&["ip", "-n", &sw, "link", "set", "dev", &peer, "up"]);
        for i in 0..n {
            let ns = format!("{prefix}h{i}");
            let dev = format!("{prefix}e{i}");
            assert!(dev.len() <= 15, "device name {dev} too long");
            let mac = [0x02, 0, 0, net_hi, net_lo, i as u8 + 1];
            let ip = Ipv4Addr::new(198, 18 + net_hi, net_lo, i as u8 + 1);
            lan.add_ns(&ns);
            let mac_s = mac_str(&mac);
            run(&[
                "ip", "-n", &sw, "link", "add", "name", &dev, "link", &lower, "address", &mac_s,
                "type", "macvlan", "mode", "bridge",
            ]);
            run(&["ip", "-n", &sw, "link", "set", "dev", &dev, "netns", &ns]);
            run(&[
                "ip",
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{ip}/24"),
                "dev",
                &dev,
            ]);
            run(&["ip", "-n", &ns, "link", "set", "dev", "lo", "up"]);
            run(&["ip", "-n", &ns, "link", "set", "dev", &dev, "up"]);
            lan.hosts.push(Host { ns, dev, mac, ip });
        }
        lan
    }

    /// Creates a namespace (remembered for deletion) with IPv6 off.
    fn add_ns(&mut self, ns: &str) {
        run(&["ip", "netns", "add", ns]);
        self.created.push(ns.to_string());
        in_netns(ns, || {
            for conf in ["all", "default"] {
                let p = format!("/proc/sys/net/ipv6/conf/{conf}/disable_ipv6");
                if std::path::Path::new(&p).exists() {
                    std::fs::write(&p, "1").unwrap_or_else(|e| panic!("write {p}: {e}"));
                }
            }
        });
    }

    pub fn host(&self, i: usize) -> &Host {
        &self.hosts[i]
    }

    /// Opens a live link on host `i`'s interface, inside its namespace.
    pub fn open(&self, i: usize, opts: LiveOptions) -> Result<LiveLink, LinkError> {
        let h = &self.hosts[i];
        in_netns(&h.ns, || LiveLink::open(&h.dev, opts))
    }

    /// Opens a live link on host `i` with the default options, or panics.
    pub fn link(&self, i: usize) -> LiveLink {
        self.open(i, LiveOptions::default())
            .unwrap_or_else(|e| panic!("open {}: {e}", self.hosts[i].dev))
    }

    /// Runs `f` on a thread inside host `i`'s namespace.
    pub fn in_host<T: Send>(&self, i: usize, f: impl FnOnce() -> T + Send) -> T {
        in_netns(&self.hosts[i].ns, f)
    }

    /// `ip -n HOST args...`: its standard output (panics on failure).
    pub fn ip(&self, i: usize, args: &[&str]) -> String {
        let mut all = vec!["ip", "-n", self.hosts[i].ns.as_str()];
        all.extend_from_slice(args);
        run(&all)
    }

    /// `ip netns exec HOST args...`: its standard output (panics on failure).
    pub fn exec(&self, i: usize, args: &[&str]) -> String {
        let mut all = vec!["ip", "netns", "exec", self.hosts[i].ns.as_str()];
        all.extend_from_slice(args);
        run(&all)
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        for ns in self.created.iter().rev() {
            match Command::new("ip").args(["netns", "del", ns]).output() {
                Ok(o) if o.status.success() => {}
                Ok(o) => eprintln!(
                    "cleanup: ip netns del {ns}: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
                Err(e) => eprintln!("cleanup: ip netns del {ns}: {e}"),
            }
        }
    }
}

/// Runs `f` on a new thread that first enters the network namespace `ns`.
/// Sockets it opens stay in that namespace after the thread ends.
pub fn in_netns<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> T {
    let path = format!("/var/run/netns/{ns}");
    std::thread::scope(|s| {
        let handle = s.spawn(|| {
            let file = File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
            // SAFETY: setns on a namespace file; affects this thread only.
            let r = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(r, 0, "setns into {ns}: {}", std::io::Error::last_os_error());
            f()
        });
        match handle.join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Runs a command; its standard output, or a panic with its error output.
pub fn run(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", args[0]));
    assert!(
        out.status.success(),
        "`{}` failed ({}): {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn mac_str(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

// ---------------------------------------------------------------------------
// Helpers for scenario tests (scenarios_live.rs): added, not changing the above.
// ---------------------------------------------------------------------------

impl Lan {
    /// Gives every host the addresses of /24 number `net` of 198.18.0.0/15
    /// (0 to 511): host i gets 198.(18 + net/256).(net%256).(i+1) and MAC
    /// 02:00:00:(net/256):(net%256):(i+1). LANs are separate layer-2
    /// domains, so two LANs may use the same numbers; recordings made on a
    /// LAN renumbered to 0 read the same every time.
    pub fn renumber(&mut self, net: u16) {
        assert!(net < 512, "198.18.0.0/15 holds 512 /24 networks");
        let [net_hi, net_lo] = net.to_be_bytes();
        for i in 0..self.hosts.len() {
            let mac = [0x02, 0, 0, net_hi, net_lo, i as u8 + 1];
            let ip = Ipv4Addr::new(198, 18 + net_hi, net_lo, i as u8 + 1);
            let dev = self.hosts[i].dev.clone();
            self.ip(i, &["link", "set", "dev", &dev, "down"]);
            self.ip(i, &["link", "set", "dev", &dev, "address", &mac_str(&mac)]);
            self.ip(i, &["addr", "flush", "dev", &dev]);
            self.ip(i, &["addr", "add", &format!("{ip}/24"), "dev", &dev]);
            self.ip(i, &["link", "set", "dev", &dev, "up"]);
            self.hosts[i].mac = mac;
            self.hosts[i].ip = ip;
        }
    }

    /// Replaces host `i`'s macvlan by a new one with the same name, MAC and
    /// address. The kernel gives each macvlan its own hash for its
    /// multicast filter, so a group address the old device happened to
    /// let through is likely dropped by the new one.
    pub fn recreate_dev(&self, i: usize) {
        let h = self.hosts[i].clone();
        let lower = format!("{}s", self.prefix);
        self.ip(i, &["link", "del", "dev", &h.dev]);
        run(&[
            "ip",
            "-n",
            &self.switch_ns,
            "link",
            "add",
            "name",
            &h.dev,
            "link",
            &lower,
            "address",
            &mac_str(&h.mac),
            "type",
            "macvlan",
            "mode",
            "bridge",
        ]);
        run(&[
            "ip",
            "-n",
            &self.switch_ns,
            "link",
            "set",
            "dev",
            &h.dev,
            "netns",
            &h.ns,
        ]);
        self.ip(i, &["addr", "add", &format!("{}/24", h.ip), "dev", &h.dev]);
        self.ip(i, &["link", "set", "dev", &h.dev, "up"]);
    }

    /// `ip netns exec HOST args...` with the standard output and error
    /// captured, whatever its exit status.
    pub fn exec_output(
        &self,
        i: usize,
        args: &[&str],
        dir: &std::path::Path,
    ) -> std::process::Output {
        Command::new("ip")
            .args(["netns", "exec", self.hosts[i].ns.as_str()])
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run ip netns exec: {e}"))
    }

    /// Starts `ip netns exec HOST args...` in the background, its output piped.
    pub fn spawn(&self, i: usize, args: &[&str], dir: &std::path::Path) -> std::process::Child {
        Command::new("ip")
            .args(["netns", "exec", self.hosts[i].ns.as_str()])
            .args(args)
            .current_dir(dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run ip netns exec: {e}"))
    }

    /// How many packet sockets are open in host `i`'s namespace
    /// (/proc/net/packet as seen from there).
    pub fn packet_sockets(&self, i: usize) -> usize {
        in_netns(&self.hosts[i].ns, || {
            std::fs::read_to_string("/proc/thread-self/net/packet")
                .map(|t| t.lines().count().saturating_sub(1))
                .unwrap_or(0)
        })
    }

    /// Waits until host `i` has at least `n` packet sockets open (a capture
    /// started by another process is listening); panics after `timeout`.
    pub fn wait_packet_sockets(&self, i: usize, n: usize, timeout: std::time::Duration) {
        let end = std::time::Instant::now() + timeout;
        while self.packet_sockets(i) < n {
            assert!(
                std::time::Instant::now() < end,
                "no packet socket opened in {} within {timeout:?}",
                self.hosts[i].ns
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// Every frame `link` receives within `dur` (panics on a link error).
pub fn collect(
    link: &mut impl pktscript::link::Link,
    dur: std::time::Duration,
) -> Vec<pktscript::link::Frame> {
    let end = std::time::Instant::now() + dur;
    let mut out = Vec::new();
    loop {
        let left = end.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return out;
        }
        match link.recv(Some(left)) {
            Ok(Some(f)) => out.push(f),
            Ok(None) => return out,
            Err(e) => panic!("recv on {}: {e}", link.name()),
        }
    }
}

/// What a command printed and how it ended.
#[derive(Debug)]
pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<std::process::Output> for Run {
    fn from(o: std::process::Output) -> Run {
        Run {
            status: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

// ---------------------------------------------------------------------------
// IPv6 on test LANs (ipv6_live.rs): added, not changing the above.
// ---------------------------------------------------------------------------

impl Lan {
    /// Host `i`'s IPv6 address once [`Lan::enable_ipv6`] gave it one:
    /// fd00::(i+1), in fd00::/64 (unique local addresses, RFC 4193). Every
    /// LAN is its own layer-2 domain, so LANs may share these numbers.
    pub fn ip6(&self, i: usize) -> std::net::Ipv6Addr {
        std::net::Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, i as u16 + 1)
    }

    /// Turns IPv6 on for host `i`'s interface with the address
    /// [`Lan::ip6`]`/64`, and nothing else: no link-local address
    /// (`addr_gen_mode` 1), no duplicate address detection (`nodad`,
    /// `accept_dad` 0), no router solicitations or advertisements. The host
    /// then answers neighbour solicitations and echo requests, and sends
    /// nothing unasked but multicast listener reports. Its IPv4 address stays.
    pub fn enable_ipv6(&self, i: usize) {
        let dev = self.hosts[i].dev.clone();
        in_netns(&self.hosts[i].ns, || {
            for (key, value) in [
                ("addr_gen_mode", "1"),
                ("accept_dad", "0"),
                ("dad_transmits", "0"),
                ("router_solicitations", "0"),
                ("accept_ra", "0"),
                ("disable_ipv6", "0"),
            ] {
                let p = format!("/proc/sys/net/ipv6/conf/{dev}/{key}");
                std::fs::write(&p, value).unwrap_or_else(|e| panic!("write {p}: {e}"));
            }
        });
        let addr = format!("{}/64", self.ip6(i));
        self.ip(i, &["-6", "addr", "add", &addr, "dev", &dev, "nodad"]);
    }

    /// [`Lan::enable_ipv6`] on every host.
    pub fn enable_ipv6_all(&self) {
        for i in 0..self.hosts.len() {
            self.enable_ipv6(i);
        }
    }

    /// [`Lan::recreate_dev`] for a host with IPv6: the new device gets the
    /// same IPv6 setup and address again.
    pub fn recreate_dev6(&self, i: usize) {
        self.recreate_dev(i);
        self.enable_ipv6(i);
    }
}

// ---------------------------------------------------------------------------
// Two hosts on a veth pair, with checksums in the captured bytes
// (crosscheck.rs): added, not changing the above.
// ---------------------------------------------------------------------------

impl Lan {
    /// Two hosts joined by a veth pair, no switch: each end of the pair is
    /// a host's interface, with the MAC and IPv4 address [`Lan::new`]
    /// would give it and IPv6 off until [`Lan::enable_ipv6`]. Unlike a
    /// macvlan, a veth end can leave checksums to the kernel (see
    /// [`Lan::tx_checksum_off`]). [`Lan::recreate_dev`] does not apply.
    pub fn veth_pair() -> Lan {
        require_root();
        let pid = std::process::id();
        let count = COUNTER.fetch_add(1, Ordering::SeqCst);
        let prefix = format!("pk{pid:x}v{count}");
        let net = (pid.wrapping_mul(37).wrapping_add(count) % 512) as u16;
        let [net_hi, net_lo] = net.to_be_bytes();
        let mut lan = Lan {
            switch_ns: String::new(),
            prefix: prefix.clone(),
            hosts: Vec::new(),
            created: Vec::new(),
        };
        let ns: Vec<String> = (0..2).map(|i| format!("{prefix}h{i}")).collect();
        let dev: Vec<String> = (0..2).map(|i| format!("{prefix}e{i}")).collect();
        for n in &ns {
            lan.add_ns(n);
        }
        // Made in the hosts' namespaces, never in the root one.
        run(&[
            "ip", "-n", &ns[0], "link", "add", "name", &dev[0], "type", "veth", "peer", "name",
            &dev[1], "netns", &ns[1],
        ]);
        for i in 0..2 {
            let mac = [0x02, 0, 0, net_hi, net_lo, i as u8 + 1];
            let ip = Ipv4Addr::new(198, 18 + net_hi, net_lo, i as u8 + 1);
            let (n, d) = (&ns[i], &dev[i]);
            run(&[
                "ip",
                "-n",
                n,
                "link",
                "set",
                "dev",
                d,
                "address",
                &mac_str(&mac),
            ]);
            run(&["ip", "-n", n, "addr", "add", &format!("{ip}/24"), "dev", d]);
            run(&["ip", "-n", n, "link", "set", "dev", "lo", "up"]);
            run(&["ip", "-n", n, "link", "set", "dev", d, "up"]);
            lan.hosts.push(Host {
                ns: n.clone(),
                dev: d.clone(),
                mac,
                ip,
            });
        }
        lan
    }

    /// Turns off transmit checksum offload on host `i`'s interface
    /// (`ethtool -K DEV tx off`), so that the kernel writes whole UDP and
    /// TCP checksums before a capture sees the frames. With offload on, a
    /// capture holds only the pseudo-header's partial sum of what the
    /// host sends, and of what its veth peer sends it, which tshark
    /// rightly calls bad. A veth end allows it; a macvlan does not.
    pub fn tx_checksum_off(&self, i: usize) {
        /// `struct ethtool_value` of linux/ethtool.h.
        #[repr(C)]
        struct EthtoolValue {
            cmd: u32,
            data: u32,
        }
        const ETHTOOL_STXCSUM: u32 = 0x17;
        let dev = self.hosts[i].dev.clone();
        in_netns(&self.hosts[i].ns, || {
            let mut value = EthtoolValue {
                cmd: ETHTOOL_STXCSUM,
                data: 0,
            };
            // SAFETY: ifreq is plain data, valid when zeroed.
            let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
            for (d, s) in ifr.ifr_name.iter_mut().zip(dev.bytes()) {
                *d = s as libc::c_char;
            }
            ifr.ifr_ifru.ifru_data = (&mut value as *mut EthtoolValue).cast();
            // SAFETY: a socket for the ioctl, closed below.
            let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0) };
            assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
            // SAFETY: SIOCETHTOOL reads the ifreq and the ethtool_value it
            // points to, both alive for the call.
            let r = unsafe { libc::ioctl(fd, libc::SIOCETHTOOL, &mut ifr) };
            let err = std::io::Error::last_os_error();
            // SAFETY: fd is ours.
            unsafe { libc::close(fd) };
            assert_eq!(r, 0, "ethtool -K {dev} tx off (SIOCETHTOOL): {err}");
        });
    }
}
