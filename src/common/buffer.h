#pragma once
// A growable byte buffer with a read and a write position. Storage is allocated on first
// use and kept while the owner lives, so a keep-alive connection reuses it request after
// request; release() gives it back when a connection goes idle for long.
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>

namespace weft {

class Buffer {
 public:
  Buffer() = default;
  ~Buffer() { std::free(data_); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& o) noexcept : data_(o.data_), cap_(o.cap_), begin_(o.begin_), end_(o.end_) {
    o.data_ = nullptr;
    o.cap_ = o.begin_ = o.end_ = 0;
  }

  const char* data() const { return data_ + begin_; }
  char* data() { return data_ + begin_; }
  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  std::string_view view() const { return {data(), size()}; }

  // Space to write into; call commit() with what was written.
  char* writableSpace(size_t at_least) {
    reserve(at_least);
    return data_ + end_;
  }
  size_t writableSize() const { return cap_ - end_; }
  void commit(size_t n) { end_ += n; }

  void append(std::string_view s) {
    if (s.empty()) return;
    std::memcpy(writableSpace(s.size()), s.data(), s.size());
    end_ += s.size();
  }
  void append(char c) {
    *writableSpace(1) = c;
    ++end_;
  }
  void appendDecimal(unsigned long long v) {
    char tmp[24];
    char* p = tmp + sizeof(tmp);
    do {
      *--p = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    append(std::string_view(p, tmp + sizeof(tmp) - p));
  }
  void appendHex(unsigned long long v) {
    static constexpr char kDigits[] = "0123456789abcdef";
    char tmp[24];
    char* p = tmp + sizeof(tmp);
    do {
      *--p = kDigits[v & 15];
      v >>= 4;
    } while (v != 0);
    append(std::string_view(p, tmp + sizeof(tmp) - p));
  }

  void drain(size_t n) {
    begin_ += n;
    if (begin_ >= end_) begin_ = end_ = 0;
  }
  void clear() { begin_ = end_ = 0; }
  void release() {
    if (empty()) {
      std::free(data_);
      data_ = nullptr;
      cap_ = begin_ = end_ = 0;
    }
  }
  size_t capacity() const { return cap_; }

  // Ensures `at_least` free bytes after the write position, compacting before growing.
  void reserve(size_t at_least) {
    if (cap_ - end_ >= at_least) return;
    size_t used = end_ - begin_;
    if (begin_ > 0 && cap_ - used >= at_least && used <= cap_ / 2) {
      std::memmove(data_, data_ + begin_, used);
      begin_ = 0;
      end_ = used;
      return;
    }
    // The first allocation fits the first write (small bodies stay small); a growing
    // buffer doubles.
    size_t new_cap = cap_ == 0 ? (at_least <= kSmall ? kSmall : kInitial) : cap_ * 2;
    while (new_cap - used < at_least) new_cap *= 2;
    char* fresh = static_cast<char*>(std::malloc(new_cap));
    if (fresh == nullptr) throw std::bad_alloc();
    if (used) std::memcpy(fresh, data_ + begin_, used);
    std::free(data_);
    data_ = fresh;
    cap_ = new_cap;
    begin_ = 0;
    end_ = used;
  }

  static constexpr size_t kInitial = 16 * 1024;
  static constexpr size_t kSmall = 512;

 private:
  char* data_ = nullptr;
  size_t cap_ = 0;
  size_t begin_ = 0;
  size_t end_ = 0;
};

}  // namespace weft
