// Merkle proofs as `audit verify` checks them against a server it does not trust
// (audit/merkle.h, audit/verify.h): inclusion and consistency proofs, the signed-checkpoint
// consistency check, the search for a changed entry (LocateChange) whose proofs come from the
// server, and the server's JSON proof answer. The target builds a real log of 1..64 leaves;
// the fuzzer edits the proofs the "server" hands out.
//
// Input: selector, leaf count, a position, then edit instructions (op byte + 32 bytes), applied
// to each proof in turn. The selector picks: 0 inclusion, 1 consistency, 2 LocateChange,
// 3 checkpoint consistency, 4 the JSON answer (the rest of the input).
//
// Invariants: an unedited proof verifies; an edited proof verifies only if it is the same proof
// (soundness, short of a SHA-256 collision); whatever the server's proofs, the range
// LocateChange names holds the changed entry; a JSON answer that parses writes back the same.
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "audit/checkpoint.h"
#include "audit/merkle.h"
#include "audit/verify.h"
#include "fuzz/fuzz.h"
#include "test/fakes/fake_random.h"
#include "util/encoding.h"

namespace {

namespace a = bg::audit;
using Proof = std::vector<std::string>;

// A log of `n` leaves with every node kept, to serve real proofs.
class Log {
 public:
  explicit Log(int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
      leaf_hashes_.push_back(a::HashLeaf("leaf " + std::to_string(i)));
      for (auto& node : range_.Append(leaf_hashes_.back())) {
        nodes_[{node.level, node.index}] = std::move(node.hash);
      }
    }
  }
  a::NodeReader Reader() const {
    return [this](int level, int64_t index) -> bg::Result<std::string> {
      auto it = nodes_.find({level, index});
      if (it == nodes_.end()) return bg::Error::NotFound("no node");
      return it->second;
    };
  }
  std::string Root(int64_t size) const { return a::RootAt(size, Reader()).value(); }
  Proof Inclusion(int64_t index, int64_t size) const {
    return a::InclusionProof(index, size, Reader()).value();
  }
  Proof Consistency(int64_t first, int64_t second) const {
    return a::ConsistencyProof(first, second, Reader()).value();
  }
  const std::vector<std::string>& leaf_hashes() const { return leaf_hashes_; }
  int64_t size() const { return static_cast<int64_t>(leaf_hashes_.size()); }

 private:
  a::CompactRange range_;
  std::vector<std::string> leaf_hashes_;
  std::map<std::pair<int, int64_t>, std::string> nodes_;
};

// The fuzzer's edits, consumed in order across the proofs of one input.
class Edits {
 public:
  explicit Edits(std::string_view bytes) : bytes_(bytes) {}
  // Applies the next edit (if any) to `proof`; false when there was none.
  bool Apply(Proof& proof) {
    if (bytes_.size() < 1 + 32) return false;
    const auto op = static_cast<uint8_t>(bytes_[0]);
    const std::string hash(bytes_.substr(1, 32));
    bytes_.remove_prefix(33);
    const size_t at = proof.empty() ? 0 : op / 4 % proof.size();
    switch (op % 4) {
      case 0:
        if (!proof.empty()) proof[at] = hash;
        break;
      case 1:
        if (!proof.empty()) proof.erase(proof.begin() + static_cast<long>(at));
        break;
      case 2:
        proof.insert(proof.begin() + static_cast<long>(at), hash);
        break;
      case 3:
        proof.push_back(hash.substr(0, op / 4 % 33));
        break;  // a hash of any length
    }
    return true;
  }

 private:
  std::string_view bytes_;
};

const a::NoteSigner& TestSigner() {
  static const a::NoteSigner signer = [] {
    bg::testing::SeededRandom random("fuzz audit_proof");
    return a::NoteSigner::Generate("breakglass.example/audit", random).value();
  }();
  return signer;
}

std::string Note(const Log& log, int64_t size) {
  a::Checkpoint cp;
  cp.origin = "breakglass.example/audit";
  cp.size = size;
  cp.root = log.Root(size);
  return TestSigner().Sign(cp).value();
}

void Answer(std::string_view body) {
  auto hashes = a::ParseProofAnswer(body, "inclusion");
  bg::fuzz::CheckRefusal(hashes);
  if (!hashes) return;
  nlohmann::json list = nlohmann::json::array();
  for (const auto& h : *hashes) list.push_back(bg::Base64Encode(h));
  auto again = a::ParseProofAnswer(nlohmann::json{{"hashes", list}}.dump(), "inclusion");
  BG_FUZZ_CHECK(again.has_value() && *again == *hashes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in = bg::fuzz::AsText(data, size);
  if (in.size() < 3) return 0;
  const auto selector = static_cast<uint8_t>(in[0]);
  if (selector % 5 == 4) {
    Answer(in.substr(1));
    return 0;
  }
  const Log log(1 + static_cast<uint8_t>(in[1]) % 64);
  const int64_t n = log.size();
  const auto position = static_cast<uint8_t>(in[2]);
  Edits edits(in.substr(3));

  switch (selector % 5) {
    case 0: {
      const int64_t index = position % n;
      const Proof real = log.Inclusion(index, n);
      Proof proof = real;
      const bool edited = edits.Apply(proof);
      auto ok = a::VerifyInclusion(log.leaf_hashes()[static_cast<size_t>(index)], index, n, proof,
                                   log.Root(n));
      if (!edited) BG_FUZZ_CHECK(ok.has_value());
      if (ok) BG_FUZZ_CHECK(proof == real);
      if (!ok) bg::fuzz::CheckError(ok.error());
      break;
    }
    case 1: {
      const int64_t first = position % (n + 1);
      const Proof real = log.Consistency(first, n);
      Proof proof = real;
      const bool edited = edits.Apply(proof);
      auto ok = a::VerifyConsistency(first, n, proof, log.Root(first), log.Root(n));
      if (!edited) BG_FUZZ_CHECK(ok.has_value());
      if (ok) BG_FUZZ_CHECK(proof == real);
      if (!ok) bg::fuzz::CheckError(ok.error());
      break;
    }
    case 2: {
      // The server's leaf `changed` differs from the one the signed root covers.
      const int64_t changed = position % n;
      std::vector<std::string> sent = log.leaf_hashes();
      sent[static_cast<size_t>(changed)] = a::HashLeaf("changed");
      auto range =
          a::LocateChange(sent, n, log.Root(n), [&](int64_t i, int64_t s) -> bg::Result<Proof> {
            Proof p = log.Inclusion(i, s);
            edits.Apply(p);
            return p;
          });
      BG_FUZZ_CHECK(range.has_value());
      BG_FUZZ_CHECK(range->first <= changed && changed <= range->last);
      BG_FUZZ_CHECK(range->first >= 0 && range->last < n);
      break;
    }
    case 3: {
      const int64_t first = position % (n + 1);
      const Proof real = log.Consistency(first, n);
      Proof proof = real;
      const bool edited = edits.Apply(proof);
      auto ok = a::VerifyCheckpointConsistency(Note(log, first), Note(log, n),
                                               TestSigner().VerifierKey(), proof);
      if (!edited) BG_FUZZ_CHECK(ok.has_value());
      if (ok) BG_FUZZ_CHECK(proof == real && ok->first.size == first && ok->second.size == n);
      if (!ok) bg::fuzz::CheckError(ok.error());
      // Swapped, the newer one is never "consistent with" the older.
      if (first < n)
        BG_FUZZ_CHECK(!a::VerifyCheckpointConsistency(Note(log, n), Note(log, first),
                                                      TestSigner().VerifierKey(), proof));
      break;
    }
  }
  return 0;
}
