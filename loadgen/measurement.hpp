#pragma once

// From the workers' results to the report's measured sections, problems and status.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "loadgen/config.hpp"
#include "loadgen/histogram.hpp"
#include "loadgen/worker.hpp"
#include "model/loadgen_report.hpp"

namespace muxbench {

using Workers = std::vector<std::unique_ptr<Worker>>;

// The workers' results as one: histograms merged exactly, counters summed.
struct WorkerTotals {
  LatencyHistogram latency, lateness;
  WorkerResult sum;  // counters only; window_seconds: the longest
  double busiest_cpu_share = 0;
  double work_share = 0;
  bool worker_failed = false;
  std::vector<std::string> problems;
};

// Saturation is judged per CPU: worker threads pinned to one CPU share it, so their CPU time is
// summed (unpinned: per thread). Pinning and wait failures become problems.
WorkerTotals merge_workers(const LoadgenConfig& config, const Workers& workers);

// --hlog: the workers' per-second latency histograms, second by second merged exactly.
std::vector<LatencyHistogram> merge_intervals(const Workers& workers);

// The idle connections at the end: still open (nothing to read, or data waiting), and of those
// how many had data waiting (the server sent bytes nobody asked for).
struct IdleState {
  std::uint64_t alive = 0;
  std::uint64_t unexpected_data = 0;
};

// What the run knows once its workers stopped.
struct RunEnd {
  std::size_t threads = 0;
  IdleState idle;            // the idle connections at the end
  double process_cpu_s = 0;  // all threads, whole run
  bool interrupted = false;  // the window is shorter than asked
};

// The measured sections, the connections' end state, the problems and the status.
void record_results(LoadgenReport& report, const LoadgenConfig& config, const WorkerTotals& totals,
                    const RunEnd& end);

}  // namespace muxbench
