#pragma once
// The proxy's event loop: one per thread, edge-triggered epoll, a timer heap and a
// cross-thread task queue. Edge triggering means each socket tracks its own readiness
// (see net/socket.h) so the hot path never issues a read or write that must fail.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace weft::event {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Millis = std::chrono::milliseconds;

class Reactor;

class IoHandler {
 public:
  virtual ~IoHandler() = default;
  virtual void onIoEvent(uint32_t epoll_events) = 0;
};

// Objects whose destruction must wait until the current event batch is over, because
// another handler in the same batch may still hold a pointer to them.
class Deferrable {
 public:
  virtual ~Deferrable() = default;
};

class Timer {
 public:
  Timer(Reactor& reactor, std::function<void()> callback);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  void arm(Millis delay);
  void armAt(TimePoint deadline);
  void disarm();
  bool armed() const { return heap_index_ != kNotArmed; }
  TimePoint deadline() const { return deadline_; }

 private:
  friend class Reactor;
  static constexpr size_t kNotArmed = static_cast<size_t>(-1);
  Reactor& reactor_;
  std::function<void()> callback_;
  TimePoint deadline_{};
  size_t heap_index_ = kNotArmed;
};

// Something that batches its output: scheduled with Reactor::scheduleFlush, its onFlush()
// runs once after the current batch of events, so a connection that many streams wrote to
// in one batch makes one write syscall, not one per stream.
class Flushable {
 public:
  virtual ~Flushable();
  virtual void onFlush() = 0;

 private:
  friend class Reactor;
  Reactor* flush_reactor_ = nullptr;  // set while scheduled
};

class Reactor {
 public:
  Reactor();
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  // Registers fd once for IN|OUT|RDHUP, edge-triggered. The handler must outlive the
  // registration; remove() before close().
  void add(int fd, IoHandler* handler);
  void remove(int fd);

  void run();
  void stop();  // thread-safe
  // Runs fn on this reactor's thread. Thread-safe; not for the hot path.
  void post(std::function<void()> fn);
  // Runs fn after the current event batch, on this thread.
  void deferDelete(std::unique_ptr<Deferrable> object);
  // Called once per loop iteration after events and timers (e.g. to flush batched logs).
  void addIdleCallback(std::function<void()> fn) { idle_callbacks_.push_back(std::move(fn)); }

  // Runs f->onFlush() after the current event batch (once, however often it is scheduled).
  void scheduleFlush(Flushable* f) {
    if (f->flush_reactor_ != nullptr) return;
    f->flush_reactor_ = this;
    flushes_.push_back(f);
  }
  void cancelFlush(Flushable* f);
  void runFlushes();

  // Deletes deferred objects, including any their destructors defer in turn.
  void runDeferredDeletes();

  TimePoint now() const { return now_; }
  void updateTime() { now_ = Clock::now(); }

 private:
  friend class Timer;
  void heapInsert(Timer* t);
  void heapRemove(Timer* t);
  void siftUp(size_t i);
  void siftDown(size_t i);
  void runTimers();
  void runPosted();
  int nextTimeoutMs() const;

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  bool stopped_ = false;
  TimePoint now_;
  std::vector<Timer*> heap_;
  std::vector<std::unique_ptr<Deferrable>> deferred_;
  std::vector<Flushable*> flushes_;
  std::vector<std::function<void()>> idle_callbacks_;
  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;
  std::vector<std::function<void()>> running_;
};

}  // namespace weft::event
