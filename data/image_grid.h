// Looking at a dataset: a labelled contact sheet of images (for `ssl data show`), per-channel statistics
// (for `ssl data stats` and for choosing normalisation means), and writing an Image as a PNG.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/image.h"

namespace ssl::data {

struct ImageGridOptions {
  int64_t columns = 0;  // tiles per row; 0 = ceil(sqrt(count))
  int64_t scale = 1;    // each image pixel becomes scale x scale pixels (nearest neighbour); the digits too
  int64_t padding = 2;  // background pixels around and between the cells
  bool label_strips = true;  // false: no strip under the tiles (for images without labels: generated ones)
};

// Height in pixels of the label strip under each tile: a 5-pixel-high digit font at `scale`, plus 1 pixel
// (times scale) above and below.
int64_t label_strip_height(int64_t scale);

// The colour of class `label` in the strips (a fixed palette of 10, repeating; grey for -1, unlabelled).
std::array<uint8_t, 3> label_colour(int64_t label);

// A 3-channel contact sheet: images left to right, top to bottom, each in a cell of (max h) x (max w) of
// all images times scale, and under each a strip in the class colour with the class index written in a
// built-in 3x5 digit font ('-' for unlabelled). 1-channel images are shown grey; others need 3 channels.
// `labels` is empty (every strip then shows '-') or has one entry per image. Dimensions:
//   width  = columns * cell_w + (columns + 1) * padding                  cell_w = scale * (max w)
//   height = rows * (cell_h + strip) + (rows + 1) * padding             cell_h = scale * (max h)
// where strip = label_strip_height(scale), or 0 without label_strips.
Image make_image_grid(const std::vector<Image>& images, const std::vector<int64_t>& labels,
                      const ImageGridOptions& options = {});

// Writes a 1-, 3- or 4-channel image as a PNG; throws ssl::Error naming the path when it cannot.
void write_png(const std::string& path, const Image& image);

struct DatasetStats {
  int64_t count = 0;  // images looked at
  int64_t channels = 0;
  int64_t unlabelled = 0;             // images with label -1
  std::vector<int64_t> class_counts;  // num_classes() entries: images per class
  std::vector<double> mean, stddev;   // per channel, of pixels scaled to [0, 1] (population std)
};

// Statistics over the first `limit` images (0 = all), or with `spread` over `limit` images spread evenly
// through the dataset (image i * size / limit: every part of a dataset sorted by class is seen), computed
// exactly from integer sums, so the result is the same whatever the number of threads. Throws ssl::Error
// when images differ in channel count.
DatasetStats dataset_stats(const Dataset& dataset, int64_t limit = 0, bool spread = false);

}  // namespace ssl::data
