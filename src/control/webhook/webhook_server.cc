#include "control/webhook/webhook_server.h"

#include "control/webhook/injection_webhook.h"
#include "control/webhook/validation_webhook.h"

namespace weft::control::webhook {

std::unique_ptr<http::AdminServer> startWebhookServer(event::Reactor& reactor, const net::Address& address,
                                                      const std::string& chain_pem, const std::string& key_pem,
                                                      std::function<inject::InjectionConfig()> injection) {
  tls::ContextOptions o;
  o.server = true;
  o.certificates.push_back({{chain_pem, "webhook certificate chain", "weftd's webhook certificate"},
                            {key_pem, "webhook private key", "weftd's webhook key"}});
  o.path = "webhook";
  http::AdminServerOptions options;
  options.max_body = kMaxAdmissionReviewBytes;
  options.tls = tls::Context::create(o);
  auto server = std::make_unique<http::AdminServer>(reactor, address, std::move(options));
  auto answer = [](const WebhookReply& r) {
    return http::AdminResponse{r.status, r.status == 200 ? "application/json" : "text/plain; charset=UTF-8", r.body};
  };
  server->add("/validate", "Istio's validating admission webhook (AdmissionReview, POST)", true,
              [answer](const http::AdminRequest& req) { return answer(validateAdmissionReview(req.body)); });
  server->add("/inject", "Istio's sidecar injector (AdmissionReview for a Pod, POST)", true,
              [answer, injection](const http::AdminRequest& req) {
                return answer(injectAdmissionReview(req.body, injection()));
              });
  return server;
}

}  // namespace weft::control::webhook
