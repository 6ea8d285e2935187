#pragma once
// Runs weft-proxy as a child process (as the proxy uid, 1337, so capture rules let its own
// traffic through), restarts it with backoff when it dies and says why, and on shutdown drains
// it: inbound listeners first, then a SIGTERM after the drain duration.
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "common/event/reactor.h"

namespace weft::agent {

class ProxySupervisor : public event::IoHandler {
 public:
  struct Options {
    std::string proxy_bin;
    std::vector<std::string> args;  // after the binary
    int uid = -1;                   // -1: keep ours
    int gid = -1;
    int admin_port = 15000;
  };
  using Log = std::function<void(const std::string&)>;

  // SIGCHLD must be blocked in every thread before this is made (main() does it).
  ProxySupervisor(event::Reactor& reactor, Options options, Log log);
  ~ProxySupervisor() override;
  void start();
  // Drains, waits `drain`, stops the proxy; `done` runs once it exited.
  void shutdown(std::chrono::milliseconds drain, std::function<void()> done);

  void onIoEvent(uint32_t events) override;  // SIGCHLD via signalfd
  pid_t pid() const { return pid_; }
  int restarts() const { return restarts_; }
  bool running() const { return pid_ > 0; }

 private:
  void spawn();
  void onExit(int status);

  event::Reactor& reactor_;
  Options options_;
  Log log_;
  int signal_fd_ = -1;
  pid_t pid_ = -1;
  int restarts_ = 0;
  std::chrono::milliseconds backoff_{0};
  event::TimePoint started_at_{};
  event::Timer restart_timer_;
  event::Timer stop_timer_;
  bool stopping_ = false;
  std::function<void()> on_stopped_;
};

}  // namespace weft::agent
