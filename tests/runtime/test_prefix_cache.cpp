// PrefixCache's contract (runtime/prefix_cache.h): only full pages are shared;
// a hit needs the whole prefix up to that page to match token for token; every
// page returned by lookup is retained for the caller; the cache holds one
// reference per page it knows; evict_one frees the least recently used page
// that only the cache holds; the destructor gives the cache's references back.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "runtime/prefix_cache.h"

namespace dseek {
namespace {

constexpr int64_t kPageTokens = 4;

std::vector<int32_t> iota_tokens(int n, int32_t first) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  std::iota(t.begin(), t.end(), first);
  return t;
}

// Pages for a sequence of n_pages, as a request would own them.
std::vector<int32_t> take_pages(PagePool& pool, int n_pages) {
  std::vector<int32_t> pages;
  for (int i = 0; i < n_pages; ++i) pages.push_back(*pool.alloc());
  return pages;
}

void release_all(PagePool& pool, const std::vector<int32_t>& pages) {
  for (int32_t p : pages) pool.release(p);
}

class PrefixCacheTest : public ::testing::Test {
 protected:
  // A request that computed `tokens` into `n_pages` fresh pages and offered them
  // to the cache; finished: its own references are given back (only the cache holds them).
  std::vector<int32_t> cached(const std::vector<int32_t>& tokens, int n_pages, bool finished = true) {
    const auto pages = take_pages(pool, n_pages);
    cache.insert(tokens, pages);
    if (finished) release_all(pool, pages);
    return pages;
  }

  PagePool pool{1, 2, kPageTokens, 8};
  PrefixCache cache{pool};  // declared after the pool: destroyed first, releasing into it
};

TEST_F(PrefixCacheTest, EmptyCacheMisses) {
  EXPECT_TRUE(cache.lookup(iota_tokens(12, 1), 3).empty());
  EXPECT_EQ(cache.n_cached_pages(), 0);
  EXPECT_FALSE(cache.evict_one());
}

TEST_F(PrefixCacheTest, InsertKeepsOnlyFullPagesAndTakesAReferenceEach) {
  const auto tokens = iota_tokens(10, 1);  // 2 full pages + 2 tokens
  const auto pages = cached(tokens, 3, false);
  EXPECT_EQ(cache.n_cached_pages(), 2);
  EXPECT_EQ(pool.refs(pages[0]), 2);
  EXPECT_EQ(pool.refs(pages[1]), 2);
  EXPECT_EQ(pool.refs(pages[2]), 1);  // partial page: not shared
  cache.insert(tokens, pages);        // known pages stay as they are
  EXPECT_EQ(cache.n_cached_pages(), 2);
  EXPECT_EQ(pool.refs(pages[0]), 2);
}

TEST_F(PrefixCacheTest, LookupReturnsTheLongestMatchingPrefixRetained) {
  const auto tokens = iota_tokens(12, 1);
  const auto pages = cached(tokens, 3);
  auto longer = tokens;
  longer.push_back(99);
  EXPECT_EQ(cache.lookup(longer, 8), pages);
  for (int32_t p : pages) EXPECT_EQ(pool.refs(p), 2);

  auto diverging = tokens;
  diverging[6] = 1000;  // second page differs: only the first page is a hit
  const auto hit = cache.lookup(diverging, 8);
  ASSERT_EQ(hit.size(), 1u);
  EXPECT_EQ(hit[0], pages[0]);
  EXPECT_EQ(pool.refs(pages[0]), 3);
}

TEST_F(PrefixCacheTest, LookupStopsAtMaxPagesAndAtTheLastFullPage) {
  const auto tokens = iota_tokens(12, 1);
  cached(tokens, 3, false);
  EXPECT_EQ(cache.lookup(tokens, 2).size(), 2u);
  EXPECT_EQ(cache.lookup(std::span(tokens).first(7), 8).size(), 1u);  // 7 tokens: one full page
  EXPECT_TRUE(cache.lookup(tokens, 0).empty());
}

TEST_F(PrefixCacheTest, SamePageTokensAfterADifferentPrefixMiss) {
  const auto tokens = iota_tokens(8, 1);
  cached(tokens, 2, false);
  // The second page's tokens alone, or after another first page: the chain differs.
  EXPECT_TRUE(cache.lookup(std::span(tokens).subspan(4), 8).empty());
  auto other = tokens;
  other[0] = 500;
  EXPECT_TRUE(cache.lookup(other, 8).empty());
}

TEST_F(PrefixCacheTest, EvictsOnlyPagesNobodyElseHoldsLeastRecentlyUsedFirst) {
  const auto a = iota_tokens(4, 1), b = iota_tokens(4, 100);
  const auto pa = cached(a, 1, false), pb = cached(b, 1, false);
  // Both still held by their requests: nothing may be evicted.
  EXPECT_FALSE(cache.evict_one());
  release_all(pool, pa);
  release_all(pool, pb);
  (void)cache.lookup(a, 1);  // a is now the most recently used, and held by this caller
  EXPECT_TRUE(cache.evict_one());  // b: only the cache holds it
  EXPECT_EQ(pool.refs(pb[0]), 0);
  EXPECT_EQ(cache.n_cached_pages(), 1);
  EXPECT_TRUE(cache.lookup(b, 1).empty());
  EXPECT_FALSE(cache.evict_one());  // a is held by the lookup above
  pool.release(pa[0]);  // the lookup's reference
  EXPECT_TRUE(cache.evict_one());
  EXPECT_EQ(pool.n_free(), pool.n_pages());
  EXPECT_EQ(cache.n_cached_pages(), 0);
}

TEST_F(PrefixCacheTest, EvictionOrderFollowsLastUse) {
  const auto a = iota_tokens(4, 1), b = iota_tokens(4, 100);
  const auto pa = cached(a, 1), pb = cached(b, 1);
  pool.release(cache.lookup(a, 1).at(0));  // touch a, then give the reference back
  EXPECT_TRUE(cache.evict_one());
  EXPECT_EQ(pool.refs(pb[0]), 0);  // b was older
  EXPECT_EQ(pool.refs(pa[0]), 1);
}

TEST(PrefixCache, DestructorReleasesTheCachesReferences) {
  PagePool pool(1, 2, kPageTokens, 4);
  const auto pages = take_pages(pool, 2);
  {
    PrefixCache cache(pool);
    cache.insert(iota_tokens(8, 1), pages);
    EXPECT_EQ(pool.refs(pages[0]), 2);
  }
  EXPECT_EQ(pool.refs(pages[0]), 1);
  EXPECT_EQ(pool.refs(pages[1]), 1);
  release_all(pool, pages);
  EXPECT_EQ(pool.n_free(), 4);
}

TEST(PrefixCache, ReusedPagesLetAFullPoolServeTheSamePromptAgain) {
  PagePool pool(1, 2, kPageTokens, 2);
  PrefixCache cache(pool);
  const auto tokens = iota_tokens(8, 1);
  const auto pages = take_pages(pool, 2);
  cache.insert(tokens, pages);
  release_all(pool, pages);
  EXPECT_FALSE(pool.alloc().has_value());  // the cache keeps both pages
  const auto hit = cache.lookup(tokens, 2);
  EXPECT_EQ(hit, pages);  // no new page needed for the same prompt
  release_all(pool, hit);
  EXPECT_TRUE(cache.evict_one());
  EXPECT_TRUE(pool.alloc().has_value());  // eviction gave a page back to the pool
}

}  // namespace
}  // namespace dseek
