// Training curves as a self-contained SVG (no plotting dependency): one panel
// per metric group, each a set of named polylines over the step axis.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace dseek::train {

struct Series {
  std::string name;
  std::vector<double> x, y;
};
struct Panel {
  std::string title;
  std::vector<Series> series;
};

Status write_svg_plot(const std::string& path, const std::string& title, const std::vector<Panel>& panels);

}  // namespace dseek::train
