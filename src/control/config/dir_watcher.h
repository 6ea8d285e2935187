#pragma once
// Watches the config directory with inotify and tells `changes` (a Debouncer) of each change.
// Runs on its own thread.
#include <string>
#include <thread>

#include "control/config/debouncer.h"

namespace weft::control {

class DirWatcher {
 public:
  DirWatcher(std::string dir, Debouncer& changes);
  ~DirWatcher();
  void start();  // throws std::runtime_error if the directory cannot be watched

 private:
  void run();
  std::string dir_;
  Debouncer& changes_;
  int inotify_fd_ = -1;
  int stop_fd_ = -1;
  std::thread thread_;
};

}  // namespace weft::control
