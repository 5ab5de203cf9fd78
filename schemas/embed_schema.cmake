# Writes a C++ source holding the schema text, so the binary can print records as JSON with
# the exact schema it was built from. The include line is dropped: the two files are parsed as
# one text.
file(READ ${EVENTS} events)
file(READ ${ENVELOPE} envelope)
string(REGEX REPLACE "include \"events.fbs\";" "" envelope "${envelope}")
file(WRITE ${OUT} "// Generated from schemas/*.fbs; do not edit.\n"
  "namespace sazesh { extern const char* const schema_text = R\"sazesh_fbs(\n"
  "${events}\n${envelope}\n)sazesh_fbs\"; }\n")
