#pragma once
// The protobuf wire format, for the handful of messages weft-agent speaks (SDS, Istio's CA):
// the agent runs in every pod and stays small without libprotobuf and the Envoy API library
// (measured ~5 MB more RSS). Field numbers are the protos'; unit tests check every message
// against the generated classes.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace weft::proto {

class Writer {
 public:
  void varint(uint32_t field, uint64_t value) {
    tag(field, 0);
    raw(value);
  }
  void bytes(uint32_t field, std::string_view value) {
    tag(field, 2);
    raw(value.size());
    out_.append(value);
  }
  // A nested message, already encoded by its own Writer.
  void message(uint32_t field, const Writer& nested) { bytes(field, nested.out_); }
  const std::string& data() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void tag(uint32_t field, uint32_t wire_type) { raw((uint64_t(field) << 3) | wire_type); }
  void raw(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  std::string out_;
};

// Iterates the fields of one message. next() is false at the end or on malformed input
// (then ok() is false too); unknown fields are skipped, as protobuf does.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool next() {
    if (pos_ >= data_.size()) return false;
    auto key = raw();
    if (!key) return fail();
    field_ = static_cast<uint32_t>(*key >> 3);
    wire_type_ = static_cast<uint32_t>(*key & 7);
    switch (wire_type_) {
      case 0: {
        auto v = raw();
        if (!v) return fail();
        varint_ = *v;
        return true;
      }
      case 1:
      case 5: {
        size_t n = wire_type_ == 1 ? 8 : 4;
        if (data_.size() - pos_ < n) return fail();
        pos_ += n;
        return true;
      }
      case 2: {
        auto len = raw();
        if (!len || *len > data_.size() - pos_) return fail();
        bytes_ = data_.substr(pos_, static_cast<size_t>(*len));
        pos_ += static_cast<size_t>(*len);
        return true;
      }
      default:
        return fail();
    }
  }
  uint32_t field() const { return field_; }
  uint32_t wireType() const { return wire_type_; }
  uint64_t varint() const { return varint_; }
  std::string_view bytes() const { return bytes_; }
  bool ok() const { return ok_; }

 private:
  bool fail() {
    ok_ = false;
    pos_ = data_.size();
    return false;
  }
  std::optional<uint64_t> raw() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && pos_ < data_.size(); shift += 7) {
      auto b = static_cast<uint8_t>(data_[pos_++]);
      v |= uint64_t(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    return std::nullopt;
  }
  std::string_view data_;
  size_t pos_ = 0;
  uint32_t field_ = 0;
  uint32_t wire_type_ = 0;
  uint64_t varint_ = 0;
  std::string_view bytes_;
  bool ok_ = true;
};

}  // namespace weft::proto
