#include "audit/merkle.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "util/encoding.h"

namespace bg::audit {
namespace {

std::string Hex(std::string_view bytes) { return HexEncode(bytes); }
std::string Unhex(std::string_view hex) { return HexDecode(hex).value(); }

// An in-memory node store fed by CompactRange::Append, counting reads.
class MemoryNodes {
 public:
  void Add(const std::vector<Node>& nodes) {
    for (const Node& n : nodes) nodes_[{n.level, n.index}] = n.hash;
  }
  NodeReader Reader() {
    return [this](int level, int64_t index) -> Result<std::string> {
      ++reads_;
      auto it = nodes_.find({level, index});
      if (it == nodes_.end()) return Error::NotFound("no node");
      return it->second;
    };
  }
  int reads() const { return reads_; }
  void ResetReads() { reads_ = 0; }
  size_t size() const { return nodes_.size(); }

 private:
  std::map<std::pair<int, int64_t>, std::string> nodes_;
  int reads_ = 0;
};

// MTH of RFC 9162 2.1.1 straight from the definition: the oracle for the property tests.
std::string NaiveRoot(const std::vector<std::string>& leaves, size_t lo, size_t hi) {
  if (hi == lo) return EmptyRoot();
  if (hi - lo == 1) return HashLeaf(leaves[lo]);
  size_t k = 1;
  while (k * 2 < hi - lo) k *= 2;
  return HashChildren(NaiveRoot(leaves, lo, lo + k), NaiveRoot(leaves, lo + k, hi));
}

std::vector<std::string> MakeLeaves(int n) {
  std::vector<std::string> leaves;
  for (int i = 0; i < n; ++i) leaves.push_back("leaf " + std::to_string(i));
  return leaves;
}

struct Log {
  CompactRange range;
  MemoryNodes nodes;
  std::vector<std::string> roots;  // roots[s] = root of the first s leaves
};

void Build(Log& log, const std::vector<std::string>& leaves) {
  log.roots.push_back(log.range.Root());
  for (const std::string& leaf : leaves) {
    log.nodes.Add(log.range.Append(HashLeaf(leaf)));
    log.roots.push_back(log.range.Root());
  }
}

// ---- Known answers --------------------------------------------------------------------------
// The 8-leaf tree of the Certificate Transparency reference tests, as published in
// transparency-dev/merkle testonly/constants.go (LeafInputs, NodeHashes, RootHashes) and
// proof/verify_test.go (inclusionProofs, whose leaf numbers are 1-based, and
// consistencyProofs); the same values as google/certificate-transparency's merkle_tree_test.cc.

std::vector<std::string> CtLeaves() {
  return {Unhex(""),         Unhex("00"),       Unhex("10"),
          Unhex("2021"),     Unhex("3031"),     Unhex("40414243"),
          Unhex("5051525354555657"), Unhex("606162636465666768696a6b6c6d6e6f")};
}

const char* const kCtRoots[] = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

// NodeHashes(): level -> index -> hash.
const std::vector<std::vector<const char*>> kCtNodes = {
    {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
     "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
     "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
     "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
     "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
     "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
     "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
     "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"},
    {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
     "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
     "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
     "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"},
    {"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
     "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"},
    {"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"},
};

struct ProofVector {
  int64_t a;  // index (inclusion) or first (consistency)
  int64_t size;
  std::vector<const char*> proof;
};

const std::vector<ProofVector> kCtInclusion = {
    {0, 1, {}},
    {0, 8,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {5, 8,
     {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2, 3, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
    {1, 5,
     {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
};

const std::vector<ProofVector> kCtConsistency = {
    {1, 1, {}},
    {1, 8,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {6, 8,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2, 5,
     {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
    {6, 7,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
};

std::vector<std::string> HexList(const std::vector<std::string>& hashes) {
  std::vector<std::string> out;
  for (const auto& h : hashes) out.push_back(Hex(h));
  return out;
}
std::vector<std::string> HexList(const std::vector<const char*>& hashes) {
  return {hashes.begin(), hashes.end()};
}
std::vector<std::string> Raw(const std::vector<const char*>& hashes) {
  std::vector<std::string> out;
  for (const char* h : hashes) out.push_back(Unhex(h));
  return out;
}

TEST(MerkleKnownAnswer, RootsOfTheCtTreeForSizes0To8) {
  Log log;
  Build(log, CtLeaves());
  for (int size = 0; size <= 8; ++size) {
    EXPECT_EQ(Hex(log.roots[size]), kCtRoots[size]) << "size " << size;
    EXPECT_EQ(Hex(RootAt(size, log.nodes.Reader()).value()), kCtRoots[size]) << "size " << size;
  }
}

TEST(MerkleKnownAnswer, AppendPersistsExactlyTheCtNodeHashes) {
  Log log;
  Build(log, CtLeaves());
  size_t expected = 0;
  for (size_t level = 0; level < kCtNodes.size(); ++level) {
    for (size_t index = 0; index < kCtNodes[level].size(); ++index) {
      ++expected;
      auto got = log.nodes.Reader()(static_cast<int>(level), static_cast<int64_t>(index));
      ASSERT_TRUE(got.has_value()) << level << "/" << index;
      EXPECT_EQ(Hex(*got), kCtNodes[level][index]) << level << "/" << index;
    }
  }
  EXPECT_EQ(log.nodes.size(), expected);
}

TEST(MerkleKnownAnswer, InclusionProofsMatchThePublishedOnes) {
  Log log;
  Build(log, CtLeaves());
  const auto leaves = CtLeaves();
  for (const ProofVector& v : kCtInclusion) {
    auto proof = InclusionProof(v.a, v.size, log.nodes.Reader());
    ASSERT_TRUE(proof.has_value()) << proof.error().ToString();
    EXPECT_EQ(HexList(*proof), HexList(v.proof)) << v.a << " in " << v.size;
    EXPECT_TRUE(VerifyInclusion(HashLeaf(leaves[v.a]), v.a, v.size, Raw(v.proof),
                                Unhex(kCtRoots[v.size]))
                    .has_value());
  }
}

TEST(MerkleKnownAnswer, ConsistencyProofsMatchThePublishedOnes) {
  Log log;
  Build(log, CtLeaves());
  for (const ProofVector& v : kCtConsistency) {
    auto proof = ConsistencyProof(v.a, v.size, log.nodes.Reader());
    ASSERT_TRUE(proof.has_value()) << proof.error().ToString();
    EXPECT_EQ(HexList(*proof), HexList(v.proof)) << v.a << " -> " << v.size;
    auto ok = VerifyConsistency(v.a, v.size, Raw(v.proof), Unhex(kCtRoots[v.a]),
                                Unhex(kCtRoots[v.size]));
    EXPECT_TRUE(ok.has_value()) << ok.error().ToString();
  }
}

// ---- Properties -----------------------------------------------------------------------------

// Every way of damaging a proof the verifier must notice: each bit of each hash (or a sample of
// bits when `every_bit` is false), a dropped, added or repeated hash.
std::vector<std::vector<std::string>> DamagedProofs(const std::vector<std::string>& proof,
                                                    bool every_bit) {
  std::vector<std::vector<std::string>> out;
  for (size_t i = 0; i < proof.size(); ++i) {
    for (int bit = 0; bit < 256; bit += every_bit ? 1 : 37) {
      auto p = proof;
      p[i][bit / 8] = static_cast<char>(p[i][bit / 8] ^ (1 << (bit % 8)));
      out.push_back(std::move(p));
    }
  }
  if (!proof.empty()) {
    out.emplace_back(proof.begin(), proof.end() - 1);
    out.emplace_back(proof.begin() + 1, proof.end());
    auto dup = proof;
    dup.insert(dup.begin(), proof.front());
    out.push_back(std::move(dup));
  }
  auto longer = proof;
  longer.push_back(std::string(kHashSize, '\x42'));
  out.push_back(std::move(longer));
  return out;
}

std::string FlipBit(std::string s, int bit) {
  s[bit / 8] = static_cast<char>(s[bit / 8] ^ (1 << (bit % 8)));
  return s;
}

TEST(MerkleProperty, EveryInclusionProofUpTo64VerifiesAndEveryDamageIsCaught) {
  const auto leaves = MakeLeaves(128);
  Log log;
  Build(log, leaves);
  for (int64_t size = 1; size <= 64; ++size) {
    const std::string root = NaiveRoot(leaves, 0, size);
    ASSERT_EQ(Hex(log.roots[size]), Hex(root)) << "size " << size;
    ASSERT_EQ(Hex(RootAt(size, log.nodes.Reader()).value()), Hex(root)) << "size " << size;
    for (int64_t index = 0; index < size; ++index) {
      const std::string leaf_hash = HashLeaf(leaves[index]);
      auto proof = InclusionProof(index, size, log.nodes.Reader());
      ASSERT_TRUE(proof.has_value());
      ASSERT_TRUE(VerifyInclusion(leaf_hash, index, size, *proof, root).has_value())
          << index << " in " << size;
      for (const auto& bad : DamagedProofs(*proof, size <= 16)) {
        EXPECT_FALSE(VerifyInclusion(leaf_hash, index, size, bad, root).has_value())
            << index << " in " << size;
      }
      for (int bit = 0; bit < 256; bit += size <= 16 ? 1 : 29) {
        EXPECT_FALSE(VerifyInclusion(FlipBit(leaf_hash, bit), index, size, *proof, root)
                         .has_value());
        EXPECT_FALSE(VerifyInclusion(leaf_hash, index, size, *proof, FlipBit(root, bit))
                         .has_value());
      }
      for (int64_t other = 0; other < size; ++other) {
        if (other == index) continue;
        EXPECT_FALSE(VerifyInclusion(leaf_hash, other, size, *proof, root).has_value())
            << "index " << index << " accepted as " << other << " in " << size;
      }
      // The size is bound by the signed checkpoint, not by the proof: an audit path is also
      // valid for another size whose path has the same shape (0 in 3 and 0 in 4). A size whose
      // path has a different length must fail.
      for (int64_t other_size : {size - 1, size + 1, size * 2, size / 2, size ^ 2}) {
        if (other_size == size || other_size <= index) continue;
        if (InclusionProof(index, other_size, log.nodes.Reader())->size() == proof->size()) {
          continue;
        }
        EXPECT_FALSE(VerifyInclusion(leaf_hash, index, other_size, *proof, root).has_value())
            << index << " in " << size << " accepted as size " << other_size;
      }
    }
  }
}

TEST(MerkleProperty, EveryConsistencyProofUpTo64VerifiesAndEveryDamageIsCaught) {
  const auto leaves = MakeLeaves(64);
  Log log;
  Build(log, leaves);
  for (int64_t second = 1; second <= 64; ++second) {
    for (int64_t first = 0; first <= second; ++first) {
      const std::string& r1 = log.roots[first];
      const std::string& r2 = log.roots[second];
      ASSERT_EQ(Hex(r1), Hex(NaiveRoot(leaves, 0, first)));
      auto proof = ConsistencyProof(first, second, log.nodes.Reader());
      ASSERT_TRUE(proof.has_value());
      auto ok = VerifyConsistency(first, second, *proof, r1, r2);
      ASSERT_TRUE(ok.has_value()) << first << " -> " << second << ": " << ok.error().ToString();
      // Every tree is consistent with the empty one: only first_root is checked then.
      if (first == 0) {
        EXPECT_FALSE(VerifyConsistency(0, second, *proof, FlipBit(r1, 5), r2).has_value());
        continue;
      }
      if (first == second) continue;
      for (const auto& bad : DamagedProofs(*proof, second <= 16)) {
        EXPECT_FALSE(VerifyConsistency(first, second, bad, r1, r2).has_value())
            << first << " -> " << second;
      }
      for (int bit = 0; bit < 256; bit += second <= 16 ? 1 : 31) {
        EXPECT_FALSE(VerifyConsistency(first, second, *proof, FlipBit(r1, bit), r2).has_value());
        EXPECT_FALSE(VerifyConsistency(first, second, *proof, r1, FlipBit(r2, bit)).has_value());
      }
      if (first > 0) {
        // A different old size must not verify, not even with that size's true root (the
        // proof was made for `first`) unless the proof happens to be the same.
        for (int64_t other = 1; other < second; ++other) {
          if (other == first) continue;
          auto other_proof = ConsistencyProof(other, second, log.nodes.Reader()).value();
          if (other_proof == *proof) continue;
          EXPECT_FALSE(VerifyConsistency(other, second, *proof, log.roots[other], r2).has_value())
              << first << " -> " << second << " accepted for " << other;
        }
      }
    }
  }
}

TEST(MerkleProperty, RandomLargeSizesUpTo2To20) {
  std::mt19937_64 rng(20240601);
  const int64_t max = int64_t{1} << 20;
  Log log;
  std::vector<std::string> leaves;
  for (int64_t i = 0; i < max; ++i) {
    std::string leaf = "L" + std::to_string(i);
    log.nodes.Add(log.range.Append(HashLeaf(leaf)));
    leaves.push_back(std::move(leaf));
  }
  std::uniform_int_distribution<int64_t> size_dist(1, max);
  for (int round = 0; round < 40; ++round) {
    const int64_t size = size_dist(rng);
    log.nodes.ResetReads();
    const std::string root = RootAt(size, log.nodes.Reader()).value();
    EXPECT_LE(log.nodes.reads(), 64);
    const int64_t index = std::uniform_int_distribution<int64_t>(0, size - 1)(rng);
    log.nodes.ResetReads();
    auto proof = InclusionProof(index, size, log.nodes.Reader()).value();
    EXPECT_LE(log.nodes.reads(), 2 * 21) << "inclusion reads for size " << size;
    EXPECT_TRUE(VerifyInclusion(HashLeaf(leaves[index]), index, size, proof, root).has_value());
    EXPECT_FALSE(VerifyInclusion(HashLeaf(leaves[index] + "x"), index, size, proof, root)
                     .has_value());

    const int64_t first = std::uniform_int_distribution<int64_t>(1, size)(rng);
    const std::string old_root = RootAt(first, log.nodes.Reader()).value();
    log.nodes.ResetReads();
    auto cproof = ConsistencyProof(first, size, log.nodes.Reader()).value();
    EXPECT_LE(log.nodes.reads(), 2 * 21) << "consistency reads " << first << " -> " << size;
    EXPECT_TRUE(VerifyConsistency(first, size, cproof, old_root, root).has_value());
    if (!cproof.empty()) {
      cproof.back()[7] ^= 1;
      EXPECT_FALSE(VerifyConsistency(first, size, cproof, old_root, root).has_value());
    }
  }
}

TEST(CompactRange, LoadedFromStoredNodesEqualsTheIncrementalOne) {
  const auto leaves = MakeLeaves(300);
  CompactRange incremental;
  MemoryNodes nodes;
  for (int64_t size = 0; size <= 300; ++size) {
    nodes.ResetReads();
    auto loaded = CompactRange::Load(size, nodes.Reader());
    ASSERT_TRUE(loaded.has_value()) << size;
    EXPECT_EQ(loaded->Size(), size);
    EXPECT_EQ(loaded->hashes(), incremental.hashes()) << size;
    EXPECT_EQ(Hex(loaded->Root()), Hex(incremental.Root())) << size;
    EXPECT_EQ(nodes.reads(), std::popcount(static_cast<uint64_t>(size)));
    if (size == 300) break;
    // The loaded range keeps appending exactly like the incremental one.
    auto a = loaded->Append(HashLeaf(leaves[size]));
    auto b = incremental.Append(HashLeaf(leaves[size]));
    EXPECT_EQ(a, b);
    nodes.Add(b);
  }
}

TEST(CompactRange, AppendReturnsTheLeafThenEachCompletedSubtree) {
  CompactRange range;
  for (int i = 0; i < 7; ++i) range.Append(HashLeaf(std::to_string(i)));
  auto nodes = range.Append(HashLeaf("7"));  // size 7 -> 8 completes levels 1, 2, 3
  ASSERT_EQ(nodes.size(), 4u);
  for (int level = 0; level < 4; ++level) {
    EXPECT_EQ(nodes[level].level, level);
    EXPECT_EQ(nodes[level].index, 7 >> level);
  }
  EXPECT_EQ(nodes[3].hash, range.Root());
  EXPECT_EQ(range.Append(HashLeaf("8")).size(), 1u);
}

TEST(CompactRange, LoadPropagatesAMissingOrMalformedNode) {
  MemoryNodes empty;
  auto missing = CompactRange::Load(5, empty.Reader());
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  NodeReader short_hash = [](int, int64_t) -> Result<std::string> { return std::string("abc"); };
  auto malformed = CompactRange::Load(1, short_hash);
  ASSERT_FALSE(malformed.has_value());
  EXPECT_EQ(malformed.error().code(), ErrorCode::kInternal);
  EXPECT_EQ(CompactRange::Load(-1, short_hash).error().field(), "size");
}

// ---- Argument checking ----------------------------------------------------------------------

TEST(MerkleArguments, OutOfRangeArgumentsNameTheParameter) {
  Log log;
  Build(log, MakeLeaves(4));
  auto read = log.nodes.Reader();
  const std::string h(kHashSize, 'h');
  struct Case {
    const char* name;
    Error error;
    const char* field;
  };
  const Case cases[] = {
      {"inclusion index = size", InclusionProof(4, 4, read).error(), "index"},
      {"inclusion negative index", InclusionProof(-1, 4, read).error(), "index"},
      {"inclusion size 0", InclusionProof(0, 0, read).error(), "size"},
      {"consistency first > second", ConsistencyProof(5, 4, read).error(), "first"},
      {"consistency negative first", ConsistencyProof(-1, 4, read).error(), "first"},
      {"consistency negative second", ConsistencyProof(0, -1, read).error(), "second"},
      {"root negative size", RootAt(-1, read).error(), "size"},
      {"verify index = size", VerifyInclusion(h, 4, 4, {}, h).error(), "index"},
      {"verify size 0", VerifyInclusion(h, 0, 0, {}, h).error(), "size"},
      {"verify first > second", VerifyConsistency(3, 2, {}, h, h).error(), "first"},
      {"verify negative second", VerifyConsistency(0, -2, {}, h, h).error(), "second"},
      {"verify short leaf hash", VerifyInclusion("x", 0, 1, {}, h).error(), "leaf_hash"},
      {"verify short proof hash", VerifyInclusion(h, 0, 2, {"y"}, h).error(), "proof"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(c.error.code(), ErrorCode::kInvalidArgument) << c.name;
    EXPECT_EQ(c.error.field(), c.field) << c.name;
  }
}

TEST(MerkleArguments, ProofsBeyondTheStoredLogReportTheMissingNode) {
  Log log;
  Build(log, MakeLeaves(5));
  auto proof = InclusionProof(0, 9, log.nodes.Reader());
  ASSERT_FALSE(proof.has_value());
  EXPECT_EQ(proof.error().code(), ErrorCode::kNotFound);
}

TEST(MerkleArguments, TrivialConsistencyCases) {
  const std::string a(kHashSize, 'a');
  const std::string b(kHashSize, 'b');
  EXPECT_TRUE(VerifyConsistency(0, 5, {}, EmptyRoot(), b).has_value());
  EXPECT_FALSE(VerifyConsistency(0, 5, {}, a, b).has_value());
  EXPECT_FALSE(VerifyConsistency(0, 5, {a}, EmptyRoot(), b).has_value());
  EXPECT_TRUE(VerifyConsistency(3, 3, {}, a, a).has_value());
  EXPECT_FALSE(VerifyConsistency(3, 3, {}, a, b).has_value());
  EXPECT_FALSE(VerifyConsistency(3, 3, {a}, a, a).has_value());
  EXPECT_FALSE(VerifyConsistency(1, 2, {}, a, b).has_value());
}

}  // namespace
}  // namespace bg::audit
