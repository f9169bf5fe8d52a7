// open_dataset: turns a dataset spec from the command line into a Dataset.
//
// Accepted specs (dataset_spec_help() prints the same list):
//   synthetic                     the built-in shapes, train split (10,000 images)
//   synthetic:train | synthetic:test
//   synthetic:transfer            the same shapes shifted (64 px, stronger lighting, a diamond): study a's
//                                 transfer set
//   synthetic:SPLIT:COUNT         a split with COUNT images (at most 100 million), e.g. synthetic:train:500
//   cifar10:DIR[:train|test]      CIFAR-10 binary version (data/cifar10.h); train by default
//   stl10:DIR[:train|test|unlabeled]   STL-10 binary version (data/stl10.h); train by default
//   folder:DIR[:SIZE][:skip-bad]  an image folder (data/image_folder.h), SIZE x SIZE (default --image-size,
//   else 32);
//                                 skip-bad leaves out files that do not decode, with a warning
//   SPEC@N[,seed=S][,rest]        a label budget on any labelled SPEC (data/subset.h): N images per class
//                                 drawn with seed S (default 0); ',rest' gives the other images, unlabelled
// Directories may not contain ':', and a directory's last component may not contain '@'.
//
// OpenOptions carry the command-line flags that apply to every spec (--image-size, --skip-bad-images,
// --labels-per-class), so a user need not repeat them inside each spec.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "data/dataset.h"

namespace ssl::data {

struct OpenOptions {
  int64_t image_size = 32;       // folder datasets: the output size when the spec gives none
  bool skip_bad_images = false;  // folder datasets: as the spec suffix ':skip-bad'
  int64_t labels_per_class = 0;  // > 0: a label budget, as the suffix '@N' (a spec may not have both)
  uint64_t label_seed = 0;       // the budget's seed, as ',seed=S'
};

// Throws ssl::Error that lists the accepted forms when `spec` is not one of them.
std::unique_ptr<Dataset> open_dataset(const std::string& spec, const OpenOptions& options = {});

// One line per accepted form, for --help texts and error messages.
std::string dataset_spec_help();

}  // namespace ssl::data
