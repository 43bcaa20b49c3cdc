// The echo contract, checked from outside for the servers muxbench ships but did not write the
// way echo-server is written: the Python tutorial servers (one per waiting mode) and libuv's.
// They have no stats protocol, so what the tests know comes from the sockets and from /proc.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "common/fd_limit.hpp"
#include "common/tcp_client.hpp"
#include "tests/support/echo_clients.hpp"
#include "tests/support/foreign_server_process.hpp"
#include "tests/support/random_echo_jobs.hpp"
#include "tests/support/usage.hpp"

namespace muxbench::testing {
namespace {

using namespace std::chrono_literals;

// Waits until `condition` holds or the timeout passes; returns whether it held.
template <class Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// The peer's view of a connection nobody wrote to: open (nothing to read), or closed by the server.
bool still_open(int fd) {
  char byte;
  const ssize_t n = ::recv(fd, &byte, 1, MSG_DONTWAIT | MSG_PEEK);
  return n < 0 && errno == EAGAIN;
}

class ForeignServerTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    server_ = foreign_server(GetParam());
    if (!server_.missing.empty()) GTEST_SKIP() << server_.missing;
    raise_fd_limit_to_hard();  // a thousand idle clients live in this process
  }
  void TearDown() override {
    for (const int fd : fds_) ::close(fd);
  }
  int connect(std::uint16_t port, int receive_buffer = 0) {
    fds_.push_back(connect_to(port, receive_buffer));
    return fds_.back();
  }
  void expect_clean_stop(ForeignServerProcess& process) {
    EXPECT_EQ(process.stop(), 0) << process.stderr_text();
    EXPECT_EQ(process.stderr_text().find("Traceback"), std::string::npos) << process.stderr_text();
  }

  ForeignServer server_;
  std::vector<int> fds_;
};

TEST_P(ForeignServerTest, TwoHundredConcurrentClientsWithRandomSizesGetEveryByteBack) {
  ForeignServerProcess process(server_.argv);
  auto jobs = random_size_echo_jobs(200, 3, [&] { return connect(process.port()); });
  const auto result = drive_echo(jobs, 120s);
  EXPECT_EQ(result.finished, jobs.size()) << result.first_error;
  EXPECT_TRUE(process.running());
  expect_clean_stop(process);
}

TEST_P(ForeignServerTest, AClientThatResetsIsClosedAndTheOthersKeepBeingServed) {
  ForeignServerProcess process(server_.argv);
  const int bystander = connect(process.port());
  ASSERT_EQ(round_trip(bystander, "before", 5s), "");
  const std::size_t baseline_fds = process.open_fds();

  const int resetter = connect(process.port(), 64 * 1024);
  for (std::size_t sent = 0; sent < (2u << 20);) {  // enough that the server owes it bytes
    const long n = Pattern::send(resetter, sent, (2u << 20) - sent);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  EXPECT_TRUE(eventually([&] { return process.open_fds() == baseline_fds + 1; }, 5s));
  std::this_thread::sleep_for(100ms);
  reset_and_close(resetter);
  std::erase(fds_, resetter);

  EXPECT_TRUE(eventually([&] { return process.open_fds() == baseline_fds; }, 5s))
      << "the reset connection was not closed: " << process.open_fds() << " fds, " << baseline_fds
      << " before it";
  EXPECT_EQ(round_trip(bystander, "after", 5s), "");
  expect_clean_stop(process);
}

TEST_P(ForeignServerTest, HalfCloseGetsTheRestOfItsEchoThenEndOfStream) {
  ForeignServerProcess process(server_.argv);
  const std::size_t baseline_fds = process.open_fds();
  std::vector<EchoJob> jobs(2);
  for (auto& job : jobs) job.fd = connect(process.port());
  jobs[0].messages = {1000, 3 << 20};  // the FIN follows 3 MiB at once: the server still owes most
  jobs[0].shutdown_after_last = true;
  jobs[1].messages = {300 * 1024};
  const auto result = drive_echo(jobs, 30s);
  EXPECT_EQ(result.failed, 0u) << result.first_error;  // EOF only after every byte

  // The half-closed connection is closed by the server; the other one stays.
  EXPECT_TRUE(eventually([&] { return process.open_fds() == baseline_fds + 1; }, 5s));
  EXPECT_EQ(round_trip(jobs[1].fd, "still here", 5s), "");
  expect_clean_stop(process);
}

TEST_P(ForeignServerTest, AThousandIdleConnectionsStayOpenWhileAnActiveOneIsServed) {
  ForeignServerProcess process(server_.argv);
  std::vector<int> idle;
  for (int i = 0; i < 1000; ++i) idle.push_back(connect(process.port()));
  std::vector<EchoJob> jobs(1);
  jobs[0].fd = connect(process.port());
  jobs[0].messages = {1, 64, 4096, 65536, 1 << 20, 64, 64, 64};
  const auto result = drive_echo(jobs, 30s);
  EXPECT_EQ(result.failed, 0u) << result.first_error;

  EXPECT_GE(process.open_fds(), 1001u);
  std::size_t open = 0;
  for (const int fd : idle) open += still_open(fd) ? 1 : 0;
  EXPECT_EQ(open, idle.size());
  for (std::size_t i = 0; i < idle.size(); i += 97) {  // and they still echo
    EXPECT_EQ(round_trip(idle[i], "awake", 5s), "") << "idle connection " << i;
  }
  expect_clean_stop(process);
}

// A client that sends 32 MiB without reading: once its receive buffer and the server's socket
// buffers are full, the server must stop reading it at --max-pending (1 MiB) instead of buffering
// whatever arrives. Loopback's socket buffers took about 9.5 MiB here before the client blocked;
// a server that keeps reading lets all 32 MiB through and holds the rest itself. Measured (RSS
// from /proc/PID/status, growth over the test): every server here grows by 1.0-1.5 MiB with the
// cap; with --max-pending 1 GiB instead, every one took all 32 MiB and grew by 24-28 MiB. So the
// bound, 8 MiB of growth (the cap plus room for the allocator and the interpreter's own churn),
// separates the two with margin on both sides; the 64 MiB absolute bound is the brief's sanity
// check (the interpreters start at about 21 MiB, libuv at 2 MiB), and the client being blocked
// before 32 MiB shows the server really stopped reading.
TEST_P(ForeignServerTest, ASlowReaderIsHeldAtTheCapWithBoundedMemory) {
  constexpr std::size_t kCap = 1 << 20;
  constexpr std::size_t kTotal = 32 << 20;
  auto argv = server_.argv;
  argv.insert(argv.end(), {"--max-pending", std::to_string(kCap)});
  ForeignServerProcess process(argv);
  const int warm = connect(process.port());
  ASSERT_EQ(round_trip(warm, std::string(100000, 'w'), 5s), "");  // read/echo paths allocated
  const std::uint64_t rss_before = process.rss_bytes();

  std::vector<EchoJob> jobs(1);
  jobs[0].fd = connect(process.port(), 64 * 1024);
  jobs[0].messages = {kTotal};
  // Send until the client has been blocked for half a second (or everything went through).
  auto blocked_since = std::chrono::steady_clock::now();
  const auto give_up = blocked_since + 20s;
  while (jobs[0].sent < kTotal && std::chrono::steady_clock::now() < give_up &&
         std::chrono::steady_clock::now() - blocked_since < 500ms) {
    const long sent = Pattern::send(jobs[0].fd, jobs[0].sent, kTotal - jobs[0].sent);
    ASSERT_GE(sent, 0);
    if (sent == 0) {
      std::this_thread::sleep_for(5ms);
    } else {
      jobs[0].sent += static_cast<std::size_t>(sent);
      blocked_since = std::chrono::steady_clock::now();
    }
  }
  const std::uint64_t rss_held = process.rss_bytes();
  RecordProperty("rss_before", std::to_string(rss_before));
  RecordProperty("rss_held", std::to_string(rss_held));
  RecordProperty("client_sent", std::to_string(jobs[0].sent));
  EXPECT_LT(jobs[0].sent, kTotal) << "the server kept reading a client that never reads";
  EXPECT_LT(rss_held, 64u << 20);
  EXPECT_LT(rss_held - std::min(rss_held, rss_before), 8u << 20)
      << "RSS " << rss_before << " -> " << rss_held << " bytes with " << jobs[0].sent
      << " bytes sent: the server buffered far more than the cap";

  const auto result = drive_echo(jobs, 60s);  // now read: every byte comes back, in order
  EXPECT_EQ(result.failed, 0u) << result.first_error;
  EXPECT_EQ(round_trip(warm, "still here", 5s), "");
  expect_clean_stop(process);
}

TEST_P(ForeignServerTest, SigintAlsoStopsItWithExitCodeZero) {
  ForeignServerProcess process(server_.argv);
  const int client = connect(process.port());
  ASSERT_EQ(round_trip(client, "bye", 5s), "");
  EXPECT_EQ(process.stop(SIGINT), 0) << process.stderr_text();
  EXPECT_EQ(process.stderr_text().find("Traceback"), std::string::npos) << process.stderr_text();
}

TEST_P(ForeignServerTest, AServerOnAGivenPortIsFoundReadyByConnecting) {
  // A free port: bind to 0, read it, release it (a race with other tests is unlikely, and would
  // fail loudly in the constructor rather than pass wrongly).
  const int probe = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof addr;
  ASSERT_EQ(::bind(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::getsockname(probe, reinterpret_cast<sockaddr*>(&addr), &length), 0);
  ::close(probe);
  const auto port = ntohs(addr.sin_port);

  ForeignServerProcess process(server_.argv, port);  // does not read the 'listening' line
  EXPECT_EQ(process.port(), port);
  const int client = connect(port);
  EXPECT_EQ(round_trip(client, "found", 5s), "");
  expect_clean_stop(process);
}

TEST_P(ForeignServerTest, BadUsageExitsTwoWithOneLine) {
  const auto& argv = server_.argv;
  const std::vector<std::string> args(argv.begin() + 1, argv.end());
  auto with = [&](std::vector<std::string> extra) {
    auto all = args;
    all.insert(all.end(), extra.begin(), extra.end());
    return all;
  };
  expect_usage_error(argv[0], with({"--port", "70000"}), "--port");
  expect_usage_error(argv[0], with({"--read-size", "0"}), "--read-size");
  expect_usage_error(argv[0], with({"--max-pending", "lots"}), "--max-pending");
  expect_usage_error(argv[0], with({"--bind", "localhost"}), "--bind");
  expect_usage_error(argv[0], with({"--cpu", "4096"}), "--cpu");
  expect_usage_error(argv[0], with({"--frobnicate"}), "frobnicate");
}

std::vector<std::string> server_names() {
  std::vector<std::string> names;
  for (const auto& server : foreign_servers()) names.push_back(server.name);
  return names;
}

std::string server_test_name(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

INSTANTIATE_TEST_SUITE_P(Shipped, ForeignServerTest, ::testing::ValuesIn(server_names()),
                         server_test_name);

// select.select cannot watch a descriptor >= FD_SETSIZE (1024): the Python select server must
// accept such connections and close them at once, and go on serving the first thousand.
TEST(ForeignPythonSelect, ConnectionsPastFdSetsizeAreRefusedAndTheFirstThousandStillEcho) {
  const auto server = foreign_server("python_select");
  if (!server.missing.empty()) GTEST_SKIP() << server.missing;
  if (raise_fd_limit_to_hard().soft < 1200) {
    GTEST_SKIP() << "needs 1100 client descriptors; RLIMIT_NOFILE is " << current_fd_limit().soft;
  }
  ForeignServerProcess process(server.argv);
  std::vector<int> fds;
  for (int i = 0; i < 1100; ++i) fds.push_back(connect_to(process.port()));

  std::size_t echoed = 0;
  std::size_t refused = 0;
  std::string other;
  for (const int fd : fds) {
    const auto outcome = round_trip(fd, "x", 5s);
    if (outcome.empty()) {
      ++echoed;
    } else if (outcome == "eof" || outcome == "reset") {
      ++refused;
    } else if (other.empty()) {
      other = outcome;
    }
  }
  for (const int fd : fds) ::close(fd);
  EXPECT_EQ(other, "");
  EXPECT_EQ(echoed + refused, fds.size());
  EXPECT_GE(echoed, 1000u);
  EXPECT_LE(echoed, 1021u);  // fds 0-2 are taken, and FD_SETSIZE is 1024
  EXPECT_TRUE(process.running());

  EXPECT_EQ(process.stop(), 0);
  const std::string err = process.stderr_text();
  EXPECT_EQ(err.find("Traceback"), std::string::npos) << err;
  const std::string note = "cannot be watched";
  EXPECT_NE(err.find(note), std::string::npos) << err;
  EXPECT_EQ(err.find(note), err.rfind(note)) << "the note is printed once\n" << err;
  EXPECT_NE(err.find("refused_fd_setsize " + std::to_string(refused) + ","), std::string::npos)
      << err;
}

// EMFILE on accept must neither spin nor stop the server: with 48 descriptors allowed and 100
// clients, the server serves what it can hold and refuses the rest (they see the close: a
// reserve descriptor lent to accept(), libuv's trick, which all these servers use), stays idle
// meanwhile, and serves new clients once descriptors are free again.
class ForeignFdLimitTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ForeignFdLimitTest, RunningOutOfDescriptorsNeitherSpinsNorStopsServing) {
  const auto server = foreign_server(GetParam());
  if (!server.missing.empty()) GTEST_SKIP() << server.missing;
  SpawnOptions options = ForeignServerProcess::default_options();
  options.fd_limit = 48;
  ForeignServerProcess process(server.argv, 0, options);
  std::vector<int> fds;
  for (int i = 0; i < 100; ++i) fds.push_back(connect_to(process.port()));
  std::this_thread::sleep_for(300ms);  // the server meets the limit

  const auto cpu_before = process.cpu_time();
  std::this_thread::sleep_for(1s);
  const auto cpu_used = process.cpu_time() - cpu_before;
  EXPECT_LT(cpu_used, 200ms) << "the server spins on EMFILE";

  std::size_t echoed = 0;
  for (const int fd : fds) {
    const auto outcome = round_trip(fd, "x", 5s);
    EXPECT_TRUE(outcome.empty() || outcome == "eof" || outcome == "reset") << outcome;
    echoed += outcome.empty() ? 1 : 0;
  }
  EXPECT_GE(echoed, 30u);
  EXPECT_LT(echoed, fds.size());
  for (const int fd : fds) ::close(fd);
  // Its descriptors come back as it sees the closes; then a new client is served.
  std::string outcome = "not tried";
  eventually(
      [&] {
        const int fresh = connect_to(process.port());
        outcome = round_trip(fresh, "again", 3s);
        ::close(fresh);
        return outcome.empty();
      },
      15s);
  EXPECT_EQ(outcome, "");
  EXPECT_EQ(process.stop(), 0) << process.stderr_text();
  const std::string err = process.stderr_text();
  EXPECT_EQ(err.find("Traceback"), std::string::npos) << err;
  // The Python server's summary counts EMFILE events: a few per burst, not one per failed accept.
  if (const auto at = err.find("fd_limit_hits "); at != std::string::npos) {
    EXPECT_LE(std::stoul(err.substr(at + 14)), 50u) << err;
  }
}

INSTANTIATE_TEST_SUITE_P(Shipped, ForeignFdLimitTest, ::testing::ValuesIn(server_names()),
                         server_test_name);

}  // namespace
}  // namespace muxbench::testing
