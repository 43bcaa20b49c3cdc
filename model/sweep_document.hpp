#pragma once

// sweep.json (results/README.md, `sweep`): the run, its grid, environment, steps, points and
// aggregates. Written after every point, so a partial run is a valid document.
#include <optional>
#include <string>
#include <vector>

#include "model/environment.hpp"
#include "model/json_support.hpp"
#include "model/sweep_aggregate.hpp"
#include "model/sweep_config.hpp"
#include "model/sweep_json_helpers.hpp"
#include "model/sweep_point.hpp"

namespace muxbench {

enum class SweepStatus { running, completed, completed_with_failures, interrupted };
MUXBENCH_JSON_ENUM(SweepStatus, {{SweepStatus::running, "running"},
                                 {SweepStatus::completed, "completed"},
                                 {SweepStatus::completed_with_failures, "completed_with_failures"},
                                 {SweepStatus::interrupted, "interrupted"}})

enum class StepStatus { ok, skipped, failed, interrupted };
MUXBENCH_JSON_ENUM(StepStatus, {{StepStatus::ok, "ok"},
                                {StepStatus::skipped, "skipped"},
                                {StepStatus::failed, "failed"},
                                {StepStatus::interrupted, "interrupted"}})

// A step beside the points: wait-bench (`micro`) or the claims demonstrations (`claims`).
struct StepOutcome {
  StepStatus status = StepStatus::ok;
  std::optional<std::string> file;    // what it wrote, when ok
  std::optional<std::string> reason;  // why not, when failed
  // When `sweep --resume --redo` measured it again: the step is newer than the run's points.
  std::optional<std::string> redone_utc;
};

inline void to_json(nlohmann::json& j, const StepOutcome& s) {
  j = {{"status", s.status}};
  put_if_present(j, "file", s.file);
  put_if_present(j, "reason", s.reason);
  put_if_present(j, "redone_utc", s.redone_utc);
}

inline void from_json(const nlohmann::json& j, StepOutcome& s) {
  j.at("status").get_to(s.status);
  s.file = get_if_present<std::string>(j, "file");
  s.reason = get_if_present<std::string>(j, "reason");
  s.redone_utc = get_if_present<std::string>(j, "redone_utc");
}

struct SweepDocument {
  int schema_version = 1;
  std::string kind = "sweep";
  std::string run_id;
  std::string command;
  std::string started_utc;
  std::optional<std::string> finished_utc;  // absent until the run ends
  std::vector<std::string> resumed_utc;
  std::optional<SweepStatus> status;  // absent only before the first save
  SweepConfig config;
  Environment environment;
  std::optional<StepOutcome> micro;   // absent until wait-bench ran
  std::optional<StepOutcome> claims;  // absent until claims ran
  std::vector<PointRecord> points;
  std::vector<Aggregate> aggregates;

  static constexpr const char* kKind = "sweep";
};

inline void to_json(nlohmann::json& j, const SweepDocument& d) {
  j = {{"schema_version", d.schema_version},
       {"kind", d.kind},
       {"run_id", d.run_id},
       {"command", d.command},
       {"started_utc", d.started_utc},
       {"resumed_utc", d.resumed_utc},
       {"config", d.config},
       {"environment", d.environment},
       {"points", d.points},
       {"aggregates", d.aggregates}};
  put_if_present(j, "finished_utc", d.finished_utc);
  put_if_present(j, "status", d.status);
  put_if_present(j, "micro", d.micro);
  put_if_present(j, "claims", d.claims);
}

inline void from_json(const nlohmann::json& j, SweepDocument& d) {
  j.at("schema_version").get_to(d.schema_version);
  j.at("kind").get_to(d.kind);
  j.at("run_id").get_to(d.run_id);
  j.at("command").get_to(d.command);
  j.at("started_utc").get_to(d.started_utc);
  d.finished_utc = get_if_present<std::string>(j, "finished_utc");
  d.resumed_utc = j.value("resumed_utc", std::vector<std::string>{});
  d.status = get_if_present<SweepStatus>(j, "status");
  j.at("config").get_to(d.config);
  j.at("environment").get_to(d.environment);
  d.micro = get_if_present<StepOutcome>(j, "micro");
  d.claims = get_if_present<StepOutcome>(j, "claims");
  d.points = j.value("points", std::vector<PointRecord>{});
  // Points recorded before the map have the run's one workload.
  for (auto& p : d.points) {
    if (p.size == 0) {
      p.size = d.config.size;
      if (p.load == LoadMode::open && !p.rate) p.rate = d.config.rate;
    }
  }
  d.aggregates = j.value("aggregates", std::vector<Aggregate>{});
}

}  // namespace muxbench
