#pragma once
// weft-proxy's xDS client: one ADS stream (state of the world) to the control plane over
// grpc::StreamClient. Subscribes to CDS and LDS (wildcard) when the bootstrap names them
// (cds_config, lds_config), as Envoy does, then to the EDS and RDS names the accepted clusters
// and listeners need; ACKs what applied and NACKs with an error_detail that
// names each rejected resource. Resources that were valid in a NACKed response still apply.
#include <google/protobuf/any.pb.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/grpc/grpc_stream_client.h"
#include "common/xds/type_urls.h"
#include "envoy/config/core/v3/base.pb.h"

namespace weft::proxy::xds {

using weft::xds::kClusterType;
using weft::xds::kEndpointType;
using weft::xds::kListenerType;
using weft::xds::kRouteType;

class XdsApplier {
 public:
  virtual ~XdsApplier() = default;
  // Applies one response's resources of `type_url` (state of the world for LDS/CDS); returns
  // one error per rejected resource, each naming it.
  virtual std::vector<std::string> apply(const std::string& type_url,
                                         const std::vector<const google::protobuf::Any*>& resources,
                                         const std::string& version) = 0;
  // Names the accepted clusters / listeners need from EDS / RDS now.
  virtual std::vector<std::string> wantedNames(const std::string& type_url) const = 0;
};

struct AdsClientStatus {
  bool connected = false;
  std::string last_error;
  std::map<std::string, std::string> accepted_versions;
};

class AdsClient : public grpc::StreamClient::Callbacks {
 public:
  // `cds` / `lds`: the bootstrap's dynamic_resources has cds_config / lds_config.
  AdsClient(event::Reactor& reactor, const net::Address& server, envoy::config::core::v3::Node node,
            XdsApplier& applier, bool cds, bool lds);
  void start();
  const AdsClientStatus& status() const { return status_; }

  void onStreamReady() override;
  void onMessage(std::string_view bytes) override;
  void onStreamClosed(int grpc_status, const std::string& message) override;

 private:
  struct TypeState {
    std::vector<std::string> names;
    std::string accepted_version;
    std::string nonce;
    bool requested = false;
  };
  void request(const std::string& type, const std::string* error = nullptr);
  void updateSubscriptions();

  envoy::config::core::v3::Node node_;
  XdsApplier& applier_;
  bool cds_;
  bool lds_;
  grpc::StreamClient client_;
  bool node_sent_ = false;
  std::map<std::string, TypeState> types_;
  AdsClientStatus status_;
};

}  // namespace weft::proxy::xds
