//! The scenario recordings in tests/replay/, shared by the test that
//! records them on a namespace LAN (scenarios_live.rs,
//! `replay_recordings_match_live`) and the tests that replay them without
//! privileges (scenarios_replay.rs).
//!
//! For each case NAME:
//!
//! - `NAME.pcap`: the frames the script's host received while the script
//!   ran live (what the replay feeds back);
//! - `NAME.sent.pcap`: the frames it sent live (what the replay must send);
//! - `NAME.out`: what the script prints when replayed, with times masked
//!   (see [`mask_times`]).
//!
//! The recording LAN is renumbered to 198.18.0.0/24: host 0, which runs
//! the script, is 198.18.0.1 / 02:00:00:00:00:01; hosts 1 to 3 are
//! 198.18.0.2 to .4 (MAC ...:02 to ...:04). Host 3 has ARP switched off (it
//! answers no ARP request); the hosts in `promisc` have their interface in
//! promiscuous mode, those in `no_echo` ignore ICMP echo requests.

#![allow(dead_code)]

/// One recorded run of a scenario script.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    pub name: &'static str,
    /// Path from the crate root.
    pub script: &'static str,
    /// Arguments (replaying adds `--replay`, `--mac`, `--ip`, `--write-sent` before them).
    pub args: &'static [&'static str],
    /// Expected exit status.
    pub status: i32,
    /// Hosts in promiscuous mode during the recording.
    pub promisc: &'static [usize],
    /// Hosts ignoring ICMP echo requests during the recording.
    pub no_echo: &'static [usize],
}

/// Our addresses on the recording LAN.
pub const OUR_MAC: &str = "02:00:00:00:00:01";
pub const OUR_IP: &str = "198.18.0.1/24";
/// Hosts of the recording LAN (host 0 runs the scripts).
pub const HOSTS: usize = 4;
/// The host whose ARP is off.
pub const SILENT: usize = 3;

const fn case(
    name: &'static str,
    script: &'static str,
    args: &'static [&'static str],
    status: i32,
) -> Case {
    Case {
        name,
        script,
        args,
        status,
        promisc: &[],
        no_echo: &[],
    }
}

pub const CASES: &[Case] = &[
    case("promisc_not", "scripts/promisc.rhai", &["198.18.0.2"], 1),
    Case {
        promisc: &[1],
        ..case("promisc_yes", "scripts/promisc.rhai", &["198.18.0.2"], 0)
    },
    Case {
        promisc: &[1],
        ..case(
            "promisc_thorough",
            "scripts/promisc.rhai",
            &["--thorough", "198.18.0.2"],
            0,
        )
    },
    case("promisc_silent", "scripts/promisc.rhai", &["198.18.0.4"], 2),
    Case {
        promisc: &[1],
        ..case(
            "promisc_range",
            "scripts/promisc.rhai",
            &["198.18.0.0/28"],
            0,
        )
    },
    case("wol", "scripts/wol.rhai", &["02:00:00:00:00:0a"], 0),
    case(
        "wol_udp",
        "scripts/wol.rhai",
        &[
            "--udp",
            "198.18.0.255",
            "--password",
            "01:02:03:04:05:06",
            "02:00:00:00:00:0a",
        ],
        0,
    ),
    case("forge_echo", "scripts/forge_echo.rhai", &["198.18.0.2"], 0),
    case(
        "forge_echo_spoof",
        "scripts/forge_echo.rhai",
        &["--spoof", "198.18.0.3", "198.18.0.2"],
        0,
    ),
    case(
        "ping",
        "scripts/ping.rhai",
        &["-c", "3", "-i", "0.2", "198.18.0.2"],
        0,
    ),
    Case {
        no_echo: &[2],
        ..case(
            "ping_lost",
            "scripts/ping.rhai",
            &["-c", "2", "-i", "0", "-W", "0.5", "198.18.0.3"],
            1,
        )
    },
    case(
        "arping",
        "scripts/arping.rhai",
        &["-c", "3", "-i", "0.2", "198.18.0.2"],
        0,
    ),
    case(
        "arping_silent",
        "scripts/arping.rhai",
        &["-c", "2", "-i", "0", "-W", "0.5", "198.18.0.4"],
        1,
    ),
    case(
        "arp_scan",
        "scripts/arp_scan.rhai",
        &["-t", "1", "198.18.0.0/28"],
        0,
    ),
];

/// The arguments that replay `case` from `pcap`, writing what it sends to
/// `sent` (after the script path).
pub fn replay_args(case: &Case, pcap: &std::path::Path, sent: &std::path::Path) -> Vec<String> {
    let mut args = vec![
        case.script.to_string(),
        "--replay".to_string(),
        pcap.display().to_string(),
        "--write-sent".to_string(),
        sent.display().to_string(),
        "--mac".to_string(),
        OUR_MAC.to_string(),
        "--ip".to_string(),
        OUR_IP.to_string(),
    ];
    args.extend(case.args.iter().map(|a| a.to_string()));
    args
}

/// The case named `name`.
pub fn by_name(name: &str) -> &'static Case {
    CASES
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no replay case {name}"))
}

/// Replaces every time in a script's output by `N`: a run of digits, `.`,
/// `-` and `/` just before `ms` or ` ms` ("time=0.081 ms" -> "time=N ms",
/// "= 0.1/0.2/0.3/0.0 ms" -> "= N ms"). Replayed times are measured against
/// the capture's clock and change with every recording.
pub fn mask_times(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let chars: Vec<char> = line.chars().collect();
        let mut keep = vec![true; chars.len()];
        let mut masked_at = Vec::new();
        for i in 0..chars.len() {
            if chars[i] != 'm' || chars.get(i + 1) != Some(&'s') {
                continue;
            }
            // "ms" must end a word.
            if chars.get(i + 2).is_some_and(|c| c.is_alphanumeric()) {
                continue;
            }
            let mut j = i;
            if j > 0 && chars[j - 1] == ' ' {
                j -= 1;
            }
            let end = j;
            while j > 0 && (chars[j - 1].is_ascii_digit() || "./-".contains(chars[j - 1])) {
                j -= 1;
            }
            if j < end && chars[j..end].iter().any(|c| c.is_ascii_digit()) {
                for k in keep.iter_mut().take(end).skip(j) {
                    *k = false;
                }
                masked_at.push(j);
            }
        }
        for (i, c) in chars.iter().enumerate() {
            if masked_at.contains(&i) {
                out.push('N');
            }
            if keep[i] {
                out.push(*c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::mask_times;

    #[test]
    fn masks_times() {
        assert_eq!(
            mask_times("64 bytes: icmp_seq=1 ttl=64 time=-2249.799 ms\n"),
            "64 bytes: icmp_seq=1 ttl=64 time=N ms\n"
        );
        assert_eq!(
            mask_times("rtt min/avg/max/mdev = 0.1/0.2/0.3/0.0 ms\n"),
            "rtt min/avg/max/mdev = N ms\n"
        );
        assert_eq!(
            mask_times("reply [02:00]  0.032ms\n"),
            "reply [02:00]  Nms\n"
        );
        assert_eq!(mask_times("no time 3 msgs\n"), "no time 3 msgs\n");
    }
}
