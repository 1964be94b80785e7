// Expert placement for --ep: balanced by bytes, --ep-map pins, errors that name the line.
#include <gtest/gtest.h>

#include "dist/expert_placement.h"

namespace dseek::dist {
namespace {

// n_layer layers (layer 0 dense) of n_expert experts, each rows x 16 bytes per matrix.
struct FakeModel {
  std::vector<MoeWeights> moe;
  std::vector<const MoeWeights*> layers;
  FakeModel(int n_layer, int n_expert, int rows) : moe(static_cast<size_t>(n_layer)) {
    for (int l = 0; l < n_layer; ++l) {
      kernels::MatrixView m{.rows = rows, .cols = 4, .row_bytes = 16};
      moe[static_cast<size_t>(l)].experts.assign(static_cast<size_t>(n_expert), MlpWeights{m, m, m});
      layers.push_back(l == 0 ? nullptr : &moe[static_cast<size_t>(l)]);
    }
  }
};

TEST(ExpertPlacement, SpreadsEqualExpertsEvenlyInContiguousRuns) {
  FakeModel f(4, 6, 2);
  auto p = place_experts(f.layers, 3, "");
  ASSERT_TRUE(p.ok()) << p.message();
  for (int64_t l = 1; l < 4; ++l) {
    std::vector<int> per_rank(3, 0);
    for (int64_t e = 0; e < 6; ++e) ++per_rank[static_cast<size_t>(p->owner_of(l, e))];
    EXPECT_EQ(per_rank, (std::vector<int>{2, 2, 2})) << "layer " << l;
    for (int64_t e = 1; e < 6; ++e) EXPECT_LE(p->owner_of(l, e - 1), p->owner_of(l, e)) << "runs are contiguous";
  }
  EXPECT_EQ(p->bytes_per_rank, (std::vector<uint64_t>{6 * 96, 6 * 96, 6 * 96}));
}

TEST(ExpertPlacement, MapPinsExpertsAndTheRestBalanceAroundThem) {
  FakeModel f(3, 4, 1);
  auto p = place_experts(f.layers, 2, "# hot experts\n* 0 1\n2 3 1  # one layer\n\n");
  ASSERT_TRUE(p.ok()) << p.message();
  EXPECT_EQ(p->owner_of(1, 0), 1);
  EXPECT_EQ(p->owner_of(2, 0), 1);
  EXPECT_EQ(p->owner_of(2, 3), 1);
  EXPECT_EQ(p->bytes_per_rank[0] + p->bytes_per_rank[1], 8u * 48);
  EXPECT_EQ(p->bytes_per_rank[0], p->bytes_per_rank[1]);
}

TEST(ExpertPlacement, UnevenSplitsEvenOutOverLayers) {
  FakeModel f(4, 64, 1);  // 3 MoE layers of 64 experts over 3 ranks: 64 = 21 + 21 + 22 in some order
  auto p = place_experts(f.layers, 3, "");
  ASSERT_TRUE(p.ok()) << p.message();
  EXPECT_EQ(p->bytes_per_rank, (std::vector<uint64_t>{64 * 48, 64 * 48, 64 * 48}));
}

TEST(ExpertPlacement, BadMapLinesAreErrorsNamingTheLine) {
  FakeModel f(2, 4, 1);
  EXPECT_NE(place_experts(f.layers, 2, "* 0 2\n").message().find("line 1: rank 2"), std::string::npos);
  EXPECT_NE(place_experts(f.layers, 2, "\n1 9 0\n").message().find("line 2: no expert 9"), std::string::npos);
  EXPECT_NE(place_experts(f.layers, 2, "x 1 0\n").message().find("no layer 'x'"), std::string::npos);
  EXPECT_NE(place_experts(f.layers, 2, "1 1\n").message().find("expected LAYER EXPERT RANK"), std::string::npos);
}

}  // namespace
}  // namespace dseek::dist
