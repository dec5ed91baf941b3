#include "service/stop_matcher.h"

#include "gtest/gtest.h"

namespace radixserve::service {
namespace {

TEST(StopMatcherTest, HoldsBackPossibleStartsAndCutsAtTheMatch) {
  StopMatcher m({"END", "xy"});
  EXPECT_EQ(m.Add("hello E"), "hello");
  EXPECT_EQ(m.Add("N"), " ");  // " EN": only "EN" may still start "END"
  EXPECT_EQ(m.Add("Dtail"), "");
  EXPECT_TRUE(m.matched());
}

TEST(StopMatcherTest, FlushReleasesTheTailAndNeverSplitsUtf8) {
  StopMatcher m({"abc"});
  std::string out = m.Add("x\xc3\xa9");  // "xé": hold 2 bytes, never half of é
  EXPECT_EQ(out, "x");
  EXPECT_EQ(m.Flush(), "\xc3\xa9");
  StopMatcher none;
  EXPECT_EQ(none.Add("abc"), "abc");
}

}  // namespace
}  // namespace radixserve::service
