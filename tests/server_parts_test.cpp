// Pieces every backend shares: how an accept error and a connection error are classified.
#include <gtest/gtest.h>

#include <cerrno>

#include "servers/listener.hpp"
#include "servers/server_context.hpp"

namespace muxbench {
namespace {

TEST(ServerParts, AcceptErrorsAreClassifiedOnceForEveryBackend) {
  EXPECT_EQ(classify_accept_error(EAGAIN), AcceptOutcome::kDrained);
  EXPECT_EQ(classify_accept_error(EMFILE), AcceptOutcome::kFdLimit);
  EXPECT_EQ(classify_accept_error(ENFILE), AcceptOutcome::kFdLimit);
  EXPECT_EQ(classify_accept_error(ENOBUFS), AcceptOutcome::kBackOff);
  EXPECT_EQ(classify_accept_error(ENOMEM), AcceptOutcome::kBackOff);
  for (const int error : {ECONNABORTED, EPROTO, EINTR, ENETDOWN, EHOSTUNREACH}) {
    EXPECT_EQ(classify_accept_error(error), AcceptOutcome::kTransient) << error;
  }
  for (const int error : {EBADF, ENOTSOCK, EINVAL}) {
    EXPECT_EQ(classify_accept_error(error), AcceptOutcome::kFatal) << error;
  }
  EXPECT_EQ(classify_accept_error(EDOM), AcceptOutcome::kBackOff) << "unknown: never a tight loop";
  EXPECT_THROW(fail_on_listener(EBADF), std::system_error);
}

TEST(ServerParts, AResetOrVanishedPeerIsNotAnError) {
  ServerCounters counters{};
  EXPECT_EQ(&closes_after_error(counters, ECONNRESET), &counters.closes_reset);
  EXPECT_EQ(&closes_after_error(counters, EPIPE), &counters.closes_reset);
  EXPECT_EQ(&closes_after_error(counters, ETIMEDOUT), &counters.closes_error);
  EXPECT_EQ(&closes_after_error(counters, 0), &counters.closes_error);
}

}  // namespace
}  // namespace muxbench
