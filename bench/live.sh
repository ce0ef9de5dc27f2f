#!/usr/bin/env bash
# pktscript on a live link, beside trafgen, tcpreplay and Scapy, on a LAN of
# two hosts in network namespaces that this script makes (and removes on exit).
#
#   bench/live.sh                # measure, print markdown tables
#
# What is measured (host A sends, host B receives or answers):
#   1. sending FRAMES 60-byte frames A -> B: pktscript `sendp(array)` (the
#      call alone, timed in the script), trafgen (the process, wall time),
#      `tcpreplay --topspeed` and `pktscript send --fast` on the same pcap
#      (their own figures); B's kernel counter of frames received says
#      whether all arrived;
#   1b. replaying a capture of mixed frames (bench/data/mixed-100k.pcap, made
#      by bench/run.sh, else generated here) REPLAY_LOOPS times: `tcpreplay
#      --topspeed` and `pktscript send --fast`, counted at the switch port;
#   2. round trips A <-> B: an ARP who-has (srp1) and an ICMP echo (sr1),
#      TRIES times with pktscript, SCAPY_TRIES times with Scapy; the
#      round-trip time is the reply's kernel receive time minus the request's
#      send time (pktscript: reply.time_ns - sent.time_ns, as srp/sr return
#      them; Scapy: r.time - s.sent_time), and the wall time of one call.
#
# Environment:
#   PKTSCRIPT    the binary (default target/release/pktscript, built if missing)
#   FRAMES       frames to send (default 1000000)
#   TRIES        pktscript round trips (default 1000)
#   SCAPY_TRIES  Scapy round trips (default 100)
#   TRAFGEN_CPUS trafgen's -P (default 1: one sending process, as the others)
#   REPLAY_LOOPS times the mixed capture is replayed (default 10)
#
# Needs root (namespaces, raw sockets). trafgen (Debian: netsniff-ng),
# tcpreplay and Scapy are optional: a missing one is skipped with a hint.
# The LAN: a namespace holding a veth pair (the "switch"), and one namespace
# per host with a macvlan (bridge mode) on it; addresses in 198.18.0.0/15,
# MACs 02:00:00:xx:xx:xx; nothing in the root namespace. trafgen runs with
# --no-sock-mem --notouch-irq so that it leaves the system's socket memory and IRQ settings alone.
set -euo pipefail

cd "$(dirname "$0")/.."
PKTSCRIPT=${PKTSCRIPT:-target/release/pktscript}
FRAMES=${FRAMES:-1000000}
TRIES=${TRIES:-1000}
SCAPY_TRIES=${SCAPY_TRIES:-100}
TRAFGEN_CPUS=${TRAFGEN_CPUS:-1}
REPLAY_LOOPS=${REPLAY_LOOPS:-10}
for a in "$@"; do
    case $a in
        -h | --help) sed -n '2,35p' "$0"; exit 0 ;;
        *) echo "live.sh: unknown argument $a (try --help)" >&2; exit 2 ;;
    esac
done

say() { printf '%s\n' "$*" >&2; }
die() { say "live.sh: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (network namespaces, raw sockets): sudo -E bench/live.sh"
command -v ip >/dev/null || die "needs ip (apt-get install -y iproute2)"
if [ ! -x "$PKTSCRIPT" ]; then
    [ "$PKTSCRIPT" = target/release/pktscript ] || die "$PKTSCRIPT is not executable"
    say "building target/release/pktscript"
    cargo build --release --quiet
fi
PKTSCRIPT=$(realpath "$PKTSCRIPT")

# ---- the LAN ------------------------------------------------------------------

P="pkb$$"                          # unique prefix: parallel runs do not collide
SW="${P}sw"; NA="${P}a"; NB="${P}b"
DA="${P}ea"; DB="${P}eb"
NET=$(( $$ % 256 ))
IPA="198.19.$NET.1"; IPB="198.19.$NET.2"
MACA=$(printf '02:00:00:13:%02x:01' "$NET"); MACB=$(printf '02:00:00:13:%02x:02' "$NET")
TMP=$(mktemp -d)

cleanup() {
    for ns in "$NA" "$NB" "$SW"; do ip netns del "$ns" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$SW"
# No IPv6 on the switch either: its veth ends would send neighbour discovery
# and MLD frames, which the counters below would count as frames received.
ip netns exec "$SW" sh -c 'for c in all default; do echo 1 > /proc/sys/net/ipv6/conf/$c/disable_ipv6; done'
ip -n "$SW" link add name "${P}s" type veth peer name "${P}p"
ip -n "$SW" link set "${P}s" up
ip -n "$SW" link set "${P}p" up
for h in a b; do
    ns="${P}$h"; dev="${P}e$h"
    if [ $h = a ]; then mac=$MACA; addr=$IPA; else mac=$MACB; addr=$IPB; fi
    ip netns add "$ns"
    ip netns exec "$ns" sh -c 'for c in all default; do echo 1 > /proc/sys/net/ipv6/conf/$c/disable_ipv6; done'
    ip -n "$SW" link add name "$dev" link "${P}s" address "$mac" type macvlan mode bridge
    ip -n "$SW" link set "$dev" netns "$ns"
    ip -n "$ns" addr add "$addr/24" dev "$dev"
    ip -n "$ns" link set lo up
    ip -n "$ns" link set "$dev" up
done
in_a() { ip netns exec "$NA" "$@"; }
in_b() { ip netns exec "$NB" "$@"; }
rx_packets() { in_b cat "/sys/class/net/$DB/statistics/rx_packets"; }
say "LAN: $NA ($IPA, $MACA) and $NB ($IPB, $MACB) on switch $SW"

fmt() { awk -v v="$1" 'BEGIN { printf "%.0f", v }' | sed ':a; s/\B[0-9]\{3\}\>/,&/; ta'; }    # 1234567 -> 1,234,567
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }
now() { date +%s.%N; }

# ---- 1. sending ---------------------------------------------------------------

declare -a SEND_ROWS=()
add_send_row() {   # tool frames seconds received
    local r; r=$(rate "$2" "$3")
    SEND_ROWS+=("| $1 | $(fmt "$r") | $(fmt "$4") of $(fmt "$2") |")
    say "  $1: $(fmt "$r") frames/s, $4 of $2 received"
}

say "sending $FRAMES frames of 60 bytes, A -> B"
before=$(rx_packets)
out=$(in_a "$PKTSCRIPT" -e "
    let f = Ether(#{src: \"$MACA\", dst: \"$MACB\", type: 0x88b5}) / Raw(blob(46, 0x5a));
    let a = [];
    a.pad($FRAMES, f);
    let t0 = timestamp();
    let n = sendp(a, \"$DA\");
    print(\`\${n} \${t0.elapsed}\`);")
sleep 0.5
received=$(( $(rx_packets) - before ))
read -r n secs <<<"$out"
[ "$n" = "$FRAMES" ] || die "sendp sent $n frames, not $FRAMES"
add_send_row 'pktscript `sendp(array)`' "$FRAMES" "$secs" "$received"

# The same frame for the others.
FRAME_HEX=$(printf '%s' "$MACB$MACA" | tr -d ':')88b5$(printf '5a%.0s' $(seq 46))
if command -v trafgen >/dev/null; then
    {
        printf '{ '
        printf '%s' "$FRAME_HEX" | sed 's/../0x&, /g; s/, $//'
        printf ' }\n'
    } > "$TMP/frame.cfg"
    before=$(rx_packets)
    t0=$(now)
    in_a trafgen --no-sock-mem --notouch-irq --no-cpu-stats -P "$TRAFGEN_CPUS" -o "$DA" -i "$TMP/frame.cfg" -n "$FRAMES" > "$TMP/trafgen.log" 2>&1 \
        || { cat "$TMP/trafgen.log" >&2; die "trafgen failed"; }
    t1=$(now)
    sleep 0.5
    received=$(( $(rx_packets) - before ))
    add_send_row "trafgen -P $TRAFGEN_CPUS" "$FRAMES" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$received"
else
    say "  trafgen: not installed (apt-get install -y netsniff-ng): skipped"
    SEND_ROWS+=("| trafgen | not installed (\`apt-get install -y netsniff-ng\`) | |")
fi

# 1,000 copies of the frame in a pcap, replayed FRAMES/1000 times by
# tcpreplay (from memory, -K) and by `pktscript send --fast --loop`.
"$PKTSCRIPT" -e "
    let f = parse(from_hex(\"$FRAME_HEX\"));
    let a = [];
    a.pad(1000, f);
    write_pcap(\"$TMP/frames.pcap\", a);" >/dev/null
loops=$(( FRAMES / 1000 ))

# tcpreplay_run FILE LOOPS COUNTER: runs tcpreplay --topspeed in A; sets SECS
# (its own "sent in" figure) and RECEIVED (COUNTER's increase).
tcpreplay_run() {
    local before; before=$($3)
    in_a tcpreplay -i "$DA" --topspeed -K --loop="$2" "$1" > "$TMP/tcpreplay.log" 2>&1 \
        || { cat "$TMP/tcpreplay.log" >&2; die "tcpreplay failed"; }
    sleep 0.5
    RECEIVED=$(( $($3) - before ))
    # "Actual: 1000000 packets (60000000 bytes) sent in 3.71 seconds"
    SECS=$(sed -n 's/.*Actual: .* sent in \([0-9.]*\) seconds.*/\1/p' "$TMP/tcpreplay.log" | head -1)
    [ -n "$SECS" ] || { cat "$TMP/tcpreplay.log" >&2; die "cannot read tcpreplay's figures"; }
}
# pktscript_send_run FILE LOOPS COUNTER: `pktscript send IFACE --fast --loop`
# in A; sets SECS (its own figure: "N packets sent on IFACE in S s", from the
# first packet read to the last sent), SENT and RECEIVED.
pktscript_send_run() {
    local before; before=$($3)
    in_a "$PKTSCRIPT" send "$DA" "$1" --fast --loop "$2" > "$TMP/send.log" 2>&1 \
        || { cat "$TMP/send.log" >&2; die "pktscript send failed"; }
    sleep 0.5
    RECEIVED=$(( $($3) - before ))
    read -r SENT SECS < <(sed -n 's/^\([0-9]*\) packets\{0,1\} sent on .* in \([0-9.]*\) s$/\1 \2/p' "$TMP/send.log")
    [ -n "${SECS:-}" ] || { cat "$TMP/send.log" >&2; die "cannot read pktscript send's figures"; }
}

if command -v tcpreplay >/dev/null; then
    tcpreplay_run "$TMP/frames.pcap" "$loops" rx_packets
    add_send_row "tcpreplay --topspeed" "$(( loops * 1000 ))" "$SECS" "$RECEIVED"
else
    say "  tcpreplay: not installed (apt-get install -y tcpreplay): skipped"
    SEND_ROWS+=("| tcpreplay --topspeed | not installed (\`apt-get install -y tcpreplay\`) | |")
fi
pktscript_send_run "$TMP/frames.pcap" "$loops" rx_packets
[ "$SENT" = "$(( loops * 1000 ))" ] || die "pktscript send sent $SENT frames, not $(( loops * 1000 ))"
add_send_row "pktscript \`send --fast --loop $loops\` (the same pcap)" "$SENT" "$SECS" "$RECEIVED"

# ---- 1b. replaying a capture ------------------------------------------------------

# The mixed frames of bench/gen.rhai (60 to 1,458 bytes, ARP, ICMP, UDP, TCP,
# 802.1Q), sent A -> the switch: their addresses (198.18.0.0/15,
# 02:00:00:0x:xx:xx) belong to no host of the LAN, so they leave A's macvlan
# for the switch's veth, whose peer's kernel counter says whether all arrived.
declare -a REPLAY_ROWS=()
add_replay_row() {   # tool frames bytes seconds received
    local r; r=$(rate "$2" "$4")
    REPLAY_ROWS+=("| $1 | $(fmt "$r") | $(awk -v b="$3" -v s="$4" 'BEGIN { printf "%.0f", b * 8 / s / 1e6 }') | $(fmt "$5") of $(fmt "$2") |")
    say "  $1: $(fmt "$r") frames/s, $5 of $2 received"
}
switch_rx() { ip netns exec "$SW" cat "/sys/class/net/${P}p/statistics/rx_packets"; }
MIXED=bench/data/mixed-100k.pcap
if [ ! -s "$MIXED" ] || [ "$(head -c 4 "$MIXED" | od -An -tx1 | tr -d ' \n')" != d4c3b2a1 ]; then
    MIXED=$TMP/mixed-100k.pcap
    "$PKTSCRIPT" bench/gen.rhai "$MIXED" 100000 >/dev/null
fi
MIXED_N=100000
MIXED_BYTES=$(( $(stat -c %s "$MIXED") - 24 - 16 * MIXED_N ))
say "replaying $MIXED ($MIXED_N mixed frames) $REPLAY_LOOPS times, A -> switch"
if command -v tcpreplay >/dev/null; then
    tcpreplay_run "$MIXED" "$REPLAY_LOOPS" switch_rx
    add_replay_row "tcpreplay --topspeed --loop=$REPLAY_LOOPS" "$(( MIXED_N * REPLAY_LOOPS ))" "$(( MIXED_BYTES * REPLAY_LOOPS ))" "$SECS" "$RECEIVED"
else
    REPLAY_ROWS+=("| tcpreplay --topspeed | not installed (\`apt-get install -y tcpreplay\`) | | |")
fi
pktscript_send_run "$MIXED" "$REPLAY_LOOPS" switch_rx
[ "$SENT" = "$(( MIXED_N * REPLAY_LOOPS ))" ] || die "pktscript send sent $SENT frames, not $(( MIXED_N * REPLAY_LOOPS ))"
add_replay_row "pktscript \`send --fast --loop $REPLAY_LOOPS\`" "$SENT" "$(( MIXED_BYTES * REPLAY_LOOPS ))" "$SECS" "$RECEIVED"

# ---- 2. round trips -------------------------------------------------------------

declare -a RTT_ROWS=()
add_rtt_row() {   # exchange tool tries answered rtt_median_us wall_median_us
    RTT_ROWS+=("| $1 | $2 | $3 | $4 | $(awk -v v="$5" 'BEGIN { printf "%.1f µs", v }') | $(awk -v v="$6" 'BEGIN { if (v >= 1000) printf "%.2f ms", v / 1000; else printf "%.1f µs", v }') |")
    say "  $1, $2: $4 of $3 answered, round trip median $(awk -v v="$5" 'BEGIN { printf "%.1f", v }') µs, call median $(awk -v v="$6" 'BEGIN { printf "%.0f", v }') µs"
}

say "round trips A <-> B"
PK_RTT='
import "net" as net;
let rtts = [];
let walls = [];
for i in 0..TRIES {
    let t0 = timestamp();
    let r = EXCHANGE;
    walls.push(t0.elapsed * 1.0e6);
    if r.answered.len() > 0 {
        rtts.push((r.answered[0][1].time_ns - r.answered[0][0].time_ns).to_float() / 1000.0);
    }
}
print(`${rtts.len()} ${net::median(rtts)} ${net::median(walls)}`);'
ARP_EX="srp([Ether(#{src: \"$MACA\"}) / ARP(#{hwsrc: \"$MACA\", psrc: \"$IPA\", pdst: \"$IPB\"})], #{iface: \"$DA\", timeout: 1})"
ICMP_EX="sr([IPv4(#{dst: \"$IPB\"}) / ICMP(#{type: \"echo-request\", id: 77, seq: i}) / Raw(blob(56, 0))], #{timeout: 1})"
for ex in ARP ICMP; do
    if [ $ex = ARP ]; then code=${PK_RTT//EXCHANGE/$ARP_EX}; label="ARP who-has (srp1)"; else code=${PK_RTT//EXCHANGE/$ICMP_EX}; label="ICMP echo (sr1)"; fi
    code=${code//TRIES/$TRIES}
    read -r ok rtt wall < <(in_a "$PKTSCRIPT" -e "$code")
    add_rtt_row "$label" pktscript "$TRIES" "$ok" "$rtt" "$wall"
done

if command -v python3 >/dev/null && python3 -c 'import scapy' 2>/dev/null; then
    cat > "$TMP/scapy_rtt.py" <<'EOF'
import statistics, sys, time
from scapy.all import ARP, ICMP, IP, Ether, Raw, conf, sr, srp
kind, dev, src_mac, dst_ip, tries = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
conf.verb = 0
rtts, walls = [], []
for i in range(tries):
    t0 = time.perf_counter()
    if kind == "ARP":
        ans, _ = srp(Ether(src=src_mac, dst="ff:ff:ff:ff:ff:ff") / ARP(hwsrc=src_mac, pdst=dst_ip), iface=dev, timeout=1)
    else:
        ans, _ = sr(IP(dst=dst_ip) / ICMP(id=78, seq=i) / Raw(b"\0" * 56), timeout=1)
    walls.append((time.perf_counter() - t0) * 1e6)
    if ans:
        s, r = ans[0]
        rtts.append((r.time - s.sent_time) * 1e6)
print(len(rtts), statistics.median(rtts) if rtts else "nan", statistics.median(walls))
EOF
    for ex in ARP ICMP; do
        if [ $ex = ARP ]; then label="ARP who-has (srp1)"; else label="ICMP echo (sr1)"; fi
        read -r ok rtt wall < <(in_a python3 "$TMP/scapy_rtt.py" $ex "$DA" "$MACA" "$IPB" "$SCAPY_TRIES")
        add_rtt_row "$label" "Scapy $(python3 -c 'import scapy; print(scapy.__version__)')" "$SCAPY_TRIES" "$ok" "$rtt" "$wall"
    done
else
    say "  Scapy: not installed (pip install scapy): skipped"
    RTT_ROWS+=("| srp1 / sr1 | Scapy | not installed (\`pip install scapy\`) | | | |")
fi

# ---- the tables ---------------------------------------------------------------

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo
echo "Live link, two hosts in network namespaces (macvlan, bridge mode, on one veth); $(nproc) CPUs ($cpu), kernel $(uname -r)."
echo
echo "| Sending $(fmt "$FRAMES") frames of 60 bytes | Frames/s | Received by the other host (its kernel's counter) |"
echo "|---|---|---|"
printf '%s\n' "${SEND_ROWS[@]}"
echo
echo "| Replaying \`$(basename "$MIXED")\` ($(fmt "$MIXED_N") mixed frames, $(fmt "$(( MIXED_BYTES / MIXED_N ))") bytes on average) $REPLAY_LOOPS times | Frames/s | Mbit/s | Received by the switch port (its kernel's counter) |"
echo "|---|---|---|---|"
printf '%s\n' "${REPLAY_ROWS[@]}"
echo
echo "| Round trip | Tool | Tries | Answered | Round-trip time, median | Wall time per call, median |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${RTT_ROWS[@]}"
echo
echo "Round-trip time: the reply's kernel receive time minus the request's send time. Wall time: one whole call"
echo "(pktscript \`srp([p])\`/\`sr([p])\`, the one-packet form of srp1/sr1 that also returns the request with its send"
echo "time; Scapy srp/sr), socket set-up and tear-down included; sr also resolves the next hop with ARP first."
