// Random lowercase hex strings for identifiers that must not repeat by chance
// (response ids, prompt sentinels). Not for secrets: the generator is a
// per-thread mt19937_64 seeded from std::random_device.
#pragma once

#include <cstddef>
#include <string>

namespace dseek {

std::string random_hex(size_t n);

}  // namespace dseek
