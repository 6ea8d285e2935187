#include "control/config/config_snapshot.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <spdlog/spdlog.h>

#include "control/config/kind_table.h"

namespace weft::control {

namespace {

// Into the snapshot field the kind table names for its type.
void store(ConfigSnapshot& out, Resource&& res) {
  std::visit(
      [&](auto&& value) {
        using T = std::decay_t<decltype(value)>;
        auto put = [&](const auto& row) {
          if constexpr (std::is_same_v<typename std::decay_t<decltype(row)>::Type, T>) {
            (out.*(row.field)).push_back(std::move(value));
          }
        };
        std::apply([&](const auto&... row) { (put(row), ...); }, kKinds);
      },
      std::move(res));
}

}  // namespace

void addDocuments(const std::string& text, const std::string& source, ConfigSnapshot& out) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    out.rejected.push_back({{source, 0, "", "", ""},
                            {"YAML error at line " + std::to_string(e.mark.line + 1) + ", column " +
                             std::to_string(e.mark.column + 1) + ": " + e.msg + " (the whole file is left out)"}});
    return;
  }
  for (size_t i = 0; i < docs.size(); ++i) {
    if (!docs[i] || docs[i].IsNull()) continue;  // empty document between "---" separators
    DecodeResult r = decodeResource(docs[i]);
    SourceRef ref{source, i, r.kind, r.ns, r.name};
    if (r.errors.empty()) {
      for (const auto& w : r.warnings)
        spdlog::warn("{} document {}: {} {}/{}: {}", source, i + 1, ref.kind, ref.ns, ref.name, w);
    }
    addDecoded(r, std::move(ref), out);
  }
}

void addDecoded(const DecodeResult& r, SourceRef ref, ConfigSnapshot& out) {
  if (!r.errors.empty() || !r.resource) {
    out.rejected.push_back({std::move(ref), r.errors});
    return;
  }
  if (!ref.name.empty() && !out.accepted_keys.insert(ref.kind + "/" + ref.ns + "/" + ref.name).second) {
    out.rejected.push_back(
        {ref, {"a " + ref.kind + " named " + ref.ns + "/" + ref.name + " was already defined earlier"}});
    return;
  }
  out.accepted.push_back(std::move(ref));
  store(out, Resource(*r.resource));
}

ConfigSnapshot loadConfigDir(const std::string& dir) {
  ConfigSnapshot out;
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file()) continue;
    auto ext = entry.path().extension().string();
    if (ext == ".yaml" || ext == ".yml" || ext == ".json") files.push_back(entry.path());
  }
  if (ec) {
    out.rejected.push_back({{dir, 0, "", "", ""}, {"cannot read the config directory: " + ec.message()}});
    return out;
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f);
    std::stringstream ss;
    ss << in.rdbuf();
    addDocuments(ss.str(), f.string(), out);
  }
  return out;
}

}  // namespace weft::control
