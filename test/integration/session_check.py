#!/usr/bin/env python3
"""Checks a downloaded recording against the audit log (issue 6).

usage: session_check.py RECORDING ENTRIES_JSON CHECKPOINT PROOFS_DIR SESSION_ID

- the recording is asciicast v2 whose header names the session's request;
- every "session.chunk" event of the session is present once per seq 0..n-1, and splitting the
  recording after its header line by the logged byte counts gives pieces whose SHA-256 are the
  logged digests (so the file is exactly what was logged); the header's digest is logged too;
- each chunk's leaf is included in the signed checkpoint's tree (RFC 9162 inclusion proofs,
  PROOFS_DIR/<index>.json as GET /v1/audit/proof/inclusion returns them).
"""
import base64, hashlib, json, os, sys

rec_path, entries_path, checkpoint_path, proofs_dir, session = sys.argv[1:6]
data = open(rec_path, 'rb').read()
header_line, _, body = data.partition(b'\n')
header = json.loads(header_line)
assert header['version'] == 2, header
entries = json.load(open(entries_path))['entries']
leaves = [(e['index'], base64.b64decode(e['leaf'])) for e in entries]

def event(leaf):
    j = json.loads(leaf)
    return j

chunks, started, ended = {}, None, None
for index, leaf in leaves:
    j = event(leaf)
    d = j.get('details', {})
    if d.get('session') != session:
        continue
    if j['type'] == 'session.chunk':
        seq = int(d['seq'])
        assert seq not in chunks, f'chunk {seq} logged twice'
        chunks[seq] = (index, leaf, d['sha256'], int(d['bytes']))
    elif j['type'] == 'session.started':
        started = d
    elif j['type'] == 'session.ended':
        ended = d
assert started, 'no session.started event'
assert started['header_sha256'] == hashlib.sha256(header_line).hexdigest(), 'header digest differs'
assert header['breakglass']['request_id'], header
assert sorted(chunks) == list(range(len(chunks))), f'gap in chunk numbers: {sorted(chunks)}'
off = 0
for seq in range(len(chunks)):
    _, _, sha, n = chunks[seq]
    piece = body[off:off + n]
    assert len(piece) == n, f'recording shorter than the log says at chunk {seq}'
    assert hashlib.sha256(piece).hexdigest() == sha, f'chunk {seq} digest differs'
    off += n
assert off == len(body), f'{len(body) - off} bytes of the recording are not in the log'

# The signed checkpoint: origin, size, base64 root.
lines = open(checkpoint_path).read().split('\n')
size, root = int(lines[1]), base64.b64decode(lines[2])

def leaf_hash(b):
    return hashlib.sha256(b'\x00' + b).digest()

def node(l, r):
    return hashlib.sha256(b'\x01' + l + r).digest()

def verify_inclusion(index, size, leaf, proof, root):
    # RFC 9162 section 2.1.3.2
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf_hash(leaf)
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while True:
                    fn >>= 1
                    sn >>= 1
                    if fn & 1 or fn == 0:
                        break
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root

for seq, (index, leaf, _, _) in chunks.items():
    proof = json.load(open(os.path.join(proofs_dir, f'{index}.json')))
    assert proof['size'] == size, proof
    hashes = [base64.b64decode(h) for h in proof['hashes']]
    assert verify_inclusion(index, size, leaf, hashes, root), f'chunk {seq} leaf {index} not included'
print(f'ok: {len(chunks)} chunks, {len(body)} bytes, all in the log of size {size}')
print('ended' if ended else 'not ended', ended.get('end_reason') if ended else '')
