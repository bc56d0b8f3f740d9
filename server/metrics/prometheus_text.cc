#include "metrics/prometheus_text.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <utility>
#include <vector>

namespace brokerd::server::metrics {
namespace {

bool is_name_start(char c, bool colon_allowed) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon_allowed && c == ':');
}

bool is_name_char(char c, bool colon_allowed) { return is_name_start(c, colon_allowed) || (c >= '0' && c <= '9'); }

// Label names are metric names without ':'.
bool is_valid_label_name(std::string_view name) {
  if (name.empty() || !is_name_start(name.front(), false)) return false;
  for (char c : name) {
    if (!is_name_char(c, false)) return false;
  }
  return true;
}

std::string quoted(std::string_view name) { return "\"" + std::string(name) + "\""; }

// Length of the valid UTF-8 sequence starting at in[0], or 0 when it is not one
// (stray continuation byte, overlong form, surrogate, beyond U+10FFFF, truncated).
size_t utf8_sequence_length(std::string_view in) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(in[i]); };
  const unsigned char lead = byte(0);
  size_t length;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // overlong
    if (lead == 0xED) high = 0x9F;  // UTF-16 surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;   // overlong
    if (lead == 0xF4) high = 0x8F;  // beyond U+10FFFF
  } else {
    return 0;
  }
  if (in.size() < length || byte(1) < low || byte(1) > high) return 0;
  for (size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  }
  return length;
}

// Appends `in` escaped for a HELP text (backslash, newline) or, with `quote`, for a label
// value (also the double quote). Invalid UTF-8 bytes become U+FFFD each.
void append_escaped(std::string& out, std::string_view in, bool quote) {
  size_t i = 0;
  while (i < in.size()) {
    const char c = in[i];
    if (static_cast<unsigned char>(c) < 0x80) {
      if (c == '\\') {
        out += "\\\\";
      } else if (c == '\n') {
        out += "\\n";
      } else if (c == '"' && quote) {
        out += "\\\"";
      } else {
        out += c;
      }
      ++i;
      continue;
    }
    const size_t length = utf8_sequence_length(in.substr(i));
    if (length == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(in.substr(i, length));
      i += length;
    }
  }
}

void validate_labels(std::span<const Label> labels, bool histogram) {
  for (size_t i = 0; i < labels.size(); ++i) {
    const std::string_view name = labels[i].name;
    if (!is_valid_label_name(name)) throw std::invalid_argument("invalid label name " + quoted(name));
    if (name.starts_with("__")) throw std::invalid_argument("label names starting with __ are reserved");
    if (histogram && name == "le") throw std::invalid_argument("label \"le\" is reserved in histograms");
    for (size_t j = 0; j < i; ++j) {
      if (labels[j].name == name) throw std::invalid_argument("duplicate label " + quoted(name));
    }
  }
}

const char* type_name(MetricType type) {
  switch (type) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
  }
  return "untyped";
}

std::span<const Label> as_span(std::initializer_list<Label> labels) { return {labels.begin(), labels.size()}; }

}  // namespace

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  std::array<char, 64> buffer{};
  std::to_chars_result result;
  // 1e18 < 2^63: the cast below cannot overflow. Larger magnitudes take the exponent form.
  constexpr double kIntegerLimit = 1e18;
  if (std::trunc(value) == value && std::fabs(value) < kIntegerLimit) {
    result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), static_cast<int64_t>(value));
  } else if (std::fabs(value) >= 1e-4 && std::fabs(value) < kIntegerLimit) {
    // Shortest fixed form that reads back as the same double: 0.1, 2.5, 0.0005.
    result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value, std::chars_format::fixed);
  } else {
    result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value, std::chars_format::scientific);
  }
  return std::string(buffer.data(), result.ptr);
}

bool is_valid_metric_name(std::string_view name) {
  if (name.empty() || !is_name_start(name.front(), true)) return false;
  for (char c : name) {
    if (!is_name_char(c, true)) return false;
  }
  return true;
}

void PrometheusTextWriter::family(std::string_view name, MetricType type, std::string_view help) {
  if (!is_valid_metric_name(name)) throw std::invalid_argument("invalid metric name " + quoted(name));
  if (!name.starts_with(kMetricNamePrefix)) {
    throw std::invalid_argument("metric name " + quoted(name) + " does not start with " + quoted(kMetricNamePrefix));
  }
  std::vector<std::string> names{std::string(name)};
  if (type == MetricType::kHistogram) {
    for (const char* suffix : {"_bucket", "_sum", "_count"}) names.push_back(std::string(name) + suffix);
  }
  for (const std::string& series : names) {
    if (used_names_.contains(series)) {
      throw std::invalid_argument("metric " + quoted(series) + " is already in this exposition");
    }
  }
  used_names_.insert(names.begin(), names.end());

  family_ = name;
  type_ = type;
  text_ += "# HELP ";
  text_ += name;
  text_ += ' ';
  append_escaped(text_, help, false);
  text_ += "\n# TYPE ";
  text_ += name;
  text_ += ' ';
  text_ += type_name(type);
  text_ += '\n';
}

void PrometheusTextWriter::sample(double value, std::initializer_list<Label> labels) { sample(value, as_span(labels)); }

void PrometheusTextWriter::sample(double value, std::span<const Label> labels) {
  require_family(false);
  validate_labels(labels, false);
  append_series("", labels, nullptr, value);
}

void PrometheusTextWriter::sample(const HistogramSnapshot& histogram, std::initializer_list<Label> labels) {
  sample(histogram, as_span(labels));
}

void PrometheusTextWriter::sample(const HistogramSnapshot& histogram, std::span<const Label> labels) {
  require_family(true);
  validate_labels(labels, true);
  if (histogram.bucket_counts.size() != histogram.upper_bounds.size() + 1) {
    throw std::invalid_argument("histogram snapshot needs one count per bound plus the +Inf bucket");
  }
  // Prometheus buckets are cumulative: le="x" counts every observation <= x. The total,
  // not snapshot.count, is written as _count so that it always equals the +Inf bucket.
  uint64_t cumulative = 0;
  for (size_t i = 0; i < histogram.upper_bounds.size(); ++i) {
    cumulative += histogram.bucket_counts[i];
    const std::string bound = format_value(histogram.upper_bounds[i]);
    const Label le{"le", bound};
    append_series("_bucket", labels, &le, static_cast<double>(cumulative));
  }
  cumulative += histogram.bucket_counts.back();
  const Label le_inf{"le", "+Inf"};
  append_series("_bucket", labels, &le_inf, static_cast<double>(cumulative));
  append_series("_sum", labels, nullptr, histogram.sum);
  append_series("_count", labels, nullptr, static_cast<double>(cumulative));
}

void PrometheusTextWriter::counter(std::string_view name, std::string_view help, double value) {
  family(name, MetricType::kCounter, help);
  sample(value);
}

void PrometheusTextWriter::gauge(std::string_view name, std::string_view help, double value) {
  family(name, MetricType::kGauge, help);
  sample(value);
}

void PrometheusTextWriter::histogram(std::string_view name, std::string_view help,
                                     const HistogramSnapshot& histogram) {
  family(name, MetricType::kHistogram, help);
  sample(histogram);
}

std::string PrometheusTextWriter::take() {
  std::string text = std::move(text_);
  *this = PrometheusTextWriter();
  return text;
}

void PrometheusTextWriter::require_family(bool histogram) const {
  if (family_.empty()) throw std::invalid_argument("sample before any metric family");
  if ((type_ == MetricType::kHistogram) != histogram) {
    throw std::invalid_argument("sample of the wrong kind for " + std::string(type_name(type_)) + " " +
                                quoted(family_));
  }
}

void PrometheusTextWriter::append_series(std::string_view suffix, std::span<const Label> labels,
                                         const Label* extra, double value) {
  text_ += family_;
  text_ += suffix;
  if (!labels.empty() || extra != nullptr) {
    char separator = '{';
    const auto append_label = [&](const Label& label) {
      text_ += separator;
      text_ += label.name;
      text_ += "=\"";
      append_escaped(text_, label.value, true);
      text_ += '"';
      separator = ',';
    };
    for (const Label& label : labels) append_label(label);
    if (extra != nullptr) append_label(*extra);
    text_ += '}';
  }
  text_ += ' ';
  text_ += format_value(value);
  text_ += '\n';
}

}  // namespace brokerd::server::metrics
