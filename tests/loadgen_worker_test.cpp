// The loadgen worker's system calls fail loudly: a connection epoll cannot watch is an error
// with the call's name, never a worker that silently waits for nothing.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <system_error>

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

}  // namespace
}  // namespace muxbench
