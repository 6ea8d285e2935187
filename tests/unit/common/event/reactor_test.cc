#include "common/event/reactor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace weft::event {
namespace {

using namespace std::chrono_literals;

// Stops the loop after `limit` so a broken reactor fails the test instead of hanging it.
class Watchdog {
 public:
  Watchdog(Reactor& r, Millis limit)
      : timer_(r, [this, &r] {
          fired_ = true;
          r.stop();
        }) {
    timer_.arm(limit);
  }
  bool fired() const { return fired_; }
  void disarm() { timer_.disarm(); }

 private:
  Timer timer_;
  bool fired_ = false;
};

TEST(ReactorTest, TimersFireInDeadlineOrder) {
  Reactor r;
  std::vector<int> fired;
  const std::vector<int> offsets = {35, 5, 20, 0, 15, 30, 10, 25};
  std::vector<std::unique_ptr<Timer>> timers;
  TimePoint base = r.now();
  for (int off : offsets) {
    timers.push_back(std::make_unique<Timer>(r, [&, off] {
      fired.push_back(off);
      if (off == 35) r.stop();
    }));
    timers.back()->armAt(base + Millis(off));
    EXPECT_TRUE(timers.back()->armed());
    EXPECT_EQ(timers.back()->deadline(), base + Millis(off));
  }
  Watchdog dog(r, 5000ms);
  r.run();
  EXPECT_FALSE(dog.fired());
  EXPECT_EQ(fired, (std::vector<int>{0, 5, 10, 15, 20, 25, 30, 35}));
  for (auto& t : timers) EXPECT_FALSE(t->armed());
}

TEST(ReactorTest, TimerNeverFiresEarly) {
  Reactor r;
  TimePoint fired_at{};
  TimePoint armed_at = Clock::now();
  Timer t(r, [&] {
    fired_at = Clock::now();
    r.stop();
  });
  r.updateTime();
  armed_at = r.now();
  t.arm(30ms);
  Watchdog dog(r, 5000ms);
  r.run();
  ASSERT_FALSE(dog.fired());
  EXPECT_GE(fired_at - armed_at, 30ms);
}

TEST(ReactorTest, DisarmedTimerDoesNotFire) {
  Reactor r;
  std::vector<std::string> fired;
  Timer a(r, [&] { fired.push_back("a"); });
  Timer b(r, [&] { fired.push_back("b"); });
  Timer c(r, [&] {
    fired.push_back("c");
    r.stop();
  });
  a.arm(5ms);
  b.arm(10ms);
  c.arm(20ms);
  b.disarm();
  EXPECT_FALSE(b.armed());
  b.disarm();  // twice is harmless
  Watchdog dog(r, 5000ms);
  r.run();
  EXPECT_EQ(fired, (std::vector<std::string>{"a", "c"}));
}

TEST(ReactorTest, ReArmMovesTheDeadline) {
  Reactor r;
  int count = 0;
  Timer t(r, [&] { ++count; });
  Timer end(r, [&] { r.stop(); });
  t.arm(10000ms);
  TimePoint first = t.deadline();
  t.arm(5ms);  // replaces, does not add
  EXPECT_LT(t.deadline(), first);
  end.arm(100ms);  // long before the first deadline: firing at all proves it moved
  r.run();
  EXPECT_EQ(count, 1);
  EXPECT_FALSE(t.armed());
}

TEST(ReactorTest, TimerCanReArmItself) {
  Reactor r;
  int count = 0;
  std::unique_ptr<Timer> t;
  t = std::make_unique<Timer>(r, [&] {
    if (++count < 3) {
      t->arm(1ms);
    } else {
      r.stop();
    }
  });
  t->arm(1ms);
  Watchdog dog(r, 5000ms);
  r.run();
  EXPECT_FALSE(dog.fired());
  EXPECT_EQ(count, 3);
}

TEST(ReactorTest, TimerDisarmedByAnExpiredTimerInTheSameBatchDoesNotFire) {
  Reactor r;
  std::vector<std::string> fired;
  Timer second(r, [&] { fired.push_back("second"); });
  Timer first(r, [&] {
    fired.push_back("first");
    second.disarm();
  });
  Timer end(r, [&] { r.stop(); });
  TimePoint base = r.now();
  first.armAt(base + 5ms);
  second.armAt(base + 6ms);
  end.armAt(base + 50ms);
  // Let both deadlines pass before the loop looks at the heap, so they expire together.
  std::this_thread::sleep_for(20ms);
  r.run();
  EXPECT_EQ(fired, (std::vector<std::string>{"first"}));
}

TEST(ReactorTest, ManyTimersWithRandomDisarmsKeepHeapOrder) {
  Reactor r;
  std::mt19937 rng(12345);
  constexpr int kTimers = 300;
  std::vector<int> fired;
  std::vector<std::unique_ptr<Timer>> timers;
  std::vector<int> offset(kTimers);
  TimePoint base = r.now();
  for (int i = 0; i < kTimers; ++i) {
    offset[i] = static_cast<int>(rng() % 40);
    timers.push_back(std::make_unique<Timer>(r, [&fired, i] { fired.push_back(i); }));
    timers.back()->armAt(base + Millis(offset[i]) + std::chrono::microseconds(i));
  }
  std::vector<bool> disarmed(kTimers, false);
  for (int i = 0; i < kTimers; i += 3) {
    int victim = static_cast<int>(rng() % kTimers);
    timers[victim]->disarm();
    disarmed[victim] = true;
  }
  // Re-arm some disarmed ones: they count again.
  for (int i = 0; i < kTimers; ++i) {
    if (disarmed[i] && i % 2 == 0) {
      timers[i]->armAt(base + Millis(offset[i]) + std::chrono::microseconds(i));
      disarmed[i] = false;
    }
  }
  Timer end(r, [&] { r.stop(); });
  end.armAt(base + 80ms);
  r.run();

  std::vector<int> expected;
  for (int i = 0; i < kTimers; ++i) {
    if (!disarmed[i]) expected.push_back(i);
  }
  std::sort(expected.begin(), expected.end(), [&](int a, int b) {
    return Millis(offset[a]) + std::chrono::microseconds(a) < Millis(offset[b]) + std::chrono::microseconds(b);
  });
  EXPECT_EQ(fired, expected);
}

TEST(ReactorTest, TimerDestroyedWhileArmedIsRemoved) {
  Reactor r;
  bool fired = false;
  {
    Timer t(r, [&] { fired = true; });
    t.arm(1ms);
  }
  Timer end(r, [&] { r.stop(); });
  end.arm(20ms);
  r.run();
  EXPECT_FALSE(fired);
}

TEST(ReactorTest, PostFromAnotherThreadRunsOnTheLoopThreadInOrder) {
  Reactor r;
  const auto loop_thread = std::this_thread::get_id();
  std::vector<int> order;
  std::vector<std::thread::id> threads;
  std::thread poster([&] {
    std::this_thread::sleep_for(10ms);  // the loop is blocked in epoll_wait by now
    for (int i = 0; i < 100; ++i) {
      r.post([&, i] {
        order.push_back(i);
        threads.push_back(std::this_thread::get_id());
        if (i == 99) r.stop();
      });
    }
  });
  Watchdog dog(r, 5000ms);
  r.run();
  poster.join();
  EXPECT_FALSE(dog.fired());
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
  for (auto id : threads) EXPECT_EQ(id, loop_thread);
}

TEST(ReactorTest, StopFromAnotherThreadEndsRun) {
  Reactor r;
  std::thread stopper([&] {
    std::this_thread::sleep_for(20ms);
    r.stop();
  });
  Watchdog dog(r, 5000ms);
  auto start = Clock::now();
  r.run();
  stopper.join();
  EXPECT_FALSE(dog.fired());
  EXPECT_LT(Clock::now() - start, 2000ms);
}

TEST(ReactorTest, StopBeforeRunReturnsPromptly) {
  Reactor r;
  r.stop();
  Watchdog dog(r, 5000ms);
  r.run();
  EXPECT_FALSE(dog.fired());
}

TEST(ReactorTest, PostedTasksStillRunWhenStopped) {
  Reactor r;
  bool ran = false;
  r.stop();
  r.post([&] { ran = true; });
  r.run();
  EXPECT_TRUE(ran);
}

struct Tracked : Deferrable {
  Tracked(std::vector<std::string>& log, std::string name) : log(log), name(std::move(name)) {}
  ~Tracked() override { log.push_back("deleted " + name); }
  std::vector<std::string>& log;
  std::string name;
};

TEST(ReactorTest, DeferDeleteRunsAfterTheBatch) {
  Reactor r;
  std::vector<std::string> log;
  r.post([&] {
    log.push_back("first");
    r.deferDelete(std::make_unique<Tracked>(log, "x"));
    log.push_back("first done");
  });
  r.post([&] {
    log.push_back("second");  // same batch: x must still be alive
  });
  Timer end(r, [&] {
    log.push_back("timer");
    r.stop();
  });
  end.arm(20ms);
  r.run();
  EXPECT_EQ(log, (std::vector<std::string>{"first", "first done", "second", "deleted x", "timer"}));
}

struct Chained : Deferrable {
  Chained(Reactor& r, std::vector<std::string>& log, int depth) : r(r), log(log), depth(depth) {}
  ~Chained() override {
    log.push_back("deleted " + std::to_string(depth));
    if (depth > 0) r.deferDelete(std::make_unique<Chained>(r, log, depth - 1));
  }
  Reactor& r;
  std::vector<std::string>& log;
  int depth;
};

TEST(ReactorTest, RunDeferredDeletesFollowsObjectsDeferredByDestructors) {
  Reactor r;
  std::vector<std::string> log;
  r.deferDelete(std::make_unique<Chained>(r, log, 2));
  EXPECT_TRUE(log.empty());
  r.runDeferredDeletes();
  EXPECT_EQ(log, (std::vector<std::string>{"deleted 2", "deleted 1", "deleted 0"}));
}

TEST(ReactorTest, DestructorDeletesDeferredObjects) {
  std::vector<std::string> log;
  {
    Reactor r;
    r.deferDelete(std::make_unique<Tracked>(log, "y"));
  }
  EXPECT_EQ(log, (std::vector<std::string>{"deleted y"}));
}

TEST(ReactorTest, IdleCallbacksRunEveryIteration) {
  Reactor r;
  int idle = 0;
  int ticks = 0;
  r.addIdleCallback([&] { ++idle; });
  std::unique_ptr<Timer> t;
  t = std::make_unique<Timer>(r, [&] {
    if (++ticks == 3) {
      r.stop();
    } else {
      t->arm(1ms);
    }
  });
  t->arm(1ms);
  Watchdog dog(r, 5000ms);
  r.run();
  EXPECT_GE(idle, 3);
}

TEST(ReactorTest, NowAdvancesWithTheLoop) {
  Reactor r;
  TimePoint before = r.now();
  TimePoint seen{};
  Timer t(r, [&] {
    seen = r.now();
    r.stop();
  });
  t.arm(10ms);
  r.run();
  EXPECT_GE(seen - before, 10ms);
}

}  // namespace
}  // namespace weft::event
