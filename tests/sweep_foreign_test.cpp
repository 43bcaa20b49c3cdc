// Any echo server on the same curves: foreign servers given by template (or shipped) go through
// the sweep, measured from outside; templates that cannot serve are failures with their reasons.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "common/subprocess.hpp"
#include "tests/support/echo_server_process.hpp"

namespace muxbench::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kPythonServer = MUXBENCH_SOURCE_DIR "/servers/python/echo_server.py";

nlohmann::json run_sweep(const fs::path& out, std::vector<std::string> args,
                         std::chrono::seconds timeout, bool plots = false) {
  std::vector<std::string> argv = {MUXBENCH_SWEEP, "--out", out.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  // One short closed-loop point per backend unless the test says otherwise.
  for (const auto& [option, value] :
       std::vector<std::pair<std::string, std::string>>{{"--idle", "0"},
                                                        {"--series", "closed-split"},
                                                        {"--duration", "300ms"},
                                                        {"--warmup", "100ms"},
                                                        {"--micro-filter", "none"}}) {
    if (std::find(argv.begin(), argv.end(), option) == argv.end())
      argv.insert(argv.end(), {option, value});
  }
  if (!plots) argv.push_back("--no-plots");
  const auto result = run_command(argv, timeout);
  EXPECT_TRUE(result.exit_code == 0 || result.exit_code == 1) << result.err;
  std::ifstream in(out / "sweep.json");
  return nlohmann::json::parse(in, nullptr, false);
}

const nlohmann::json& point_of(const nlohmann::json& sweep, const std::string& backend) {
  for (const auto& p : sweep["points"]) {
    if (p["backend"] == backend) return p;
  }
  throw std::runtime_error("no point for " + backend);
}

TEST(SweepForeign, AServerGivenByTemplateIsMeasuredFromOutside) {
  if (!fs::exists("/usr/bin/python3")) GTEST_SKIP() << "/usr/bin/python3 is not installed";
  TempDir dir;
  const auto sweep = run_sweep(
      dir.path() / "run",
      {"--backends", "epoll-lt", "--server",
       "py=/usr/bin/python3 " + kPythonServer + " --mode epoll --port {port} --cpu {cpu}"},
      120s, /*plots=*/true);
  ASSERT_TRUE(sweep.is_object());
  const auto& foreign = point_of(sweep, "py");
  ASSERT_EQ(foreign["status"], "ok") << foreign.dump(1);
  EXPECT_GT(foreign["server"]["cpu_us_per_msg"].get<double>(), 0);
  EXPECT_TRUE(foreign["server"]["wait_calls"].is_null()) << "only our servers count waits";
  EXPECT_TRUE(foreign["server"]["events"].is_null());
  EXPECT_TRUE(foreign["server"]["open_connections"].is_null());
  EXPECT_GT(foreign["server_proc"]["rss_bytes"].get<double>(), 0);
  EXPECT_EQ(sweep["config"]["servers"][0]["name"], "py");
  for (const char* chart : {"cpu_per_message.svg", "throughput.svg", "index.html"}) {
    EXPECT_TRUE(fs::exists(dir.path() / "run" / chart)) << chart;
  }
}

// Any process under the template counts: a shell that runs the server without exec (as a forking
// server's workers would be) is measured with its child, and nothing it started outlives the point.
TEST(SweepForeign, AServerUnderAShellIsMeasuredWithItsChildrenAndStoppedWithThem) {
  if (!fs::exists("/usr/bin/python3")) GTEST_SKIP() << "/usr/bin/python3 is not installed";
  TempDir dir;
  const auto script = dir.path() / "tree_echo_server.py";  // its path marks the processes
  fs::create_symlink(kPythonServer, script);
  const auto sweep = run_sweep(
      dir.path() / "run",
      {"--backends", "tree", "--server",
       "tree=/bin/sh -c '/usr/bin/python3 " + script.string() + " --mode epoll --port {port}; :'"},
      120s);
  ASSERT_TRUE(sweep.is_object());
  const auto& p = point_of(sweep, "tree");
  ASSERT_EQ(p["status"], "ok") << p.dump(1);
  EXPECT_GE(p["server_proc"]["processes"].get<int>(), 2) << "the shell and the server";
  EXPECT_GT(p["server_proc"]["cpu_us_per_msg"].get<double>(), 1.0)
      << "the interpreter's CPU, not the idle shell's";
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::ifstream cmdline(entry.path() / "cmdline");
    const std::string text((std::istreambuf_iterator<char>(cmdline)),
                           std::istreambuf_iterator<char>());
    EXPECT_EQ(text.find(script.string()), std::string::npos) << "left running: " << entry.path();
  }
}

// Our own servers are measured both ways: their getrusage snapshots and /proc agree.
TEST(SweepForeign, ProcAndGetrusageAgreeForOurServers) {
  TempDir dir;
  const auto sweep =
      run_sweep(dir.path() / "run", {"--backends", "epoll-lt,poll", "--duration", "1s"}, 120s);
  for (const char* backend : {"epoll-lt", "poll"}) {
    const auto& p = point_of(sweep, backend);
    ASSERT_EQ(p["status"], "ok") << p.dump(1);
    const double inside = p["server"]["cpu_us"].get<double>();
    const double outside = p["server_proc"]["cpu_us"].get<double>();
    EXPECT_NEAR(outside / inside, 1.0, 0.05) << backend << ": " << outside << " vs " << inside;
  }
}

TEST(SweepForeign, TemplatesThatCannotServeFailWithTheirReasonsAndTheSweepGoesOn) {
  TempDir dir;
  const auto sweep =
      run_sweep(dir.path() / "run",
                {"--backends", "epoll-lt", "--server", "quits=sh -c 'echo gone >&2; exit 3' {port}",
                 "--server",
                 "wrongport=/usr/bin/python3 " + kPythonServer + " --mode epoll --port 0 # {port}",
                 "--server", "deaf=sleep 60 # {port}"},
                120s);
  ASSERT_TRUE(sweep.is_object());
  EXPECT_EQ(point_of(sweep, "epoll-lt")["status"], "ok");
  const auto reason = [&](const char* backend) {
    const auto& p = point_of(sweep, backend);
    EXPECT_EQ(p["status"], "failed") << p.dump(1);
    return p.value("reason", "");
  };
  EXPECT_NE(reason("quits").find("exited with code 3 before listening"), std::string::npos);
  EXPECT_NE(reason("quits").find("gone"), std::string::npos);
  EXPECT_NE(reason("wrongport").find("did not accept connections on port"), std::string::npos);
  EXPECT_NE(reason("deaf").find("did not accept connections on port"), std::string::npos);
}

TEST(SweepForeign, BadServerOptionsAreRefused) {
  for (const auto& [value, mentions] : std::vector<std::pair<std::string, std::string>>{
           {"noequals", "NAME=TEMPLATE"},
           {"poll=cat {port}", "echo-server's backends"},
           {"Bad Name=cat {port}", "a name is"},
           {"noport=cat", "{port}"}}) {
    const auto result = run_command({MUXBENCH_SWEEP, "--server", value, "--idle", "0"}, 30s);
    EXPECT_EQ(result.exit_code, 2) << value << ": " << result.err;
    EXPECT_NE(result.err.find(mentions), std::string::npos) << result.err;
  }
  const auto unknown = run_command({MUXBENCH_SWEEP, "--backends", "nginx", "--idle", "0"}, 30s);
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("--server nginx=TEMPLATE"), std::string::npos) << unknown.err;
}

// select.select raises ValueError past FD_SETSIZE: the Python select server refuses those
// connections, and the sweep records what it observed as unsupported, not as a failure.
TEST(SweepForeign, RefusalsByAForeignServerAreUnsupported) {
  if (!fs::exists("/usr/bin/python3")) GTEST_SKIP() << "/usr/bin/python3 is not installed";
  TempDir dir;
  const auto sweep =
      run_sweep(dir.path() / "run", {"--backends", "python-select", "--idle", "0,1100"}, 120s);
  ASSERT_TRUE(sweep.is_object());
  ASSERT_EQ(sweep["points"].size(), 2u);
  EXPECT_EQ(sweep["points"][0]["status"], "ok") << sweep["points"][0].dump(1);
  EXPECT_EQ(sweep["points"][1]["status"], "unsupported") << sweep["points"][1].dump(1);
  EXPECT_NE(sweep["points"][1]["reason"].get<std::string>().find("refused"), std::string::npos);
}

// Past FD_SETSIZE with the idle connections still below it, the server accepts the active ones and
// closes them: turned away as well, not a failure of the suite.
TEST(SweepForeign, ActiveConnectionsClosedByAForeignServerAreUnsupported) {
  if (!fs::exists("/usr/bin/python3")) GTEST_SKIP() << "/usr/bin/python3 is not installed";
  TempDir dir;
  const auto sweep =
      run_sweep(dir.path() / "run",
                {"--backends", "python-select", "--idle", "1000", "--active", "100"}, 120s);
  ASSERT_TRUE(sweep.is_object());
  ASSERT_EQ(sweep["points"].size(), 1u);
  const auto& point = sweep["points"][0];
  EXPECT_EQ(point["status"], "unsupported") << point.dump(1);
  EXPECT_NE(point["reason"].get<std::string>().find("active connections were lost"),
            std::string::npos)
      << point.dump(1);
}

}  // namespace
}  // namespace muxbench::testing
