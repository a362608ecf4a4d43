#!/usr/bin/env python3
"""Writes a decK 3.0 file with N services, each with one route and one plugin (for benchmarks).

usage: gen_deck.py N OUT [--change]   (--change alters one route's path)
"""
import sys

n, out = int(sys.argv[1]), sys.argv[2]
change = "--change" in sys.argv
with open(out, "w") as f:
    f.write('_format_version: "3.0"\nservices:\n')
    for i in range(n):
        path = f"/svc{i}" + ("-changed" if change and i == n // 2 else "")
        f.write(
            f"  - name: svc{i}\n"
            f"    url: http://127.0.0.1:{10000 + i % 1000}/v{i}\n"
            f"    routes:\n"
            f"      - name: route{i}\n"
            f"        paths: [{path}]\n"
            f"    plugins:\n"
            f"      - name: key-auth\n"
            f"        config:\n"
            f"          key_names: [apikey{i % 7}]\n"
        )
