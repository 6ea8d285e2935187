// DirWatcher and Debouncer: inotify on the config directory, changes debounced into one callback.
#include "control/config/dir_watcher.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "control/xds/ads_test_support.h"  // eventually()

namespace weft::control {
namespace {

using namespace std::chrono_literals;
using testing::eventually;

class DirWatcherTest : public ::testing::Test {
 protected:
  DirWatcherTest() {
    dir = std::filesystem::temp_directory_path() / ("weft_dirwatch_" + std::to_string(getpid()) + "_" +
                                                    ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  ~DirWatcherTest() override { std::filesystem::remove_all(dir); }
  void write(const std::string& name, const std::string& text) { std::ofstream(dir / name) << text; }

  std::filesystem::path dir;
  std::atomic<int> calls{0};
};

TEST_F(DirWatcherTest, BurstOfChangesGivesOneCallback) {
  Debouncer d(250ms, 10s, [this] { calls++; });
  DirWatcher w(dir.string(), d);
  w.start();
  for (int i = 0; i < 5; ++i) write("f" + std::to_string(i) + ".yaml", "a: 1\n");
  ASSERT_TRUE(eventually([&] { return calls.load() >= 1; }, 3000ms));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(calls.load(), 1);
  // Removing a file is a change too.
  std::filesystem::remove(dir / "f0.yaml");
  ASSERT_TRUE(eventually([&] { return calls.load() >= 2; }, 3000ms));
}

TEST_F(DirWatcherTest, SteadyTrickleStillCallsBackWithinMaxDelay) {
  Debouncer d(200ms, 300ms, [this] { calls++; });
  DirWatcher w(dir.string(), d);
  w.start();
  auto end = std::chrono::steady_clock::now() + 1500ms;
  while (std::chrono::steady_clock::now() < end) {
    write("trickle.yaml", "a: 1\n");
    std::this_thread::sleep_for(50ms);  // always sooner than the quiet period
  }
  EXPECT_GE(calls.load(), 2) << "no callback while changes kept arriving";
}

TEST_F(DirWatcherTest, NoChangesNoCallback) {
  Debouncer d(20ms, 100ms, [this] { calls++; });
  DirWatcher w(dir.string(), d);
  w.start();
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(calls.load(), 0);
}

TEST_F(DirWatcherTest, MissingDirectoryThrows) {
  Debouncer d(20ms, 100ms, [] {});
  DirWatcher w((dir / "missing").string(), d);
  EXPECT_THROW(w.start(), std::runtime_error);
}

TEST_F(DirWatcherTest, DestroyingAnUnstartedWatcherIsFine) {
  Debouncer d(20ms, 100ms, [] {});
  DirWatcher w(dir.string(), d);
}

}  // namespace
}  // namespace weft::control
