#pragma once
// Helpers shared by the unit tests: driving a Reactor through a scripted sequence of steps.
// A Reactor runs once (stop() is final), so a test that needs several phases on one loop
// lists them as steps: each step's `ready` is polled every millisecond from a timer on the
// loop, its `action` runs once it holds, and the loop stops after the last step or fails
// the test naming the step it was still waiting for when `timeout` passes.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/event/reactor.h"

namespace weft::testing {

struct Step {
  std::string name;
  std::function<bool()> ready;
  std::function<void()> action;
};

// A step that becomes ready `d` after it is first polled (i.e. after the previous step).
inline Step waitFor(event::Millis d) {
  auto start = std::make_shared<std::optional<event::Clock::time_point>>();
  return {"wait " + std::to_string(d.count()) + "ms",
          [start, d] {
            auto now = event::Clock::now();
            if (!*start) *start = now;
            return now - **start >= d;
          },
          nullptr};
}

// Returns true when every step completed.
inline bool runSteps(event::Reactor& reactor, std::vector<Step> steps, event::Millis timeout = event::Millis(5000)) {
  size_t next = 0;
  bool timed_out = false;
  std::function<void()> tick;
  event::Timer poll(reactor, [&] { tick(); });
  event::Timer deadline(reactor, [&] {
    timed_out = true;
    poll.disarm();
    reactor.stop();
  });
  tick = [&] {
    while (next < steps.size() && steps[next].ready()) {
      if (steps[next].action) steps[next].action();
      ++next;
    }
    if (next == steps.size()) {
      deadline.disarm();
      reactor.stop();
      return;
    }
    poll.arm(event::Millis(1));
  };
  reactor.updateTime();
  poll.arm(event::Millis(0));
  deadline.arm(timeout);
  reactor.run();
  if (timed_out) {
    ADD_FAILURE() << "timed out after " << timeout.count() << "ms waiting for step '"
                  << (next < steps.size() ? steps[next].name : std::string("?")) << "'";
  }
  return next == steps.size();
}

}  // namespace weft::testing
