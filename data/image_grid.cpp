#include "data/image_grid.h"

#include <stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <filesystem>
#include <limits>
#include <mutex>

#include "core/error.h"

namespace ssl::data {
namespace {

// The most bytes of rows, (w c + 1) h, one PNG may have: the PNG writer sizes its buffers in ints, and its
// compressed output can be up to 9/8 of the rows.
constexpr int64_t kMaxPngRowBytes = int64_t(std::numeric_limits<int>::max()) / 9 * 8;

// A 3x5 bitmap font: one row per entry, bit 2 = left column. Digits 0-9, then '-'.
constexpr uint8_t kFont[11][5] = {
    {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1}, {7, 4, 7, 1, 7},
    {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7}, {0, 0, 7, 0, 0},
};
constexpr int kDash = 10;

constexpr std::array<uint8_t, 3> kBackground = {16, 16, 16};

void fill_rect(Image& img, int64_t y0, int64_t x0, int64_t h, int64_t w, std::array<uint8_t, 3> rgb) {
  for (int64_t y = std::max<int64_t>(0, y0); y < std::min(img.h, y0 + h); ++y) {
    for (int64_t x = std::max<int64_t>(0, x0); x < std::min(img.w, x0 + w); ++x) {
      for (int64_t ch = 0; ch < 3; ++ch) img(y, x, ch) = rgb[size_t(ch)];
    }
  }
}

// Writes `text` (digits and '-') with its top-left corner at (y0, x0), clipped to the box ending at
// (y_end, x_end).
void draw_text(Image& img, const std::string& text, int64_t y0, int64_t x0, int64_t y_end, int64_t x_end,
               int64_t s, std::array<uint8_t, 3> rgb) {
  for (size_t k = 0; k < text.size(); ++k) {
    const int glyph = text[k] == '-' ? kDash : text[k] - '0';
    const int64_t gx = x0 + int64_t(k) * 4 * s;
    for (int64_t r = 0; r < 5; ++r) {
      for (int64_t col = 0; col < 3; ++col) {
        if (!((kFont[glyph][r] >> (2 - col)) & 1)) continue;
        const int64_t py = y0 + r * s, px = gx + col * s;
        fill_rect(img, py, px, std::min(s, y_end - py), std::min(s, x_end - px), rgb);
      }
    }
  }
}

}  // namespace

int64_t label_strip_height(int64_t scale) { return 7 * scale; }

std::array<uint8_t, 3> label_colour(int64_t label) {
  // Matplotlib's "tab10" palette.
  static constexpr std::array<std::array<uint8_t, 3>, 10> kPalette = {{{31, 119, 180},
                                                                       {255, 127, 14},
                                                                       {44, 160, 44},
                                                                       {214, 39, 40},
                                                                       {148, 103, 189},
                                                                       {140, 86, 75},
                                                                       {227, 119, 194},
                                                                       {127, 127, 127},
                                                                       {188, 189, 34},
                                                                       {23, 190, 207}}};
  if (label < 0) return {60, 60, 60};
  return kPalette[size_t(label % 10)];
}

Image make_image_grid(const std::vector<Image>& images, const std::vector<int64_t>& labels,
                      const ImageGridOptions& o) {
  SSL_CHECK(!images.empty(), "make_image_grid: no images");
  SSL_CHECK(labels.empty() || labels.size() == images.size(), "make_image_grid: ", labels.size(),
            " labels for ", images.size(), " images");
  SSL_CHECK(o.scale >= 1 && o.scale <= 64, "make_image_grid: scale must be in [1, 64], got ", o.scale);
  SSL_CHECK(o.padding >= 0, "make_image_grid: padding must be >= 0, got ", o.padding);
  SSL_CHECK(o.columns >= 0, "make_image_grid: columns must be >= 0, got ", o.columns);
  const int64_t n = int64_t(images.size());
  int64_t tile_h = 0, tile_w = 0;
  for (const Image& img : images) {
    SSL_CHECK(img.c == 1 || img.c == 3, "make_image_grid: images need 1 or 3 channels, got ", img.c);
    tile_h = std::max(tile_h, img.h);
    tile_w = std::max(tile_w, img.w);
  }
  const int64_t s = o.scale, pad = o.padding, strip = o.label_strips ? label_strip_height(s) : 0;
  int64_t cols = o.columns > 0 ? std::min(o.columns, n) : int64_t(std::ceil(std::sqrt(double(n))));
  while (cols * cols < n && o.columns == 0) ++cols;  // guard against sqrt rounding
  const int64_t rows = (n + cols - 1) / cols;
  const int64_t cell_w = tile_w * s, cell_h = tile_h * s + strip;
  const int64_t out_h = rows * cell_h + (rows + 1) * pad, out_w = cols * cell_w + (cols + 1) * pad;
  // The limit of one PNG (write_png), checked before anything is allocated.
  SSL_CHECK((out_w * 3 + 1) * out_h <= kMaxPngRowBytes, "make_image_grid: ", n, " tiles of ", tile_w, "x",
            tile_h, " px at scale ", s, " make a ", out_w, "x", out_h, " px grid, more than one PNG holds (",
            kMaxPngRowBytes,
            " bytes of rows); show fewer images or use a smaller "
            "scale");
  Image out(out_h, out_w, 3);
  fill_rect(out, 0, 0, out.h, out.w, kBackground);

  for (int64_t i = 0; i < n; ++i) {
    const Image& img = images[size_t(i)];
    const int64_t y0 = pad + (i / cols) * (cell_h + pad), x0 = pad + (i % cols) * (cell_w + pad);
    for (int64_t y = 0; y < img.h * s; ++y) {
      for (int64_t x = 0; x < img.w * s; ++x) {
        for (int64_t ch = 0; ch < 3; ++ch) out(y0 + y, x0 + x, ch) = img(y / s, x / s, img.c == 3 ? ch : 0);
      }
    }
    if (!o.label_strips) continue;
    const int64_t label = labels.empty() ? -1 : labels[size_t(i)];
    const auto colour = label_colour(label);
    const int64_t sy = y0 + tile_h * s;
    fill_rect(out, sy, x0, strip, cell_w, colour);
    const double luma = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2];
    const std::array<uint8_t, 3> ink =
        luma > 140 ? std::array<uint8_t, 3>{0, 0, 0} : std::array<uint8_t, 3>{255, 255, 255};
    draw_text(out, label < 0 ? "-" : std::to_string(label), sy + s, x0 + s, sy + strip, x0 + cell_w, s, ink);
  }
  return out;
}

void write_png(const std::string& path, const Image& image) {
  SSL_CHECK(!image.empty(), "write_png: empty image for ", path);
  const std::string ext = std::filesystem::path(path).extension().string();
  SSL_CHECK(ext == ".png" || ext == ".PNG", "write_png: '", path,
            "' should end in .png (the file is a PNG image)");
  SSL_CHECK(image.c == 1 || image.c == 3 || image.c == 4, "write_png: ", path, ": cannot write ", image.c,
            " channels (expected 1, 3 or 4)");
  SSL_CHECK((image.w * image.c + 1) * image.h <= kMaxPngRowBytes, "write_png: ", path, ": a ", image.w, "x",
            image.h, "x", image.c, " image is too large for one PNG (at most ", kMaxPngRowBytes,
            " bytes of rows)");
  const int ok = stbi_write_png(path.c_str(), int(image.w), int(image.h), int(image.c), image.pixels.data(),
                                int(image.w * image.c));
  SSL_CHECK(ok != 0, "write_png: cannot write '", path, "' (does its directory exist and is it writable?)");
}

DatasetStats dataset_stats(const Dataset& dataset, int64_t limit, bool spread) {
  SSL_CHECK(limit >= 0, "dataset_stats: limit must be >= 0, got ", limit);
  DatasetStats st;
  st.count = limit > 0 ? std::min(limit, dataset.size()) : dataset.size();
  // The dataset index of the i-th image looked at.
  const auto image_index = [&](int64_t i) { return spread ? i * dataset.size() / st.count : i; };
  st.class_counts.assign(size_t(std::max<int64_t>(0, dataset.num_classes())), 0);
  if (st.count == 0) return st;
  st.channels = dataset.image(0).c;
  const int64_t c = st.channels;
  // Integer sums are exact, so adding the threads' partial sums in any order gives the same result.
  std::vector<uint64_t> sum(size_t(c), 0), sumsq(size_t(c), 0);
  uint64_t pixels = 0;
  // The error of the lowest-numbered image that fails, whatever order the threads fail in, so that the same
  // file is named on every run.
  std::exception_ptr error;
  int64_t error_at = st.count;
  std::mutex mu;
#pragma omp parallel
  {
    std::vector<uint64_t> s(size_t(c), 0), q(size_t(c), 0);
    uint64_t px = 0;
#pragma omp for schedule(dynamic, 16)
    for (int64_t i = 0; i < st.count; ++i) {
      try {
        const Image img = dataset.image(image_index(i));
        SSL_CHECK(img.c == c, dataset.name(), ": image ", image_index(i), " has ", img.c,
                  " channels, image 0 has ", c);
        for (int64_t p = 0; p < img.h * img.w; ++p) {
          for (int64_t ch = 0; ch < c; ++ch) {
            const uint64_t v = img.pixels[size_t(p * c + ch)];
            s[size_t(ch)] += v;
            q[size_t(ch)] += v * v;
          }
        }
        px += uint64_t(img.h * img.w);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (i < error_at) error = std::current_exception(), error_at = i;
      }
    }
    std::lock_guard<std::mutex> lock(mu);
    for (int64_t ch = 0; ch < c; ++ch) {
      sum[size_t(ch)] += s[size_t(ch)];
      sumsq[size_t(ch)] += q[size_t(ch)];
    }
    pixels += px;
  }
  if (error) std::rethrow_exception(error);

  for (int64_t i = 0; i < st.count; ++i) {
    const int64_t label = dataset.label(image_index(i));
    if (label < 0 || label >= int64_t(st.class_counts.size())) {
      SSL_CHECK(label == -1, dataset.name(), ": image ", image_index(i), " has label ", label,
                " outside [0, ", st.class_counts.size(), ")");
      ++st.unlabelled;
    } else {
      ++st.class_counts[size_t(label)];
    }
  }
  for (int64_t ch = 0; ch < c; ++ch) {
    const long double n = (long double)pixels;
    const long double m = (long double)sum[size_t(ch)] / n;
    const long double var = std::max<long double>(0, (long double)sumsq[size_t(ch)] / n - m * m);
    st.mean.push_back(double(m / 255.0L));
    st.stddev.push_back(double(std::sqrt(var) / 255.0L));
  }
  return st;
}

}  // namespace ssl::data
