#include "common/byte_queue.hpp"

#include <gtest/gtest.h>

#include <string>

namespace muxbench {
namespace {

std::string contents(const ByteQueue& queue) {
  const auto bytes = queue.front();
  return {bytes.data(), bytes.size()};
}

TEST(ByteQueue, KeepsBytesInOrderAcrossPartialConsumes) {
  ByteQueue queue;
  queue.append("hello ", 6);
  queue.append("world", 5);
  queue.consume(3);
  EXPECT_EQ(contents(queue), "lo world");
  queue.append("!", 1);
  queue.consume(3);
  EXPECT_EQ(contents(queue), "world!");
  EXPECT_EQ(queue.size(), 6u);
}

TEST(ByteQueue, GivesLargeStorageBackWhenDrained) {
  ByteQueue queue;
  const std::string big(1 << 20, 'x');
  queue.append(big.data(), big.size());
  queue.consume(big.size());
  EXPECT_TRUE(queue.empty());
  EXPECT_EQ(queue.capacity(), 0u);
}

TEST(ByteQueue, CompactsInsteadOfGrowingWithoutBound) {
  ByteQueue queue;
  const std::string chunk(1000, 'y');
  for (int i = 0; i < 10000; ++i) {
    queue.append(chunk.data(), chunk.size());
    queue.consume(chunk.size() - 1);  // one byte of every chunk stays behind
  }
  EXPECT_EQ(queue.size(), 10000u);
  EXPECT_LT(queue.capacity(), 64u * 1024);
}

TEST(ByteQueue, SwapExchangesContents) {
  ByteQueue a, b;
  a.append("abc", 3);
  a.consume(1);
  a.swap(b);
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(contents(b), "bc");
}

}  // namespace
}  // namespace muxbench
