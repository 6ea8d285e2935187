#pragma once
// envoy.filters.http.grpc_stats: per-method gRPC stats under
// cluster.<route cluster>.grpc.<service>.<method>.{success,failure,total,request_message_count,
// response_message_count} for the methods individual_method_stats_allowlist names (or all, with
// stats_for_all_methods), and cluster.<cluster>.grpc.{request,response}_message_count for the
// others. The router already counts cluster.<cluster>.grpc.{success,failure,total,<status>}
// for every gRPC request, so those are not counted twice here.
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "common/stats/stats.h"
#include "proxy/http/grpc_frame_counter.h"
#include "proxy/http/filter.h"

namespace weft::proxy::http::grpc_stats {

#define WEFT_GRPC_METHOD_STATS(COUNTER, GAUGE) \
  COUNTER(success) COUNTER(failure) COUNTER(total) COUNTER(request_message_count) COUNTER(response_message_count)
WEFT_STATS_STRUCT(GrpcMethodStats, WEFT_GRPC_METHOD_STATS)

#define WEFT_GRPC_MESSAGE_STATS(COUNTER, GAUGE) COUNTER(request_message_count) COUNTER(response_message_count)
WEFT_STATS_STRUCT(GrpcMessageStats, WEFT_GRPC_MESSAGE_STATS)

struct GrpcStatsConfig {
  stats::Store* store = nullptr;
  bool all_methods = false;
  std::set<std::pair<std::string, std::string>> allowed;  // (service, method)
  bool replace_dots = false;                              // replace_dots_in_grpc_service_name
};

class GrpcStatsFilter final : public StreamFilterBase, public StreamDecoderFilter, public StreamEncoderFilter {
 public:
  explicit GrpcStatsFilter(const GrpcStatsConfig& config) : config_(config) {}

  void setDecoderFilterCallbacks(StreamDecoderFilterCallbacks& cb) override { dec_ = &cb; }
  void setEncoderFilterCallbacks(StreamEncoderFilterCallbacks&) override {}
  FilterStatus decodeHeaders(RequestHead& req, bool end_stream) override;
  FilterStatus decodeData(std::string_view data, bool end_stream) override;
  FilterStatus encodeHeaders(ResponseHead&, bool) override { return FilterStatus::Continue; }
  FilterStatus encodeData(std::string_view data, bool end_stream) override;
  void onStreamComplete() override;

 private:
  const GrpcStatsConfig& config_;
  StreamDecoderFilterCallbacks* dec_ = nullptr;
  bool active_ = false;  // a gRPC request routed to a cluster
  std::string prefix_;   // of its stats scope
  bool per_method_ = false;
  GrpcFrameCounter requests_;
  GrpcFrameCounter responses_;
};

}  // namespace weft::proxy::http::grpc_stats
