// Quantised matmul kernels: GEMV (decode) in GB/s of weights read and GEMM
// (prefill, 512 tokens) in GFLOP/s, for q4_K / q8_0 / q6_K weights shaped like
// DeepSeek-V2-Lite's experts (2048 -> 1408 and 1408 -> 2048). GEMV cycles over
// 64 copies of the matrix (> 100 MB) so weights come from DRAM, as in decode.
// Compare GB/s with `dseek bench --memory` (the machine's read bandwidth) and
// GFLOP/s with the int8 peak (64 MACs/cycle/core for vpdpbusd on 512 bits).
//   linear/...      the model's path: quantise activations + thread pool + kernel
//   kernel/<isa>/.. one ISA's int8 kernel on one thread, activations pre-quantised
//   f32act/...      the previous path (weights dequantised, f32 activations)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "core/float_convert.h"
#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/int8_decode_simd.h"
#include "kernels/int8_decode/decoded_row.h"
#include "kernels/kernels.h"
#include "kernels/ref/reference.h"
#include "model/blocks/linear.h"

namespace {

using dseek::DType;
using namespace dseek::kernels;

constexpr int kCopies = 64;

struct Experts {
  std::vector<std::byte> data;  // kCopies matrices back to back
  uint64_t bytes = 0;           // of one matrix
  std::vector<MatrixView> views;
};

const Experts& experts(DType t, int64_t rows, int64_t cols) {
  static std::map<std::tuple<int, int64_t, int64_t>, std::unique_ptr<Experts>> cache;
  auto& e = cache[{static_cast<int>(t), rows, cols}];
  if (e) return *e;
  e = std::make_unique<Experts>();
  const uint64_t row_bytes = *dtype_bytes(t, cols);
  e->bytes = row_bytes * static_cast<uint64_t>(rows);
  e->data.resize(e->bytes * kCopies);
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> f(static_cast<size_t>(cols));
  if (decoded_format(t)) {
    // Not every decoded-row type has a writer: random bytes in 0x04..0x77, so
    // every f16 / e8m0 scale they hold is a finite positive normal number.
    std::uniform_int_distribution<int> byte(0x04, 0x77);
    for (uint64_t i = 0; i < e->bytes; ++i) e->data[i] = std::byte(byte(rng));
  } else {
    for (int64_t r = 0; r < rows; ++r) {
      for (auto& v : f) v = normal(rng);
      quantize_row(t, f.data(), e->data.data() + r * row_bytes, cols);
    }
  }
  for (int c = 1; c < kCopies; ++c) std::copy_n(e->data.data(), e->bytes, e->data.data() + c * e->bytes);
  for (int c = 0; c < kCopies; ++c) e->views.push_back(make_matrix(t, e->data.data() + c * e->bytes, rows, cols));
  return *e;
}

std::vector<float> acts(int64_t n_tok, int64_t cols) {
  std::mt19937 rng(2);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n_tok * cols));
  for (auto& v : x) v = normal(rng);
  return x;
}

DType dtype_arg(int64_t i) { return i == 0 ? DType::kQ4_K : i == 1 ? DType::kQ8_0 : DType::kQ6_K; }
const char* kTypeNames[] = {"q4_K", "q8_0", "q6_K"};

// args: dtype index, rows, cols, threads
void linear_gemv(benchmark::State& st, int copies) {
  const DType t = dtype_arg(st.range(0));
  const int64_t rows = st.range(1), cols = st.range(2);
  const Experts& e = experts(t, rows, cols);
  dseek::ThreadPool pool(static_cast<int>(st.range(3)));
  const std::vector<float> x = acts(1, cols);
  std::vector<float> y(static_cast<size_t>(rows));
  int i = 0;
  for (auto _ : st) {
    dseek::linear(pool, e.views[static_cast<size_t>(i++ % copies)], x.data(), 1, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  st.counters["GB/s"] = benchmark::Counter(static_cast<double>(e.bytes) * static_cast<double>(st.iterations()),
                                           benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
  st.SetLabel(kTypeNames[st.range(0)]);
}

void BM_linear_gemv(benchmark::State& st) { linear_gemv(st, kCopies); }
// One copy (cache-resident): whether two threads scale when DRAM is out of the way.
void BM_linear_gemv_hot(benchmark::State& st) { linear_gemv(st, 1); }

// args: dtype index, rows, cols; one thread, one ISA, activations quantised once outside the loop
void kernel_gemv(benchmark::State& st, Isa isa, int copies = kCopies) {
  const Int8Table* table = int8_table(isa);
  if (!table) return st.SkipWithError("ISA not supported on this CPU");
  const DType t = dtype_arg(st.range(0));
  const int64_t rows = st.range(1), cols = st.range(2);
  const Experts& e = experts(t, rows, cols);
  const std::vector<float> x = acts(1, cols);
  QuantizedActs q;
  q.resize(1, cols);
  quantize_activations(x.data(), cols, q, 0, 1);
  std::vector<float> y(static_cast<size_t>(rows));
  const Int8MatmulFn fn = table->matmul[t];
  int i = 0;
  for (auto _ : st) {
    fn(e.views[static_cast<size_t>(i++ % copies)], q, y.data(), rows, 0, rows);
    benchmark::DoNotOptimize(y.data());
  }
  st.counters["GB/s"] = benchmark::Counter(static_cast<double>(e.bytes) * static_cast<double>(st.iterations()),
                                           benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
  st.SetLabel(kTypeNames[st.range(0)]);
}
void BM_kernel_gemv_avx512vnni(benchmark::State& st) { kernel_gemv(st, Isa::kAvx512Vnni); }
// One copy, L2-resident: the kernel's compute ceiling, no DRAM in the way.
void BM_kernel_gemv_hot_avx512vnni(benchmark::State& st) { kernel_gemv(st, Isa::kAvx512Vnni, 1); }
void BM_kernel_gemv_avx512bw(benchmark::State& st) { kernel_gemv(st, Isa::kAvx512); }
void BM_kernel_gemv_avx2(benchmark::State& st) { kernel_gemv(st, Isa::kAvx2); }

// One thread, f32 activations through matvec: what the int8 kernels are measured against.
void f32act_gemv(benchmark::State& st, DType t, int64_t rows, int64_t cols) {
  const Experts& e = experts(t, rows, cols);
  const std::vector<float> x = acts(1, cols);
  std::vector<float> y(static_cast<size_t>(rows));
  int i = 0;
  for (auto _ : st) {
    matvec(e.views[static_cast<size_t>(i++ % kCopies)], x.data(), y.data(), 0, rows);
    benchmark::DoNotOptimize(y.data());
  }
  st.counters["GB/s"] = benchmark::Counter(static_cast<double>(e.bytes) * static_cast<double>(st.iterations()),
                                           benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}

// The previous path for comparison.
void BM_f32act_gemv(benchmark::State& st) {
  f32act_gemv(st, dtype_arg(st.range(0)), st.range(1), st.range(2));
  st.SetLabel(kTypeNames[st.range(0)]);
}

// FP8 E4M3 with DeepSeek-V3 128x128 block scales (f32 activations), one
// thread: arg 0 the SIMD path (matvec), 1 the scalar reference (matvec_ref).
void BM_fp8_gemv(benchmark::State& st) {
  const int64_t rows = 2048, cols = 2048;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<uint8_t> w(static_cast<size_t>(rows * cols));
  for (auto& v : w) v = dseek::f32_to_fp8_e4m3(normal(rng) * 100.0f);
  std::vector<float> scales(static_cast<size_t>((rows / 128) * (cols / 128)), 0.01f);
  const MatrixView m = make_matrix(DType::kF8E4M3, w.data(), rows, cols, scales.data());
  const std::vector<float> x = acts(1, cols);
  std::vector<float> y(static_cast<size_t>(rows));
  for (auto _ : st) {
    if (st.range(0) == 0) matvec(m, x.data(), y.data(), 0, rows);
    else matvec_ref(m, x.data(), y.data(), 0, rows);
    benchmark::DoNotOptimize(y.data());
  }
  st.counters["GB/s"] = benchmark::Counter(static_cast<double>(w.size()) * static_cast<double>(st.iterations()),
                                           benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
  st.SetLabel(st.range(0) == 0 ? "simd" : "scalar reference");
}
BENCHMARK(BM_fp8_gemv)->Arg(0)->Arg(1);

// args: dtype index, rows, cols, threads; 512 tokens through the model's linear()
void BM_linear_gemm512(benchmark::State& st) {
  const DType t = dtype_arg(st.range(0));
  const int64_t rows = st.range(1), cols = st.range(2), n_tok = 512;
  const Experts& e = experts(t, rows, cols);
  dseek::ThreadPool pool(static_cast<int>(st.range(3)));
  const std::vector<float> x = acts(n_tok, cols);
  std::vector<float> y(static_cast<size_t>(n_tok * rows));
  for (auto _ : st) {
    dseek::linear(pool, e.views[0], x.data(), n_tok, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * static_cast<double>(rows * cols * n_tok) * static_cast<double>(st.iterations()) / 1e9,
                                              benchmark::Counter::kIsRate);
  st.SetLabel(kTypeNames[st.range(0)]);
}

// Absorbed attention's scores: dot_many over n_keys cached rows x 8 heads
// (args: keys, length 512 = kv_lora_rank or 64 = the rope part), one thread.
void BM_dot_many(benchmark::State& st) {
  const int64_t n_keys = st.range(0), n = st.range(1), n_heads = 8;
  const std::vector<float> keys = acts(n_keys, n), queries = acts(n_heads, n);
  std::vector<const float*> k(static_cast<size_t>(n_keys)), q(static_cast<size_t>(n_heads));
  for (int64_t i = 0; i < n_keys; ++i) k[static_cast<size_t>(i)] = keys.data() + i * n;
  for (int64_t i = 0; i < n_heads; ++i) q[static_cast<size_t>(i)] = queries.data() + i * n;
  std::vector<float> out(static_cast<size_t>(n_keys * n_heads));
  for (auto _ : st) {
    dot_many(k.data(), n_keys, q.data(), n_heads, n, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * static_cast<double>(n_keys * n_heads * n) * static_cast<double>(st.iterations()) / 1e9,
                                              benchmark::Counter::kIsRate);
}
BENCHMARK(BM_dot_many)->Args({512, 512})->Args({512, 64});

// Absorbed attention's weighted sum of 512 cached latent rows (512 wide) for
// 8 heads, one thread.
void BM_weighted_sum_rows(benchmark::State& st) {
  const int64_t n_rows = 512, dim = 512, n_heads = 8;
  const std::vector<float> data = acts(n_rows, dim), p = acts(n_rows, n_heads);
  std::vector<const float*> rows(static_cast<size_t>(n_rows));
  for (int64_t i = 0; i < n_rows; ++i) rows[static_cast<size_t>(i)] = data.data() + i * dim;
  std::vector<float> out(static_cast<size_t>(n_heads * dim));
  for (auto _ : st) {
    weighted_sum_rows(p.data(), n_rows, n_heads, rows.data(), dim, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * static_cast<double>(n_rows * n_heads * dim) * static_cast<double>(st.iterations()) / 1e9,
                                              benchmark::Counter::kIsRate);
}
BENCHMARK(BM_weighted_sum_rows);

// The MoE MLP's SiLU-gated product over one expert's share of a 512-token
// prefill (48 tokens x 1408): arg 0 the active ISA's, 1 the scalar loop (std::exp).
void BM_silu_mul(benchmark::State& st) {
  const int64_t n = 48 * 1408;
  const std::vector<float> g = acts(48, 1408), u = acts(48, 1408);
  std::vector<float> out(static_cast<size_t>(n));
  for (auto _ : st) {
    if (st.range(0) == 0) silu_mul(g.data(), u.data(), out.data(), n);
    else silu_mul_ref(g.data(), u.data(), out.data(), n);
    benchmark::DoNotOptimize(out.data());
  }
  st.SetItemsProcessed(st.iterations() * n);
  st.SetLabel(st.range(0) == 0 ? "simd" : "scalar reference");
}
BENCHMARK(BM_silu_mul)->Arg(0)->Arg(1);

// What one linear() pays to split rows over the pool, with no work at all:
// the floor under every decode-time matmul (hundreds per token).
void BM_pool_sync(benchmark::State& st) {
  dseek::ThreadPool pool(static_cast<int>(st.range(0)));
  for (auto _ : st) pool.parallel_for(64, [](int64_t, int64_t) {}, 16);
}

// args: dtype index, rows, cols; one ISA's GEMM kernel on one
// thread, activations pre-quantised. 48 tokens is what one V2-Lite expert sees
// in a 512-token prefill (512 x 6 of 64 experts): the row tile's decode is
// shared by fewer tokens.
void kernel_gemm(benchmark::State& st, Isa isa, int64_t n_tok) {
  const Int8Table* table = int8_table(isa);
  if (!table) return st.SkipWithError("ISA not supported on this CPU");
  const DType t = dtype_arg(st.range(0));
  const int64_t rows = st.range(1), cols = st.range(2);
  const Experts& e = experts(t, rows, cols);
  const std::vector<float> x = acts(n_tok, cols);
  QuantizedActs q;
  q.resize(n_tok, cols);
  quantize_activations(x.data(), cols, q, 0, n_tok);
  std::vector<float> y(static_cast<size_t>(n_tok * rows));
  const Int8MatmulFn fn = table->matmul[t];
  for (auto _ : st) {
    fn(e.views[0], q, y.data(), rows, 0, rows);
    benchmark::DoNotOptimize(y.data());
  }
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * static_cast<double>(rows * cols * n_tok) * static_cast<double>(st.iterations()) / 1e9,
                                              benchmark::Counter::kIsRate);
  st.SetLabel(kTypeNames[st.range(0)]);
}
void BM_kernel_gemm512_avx512vnni(benchmark::State& st) { kernel_gemm(st, Isa::kAvx512Vnni, 512); }
void BM_kernel_gemm48_avx512vnni(benchmark::State& st) { kernel_gemm(st, Isa::kAvx512Vnni, 48); }
void BM_kernel_gemm512_avx512bw(benchmark::State& st) { kernel_gemm(st, Isa::kAvx512, 512); }
void BM_kernel_gemm512_avx2(benchmark::State& st) { kernel_gemm(st, Isa::kAvx2, 512); }

void gemv_shapes(benchmark::internal::Benchmark* b, bool threads) {
  for (int64_t t : {0, 1, 2})
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{1408, 2048}, {2048, 1408}}) {
      if (t != 1 && cols % 256 != 0) continue;  // k-quants need 256 | cols (V2-Lite stores these q8_0)
      if (threads) {
        for (int64_t n : {1, 2}) b->Args({t, rows, cols, n});
      } else {
        b->Args({t, rows, cols});
      }
    }
}

BENCHMARK(BM_pool_sync)->Arg(1)->Arg(2)->UseRealTime();
BENCHMARK(BM_linear_gemv)->Apply([](auto* b) { gemv_shapes(b, true); })->UseRealTime();
BENCHMARK(BM_linear_gemv_hot)->Apply([](auto* b) { gemv_shapes(b, true); })->UseRealTime();
BENCHMARK(BM_kernel_gemv_avx512vnni)->Apply([](auto* b) { gemv_shapes(b, false); });
BENCHMARK(BM_kernel_gemv_hot_avx512vnni)->Apply([](auto* b) { gemv_shapes(b, false); });
BENCHMARK(BM_kernel_gemv_avx512bw)->Apply([](auto* b) { gemv_shapes(b, false); });
BENCHMARK(BM_kernel_gemv_avx2)->Apply([](auto* b) { gemv_shapes(b, false); });
BENCHMARK(BM_f32act_gemv)->Apply([](auto* b) { gemv_shapes(b, false); });
BENCHMARK(BM_kernel_gemm512_avx512vnni)->Apply([](auto* b) { gemv_shapes(b, false); })->Unit(benchmark::kMillisecond);
BENCHMARK(BM_kernel_gemm48_avx512vnni)->Apply([](auto* b) { gemv_shapes(b, false); });
BENCHMARK(BM_kernel_gemm512_avx512bw)->Apply([](auto* b) { gemv_shapes(b, false); })->Unit(benchmark::kMillisecond);
BENCHMARK(BM_kernel_gemm512_avx2)->Apply([](auto* b) { gemv_shapes(b, false); })->Unit(benchmark::kMillisecond);
BENCHMARK(BM_linear_gemm512)
    ->Args({0, 1408, 2048, 1})->Args({0, 1408, 2048, 2})->Args({1, 2048, 1408, 2})->Args({2, 1408, 2048, 2})
    ->UseRealTime()->Unit(benchmark::kMillisecond);

// Four of the low-bit GGUF types (q2_K, q3_K, iq4_nl, iq4_xs) through the f32
// path, rows dequantised by the scalar reference: the baseline of their int8 kernels (below).
void BM_lowbit_gemv(benchmark::State& st) {
  static constexpr DType kLowBit[] = {DType::kQ2_K, DType::kQ3_K, DType::kIQ4_NL, DType::kIQ4_XS};
  f32act_gemv(st, kLowBit[st.range(0)], 1408, 2048);
  st.SetLabel(std::string(dtype_name(kLowBit[st.range(0)])));
}
BENCHMARK(BM_lowbit_gemv)->DenseRange(0, 3);

// The decoded-row types (kernels/int8_decode/) on the active ISA, one thread,
// activations pre-quantised, 2048 -> 1408 (an expert's up projection):
// GEMV in GB/s of weights read from DRAM, GEMM (48 and 512 tokens) in GFLOP/s.
constexpr DType kDecoded[] = {DType::kQ2_K,   DType::kQ3_K,   DType::kIQ4_XS,  DType::kIQ4_NL, DType::kMXFP4,
                              DType::kQ4_1,   DType::kQ5_0,   DType::kQ5_1,    DType::kIQ3_S,  DType::kIQ3_XXS,
                              DType::kIQ2_XXS, DType::kIQ2_XS, DType::kIQ2_S,  DType::kIQ1_S,  DType::kIQ1_M,
                              DType::kTQ1_0,  DType::kTQ2_0};
void decoded_matmul(benchmark::State& st, int64_t n_tok, int copies) {
  const DType t = kDecoded[st.range(0)];
  const int64_t rows = 1408, cols = 2048;
  const Experts& e = experts(t, rows, cols);
  const std::vector<float> x = acts(n_tok, cols);
  QuantizedActs q;
  q.resize(n_tok, cols);
  quantize_activations(x.data(), cols, q, 0, n_tok);
  std::vector<float> y(static_cast<size_t>(n_tok * rows));
  int i = 0;
  for (auto _ : st) {
    matmul_q8(e.views[static_cast<size_t>(i++ % copies)], q, y.data(), rows, 0, rows);
    benchmark::DoNotOptimize(y.data());
  }
  const double iters = static_cast<double>(st.iterations());
  if (n_tok == 1)
    st.counters["GB/s"] = benchmark::Counter(static_cast<double>(e.bytes) * iters, benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
  else
    st.counters["GFLOP/s"] = benchmark::Counter(2.0 * static_cast<double>(rows * cols * n_tok) * iters / 1e9, benchmark::Counter::kIsRate);
  st.SetLabel(std::string(dtype_name(t)) + " " + isa_name(backend().int8.isa));
}
void BM_decoded_gemv(benchmark::State& st) { decoded_matmul(st, 1, kCopies); }
void BM_decoded_gemm48(benchmark::State& st) { decoded_matmul(st, 48, 1); }
void BM_decoded_gemm512(benchmark::State& st) { decoded_matmul(st, 512, 1); }
constexpr int kNumDecoded = static_cast<int>(std::size(kDecoded));
BENCHMARK(BM_decoded_gemv)->DenseRange(0, kNumDecoded - 1);
BENCHMARK(BM_decoded_gemm48)->DenseRange(0, kNumDecoded - 1);
BENCHMARK(BM_decoded_gemm512)->DenseRange(0, kNumDecoded - 1)->Unit(benchmark::kMillisecond);

// ---- DeepSeek-V3.2's sparse attention, per cached key, one thread ----
// The lightning indexer's score of one query against 4096 cached keys at
// V3.2's shapes (64 heads x 128 FP8 values per key record: 4 + 128 bytes), and
// dense MLA's absorbed attention of one query over the same keys (128 heads,
// latent 512 + rope 64 in f32: 2304 bytes per key): scores, softmax and the
// weighted sum of latents, as mla_attend_absorbed runs them. "s/key" is the
// time per key (inverted rate); the two s/key figures' ratio is what the
// indexer costs per key relative to attending to it.
constexpr int64_t kDsaKeys = 4096;

void BM_dsa_index_scores(benchmark::State& st) {
  constexpr int64_t H = 64, D = 128, rec = 1 + D / 4;
  std::vector<float> q = acts(H, D), w = acts(1, H), records(kDsaKeys * rec);
  std::vector<uint8_t> q8(D);
  for (int64_t h = 0; h < H; ++h) {
    quantize_fp8_block_ue8m0(q.data() + h * D, D, q8.data());
    for (int64_t d = 0; d < D; ++d) q[h * D + d] = fp8_e4m3_to_float(q8[d]);
  }
  const std::vector<float> k = acts(kDsaKeys, D);
  std::vector<const float*> keys(kDsaKeys);
  for (int64_t s = 0; s < kDsaKeys; ++s) {
    float* r = records.data() + s * rec;
    r[0] = quantize_fp8_block_ue8m0(k.data() + s * D, D, reinterpret_cast<uint8_t*>(r + 1));
    keys[s] = r;
  }
  std::vector<float> out(kDsaKeys), decoded(16 * D), logits(16 * H);
  std::vector<int32_t> top(2048), scratch(kDsaKeys);
  std::vector<const float*> heads(H), rows(16);
  for (int64_t h = 0; h < H; ++h) heads[h] = q.data() + h * D;
  for (auto _ : st) {
    if (st.range(0) == 2) {  // the portable path (the AVX2 fallback, before the AVX-512 kernel everywhere)
      for (int64_t s0 = 0; s0 < kDsaKeys; s0 += 16) {
        for (int64_t s = 0; s < 16; ++s) {
          const auto* k8 = reinterpret_cast<const uint8_t*>(keys[s0 + s] + 1);
          for (int64_t d = 0; d < D; ++d) decoded[s * D + d] = fp8_table()[k8[d]];
          rows[s] = decoded.data() + s * D;
        }
        dot_many(rows.data(), 16, heads.data(), H, D, logits.data());
        for (int64_t s = 0; s < 16; ++s) {
          float total = 0.0f;
          for (int64_t h = 0; h < H; ++h) total += std::max(logits[s * H + h], 0.0f) * w[h];
          out[s0 + s] = total * keys[s0 + s][0];
        }
      }
    } else {
      dsa_index_scores(q.data(), w.data(), H, D, keys.data(), kDsaKeys, out.data());
    }
    if (st.range(0) == 1) top_k_positions(out.data(), kDsaKeys, 2048, top.data(), scratch.data());
    if (st.range(0) == 3) top_k_positions_ref(out.data(), kDsaKeys, 2048, top.data(), scratch.data());
    benchmark::DoNotOptimize(out.data());
  }
  st.counters["s/key"] = benchmark::Counter(kDsaKeys, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  st.counters["bytes/key"] = static_cast<double>(rec * 4);
  st.counters["MAC/key"] = static_cast<double>(H * D);
}
// arg 1: with the top-2048 selection; 2: the portable score path (LUT decode +
// dot_many); 3: with the reference's top-k (nth_element + sort)
BENCHMARK(BM_dsa_index_scores)->DenseRange(0, 3);

// arg 0: all 4096 rows in cache order; arg 1: 2048 rows picked every other
// one (a DSA selection: MLA reads the gathered rows through a pointer list).
void BM_mla_absorbed_per_key(benchmark::State& st) {
  constexpr int64_t H = 128, Ckv = 512, Dr = 64, G = 8, row = Ckv + Dr;
  const std::vector<float> cache = acts(kDsaKeys, row), qa = acts(H, Ckv), qr = acts(H, Dr);
  const int64_t n = st.range(0) == 1 ? kDsaKeys / 2 : kDsaKeys, step = kDsaKeys / n;
  std::vector<const float*> keys(n), ropes(n), qa_g(G), qr_g(G);
  for (int64_t s = 0; s < n; ++s) keys[s] = cache.data() + s * step * row, ropes[s] = keys[s] + Ckv;
  std::vector<float> nope(n * G), rope(n * G), prob(n), lat(H * Ckv);
  for (auto _ : st) {
    for (int64_t h0 = 0; h0 < H; h0 += G) {
      for (int64_t j = 0; j < G; ++j) qa_g[j] = qa.data() + (h0 + j) * Ckv, qr_g[j] = qr.data() + (h0 + j) * Dr;
      dot_many(keys.data(), n, qa_g.data(), G, Ckv, nope.data());
      dot_many(ropes.data(), n, qr_g.data(), G, Dr, rope.data());
      for (int64_t j = 0; j < G; ++j) {
        for (int64_t s = 0; s < n; ++s) prob[s] = (nope[s * G + j] + rope[s * G + j]) * 0.1f;
        softmax(prob.data(), n);
        for (int64_t s = 0; s < n; ++s) nope[s * G + j] = prob[s];
      }
      weighted_sum_rows(nope.data(), n, G, keys.data(), Ckv, lat.data() + h0 * Ckv);
    }
    benchmark::DoNotOptimize(lat.data());
  }
  st.counters["s/key"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  st.counters["bytes/key"] = static_cast<double>(row * 4);
  st.counters["MAC/key"] = static_cast<double>(H * (Ckv + Dr + Ckv));
}
BENCHMARK(BM_mla_absorbed_per_key)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
// Decoding alone, the same 2048 -> 1408 matrix (cache-resident) row by row into
// one scratch row: the scalar decoders (kernels/int8_decode/) and the AVX-512
// ones (cpu/int8_decode_simd.h), in GB/s of weights decoded. GEMV's share of
// time spent decoding is its GB/s over this one's.
void decoded_decode_only(benchmark::State& st, bool simd) {
  const DType t = kDecoded[st.range(0)];
  const int64_t rows = 1408, cols = 2048;
  if (simd && !int8_table(Isa::kAvx512)) return st.SkipWithError("no AVX-512BW on this CPU");
  const DecodeRowFn decode = simd ? decoder_or_scalar(decoders_avx512(), t) : decoded_format(t)->decode;
  const Experts& e = experts(t, rows, cols);
  const MatrixView& w = e.views[0];
  DecodedRowBuffer buf(cols);
  for (auto _ : st) {
    for (int64_t r = 0; r < rows; ++r) decode(w.data + static_cast<uint64_t>(r) * w.row_bytes, cols, buf.row());
    benchmark::DoNotOptimize(buf.row().q);
  }
  st.counters["GB/s"] = benchmark::Counter(static_cast<double>(e.bytes) * static_cast<double>(st.iterations()),
                                           benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
  st.SetLabel(std::string(dtype_name(t)) + (simd ? " avx512" : " scalar"));
}
void BM_decode_scalar(benchmark::State& st) { decoded_decode_only(st, false); }
void BM_decode_simd(benchmark::State& st) { decoded_decode_only(st, true); }
BENCHMARK(BM_decode_scalar)->DenseRange(0, kNumDecoded - 1);
BENCHMARK(BM_decode_simd)->DenseRange(0, kNumDecoded - 1);

}  // namespace

BENCHMARK_MAIN();
