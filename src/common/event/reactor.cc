#include "common/event/reactor.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace weft::event {

Timer::Timer(Reactor& reactor, std::function<void()> callback) : reactor_(reactor), callback_(std::move(callback)) {}

Timer::~Timer() { disarm(); }

void Timer::arm(Millis delay) { armAt(reactor_.now() + delay); }

void Timer::armAt(TimePoint deadline) {
  disarm();
  deadline_ = deadline;
  reactor_.heapInsert(this);
}

void Timer::disarm() {
  if (armed()) reactor_.heapRemove(this);
}

namespace {
class WakeHandler : public IoHandler {
 public:
  void onIoEvent(uint32_t) override {}
};
WakeHandler wake_handler;
}  // namespace

Reactor::Reactor() : now_(Clock::now()) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) {
    throw std::runtime_error(std::string("reactor: cannot create epoll/eventfd: ") + strerror(errno));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;  // level-triggered: drained in runPosted()
  ev.data.ptr = &wake_handler;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
}

Reactor::~Reactor() {
  runDeferredDeletes();
  for (Timer* t : heap_) t->heap_index_ = Timer::kNotArmed;
  close(wake_fd_);
  close(epoll_fd_);
}

void Reactor::add(int fd, IoHandler* handler) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = handler;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    throw std::runtime_error(std::string("epoll_ctl add: ") + strerror(errno));
  }
}

void Reactor::remove(int fd) { epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr); }

void Reactor::stop() {
  post([this] { stopped_ = true; });
}

void Reactor::post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(posted_mutex_);
    posted_.push_back(std::move(fn));
  }
  uint64_t one = 1;
  ssize_t r = write(wake_fd_, &one, sizeof(one));
  (void)r;
}

void Reactor::deferDelete(std::unique_ptr<Deferrable> object) { deferred_.push_back(std::move(object)); }

int Reactor::nextTimeoutMs() const {
  if (!deferred_.empty()) return 0;
  if (heap_.empty()) return -1;
  auto delta = heap_.front()->deadline_ - Clock::now();
  if (delta <= Clock::duration::zero()) return 0;
  // Round up so a timer never fires a little early and re-arms a busy loop.
  return static_cast<int>(std::chrono::ceil<Millis>(delta).count());
}

void Reactor::run() {
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  while (!stopped_) {
    int n = epoll_wait(epoll_fd_, events, kMaxEvents, nextTimeoutMs());
    now_ = Clock::now();
    if (n < 0 && errno != EINTR) throw std::runtime_error(std::string("epoll_wait: ") + strerror(errno));
    bool woken = false;
    for (int i = 0; i < n; ++i) {
      auto* handler = static_cast<IoHandler*>(events[i].data.ptr);
      if (handler == &wake_handler) {
        woken = true;
        continue;
      }
      handler->onIoEvent(events[i].events);
    }
    runFlushes();
    runTimers();
    if (woken) runPosted();
    runFlushes();
    for (auto& fn : idle_callbacks_) fn();
    runDeferredDeletes();
  }
  runPosted();
  runDeferredDeletes();
}

Flushable::~Flushable() {
  if (flush_reactor_) flush_reactor_->cancelFlush(this);
}

void Reactor::cancelFlush(Flushable* f) {
  for (auto& p : flushes_) {
    if (p == f) p = nullptr;
  }
  f->flush_reactor_ = nullptr;
}

void Reactor::runFlushes() {
  // A flush may schedule others (a downstream flush feeding an upstream one): run to empty.
  for (size_t i = 0; i < flushes_.size(); ++i) {
    Flushable* f = flushes_[i];
    if (f == nullptr) continue;
    f->flush_reactor_ = nullptr;
    flushes_[i] = nullptr;
    f->onFlush();
  }
  flushes_.clear();
}

void Reactor::runDeferredDeletes() {
  while (!deferred_.empty()) {
    std::vector<std::unique_ptr<Deferrable>> batch;
    batch.swap(deferred_);
    batch.clear();
  }
}

void Reactor::runTimers() {
  while (!heap_.empty() && heap_.front()->deadline_ <= now_) {
    Timer* t = heap_.front();
    heapRemove(t);
    t->callback_();
  }
}

void Reactor::runPosted() {
  uint64_t value;
  ssize_t r = read(wake_fd_, &value, sizeof(value));
  (void)r;
  {
    std::lock_guard<std::mutex> lock(posted_mutex_);
    running_.swap(posted_);
  }
  for (auto& fn : running_) fn();
  running_.clear();
}

void Reactor::heapInsert(Timer* t) {
  t->heap_index_ = heap_.size();
  heap_.push_back(t);
  siftUp(t->heap_index_);
}

void Reactor::heapRemove(Timer* t) {
  size_t i = t->heap_index_;
  Timer* last = heap_.back();
  heap_.pop_back();
  t->heap_index_ = Timer::kNotArmed;
  if (last == t) return;
  heap_[i] = last;
  last->heap_index_ = i;
  siftUp(i);
  siftDown(last->heap_index_);
}

void Reactor::siftUp(size_t i) {
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (heap_[parent]->deadline_ <= heap_[i]->deadline_) break;
    std::swap(heap_[parent], heap_[i]);
    heap_[parent]->heap_index_ = parent;
    heap_[i]->heap_index_ = i;
    i = parent;
  }
}

void Reactor::siftDown(size_t i) {
  const size_t n = heap_.size();
  for (;;) {
    size_t smallest = i;
    size_t l = 2 * i + 1, r = l + 1;
    if (l < n && heap_[l]->deadline_ < heap_[smallest]->deadline_) smallest = l;
    if (r < n && heap_[r]->deadline_ < heap_[smallest]->deadline_) smallest = r;
    if (smallest == i) return;
    std::swap(heap_[smallest], heap_[i]);
    heap_[smallest]->heap_index_ = smallest;
    heap_[i]->heap_index_ = i;
    i = smallest;
  }
}

}  // namespace weft::event
