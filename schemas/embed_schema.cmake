# Writes a C++ source holding the schema text, so the binary can print records as JSON with
# the exact schema it was built from. The include line is dropped: the two files are parsed as
# one text.
file(READ ${EVENTS} events)
file(READ ${ENVELOPE} envelope)
string(REGEX REPLACE "include \"events.fbs\";" "" envelope "${envelope}")
# dossier.fbs is kept apart (it declares its own root type), to be parsed after the two.
file(READ ${DOSSIER} dossier)
string(REGEX REPLACE "include \"envelope.fbs\";" "" dossier "${dossier}")
file(WRITE ${OUT} "// Generated from schemas/*.fbs; do not edit.\n"
  "namespace sazesh { extern const char* const schema_text = R\"sazesh_fbs(\n"
  "${events}\n${envelope}\n)sazesh_fbs\";\n"
  "extern const char* const dossier_schema_text = R\"sazesh_fbs(\n${dossier}\n)sazesh_fbs\"; }\n")
