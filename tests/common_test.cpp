// The small shared pieces every program relies on: durations, output paths, the run lock, the
// command-line validators.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "common/command_line.hpp"
#include "common/duration.hpp"
#include "common/output_path.hpp"
#include "common/run_lock.hpp"
#include "common/usage_error.hpp"

namespace muxbench {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class Files : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("muxbench-common-{}-{}", ::getpid(),
                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::add);
    fs::remove_all(dir_);
  }
  fs::path dir_;
};

TEST(Duration, ReadsEveryUnit) {
  EXPECT_EQ(parse_duration("5"), 5s);
  EXPECT_EQ(parse_duration("1.5s"), 1500ms);
  EXPECT_EQ(parse_duration("250us"), 250us);
  EXPECT_EQ(parse_duration("7ns"), 7ns);
  EXPECT_EQ(parse_duration("2m"), 120s);
  EXPECT_EQ(parse_duration("1h"), 3600s);
  EXPECT_EQ(parse_duration("0s"), 0s);
}

TEST(Duration, RefusesWhatIsNotADuration) {
  for (const char* text : {"", "s", "-1s", "nan", "NaNs", "inf", "1e400s", "0x10", "5 s", "5sec",
                           "1e10s", "10000h", "1.5.5s"}) {
    EXPECT_FALSE(parse_duration(text)) << text;
  }
}

TEST(Duration, OptionErrorsSayWhy) {
  try {
    duration_option("--duration", "1e10s", false);
    FAIL();
  } catch (const UsageError& error) {
    EXPECT_STREQ(error.what(), "--duration 1e10s: longer than a year: refused");
  }
  EXPECT_THROW(duration_option("--duration", "0s", false), UsageError);
  EXPECT_EQ(duration_option("--warmup", "0s", true), 0s);
}

TEST(Duration, FormatRoundTrips) {
  for (const std::chrono::nanoseconds d :
       {std::chrono::nanoseconds(1500ms), std::chrono::nanoseconds(250us),
        std::chrono::nanoseconds(7ns)}) {
    EXPECT_EQ(parse_duration(format_duration(d)), d);
  }
}

TEST(Validators, CountsAreDecimal) {
  const auto check = decimal_count();
  for (const char* good : {"0", "10", "19000"}) {
    std::string text = good;
    EXPECT_EQ(check(text), "") << good;
  }
  for (const char* bad : {"-1", "0x10", "1.5", "", " 1", "1e3", "010"}) {
    std::string text = bad;
    EXPECT_NE(check(text), "") << bad;
  }
}

TEST(Validators, NumbersAreFinite) {
  const auto check = finite_number();
  for (const char* good : {"1", "1e5", "0.25", "-3"}) {
    std::string text = good;
    EXPECT_EQ(check(text), "") << good;
  }
  for (const char* bad : {"nan", "NaN", "inf", "-inf", "abc", ""}) {
    std::string text = bad;
    EXPECT_NE(check(text), "") << bad;
  }
}

TEST_F(Files, OutputPathWritesAtomically) {
  const auto out = OutputPath::checked("--json", (dir_ / "a.json").string());
  EXPECT_FALSE(out.write("{}\n"));
  std::ifstream in(dir_ / "a.json");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "{}\n");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator{}), 1);
}

TEST_F(Files, OutputPathRefusesBadPlacesUpFront) {
  EXPECT_THROW(OutputPath::checked("--json", (dir_ / "missing" / "a.json").string()), UsageError);
  EXPECT_THROW(OutputPath::checked("--json", dir_.string()), UsageError);
  EXPECT_THROW(OutputPath::checked("--json", "/proc/version"), UsageError);
  EXPECT_THROW(OutputPath::checked("--json", ""), UsageError);
  EXPECT_TRUE(OutputPath::checked("--json", "-").is_stdout());
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator{}), 0);
}

TEST_F(Files, OutputPathReportsAFailedWrite) {
  const auto out = OutputPath::checked("--json", (dir_ / "a.json").string());
  fs::remove_all(dir_);  // the directory vanished during the run
  const auto error = out.write("{}");
  ASSERT_TRUE(error);
  EXPECT_NE(error->find("a.json"), std::string::npos) << *error;
  EXPECT_NE(error->find("No such file"), std::string::npos) << *error;
  fs::create_directories(dir_);
}

// Renaming a temporary file over /dev/null would replace the device for the whole machine (a test
// once did). A symlink to it stands in for the device here, so a regression cannot do that again.
TEST_F(Files, DevicesAreWrittenInPlaceNotReplaced) {
  const auto link = dir_ / "null";
  fs::create_symlink("/dev/null", link);
  const auto out = OutputPath::checked("--json", link.string());
  EXPECT_FALSE(out.write("{}\n"));
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_TRUE(fs::is_character_file(link));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator{}), 1);
}

TEST_F(Files, SharedOutputsAreRefused) {
  const std::string a = (dir_ / "a").string();
  EXPECT_THROW(refuse_shared_outputs({{"--json", a}, {"--csv", (dir_ / "." / "a").string()}}),
               UsageError);
  EXPECT_THROW(refuse_shared_outputs({{"--json", "-"}, {"--csv", "-"}}), UsageError);
  EXPECT_NO_THROW(refuse_shared_outputs({{"--json", a}, {"--csv", std::nullopt}, {"--hdr", "-"}}));
}

TEST_F(Files, OneLockPerDirectory) {
  auto first = DirectoryLock::try_acquire(dir_);
  ASSERT_TRUE(first);
  // flock locks belong to the open file description: a second open in this process conflicts
  // exactly as another process's would.
  EXPECT_FALSE(DirectoryLock::try_acquire(dir_));
  first.reset();
  EXPECT_TRUE(DirectoryLock::try_acquire(dir_));
}

}  // namespace
}  // namespace muxbench
