// See weight_source.h.
#include "format/weight_source.h"

#include <algorithm>

namespace dseek {

int64_t WeightView::n_elements() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

WeightSource WeightSource::from_gguf(std::shared_ptr<const GgufFile> f) {
  WeightSource w;
  for (const auto& t : f->tensors()) {
    WeightView v{t.name, t.dtype, std::vector<int64_t>(t.ne.rbegin(), t.ne.rend()), f->tensor_data(t)};
    w.views_.push_back(std::move(v));
  }
  w.owner_ = std::move(f);
  w.index();
  return w;
}

WeightSource WeightSource::from_safetensors(std::shared_ptr<const Safetensors> s) {
  WeightSource w;
  for (const auto& t : s->tensors()) w.views_.push_back({t.name, t.dtype, t.shape, t.data});
  w.owner_ = std::move(s);
  w.index();
  return w;
}

WeightSource WeightSource::from_views(std::vector<WeightView> views, std::shared_ptr<const void> owner) {
  WeightSource w;
  w.views_ = std::move(views);
  w.owner_ = std::move(owner);
  w.index();
  return w;
}

void WeightSource::index() {
  for (size_t i = 0; i < views_.size(); ++i) by_name_.emplace(views_[i].name, i);
}

const WeightView* WeightSource::find(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : &views_[it->second];
}

}  // namespace dseek
