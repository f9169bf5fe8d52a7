// The options several commands share, and the checks that make their errors say what was expected.
#include "apps/flags.h"

#include <omp.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <functional>

#include "core/error.h"
#include "data/image_decode.h"

namespace ssl::apps {

void set_threads(int threads) {
  if (threads > 0) omp_set_num_threads(threads);
}

nlohmann::json merge_resume_options(const CLI::App& cmd, const char* command, nlohmann::json saved,
                                    const nlohmann::json& given,
                                    const std::map<std::string, std::string>& config_key_of_flag,
                                    const std::string& resume_dir, const std::string& out_dir) {
  std::error_code ec;  // the same directory however written (runs/x, ./runs/x/, a link to it)
  SSL_CHECK(cmd.count("--out") == 0 || std::filesystem::equivalent(out_dir, resume_dir, ec), command,
            ": --out ", out_dir, " differs from --resume ", resume_dir,
            "; a resumed run continues in its own directory");
  for (const CLI::Option* opt : cmd.get_options()) {
    if (opt->count() == 0) continue;
    const std::string flag = opt->get_name();
    auto it = config_key_of_flag.find(flag);
    if (it != config_key_of_flag.end())
      saved[it->second] = given.at(it->second);
    else
      SSL_CHECK(flag == "--out" || flag == "--resume", command, ": ", flag,
                " cannot be combined with --resume");  // an option the saved config does not hold
  }
  return saved;
}

void add_skip_bad_images_flag(CLI::App& cmd, bool& skip_bad_images) {
  cmd.add_flag("--skip-bad-images", skip_bad_images,
               "Image folders: leave out files that cannot be read, with a counted warning (default: error)");
}

void add_device_flag(CLI::App& cmd, std::string& device, const std::string& what) {
  cmd.add_option("--device", device, what + ": cpu, cuda or cuda:N")->capture_default_str();
}

namespace {
// `help` is what --help shows after the type ("INT:POSITIVE").
CLI::Validator number_check(const std::string& help, const std::string& expected,
                            std::function<bool(double)> accepts) {
  return CLI::Validator(
      [expected, accepts](std::string& input) -> std::string {
        double value = 0;
        if (!CLI::detail::lexical_cast(input, value) || !std::isfinite(value) || !accepts(value))
          return str_cat("expected ", expected, ", found ", input);
        // A value too small for a double reads as 0 (1e-400): refused rather than run as 0.
        const std::string mantissa = input.substr(0, input.find_first_of("eE"));
        if (value == 0 && mantissa.find_first_of("123456789") != std::string::npos)
          return str_cat("expected ", expected, ", found ", input, ", which is too small to be told from 0");
        return "";
      },
      help);
}
}  // namespace

CLI::Validator positive_number() {
  return number_check("POSITIVE", "a number above 0", [](double v) { return v > 0; });
}

CLI::Validator non_negative_number() {
  return number_check("NON-NEGATIVE", "a number of at least 0", [](double v) { return v >= 0; });
}

CLI::Validator image_side(bool zero_ok) {
  static const std::string range = str_cat(" to ", data::kMaxImageSide, " pixels");
  if (zero_ok) {
    return number_check("0" + range, "an image side of 0" + range,
                        [](double v) { return v >= 0 && v <= double(data::kMaxImageSide); });
  }
  return number_check("1" + range, "an image side of 1" + range,
                      [](double v) { return v >= 1 && v <= double(data::kMaxImageSide); });
}

CLI::Validator number_in(double lo, double hi) {
  const std::string range = str_cat("[", lo, ", ", hi, "]");
  return number_check(range, "a number in " + range, [lo, hi](double v) { return v >= lo && v <= hi; });
}

CLI::Validator fraction_below_one() {
  return number_check("[0, 1)", "a number in [0, 1)", [](double v) { return v >= 0 && v < 1; });
}

CLI::Validator fraction_above_zero() {
  return number_check("(0, 1]", "a number in (0, 1]", [](double v) { return v > 0 && v <= 1; });
}

namespace {
// Plain decimal within [INT64_MIN, INT64_MAX] (`is_unsigned`: [0, UINT64_MAX]): digits after an optional
// sign, no leading zero.
CLI::Validator decimal_integer(bool is_unsigned) {
  return CLI::Validator(
      [is_unsigned](std::string& input) -> std::string {
        const char* first = input.data();
        const char* last = first + input.size();
        const char* digits = first + (first != last && (*first == '+' || *first == '-'));
        const bool plain = digits != last &&
                           std::all_of(digits, last, [](char c) { return c >= '0' && c <= '9'; }) &&
                           (*digits != '0' || last - digits == 1);
        if (!plain) return str_cat("expected a whole number in decimal, found ", input);
        const char* start = *first == '+' ? first + 1 : first;
        std::errc ec{};
        if (is_unsigned) {
          uint64_t v = 0;
          ec = *first == '-' ? std::errc::invalid_argument : std::from_chars(start, last, v).ec;
        } else {
          int64_t v = 0;
          ec = std::from_chars(start, last, v).ec;
        }
        if (ec == std::errc::result_out_of_range) {
          return str_cat(
              "expected a whole number from ",
              is_unsigned ? "0 to 18446744073709551615" : "-9223372036854775808 to 9223372036854775807",
              ", found ", input);
        }
        if (ec != std::errc()) return str_cat("expected a whole number of at least 0, found ", input);
        return "";
      },
      "");
}
}  // namespace

void require_decimal_integers(CLI::App& app) {
  for (CLI::Option* opt : app.get_options()) {
    const std::string type = opt->get_type_name();
    const auto is = [&](const std::string& name) {
      return type.compare(0, name.size(), name) == 0 &&
             (type.size() == name.size() || type[name.size()] == ':');
    };
    // First of the option's checks (transform puts it there), so that "abc" or "1.5" is called what it is
    // rather than a number out of the range a later check names.
    if (is("INT")) opt->transform(decimal_integer(false));
    if (is("UINT")) opt->transform(decimal_integer(true));
  }
  for (CLI::App* sub : app.get_subcommands({})) require_decimal_integers(*sub);
}

CLI::Validator file_name_ending(const std::string& extension) {
  return CLI::Validator(
      [extension](std::string& input) -> std::string {
        if (std::filesystem::path(input).extension() == extension) return "";
        return str_cat("expected a file name ending in ", extension, ", found '", input, "'");
      },
      "*" + extension);
}

CLI::Validator not_empty(const std::string& what) {
  return CLI::Validator(
      [what](std::string& input) -> std::string {
        return input.empty() ? "expected " + what + ", found nothing" : "";
      },
      "");
}

void add_seed_flag(CLI::App& cmd, uint64_t& seed, const std::string& help) {
  cmd.add_option("--seed", seed, help)->capture_default_str()->check(non_negative_number());
}

void add_threads_flag(CLI::App& cmd, int& threads, bool resumable) {
  cmd.add_option("--threads", threads,
                 resumable ? "Compute threads (0 = OpenMP default; a run continued keeps its own count)"
                           : "Compute threads (0 = OpenMP default)")
      ->capture_default_str()
      ->check(number_in(0, kMaxThreads));
}

void add_workers_flag(CLI::App& cmd, int& workers) {
  cmd.add_option("--workers", workers, "Data-loading threads (0 = on the training thread)")
      ->capture_default_str()
      ->check(number_in(0, kMaxThreads));
}

}  // namespace ssl::apps
