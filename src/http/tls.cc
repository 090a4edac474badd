#include "http/tls.h"
#include "util/fs.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

namespace bg::http {
namespace {

template <auto Fn>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    Fn(p);
  }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;

constexpr long kBackdateSeconds = 5 * 60;  // Tolerates clients whose clocks run a little slow.
constexpr long kValiditySeconds = 365L * 24 * 3600;

// The most recent OpenSSL error as text, and clears the queue.
std::string OpenSslError() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

Error SslFailure(std::string_view what) {
  return Error::Internal(fmt::format("{}: {}", what, OpenSslError()));
}

Error Errno(std::string_view what, const std::string& path) {
  return Error::Internal(fmt::format("{} {}: {}", what, path, std::strerror(errno)));
}

Result<X509Ptr> ReadCertificate(const std::string& path) {
  BioPtr bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) return Error::Internal(fmt::format("cannot open {}: {}", path, OpenSslError()));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    ERR_clear_error();
    return Error::InvalidArgument(std::filesystem::path(path).filename().string(),
                                  fmt::format("{} holds no PEM certificate", path));
  }
  return cert;
}

std::string Fingerprint(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &len) != 1) return {};
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    if (i > 0) out += ':';
    out += fmt::format("{:02X}", md[i]);
  }
  return out;
}

Status AddExtension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) return SslFailure("certificate extension");
  return Ok();
}

Status SetRandomSerial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return SslFailure("serial number");
  bytes[0] = (bytes[0] & 0x7f) | 0x40;  // Positive, and exactly 16 bytes long.
  BnPtr bn(BN_bin2bn(bytes, sizeof(bytes), nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) == nullptr) {
    return SslFailure("serial number");
  }
  return Ok();
}

Result<X509Ptr> MakeCertificate(EVP_PKEY* key) {
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) return SslFailure("X509_new");
  BG_TRY(SetRandomSerial(cert.get()));
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kBackdateSeconds) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), kValiditySeconds - kBackdateSeconds) ==
          nullptr) {
    return SslFailure("validity");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>("breakglass"), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1 || X509_set_pubkey(cert.get(), key) != 1) {
    return SslFailure("subject");
  }
  BG_TRY(AddExtension(cert.get(), NID_basic_constraints, "critical,CA:FALSE"));
  BG_TRY(AddExtension(cert.get(), NID_key_usage, "critical,digitalSignature"));
  BG_TRY(AddExtension(cert.get(), NID_ext_key_usage, "serverAuth"));
  BG_TRY(AddExtension(cert.get(), NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1"));
  BG_TRY(AddExtension(cert.get(), NID_subject_key_identifier, "hash"));
  if (X509_sign(cert.get(), key, EVP_sha256()) == 0) return SslFailure("X509_sign");
  return cert;
}

template <typename WriteFn>
Result<std::string> ToPem(WriteFn write) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) return SslFailure("PEM encoding");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

Status CreatePair(const std::string& cert_path, const std::string& key_path) {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return SslFailure("P-256 key generation");
  BG_ASSIGN_OR_RETURN(X509Ptr cert, MakeCertificate(key.get()));
  BG_ASSIGN_OR_RETURN(std::string key_pem, ToPem([&](BIO* bio) {
                        return PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0,
                                                        nullptr, nullptr);
                      }));
  BG_ASSIGN_OR_RETURN(std::string cert_pem,
                      ToPem([&](BIO* bio) { return PEM_write_bio_X509(bio, cert.get()); }));
  // The key goes first, straight to its final name with O_EXCL (two starting servers cannot
  // both win); the certificate is renamed into place last, so tls.crt never appears without
  // its key.
  BG_TRY(fs::WriteNewFile(key_path, key_pem, 0600));
  std::string tmp = fmt::format("{}.tmp.{}", cert_path, ::getpid());
  ::unlink(tmp.c_str());
  Status written = fs::WriteNewFile(tmp, cert_pem, 0600);  // like every file of the data dir
  if (!written.has_value() || ::rename(tmp.c_str(), cert_path.c_str()) != 0) {
    Error error = written.has_value() ? Errno("cannot rename to", cert_path) : written.error();
    ::unlink(tmp.c_str());
    ::unlink(key_path.c_str());
    return error;
  }
  return Ok();
}

Status CheckExistingPair(const std::string& cert_path, const std::string& key_path, X509* cert) {
  struct stat st {};
  if (::stat(key_path.c_str(), &st) != 0) return Errno("cannot stat", key_path);
  if ((st.st_mode & 077) != 0) {
    return Error::FailedPrecondition(
        fmt::format("{} is readable by group or others (mode {:o}); run: chmod 600 {}", key_path,
                    st.st_mode & 0777, key_path));
  }
  BioPtr bio(BIO_new_file(key_path.c_str(), "r"));
  if (!bio) return Error::Internal(fmt::format("cannot open {}: {}", key_path, OpenSslError()));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    ERR_clear_error();
    return Error::InvalidArgument("tls.key", fmt::format("{} holds no PEM private key", key_path));
  }
  if (X509_check_private_key(cert, key.get()) != 1) {
    ERR_clear_error();
    return Error::FailedPrecondition(
        fmt::format("{} and {} do not belong together", cert_path, key_path));
  }
  return Ok();
}

}  // namespace

Result<std::string> CertificateFingerprint(const std::string& pem_path) {
  BG_ASSIGN_OR_RETURN(X509Ptr cert, ReadCertificate(pem_path));
  std::string fingerprint = Fingerprint(cert.get());
  if (fingerprint.empty()) return SslFailure("X509_digest");
  return fingerprint;
}

Result<CertificateInfo> EnsureSelfSignedCertificate(const std::string& data_dir) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return Error::Internal(fmt::format("cannot create {}: {}", data_dir, ec.message()));
  CertificateInfo info;
  info.cert_path = (std::filesystem::path(data_dir) / "tls.crt").string();
  info.key_path = (std::filesystem::path(data_dir) / "tls.key").string();
  bool have_cert = std::filesystem::exists(info.cert_path, ec);
  bool have_key = std::filesystem::exists(info.key_path, ec);
  if (have_cert != have_key) {
    return Error::FailedPrecondition(fmt::format(
        "{} exists but {} does not: provide both, or remove it to have a new pair created",
        have_cert ? info.cert_path : info.key_path, have_cert ? info.key_path : info.cert_path));
  }
  if (!have_cert) {
    BG_TRY(CreatePair(info.cert_path, info.key_path));
    info.created = true;
  }
  BG_ASSIGN_OR_RETURN(X509Ptr cert, ReadCertificate(info.cert_path));
  BG_TRY(CheckExistingPair(info.cert_path, info.key_path, cert.get()));
  info.sha256_fingerprint = Fingerprint(cert.get());
  if (info.sha256_fingerprint.empty()) return SslFailure("X509_digest");
  return info;
}

}  // namespace bg::http
