// bench/targets.py, the one command behind the speed issues' numbers, in its
// --smoke mode (every step on the bundled tiny model): it must run every
// measurement and print one table row per target with a measured value, so
// the script cannot rot between the sessions that run it on real shapes.
// (Whether a target is met on the tiny model means nothing: not checked.)
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <sstream>
#include <string>

#include "test_util.h"

namespace {

TEST(BenchTargets, SmokeRunMeasuresEveryTarget) {
    const std::filesystem::path build = std::filesystem::path(TERN_BINARY).parent_path();
    if (!std::filesystem::exists(build / "bench" / "tern_bench"))
        GTEST_SKIP() << "no tern_bench in " << build << " (configured with TERN_BUILD_BENCH=OFF)";
    std::string out;
    ASSERT_EQ(tern::test::run_command("/usr/bin/python3 " + std::string(TERN_SOURCE_DIR) + "/bench/targets.py --smoke --reps 1 --build " +
                                          build.string() + " 2>/dev/null",
                                      &out),
              0)
        << out;
    // | issue | target | measured | met |, one row per target.
    std::map<std::string, int> per_issue;
    int rows = 0;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind("| 1", 0) != 0) continue;
        ++rows;
        ++per_issue[line.substr(2, 2)];
        EXPECT_EQ(line.find("| — |"), std::string::npos) << "no value measured: " << line;
        EXPECT_TRUE(line.find("| yes |") != std::string::npos || line.find("| no |") != std::string::npos) << line;
    }
    // 13: pp and tg of four layouts, pp on one thread, one output product
    // (the smoke run's only tern_bench row), load time and RSS, pp and tg
    // with a core busy; 12: both heads; 16: prefill and embed's RSS.
    EXPECT_EQ(per_issue["13"], 14) << out;
    EXPECT_EQ(per_issue["12"], 2) << out;
    EXPECT_EQ(per_issue["16"], 2) << out;
    EXPECT_EQ(rows, 18) << out;
}

}  // namespace
