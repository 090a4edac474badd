// SHA-256 by contexts of its own: what Sha256 runs with the calling thread's contexts, for a
// loop that hashes many short messages (the log verifier's two million) without looking those
// up on every call. Its calls are libcrypto's, inline here (this header includes OpenSSL's).
#pragma once

#include <openssl/evp.h>

#include <cstdlib>
#include <initializer_list>
#include <string_view>

#include "util/sha256.h"

namespace bg {

class Sha256Hasher {
 public:
  Sha256Hasher();  // aborts if libcrypto cannot give SHA-256
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  Digest operator()(std::string_view data) const { return (*this)({data}); }
  // The SHA-256 of the parts' concatenation. Each hash starts as a copy of a context initialised
  // once (EVP_MD_CTX_copy_ex: OpenSSL 3.0's EVP_DigestInit_ex2 frees and re-creates the
  // provider's state every time, which costs more than copying it).
  Digest operator()(std::initializer_list<std::string_view> parts) const {
    if (EVP_MD_CTX_copy_ex(work_, initialised_) != 1) std::abort();
    for (std::string_view p : parts) {
      if (EVP_DigestUpdate(work_, p.data(), p.size()) != 1) std::abort();
    }
    Digest out{};
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(work_, out.data(), &len) != 1) std::abort();
    return out;
  }

 private:
  EVP_MD_CTX* initialised_;
  EVP_MD_CTX* work_;
};

}  // namespace bg
