// PLACEHOLDER until the tokenizer lands: replaced by the real `dseek run`.
#include "cli/commands.h"
#include "cli/common.h"
namespace dseek::cli {
int cmd_run(int, char**) { return report("run: not built yet"); }
}  // namespace dseek::cli
