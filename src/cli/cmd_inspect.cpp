#include "cli/commands.h"
#include "cli/common.h"
namespace dseek::cli {
int cmd_inspect(int, char**) { return report("inspect: not built yet"); }
}  // namespace dseek::cli
