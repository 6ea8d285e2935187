#pragma once
// envoy.access_loggers.file / stdout / stderr. Each worker appends lines to its own buffer
// and writes it out in batches (at most every 100 ms, or at 64 KiB), so a request never
// waits for the disk and there is no lock between workers. The file is opened O_APPEND, so
// whole batches from different workers never interleave within a line.
#include <google/protobuf/any.pb.h>
#include <google/protobuf/repeated_field.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "envoy/config/accesslog/v3/accesslog.pb.h"
#include "proxy/access_log/log_filter.h"
#include "proxy/access_log/substitution_format.h"

namespace weft::proxy::access_log {

class Sink {
 public:
  Sink(int fd, bool owns_fd, uint32_t rows);
  ~Sink();
  // Appends to the calling worker's buffer; returns true when it was empty before (the
  // caller schedules a flush).
  bool append(const std::string& line);
  void flushRow();  // the calling thread's row
  bool rowNeedsFlushNow() const;

 private:
  struct alignas(64) Row {
    std::string pending;
  };
  int fd_;
  bool owns_fd_;
  std::vector<Row> rows_;
};

class AccessLogger {
 public:
  AccessLogger(std::shared_ptr<Sink> sink, SubstitutionFormat formatter, std::shared_ptr<const LogFilter> filter)
      : sink_(std::move(sink)), formatter_(std::move(formatter)), filter_(std::move(filter)) {}
  const SubstitutionFormat& formatter() const { return formatter_; }
  // AccessLog.filter: whether this stream is logged (no filter: every stream).
  bool accepts(const StreamInfo& info) const { return filter_ == nullptr || filter_->accepts(info); }
  Sink& sink() const { return *sink_; }
  std::shared_ptr<Sink> sinkPtr() const { return sink_; }

 private:
  std::shared_ptr<Sink> sink_;
  SubstitutionFormat formatter_;
  std::shared_ptr<const LogFilter> filter_;
};

using AccessLoggers = std::vector<std::shared_ptr<const AccessLogger>>;

// Compiles `access_log` entries. Throws ConfigError naming `path`.
AccessLoggers compileAccessLogs(const google::protobuf::RepeatedPtrField<envoy::config::accesslog::v3::AccessLog>& logs,
                                const std::string& path, uint32_t rows, CaptureList& capture);

}  // namespace weft::proxy::access_log
