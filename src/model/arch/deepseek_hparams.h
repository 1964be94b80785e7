// The DeepSeek hyper-parameter table, its checks and the `dseek init` presets
// (arch/deepseek_hparams.cpp), for the architecture file arch/deepseek.cpp.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "model/deepseek.h"
#include "model/hparam_table.h"

namespace dseek {

std::span<const HParam<DeepseekHParams>> deepseek_hparam_table();
// What one field's range cannot say (cross-field checks), after the ranges.
Status deepseek_validate(const DeepseekHParams& h, const std::string& where);
// arch: deepseek-v2 | deepseek-v3 | deepseek-v32; preset: tiny | small | v2-lite | v32 (checked by the caller).
DeepseekHParams deepseek_preset_hparams(std::string_view arch, std::string_view preset);

}  // namespace dseek
