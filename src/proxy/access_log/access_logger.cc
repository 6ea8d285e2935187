#include "proxy/access_log/access_logger.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>

#include "common/config/error.h"
#include "common/stats/stats.h"
#include "envoy/extensions/access_loggers/file/v3/file.pb.h"
#include "envoy/extensions/access_loggers/stream/v3/stream.pb.h"

namespace weft::proxy::access_log {

Sink::Sink(int fd, bool owns_fd, uint32_t rows) : fd_(fd), owns_fd_(owns_fd), rows_(rows) {}

Sink::~Sink() {
  for (auto& r : rows_) {
    if (!r.pending.empty()) {
      ssize_t n = ::write(fd_, r.pending.data(), r.pending.size());
      (void)n;
    }
  }
  if (owns_fd_) ::close(fd_);
}

bool Sink::append(const std::string& line) {
  Row& r = rows_[stats::tls_row];
  bool was_empty = r.pending.empty();
  r.pending += line;
  return was_empty;
}

bool Sink::rowNeedsFlushNow() const { return rows_[stats::tls_row].pending.size() >= 64 * 1024; }

void Sink::flushRow() {
  Row& r = rows_[stats::tls_row];
  size_t off = 0;
  while (off < r.pending.size()) {
    ssize_t n = ::write(fd_, r.pending.data() + off, r.pending.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // a full disk must not stop traffic: the lines are dropped
    off += static_cast<size_t>(n);
  }
  r.pending.clear();
}

namespace {

// One Sink per path for the whole process, so two listeners logging to one file share it.
std::shared_ptr<Sink> fileSink(const std::string& file, const std::string& path, uint32_t rows) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<Sink>> sinks;
  std::lock_guard<std::mutex> lock(mu);
  if (auto existing = sinks[file].lock()) return existing;
  int fd;
  bool owns = true;
  if (file == "/dev/stdout") {
    fd = 1;
    owns = false;
  } else if (file == "/dev/stderr") {
    fd = 2;
    owns = false;
  } else {
    fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) throw ConfigError(path + ".path: cannot open '" + file + "' for writing: " + strerror(errno));
  }
  auto sink = std::make_shared<Sink>(fd, owns, rows);
  sinks[file] = sink;
  return sink;
}

}  // namespace

AccessLoggers compileAccessLogs(const google::protobuf::RepeatedPtrField<envoy::config::accesslog::v3::AccessLog>& logs,
                                const std::string& path, uint32_t rows, CaptureList& capture) {
  AccessLoggers out;
  for (int i = 0; i < logs.size(); ++i) {
    const auto& log = logs[i];
    std::string p = path + "[" + std::to_string(i) + "]";
    const auto& any = log.typed_config();
    const std::string lp = p + ".typed_config.log_format";
    std::string format = Formatter::defaultFormat();
    std::optional<SubstitutionFormat> log_format;
    std::shared_ptr<Sink> sink;
    if (any.Is<envoy::extensions::access_loggers::file::v3::FileAccessLog>()) {
      envoy::extensions::access_loggers::file::v3::FileAccessLog f;
      any.UnpackTo(&f);
      if (f.path().empty()) throw ConfigError(p + ".typed_config.path: must not be empty");
      if (!f.format().empty()) format = f.format();
      if (f.has_log_format()) log_format = SubstitutionFormat::compile(f.log_format(), lp, capture, format);
      sink = fileSink(f.path(), p + ".typed_config", rows);
    } else if (any.Is<envoy::extensions::access_loggers::stream::v3::StdoutAccessLog>()) {
      envoy::extensions::access_loggers::stream::v3::StdoutAccessLog f;
      any.UnpackTo(&f);
      if (f.has_log_format()) log_format = SubstitutionFormat::compile(f.log_format(), lp, capture, format);
      sink = fileSink("/dev/stdout", p, rows);
    } else if (any.Is<envoy::extensions::access_loggers::stream::v3::StderrAccessLog>()) {
      envoy::extensions::access_loggers::stream::v3::StderrAccessLog f;
      any.UnpackTo(&f);
      if (f.has_log_format()) log_format = SubstitutionFormat::compile(f.log_format(), lp, capture, format);
      sink = fileSink("/dev/stderr", p, rows);
    } else {
      throw ConfigError(p + ".typed_config: access logger type '" + any.type_url() +
                        "' is not supported by weft-proxy");
    }
    if (!log_format) log_format = SubstitutionFormat::text(format, p + ".typed_config.format", capture);
    std::shared_ptr<const LogFilter> filter;
    if (log.has_filter()) filter = compileLogFilter(log.filter(), p + ".filter", capture);
    out.push_back(std::make_shared<AccessLogger>(sink, std::move(*log_format), std::move(filter)));
  }
  return out;
}

}  // namespace weft::proxy::access_log
