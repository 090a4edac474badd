#include "audit/merkle.h"

#include <bit>
#include <cassert>
#include <utility>

#include <fmt/format.h>

#include "util/sha256.h"

namespace bg::audit {
namespace {

constexpr char kLeafPrefix[] = {'\x00'};
constexpr char kNodePrefix[] = {'\x01'};

// The largest power of two strictly below n (n >= 2): RFC 9162's k.
int64_t SplitPoint(int64_t n) {
  return int64_t{1} << (std::bit_width(static_cast<uint64_t>(n - 1)) - 1);
}

Result<std::string> ReadNode(const NodeReader& read, int level, int64_t index) {
  BG_ASSIGN_OR_RETURN(std::string hash, read(level, index));
  if (hash.size() != kHashSize) {
    return Error::Internal(
        fmt::format("stored node ({}, {}) has {} bytes, not {}", level, index, hash.size(),
                    kHashSize));
  }
  return hash;
}

// MTH of leaves [begin, end) where begin is aligned to a power of two >= end - begin, which
// holds for every subtree the RFC 9162 recursion visits. The range splits into one perfect
// subtree per set bit of its length, largest first; the hash is their right-associated fold.
Result<std::string> RangeHash(int64_t begin, int64_t end, const NodeReader& read) {
  const auto n = static_cast<uint64_t>(end - begin);
  std::vector<std::string> parts;
  int64_t pos = begin;
  for (int level = 63; level >= 0; --level) {
    if ((n >> level & 1) == 0) continue;
    assert(pos % (int64_t{1} << level) == 0);
    BG_ASSIGN_OR_RETURN(std::string h, ReadNode(read, level, pos >> level));
    parts.push_back(std::move(h));
    pos += int64_t{1} << level;
  }
  std::string root = std::move(parts.back());
  for (size_t i = parts.size() - 1; i-- > 0;) root = HashChildren(parts[i], root);
  return root;
}

// PATH(m, D[lo:hi]) of RFC 9162 2.1.3.1 with absolute leaf indices.
Status AppendPath(int64_t m, int64_t lo, int64_t hi, const NodeReader& read,
                  std::vector<std::string>& out) {
  if (hi - lo == 1) return Ok();
  const int64_t k = SplitPoint(hi - lo);
  if (m < lo + k) {
    BG_TRY(AppendPath(m, lo, lo + k, read, out));
    BG_ASSIGN_OR_RETURN(std::string h, RangeHash(lo + k, hi, read));
    out.push_back(std::move(h));
  } else {
    BG_TRY(AppendPath(m, lo + k, hi, read, out));
    BG_ASSIGN_OR_RETURN(std::string h, RangeHash(lo, lo + k, read));
    out.push_back(std::move(h));
  }
  return Ok();
}

// SUBPROOF(m, D[lo:hi], b) of RFC 9162 2.1.4.1 with absolute leaf indices.
Status AppendSubproof(int64_t m, int64_t lo, int64_t hi, bool b, const NodeReader& read,
                      std::vector<std::string>& out) {
  if (m == hi) {
    if (b) return Ok();
    BG_ASSIGN_OR_RETURN(std::string h, RangeHash(lo, hi, read));
    out.push_back(std::move(h));
    return Ok();
  }
  const int64_t k = SplitPoint(hi - lo);
  if (m <= lo + k) {
    BG_TRY(AppendSubproof(m, lo, lo + k, b, read, out));
    BG_ASSIGN_OR_RETURN(std::string h, RangeHash(lo + k, hi, read));
    out.push_back(std::move(h));
  } else {
    BG_TRY(AppendSubproof(m, lo + k, hi, false, read, out));
    BG_ASSIGN_OR_RETURN(std::string h, RangeHash(lo, lo + k, read));
    out.push_back(std::move(h));
  }
  return Ok();
}

Status CheckHash(std::string_view field, std::string_view hash) {
  if (hash.size() != kHashSize) {
    return Error::InvalidArgument(std::string(field),
                                  fmt::format("hash has {} bytes, not {}", hash.size(), kHashSize));
  }
  return Ok();
}

Status CheckProofHashes(const std::vector<std::string>& proof) {
  for (size_t i = 0; i < proof.size(); ++i) {
    if (proof[i].size() != kHashSize) {
      return Error::InvalidArgument(
          "proof", fmt::format("hash {} has {} bytes, not {}", i, proof[i].size(), kHashSize));
    }
  }
  return Ok();
}

Error ProofFails(std::string message) { return Error::InvalidArgument("proof", std::move(message)); }

}  // namespace

std::string HashLeaf(std::string_view leaf_bytes) {
  return std::string(AsBytes(Sha256Parts({std::string_view(kLeafPrefix, 1), leaf_bytes})));
}

std::string HashChildren(std::string_view left, std::string_view right) {
  return std::string(AsBytes(Sha256Parts({std::string_view(kNodePrefix, 1), left, right})));
}

std::string EmptyRoot() { return std::string(AsBytes(Sha256(""))); }

Result<CompactRange> CompactRange::Load(int64_t size, const NodeReader& read) {
  if (size < 0) return Error::InvalidArgument("size", "must not be negative");
  CompactRange range;
  int64_t pos = 0;
  for (int level = 63; level >= 0; --level) {
    if ((static_cast<uint64_t>(size) >> level & 1) == 0) continue;
    BG_ASSIGN_OR_RETURN(std::string h, ReadNode(read, level, pos >> level));
    range.hashes_.push_back(std::move(h));
    pos += int64_t{1} << level;
  }
  range.size_ = size;
  return range;
}

std::vector<Node> CompactRange::Append(std::string leaf_hash) {
  assert(leaf_hash.size() == kHashSize);
  std::vector<Node> completed;
  completed.push_back(Node{0, size_, leaf_hash});
  std::string hash = std::move(leaf_hash);
  int level = 0;
  int64_t index = size_;
  // Each trailing one bit of the old size is a perfect subtree the new leaf's subtree merges
  // with, exactly like carrying in binary addition.
  for (int64_t s = size_; (s & 1) != 0; s >>= 1) {
    hash = HashChildren(hashes_.back(), hash);
    hashes_.pop_back();
    ++level;
    index >>= 1;
    completed.push_back(Node{level, index, hash});
  }
  hashes_.push_back(std::move(hash));
  ++size_;
  return completed;
}

std::string CompactRange::Root() const {
  if (hashes_.empty()) return EmptyRoot();
  std::string root = hashes_.back();
  for (size_t i = hashes_.size() - 1; i-- > 0;) root = HashChildren(hashes_[i], root);
  return root;
}

Result<std::string> RootAt(int64_t size, const NodeReader& read) {
  if (size < 0) return Error::InvalidArgument("size", "must not be negative");
  if (size == 0) return EmptyRoot();
  return RangeHash(0, size, read);
}

Result<std::vector<std::string>> InclusionProof(int64_t index, int64_t size,
                                                const NodeReader& read) {
  if (size <= 0) return Error::InvalidArgument("size", "must be positive");
  if (index < 0 || index >= size) {
    return Error::InvalidArgument("index", fmt::format("{} is not in [0, {})", index, size));
  }
  std::vector<std::string> proof;
  BG_TRY(AppendPath(index, 0, size, read, proof));
  return proof;
}

Result<std::vector<std::string>> ConsistencyProof(int64_t first, int64_t second,
                                                  const NodeReader& read) {
  if (second < 0) return Error::InvalidArgument("second", "must not be negative");
  if (first < 0 || first > second) {
    return Error::InvalidArgument("first", fmt::format("{} is not in [0, {}]", first, second));
  }
  std::vector<std::string> proof;
  if (first == 0 || first == second) return proof;
  BG_TRY(AppendSubproof(first, 0, second, true, read, proof));
  return proof;
}

Status VerifyInclusion(std::string_view leaf_hash, int64_t index, int64_t size,
                       const std::vector<std::string>& proof, std::string_view root) {
  if (size <= 0) return Error::InvalidArgument("size", "must be positive");
  if (index < 0 || index >= size) {
    return Error::InvalidArgument("index", fmt::format("{} is not in [0, {})", index, size));
  }
  BG_TRY(CheckHash("leaf_hash", leaf_hash));
  BG_TRY(CheckHash("root", root));
  BG_TRY(CheckProofHashes(proof));
  auto fn = static_cast<uint64_t>(index);
  auto sn = static_cast<uint64_t>(size - 1);
  std::string r(leaf_hash);
  for (const std::string& p : proof) {
    if (sn == 0) return ProofFails("inclusion proof is too long");
    if ((fn & 1) != 0 || fn == sn) {
      r = HashChildren(p, r);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = HashChildren(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return ProofFails("inclusion proof is too short");
  if (r != root) return ProofFails("inclusion proof does not lead to the root");
  return Ok();
}

Status VerifyConsistency(int64_t first, int64_t second, const std::vector<std::string>& proof,
                         std::string_view first_root, std::string_view second_root) {
  if (second < 0) return Error::InvalidArgument("second", "must not be negative");
  if (first < 0 || first > second) {
    return Error::InvalidArgument("first", fmt::format("{} is not in [0, {}]", first, second));
  }
  BG_TRY(CheckHash("first_root", first_root));
  BG_TRY(CheckHash("second_root", second_root));
  BG_TRY(CheckProofHashes(proof));
  if (first == 0) {
    if (!proof.empty()) return ProofFails("a proof from the empty tree must be empty");
    if (first_root != EmptyRoot()) return ProofFails("first_root is not the empty tree's root");
    return Ok();
  }
  if (first == second) {
    if (!proof.empty()) return ProofFails("a proof between equal sizes must be empty");
    if (first_root != second_root) return ProofFails("roots of equal sizes differ");
    return Ok();
  }
  if (proof.empty()) return ProofFails("consistency proof is empty");

  // RFC 9162 2.1.4.2. When first is a power of two its root is itself a node of the second
  // tree and the proof omits it; the verifier starts from first_root instead.
  std::vector<std::string_view> path;
  path.reserve(proof.size() + 1);
  if (std::has_single_bit(static_cast<uint64_t>(first))) path.push_back(first_root);
  for (const std::string& p : proof) path.push_back(p);

  auto fn = static_cast<uint64_t>(first - 1);
  auto sn = static_cast<uint64_t>(second - 1);
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  std::string fr(path[0]);
  std::string sr(path[0]);
  for (size_t i = 1; i < path.size(); ++i) {
    const std::string_view c = path[i];
    if (sn == 0) return ProofFails("consistency proof is too long");
    if ((fn & 1) != 0 || fn == sn) {
      fr = HashChildren(c, fr);
      sr = HashChildren(c, sr);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = HashChildren(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return ProofFails("consistency proof is too short");
  if (fr != first_root) return ProofFails("consistency proof does not lead to first_root");
  if (sr != second_root) return ProofFails("consistency proof does not lead to second_root");
  return Ok();
}

}  // namespace bg::audit
