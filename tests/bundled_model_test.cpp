// The bundled model end to end through the CLI: a golden greedy transcript
// that must come out the same on every kernel table and kernel family, and a
// piped chat whose replies end at the model's end-of-text token.
#include <cstdlib>
#include <regex>

#include <gtest/gtest.h>

#include "kernels/dispatch.h"
#include "test_util.h"

namespace tern {
namespace {

const std::string kModel = std::string(TERN_SOURCE_DIR) + "/models/tern-tinystories-4m.gguf";
const std::string kTranscript = std::string(TERN_TEST_DATA_DIR) + "/tinystories_greedy48.txt";

TEST(BundledModel, GreedyTranscriptOnEveryTableAndFamily) {
    const auto golden_bytes = test::read_file(kTranscript);
    const std::string golden(golden_bytes.begin(), golden_bytes.end());
    ASSERT_GT(golden.size(), 100u);
    int runs = 0;
    for (const auto& entry : kernels::available_tables()) {
        if (!entry.runs_here) continue;
        for (int fam = 0; fam < kernels::kTernaryFamilies; ++fam) {
            if (!entry.table->ternary[fam].matmul) continue;
            const std::string family = kernels::family_name(kernels::TernaryFamily(fam));
            setenv("TERN_ISA", entry.table->name, 1);
            std::string out;
            const int rc = test::run_tern("run -m " + kModel + " -p 'Once upon a time' -n 48 --temp 0 --no-stats --kernel " +
                                              family,
                                          &out);
            unsetenv("TERN_ISA");
            EXPECT_EQ(rc, 0);
            EXPECT_EQ(out, golden) << entry.table->name << " / " << family;
            ++runs;
        }
    }
    EXPECT_GE(runs, 3);  // at least the reference table's three families
}

TEST(BundledModel, PipedChatEndsRepliesAtEndOfText) {
    const std::string turns = test::temp_path("turns.txt");
    const std::string text = "Once upon a time there was a cat.\nWhat did the cat do?\n";
    test::write_file(turns, std::vector<uint8_t>(text.begin(), text.end()));
    std::string out;
    ASSERT_EQ(test::run_tern("chat -m " + kModel + " --temp 0 -n 100 < " + turns, &out, true), 0) << out;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(out, m, std::regex("generation: ([0-9]+) tokens"))) << out;
    // Two replies of at most 100 tokens each: fewer in all means the model's
    // </s> ended at least one of them (and was not printed).
    EXPECT_LT(std::stoi(m[1]), 200) << out;
    EXPECT_EQ(out.find("</s>"), std::string::npos);
    EXPECT_NE(out.find("template llama2"), std::string::npos);
    std::remove(turns.c_str());
}

}  // namespace
}  // namespace tern
