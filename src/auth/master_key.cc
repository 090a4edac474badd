#include "auth/master_key.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>
#include <vector>

#include "util/encoding.h"

namespace bg::auth {
namespace {

constexpr size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;
static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == kMasterKeyBytes);

std::string ErrnoText(int err) { return std::strerror(err); }

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Result<MasterKey> ReadKeyFile(const std::string& path, int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return Error::Unavailable("cannot stat master key " + path + ": " + ErrnoText(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return Error::FailedPrecondition("master key " + path + " is not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Error::FailedPrecondition("master key " + path + " has mode " + mode +
                                     ": group and others must have no access (chmod 600 " + path +
                                     ")");
  }
  if (st.st_size != static_cast<off_t>(kMasterKeyBytes)) {
    return Error::FailedPrecondition("master key " + path + " must be exactly " +
                                     std::to_string(kMasterKeyBytes) + " bytes, not " +
                                     std::to_string(st.st_size));
  }
  std::vector<uint8_t> bytes(kMasterKeyBytes);
  size_t got = 0;
  while (got < bytes.size()) {
    ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      sodium_memzero(bytes.data(), bytes.size());
      return Error::Unavailable("cannot read master key " + path +
                                (n < 0 ? ": " + ErrnoText(errno) : ": file shrank while read"));
    }
    got += static_cast<size_t>(n);
  }
  return MasterKey::FromBytes(Secret(std::move(bytes)));
}

Result<MasterKey> CreateKeyFile(const std::string& path, Random& random, bool* lost_race) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.get() < 0) {
    if (errno == EEXIST) {
      *lost_race = true;
      return Error::Conflict("created concurrently");
    }
    return Error::Unavailable("cannot create master key " + path + ": " + ErrnoText(errno));
  }
  MasterKey key = MasterKey::Generate(random);
  const Secret& b = key.bytes();
  size_t put = 0;
  while (put < b.size()) {
    ssize_t n = ::write(fd.get(), b.data() + put, b.size() - put);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::unlink(path.c_str());
      return Error::Unavailable("cannot write master key " + path + ": " + ErrnoText(err));
    }
    put += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) {
    int err = errno;
    ::unlink(path.c_str());
    return Error::Unavailable("cannot sync master key " + path + ": " + ErrnoText(err));
  }
  // Make the new directory entry durable too, or a crash could lose the key after secrets
  // were sealed with it.
  Fd dir(::open(DirName(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() >= 0) ::fsync(dir.get());
  return key;
}

}  // namespace

Result<MasterKey> MasterKey::FromBytes(Secret bytes) {
  if (bytes.size() != kMasterKeyBytes) {
    return Error::InvalidArgument(
        "master_key", "a master key is exactly " + std::to_string(kMasterKeyBytes) + " bytes");
  }
  return MasterKey(std::move(bytes));
}

MasterKey MasterKey::Generate(Random& random) {
  return MasterKey(Secret(random.Bytes(kMasterKeyBytes)));
}

Result<MasterKey> LoadOrCreateMasterKey(const std::string& path, Random& random) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (fd.get() >= 0) return ReadKeyFile(path, fd.get());
    if (errno == ELOOP) {
      return Error::FailedPrecondition("master key " + path + " is a symbolic link; refusing it");
    }
    if (errno != ENOENT) {
      return Error::Unavailable("cannot open master key " + path + ": " + ErrnoText(errno));
    }
    bool lost_race = false;
    auto created = CreateKeyFile(path, random, &lost_race);
    if (!lost_race) return created;
    // Another process created it between our open and our create: load theirs.
  }
  return Error::Unavailable("master key " + path + " keeps appearing and disappearing");
}

std::string Seal(const MasterKey& key, const Secret& plaintext, std::string_view aad,
                 Random& random) {
  std::string out(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  auto* buf = reinterpret_cast<unsigned char*>(out.data());
  random.Fill(buf, kNonceBytes);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(buf + kNonceBytes, &clen, plaintext.data(),
                                             plaintext.size(),
                                             reinterpret_cast<const unsigned char*>(aad.data()),
                                             aad.size(), nullptr, buf, key.bytes().data());
  out.resize(kNonceBytes + clen);
  return std::string(kSealedPrefix) + Base64Encode(out);
}

Result<Secret> Open(const MasterKey& key, std::string_view sealed, std::string_view aad) {
  if (sealed.substr(0, kSealedPrefix.size()) != kSealedPrefix) {
    return Error::InvalidArgument("sealed", "not a sealed value (expected the prefix \"v1:\")");
  }
  auto raw = Base64Decode(sealed.substr(kSealedPrefix.size()));
  if (!raw) return Error::InvalidArgument("sealed", "sealed value is not valid base64");
  if (raw->size() < kNonceBytes + kTagBytes) {
    return Error::InvalidArgument("sealed", "sealed value is too short");
  }
  const auto* buf = reinterpret_cast<const unsigned char*>(raw->data());
  std::vector<uint8_t> plain(raw->size() - kNonceBytes - kTagBytes);
  unsigned long long plen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain.data(), &plen, nullptr, buf + kNonceBytes,
                                                 raw->size() - kNonceBytes,
                                                 reinterpret_cast<const unsigned char*>(aad.data()),
                                                 aad.size(), buf, key.bytes().data()) != 0) {
    return Error::PermissionDenied(
        "sealed value does not open: it was altered, or sealed with another key or purpose");
  }
  plain.resize(plen);
  return Secret(std::move(plain));
}

}  // namespace bg::auth
