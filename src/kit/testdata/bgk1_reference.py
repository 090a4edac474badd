#!/usr/bin/env python3
"""An independent reading of docs/kit-share-format.md, in a few lines of Python.

Decodes every share line of share_vectors_v1.json with nothing but the document: checks the
group check characters, the line checksum and the manifest commitments, then restores the
secret by Lagrange interpolation over GF(2^8). Exits 0 when all agree with the vectors.
"""
import hashlib
import json
import os
import sys

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def gf32_mul(a, b):
    p = 0
    for _ in range(5):
        if b & 1:
            p ^= a
        b >>= 1
        a <<= 1
        if a & 32:
            a ^= 0x25
    return p


def gf256_mul(a, b):
    p = 0
    while b:
        if b & 1:
            p ^= a
        b >>= 1
        a <<= 1
        if a & 256:
            a ^= 0x11B
    return p


def gf256_inv(a):
    return next(b for b in range(1, 256) if gf256_mul(a, b) == 1)


def decode(line):
    assert line.startswith("bgk1-"), line
    values = []
    for number, group in enumerate(line[5:].split("-"), start=1):
        data = [ALPHABET.index(c) for c in group[:-1]]
        check, weight = number % 32, 2
        for v in data:
            check ^= gf32_mul(weight, v)
            weight = gf32_mul(weight, 2)
        assert ALPHABET[check] == group[-1], f"group {number} of {line}"
        values += data
    bits = "".join(format(v, "05b") for v in values)
    blob = bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits) // 8 * 8, 8))
    body, checksum = blob[:-4], blob[-4:]
    assert hashlib.sha256(b"bgk1" + body).digest()[:4] == checksum, line
    return body[:5], body[5], body[6], body[7:23], body[23:]


def main():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "share_vectors_v1.json")
    with open(path) as f:
        vectors = json.load(f)
    for vector in vectors:
        manifest = vector["manifest"]
        points = []
        for line in vector["share_lines"]:
            kit, index, threshold, salt, payload = decode(line)
            commitment = hashlib.sha256(b"breakglass-kit-share-commitment/1\0" + kit +
                                        bytes([index, threshold]) + salt + payload).hexdigest()
            assert commitment == manifest["commitments"][index - 1]["sha256"], line
            assert threshold == manifest["threshold"]
            points.append((index, payload))
        use = points[-manifest["threshold"]:]
        secret = bytearray(len(use[0][1]))
        for i, (xi, yi) in enumerate(use):
            num = den = 1
            for j, (xj, _) in enumerate(use):
                if i != j:
                    num, den = gf256_mul(num, xj), gf256_mul(den, xi ^ xj)
            basis = gf256_mul(num, gf256_inv(den))
            for b in range(len(secret)):
                secret[b] ^= gf256_mul(basis, yi[b])
        assert secret.hex() == vector["secret_hex"], vector["seed"]
    print(f"bgk1 reference decoder: {len(vectors)} vectors agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
