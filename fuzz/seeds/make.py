#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora from the project's own captures,
text dumps and filter expressions. Run from anywhere; rewrites
fuzz/seeds/<target>/. Needs a built pktscript (for the pcapng and text
conversions): PKTSCRIPT=path/to/pktscript, default target/debug/pktscript.

The link type selector bytes assume the sorted list of link types the
layer files bind (1, 101, 113, 228, 229, 276); a seed whose selector no
longer matches is still a valid input, only under another link type.
"""
import glob, hashlib, os, random, shutil, struct, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
PKTSCRIPT = os.environ.get("PKTSCRIPT", os.path.join(ROOT, "target", "debug", "pktscript"))
LINKTYPES = [1, 101, 113, 228, 229, 276]
rng = random.Random(12)


def captures():
    files = []
    for d in ["tests/data", "tests/golden", "scripts/data", "tests/replay", "tests/pkt/golden"]:
        files += glob.glob(os.path.join(ROOT, d, "**", "*.pcap"), recursive=True)
    return sorted(f for f in files if not os.path.basename(f).startswith("."))


def records(path):
    """(linktype, data) of each record of a classic pcap file."""
    b = open(path, "rb").read()
    magic = b[:4]
    e = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    lt = struct.unpack(e + "I", b[20:24])[0]
    off, out = 24, []
    while off + 16 <= len(b):
        incl = struct.unpack(e + "I", b[off + 8:off + 12])[0]
        out.append((lt, b[off + 16:off + 16 + incl]))
        off += 16 + incl
    return out


def write(target, data):
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    open(os.path.join(d, name), "wb").write(data)


def main():
    for t in ["dissect", "pcap", "text", "filter", "bpf"]:
        shutil.rmtree(os.path.join(HERE, t), ignore_errors=True)
    frames = {}
    for f in captures():
        for lt, data in records(f):
            frames.setdefault((lt, data), None)
    frames = list(frames)
    exprs = []
    for name in ["exprs.txt", "invalid.txt"]:
        for line in open(os.path.join(ROOT, "tests", "filter", name)):
            line = line.rstrip("\n")
            if line and not line.startswith("#"):
                exprs.append(line)

    # dissect: selector byte, then the frame.
    for lt, data in frames:
        write("dissect", bytes([LINKTYPES.index(lt) if lt in LINKTYPES else 0]) + data)

    # pcap: the captures, and each as pcapng.
    tmp = tempfile.mkdtemp()
    try:
        for f in captures():
            data = open(f, "rb").read()
            if len(data) <= 4096:
                write("pcap", data)
        for f in captures()[::3]:
            out = os.path.join(tmp, "x.pcapng")
            subprocess.run([PKTSCRIPT, "convert", f, out], check=True)
            write("pcap", open(out, "rb").read())
            # text: the captures as text dumps, with and without field lines.
            for opts in ([], ["-a"]):
                txt = subprocess.run([PKTSCRIPT, "convert", *opts, "--to", "text", f],
                                     check=True, capture_output=True).stdout
                if len(txt) <= 16384:
                    write("text", txt)
    finally:
        shutil.rmtree(tmp)
    for f in glob.glob(os.path.join(ROOT, "tests", "data", "pkttools", "*.txt")):
        write("text", open(f, "rb").read())

    # filter: each expression alone, and some with a link type and a frame.
    for e in exprs:
        write("filter", e.encode())
    for e in rng.sample(exprs, 60):
        lt, data = rng.choice(frames)
        write("filter", e.encode() + b"\0" + bytes([LINKTYPES.index(lt)]) + data)

    # bpf: selector, generator bytes, frame.
    for lt, data in frames:
        n = rng.randrange(8, 64)
        gen = bytes(rng.randrange(256) for _ in range(n))
        write("bpf", bytes([LINKTYPES.index(lt), n]) + gen + data)


if __name__ == "__main__":
    sys.exit(main())
