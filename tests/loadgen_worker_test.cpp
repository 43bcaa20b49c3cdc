// The loadgen worker's system calls fail loudly: a connection epoll cannot watch is an error
// with the call's name, never a worker that silently waits for nothing.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <system_error>
#include <thread>

#include "loadgen/worker.hpp"

namespace muxbench {
namespace {

TEST(LoadgenWorker, AConnectionEpollCannotWatchIsAnErrorNamingTheCall) {
  const int file_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);  // epoll_ctl: EPERM
  ASSERT_GE(file_fd, 0);
  WorkerPlan plan;
  plan.connections.push_back({file_fd, 0});
  plan.total_active = 1;
  try {
    Worker worker(std::move(plan));
    FAIL() << "a worker over /dev/null was made";
  } catch (const std::system_error& error) {
    EXPECT_NE(std::string(error.what()).find("epoll_ctl(ADD)"), std::string::npos) << error.what();
    EXPECT_EQ(error.code().value(), EPERM);
  }
  EXPECT_EQ(::fcntl(file_fd, F_GETFD), -1) << "the worker owned the descriptor and closed it";
}

TEST(LoadgenWorker, APeerThatHangsUpIsALostConnection) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair), 0);
  WorkerPlan plan;
  plan.connections.push_back({pair[0], 0});
  plan.total_active = 1;
  Worker worker(std::move(plan));
  ::close(pair[1]);
  const std::int64_t now = monotonic_ns();
  const Schedule schedule{now, now, now + 50'000'000, now + 100'000'000};
  const std::atomic<bool> stop{false};
  worker.run(schedule, stop);
  EXPECT_EQ(worker.result().lost_connections, 1u);
  EXPECT_EQ(worker.result().unanswered, 1u);
  EXPECT_FALSE(worker.result().error);
}

// A worker asked for a billion messages a second over one socket whose peer never reads (the
// peer's end is closed with the object).
struct OverloadedWorker {
  OverloadedWorker() : worker(plan()) {}
  ~OverloadedWorker() { ::close(peer); }
  WorkerPlan plan() {
    int pair[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair), 0);
    peer = pair[1];
    WorkerPlan p;
    p.connections.push_back({pair[0], 0});
    p.total_active = 1;
    p.rate = 1e9;
    return p;
  }
  int peer = -1;
  Worker worker;
};

// The worker sends what the socket takes, owes the rest as a count, counts every due send and
// ends on schedule.
TEST(LoadgenWorker, AnOpenLoopAgainstAFullSocketOwesACountAndEndsOnTime) {
  OverloadedWorker overloaded;
  const std::int64_t now = monotonic_ns();
  const Schedule schedule{now, now, now + 100'000'000, now + 150'000'000};
  const std::atomic<bool> stop{false};
  overloaded.worker.run(schedule, stop);
  EXPECT_LT(monotonic_ns() - now, 400'000'000) << "the drain deadline ends the run";
  const WorkerResult& r = overloaded.worker.result();
  EXPECT_GT(r.window_due, 90'000'000u);
  EXPECT_LT(r.messages_sent, 100'000u) << "only what the socket took (and the in-flight cap)";
  EXPECT_GE(r.window_late, r.window_due - r.messages_sent) << "every unsent one is late";
  EXPECT_EQ(r.send_lateness.count(), r.window_due) << "unsent ones are in the lateness histogram";
  EXPECT_GT(r.max_backlog, 1'000'000u);
}

TEST(LoadgenWorker, TheStopFlagEndsAnOverloadedOpenLoopWithinAHundredMilliseconds) {
  OverloadedWorker overloaded;
  const std::int64_t now = monotonic_ns();
  const Schedule schedule{now, now, now + 60'000'000'000, now + 61'000'000'000};
  std::atomic<bool> stop{false};
  std::int64_t stopped_at = 0;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    stopped_at = monotonic_ns();
    stop = true;
  });
  overloaded.worker.run(schedule, stop);
  const std::int64_t returned = monotonic_ns();
  stopper.join();
  EXPECT_LT(returned - stopped_at, 100'000'000);
}

}  // namespace
}  // namespace muxbench
