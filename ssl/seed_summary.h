// A study run with several seeds (`ssl compare --repeats N`), summarised: one results.json whose every number
// is the mean over the seeds, with its sample standard deviation and the seeds' own values beside it.
//
// A single run's ranking can turn on a few points that a different random start moves (a random encoder's
// probe alone varies by several points with its seed), so the mean and the spread are what to compare.
//
// Each method's split then reads
//   {"top1": mean, "top1_std": s, "top1_runs": [per seed], "top5": ..., "top5_std": ..., "top5_runs": ...,
//    "data": spec}
// and the summary's top level gains "runs": the seeds' directories (each with its own results.json and
// report.html: curves, sample grids), relative to the summary's.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ssl {

struct MeanStd {
  double mean = 0, std = 0;  // std: sample standard deviation (n - 1); 0 for a single value
};
MeanStd mean_std(const std::vector<double>& values);

// The summary of `runs` (each a study's results.json, all of the same study and methods in the same order),
// whose directories relative to the summary's are `run_dirs`. A method whose probe read different layers
// in different seeds names them all ("pool1/pool2"). Throws when the runs do not list the same methods.
nlohmann::json summarise_over_seeds(const std::vector<nlohmann::json>& runs,
                                    const std::vector<std::string>& run_dirs);

}  // namespace ssl
