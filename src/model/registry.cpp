// placeholder
namespace dseek {}
