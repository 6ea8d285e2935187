// weft-proxy: an Envoy-compatible sidecar proxy. Usage mirrors Envoy's:
//   weft-proxy -c bootstrap.yaml [--concurrency N] [--mode serve|validate] [--drain-time-s S]
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "common/config/error.h"
#include "proxy/server/server.h"

int main(int argc, char** argv) {
  CLI::App app{"weft-proxy: Envoy-compatible proxy (static bootstrap)"};
  weft::proxy::server::Options opts;
  std::string mode = "serve";
  int drain_s = 600;
  app.add_option("-c,--config-path", opts.config_path, "Envoy v3 Bootstrap, YAML or JSON")->required();
  app.add_option("--concurrency", opts.concurrency, "worker threads (default: number of CPUs)");
  app.add_option("--mode", mode, "serve, or validate: check the config and exit")
      ->check(CLI::IsMember({"serve", "validate"}));
  app.add_option("--drain-time-s", drain_s, "at most this long to drain on SIGTERM")->check(CLI::NonNegativeNumber);
  app.add_option("-l,--log-level", opts.log_level, "trace, debug, info, warn, error, critical, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "warning", "error", "critical", "off"}));
  std::string ignored;
  app.add_option("--base-id,--service-cluster,--service-node", ignored, "accepted for Envoy compatibility; unused");
  CLI11_PARSE(app, argc, argv);
  opts.validate_only = mode == "validate";
  opts.drain_time = std::chrono::seconds(drain_s);
  if (opts.log_level == "warning") opts.log_level = "warn";
  spdlog::set_level(spdlog::level::from_str(opts.log_level));
  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S.%e][%l] %v");
  for (int i = 0; i < argc; ++i) opts.command_line.emplace_back(argv[i]);
  try {
    weft::proxy::server::Server server(opts);
    return server.run();
  } catch (const weft::ConfigError& e) {
    fprintf(stderr, "weft-proxy: invalid configuration: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    fprintf(stderr, "weft-proxy: cannot start: %s\n", e.what());
    return 1;
  }
}
