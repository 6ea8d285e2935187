#include "common/buffer.h"

#include <gtest/gtest.h>

#include <climits>
#include <string>

namespace weft {
namespace {

std::string pattern(size_t n, size_t seed = 0) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i + seed) % 26);
  return s;
}

TEST(BufferTest, StartsEmptyWithoutStorage) {
  Buffer b;
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(b.capacity(), 0u);
  EXPECT_EQ(b.view(), "");
}

TEST(BufferTest, AppendStringsAndChars) {
  Buffer b;
  b.append("hello");
  b.append(' ');
  b.append(std::string_view("world"));
  b.append(std::string_view());  // no-op
  EXPECT_EQ(b.view(), "hello world");
  EXPECT_EQ(b.size(), 11u);
  EXPECT_FALSE(b.empty());
  EXPECT_EQ(b.capacity(), Buffer::kSmall);  // a small first write gets a small buffer
}

TEST(BufferTest, LargeFirstWriteGetsTheFullInitialSize) {
  Buffer b;
  b.append(std::string(Buffer::kSmall + 1, 'x'));
  EXPECT_EQ(b.capacity(), Buffer::kInitial);
}

TEST(BufferTest, DrainPartialThenAll) {
  Buffer b;
  b.append("abcdef");
  b.drain(2);
  EXPECT_EQ(b.view(), "cdef");
  b.drain(4);
  EXPECT_TRUE(b.empty());
  // Draining everything rewinds: the whole capacity is writable again.
  EXPECT_EQ(b.writableSize(), b.capacity());
  b.append("x");
  EXPECT_EQ(b.view(), "x");
}

TEST(BufferTest, DrainMoreThanSizeEmpties) {
  Buffer b;
  b.append("abc");
  b.drain(10);
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.size(), 0u);
}

TEST(BufferTest, WritableSpaceAndCommit) {
  Buffer b;
  char* p = b.writableSpace(5);
  ASSERT_NE(p, nullptr);
  EXPECT_GE(b.writableSize(), 5u);
  std::memcpy(p, "12345", 5);
  b.commit(3);
  EXPECT_EQ(b.view(), "123");
  p = b.writableSpace(2);
  std::memcpy(p, "xy", 2);
  b.commit(2);
  EXPECT_EQ(b.view(), "123xy");
}

TEST(BufferTest, GrowsByDoublingAndKeepsContent) {
  Buffer b;
  std::string big = pattern(Buffer::kInitial + 100);
  b.append(big);
  EXPECT_EQ(b.capacity(), 2 * Buffer::kInitial);
  EXPECT_EQ(b.view(), big);

  std::string huge = pattern(5 * Buffer::kInitial, 7);
  b.append(huge);
  EXPECT_EQ(b.capacity(), 8 * Buffer::kInitial);
  EXPECT_EQ(b.view(), big + huge);
}

TEST(BufferTest, ReserveCompactsWhenLittleIsUsed) {
  Buffer b;
  std::string full = pattern(Buffer::kInitial);
  b.append(full);
  ASSERT_EQ(b.capacity(), Buffer::kInitial);
  ASSERT_EQ(b.writableSize(), 0u);
  b.drain(Buffer::kInitial - 1000);  // 1000 bytes left at the end of the storage
  b.reserve(4000);
  // Compacted in place instead of growing.
  EXPECT_EQ(b.capacity(), Buffer::kInitial);
  EXPECT_GE(b.writableSize(), 4000u);
  EXPECT_EQ(b.view(), full.substr(Buffer::kInitial - 1000));
  b.append("tail");
  EXPECT_EQ(b.view(), full.substr(Buffer::kInitial - 1000) + "tail");
}

TEST(BufferTest, ReserveWhenMostIsUsedMakesRoomAndKeepsContent) {
  Buffer b;
  std::string full = pattern(Buffer::kInitial);
  b.append(full);
  b.drain(100);  // more than half still in use
  b.reserve(50);
  EXPECT_GE(b.writableSize(), 50u);
  EXPECT_EQ(b.view(), full.substr(100));
  b.reserve(1000);  // more than the drained space: must grow
  EXPECT_EQ(b.capacity(), 2 * Buffer::kInitial);
  EXPECT_GE(b.writableSize(), 1000u);
  EXPECT_EQ(b.view(), full.substr(100));
}

TEST(BufferTest, ReserveWithEnoughRoomChangesNothing) {
  Buffer b;
  b.append("abc");
  const char* before = b.data();
  size_t cap = b.capacity();
  b.reserve(10);
  EXPECT_EQ(b.data(), before);
  EXPECT_EQ(b.capacity(), cap);
}

TEST(BufferTest, AppendDecimal) {
  Buffer b;
  b.appendDecimal(0);
  b.append(',');
  b.appendDecimal(7);
  b.append(',');
  b.appendDecimal(1234567890);
  b.append(',');
  b.appendDecimal(ULLONG_MAX);
  EXPECT_EQ(b.view(), "0,7,1234567890,18446744073709551615");
}

TEST(BufferTest, AppendHexIsLowerCaseWithoutLeadingZeros) {
  Buffer b;
  b.appendHex(0);
  b.append(',');
  b.appendHex(10);
  b.append(',');
  b.appendHex(255);
  b.append(',');
  b.appendHex(0x1000);
  b.append(',');
  b.appendHex(0xdeadbeefULL);
  b.append(',');
  b.appendHex(ULLONG_MAX);
  EXPECT_EQ(b.view(), "0,a,ff,1000,deadbeef,ffffffffffffffff");
}

TEST(BufferTest, ClearKeepsStorage) {
  Buffer b;
  b.append("abc");
  b.clear();
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.capacity(), Buffer::kSmall);
}

TEST(BufferTest, ReleaseFreesOnlyWhenEmpty) {
  Buffer b;
  b.append("abc");
  b.release();
  EXPECT_EQ(b.capacity(), Buffer::kSmall);
  EXPECT_EQ(b.view(), "abc");
  b.drain(3);
  b.release();
  EXPECT_EQ(b.capacity(), 0u);
  b.append("again");
  EXPECT_EQ(b.view(), "again");
}

TEST(BufferTest, MoveTransfersStorage) {
  Buffer a;
  a.append("payload");
  a.drain(3);
  Buffer b(std::move(a));
  EXPECT_EQ(b.view(), "load");
  EXPECT_EQ(a.capacity(), 0u);  // NOLINT(bugprone-use-after-move): moved-from state is defined
  EXPECT_TRUE(a.empty());
  a.append("reuse");
  EXPECT_EQ(a.view(), "reuse");
}

}  // namespace
}  // namespace weft
