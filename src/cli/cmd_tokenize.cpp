// PLACEHOLDER until the tokenizer lands (issue 3): replaced by the real command.
#include "cli/commands.h"
#include "cli/common.h"
namespace dseek::cli {
int cmd_tokenize(int, char**) { return report("tokenize: not built yet"); }
int cmd_detokenize(int, char**) { return report("detokenize: not built yet"); }
}  // namespace dseek::cli
