#!/usr/bin/env bash
# pktscript beside tshark, tcpdump, tcprewrite and Scapy, in one run.
#
#   bench/run.sh                 # measure, check the outputs agree, print markdown tables
#   bench/run.sh --update-doc    # ... and rewrite the figures sections of docs/performance.md
#   bench/run.sh --only core     # only the script workloads (count, rewrite, filter, generate)
#   bench/run.sh --only text     # only the shell tools: convert (text <-> pcap), filter, check, correct
#
# Environment:
#   PKTSCRIPT   the binary to measure (default target/release/pktscript; built
#               with `cargo build --release` when that default is missing)
#   RUNS        timed runs of each fast workload, the median is reported (default 5)
#   SLOW_RUNS   timed runs of the slow ones: tshark, Scapy, text2pcap, tcpdump -vv (default 3)
#   KEEP=1      keep the rewritten captures in bench/data
#
# Data (bench/data, ignored by git): mixed-1m.pcap, 1,000,000 mixed frames
# made by bench/gen.rhai, its first 100,000 and 10,000 frames (editcap -F
# pcap), and bad-1m.pcap, mixed-1m.pcap with every checksum wrong
# (bench/corrupt.rhai; for check and correct). The text workloads write about
# 1 GB of text and captures to a temporary directory, removed on exit.
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
RUN_CORE=1
RUN_TEXT=1
while [ $# -gt 0 ]; do
    case $1 in
        --update-doc) UPDATE_DOC=1 ;;
        --only)
            case ${2:-} in
                core) RUN_TEXT=0 ;;
                text) RUN_CORE=0 ;;
                *) echo "run.sh: --only takes core or text" >&2; exit 2 ;;
            esac
            shift ;;
        -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
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
need text2pcap "apt-get install -y tshark  # wireshark-common"
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
# Measure a copy: a `cargo build` elsewhere cannot swap the binary mid-run.
cp "$PKT" "$TMP/pktscript"
PKT=$TMP/pktscript

GEN_NOTE="generated earlier"
if [ ! -s "$BIG" ]; then
    say "== generating $BIG ($N frames)"
    /usr/bin/time -o "$TMP/gen.time" -f '%e %M' "$PKT" bench/gen.rhai "$BIG.part" "$N" >&2
    mv "$BIG.part" "$BIG"
    read -r GEN_T GEN_M <"$TMP/gen.time"
    GEN_NOTE="generated now"
fi
# The prefixes are pcap files, as their names say (editcap writes pcapng
# unless told; earlier versions of this script made pcapng ones: remade).
is_pcap() { [ "$(head -c 4 "$1" | od -An -tx1 | tr -d ' \n')" = d4c3b2a1 ]; }
for pre in "$MID:1-100000" "$SMALL:1-10000"; do
    f=${pre%%:*}
    if [ ! -s "$f" ] || ! is_pcap "$f"; then
        editcap -F pcap -r "$BIG" "$f.part" "${pre#*:}" && mv "$f.part" "$f"
    fi
done
BAD=$DATA/bad-1m.pcap
if [ "$RUN_TEXT" = 1 ] && [ ! -s "$BAD" ]; then
    say "== writing $BAD (every checksum of $BIG wrong, bench/corrupt.rhai)"
    "$PKT" bench/corrupt.rhai "$BIG" "$BAD.part" >&2
    mv "$BAD.part" "$BAD"
fi
# The page cache holds the inputs for every tool alike.
cat "$BIG" "$MID" "$SMALL" >/dev/null
[ "$RUN_TEXT" = 0 ] || cat "$BAD" >/dev/null

# ---- measuring --------------------------------------------------------------

# [FRESH=OUTPUT] [OK_RC=N] measure KEY RUNS STDOUT_FILE CMD...: runs CMD,
# sets T_KEY (median wall seconds) and M_KEY (median max RSS, KiB); the last
# run's stdout is kept. With FRESH, OUTPUT is removed and the disk synced
# before each run (outside the timing). OK_RC: an exit status that is not a
# failure (pktscript check exits 1 when it finds bad checksums).
measure() {
    local key=$1 runs=$2 out=$3
    shift 3
    local i rc ts=() ms=()
    for ((i = 0; i < runs; i++)); do
        # Writers: start each run without the previous run's dirty pages
        # still being flushed (that throttles the next run's writes).
        if [ -n "${FRESH:-}" ]; then rm -f "$FRESH"; sync; fi
        rc=0
        /usr/bin/time -o "$TMP/t" -f '%e %M' "$@" >"$out" 2>"$TMP/err" || rc=$?
        if [ "$rc" != 0 ] && [ "$rc" != "${OK_RC:-0}" ]; then
            cat "$TMP/err" >&2
            die "failed (exit status $rc): $*"
        fi
        # GNU time puts "Command exited with non-zero status N" first.
        read -r t m < <(tail -n 1 "$TMP/t")
        ts+=("$t")
        ms+=("$m")
    done
    printf -v "T_$key" '%s' "$(printf '%s\n' "${ts[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
    printf -v "M_$key" '%s' "$(printf '%s\n' "${ms[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
    say "   $key: ${ts[*]} s (median $(eval echo "\$T_$key") s, $(eval echo "\$M_$key") KiB)"
}

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
f2() { awk -v x="$1" 'BEGIN {printf "%.2f", x}'; }
rate() { awk -v n="$1" -v t="$2" 'BEGIN {printf "%d", (t > 0 ? n / t : 0)}'; }
commas() { LC_ALL=C printf '%s' "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {r = a / b; printf (r >= 10 ? "%.0f×" : "%.2f×"), r}'; }
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
TSHARK_V=$(tshark --version 2>/dev/null | awk 'NR == 1 {print $3}')
TCPDUMP_V=$(tcpdump --version 2>&1 | awk 'NR == 1 {print $3}')
TCPREWRITE_V=$(tcprewrite --version 2>&1 | awk 'NR == 1 {print $3}')

# ==== core: scripts beside tshark, tcpdump, tcprewrite, Scapy ================

if [ "$RUN_CORE" = 1 ]; then

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
core_fail_before=$fail
fail=0
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
core_fail=$fail
fail=$((core_fail_before | core_fail))

# ---- report -----------------------------------------------------------------

SCAPY_V=$(python3 -c 'import scapy; print(scapy.__version__)')
SCAPY_LOOP=$(kv loop_seconds "$TMP/scapy.out")
R_pk=$(rate $N "$T_pk_count")
R_tshark=$(rate $N "$T_tshark")
R_tcpdump=$(rate $N "$T_tcpdump")
R_scapy=$(rate 10000 "$SCAPY_LOOP")
R_rw=$(rate $N "$T_pk_rewrite")
R_tr=$(rate $N "$T_tcprewrite")
R_rb=$(rate $N "$T_pk_rewrite_bulk")
SCAPY_1M=$(awk -v t="$SCAPY_LOOP" 'BEGIN {printf "%.0f", t * 100}')
MEM_RATIO=$(awk -v a="$M_pk_count" -v b="$M_pk_count100k" 'BEGIN {printf "%.2f", a / b}')

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
    if [ "$core_fail" = 0 ]; then
        echo "Checks passed: pktscript's counts equal tshark's per protocol and tcpdump's total (and Scapy's on the 10k prefix); both rewritten captures hold $(commas $N) packets, ttl 63 on every IPv4 packet, no checksum tcpdump calls incorrect, and identical records; the generator is deterministic."
    else
        echo "**Some checks FAILED** (see the log of bench/run.sh)."
    fi
} >"$TMP/figures.md"

cat "$TMP/figures.md"

fi # RUN_CORE

# ==== text: the shell tools (convert, filter, check, correct) ================

if [ "$RUN_TEXT" = 1 ]; then

NM=100000                                     # packets in $MID
FEXPR2='tcp port 80'
TXT=$TMP/pktscript.txt                        # pktscript convert: hex text
TXTA=$TMP/pktscript-a.txt                     # ... with field lines (-a)
TD=$TMP/tcpdump.txt                           # tcpdump -xx
TS=$TMP/tshark.txt                            # tshark -x
TSH=$TMP/tshark-hex.txt                       # tshark -x without its ASCII column
OUT_RT=$TMP/roundtrip.pcap                    # text -> pcap, pktscript
OUT_RTA=$TMP/roundtrip-a.pcap                 # text with field lines -> pcap, pktscript
OUT_T2P=$TMP/text2pcap.pcap                   # text -> pcap, text2pcap
OUT_ED=$TMP/ttl63-text.pcap                   # convert -a | sed ip.ttl | convert
OUT_EDT=$TMP/ttl63-tcprewrite.pcap
OUT_FP=$TMP/port80-pipeline.pcap              # convert | filter | convert, 100k
OUT_FP_T=$TMP/port80-tcpdump-100k.pcap        # ... what tcpdump selects of the same
OUT_FD=$TMP/port80-filter.pcap                # filter -r IN -o OUT, 1M
OUT_FT=$TMP/port80-tcpdump.pcap               # tcpdump -r IN -w OUT, 1M
OUT_C=$TMP/corrected.pcap                     # correct
OUT_CT=$TMP/corrected-tcprewrite.pcap

say "== text: pcap -> hex text, $NM packets ($MID)"
FRESH=$TXT measure pk_totext "$RUNS" /dev/null "$PKT" convert "$MID" "$TXT"
FRESH=$TXTA measure pk_totext_a "$RUNS" /dev/null "$PKT" convert -a "$MID" "$TXTA"
FRESH=$TD measure tcpdump_xx "$RUNS" "$TD" tcpdump -r "$MID" -xx -nn
FRESH=$TS measure tshark_x "$SLOW_RUNS" "$TS" tshark -r "$MID" -x

say "== text: hex text -> pcap, $NM packets"
FRESH=$OUT_RT measure pk_fromtext "$RUNS" /dev/null "$PKT" convert "$TXT" "$OUT_RT"
FRESH=$OUT_RTA measure pk_fromtext_a "$RUNS" /dev/null "$PKT" convert "$TXTA" "$OUT_RTA"
# text2pcap reads the hex of tshark -x; the ASCII column is cut off first
# (outside the timing): where it looks like hex, text2pcap reads it as bytes.
cut -c1-53 "$TS" >"$TSH"
FRESH=$OUT_T2P measure text2pcap "$SLOW_RUNS" /dev/null text2pcap -q -F pcap "$TSH" "$OUT_T2P"

say "== text: field-line edit, ip.ttl := 63 on every packet, $NM packets"
FRESH=$OUT_ED measure pk_textedit "$RUNS" /dev/null bash -o pipefail -c \
    '"$1" convert -a "$2" | sed "s/^ip\.ttl: .*/ip.ttl: 63/" | "$1" convert - "$3"' _ "$PKT" "$MID" "$OUT_ED"
FRESH=$OUT_EDT measure tcprewrite_100k "$RUNS" /dev/null tcprewrite --infile="$MID" --outfile="$OUT_EDT" --ttl=63 --fixcsum

say "== text: pipeline filter '$FEXPR2', $NM packets"
FRESH=$OUT_FP measure pk_textpipe "$RUNS" /dev/null bash -o pipefail -c \
    '"$1" convert "$2" | "$1" filter "$4" | "$1" convert - --to pcap -o "$3"' _ "$PKT" "$MID" "$OUT_FP" "$FEXPR2"
# Without text, on the million packets: 100,000 take about 10 ms, the resolution of the timing.
say "== filter '$FEXPR2' without text, $N packets"
FRESH=$OUT_FD measure pk_filtercmd "$RUNS" /dev/null "$PKT" filter "$FEXPR2" -r "$BIG" -o "$OUT_FD"
FRESH=$OUT_FT measure tcpdump_port80 "$RUNS" /dev/null tcpdump -r "$BIG" -w "$OUT_FT" "$FEXPR2"

say "== check and correct: every checksum wrong, $N packets ($BAD)"
FRESH=$TMP/check.out OK_RC=1 measure pk_check "$RUNS" "$TMP/check.out" "$PKT" check "$BAD"
FRESH=$TMP/vv.out measure tcpdump_vv "$SLOW_RUNS" "$TMP/vv.out" tcpdump -vv -nn -r "$BAD"
FRESH=$OUT_C measure pk_correct "$RUNS" /dev/null "$PKT" correct "$BAD" -o "$OUT_C"
FRESH=$OUT_CT measure tcprewrite_fix "$RUNS" /dev/null tcprewrite --fixcsum --infile="$BAD" --outfile="$OUT_CT"

# ---- checking ---------------------------------------------------------------

say "== checking that the text workloads' outputs agree"
text_fail_before=$fail
fail=0
H='[0-9a-f]'
U='[0-9A-F]'
# One line of lowercase hex per frame, from each tool's dump.
hex_pk() { awk "/^$U$U$U$U$U$U: /"'{i = index($0, " : "); s = substr($0, 9, i - 9); gsub(/ /, "", s); h = h s; next} /^==/ {print tolower(h); h = ""}' "$@"; }
hex_td() { awk "/^\t0x$H$H$H$H:/"'{s = substr($0, 10); gsub(/ /, "", s); h = h s; next} {if (NR > 1) print h; h = ""} END {print h}' "$@"; }
hex_ts() { awk "/^$H$H$H$H  /"'{s = substr($0, 7, 48); gsub(/ /, "", s); h = h s; next} /^$/ {print h; h = ""} END {if (h != "") print h}' "$@"; }
sum12() { md5sum | cut -c1-12; }
hex_td "$TD" >"$TMP/frames.hex"
FRAMES_MD5=$(sum12 <"$TMP/frames.hex")
check "tcpdump -xx: one hex dump per packet" "$(wc -l <"$TMP/frames.hex")" "$NM"
check "pcap -> text: pktscript's hex = tcpdump's" "$(hex_pk "$TXT" | sum12)" "$FRAMES_MD5"
check "pcap -> text: pktscript -a hex = tcpdump's" "$(hex_pk "$TXTA" | sum12)" "$FRAMES_MD5"
check "pcap -> text: tshark's hex = tcpdump's" "$(hex_ts "$TS" | sum12)" "$FRAMES_MD5"
ORIG_TT=$(tcpdump -r "$MID" -tt -nn -xx 2>/dev/null | sum12)
check "text -> pcap: pktscript round trip, frames and times (tcpdump -tt -xx)" "$(tcpdump -r "$OUT_RT" -tt -nn -xx 2>/dev/null | sum12)" "$ORIG_TT"
cmp -s -i 24 "$OUT_RT" "$MID" && SAME=yes || SAME=no
check "text -> pcap: pktscript round trip records identical to $MID" "$SAME" yes
cmp -s "$OUT_RTA" "$OUT_RT" && SAME=yes || SAME=no
check "text -> pcap: with field lines, the same file" "$SAME" yes
check "text -> pcap: text2pcap packets" "$(capinfos -c -M "$OUT_T2P" | awk '/Number of packets/ {print $NF}')" "$NM"
check "text -> pcap: text2pcap frames (no times in tshark -x)" "$(tcpdump -r "$OUT_T2P" -nn -xx 2>/dev/null | hex_td | sum12)" "$FRAMES_MD5"
# The same text2pcap on tshark -x with the ASCII column (1 run, not timed).
text2pcap -q -F pcap "$TS" "$TMP/t2p-ascii.pcap"
T2P_MISREAD=$(tcpdump -r "$TMP/t2p-ascii.pcap" -nn -xx 2>/dev/null | hex_td | paste -d ' ' - "$TMP/frames.hex" | awk '$1 != $2' | wc -l)
rm -f "$TMP/t2p-ascii.pcap"
say "   note text2pcap on tshark -x with its ASCII column: $T2P_MISREAD of $NM frames read wrongly"
tcpdump -nn -vv -r "$MID" 2>/dev/null >"$TMP/vv-mid"
IPV4_MID=$(grep -c 'ttl 64,' "$TMP/vv-mid" || true)
tcpdump -nn -vv -r "$OUT_ED" 2>/dev/null >"$TMP/vv-ed"
check "field-line edit: IPv4 with ttl 63" "$(grep -c 'ttl 63,' "$TMP/vv-ed" || true)" "$IPV4_MID"
check "field-line edit: bad checksums (tcpdump -vv: incorrect, bad cksum)" "$(grep -cE 'incorrect|bad cksum' "$TMP/vv-ed" || true)" 0
cmp -s -i 24 "$OUT_ED" "$OUT_EDT" && SAME=yes || SAME=no
check "field-line edit: records identical to tcprewrite's" "$SAME" yes
rm -f "$TMP/vv-mid" "$TMP/vv-ed"
tcpdump -r "$MID" -w "$OUT_FP_T" "$FEXPR2" 2>/dev/null
PORT80=$(tcpdump -nn -r "$OUT_FP_T" 2>/dev/null | wc -l)
PORT80_1M=$(tcpdump -nn -r "$OUT_FT" 2>/dev/null | wc -l)
check "pipeline: tcpdump selects some packets" "$([ "$PORT80" -gt 0 ] && echo yes)" yes
check "pipeline: the packets tcpdump selects ($PORT80), times included" \
    "$(tcpdump -nn -tt -xx -r "$OUT_FP" 2>/dev/null | sum12)" "$(tcpdump -nn -tt -xx -r "$OUT_FP_T" 2>/dev/null | sum12)"
check "filter: the packets tcpdump selects ($PORT80_1M), times included" \
    "$(tcpdump -nn -tt -xx -r "$OUT_FD" 2>/dev/null | sum12)" "$(tcpdump -nn -tt -xx -r "$OUT_FT" 2>/dev/null | sum12)"
BAD_PKTS=$(grep -c 'bad cksum' "$TMP/vv.out" || true)
BAD_SUMS=$(grep -oE 'bad cksum|incorrect|wrong icmp cksum|bad udp cksum' "$TMP/vv.out" | wc -l)
check "check: packets listed = tcpdump -vv's bad IPv4 checksums" "$(wc -l <"$TMP/check.out")" "$BAD_PKTS"
check "check: bad checksums named = tcpdump -vv's" "$(grep -o 'checksum 0x' "$TMP/check.out" | wc -l)" "$BAD_SUMS"
OK_RC=0
"$PKT" check "$MID" >"$TMP/check-ok.out" 2>/dev/null || OK_RC=$?
check "check: $MID has none (exit status 0)" "$OK_RC $(wc -l <"$TMP/check-ok.out")" "0 0"
cmp -s "$OUT_C" "$BIG" && SAME=yes || SAME=no
check "correct: output identical to $BIG" "$SAME" yes
cmp -s -i 24 "$OUT_CT" "$BIG" && SAME=yes || SAME=no
check "tcprewrite --fixcsum: records identical to $BIG" "$SAME" yes
text_fail=$fail
fail=$((text_fail_before | text_fail))
TXT_MIB=$(mib $(($(stat -c %s "$TXT") / 1024)))
TXTA_MIB=$(mib $(($(stat -c %s "$TXTA") / 1024)))
TD_MIB=$(mib $(($(stat -c %s "$TD") / 1024)))
TS_MIB=$(mib $(($(stat -c %s "$TS") / 1024)))
rm -f "$TXT" "$TXTA" "$TD" "$TS" "$TSH" "$OUT_RT" "$OUT_RTA" "$OUT_T2P" "$OUT_ED" "$OUT_EDT" \
    "$OUT_FP" "$OUT_FP_T" "$OUT_FD" "$OUT_FT" "$OUT_C" "$OUT_CT" "$TMP/check.out" "$TMP/vv.out"

# ---- report -----------------------------------------------------------------

# row WORKLOAD TOOL PACKETS KEY [RATIO]: a table row from T_KEY and M_KEY.
row() {
    local t m r
    t=$(eval echo "\$T_$4")
    m=$(eval echo "\$M_$4")
    r=$(rate "$3" "$t")
    case $2 in
        *pktscript*) echo "| $1 | $2 | $(commas "$3") | $(f2 "$t") | **$(commas "$r")** | $(mib "$m") | ${5:-—} |" ;;
        *) echo "| $1 | $2 | $(commas "$3") | $(f2 "$t") | $(commas "$r") | $(mib "$m") | ${5:-—} |" ;;
    esac
}
# vs KEY_PKTSCRIPT KEY_PEER [PACKETS_PKTSCRIPT PACKETS_PEER]: pktscript's
# speed (packets/s) over the peer's; the same packets unless given.
vs() {
    awk -v a="$(eval echo "\$T_$1")" -v b="$(eval echo "\$T_$2")" -v n1="${3:-1}" -v n2="${4:-1}" 'BEGIN {
        r = (n1 / a) / (n2 / b)
        if (r >= 10) printf "%.0f×", r; else if (r >= 0.1) printf "%.2f×", r; else printf "%.3f× (1/%.0f)", r, 1 / r }'
}
{
    echo "Measured $(date -u +%Y-%m-%d) by \`bench/run.sh\` on $(nproc) cores ($CPU), pktscript $GITREV;"
    echo "tcpdump $TCPDUMP_V, tshark and text2pcap $TSHARK_V, tcprewrite $TCPREWRITE_V."
    echo "Inputs: \`$MID\` ($(commas $NM) frames, the first of \`$BIG\`, $(mib $(($(stat -c %s "$MID") / 1024))) MiB);"
    echo "\`$BAD\` (\`$BIG\` with every IPv4, ICMP, UDP and TCP checksum set to 0x0001 by \`bench/corrupt.rhai\`)."
    echo "Text written: pktscript $TXT_MIB MiB ($TXTA_MIB MiB with \`-a\`), tcpdump \`-xx\` $TD_MIB MiB, tshark \`-x\` $TS_MIB MiB."
    echo "Wall time is the median of $RUNS runs ($SLOW_RUNS for tshark, text2pcap and tcpdump \`-vv\`); every output goes to a file, removed and synced away before each run."
    echo
    echo "| Workload | Tool | Packets | Wall (s) | Packets/s | Max RSS (MiB) | pktscript's speed ÷ this |"
    echo "|---|---|--:|--:|--:|--:|--:|"
    row "pcap → hex text" "**pktscript** \`convert IN OUT.txt\`" $NM pk_totext
    row "pcap → hex text" "**pktscript** \`convert -a IN OUT.txt\` (and a line per field)" $NM pk_totext_a
    row "pcap → hex text" "tcpdump \`-r IN -xx -nn > OUT\`" $NM tcpdump_xx "$(vs pk_totext tcpdump_xx) (\`-a\`: $(vs pk_totext_a tcpdump_xx))"
    row "pcap → hex text" "tshark \`-r IN -x > OUT\`" $NM tshark_x "$(vs pk_totext tshark_x) (\`-a\`: $(vs pk_totext_a tshark_x))"
    row "hex text → pcap" "**pktscript** \`convert IN.txt OUT.pcap\`" $NM pk_fromtext
    row "hex text → pcap" "**pktscript** \`convert IN.txt OUT.pcap\`, field lines in IN" $NM pk_fromtext_a
    row "hex text → pcap" "text2pcap \`-F pcap\` (tshark \`-x\` hex)" $NM text2pcap "$(vs pk_fromtext text2pcap) (field lines: $(vs pk_fromtext_a text2pcap))"
    row "ip.ttl := 63, checksums fixed" "**pktscript** \`convert -a IN \\| sed … \\| convert - OUT\`" $NM pk_textedit
    row "ip.ttl := 63, checksums fixed" "tcprewrite \`--ttl=63 --fixcsum\`" $NM tcprewrite_100k "$(vs pk_textedit tcprewrite_100k)"
    row "select \`$FEXPR2\`, write pcap" "**pktscript** \`convert IN \\| filter … \\| convert - --to pcap\`" $NM pk_textpipe
    row "select \`$FEXPR2\`, write pcap" "**pktscript** \`filter EXPR -r IN -o OUT\` (no text)" $N pk_filtercmd
    row "select \`$FEXPR2\`, write pcap" "tcpdump \`-r IN -w OUT EXPR\`" $N tcpdump_port80 "pipeline $(vs pk_textpipe tcpdump_port80 $NM $N), filter $(vs pk_filtercmd tcpdump_port80)"
    row "list bad checksums" "**pktscript** \`check BAD > OUT\`" $N pk_check
    row "list bad checksums" "tcpdump \`-vv -nn -r BAD > OUT\`" $N tcpdump_vv "$(vs pk_check tcpdump_vv)"
    row "fix every checksum" "**pktscript** \`correct BAD -o OUT\`" $N pk_correct
    row "fix every checksum" "tcprewrite \`--fixcsum\`" $N tcprewrite_fix "$(vs pk_correct tcprewrite_fix)"
    echo
    if [ "$text_fail" = 0 ]; then
        echo "Checks passed: the three hex dumps hold the same bytes, frame for frame; pktscript's text read back gives the original records, timestamps included, with or without field lines; text2pcap's output holds the same frames (without times: tshark \`-x\` prints none); the edited text gives ttl 63 on all $(commas "$IPV4_MID") IPv4 packets, no bad checksum, and the records tcprewrite writes; the pipeline and tcpdump select the same $(commas "$PORT80") packets of the 100,000, \`filter\` and tcpdump the same $(commas "$PORT80_1M") of the million; \`check\` lists the $(commas "$BAD_PKTS") packets and $(commas "$BAD_SUMS") checksums tcpdump \`-vv\` calls bad, and none in \`$MID\`; \`correct\` and \`tcprewrite --fixcsum\` both give back \`$BIG\`'s records."
    else
        echo "**Some checks FAILED** (see the log of bench/run.sh)."
    fi
    echo "text2pcap fed tshark \`-x\` output with its ASCII column read $(commas "$T2P_MISREAD") of the $(commas $NM) frames wrongly (an ASCII column that looks like hex, such as \`12\`, is taken for bytes), so the timed runs get the hex columns only."
} >"$TMP/text-figures.md"

[ "$RUN_CORE" = 0 ] || echo
cat "$TMP/text-figures.md"

fi # RUN_TEXT

# ---- the doc ----------------------------------------------------------------

# splice FILE BEGIN END: replaces the lines between the markers in $DOC.
splice() {
    grep -q "<!-- bench:$2:begin -->" "$DOC" && grep -q "<!-- bench:$2:end -->" "$DOC" ||
        die "$DOC has no <!-- bench:$2:begin --> ... <!-- bench:$2:end --> markers"
    awk -v f="$1" -v b="<!-- bench:$2:begin -->" -v e="<!-- bench:$2:end -->" '
        index($0, b) == 1 {print; while ((getline l < f) > 0) print l; skip = 1; next}
        index($0, e) == 1 {skip = 0}
        !skip {print}' "$DOC" >"$TMP/doc.md"
    cp "$TMP/doc.md" "$DOC"
}
if [ "$UPDATE_DOC" = 1 ]; then
    [ -f "$DOC" ] || die "$DOC does not exist"
    [ "$RUN_CORE" = 0 ] || splice "$TMP/figures.md" figures
    [ "$RUN_TEXT" = 0 ] || splice "$TMP/text-figures.md" text
    say "== updated the figures in $DOC"
fi
exit "$fail"
