#pragma once
// The TLS context a filter chain or a cluster hands to new connections. Static config fixes it
// once; SDS replaces it when a secret changes, so new handshakes use the new certificate while
// connections already open keep the context they started with (each holds its own reference).
// Empty until an SDS secret first arrives: the listener or cluster is warming.
#include <atomic>
#include <memory>

#include "common/tls/tls_context.h"

namespace weft::proxy::tls {

class ContextSource {
 public:
  ContextSource() = default;
  explicit ContextSource(std::shared_ptr<const weft::tls::Context> fixed) : ctx_(std::move(fixed)) {}

  // Read by workers at each handshake (not per request).
  std::shared_ptr<const weft::tls::Context> current() const { return ctx_.load(std::memory_order_acquire); }
  bool ready() const { return current() != nullptr; }
  // Main thread only.
  void set(std::shared_ptr<const weft::tls::Context> ctx) const {
    ctx_.store(std::move(ctx), std::memory_order_release);
  }

 private:
  mutable std::atomic<std::shared_ptr<const weft::tls::Context>> ctx_;
};

}  // namespace weft::proxy::tls
