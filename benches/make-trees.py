#!/usr/bin/env python3
"""Builds the benchmark trees: `large` (4 files, 1 GiB in all) and `small-N` (N files of
4 KiB in folders of 1,000). Content is half random, half repetitive text, so that zstd does
real work on both kinds of bytes. Run: python3 benches/make-trees.py DIR [N ...]"""
import os
import sys

def chunk(rng_state, size):
    half = size // 2
    text = (b"Sortie benchmark line: invoices, contacts, mail and photos. " * (half // 60 + 1))[:half]
    return os.urandom(size - half) + text

def large(root):
    path = os.path.join(root, "large")
    if os.path.isdir(path):
        return
    os.makedirs(path)
    for i in range(4):
        with open(os.path.join(path, f"part-{i}.bin"), "wb") as f:
            for _ in range(256):
                f.write(chunk(None, 1 << 20))

def small(root, count):
    path = os.path.join(root, f"small-{count}")
    if os.path.isdir(path):
        return
    for i in range(count):
        folder = os.path.join(path, f"d{i // 1000:04d}")
        if i % 1000 == 0:
            os.makedirs(folder)
        with open(os.path.join(folder, f"f{i:06d}.txt"), "wb") as f:
            f.write(chunk(None, 4096))

if __name__ == "__main__":
    root = sys.argv[1]
    os.makedirs(root, exist_ok=True)
    counts = [int(n) for n in sys.argv[2:]] or [10_000, 100_000]
    large(root)
    for n in counts:
        small(root, n)
