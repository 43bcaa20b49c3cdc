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

TEST(ServerParts, ReadingPausesAtTheConnectionCapAndPastTheBudgetForTheLargestHolders) {
  ServerConfig config;
  config.max_pending = 1000;
  config.max_total_pending = 10'000;
  ServerCounters counters{};
  counters.open_connections = 10;  // half an equal share of the budget: 500
  counters.pending_bytes = 10'000;
  EXPECT_EQ(read_gate(0, config, counters), ReadGate::kOpen);
  EXPECT_EQ(read_gate(999, config, counters), ReadGate::kOpen) << "within the budget";
  EXPECT_EQ(read_gate(1000, config, counters), ReadGate::kConnectionCap);
  counters.pending_bytes = 10'001;  // past the budget
  EXPECT_EQ(read_gate(0, config, counters), ReadGate::kOpen) << "owing nothing: always served";
  EXPECT_EQ(read_gate(499, config, counters), ReadGate::kOpen) << "below its share";
  EXPECT_EQ(read_gate(500, config, counters), ReadGate::kBudget);
  EXPECT_EQ(read_gate(1000, config, counters), ReadGate::kConnectionCap);
  counters.open_connections = 100'000;  // a share below one byte: only those owing nothing read
  EXPECT_EQ(read_gate(0, config, counters), ReadGate::kOpen);
  EXPECT_EQ(read_gate(1, config, counters), ReadGate::kBudget);

  count_pause(ReadGate::kBudget, counters);
  count_pause(ReadGate::kConnectionCap, counters);
  count_pause(ReadGate::kOpen, counters);
  EXPECT_EQ(counters.budget_pauses, 1u);
  EXPECT_EQ(counters.backpressure_pauses, 1u);
}

}  // namespace
}  // namespace muxbench
