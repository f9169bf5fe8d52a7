// open_dataset: turns a dataset spec from the command line into a Dataset.
//
// Accepted specs (more come with more formats):
//   synthetic                     the built-in shapes, train split (10,000 images)
//   synthetic:train | synthetic:test
//   synthetic:SPLIT:COUNT         a split with COUNT images, e.g. synthetic:train:500
#pragma once

#include <memory>
#include <string>

#include "data/dataset.h"

namespace ssl::data {

// Throws ssl::Error that lists the accepted forms when `spec` is not one of them.
std::unique_ptr<Dataset> open_dataset(const std::string& spec);

// One line per accepted form, for --help texts and error messages.
std::string dataset_spec_help();

}  // namespace ssl::data
