# Writes a C++ source defining the bytes of a file as an array, so that a
# program carries data generated at build time (the descriptor set served by
# reflection). Run as: cmake -DINPUT=file -DOUTPUT=file.cc -DSYMBOL=name -P
# embed_file.cmake. Defines `const unsigned char SYMBOL[]` and
# `const std::size_t SYMBOL_size` in namespace shoal::embedded.
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
# Some 16 bytes to a line keeps the file readable to tools.
string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){16})" "\\1\n" bytes "${bytes}")
file(WRITE "${OUTPUT}.tmp"
  "// Generated from ${INPUT} by cmake/embed_file.cmake.\n"
  "#include <cstddef>\n"
  "namespace shoal::embedded {\n"
  "extern const unsigned char ${SYMBOL}[];\n"
  "extern const std::size_t ${SYMBOL}_size;\n"
  "const unsigned char ${SYMBOL}[] = {\n${bytes}0};\n"
  "const std::size_t ${SYMBOL}_size = ${size};\n"
  "}  // namespace shoal::embedded\n")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
