// loadgen-merge: one result from the reports of several loadgen processes run at the same time.
#include <fmt/format.h>

#include <fstream>

#include "common/atomic_file.hpp"
#include "common/command_line.hpp"
#include "common/usage_error.hpp"
#include "loadgen/histogram.hpp"
#include "loadgen/merge.hpp"
#include "loadgen/report.hpp"

namespace {

using namespace muxbench;

void write_outputs(const MergedReport& merged, const std::string& json_path,
                   const std::string& csv_path, const std::string& hdr_path) {
  if (json_path == "-") {
    fmt::print("{}\n", nlohmann::json(merged).dump(2));
  } else if (!json_path.empty()) {
    write_file_atomically(json_path, nlohmann::json(merged).dump(2) + "\n");
  }
  if (!csv_path.empty())
    write_file_atomically(csv_path, loadgen_csv_header() + loadgen_csv_row(merged));
  if (!hdr_path.empty() && merged.histogram)
    write_file_atomically(hdr_path, merged.histogram->percentile_distribution());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Merges loadgen JSON reports from generators that loaded one server at the same "
      "time: histograms merged exactly, counters and throughput summed, each "
      "generator's environment kept. Exit code 1 when any report had errors.",
      "loadgen-merge"};
  std::vector<std::string> inputs;
  std::string json_path, csv_path, hdr_path;
  bool quiet = false;
  app.add_option("reports", inputs, "loadgen --json reports")->required()->check(CLI::ExistingFile);
  app.add_option("--json", json_path, "write the merged report here ('-': stdout)");
  app.add_option("--csv", csv_path, "write one CSV row (loadgen's columns) here");
  app.add_option("--hdr", hdr_path, "write the merged percentile distribution (HdrHistogram text)");
  app.add_flag("--quiet", quiet, "no summary");
  if (const auto exit_code = parse_command_line(app, argc, argv, "loadgen-merge"))
    return *exit_code;
  std::vector<nlohmann::json> files;
  for (const auto& path : inputs) {
    std::ifstream in(path);
    files.push_back(nlohmann::json::parse(in, nullptr, false));
    if (files.back().is_discarded()) {
      fmt::print(stderr, "loadgen-merge: {} is not JSON\n", path);
      return kExitUsage;
    }
  }
  try {
    std::vector<LoadgenReport> reports;
    for (const auto& file : files) reports.push_back(file.get<LoadgenReport>());
    const MergedReport merged = merge_reports(reports);
    write_outputs(merged, json_path, csv_path, hdr_path);
    if (!quiet && json_path != "-") fmt::print("{}", loadgen_summary_text(merged));
    return merged.status == LoadgenStatus::ok ? 0 : 1;
  } catch (const std::exception& error) {
    fmt::print(stderr, "loadgen-merge: {}\n", error.what());
    return kExitUsage;
  }
}
