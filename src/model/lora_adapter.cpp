// See lora_adapter.h.
#include "model/lora_adapter.h"

#include <cmath>
#include <cstring>
#include <map>
#include <regex>

#include "format/gguf.h"
#include "format/gguf_writer.h"
#include "kernels/kernels.h"

namespace dseek {
namespace {

constexpr const char* kSuffixA = ".lora_a";
constexpr const char* kSuffixB = ".lora_b";

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

// A tensor's values as f32 (ne[0] innermost).
Result<std::vector<float>> to_f32(const GgufFile& g, const GgufTensorInfo& t) {
  const auto& tr = dtype_traits(t.dtype);
  if (!tr.is_float || t.ne.empty() || t.ne[0] % tr.block_size != 0)
    return Status::error("tensor '" + t.name + "' has type " + std::string(tr.name) + ", not a float type");
  std::vector<float> out(static_cast<size_t>(t.n_elements()));
  const int64_t row = t.ne[0], n_rows = t.n_elements() / row;
  const auto data = g.tensor_data(t);
  const size_t row_bytes = data.size() / static_cast<size_t>(std::max<int64_t>(n_rows, 1));
  for (int64_t r = 0; r < n_rows; ++r)
    kernels::dequantize_row(t.dtype, data.data() + static_cast<size_t>(r) * row_bytes, out.data() + r * row, row);
  return out;
}

}  // namespace

Status write_lora_adapter(const LoraAdapterFile& f, const std::string& path) {
  GgufWriter w;
  w.set("general.architecture", GgufValue::str(f.architecture));
  w.set("general.type", GgufValue::str("adapter"));
  w.set("general.name", GgufValue::str("dseek-lora"));
  w.set("adapter.type", GgufValue::str("lora"));
  w.set("adapter.lora.alpha", GgufValue::f32(f.alpha));
  std::vector<const std::vector<float>*> data;
  for (const auto& p : f.pairs) {
    w.add_tensor(p.base + kSuffixA, DType::kF32, {p.cols, p.rank});
    w.add_tensor(p.base + kSuffixB, DType::kF32, {p.rank, p.rows});
    data.push_back(&p.a);
    data.push_back(&p.b);
  }
  return w.write(path, [&](size_t i, std::span<std::byte> out) {
    if (out.size() != data[i]->size() * sizeof(float)) return Status::error("adapter tensor size mismatch");
    std::memcpy(out.data(), data[i]->data(), out.size());
    return ok_status();
  });
}

Result<LoraAdapterFile> read_lora_adapter(const std::string& path) {
  auto g = GgufFile::open(path);
  if (!g.ok()) return g.status();
  const std::string where = "LoRA adapter " + path + ": ";
  if (g->get_string("general.type").value_or("") != "adapter")
    return Status::error(where + "general.type is not \"adapter\" (is this a model rather than an adapter?)");
  if (g->get_string("adapter.type").value_or("") != "lora") return Status::error(where + "adapter.type is not \"lora\"");
  LoraAdapterFile f;
  f.architecture = g->get_string("general.architecture").value_or("");
  f.alpha = static_cast<float>(g->get_float("adapter.lora.alpha").value_or(0.0));
  if (!(f.alpha >= 0) || !std::isfinite(f.alpha)) return Status::error(where + "adapter.lora.alpha must be >= 0");
  std::map<std::string, std::pair<const GgufTensorInfo*, const GgufTensorInfo*>> by_base;
  for (const auto& t : g->tensors()) {
    if (ends_with(t.name, kSuffixA)) by_base[t.name.substr(0, t.name.size() - 7)].first = &t;
    else if (ends_with(t.name, kSuffixB)) by_base[t.name.substr(0, t.name.size() - 7)].second = &t;
    else return Status::error(where + "tensor '" + t.name + "' is neither .lora_a nor .lora_b");
  }
  if (by_base.empty()) return Status::error(where + "no LoRA tensors");
  for (const auto& [base, ab] : by_base) {
    const GgufTensorInfo *a = ab.first, *b = ab.second;
    if (!a || !b) return Status::error(where + "'" + base + "' lacks its " + (a ? "lora_b" : "lora_a"));
    if (a->ne.size() != 2 || b->ne.size() != 2 || a->ne[1] != b->ne[0] || a->ne[1] < 1)
      return Status::error(where + "'" + base + "': lora_a must be [cols, r] and lora_b [r, rows] with the same r");
    LoraPairData p;
    p.base = base, p.rows = b->ne[1], p.cols = a->ne[0], p.rank = a->ne[1];
    auto av = to_f32(*g, *a);
    if (!av.ok()) return Status::error(where + av.message());
    auto bv = to_f32(*g, *b);
    if (!bv.ok()) return Status::error(where + bv.message());
    p.a = std::move(av).value();
    p.b = std::move(bv).value();
    f.pairs.push_back(std::move(p));
  }
  return f;
}

bool lora_target_supported(const std::string& n) {
  static const std::regex ok(
      R"(^(output\.weight|blk\.\d+\.(attn_(q|k|v|q_a|q_b|kv_a_mqa|output)|ffn_(gate|up|down)(_shexp)?|nextn\.eh_proj)\.weight)$)");
  return std::regex_match(n, ok);
}

Status check_adapter_against(const LoraAdapterFile& f, const WeightSource& base, const std::string& adapter_path) {
  const std::string where = "LoRA adapter " + adapter_path + ": ";
  for (const auto& p : f.pairs) {
    const WeightView* w = base.find(p.base);
    if (!w) return Status::error(where + "tensor '" + p.base + "' does not exist in the base model (wrong base model?)");
    if (!lora_target_supported(p.base))
      return Status::error(where + "'" + p.base + "' cannot carry an adapter here (supported: attention projections, "
                           "dense and shared-expert FFN matrices, eh_proj, output)");
    if (w->shape.size() != 2 || w->shape[0] != p.rows || w->shape[1] != p.cols)
      return Status::error(where + "'" + p.base + "' is " + std::to_string(p.rows) + " x " + std::to_string(p.cols) +
                           " in the adapter but has another shape in the base model (wrong base model?)");
  }
  return ok_status();
}

Result<LoraArg> parse_lora_arg(const std::string& arg) {
  LoraArg out{arg, 1.0};
  const size_t colon = arg.rfind(':');
  if (colon != std::string::npos && colon + 1 < arg.size()) {
    const std::string num = arg.substr(colon + 1);
    char* end = nullptr;
    const double s = std::strtod(num.c_str(), &end);
    if (end && *end == '\0') {
      if (!std::isfinite(s) || std::abs(s) > 1e6) return Status::error("--lora " + arg + ": the scale must be a finite number");
      out.path = arg.substr(0, colon);
      out.scale = s;
    }
  }
  if (out.path.empty()) return Status::error("--lora needs a file name");
  return out;
}

void apply_lora(const LoraDelta& d, const float* x, int64_t n_tok, float* y) {
  for (const auto& term : d.terms) {
    const LoraPairData& p = *term.pair;
    std::vector<float> ax(static_cast<size_t>(p.rank));
    for (int64_t t = 0; t < n_tok; ++t) {
      const float* xt = x + t * p.cols;
      for (int64_t k = 0; k < p.rank; ++k) {
        const float* a = p.a.data() + k * p.cols;
        double acc = 0;
        for (int64_t c = 0; c < p.cols; ++c) acc += static_cast<double>(a[c]) * xt[c];
        ax[static_cast<size_t>(k)] = static_cast<float>(acc);
      }
      float* yt = y + t * p.rows;
      for (int64_t r = 0; r < p.rows; ++r) {
        const float* b = p.b.data() + r * p.rank;
        double acc = 0;
        for (int64_t k = 0; k < p.rank; ++k) acc += static_cast<double>(b[k]) * ax[static_cast<size_t>(k)];
        yt[r] += static_cast<float>(term.factor * acc);
      }
    }
  }
}

Result<std::shared_ptr<const LoraAdapters>> LoraAdapters::load(const std::vector<std::string>& args,
                                                              const WeightSource& base, const std::string& base_arch) {
  auto out = std::make_shared<LoraAdapters>();
  for (const std::string& arg : args) {
    auto la = parse_lora_arg(arg);
    if (!la.ok()) return la.status();
    auto f = read_lora_adapter(la->path);
    if (!f.ok()) return f.status();
    if (!base_arch.empty() && !f->architecture.empty() && f->architecture != base_arch)
      return Status::error("LoRA adapter " + la->path + " is for architecture '" + f->architecture +
                           "', the model is '" + base_arch + "'");
    if (Status st = check_adapter_against(*f, base, la->path); !st.ok()) return st;
    out->files_.push_back(std::make_unique<LoraAdapterFile>(std::move(f).value()));
    const LoraAdapterFile& file = *out->files_.back();
    for (const auto& p : file.pairs)
      out->deltas_[p.base].terms.push_back({&p, static_cast<float>(file.factor(p, la->scale))});
  }
  return std::shared_ptr<const LoraAdapters>(std::move(out));
}

const LoraDelta* LoraAdapters::find(const std::string& base_name) const {
  const auto it = deltas_.find(base_name);
  return it == deltas_.end() ? nullptr : &it->second;
}

}  // namespace dseek
