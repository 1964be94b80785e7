#include "cli/commands.h"
#include "cli/common.h"
namespace dseek::cli {
int cmd_init(int, char**) { return report("init: not built yet"); }
}  // namespace dseek::cli
