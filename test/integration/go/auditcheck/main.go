// Command auditcheck verifies a breakglass audit log with the Go module proxy's own
// transparency-log code (golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog), so the
// log can be checked by an implementation we did not write.
//
// It reads, from the directory given by -dir:
//
//	key.txt            the note verifier key: <name>+<hex key id>+<base64(0x01 || pubkey)>
//	checkpoint.txt     the signed checkpoint note (C2SP tlog-checkpoint)
//	entries.jsonl      {"index":N,"leaf":"<base64 leaf bytes>"} per line, from index 0
//	inclusion.jsonl    {"index":i,"size":n,"hashes":[base64...]} per line (optional)
//	consistency.jsonl  {"first":m,"second":n,"hashes":[base64...]} per line (optional)
//
// and checks: the note signature (note.Open); that the entries hash (tlog.RecordHash,
// tlog.StoredHashes, tlog.TreeHash) to the checkpoint's root; every inclusion proof
// (tlog.CheckRecord) and consistency proof (tlog.CheckTree) against roots it computed itself.
//
// Proof order: tlog's RecordProof and TreeProof are built by the same recursion as RFC 9162's
// PATH and SUBPROOF (leafProof/treeProof append the sibling subtree hash after the sub-proof,
// i.e. leaf-to-root order), so an RFC 9162 proof is a tlog proof element for element, with no
// reordering. To show that rather than assume it, each proof is also compared with
// tlog.ProveRecord / tlog.ProveTree's own. tlog has no proof from size 0; those are skipped.
//
// With -report DIR it checks an evidence report (`breakglass report evidence`) instead: key.txt,
// checkpoint.txt and proofs.jsonl ({"hashes":[...],"index":i,"leaf":"<base64>","size":n} per
// line): the note signature, and every leaf's inclusion proof (tlog.CheckRecord) against the
// signed root, with no other entry of the log at hand.
//
// Build offline in GOPATH mode with Debian's golang-golang-x-mod-dev:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o auditcheck .
//
// Exit status 0 when everything verifies, 1 with a message on the first failure, 2 on usage.
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type entry struct {
	Index *int64  `json:"index"`
	Leaf  *string `json:"leaf"`
}

type inclusion struct {
	Index  int64    `json:"index"`
	Size   int64    `json:"size"`
	Hashes []string `json:"hashes"`
}

type proof struct {
	Hashes []string `json:"hashes"`
	Index  int64    `json:"index"`
	Leaf   string   `json:"leaf"`
	Size   int64    `json:"size"`
}

type consistency struct {
	First  int64    `json:"first"`
	Second int64    `json:"second"`
	Hashes []string `json:"hashes"`
}

type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
}

// memory is a tlog.HashReader over the stored hashes, in tlog's storage order.
type memory []tlog.Hash

func (m memory) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m)) {
			return nil, fmt.Errorf("hash %d not stored", x)
		}
		out[i] = m[x]
	}
	return out, nil
}

func main() {
	dir := flag.String("dir", "", "directory with key.txt, checkpoint.txt, entries.jsonl, ...")
	report := flag.String("report", "", "evidence report directory: key.txt, checkpoint.txt, proofs.jsonl")
	flag.Parse()
	if (*dir == "") == (*report == "") {
		fmt.Fprintln(os.Stderr, "usage: auditcheck -dir DIR | -report DIR")
		os.Exit(2)
	}
	var summary string
	var err error
	if *report != "" {
		summary, err = runReport(*report)
	} else {
		summary, err = run(*dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "auditcheck: FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("auditcheck: ok:", summary)
}

func run(dir string) (string, error) {
	key, err := os.ReadFile(filepath.Join(dir, "key.txt"))
	if err != nil {
		return "", err
	}
	msg, err := os.ReadFile(filepath.Join(dir, "checkpoint.txt"))
	if err != nil {
		return "", err
	}
	cp, err := openCheckpoint(strings.TrimSpace(string(key)), msg)
	if err != nil {
		return "", err
	}

	leaves, err := readEntries(filepath.Join(dir, "entries.jsonl"))
	if err != nil {
		return "", err
	}
	var stored memory
	for i, leaf := range leaves {
		hashes, err := tlog.StoredHashes(int64(i), leaf, stored)
		if err != nil {
			return "", fmt.Errorf("entry %d: %v", i, err)
		}
		stored = append(stored, hashes...)
	}
	n := int64(len(leaves))
	if cp.size > n {
		return "", fmt.Errorf("checkpoint covers %d entries but only %d were given", cp.size, n)
	}
	root, err := tlog.TreeHash(cp.size, stored)
	if err != nil {
		return "", err
	}
	if root != cp.root {
		return "", fmt.Errorf("entries hash to %v, checkpoint says %v", root, cp.root)
	}

	proofs := 0
	err = eachLine(filepath.Join(dir, "inclusion.jsonl"), func(line []byte) error {
		var p inclusion
		if err := strictUnmarshal(line, &p); err != nil {
			return err
		}
		if p.Size > n || p.Index < 0 || p.Index >= p.Size {
			return fmt.Errorf("inclusion %d in %d: out of range", p.Index, p.Size)
		}
		proof, err := decodeHashes(p.Hashes)
		if err != nil {
			return err
		}
		th, err := tlog.TreeHash(p.Size, stored)
		if err != nil {
			return err
		}
		if err := tlog.CheckRecord(tlog.RecordProof(proof), p.Size, th, p.Index,
			tlog.RecordHash(leaves[p.Index])); err != nil {
			return fmt.Errorf("inclusion %d in %d: %v", p.Index, p.Size, err)
		}
		theirs, err := tlog.ProveRecord(p.Size, p.Index, stored)
		if err != nil {
			return err
		}
		if !sameHashes(proof, theirs) {
			return fmt.Errorf("inclusion %d in %d: differs from tlog.ProveRecord", p.Index, p.Size)
		}
		proofs++
		return nil
	})
	if err != nil {
		return "", err
	}

	err = eachLine(filepath.Join(dir, "consistency.jsonl"), func(line []byte) error {
		var p consistency
		if err := strictUnmarshal(line, &p); err != nil {
			return err
		}
		if p.Second > n || p.First < 0 || p.First > p.Second {
			return fmt.Errorf("consistency %d -> %d: out of range", p.First, p.Second)
		}
		if p.First == 0 {
			return nil // tlog has no proof from the empty tree
		}
		proof, err := decodeHashes(p.Hashes)
		if err != nil {
			return err
		}
		oldRoot, err := tlog.TreeHash(p.First, stored)
		if err != nil {
			return err
		}
		newRoot, err := tlog.TreeHash(p.Second, stored)
		if err != nil {
			return err
		}
		if err := tlog.CheckTree(tlog.TreeProof(proof), p.Second, newRoot, p.First,
			oldRoot); err != nil {
			return fmt.Errorf("consistency %d -> %d: %v", p.First, p.Second, err)
		}
		theirs, err := tlog.ProveTree(p.Second, p.First, stored)
		if err != nil {
			return err
		}
		if !sameHashes(proof, theirs) {
			return fmt.Errorf("consistency %d -> %d: differs from tlog.ProveTree", p.First, p.Second)
		}
		proofs++
		return nil
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s size %d root %v, %d entries, %d proofs", cp.origin, cp.size, cp.root,
		n, proofs), nil
}

// runReport checks every proof of an evidence report against its signed checkpoint.
func runReport(dir string) (string, error) {
	key, err := os.ReadFile(filepath.Join(dir, "key.txt"))
	if err != nil {
		return "", err
	}
	msg, err := os.ReadFile(filepath.Join(dir, "checkpoint.txt"))
	if err != nil {
		return "", err
	}
	cp, err := openCheckpoint(strings.TrimSpace(string(key)), msg)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(dir, "proofs.jsonl")); err != nil {
		return "", err
	}
	proved := 0
	err = eachLine(filepath.Join(dir, "proofs.jsonl"), func(line []byte) error {
		var p proof
		if err := strictUnmarshal(line, &p); err != nil {
			return err
		}
		if p.Size != cp.size {
			return fmt.Errorf("entry %d: proof for size %d, the checkpoint has %d", p.Index, p.Size, cp.size)
		}
		leaf, err := base64.StdEncoding.DecodeString(p.Leaf)
		if err != nil {
			return fmt.Errorf("entry %d: %v", p.Index, err)
		}
		hashes, err := decodeHashes(p.Hashes)
		if err != nil {
			return fmt.Errorf("entry %d: %v", p.Index, err)
		}
		if err := tlog.CheckRecord(tlog.RecordProof(hashes), cp.size, cp.root, p.Index,
			tlog.RecordHash(leaf)); err != nil {
			return fmt.Errorf("entry %d: %v", p.Index, err)
		}
		proved++
		return nil
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s size %d root %v, %d report entries proved", cp.origin, cp.size, cp.root,
		proved), nil
}

// openCheckpoint checks the note signature with note.Open and parses the tlog-checkpoint body.
func openCheckpoint(vkey string, msg []byte) (checkpoint, error) {
	var cp checkpoint
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return cp, fmt.Errorf("verifier key: %v", err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return cp, fmt.Errorf("checkpoint: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) < 3 {
		return cp, errors.New("checkpoint: fewer than 3 lines")
	}
	cp.origin = lines[0]
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return cp, fmt.Errorf("checkpoint: bad size %q", lines[1])
	}
	cp.size = size
	root, err := tlog.ParseHash(lines[2])
	if err != nil {
		return cp, fmt.Errorf("checkpoint: bad root %q", lines[2])
	}
	cp.root = root
	return cp, nil
}

func readEntries(path string) ([][]byte, error) {
	var leaves [][]byte
	err := eachLine(path, func(line []byte) error {
		var e entry
		if err := json.Unmarshal(line, &e); err != nil {
			return err
		}
		if e.Index == nil || e.Leaf == nil {
			return errors.New("entry without index or leaf")
		}
		if *e.Index != int64(len(leaves)) {
			return fmt.Errorf("entry %d: found index %d", len(leaves), *e.Index)
		}
		leaf, err := base64.StdEncoding.DecodeString(*e.Leaf)
		if err != nil {
			return fmt.Errorf("entry %d: %v", *e.Index, err)
		}
		leaves = append(leaves, leaf)
		return nil
	})
	return leaves, err
}

// eachLine calls f for every non-empty line; a missing file has no lines.
func eachLine(path string, f func([]byte) error) error {
	file, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if err := f(line); err != nil {
			return err
		}
	}
	return sc.Err()
}

func strictUnmarshal(line []byte, v interface{}) error {
	d := json.NewDecoder(bytes.NewReader(line))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

func decodeHashes(b64 []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(b64))
	for i, s := range b64 {
		h, err := tlog.ParseHash(s)
		if err != nil {
			return nil, fmt.Errorf("hash %d: %v", i, err)
		}
		out[i] = h
	}
	return out, nil
}

func sameHashes(a, b []tlog.Hash) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
