// PagePool's contract (runtime/page_pool.h): a fixed set of pages, each with a
// reference count; alloc gives a page at count 1 or nothing when all are in
// use; a page is free again when its last reference is released; the most
// recently freed page is handed out first.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "runtime/page_pool.h"

namespace dseek {
namespace {

constexpr int64_t kLayers = 2, kWidth = 3, kPageTokens = 4, kPages = 5;

TEST(PagePool, SizesItsStorageOnce) {
  PagePool pool(kLayers, kWidth, kPageTokens, kPages);
  EXPECT_EQ(pool.n_pages(), kPages);
  EXPECT_EQ(pool.n_free(), kPages);
  EXPECT_EQ(pool.page_tokens(), kPageTokens);
  EXPECT_EQ(pool.bytes(), static_cast<int64_t>(kPages * kLayers * kPageTokens * kWidth * sizeof(float)));
  for (int32_t p = 0; p < kPages; ++p) EXPECT_EQ(pool.refs(p), 0);
}

TEST(PagePool, AllocHandsOutEveryPageOnceThenNothing) {
  PagePool pool(kLayers, kWidth, kPageTokens, kPages);
  std::set<int32_t> seen;
  for (int64_t i = 0; i < kPages; ++i) {
    auto p = pool.alloc();
    ASSERT_TRUE(p.has_value());
    EXPECT_GE(*p, 0);
    EXPECT_LT(*p, kPages);
    EXPECT_TRUE(seen.insert(*p).second) << "page " << *p << " handed out twice";
    EXPECT_EQ(pool.refs(*p), 1);
    EXPECT_EQ(pool.n_free(), kPages - i - 1);
  }
  EXPECT_FALSE(pool.alloc().has_value());  // exhausted: refused, never grown
  EXPECT_EQ(pool.n_pages(), kPages);
  EXPECT_EQ(pool.n_free(), 0);
}

TEST(PagePool, FreshPoolHandsOutLowPagesFirst) {
  PagePool pool(kLayers, kWidth, kPageTokens, kPages);
  for (int32_t want = 0; want < kPages; ++want) EXPECT_EQ(pool.alloc(), want);
}

TEST(PagePool, ReleaseToZeroFreesAndTheLastFreedIsReusedFirst) {
  PagePool pool(kLayers, kWidth, kPageTokens, kPages);
  std::vector<int32_t> pages;
  for (int64_t i = 0; i < kPages; ++i) pages.push_back(*pool.alloc());
  pool.release(pages[1]);
  pool.release(pages[3]);
  EXPECT_EQ(pool.n_free(), 2);
  EXPECT_EQ(pool.refs(pages[1]), 0);
  EXPECT_EQ(pool.alloc(), pages[3]);  // a stack: the warmest page first
  EXPECT_EQ(pool.alloc(), pages[1]);
  EXPECT_FALSE(pool.alloc().has_value());
}

TEST(PagePool, RetainedPageStaysInUseUntilEveryReferenceIsReleased) {
  PagePool pool(kLayers, kWidth, kPageTokens, 1);
  const int32_t p = *pool.alloc();
  pool.retain(p);
  pool.retain(p);
  EXPECT_EQ(pool.refs(p), 3);
  pool.release(p);
  pool.release(p);
  EXPECT_EQ(pool.refs(p), 1);
  EXPECT_EQ(pool.n_free(), 0);
  EXPECT_FALSE(pool.alloc().has_value());
  pool.release(p);
  EXPECT_EQ(pool.refs(p), 0);
  EXPECT_EQ(pool.n_free(), 1);
  EXPECT_EQ(pool.alloc(), p);
  EXPECT_EQ(pool.refs(p), 1);
}

TEST(PagePool, AccountingHoldsOverManyCycles) {
  PagePool pool(kLayers, kWidth, kPageTokens, kPages);
  std::vector<int32_t> held;
  for (int round = 0; round < 50; ++round) {
    if (round % 3 != 2) {
      if (auto p = pool.alloc()) held.push_back(*p);
    } else if (!held.empty()) {
      pool.release(held.front());
      held.erase(held.begin());
    }
    EXPECT_EQ(pool.n_free() + static_cast<int64_t>(held.size()), kPages);
    std::set<int32_t> unique(held.begin(), held.end());
    EXPECT_EQ(unique.size(), held.size());
  }
}

}  // namespace
}  // namespace dseek
