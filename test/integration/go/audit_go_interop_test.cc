// Interop: a log, checkpoint and proofs made by src/audit are verified by Go's own
// transparency-log code (auditcheck/main.go, using golang.org/x/mod/sumdb/note and tlog),
// and the Go checker must reject a tampered checkpoint, a wrong key, a damaged proof and a
// changed leaf. Exit 0 on success, 1 on failure, 77 (skip) only when `go` is not installed.
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "audit/checkpoint.h"
#include "audit/event.h"
#include "audit/merkle.h"
#include "audit/verify.h"
#include "util/encoding.h"
#include "util/random.h"
#include "test/fakes/fake_random.h"

namespace fs = std::filesystem;
using namespace bg;         // NOLINT(google-build-using-namespace): a test driver
using namespace bg::audit;  // NOLINT(google-build-using-namespace)

namespace {

int failures = 0;

void Check(bool ok, const std::string& what) {
  std::cout << (ok ? "PASS " : "FAIL ") << what << "\n";
  if (!ok) ++failures;
}

std::string FindGo() {
  if (const char* path = std::getenv("PATH")) {
    std::stringstream dirs(path);
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
      if (!dir.empty() && fs::exists(fs::path(dir) / "go")) return (fs::path(dir) / "go").string();
    }
  }
  for (const char* p : {"/usr/bin/go", "/usr/lib/go/bin/go", "/usr/local/go/bin/go"}) {
    if (fs::exists(p)) return p;
  }
  return "";
}

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

int Run(const std::string& command, const fs::path& log) {
  const int status = std::system((command + " >" + Quote(log.string()) + " 2>&1").c_str());
  if (status == -1 || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void WriteFile(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

std::string HashArray(const std::vector<std::string>& hashes) {
  std::string out = "[";
  for (size_t i = 0; i < hashes.size(); ++i) {
    if (i > 0) out += ",";
    out += "\"" + Base64Encode(hashes[i]) + "\"";
  }
  return out + "]";
}

}  // namespace

int main() {
  InitCrypto();
  const std::string go = FindGo();
  if (go.empty()) {
    std::cout << "SKIP: go is not installed\n";
    return 77;
  }
  char tmpl[] = "/tmp/bg-audit-interop-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const fs::path tmp(tmpl);

  // Build the checker offline in GOPATH mode against Debian's golang.org/x/mod.
  const fs::path checker = tmp / "auditcheck";
  const std::string build = "cd " + Quote(BG_AUDITCHECK_DIR) +
                            " && GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= GOCACHE=" +
                            Quote((tmp / "gocache").string()) + " " + Quote(go) + " build -o " +
                            Quote(checker.string()) + " .";
  if (Run(build, tmp / "build.log") != 0) {
    std::cout << "FAIL go build of the checker:\n" << ReadFile(tmp / "build.log");
    return 1;
  }

  // A log of 300 canonical events.
  constexpr int64_t kSize = 300;
  std::vector<std::string> leaves;
  std::map<std::pair<int, int64_t>, std::string> nodes;
  CompactRange range;
  for (int64_t i = 0; i < kSize; ++i) {
    core::AuditEvent e;
    e.type = i % 3 == 0 ? "request.created" : "request.approved";
    e.actor = "user" + std::to_string(i % 7);
    e.request = RequestId("req_" + std::to_string(i / 3));
    e.details = {{"reason", "interop \xE2\x9C\x93 " + std::to_string(i)}};
    leaves.push_back(EncodeLeaf(e, FromUnixSeconds(1795556623 + i)));
    for (Node& n : range.Append(HashLeaf(leaves.back()))) nodes[{n.level, n.index}] = n.hash;
  }
  NodeReader read = [&](int level, int64_t index) -> Result<std::string> {
    auto it = nodes.find({level, index});
    if (it == nodes.end()) return Error::NotFound("node");
    return it->second;
  };
  bg::testing::SeededRandom random("interop-signer");
  NoteSigner signer = NoteSigner::Generate("breakglass.test/interop", random).value();
  const std::string note =
      signer.Sign(Checkpoint{"breakglass.test/interop", kSize, range.Root(), {}}).value();

  std::string entries;
  for (int64_t i = 0; i < kSize; ++i) entries += FormatEntryLine(i, leaves[i]) + "\n";
  std::string inclusion;
  std::string consistency;
  int64_t proofs = 0;
  for (int64_t size : {1, 2, 3, 4, 5, 7, 8, 9, 16, 31, 33, 64, 100, 127, 128, 129, 255, 256, 257,
                       299, 300}) {
    for (int64_t i = 0; i < size; ++i) {
      inclusion += "{\"index\":" + std::to_string(i) + ",\"size\":" + std::to_string(size) +
                   ",\"hashes\":" + HashArray(InclusionProof(i, size, read).value()) + "}\n";
      ++proofs;
    }
    for (int64_t first = 1; first <= size; ++first) {
      consistency += "{\"first\":" + std::to_string(first) + ",\"second\":" +
                     std::to_string(size) + ",\"hashes\":" +
                     HashArray(ConsistencyProof(first, size, read).value()) + "}\n";
      ++proofs;
    }
  }

  auto write_bundle = [&](const fs::path& dir, const std::string& key, const std::string& cp,
                          const std::string& ents, const std::string& inc,
                          const std::string& cons) {
    fs::create_directories(dir);
    WriteFile(dir / "key.txt", key + "\n");
    WriteFile(dir / "checkpoint.txt", cp);
    WriteFile(dir / "entries.jsonl", ents);
    WriteFile(dir / "inclusion.jsonl", inc);
    WriteFile(dir / "consistency.jsonl", cons);
  };
  auto check = [&](const std::string& name) {
    return Run(Quote(checker.string()) + " -dir " + Quote((tmp / name).string()),
               tmp / (name + ".log"));
  };

  write_bundle(tmp / "good", signer.VerifierKey(), note, entries, inclusion, consistency);
  const int good = check("good");
  Check(good == 0, "Go accepts our checkpoint, root, " + std::to_string(proofs) +
                       " inclusion and consistency proofs");
  if (good != 0) std::cout << ReadFile(tmp / "good.log");

  // Our own verifier agrees on the same bundle.
  auto parsed = ParseEntries(entries);
  Check(parsed.has_value() &&
            VerifyBundle(*parsed, note, signer.VerifierKey()).has_value(),
        "our verifier accepts the same bundle");

  std::string tampered = note;
  tampered.replace(tampered.find("\n300\n"), 5, "\n301\n");
  write_bundle(tmp / "tampered", signer.VerifierKey(), tampered, entries, inclusion, consistency);
  Check(check("tampered") == 1, "Go rejects a tampered checkpoint");

  std::string root_swapped = note;
  const std::string root_b64 = Base64Encode(range.Root());
  root_swapped.replace(root_swapped.find(root_b64), root_b64.size(),
                       Base64Encode(RootAt(299, read).value()));
  write_bundle(tmp / "root", signer.VerifierKey(), root_swapped, entries, inclusion, consistency);
  Check(check("root") == 1, "Go rejects a checkpoint with another root");

  bg::testing::SeededRandom other_seed("interop-stranger");
  NoteSigner stranger = NoteSigner::Generate("breakglass.test/interop", other_seed).value();
  write_bundle(tmp / "wrongkey", stranger.VerifierKey(), note, entries, inclusion, consistency);
  Check(check("wrongkey") == 1, "Go rejects our checkpoint under another key");

  std::string bad_proof = inclusion;
  const size_t at = bad_proof.find("\"hashes\":[\"", bad_proof.find("\"size\":300")) + 11;
  bad_proof[at] = bad_proof[at] == 'A' ? 'B' : 'A';
  write_bundle(tmp / "badproof", signer.VerifierKey(), note, entries, bad_proof, consistency);
  Check(check("badproof") == 1, "Go rejects a damaged inclusion proof");

  std::string bad_cons = consistency;
  const size_t cat = bad_cons.find("\"hashes\":[\"", bad_cons.find("\"second\":257")) + 11;
  bad_cons[cat] = bad_cons[cat] == 'A' ? 'B' : 'A';
  write_bundle(tmp / "badcons", signer.VerifierKey(), note, entries, inclusion, bad_cons);
  Check(check("badcons") == 1, "Go rejects a damaged consistency proof");

  std::string changed;
  for (int64_t i = 0; i < kSize; ++i) {
    changed += FormatEntryLine(i, i == 17 ? leaves[18] : leaves[i]) + "\n";
  }
  write_bundle(tmp / "changed", signer.VerifierKey(), note, changed, "", "");
  Check(check("changed") == 1, "Go rejects a log with a changed leaf");

  if (failures == 0) {
    fs::remove_all(tmp);
  } else {
    std::cout << "bundles left in " << tmp << "\n";
  }
  return failures == 0 ? 0 : 1;
}
