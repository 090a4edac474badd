#include "util/sha256.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdlib>

#include "util/sha256_hasher.h"

namespace bg {
namespace {

// OpenSSL 3 looks the algorithm up again on every EVP_DigestInit_ex(EVP_sha256()) and
// EVP_MD_CTX_new allocates; for the short inputs the audit log hashes (two per leaf) that
// overhead was larger than the hashing itself. So: fetch the implementation once and keep a
// Sha256Hasher (two contexts) per thread.
const EVP_MD* Sha256Md() {
  static EVP_MD* const md = [] {
    EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (m == nullptr) std::abort();
    return m;
  }();
  return md;
}

}  // namespace

Sha256Hasher::Sha256Hasher() : initialised_(EVP_MD_CTX_new()), work_(EVP_MD_CTX_new()) {
  if (initialised_ == nullptr || work_ == nullptr ||
      EVP_DigestInit_ex2(initialised_, Sha256Md(), nullptr) != 1) {
    std::abort();
  }
}

Sha256Hasher::~Sha256Hasher() {
  EVP_MD_CTX_free(work_);
  EVP_MD_CTX_free(initialised_);
}

namespace {

// The calling thread's hasher.
const Sha256Hasher& ThreadHasher() {
  thread_local const Sha256Hasher hasher;
  return hasher;
}

}  // namespace

Digest Sha256Parts(std::initializer_list<std::string_view> parts) { return ThreadHasher()(parts); }

Digest Sha256(std::string_view data) { return ThreadHasher()(data); }

Digest HmacSha256(std::string_view key, std::string_view data) {
  Digest out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &len);
  return out;
}

}  // namespace bg
