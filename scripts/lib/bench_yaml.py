"""The generated YAML the SOPS benchmarks encrypt and decrypt: one generator, so
bench-sops.sh and bench-check.sh measure the same bytes. Seed `random` first."""
import random

ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def tok(n):
    return "".join(random.choice(ALPHABET) for _ in range(n))


def big_yaml():
    """About 1 MB of service entries (strings, ints, bools, floats, lists)."""
    out, i = [], 0
    while sum(map(len, out)) < 1_000_000:
        out.append(f"svc{i}:\n    name: service-{i}\n    password: {tok(32)}\n    port: {8000 + i}\n"
                   f"    enabled: true\n    ratio: 0.{i}\n    tags:\n        - {tok(6)}\n        - {tok(6)}\n")
        i += 1
    return "".join(out)
