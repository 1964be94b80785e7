#!/usr/bin/env python3
"""Fails if a file in src/<layer> includes a header from a layer above it.

The dependency direction (ARCHITECTURE.md):
  cli -> {server, train} -> runtime -> model
  cli -> dist (MPI expert parallelism) -> model -> tokenizer -> format -> kernels -> core
"""
import pathlib
import re
import sys

ORDER = ["core", "kernels", "format", "tokenizer", "model", "dist", "runtime", "server", "train", "cli"]
# server and train are peers: neither may include the other.
PEERS = {("server", "train"), ("train", "server")}

def rank(layer):
    return ORDER.index(layer)

def main(src):
    src = pathlib.Path(src)
    bad = []
    for f in sorted(src.rglob("*")):
        if f.suffix not in (".h", ".cpp", ".cu"):
            continue
        layer = f.relative_to(src).parts[0]
        if layer not in ORDER:
            bad.append(f"{f}: unknown layer directory '{layer}'")
            continue
        for n, line in enumerate(f.read_text(errors="replace").splitlines(), 1):
            m = re.match(r'\s*#\s*include\s+"([^"/]+)/', line)
            if not m or m.group(1) not in ORDER:
                continue
            target = m.group(1)
            if rank(target) > rank(layer) or (layer, target) in PEERS:
                bad.append(f"{f}:{n}: layer '{layer}' must not include '{target}' (upward)")
    for b in bad:
        print(b)
    print(f"layering: {len(bad)} violation(s)")
    return 1 if bad else 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
