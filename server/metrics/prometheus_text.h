// A writer of the Prometheus text exposition format, version 0.0.4: what GET /metrics
// answers (https://prometheus.io/docs/instrumenting/exposition_formats/).
//
//   PrometheusTextWriter out;
//   out.family("brokerd_queue_ready_tasks", MetricType::kGauge, "Tasks ready to deliver.");
//   out.sample(3, {{"queue", "default"}});
//   out.sample(0, {{"queue", "emails"}});
//   out.histogram("brokerd_commit_fsync_seconds", "Latency of one fsync.", fsync.snapshot());
//   std::string body = out.take();
//
// Misuse throws std::invalid_argument: a metric or label name that is not a valid name or
// does not start with "brokerd_" (metric), a family declared twice, a sample with no family
// of its type in progress. Names are fixed in brokerd's code, so that is a bug; /metrics
// then answers 500 instead of text that Prometheus would reject whole. Label VALUES come
// from clients (queue and task names) and are always accepted: escaped, and made valid
// UTF-8, since Prometheus fails the whole scrape on one invalid byte sequence.
#pragma once

#include <initializer_list>
#include <set>
#include <span>
#include <string>
#include <string_view>

#include "metrics/histogram.h"

namespace brokerd::server::metrics {

inline constexpr std::string_view kMetricNamePrefix = "brokerd_";
inline constexpr std::string_view kPrometheusTextContentType = "text/plain; version=0.0.4; charset=utf-8";

enum class MetricType { kCounter, kGauge, kHistogram };

struct Label {
  std::string_view name;
  std::string_view value;
};

// A sample value or bucket bound as Prometheus parses it: integral values as integers
// ("42", not "4.2e+01"), others in the shortest form that reads back exactly ("0.0005"),
// "+Inf", "-Inf", "NaN".
std::string format_value(double value);

// True for a valid metric name: [a-zA-Z_:][a-zA-Z0-9_:]* (any prefix).
bool is_valid_metric_name(std::string_view name);

class PrometheusTextWriter {
 public:
  // Starts a family: its "# HELP" and "# TYPE" lines. Every sample until the next family
  // belongs to this one (the format wants a family's lines together, and each family once).
  void family(std::string_view name, MetricType type, std::string_view help);

  // One series of the current counter or gauge family.
  void sample(double value, std::initializer_list<Label> labels = {});
  void sample(double value, std::span<const Label> labels);
  // One series of the current histogram family: name_bucket{...,le="..."} lines with
  // cumulative counts up to le="+Inf", then name_sum and name_count. "le" is reserved.
  void sample(const HistogramSnapshot& histogram, std::initializer_list<Label> labels = {});
  void sample(const HistogramSnapshot& histogram, std::span<const Label> labels);

  // Shorthands for a family with a single unlabelled series.
  void counter(std::string_view name, std::string_view help, double value);
  void gauge(std::string_view name, std::string_view help, double value);
  void histogram(std::string_view name, std::string_view help, const HistogramSnapshot& histogram);

  const std::string& text() const { return text_; }
  // The exposition so far; the writer is left empty.
  std::string take();

 private:
  void require_family(bool histogram) const;
  void append_series(std::string_view suffix, std::span<const Label> labels, const Label* extra,
                     double value);

  std::string text_;
  std::string family_;  // empty before the first family()
  MetricType type_ = MetricType::kCounter;
  // Every series name declared so far, with a histogram's _bucket, _sum and _count, so
  // that no two families can produce the same series name.
  std::set<std::string, std::less<>> used_names_;
};

}  // namespace brokerd::server::metrics
