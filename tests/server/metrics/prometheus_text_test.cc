// PrometheusTextWriter: the exact text of each metric type, escaping, value formatting and
// the misuse it refuses.
#include "metrics/prometheus_text.h"

#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "metrics/histogram.h"

namespace brokerd::server::metrics {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(PrometheusText, WritesASmallExpositionExactly) {
  Histogram fsync({0.001, 0.01});
  fsync.observe(0.0005);
  fsync.observe(0.001);
  fsync.observe(0.004);
  fsync.observe(2);

  PrometheusTextWriter out;
  out.counter("brokerd_tasks_enqueued_total", "Tasks accepted by enqueue.", 42);
  out.family("brokerd_queue_ready_tasks", MetricType::kGauge, "Tasks ready to deliver, per queue.");
  out.sample(3, {{"queue", "default"}});
  out.sample(0, {{"queue", "emails"}});
  out.histogram("brokerd_commit_fsync_seconds", "Latency of one fsync.", fsync.snapshot());

  EXPECT_EQ(out.text(),
            "# HELP brokerd_tasks_enqueued_total Tasks accepted by enqueue.\n"
            "# TYPE brokerd_tasks_enqueued_total counter\n"
            "brokerd_tasks_enqueued_total 42\n"
            "# HELP brokerd_queue_ready_tasks Tasks ready to deliver, per queue.\n"
            "# TYPE brokerd_queue_ready_tasks gauge\n"
            "brokerd_queue_ready_tasks{queue=\"default\"} 3\n"
            "brokerd_queue_ready_tasks{queue=\"emails\"} 0\n"
            "# HELP brokerd_commit_fsync_seconds Latency of one fsync.\n"
            "# TYPE brokerd_commit_fsync_seconds histogram\n"
            "brokerd_commit_fsync_seconds_bucket{le=\"0.001\"} 2\n"
            "brokerd_commit_fsync_seconds_bucket{le=\"0.01\"} 3\n"
            "brokerd_commit_fsync_seconds_bucket{le=\"+Inf\"} 4\n"
            "brokerd_commit_fsync_seconds_sum 2.0055\n"
            "brokerd_commit_fsync_seconds_count 4\n");
}

TEST(PrometheusText, WritesHistogramBucketsCumulativelyAfterTheSeriesLabels) {
  HistogramSnapshot snapshot{{0.5, 1, 2.5}, {1, 0, 2, 3}, 12.25, 6};
  PrometheusTextWriter out;
  out.family("brokerd_task_run_seconds", MetricType::kHistogram, "Run time.");
  out.sample(snapshot, {{"queue", "q"}, {"name", "add"}});
  out.sample(HistogramSnapshot{{0.5, 1, 2.5}, {0, 0, 0, 0}, 0, 0}, {{"queue", "r"}, {"name", "add"}});
  EXPECT_EQ(out.text(),
            "# HELP brokerd_task_run_seconds Run time.\n"
            "# TYPE brokerd_task_run_seconds histogram\n"
            "brokerd_task_run_seconds_bucket{queue=\"q\",name=\"add\",le=\"0.5\"} 1\n"
            "brokerd_task_run_seconds_bucket{queue=\"q\",name=\"add\",le=\"1\"} 1\n"
            "brokerd_task_run_seconds_bucket{queue=\"q\",name=\"add\",le=\"2.5\"} 3\n"
            "brokerd_task_run_seconds_bucket{queue=\"q\",name=\"add\",le=\"+Inf\"} 6\n"
            "brokerd_task_run_seconds_sum{queue=\"q\",name=\"add\"} 12.25\n"
            "brokerd_task_run_seconds_count{queue=\"q\",name=\"add\"} 6\n"
            "brokerd_task_run_seconds_bucket{queue=\"r\",name=\"add\",le=\"0.5\"} 0\n"
            "brokerd_task_run_seconds_bucket{queue=\"r\",name=\"add\",le=\"1\"} 0\n"
            "brokerd_task_run_seconds_bucket{queue=\"r\",name=\"add\",le=\"2.5\"} 0\n"
            "brokerd_task_run_seconds_bucket{queue=\"r\",name=\"add\",le=\"+Inf\"} 0\n"
            "brokerd_task_run_seconds_sum{queue=\"r\",name=\"add\"} 0\n"
            "brokerd_task_run_seconds_count{queue=\"r\",name=\"add\"} 0\n");
}

TEST(PrometheusText, WritesTheDefaultLatencyBoundsAsPrometheusClientsDo) {
  PrometheusTextWriter out;
  out.histogram("brokerd_h_seconds", "h", Histogram().snapshot());
  for (const char* le : {"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1",
                         "2.5", "5", "10", "30", "60", "300", "+Inf"}) {
    EXPECT_NE(out.text().find(std::string("brokerd_h_seconds_bucket{le=\"") + le + "\"} 0\n"), std::string::npos)
        << le;
  }
}

TEST(PrometheusText, EscapesLabelValues) {
  PrometheusTextWriter out;
  out.family("brokerd_x", MetricType::kGauge, "x");
  out.sample(1, {{"queue", "a\\b\"c\nd"}, {"name", "tab\tand 'quote'"}});
  EXPECT_EQ(out.text(),
            "# HELP brokerd_x x\n# TYPE brokerd_x gauge\n"
            "brokerd_x{queue=\"a\\\\b\\\"c\\nd\",name=\"tab\tand 'quote'\"} 1\n");
}

TEST(PrometheusText, EscapesHelpButNotItsQuotes) {
  PrometheusTextWriter out;
  out.counter("brokerd_x_total", "back\\slash \"quoted\"\nsecond line", 0);
  EXPECT_EQ(out.text(),
            "# HELP brokerd_x_total back\\\\slash \"quoted\"\\nsecond line\n"
            "# TYPE brokerd_x_total counter\n"
            "brokerd_x_total 0\n");
}

TEST(PrometheusText, KeepsValidUtf8AndReplacesInvalidBytes) {
  PrometheusTextWriter out;
  out.family("brokerd_x", MetricType::kGauge, "caf\xC3\xA9 \xFF");
  // Kept: é (2 bytes), € (3), 😀 (4). Replaced byte by byte: a stray continuation byte, an
  // overlong '/', a surrogate, a truncated sequence at the end.
  out.sample(1, {{"queue", "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80|\x80|\xC0\xAF|\xED\xA0\x80|\xE2\x82"}});
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(out.text(), "# HELP brokerd_x caf\xC3\xA9 " + r + "\n# TYPE brokerd_x gauge\n" +
                            "brokerd_x{queue=\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80|" + r + "|" + r + r + "|" + r +
                            r + r + "|" + r + r + "\"} 1\n");
}

TEST(PrometheusText, FormatsValuesSoPrometheusParsesThem) {
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(-0.0), "0");
  EXPECT_EQ(format_value(42), "42");
  EXPECT_EQ(format_value(-7), "-7");
  EXPECT_EQ(format_value(100000), "100000");
  EXPECT_EQ(format_value(1e15), "1000000000000000");
  EXPECT_EQ(format_value(9007199254740993.0), "9007199254740992");  // 2^53 + 1 is not a double
  EXPECT_EQ(format_value(1e20), "1e+20");
  EXPECT_EQ(format_value(0.1), "0.1");
  EXPECT_EQ(format_value(2.5), "2.5");
  EXPECT_EQ(format_value(0.0005), "0.0005");
  EXPECT_EQ(format_value(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(format_value(123456.789), "123456.789");
  EXPECT_EQ(format_value(1e-7), "1e-07");
  EXPECT_EQ(format_value(kInf), "+Inf");
  EXPECT_EQ(format_value(-kInf), "-Inf");
  EXPECT_EQ(format_value(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

TEST(PrometheusText, ValidatesMetricNames) {
  EXPECT_TRUE(is_valid_metric_name("brokerd_tasks_total"));
  EXPECT_TRUE(is_valid_metric_name("a:b_c9"));
  EXPECT_TRUE(is_valid_metric_name("_x"));
  EXPECT_FALSE(is_valid_metric_name(""));
  EXPECT_FALSE(is_valid_metric_name("9x"));
  EXPECT_FALSE(is_valid_metric_name("brokerd-tasks"));
  EXPECT_FALSE(is_valid_metric_name("brokerd tasks"));
  EXPECT_FALSE(is_valid_metric_name("brokerd_t\xC3\xA9"));

  PrometheusTextWriter out;
  EXPECT_THROW(out.counter("brokerd-tasks", "h", 1), std::invalid_argument);
  EXPECT_THROW(out.counter("tasks_total", "h", 1), std::invalid_argument);  // not brokerd_
  EXPECT_THROW(out.counter("", "h", 1), std::invalid_argument);
  EXPECT_EQ(out.text(), "");
}

TEST(PrometheusText, RefusesAFamilyTwiceAndSeriesNamesThatCollide) {
  PrometheusTextWriter out;
  out.counter("brokerd_a_total", "a", 1);
  out.gauge("brokerd_b", "b", 1);
  EXPECT_THROW(out.counter("brokerd_a_total", "again", 2), std::invalid_argument);
  EXPECT_THROW(out.gauge("brokerd_a_total", "as a gauge", 2), std::invalid_argument);

  out.histogram("brokerd_h", "h", Histogram({1}).snapshot());
  EXPECT_THROW(out.gauge("brokerd_h_count", "collides with the histogram's _count", 1), std::invalid_argument);
  EXPECT_THROW(out.histogram("brokerd_b", "b's name again", Histogram({1}).snapshot()), std::invalid_argument);
  out.gauge("brokerd_d_sum", "declared before the histogram whose _sum it would be", 1);
  EXPECT_THROW(out.histogram("brokerd_d", "d", Histogram({1}).snapshot()), std::invalid_argument);
}

TEST(PrometheusText, RefusesSamplesWithoutAFamilyOfTheirKind) {
  PrometheusTextWriter out;
  EXPECT_THROW(out.sample(1), std::invalid_argument);
  out.family("brokerd_g", MetricType::kGauge, "g");
  EXPECT_THROW(out.sample(Histogram({1}).snapshot()), std::invalid_argument);
  out.family("brokerd_h", MetricType::kHistogram, "h");
  EXPECT_THROW(out.sample(1), std::invalid_argument);
  EXPECT_THROW(out.sample(HistogramSnapshot{{1, 2}, {0, 0}, 0, 0}), std::invalid_argument);  // counts != bounds+1
}

TEST(PrometheusText, ValidatesLabelNames) {
  PrometheusTextWriter out;
  out.family("brokerd_g", MetricType::kGauge, "g");
  EXPECT_THROW(out.sample(1, {{"9queue", "x"}}), std::invalid_argument);
  EXPECT_THROW(out.sample(1, {{"queue:name", "x"}}), std::invalid_argument);  // ':' is for metric names
  EXPECT_THROW(out.sample(1, {{"", "x"}}), std::invalid_argument);
  EXPECT_THROW(out.sample(1, {{"__name__", "x"}}), std::invalid_argument);
  EXPECT_THROW(out.sample(1, {{"queue", "x"}, {"queue", "y"}}), std::invalid_argument);
  out.sample(1, {{"le", "allowed outside histograms"}});
  out.family("brokerd_h", MetricType::kHistogram, "h");
  EXPECT_THROW(out.sample(Histogram({1}).snapshot(), {{"le", "1"}}), std::invalid_argument);
}

TEST(PrometheusText, TakesTextBySpanAndStartsOverAfterTake) {
  PrometheusTextWriter out;
  const std::vector<Label> labels{{"queue", "a"}};
  out.family("brokerd_g", MetricType::kGauge, "g");
  out.sample(1, std::span<const Label>(labels));
  const std::string first = out.take();
  EXPECT_EQ(first, "# HELP brokerd_g g\n# TYPE brokerd_g gauge\nbrokerd_g{queue=\"a\"} 1\n");
  EXPECT_EQ(out.text(), "");
  EXPECT_THROW(out.sample(1), std::invalid_argument);  // no family in progress any more
  out.gauge("brokerd_g", "g", 2);                      // and the name is free again
  EXPECT_EQ(out.text(), "# HELP brokerd_g g\n# TYPE brokerd_g gauge\nbrokerd_g 2\n");
}

}  // namespace
}  // namespace brokerd::server::metrics
