#include "proxy/admin/stats_render.h"

#include <re2/re2.h>

#include <map>
#include <nlohmann/json.hpp>
#include <vector>

namespace weft::proxy::admin {

namespace {

bool keep(const stats::Store::Sample& s, const RE2* re, bool used_only) {
  if (used_only && s.value == 0) return false;
  return re == nullptr || RE2::PartialMatch(s.name, *re);
}

std::unique_ptr<RE2> compileFilter(const std::string& filter) {
  if (filter.empty()) return nullptr;
  auto re = std::make_unique<RE2>(filter, RE2::Quiet);
  return re->ok() ? std::move(re) : nullptr;
}

std::string sanitize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '_') ? c : '_';
  return out;
}

std::string escapeLabel(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

std::string renderStatsText(const stats::Store& store, const std::string& filter, bool used_only) {
  auto re = compileFilter(filter);
  std::string out;
  for (const auto& s : store.samples()) {
    if (!keep(s, re.get(), used_only)) continue;
    out += s.name;
    out += ": ";
    out += std::to_string(s.value);
    out += '\n';
  }
  return out;
}

std::string renderStatsJson(const stats::Store& store, const std::string& filter, bool used_only) {
  auto re = compileFilter(filter);
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& s : store.samples()) {
    if (!keep(s, re.get(), used_only)) continue;
    arr.push_back({{"name", s.name}, {"value", s.value}});
  }
  return nlohmann::json{{"stats", arr}}.dump(2) + "\n";
}

namespace {

std::string number(double v) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

// A labeled family (Istio's istio_* metrics): counters, or histograms as _bucket (cumulative,
// with le), _sum and _count. The TYPE line is the caller's: families of one name share it.
void renderFamily(const stats::Family& f, std::string& out) {
  auto totals = f.totals();
  bool histogram = f.type() == stats::Family::Type::Histogram;
  for (const auto& [key, t] : totals) {
    std::string labels;
    size_t at = 0;
    for (size_t i = 0; i < f.labels().size(); ++i) {
      size_t end = key.find(stats::Family::kSeparator, at);
      if (end == std::string::npos) end = key.size();
      labels += (i ? "," : "") + f.labels()[i] + "=\"" + escapeLabel(key.substr(at, end - at)) + "\"";
      at = end + 1;
    }
    if (!histogram) {
      out += f.name() + "{" + labels + "} " + std::to_string(t.count) + "\n";
      continue;
    }
    uint64_t cumulative = 0;
    for (size_t i = 0; i < f.buckets().size(); ++i) {
      cumulative += t.buckets[i];
      out += f.name() + "_bucket{" + labels + ",le=\"" + number(f.buckets()[i]) + "\"} " + std::to_string(cumulative) +
             "\n";
    }
    out += f.name() + "_bucket{" + labels + ",le=\"+Inf\"} " + std::to_string(t.count) + "\n";
    out += f.name() + "_sum{" + labels + "} " + number(t.sum) + "\n";
    out += f.name() + "_count{" + labels + "} " + std::to_string(t.count) + "\n";
  }
}

// Families by name (the store lists them sorted, one per label set), each name with one TYPE
// line, then its observations past the label-set cap as their own counter.
void renderFamilies(const stats::Store& store, std::string& out) {
  auto families = store.families();
  for (size_t i = 0; i < families.size();) {
    const std::string& name = families[i]->name();
    bool histogram = families[i]->type() == stats::Family::Type::Histogram;
    out += "# TYPE " + name + (histogram ? " histogram\n" : " counter\n");
    uint64_t overflow = 0;
    for (; i < families.size() && families[i]->name() == name; ++i) {
      renderFamily(*families[i], out);
      overflow += families[i]->overflow();
    }
    if (overflow != 0)
      out += "# TYPE weft_" + name + "_overflow_total counter\nweft_" + name + "_overflow_total " +
             std::to_string(overflow) + "\n";
  }
}

}  // namespace

std::string renderPrometheus(const stats::Store& store) {
  struct Family {
    stats::Kind kind;
    std::vector<std::pair<std::string, int64_t>> samples;  // rendered labels, value
  };
  std::map<std::string, Family> families;
  for (const auto& s : store.samples()) {
    std::string metric;
    std::vector<std::pair<std::string, std::string>> labels;
    if (s.scope != nullptr) {
      // The prefix without its tag values: cluster.<name>.outlier_detection. gives
      // envoy_cluster_outlier_detection_<stat>{envoy_cluster_name="<name>"}.
      std::string category = s.scope->prefix();
      for (const auto& [tag, value] : s.scope->tags()) {
        auto at = category.find("." + value + ".");
        if (!value.empty() && at != std::string::npos) category.erase(at, value.size() + 1);
      }
      if (!category.empty() && category.back() == '.') category.pop_back();
      std::string stat = s.stat;
      // Envoy's response-code-class tag: downstream_rq_2xx -> downstream_rq_xx{class="2"}.
      if (stat.size() >= 4 && stat.substr(stat.size() - 2) == "xx" &&
          std::isdigit(static_cast<unsigned char>(stat[stat.size() - 3])) && stat[stat.size() - 4] == '_') {
        labels.emplace_back("envoy_response_code_class", std::string(1, stat[stat.size() - 3]));
        stat = stat.substr(0, stat.size() - 3) + "xx";
      }
      metric = "envoy_" + sanitize(category) + "_" + sanitize(stat);
      for (const auto& t : s.scope->tags()) labels.push_back(t);
    } else {
      metric = "envoy_" + sanitize(s.name);
    }
    std::string rendered;
    for (const auto& [k, v] : labels) {
      rendered += rendered.empty() ? "{" : ",";
      rendered += k + "=\"" + escapeLabel(v) + "\"";
    }
    if (!rendered.empty()) rendered += "}";
    auto& fam = families[metric];
    fam.kind = s.kind;
    fam.samples.emplace_back(rendered, s.value);
  }
  std::string out;
  for (const auto& [name, fam] : families) {
    out += "# TYPE " + name + (fam.kind == stats::Kind::Counter ? " counter\n" : " gauge\n");
    for (const auto& [labels, value] : fam.samples) out += name + labels + " " + std::to_string(value) + "\n";
  }
  renderFamilies(store, out);
  return out;
}

}  // namespace weft::proxy::admin
