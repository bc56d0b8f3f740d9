// The crash torture's "no overlapping runs of one task inside one worker process" check
// (tools/torture/run_overlaps.h), on hand-written journals: it must see an overlap when
// there is one, and only then.
#include "run_overlaps.h"

#include <gtest/gtest.h>

namespace torture {
namespace {

// A journal as read_journal() returns it, from lines written as the worker writes them.
JournalContents journal(std::initializer_list<std::vector<std::string>> lines) {
  JournalContents contents;
  contents.lines.assign(lines.begin(), lines.end());
  return contents;
}

RunOverlaps check(const JournalContents& contents) { return find_run_overlaps(handler_runs(contents)); }

TEST(RunOverlapsTest, RunsOneAfterTheOtherPass) {
  const RunOverlaps overlaps = check(journal({
      {"D", "100", "t-p0-1", "1", "0", "1"},
      {"F", "101", "t-p0-1", "1", "2"},
      {"D", "900", "t-p0-1", "2", "0", "3"},
      {"F", "901", "t-p0-1", "3", "4"},
  }));
  EXPECT_TRUE(overlaps.violations.empty());
  EXPECT_EQ(overlaps.same_process_reruns, 1u);
}

TEST(RunOverlapsTest, SecondRunStartingBeforeTheFirstEndedFails) {
  const RunOverlaps overlaps = check(journal({
      {"D", "100", "t-p0-1", "1", "0", "1"},
      {"D", "105", "t-p0-1", "2", "0", "2"},
      {"F", "900", "t-p0-1", "1", "3"},
      {"F", "901", "t-p0-1", "2", "4"},
  }));
  ASSERT_EQ(overlaps.violations.size(), 1u);
  EXPECT_NE(overlaps.violations[0].find("t-p0-1: overlapping runs"), std::string::npos) << overlaps.violations[0];
  EXPECT_NE(overlaps.violations[0].find("run #2"), std::string::npos) << overlaps.violations[0];
}

TEST(RunOverlapsTest, RunInsideALongerOneFails) {
  // Run 1 spans 1..6; run 2 (2..3) ends first, run 3 (4..5) still starts inside run 1.
  const RunOverlaps overlaps = check(journal({
      {"D", "100", "t-p0-1", "1", "0", "1"},
      {"D", "101", "t-p0-1", "2", "0", "2"},
      {"F", "102", "t-p0-1", "2", "3"},
      {"D", "103", "t-p0-1", "3", "0", "4"},
      {"F", "104", "t-p0-1", "4", "5"},
      {"F", "105", "t-p0-1", "1", "6"},
  }));
  EXPECT_EQ(overlaps.violations.size(), 2u);
}

TEST(RunOverlapsTest, RunThatNeverEndedOverlapsEveryLaterRun) {
  // No F line: the handler still ran when the next run of the task started.
  const RunOverlaps overlaps = check(journal({
      {"D", "100", "t-p0-1", "1", "0", "1"},
      {"D", "900", "t-p0-1", "2", "0", "2"},
      {"F", "901", "t-p0-1", "2", "3"},
  }));
  ASSERT_EQ(overlaps.violations.size(), 1u);
  EXPECT_NE(overlaps.violations[0].find("never ended"), std::string::npos) << overlaps.violations[0];
}

TEST(RunOverlapsTest, OpenLastRunOfAKilledProcessPasses) {
  const RunOverlaps overlaps = check(journal({
      {"D", "100", "t-p0-1", "1", "0", "1"},
      {"F", "101", "t-p0-1", "1", "2"},
      {"D", "102", "t-p0-1", "2", "0", "3"},
  }));
  EXPECT_TRUE(overlaps.violations.empty());
}

TEST(RunOverlapsTest, DifferentTasksMayOverlap) {
  const RunOverlaps overlaps = check(journal({
      {"D", "100", "t-p0-1", "1", "0", "1"},
      {"D", "100", "t-p0-2", "1", "0", "2"},
      {"F", "101", "t-p0-1", "1", "3"},
      {"F", "101", "t-p0-2", "2", "4"},
  }));
  EXPECT_TRUE(overlaps.violations.empty());
  EXPECT_EQ(overlaps.same_process_reruns, 0u);
}

TEST(RunOverlapsTest, OrderComesFromTheSequenceNotFromTheLineOrder) {
  // Two threads took their numbers in one order and wrote their lines in the other: the
  // first run ended (seq 2) before the second started (run 3).
  const RunOverlaps overlaps = check(journal({
      {"D", "100", "t-p0-1", "1", "0", "1"},
      {"D", "100", "t-p0-1", "2", "0", "3"},
      {"F", "100", "t-p0-1", "1", "2"},
      {"F", "101", "t-p0-1", "3", "4"},
  }));
  EXPECT_TRUE(overlaps.violations.empty());
}

TEST(RunOverlapsTest, OtherLinesAreIgnored) {
  const RunOverlaps overlaps = check(journal({
      {"D", "100", "t-p0-1", "1", "0"},  // an old journal's D line, without <run>
      {"R", "101", "t-p0-1", "{}"},
      {"C", "102", "t-p0-1", "{}"},
      {"X", "103", "t-p0-1", "FAILURE"},
  }));
  EXPECT_TRUE(overlaps.violations.empty());
  EXPECT_EQ(overlaps.same_process_reruns, 0u);
}

}  // namespace
}  // namespace torture
