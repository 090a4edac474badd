#include "ssh/ssh_wire.h"

#include <fmt/format.h>
#include <sodium.h>

namespace bg::ssh {

Error WithField(const Error& error, std::string_view field) {
  return Error(error.code(), error.message(), std::string(field));
}

void WireWriter::U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }

void WireWriter::U32(uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out_.push_back(static_cast<char>(v >> shift));
}

void WireWriter::U64(uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out_.push_back(static_cast<char>(v >> shift));
}

void WireWriter::String(std::string_view bytes) {
  U32(static_cast<uint32_t>(bytes.size()));
  out_.append(bytes);
}

void WireWriter::NameList(const std::vector<std::string>& names) {
  std::string joined;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) joined += ',';
    joined += names[i];
  }
  String(joined);
}

void WireWriter::MpintFromUnsigned(std::string_view magnitude) {
  size_t first = 0;
  while (first < magnitude.size() && magnitude[first] == '\0') ++first;
  std::string_view m = magnitude.substr(first);
  if (m.empty()) {
    U32(0);
    return;
  }
  const bool pad = (static_cast<uint8_t>(m[0]) & 0x80) != 0;
  U32(static_cast<uint32_t>(m.size() + (pad ? 1 : 0)));
  if (pad) out_.push_back('\0');
  out_.append(m);
}

void WireWriter::Wipe() {
  if (!out_.empty()) sodium_memzero(out_.data(), out_.size());
  out_.clear();
}

Error WireReader::Truncated(std::string_view field) const {
  return Error::InvalidArgument(
      std::string(field),
      fmt::format("{} is truncated at byte {} (reading {})", what_, pos_, field));
}

Result<uint8_t> WireReader::U8(std::string_view field) {
  if (remaining() < 1) return Truncated(field);
  return static_cast<uint8_t>(data_[pos_++]);
}

Result<bool> WireReader::Bool(std::string_view field) {
  BG_ASSIGN_OR_RETURN(uint8_t b, U8(field));
  if (b > 1) {
    return Error::InvalidArgument(std::string(field),
                                  fmt::format("{}: boolean {} is not 0 or 1", what_, field));
  }
  return b == 1;
}

Result<uint32_t> WireReader::U32(std::string_view field) {
  if (remaining() < 4) return Truncated(field);
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(data_[pos_ + i]);
  pos_ += 4;
  return v;
}

Result<uint64_t> WireReader::U64(std::string_view field) {
  if (remaining() < 8) return Truncated(field);
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(data_[pos_ + i]);
  pos_ += 8;
  return v;
}

Result<std::string_view> WireReader::Raw(size_t n, std::string_view field) {
  if (remaining() < n) return Truncated(field);
  std::string_view out = data_.substr(pos_, n);
  pos_ += n;
  return out;
}

Result<std::string_view> WireReader::String(std::string_view field) {
  const size_t start = pos_;
  BG_ASSIGN_OR_RETURN(uint32_t len, U32(field));
  if (remaining() < len) {
    const size_t available = remaining();
    pos_ = start;
    return Error::InvalidArgument(
        std::string(field),
        fmt::format("{}: {} claims {} bytes but only {} remain", what_, field, len, available));
  }
  return Raw(len, field);
}

Result<std::vector<std::string>> WireReader::NameList(std::string_view field) {
  BG_ASSIGN_OR_RETURN(std::string_view s, String(field));
  std::vector<std::string> names;
  if (s.empty()) return names;
  size_t start = 0;
  while (true) {
    const size_t comma = s.find(',', start);
    std::string_view name =
        s.substr(start, comma == std::string_view::npos ? s.npos : comma - start);
    if (name.empty()) {
      return Error::InvalidArgument(std::string(field),
                                    fmt::format("{}: {} has an empty name", what_, field));
    }
    names.emplace_back(name);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return names;
}

Result<std::string_view> WireReader::PositiveMpint(std::string_view field) {
  BG_ASSIGN_OR_RETURN(std::string_view m, String(field));
  if (m.empty()) return m;
  const auto b0 = static_cast<uint8_t>(m[0]);
  if (b0 & 0x80) {
    return Error::InvalidArgument(std::string(field),
                                  fmt::format("{}: {} is negative", what_, field));
  }
  if (b0 == 0 && (m.size() == 1 || (static_cast<uint8_t>(m[1]) & 0x80) == 0)) {
    return Error::InvalidArgument(
        std::string(field), fmt::format("{}: {} has a superfluous leading zero", what_, field));
  }
  return m;
}

Status WireReader::ExpectEnd() const {
  if (empty()) return Ok();
  return Error::InvalidArgument(
      "", fmt::format("{} has {} unexpected trailing bytes", what_, remaining()));
}

}  // namespace bg::ssh
