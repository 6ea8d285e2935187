# Writes OUT, a C++ file holding every manifests/*.yaml (by name, in order) for
# `weftctl install`. Run at build time: cmake -DMANIFEST_DIR=... -DOUT=... -P embed_manifests.cmake
file(GLOB files RELATIVE "${MANIFEST_DIR}" "${MANIFEST_DIR}/*.yaml")
list(SORT files)
set(body "// Generated from manifests/ by src/ctl/embed_manifests.cmake: do not edit.\n")
string(APPEND body "#include \"ctl/install.h\"\n\nnamespace weft::ctl {\n\n")
string(APPEND body "const std::vector<ManifestFile>& manifestFiles() {\n  static const std::vector<ManifestFile> files = {\n")
foreach(f IN LISTS files)
  file(READ "${MANIFEST_DIR}/${f}" text)
  string(APPEND body "      {\"${f}\", R\"weftmanifest(${text})weftmanifest\"},\n")
endforeach()
string(APPEND body "  };\n  return files;\n}\n\n}  // namespace weft::ctl\n")
file(WRITE "${OUT}.tmp" "${body}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
