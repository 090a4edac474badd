// The audit log's Merkle tree: RFC 9162 section 2.1 (the RFC 6962 tree), SHA-256.
//
//   leaf hash = SHA-256(0x00 || leaf bytes)     node hash = SHA-256(0x01 || left || right)
//
// Storage model (as transparency-dev/merkle's compact ranges): only hashes of *perfect*
// subtrees are stored. Node (level, index) is the hash of the 2^level leaves
// [index << level, (index + 1) << level); leaves are level 0. A tree of any size is the
// right-associated fold of at most 64 perfect subtrees (one per set bit of the size), so the
// root, inclusion proofs and consistency proofs need O(log n) node reads, and appending a leaf
// computes O(log n) hashes amortised O(1).
//
// Hashes are 32 raw bytes held in std::string (the form the Store keeps). Everything here is a
// pure function or a plain value type: no I/O, no clock; not thread-safe beyond that.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace bg::audit {

inline constexpr size_t kHashSize = 32;

std::string HashLeaf(std::string_view leaf_bytes);
std::string HashChildren(std::string_view left, std::string_view right);
// The root of the empty tree: SHA-256 of no bytes (RFC 9162 2.1.1).
std::string EmptyRoot();

// One stored perfect-subtree hash.
struct Node {
  int level = 0;
  int64_t index = 0;
  std::string hash;
  bool operator==(const Node&) const = default;
};

// Reads the stored hash of node (level, index). An absent node is an error (NotFound).
using NodeReader = std::function<Result<std::string>(int level, int64_t index)>;

// The right edge of the tree: the perfect subtrees a tree of Size() leaves decomposes into.
// Append() is what the writer calls once per leaf inside the store transaction.
class CompactRange {
 public:
  CompactRange() = default;

  // Rebuilds the range of a tree of `size` leaves from stored nodes (popcount(size) reads).
  // InvalidArgument("size") if size < 0; the reader's error if a node is missing; Internal if a
  // stored hash is not 32 bytes.
  static Result<CompactRange> Load(int64_t size, const NodeReader& read);

  // Appends a leaf by its hash (HashLeaf of the leaf bytes). Returns the nodes to persist:
  // the leaf itself (level 0, index = old Size()) then every perfect subtree this leaf
  // completed, by increasing level.
  std::vector<Node> Append(std::string leaf_hash);

  // The root hash of the tree of Size() leaves (EmptyRoot() when empty).
  std::string Root() const;
  int64_t Size() const { return size_; }
  // The perfect subtree hashes, left (largest) to right (smallest).
  const std::vector<std::string>& hashes() const { return hashes_; }

 private:
  int64_t size_ = 0;
  std::vector<std::string> hashes_;
};

// Proof generation over stored nodes. `size` must not exceed the stored log's size (else the
// reader reports a missing node). Argument errors are InvalidArgument naming the parameter.
Result<std::string> RootAt(int64_t size, const NodeReader& read);
// The audit path of RFC 9162 2.1.3.1, leaf to root. 0 <= index < size.
Result<std::vector<std::string>> InclusionProof(int64_t index, int64_t size,
                                                const NodeReader& read);
// The consistency proof of RFC 9162 2.1.4.1. 0 <= first <= second; empty when first is 0 or
// equals second.
Result<std::vector<std::string>> ConsistencyProof(int64_t first, int64_t second,
                                                  const NodeReader& read);

// Verifiers (RFC 9162 2.1.3.2 and 2.1.4.2). Ok when the proof verifies; InvalidArgument naming
// "index"/"size"/"first"/"second" for out-of-range arguments, naming "proof" (or the hash) when
// the proof does not verify.
Status VerifyInclusion(std::string_view leaf_hash, int64_t index, int64_t size,
                       const std::vector<std::string>& proof, std::string_view root);
// first == 0 proves nothing but is accepted with an empty proof when first_root is EmptyRoot();
// first == second needs an empty proof and equal roots.
Status VerifyConsistency(int64_t first, int64_t second, const std::vector<std::string>& proof,
                         std::string_view first_root, std::string_view second_root);

}  // namespace bg::audit
