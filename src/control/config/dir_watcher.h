#pragma once
// Watches the config directory with inotify and calls `on_change` after changes settle:
// once no event arrived for `quiet`, or at the latest `max_delay` after the first one (a
// steady trickle of edits still gets pushed). Runs on its own thread.
#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

namespace weft::control {

class DirWatcher {
 public:
  DirWatcher(std::string dir, std::chrono::milliseconds quiet, std::chrono::milliseconds max_delay,
             std::function<void()> on_change);
  ~DirWatcher();
  void start();  // throws std::runtime_error if the directory cannot be watched

 private:
  void run();
  std::string dir_;
  std::chrono::milliseconds quiet_;
  std::chrono::milliseconds max_delay_;
  std::function<void()> on_change_;
  int inotify_fd_ = -1;
  int stop_fd_ = -1;
  std::thread thread_;
};

}  // namespace weft::control
