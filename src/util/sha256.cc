#include "util/sha256.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdlib>
#include <memory>

namespace bg {
namespace {

// OpenSSL 3 looks the algorithm up again on every EVP_DigestInit_ex(EVP_sha256()) and
// EVP_MD_CTX_new allocates; for the short inputs the audit log hashes (two per leaf) that
// overhead was larger than the hashing itself. So: fetch the implementation once and keep two
// contexts per thread, one initialised once and one that each hash starts as a copy of it
// (EVP_MD_CTX_copy_ex: OpenSSL 3.0's EVP_DigestInit_ex2 frees and re-creates the provider's
// state every time, which costs more than copying it).
const EVP_MD* Sha256Md() {
  static EVP_MD* const md = [] {
    EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (m == nullptr) std::abort();
    return m;
  }();
  return md;
}

struct CtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using Ctx = std::unique_ptr<EVP_MD_CTX, CtxFree>;

struct ThreadContexts {
  ThreadContexts() : initialised(EVP_MD_CTX_new()), work(EVP_MD_CTX_new()) {
    if (initialised == nullptr || work == nullptr ||
        EVP_DigestInit_ex2(initialised.get(), Sha256Md(), nullptr) != 1) {
      std::abort();
    }
  }
  Ctx initialised;
  Ctx work;
};

// A context ready for the first update of a new hash.
EVP_MD_CTX* FreshContext() {
  thread_local const ThreadContexts contexts;
  if (EVP_MD_CTX_copy_ex(contexts.work.get(), contexts.initialised.get()) != 1) std::abort();
  return contexts.work.get();
}

}  // namespace

namespace {

void Update(EVP_MD_CTX* ctx, std::string_view data) {
  if (EVP_DigestUpdate(ctx, data.data(), data.size()) != 1) std::abort();
}

Digest Final(EVP_MD_CTX* ctx) {
  Digest out{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx, out.data(), &len) != 1) std::abort();
  return out;
}

}  // namespace

Digest Sha256Parts(std::initializer_list<std::string_view> parts) {
  EVP_MD_CTX* ctx = FreshContext();
  for (std::string_view p : parts) Update(ctx, p);
  return Final(ctx);
}

// One piece without the parts loop (the log verifier hashes two million short messages).
Digest Sha256(std::string_view data) {
  EVP_MD_CTX* ctx = FreshContext();
  Update(ctx, data);
  return Final(ctx);
}

Digest HmacSha256(std::string_view key, std::string_view data) {
  Digest out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &len);
  return out;
}

}  // namespace bg
