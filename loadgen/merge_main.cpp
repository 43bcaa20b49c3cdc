// loadgen-merge: one result from the reports of several loadgen processes run at the same time.
#include <fmt/format.h>

#include <fstream>

#include "common/command_line.hpp"
#include "common/output_path.hpp"
#include "common/usage_error.hpp"
#include "loadgen/histogram.hpp"
#include "loadgen/merge.hpp"
#include "loadgen/report.hpp"

namespace {

using namespace muxbench;

struct Outputs {
  std::optional<OutputPath> json, csv, hdr;
  double hdr_unit_ratio = 1000.0;  // --hdr-unit: us 1e3, ms 1e6
};

// Writes each output; one that fails is said on stderr and does not stop the others.
bool write_outputs(const MergedReport& merged, const Outputs& outputs) {
  bool all = true;
  const auto write = [&](const std::optional<OutputPath>& output, const std::string& content) {
    if (!output) return;
    if (const auto error = output->write(content)) {
      fmt::print(stderr, "loadgen-merge: {}\n", *error);
      all = false;
    }
  };
  write(outputs.json, nlohmann::json(merged).dump(2) + "\n");
  write(outputs.csv, loadgen_csv_header() + loadgen_csv_row(merged));
  // No report had a histogram: an empty distribution, so that the file is still readable.
  if (outputs.hdr) {
    write(outputs.hdr, merged.histogram.value_or(LatencyHistogram{})
                           .percentile_distribution(outputs.hdr_unit_ratio));
  }
  return all;
}

std::optional<OutputPath> output(const CLI::App& app, const char* option, const std::string& path) {
  if (app.count(option) == 0) return std::nullopt;
  return OutputPath::checked(option, path);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Merges loadgen JSON reports from generators that loaded one server at the same "
      "time: histograms merged exactly, counters and throughput summed, each "
      "generator's environment kept. Refuses the same report twice and reports of different "
      "measurements (schema version, window length, size, mode, depth or rate differ; targets "
      "may differ) unless --force. Exit code: 0 ok, 1 a report's status was not ok (overloaded: "
      "0 with --allow-overload) or an output could not be written, 2 bad usage.",
      "loadgen-merge"};
  add_version_flag(app, "loadgen-merge");
  std::vector<std::string> inputs;
  std::string json_path, csv_path, hdr_path, hdr_unit = "us";
  bool quiet = false, force = false, allow_overload = false;
  app.add_option("reports", inputs, "loadgen --json reports")->required()->check(CLI::ExistingFile);
  app.add_option("--json", json_path, "write the merged report here ('-': stdout)");
  app.add_option("--csv", csv_path, "write one CSV row (loadgen's columns) here ('-': stdout)");
  app.add_option("--hdr", hdr_path,
                 "write the merged percentile distribution (HdrHistogram text, values in "
                 "--hdr-unit; '-': stdout)");
  app.add_option("--hdr-unit", hdr_unit, "unit of the --hdr text: us or ms, as loadgen's")
      ->check(CLI::IsMember({"us", "ms"}))
      ->capture_default_str();
  app.add_flag("--force", force,
               "merge reports that look like different measurements or the same one twice "
               "(each reason is kept in the merged report's problems)");
  app.add_flag("--allow-overload", allow_overload, "an overloaded merged status exits 0");
  app.add_flag("--quiet", quiet, "no summary");
  if (const auto exit_code = parse_command_line(app, argc, argv, "loadgen-merge"))
    return *exit_code;
  Outputs outputs;
  try {
    outputs.json = output(app, "--json", json_path);
    outputs.csv = output(app, "--csv", csv_path);
    outputs.hdr = output(app, "--hdr", hdr_path);
    outputs.hdr_unit_ratio = hdr_unit == "ms" ? 1e6 : 1e3;
    refuse_shared_outputs({{"--json", outputs.json ? std::optional(json_path) : std::nullopt},
                           {"--csv", outputs.csv ? std::optional(csv_path) : std::nullopt},
                           {"--hdr", outputs.hdr ? std::optional(hdr_path) : std::nullopt}});
  } catch (const UsageError& error) {
    fmt::print(stderr, "loadgen-merge: {}\n", error.what());
    return kExitUsage;
  }
  std::vector<MergeInput> read;
  for (const auto& path : inputs) {
    std::ifstream in(path);
    auto file = nlohmann::json::parse(in, nullptr, false);
    if (file.is_discarded()) {
      fmt::print(stderr, "loadgen-merge: {} is not JSON\n", path);
      return kExitUsage;
    }
    try {
      auto report = file.get<LoadgenReport>();
      read.push_back({path, std::move(file), std::move(report)});
    } catch (const std::exception& error) {
      fmt::print(stderr, "loadgen-merge: {}: {}\n", path, error.what());
      return kExitUsage;
    }
  }
  const auto conflicts = merge_conflicts(read);
  if (!conflicts.empty() && !force) {
    fmt::print(stderr, "loadgen-merge: {} (--force merges anyway)\n", conflicts.front());
    return kExitUsage;
  }
  std::vector<LoadgenReport> reports;
  for (const auto& input : read) reports.push_back(input.report);
  MergedReport merged = merge_reports(reports);
  for (const auto& conflict : conflicts)
    merged.problems.push_back("merged with --force: " + conflict);
  const bool written = write_outputs(merged, outputs);
  const bool stdout_taken = (outputs.json && outputs.json->is_stdout()) ||
                            (outputs.csv && outputs.csv->is_stdout()) ||
                            (outputs.hdr && outputs.hdr->is_stdout());
  if (!quiet) fmt::print(stdout_taken ? stderr : stdout, "{}", loadgen_summary_text(merged));
  const bool ok = merged.status == LoadgenStatus::ok ||
                  (merged.status == LoadgenStatus::overloaded && allow_overload);
  return ok && written ? 0 : 1;
}
