// SSH wire encoding (RFC 4251 section 5) for the OpenSSH formats this folder writes: keys,
// certificates (PROTOCOL.certkeys), KRLs (PROTOCOL.krl) and private key files (PROTOCOL.key).
//
// WireWriter appends big-endian integers, length-prefixed strings, name-lists and mpints.
// WireReader reads them back with bounds checks: every read of malformed or truncated input
// returns an Error (kInvalidArgument, naming the field being read) and never reads past the
// end. Both are plain value types, not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace bg::ssh {

// `error` with its field replaced by `field` (the input the caller was given, e.g.
// "public_key"), keeping code and message; for errors leaving a parser's public API.
Error WithField(const Error& error, std::string_view field);

class WireWriter {
 public:
  void U8(uint8_t v);
  void Bool(bool v) { U8(v ? 1 : 0); }
  void U32(uint32_t v);
  void U64(uint64_t v);
  // uint32 length followed by the bytes.
  void String(std::string_view bytes);
  // A string holding the names joined by ','. Names must not contain ',' (not checked here).
  void NameList(const std::vector<std::string>& names);
  // An mpint from the unsigned big-endian magnitude `magnitude` (leading zero bytes allowed):
  // written minimal, with a 0x00 prefix when the top bit is set; zero is the empty string.
  void MpintFromUnsigned(std::string_view magnitude);
  // Bytes with no length prefix.
  void Raw(std::string_view bytes) { out_.append(bytes); }

  const std::string& data() const { return out_; }
  std::string Take() { return std::move(out_); }
  size_t size() const { return out_.size(); }
  // Zeroes and clears the buffer (for writers that held secret bytes).
  void Wipe();

 private:
  std::string out_;
};

class WireReader {
 public:
  // `what` names the whole structure in error messages ("certificate", "KRL").
  explicit WireReader(std::string_view data, std::string_view what = "ssh data")
      : data_(data), what_(what) {}

  Result<uint8_t> U8(std::string_view field);
  // A byte that must be 0 or 1 (RFC 4251 allows any non-zero; OpenSSH writes 0/1).
  Result<bool> Bool(std::string_view field);
  Result<uint32_t> U32(std::string_view field);
  Result<uint64_t> U64(std::string_view field);
  // A length-prefixed string; the view points into the reader's data.
  Result<std::string_view> String(std::string_view field);
  // A name-list: comma-separated, no empty names; an empty string is the empty list.
  Result<std::vector<std::string>> NameList(std::string_view field);
  // A non-negative mpint in minimal encoding; returns its raw bytes (as on the wire, without
  // the length). Negative values and superfluous leading bytes are refused.
  Result<std::string_view> PositiveMpint(std::string_view field);
  // Exactly n bytes with no length prefix.
  Result<std::string_view> Raw(size_t n, std::string_view field);

  size_t remaining() const { return data_.size() - pos_; }
  bool empty() const { return remaining() == 0; }
  // Bytes consumed so far (a prefix of the input), e.g. the signed part of a certificate.
  std::string_view consumed() const { return data_.substr(0, pos_); }
  std::string_view rest() const { return data_.substr(pos_); }
  // Fails when bytes are left over after the last field.
  Status ExpectEnd() const;

 private:
  Error Truncated(std::string_view field) const;
  std::string_view data_;
  size_t pos_ = 0;
  std::string what_;
};

}  // namespace bg::ssh
