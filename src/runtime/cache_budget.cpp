// See cache_budget.h.
#include "runtime/cache_budget.h"

#include <unistd.h>

#include <cstdio>

namespace dseek {
namespace {

std::string gib(double bytes) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f GiB", bytes / (1024.0 * 1024 * 1024));
  return b;
}

}  // namespace

int64_t cache_bytes_per_position(const Model& model) {
  const KvCache one = model.new_cache(1);  // a single position: its layout, at no cost
  return one.page_floats() * static_cast<int64_t>(sizeof(float));
}

uint64_t physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : 0;
}

Status check_cache_memory(const Model& model, int64_t n_ctx, int64_t n_seqs, const std::string& flag) {
  // In floating point: the product of a hostile context length and the model's sizes can overflow 64 bits.
  const double need = static_cast<double>(cache_bytes_per_position(model)) * static_cast<double>(n_ctx) *
                      static_cast<double>(n_seqs);
  const double have = static_cast<double>(physical_memory_bytes());
  if (have <= 0 || need <= have) return ok_status();
  return Status::error("the attention cache for " + std::to_string(n_ctx) + " positions" +
                       (n_seqs > 1 ? " x " + std::to_string(n_seqs) + " sequences" : std::string()) + " needs " +
                       gib(need) + ", more than this machine's " + gib(have) + " of memory: lower " + flag);
}

}  // namespace dseek
