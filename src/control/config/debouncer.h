#pragma once
// Coalesces change notifications into calls of `fn` on its own thread: once no notification
// came for `quiet`, or at the latest `max_delay` after the first one (a steady trickle of
// changes still gets pushed), as istiod's debounce (PILOT_DEBOUNCE_AFTER, _MAX).
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace weft::control {

class Debouncer {
 public:
  Debouncer(std::chrono::milliseconds quiet, std::chrono::milliseconds max_delay, std::function<void()> fn);
  ~Debouncer();   // stop()
  void notify();  // any thread; cheap
  void stop();    // no call after it; waits for a running call to end

 private:
  void run();
  using Clock = std::chrono::steady_clock;
  std::chrono::milliseconds quiet_, max_delay_;
  std::function<void()> fn_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool pending_ = false, stop_ = false;
  Clock::time_point first_, last_;
  std::thread thread_;
};

}  // namespace weft::control
