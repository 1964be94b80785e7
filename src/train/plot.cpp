// See plot.h. Panels stacked vertically, 640 x 240 each, linear axes with
// min/max labels, a legend per panel.
#include "train/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/atomic_file.h"

namespace dseek::train {
namespace {

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}

std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) o += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : std::string(1, c);
  return o;
}

}  // namespace

Status write_svg_plot(const std::string& path, const std::string& title, const std::vector<Panel>& panels) {
  const double W = 640, H = 240, L = 60, R = 20, T = 30, B = 30;
  const char* colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"};
  std::string svg = "<svg xmlns='http://www.w3.org/2000/svg' width='" + num(W) + "' height='" +
                    num(H * static_cast<double>(panels.size()) + 30) + "' font-family='sans-serif' font-size='11'>\n";
  svg += "<rect width='100%' height='100%' fill='white'/>\n<text x='10' y='18' font-size='14'>" + escape(title) + "</text>\n";
  for (size_t p = 0; p < panels.size(); ++p) {
    const double oy = 30 + H * static_cast<double>(p);
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (const Series& s : panels[p].series)
      for (size_t i = 0; i < s.x.size(); ++i)
        if (std::isfinite(s.y[i])) x0 = std::min(x0, s.x[i]), x1 = std::max(x1, s.x[i]), y0 = std::min(y0, s.y[i]), y1 = std::max(y1, s.y[i]);
    if (!(x1 > x0)) x1 = x0 + 1;
    if (!(y1 > y0)) y1 = y0 + 1;
    auto px = [&](double x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
    auto py = [&](double y) { return oy + T + (y1 - y) / (y1 - y0) * (H - T - B); };
    svg += "<text x='" + num(L) + "' y='" + num(oy + 18) + "' font-weight='bold'>" + escape(panels[p].title) + "</text>\n";
    svg += "<rect x='" + num(L) + "' y='" + num(oy + T) + "' width='" + num(W - L - R) + "' height='" + num(H - T - B) +
           "' fill='none' stroke='#999'/>\n";
    svg += "<text x='5' y='" + num(oy + T + 10) + "'>" + num(y1) + "</text><text x='5' y='" + num(oy + H - B) + "'>" +
           num(y0) + "</text>\n";
    svg += "<text x='" + num(L) + "' y='" + num(oy + H - B + 14) + "'>" + num(x0) + "</text><text x='" + num(W - R - 40) +
           "' y='" + num(oy + H - B + 14) + "'>" + num(x1) + "</text>\n";
    for (size_t k = 0; k < panels[p].series.size(); ++k) {
      const Series& s = panels[p].series[k];
      const char* c = colors[k % 6];
      std::string pts;
      for (size_t i = 0; i < s.x.size(); ++i)
        if (std::isfinite(s.y[i])) pts += num(px(s.x[i])) + "," + num(py(s.y[i])) + " ";
      svg += "<polyline fill='none' stroke='" + std::string(c) + "' stroke-width='1.5' points='" + pts + "'/>\n";
      svg += "<text x='" + num(W - R - 150) + "' y='" + num(oy + T + 14 + 13 * static_cast<double>(k)) + "' fill='" + c +
             "'>" + escape(s.name) + "</text>\n";
    }
  }
  svg += "</svg>\n";
  if (Status st = write_file_atomically(path, svg); !st.ok()) return Status::error("cannot write the plot: " + st.message());
  return ok_status();
}

}  // namespace dseek::train
