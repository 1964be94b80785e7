// PLACEHOLDER until chat templates land (issue 3): replaced by the real command.
#include "cli/commands.h"
#include "cli/common.h"
namespace dseek::cli {
int cmd_template(int, char**) { return report("template: not built yet"); }
}  // namespace dseek::cli
