#!/usr/bin/env bash
# pktscript beside tshark, tcpdump, tcprewrite and Scapy, in one run.
#
#   bench/run.sh                 # measure, check the outputs agree, print a markdown table
#   bench/run.sh --update-doc    # ... and rewrite the figures section of docs/performance.md
#
# Environment:
#   PKTSCRIPT   the binary to measure (default target/release/pktscript; built
#               with `cargo build --release` when that default is missing)
#   RUNS        timed runs of each fast workload, the median is reported (default 5)
#   SLOW_RUNS   timed runs of tshark and Scapy (default 3)
#   KEEP=1      keep the rewritten captures in bench/data
#
# Data (bench/data, ignored by git): mixed-1m.pcap, 1,000,000 mixed frames
# made by bench/gen.rhai, and its first 100,000 and 10,000 frames (editcap).
# Timing: GNU time, `%e %M` = wall seconds and maximum resident set size.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
PKTSCRIPT=${PKTSCRIPT:-target/release/pktscript}
RUNS=${RUNS:-5}
SLOW_RUNS=${SLOW_RUNS:-3}
N=1000000
DATA=bench/data
BIG=$DATA/mixed-1m.pcap
MID=$DATA/mixed-100k.pcap
SMALL=$DATA/mixed-10k.pcap
DOC=docs/performance.md
UPDATE_DOC=0
for a in "$@"; do
    case $a in
        --update-doc) UPDATE_DOC=1 ;;
        -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $a (try --help)" >&2; exit 2 ;;
    esac
done

say() { printf '%s\n' "$*" >&2; }
die() { say "run.sh: $*"; exit 1; }

# ---- tools ------------------------------------------------------------------

missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$1 (install: $2)"); }
[ -x /usr/bin/time ] || missing+=("/usr/bin/time (install: apt-get install -y time)")
need tshark "apt-get install -y tshark"
need editcap "apt-get install -y tshark  # wireshark-common"
need capinfos "apt-get install -y tshark  # wireshark-common"
need tcpdump "apt-get install -y tcpdump"
need tcprewrite "apt-get install -y tcpreplay"
need python3 "apt-get install -y python3"
need cargo "https://rustup.rs"
if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import scapy' 2>/dev/null; then
    missing+=("scapy for python3 (install: pip install scapy)")
fi
if [ ${#missing[@]} -gt 0 ]; then
    say "run.sh: missing tools:"
    for m in "${missing[@]}"; do say "  - $m"; done
    exit 1
fi

if [ ! -x "$PKTSCRIPT" ]; then
    if [ "$PKTSCRIPT" = target/release/pktscript ]; then
        say "== building the release binary (cargo build --release)"
        cargo build --release >&2
    else
        die "PKTSCRIPT=$PKTSCRIPT is not an executable"
    fi
fi
PKT=$(cd "$(dirname "$PKTSCRIPT")" && pwd)/$(basename "$PKTSCRIPT")

# ---- data -------------------------------------------------------------------

mkdir -p "$DATA"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

GEN_NOTE="generated earlier"
if [ ! -s "$BIG" ]; then
    say "== generating $BIG ($N frames)"
    /usr/bin/time -o "$TMP/gen.time" -f '%e %M' "$PKT" bench/gen.rhai "$BIG.part" "$N" >&2
    mv "$BIG.part" "$BIG"
    read -r GEN_T GEN_M <"$TMP/gen.time"
    GEN_NOTE="generated now"
fi
[ -s "$MID" ] || editcap -r "$BIG" "$MID" 1-100000
[ -s "$SMALL" ] || editcap -r "$BIG" "$SMALL" 1-10000
# The page cache holds the inputs for every tool alike.
cat "$BIG" "$MID" "$SMALL" >/dev/null

# ---- measuring --------------------------------------------------------------

# [FRESH=OUTPUT] measure KEY RUNS STDOUT_FILE CMD...: runs CMD, sets T_KEY
# (median wall seconds) and M_KEY (median max RSS, KiB); the last run's
# stdout is kept. With FRESH, OUTPUT is removed and the disk synced before
# each run (outside the timing).
measure() {
    local key=$1 runs=$2 out=$3
    shift 3
    local i ts=() ms=()
    for ((i = 0; i < runs; i++)); do
        # Writers: start each run without the previous run's dirty pages
        # still being flushed (that throttles the next run's writes).
        if [ -n "${FRESH:-}" ]; then rm -f "$FRESH"; sync; fi
        /usr/bin/time -o "$TMP/t" -f '%e %M' "$@" >"$out" 2>"$TMP/err" ||
            { cat "$TMP/err" >&2; die "failed: $*"; }
        read -r t m <"$TMP/t"
        ts+=("$t")
        ms+=("$m")
    done
    printf -v "T_$key" '%s' "$(printf '%s\n' "${ts[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
    printf -v "M_$key" '%s' "$(printf '%s\n' "${ms[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
    say "   $key: ${ts[*]} s (median $(eval echo "\$T_$key") s, $(eval echo "\$M_$key") KiB)"
}

say "== generator: pktscript bench/gen.rhai, $N frames (1 run; must equal $BIG)"
sync
/usr/bin/time -o "$TMP/gen.time" -f '%e %M' "$PKT" bench/gen.rhai "$TMP/regen.pcap" "$N" >/dev/null
read -r T_gen M_gen <"$TMP/gen.time"
cmp -s "$TMP/regen.pcap" "$BIG" && GEN_SAME=yes || GEN_SAME=no
rm -f "$TMP/regen.pcap"
say "   gen: $T_gen s, $M_gen KiB, identical to $BIG: $GEN_SAME"

say "== counting per protocol, $N packets"
measure pk_count "$RUNS" "$TMP/pk_count.out" "$PKT" bench/count.rhai "$BIG"
measure tshark "$SLOW_RUNS" "$TMP/tshark.out" tshark -r "$BIG" -q -z io,phs
measure tcpdump "$RUNS" /dev/null tcpdump -r "$BIG" -nn
say "== counting per protocol, Scapy on the first 10,000 packets (extrapolated)"
measure scapy "$SLOW_RUNS" "$TMP/scapy.out" python3 bench/scapy_count.py "$SMALL"
measure pk_count10k "$RUNS" "$TMP/pk_count10k.out" "$PKT" bench/count.rhai "$SMALL"

say "== peak memory: counting 100,000 vs 1,000,000 packets"
measure pk_count100k "$RUNS" "$TMP/pk_count100k.out" "$PKT" bench/count.rhai "$MID"
measure tshark100k "$SLOW_RUNS" /dev/null tshark -r "$MID" -q -z io,phs

say "== rewriting: IPv4 TTL := 63 with checksums fixed, $N packets"
OUT_PK=$DATA/out-pktscript.pcap
OUT_TR=$DATA/out-tcprewrite.pcap
OUT_PB=$DATA/out-pktscript-bulk.pcap
FRESH=$OUT_PK measure pk_rewrite "$RUNS" /dev/null "$PKT" bench/rewrite.rhai "$BIG" "$OUT_PK"
FRESH=$OUT_PB measure pk_rewrite_bulk "$RUNS" /dev/null "$PKT" bench/rewrite_bulk.rhai "$BIG" "$OUT_PB"
FRESH=$OUT_TR measure tcprewrite "$RUNS" /dev/null tcprewrite --infile="$BIG" --outfile="$OUT_TR" --ttl=63 --fixcsum

say "== filtering: 'icmp and host 198.18.0.3', matches written, $N packets"
OUT_PF=$DATA/out-filter-pktscript.pcap
OUT_TF=$DATA/out-filter-tcpdump.pcap
FEXPR='icmp and host 198.18.0.3'
FRESH=$OUT_PF measure pk_filter "$RUNS" /dev/null "$PKT" bench/filter.rhai "$BIG" "$OUT_PF" "$FEXPR"
FRESH=$OUT_TF measure tcpdump_filter "$RUNS" /dev/null tcpdump -r "$BIG" -w "$OUT_TF" "$FEXPR"

# ---- checking ---------------------------------------------------------------

say "== checking that the outputs agree"
fail=0
check() { # check WHAT GOT WANT
    if [ "$2" = "$3" ]; then
        say "   ok   $1: $2"
    else
        say "   FAIL $1: got $2, want $3"
        fail=1
    fi
}
kv() { awk -v k="$1" '$1 == k {print $2}' "$2"; }
# tshark's hierarchy: sum the frames of every line naming the protocol
# (IPv4 inside 802.1Q is listed under vlan).
phs() { awk -v k="$1" '$1 == k {sub("frames:", "", $2); s += $2} END {print s + 0}' "$TMP/tshark.out"; }

TCPDUMP_N=$(tcpdump -r "$BIG" -nn 2>/dev/null | wc -l)
check "pktscript count = N" "$(kv total "$TMP/pk_count.out")" "$N"
check "tcpdump packets = N" "$TCPDUMP_N" "$N"
check "tshark frames = N" "$(awk '$1 == "eth" {sub("frames:", "", $2); print $2}' "$TMP/tshark.out")" "$N"
for proto in arp icmp udp tcp vlan; do
    check "pktscript $proto = tshark $proto" "$(kv $proto "$TMP/pk_count.out")" "$(phs $proto)"
done
for k in total arp ipv4 icmp udp tcp vlan other; do
    check "pktscript $k = Scapy $k (10k prefix)" "$(kv $k "$TMP/pk_count10k.out")" "$(kv $k "$TMP/scapy.out")"
done
check "pktscript count (100k prefix)" "$(kv total "$TMP/pk_count100k.out")" 100000
IPV4=$(kv ipv4 "$TMP/pk_count.out")
for out in "$OUT_PK" "$OUT_PB" "$OUT_TR"; do
    name=$(basename "$out" .pcap)
    check "$name packets" "$(capinfos -c -M "$out" | awk '/Number of packets/ {print $NF}')" "$N"
    tcpdump -nn -vv -r "$out" 2>/dev/null >"$TMP/vv"
    check "$name IPv4 with ttl 63" "$(grep -c 'ttl 63,' "$TMP/vv" || true)" "$IPV4"
    check "$name bad checksums (tcpdump -vv: incorrect)" "$(grep -c incorrect "$TMP/vv" || true)" 0
done
# Both tools must have written the same records (the file headers differ in snaplen).
cmp -s -i 24 "$OUT_PK" "$OUT_TR" && SAME=yes || SAME=no
check "pktscript and tcprewrite records identical" "$SAME" yes
cmp -s "$OUT_PK" "$OUT_PB" && SAME_BULK=yes || SAME_BULK=no
check "rewrite.rhai and rewrite_bulk.rhai outputs identical" "$SAME_BULK" yes
check "generator deterministic" "$GEN_SAME" yes
check "filter: pktscript and tcpdump select the same packets" \
    "$(tcpdump -nn -tt -r "$OUT_PF" 2>/dev/null | md5sum | cut -c1-12)" \
    "$(tcpdump -nn -tt -r "$OUT_TF" 2>/dev/null | md5sum | cut -c1-12)"
rm -f "$TMP/vv"
[ "${KEEP:-0}" = 1 ] || rm -f "$OUT_PK" "$OUT_PB" "$OUT_TR" "$OUT_PF" "$OUT_TF"

# ---- report -----------------------------------------------------------------

SCAPY_LOOP=$(kv loop_seconds "$TMP/scapy.out")
f2() { awk -v x="$1" 'BEGIN {printf "%.2f", x}'; }
rate() { awk -v n="$1" -v t="$2" 'BEGIN {printf "%d", (t > 0 ? n / t : 0)}'; }
commas() { LC_ALL=C printf '%s' "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {r = a / b; printf (r >= 10 ? "%.0f×" : "%.2f×"), r}'; }

R_pk=$(rate $N "$T_pk_count")
R_tshark=$(rate $N "$T_tshark")
R_tcpdump=$(rate $N "$T_tcpdump")
R_scapy=$(rate 10000 "$SCAPY_LOOP")
R_rw=$(rate $N "$T_pk_rewrite")
R_tr=$(rate $N "$T_tcprewrite")
R_rb=$(rate $N "$T_pk_rewrite_bulk")
SCAPY_1M=$(awk -v t="$SCAPY_LOOP" 'BEGIN {printf "%.0f", t * 100}')
MEM_RATIO=$(awk -v a="$M_pk_count" -v b="$M_pk_count100k" 'BEGIN {printf "%.2f", a / b}')
# met A OP B: whether A OP B holds, OP one of >= <=.
met() {
    if awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {exit !(op == ">=" ? a + 0 >= b + 0 : a + 0 <= b + 0)}'; then
        echo "**met**"
    else
        echo "**missed**"
    fi
}

GITREV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || GITREV="$GITREV + uncommitted changes"
CPU=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
SCAPY_V=$(python3 -c 'import scapy; print(scapy.__version__)')
TSHARK_V=$(tshark --version 2>/dev/null | awk 'NR == 1 {print $3}')
TCPDUMP_V=$(tcpdump --version 2>&1 | awk 'NR == 1 {print $3}')
TCPREWRITE_V=$(tcprewrite --version 2>&1 | awk 'NR == 1 {print $3}')

{
    echo "Measured $(date -u +%Y-%m-%d) by \`bench/run.sh\` on $(nproc) cores ($CPU), pktscript $GITREV;"
    echo "tshark $TSHARK_V, tcpdump $TCPDUMP_V, tcprewrite $TCPREWRITE_V, Scapy $SCAPY_V (Python $(python3 -c 'import platform; print(platform.python_version())'))."
    echo "Input: \`$BIG\`, $(commas $N) frames, $(mib $(($(stat -c %s "$BIG") / 1024))) MiB ($GEN_NOTE)."
    echo "Wall time is the median of $RUNS runs ($SLOW_RUNS for tshark and Scapy); memory is the maximum resident set size."
    echo
    echo "| Workload | Tool | Packets | Wall (s) | Packets/s | Max RSS (MiB) | pktscript's speed ÷ this |"
    echo "|---|---|--:|--:|--:|--:|--:|"
    echo "| count per protocol | **pktscript** \`count.rhai\` | $(commas $N) | $(f2 "$T_pk_count") | **$(commas "$R_pk")** | $(mib "$M_pk_count") | — |"
    echo "| count per protocol | tshark \`-q -z io,phs\` | $(commas $N) | $(f2 "$T_tshark") | $(commas "$R_tshark") | $(mib "$M_tshark") | $(ratio "$R_pk" "$R_tshark") |"
    echo "| count per protocol | Scapy \`PcapReader\` loop | 10,000 (× 100) | $(f2 "$SCAPY_LOOP") (≈ $SCAPY_1M for 1M) | $(commas "$R_scapy") | $(mib "$M_scapy") | $(ratio "$R_pk" "$R_scapy") |"
    echo "| print one line per packet (reference) | tcpdump \`-nn > /dev/null\` | $(commas $N) | $(f2 "$T_tcpdump") | $(commas "$R_tcpdump") | $(mib "$M_tcpdump") | $(ratio "$R_pk" "$R_tcpdump") |"
    echo "| TTL := 63, fix checksums, write | **pktscript** \`rewrite.rhai\` | $(commas $N) | $(f2 "$T_pk_rewrite") | **$(commas "$R_rw")** | $(mib "$M_pk_rewrite") | — |"
    echo "| TTL := 63, fix checksums, write | **pktscript** \`rewrite_bulk.rhai\` (\`rewrite_pcap\`) | $(commas $N) | $(f2 "$T_pk_rewrite_bulk") | **$(commas "$R_rb")** | $(mib "$M_pk_rewrite_bulk") | — |"
    echo "| TTL := 63, fix checksums, write | tcprewrite \`--ttl=63 --fixcsum\` | $(commas $N) | $(f2 "$T_tcprewrite") | $(commas "$R_tr") | $(mib "$M_tcprewrite") | loop $(ratio "$R_rw" "$R_tr"), bulk $(ratio "$R_rb" "$R_tr") |"
    echo "| filter \`$FEXPR\`, write matches | **pktscript** \`filter.rhai\` | $(commas $N) | $(f2 "$T_pk_filter") | **$(commas "$(rate $N "$T_pk_filter")")** | $(mib "$M_pk_filter") | — |"
    echo "| filter \`$FEXPR\`, write matches | tcpdump \`-r IN -w OUT EXPR\` | $(commas $N) | $(f2 "$T_tcpdump_filter") | $(commas "$(rate $N "$T_tcpdump_filter")") | $(mib "$M_tcpdump_filter") | $(ratio "$(rate $N "$T_pk_filter")" "$(rate $N "$T_tcpdump_filter")") |"
    echo "| generate the input | **pktscript** \`gen.rhai\` | $(commas $N) | $(f2 "$T_gen") | $(commas "$(rate $N "$T_gen")") | $(mib "$M_gen") | — |"
    echo
    echo "Peak memory against file size (counting):"
    echo
    echo "| Tool | 100,000 packets | 1,000,000 packets | 1M / 100k |"
    echo "|---|--:|--:|--:|"
    echo "| **pktscript** \`count.rhai\` | $(mib "$M_pk_count100k") MiB | $(mib "$M_pk_count") MiB | **${MEM_RATIO}×** |"
    echo "| tshark \`-q -z io,phs\` | $(mib "$M_tshark100k") MiB | $(mib "$M_tshark") MiB | $(awk -v a="$M_tshark" -v b="$M_tshark100k" 'BEGIN {printf "%.2f", a / b}')× |"
    echo
    echo "Against the targets:"
    echo
    echo "| Target | Figure | |"
    echo "|---|---|---|"
    echo "| count ≥ 1,000,000 packets/s | $(commas "$R_pk") packets/s ($(ratio "$R_pk" 1000000) the target) | $(met "$R_pk" ">=" 1000000) |"
    echo "| rewrite at least as fast as \`tcprewrite --fixcsum\`: script loop | $(f2 "$T_pk_rewrite") s vs $(f2 "$T_tcprewrite") s ($(ratio "$R_rw" "$R_tr") tcprewrite's speed) | $(met "$T_pk_rewrite" "<=" "$T_tcprewrite") |"
    echo "| rewrite at least as fast as \`tcprewrite --fixcsum\`: \`rewrite_pcap\` | $(f2 "$T_pk_rewrite_bulk") s vs $(f2 "$T_tcprewrite") s ($(ratio "$R_rb" "$R_tr") tcprewrite's speed) | $(met "$T_pk_rewrite_bulk" "<=" "$T_tcprewrite") |"
    echo "| filter within 1.5× of \`tcpdump -r -w\` | $(f2 "$T_pk_filter") s vs $(f2 "$T_tcpdump_filter") s | $(met "$T_pk_filter" "<=" "$(awk -v t="$T_tcpdump_filter" 'BEGIN {print t * 1.5}')") |"
    echo "| peak memory flat in file size | $(mib "$M_pk_count100k") → $(mib "$M_pk_count") MiB for 10× the packets | $(met "$MEM_RATIO" "<=" 1.2) |"
    echo
    if [ "$fail" = 0 ]; then
        echo "Checks passed: pktscript's counts equal tshark's per protocol and tcpdump's total (and Scapy's on the 10k prefix); both rewritten captures hold $(commas $N) packets, ttl 63 on every IPv4 packet, no checksum tcpdump calls incorrect, and identical records; the generator is deterministic."
    else
        echo "**Some checks FAILED** (see the log of bench/run.sh)."
    fi
} >"$TMP/figures.md"

cat "$TMP/figures.md"

if [ "$UPDATE_DOC" = 1 ]; then
    [ -f "$DOC" ] || die "$DOC does not exist"
    grep -q '<!-- bench:figures:begin -->' "$DOC" && grep -q '<!-- bench:figures:end -->' "$DOC" ||
        die "$DOC has no <!-- bench:figures:begin --> ... <!-- bench:figures:end --> markers"
    awk -v f="$TMP/figures.md" '
        /<!-- bench:figures:begin -->/ {print; while ((getline l < f) > 0) print l; skip = 1; next}
        /<!-- bench:figures:end -->/ {skip = 0}
        !skip {print}' "$DOC" >"$TMP/doc.md"
    cp "$TMP/doc.md" "$DOC"
    say "== updated the figures in $DOC"
fi
exit "$fail"
