#include "control/config/debouncer.h"

namespace weft::control {

Debouncer::Debouncer(std::chrono::milliseconds quiet, std::chrono::milliseconds max_delay, std::function<void()> fn)
    : quiet_(quiet), max_delay_(max_delay), fn_(std::move(fn)), thread_([this] { run(); }) {}

Debouncer::~Debouncer() { stop(); }

void Debouncer::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Debouncer::notify() {
  auto now = Clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!pending_) first_ = now;
    last_ = now;
    if (pending_) return;
    pending_ = true;
  }
  cv_.notify_all();
}

void Debouncer::run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return pending_ || stop_; });
    if (stop_) return;
    auto due = std::min(last_ + quiet_, first_ + max_delay_);
    if (Clock::now() < due) {
      cv_.wait_until(lock, due, [this] { return stop_; });
      continue;  // last_ may have moved on
    }
    pending_ = false;
    lock.unlock();
    fn_();
    lock.lock();
  }
}

}  // namespace weft::control
