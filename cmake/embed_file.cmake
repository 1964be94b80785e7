# Turns a file into a C++ source defining a std::string_view over its bytes.
# cmake -DIN=file -DOUT=file.cpp -DNAME=symbol -DHEADER=server/web_assets.h -P embed_file.cmake
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" n)
math(EXPR bytes "${n} / 2")
# "\xHH" escapes, 32 bytes per line ("\xHH" never swallows the next escape).
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" escaped "${hex}")
string(REGEX REPLACE "((\\\\x[0-9a-f][0-9a-f]) *){32}" "\\0\"\n\"" escaped "${escaped}")
file(WRITE "${OUT}" "// Generated from ${IN} by cmake/embed_file.cmake. Do not edit.\n#include \"${HEADER}\"\nnamespace {\nconstexpr char kData[] =\n\"${escaped}\";\n}  // namespace\nnamespace dseek::server {\nconst std::string_view ${NAME}(kData, ${bytes});\n}  // namespace dseek::server\n")
