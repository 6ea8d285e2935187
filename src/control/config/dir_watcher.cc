#include "control/config/dir_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace weft::control {

DirWatcher::DirWatcher(std::string dir, Debouncer& changes) : dir_(std::move(dir)), changes_(changes) {}

DirWatcher::~DirWatcher() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    ssize_t r = write(stop_fd_, &one, sizeof(one));
    (void)r;
    thread_.join();
  }
  if (inotify_fd_ >= 0) close(inotify_fd_);
  if (stop_fd_ >= 0) close(stop_fd_);
}

void DirWatcher::start() {
  inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  stop_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_MODIFY | IN_ATTRIB;
  if (inotify_fd_ < 0 || inotify_add_watch(inotify_fd_, dir_.c_str(), mask) < 0) {
    throw std::runtime_error("cannot watch config directory '" + dir_ + "': " + strerror(errno));
  }
  thread_ = std::thread([this] { run(); });
}

void DirWatcher::run() {
  char buf[8192];
  for (;;) {
    pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    int n = poll(fds, 2, -1);
    if (n < 0 && errno != EINTR) return;
    if (fds[1].revents) return;
    if (n > 0 && (fds[0].revents & POLLIN)) {
      while (read(inotify_fd_, buf, sizeof(buf)) > 0) {
      }
      changes_.notify();
    }
  }
}

}  // namespace weft::control
