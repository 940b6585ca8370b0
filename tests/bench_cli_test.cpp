// `tern bench` speaks llama-bench's output formats: its field names, value
// types and markdown table, so scripts written for llama-bench read tern's
// rows unchanged; --pg, -d, several -m, -b; bad numbers; Ctrl-C.
#include <regex>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "child_process.h"
#include "tern/model.h"
#include "test_util.h"

namespace tern {
namespace {

const std::string kGolden = std::string(TERN_TEST_DATA_DIR) + "/models/b158_i2s_g4.gguf";
const std::string kGolden2 = std::string(TERN_TEST_DATA_DIR) + "/models/b25_tq1_g2.gguf";

// llama-bench's fields in its order (those tern has), then tern's own.
const std::vector<std::string> kFields = {
    "build_commit", "build_number", "cpu_info",  "model_filename", "model_type", "model_size", "model_n_params",
    "n_batch",      "n_threads",    "type_k",    "type_v",         "n_prompt",   "n_gen",      "n_depth",
    "test_time",    "avg_ns",       "stddev_ns", "avg_ts",         "stddev_ts",  "samples_ns", "samples_ts",
    "table",        "kernel",       "n_seq",     "test"};

std::vector<nlohmann::ordered_json> jsonl_rows(const std::string& out) {
    std::vector<nlohmann::ordered_json> rows;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) rows.push_back(nlohmann::ordered_json::parse(line));
    return rows;
}

TEST(BenchCli, JsonHasLlamaBenchFieldsAndTypes) {
    std::string out;
    ASSERT_EQ(test::run_tern("bench -m " + kGolden + " -p 16 -n 4 -r 2 -t 1,2 -o json", &out), 0) << out;
    const auto j = nlohmann::ordered_json::parse(out);
    ASSERT_EQ(j.size(), 4u);
    std::set<std::string> tests;
    for (const auto& r : j) {
        std::vector<std::string> keys;
        for (const auto& [k, v] : r.items()) keys.push_back(k);
        EXPECT_EQ(keys, kFields);
        for (const char* k : {"build_number", "model_size", "model_n_params", "n_batch", "n_threads", "n_prompt", "n_gen",
                              "n_depth", "avg_ns", "stddev_ns", "n_seq"})
            EXPECT_TRUE(r[k].is_number_integer()) << k;
        for (const char* k : {"avg_ts", "stddev_ts"}) EXPECT_TRUE(r[k].is_number_float()) << k;
        EXPECT_TRUE(std::regex_match(r["test_time"].get<std::string>(),
                                     std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")))
            << r["test_time"];
        EXPECT_EQ(r["model_filename"], kGolden);
        EXPECT_EQ(r["model_size"].get<uint64_t>(), std::filesystem::file_size(kGolden));
        EXPECT_EQ(r["type_k"], "f32");
        EXPECT_EQ(r["type_v"], "f32");
        EXPECT_EQ(r["n_depth"], 0);
        EXPECT_NE(r["model_type"].get<std::string>().find("I2_S"), std::string::npos) << r["model_type"];
        // Samples: one per repetition; t/s = tokens / time, and the averages are their means.
        ASSERT_EQ(r["samples_ns"].size(), 2u);
        ASSERT_EQ(r["samples_ts"].size(), 2u);
        const int64_t tokens = r["n_prompt"].get<int64_t>() + r["n_gen"].get<int64_t>();
        double ns = 0, ts = 0;
        for (int k = 0; k < 2; ++k) {
            const double s_ns = r["samples_ns"][k].get<double>(), s_ts = r["samples_ts"][k].get<double>();
            EXPECT_TRUE(r["samples_ns"][k].is_number_integer());
            EXPECT_NEAR(s_ts, 1e9 * double(tokens) / s_ns, 1e-6 * s_ts);
            ns += s_ns / 2;
            ts += s_ts / 2;
        }
        EXPECT_NEAR(r["avg_ns"].get<double>(), ns, 1.0);
        EXPECT_NEAR(r["avg_ts"].get<double>(), ts, 1e-6 * ts);
        EXPECT_GT(r["avg_ts"].get<double>(), 0);
        tests.insert(r["test"].get<std::string>() + "/t" + std::to_string(r["n_threads"].get<int>()));
    }
    EXPECT_EQ(tests, (std::set<std::string>{"pp16/t1", "tg4/t1", "pp16/t2", "tg4/t2"}));
}

TEST(BenchCli, CsvAndJsonl) {
    std::string out;
    ASSERT_EQ(test::run_tern("bench -m " + kGolden + " -p 0 -n 2 -r 1 -t 1 -o csv", &out), 0) << out;
    std::istringstream in(out);
    std::string header, row, extra;
    std::getline(in, header);
    std::getline(in, row);
    EXPECT_FALSE(std::getline(in, extra));
    std::string expected;
    for (const auto& f : kFields) expected += (expected.empty() ? "" : ",") + f;
    EXPECT_EQ(header, expected);
    // Every value quoted, as llama-bench writes them.
    const std::regex quoted(R"("([^"]|"")*")");
    size_t n = 0;
    for (auto it = std::sregex_iterator(row.begin(), row.end(), quoted); it != std::sregex_iterator(); ++it) ++n;
    EXPECT_EQ(n, kFields.size()) << row;
    EXPECT_NE(row.find(",\"" + kGolden + "\","), std::string::npos) << row;
    EXPECT_NE(row.find(",\"0\",\"2\",\"0\","), std::string::npos) << row;  // n_prompt, n_gen, n_depth

    ASSERT_EQ(test::run_tern("bench -m " + kGolden + " -p 4 -n 2 -r 1 -t 1 -o jsonl", &out), 0) << out;
    const auto rows = jsonl_rows(out);
    ASSERT_EQ(rows.size(), 2u) << out;
    EXPECT_EQ(rows[0]["n_prompt"], 4);
    EXPECT_EQ(rows[0]["n_gen"], 0);
    EXPECT_EQ(rows[1]["n_prompt"], 0);
    EXPECT_EQ(rows[1]["n_gen"], 2);
}

TEST(BenchCli, MarkdownTableAsLlamaBench) {
    std::string out;
    ASSERT_EQ(test::run_tern("bench -m " + kGolden + " -p 8 -n 4 -d 0,8 -r 1 -t 1", &out), 0) << out;
    EXPECT_NE(out.find("| model                          |       size |     params | backend    | threads |"
                       "            test |                  t/s | table      | kernel |\n"
                       "| ------------------------------ | ---------: | ---------: | ---------- | ------: |"
                       " --------------: | -------------------: | ---------- | ------ |\n"),
              std::string::npos)
        << out;
    for (const char* t : {"|             pp8 |", "|             tg4 |", "|        pp8 @ d8 |", "|        tg4 @ d8 |"})
        EXPECT_NE(out.find(t), std::string::npos) << t << "\n" << out;
    EXPECT_NE(out.find("| CPU        |       1 |"), std::string::npos) << out;
    EXPECT_NE(out.find("\nbuild: "), std::string::npos) << out;
    // Non-default batch size and KV type get their columns.
    ASSERT_EQ(test::run_tern("bench -m " + kGolden + " -p 8 -n 0 -b 4 --kv-f16 -r 1 -t 1", &out), 0) << out;
    EXPECT_NE(out.find("| threads | n_batch | type_k | type_v |"), std::string::npos) << out;
    EXPECT_NE(out.find("|       1 |       4 |    f16 |    f16 |"), std::string::npos) << out;
}

// Several -m, -b, -d and --pg: one row per model x depth x test, with the
// values llama-bench's fields carry.
TEST(BenchCli, ModelsDepthPromptGenAndBatch) {
    std::string out;
    ASSERT_EQ(test::run_tern("bench -m " + kGolden + " -m " + kGolden2 +
                                 " -p 8 -n 0 --pg 4,2 -d 0,8 -b 4 -r 1 -t 1 -o jsonl --kv-f16",
                             &out),
              0)
        << out;
    const auto rows = jsonl_rows(out);
    ASSERT_EQ(rows.size(), 8u) << out;
    std::vector<std::string> seen;
    for (const auto& r : rows) {
        EXPECT_EQ(r["n_batch"], 4);
        EXPECT_EQ(r["type_k"], "f16");
        seen.push_back(std::filesystem::path(r["model_filename"].get<std::string>()).filename().string() + " " +
                       r["test"].get<std::string>() + " " + std::to_string(r["n_prompt"].get<int>()) + "/" +
                       std::to_string(r["n_gen"].get<int>()) + "/" + std::to_string(r["n_depth"].get<int>()));
    }
    EXPECT_EQ(seen, (std::vector<std::string>{
                        "b158_i2s_g4.gguf pp8 8/0/0", "b158_i2s_g4.gguf pp4+tg2 4/2/0", "b158_i2s_g4.gguf pp8 @ d8 8/0/8",
                        "b158_i2s_g4.gguf pp4+tg2 @ d8 4/2/8", "b25_tq1_g2.gguf pp8 8/0/0", "b25_tq1_g2.gguf pp4+tg2 4/2/0",
                        "b25_tq1_g2.gguf pp8 @ d8 8/0/8", "b25_tq1_g2.gguf pp4+tg2 @ d8 4/2/8"}));
    // A pg row's t/s counts prompt and generated tokens.
    const auto& pg = rows[1];
    EXPECT_NEAR(pg["samples_ts"][0].get<double>(), 6e9 / pg["samples_ns"][0].get<double>(), 1e-3);
}

TEST(BenchCli, BatchedRowsFollowTheLlamaBenchFields) {
    std::string out;
    ASSERT_EQ(test::run_tern("bench -m " + kGolden + " -p 0 -n 3 --npl 2 -r 1 -t 1 -o jsonl", &out), 0) << out;
    const auto rows = jsonl_rows(out);
    ASSERT_EQ(rows.size(), 2u) << out;
    EXPECT_EQ(rows[0]["n_seq"], 0);
    EXPECT_EQ(rows[1]["n_seq"], 2);
    EXPECT_EQ(rows[1]["test"], "tg3 x2");
    EXPECT_EQ(rows[1]["n_gen"], 3);
    // t/s counts both sequences' tokens.
    EXPECT_NEAR(rows[1]["samples_ts"][0].get<double>(), 6e9 / rows[1]["samples_ns"][0].get<double>(), 1e-3);
}

// --probes: the machine's limits measured before each test, then llama-bench's
// fields and three of tern's: a prompt against the int8 peak (the model's
// ternary multiply-adds per token), one sequence's generation against the
// read bandwidth (the weight bytes a token reads), nothing for the others.
TEST(BenchCli, ProbesReportEachSpeedAgainstItsLimit) {
    std::string out;
    ASSERT_EQ(test::run_tern("bench -m " + kGolden + " -p 16 -n 4 --pg 4,2 --npl 2 -r 1 -t 1 -o jsonl --probes", &out), 0)
        << out;
    auto rows = jsonl_rows(out);
    ASSERT_EQ(rows.size(), 4u) << out;
    const ModelInfo info = Model::load(kGolden).info();
    std::vector<std::string> fields = kFields;
    for (const char* f : {"probe_read_gbps", "probe_int8_gmacs", "pct_limit"}) fields.push_back(f);
    for (const auto& r : rows) {
        SCOPED_TRACE(r["test"].get<std::string>());
        std::vector<std::string> keys;
        for (const auto& [k, v] : r.items()) keys.push_back(k);
        EXPECT_EQ(keys, fields);
        EXPECT_GT(r["probe_read_gbps"].get<double>(), 0.1);
#if defined(__x86_64__) || defined(__aarch64__)
        EXPECT_GT(r["probe_int8_gmacs"].get<double>(), 1.0);  // every x86 and arm64 table has a peak probe
#endif
    }
    const double ts_pp = rows[0]["avg_ts"], ts_tg = rows[1]["avg_ts"];
    EXPECT_EQ(rows[0]["test"], "pp16");
    if (rows[0]["probe_int8_gmacs"].get<double>() > 0) {
        EXPECT_NEAR(rows[0]["pct_limit"].get<double>(),
                    100.0 * ts_pp * double(info.ternary_macs_per_token) / (rows[0]["probe_int8_gmacs"].get<double>() * 1e9),
                    1e-9 * rows[0]["pct_limit"].get<double>());
    }
    EXPECT_EQ(rows[1]["test"], "tg4");
    EXPECT_NEAR(rows[1]["pct_limit"].get<double>(),
                100.0 * ts_tg * double(info.bytes_per_token) / (rows[1]["probe_read_gbps"].get<double>() * 1e9),
                1e-9 * rows[1]["pct_limit"].get<double>());
    EXPECT_EQ(rows[2]["test"], "pp4+tg2");
    EXPECT_TRUE(rows[2]["pct_limit"].is_null());
    EXPECT_EQ(rows[3]["test"], "tg4 x2");
    EXPECT_TRUE(rows[3]["pct_limit"].is_null());
    // Nor after a filled context (its attention and KV reads are in neither count).
    ASSERT_EQ(test::run_tern("bench -m " + kGolden + " -p 4 -n 2 -d 8 -r 1 -t 1 -o jsonl --probes", &out), 0) << out;
    rows = jsonl_rows(out);
    ASSERT_EQ(rows.size(), 2u) << out;
    for (const auto& r : rows) EXPECT_TRUE(r["pct_limit"].is_null()) << r["test"];

    // CSV and markdown carry them too (an empty value where no limit bounds the test).
    ASSERT_EQ(test::run_tern("bench -m " + kGolden + " -p 0 -n 2 --npl 2 -r 1 -t 1 -o csv --probes", &out), 0) << out;
    std::istringstream in(out);
    std::string header, tg, batched;
    std::getline(in, header);
    std::getline(in, tg);
    std::getline(in, batched);
    EXPECT_NE(header.find(",test,probe_read_gbps,probe_int8_gmacs,pct_limit"), std::string::npos) << header;
    EXPECT_TRUE(std::regex_search(tg, std::regex(R"("tg2","[0-9.]+","[0-9.]+","[0-9.]+"$)"))) << tg;
    EXPECT_TRUE(std::regex_search(batched, std::regex(R"("tg2 x2","[0-9.]+","[0-9.]+",""$)"))) << batched;
    ASSERT_EQ(test::run_tern("bench -m " + kGolden + " -p 0 -n 2 -r 1 -t 1 --probes", &out), 0) << out;
    EXPECT_NE(out.find("| table      | kernel |                   limit | % limit |"), std::string::npos) << out;
    EXPECT_TRUE(std::regex_search(out, std::regex(R"(\| +read [0-9.]+ GB/s \| +[0-9.]+ \|)"))) << out;
}

TEST(BenchCli, RejectsBadNumbersNamingTheFlag) {
    struct Case {
        std::string args, flag;
    };
    for (const Case& c : {Case{"-r 0", "-r/--repetitions must be between 1 and"}, Case{"-b 0", "-b/--batch-size must be between 1 and"},
                          Case{"-p -1", "-p/--n-prompt must be between 0 and"}, Case{"-d -5", "-d/--n-depth must be between 0 and"},
                          Case{"-t 0", "-t/--threads must be between 1 and"}, Case{"--pg 12", "--pg takes PROMPT,GEN"},
                          Case{"--pg 1,x", "--pg takes PROMPT,GEN"}}) {
        std::string out;
        EXPECT_EQ(test::run_tern("bench -m " + kGolden + " " + c.args, &out, true), 1) << c.args << "\n" << out;
        EXPECT_NE(out.find(c.flag), std::string::npos) << c.args << "\n" << out;
        EXPECT_EQ(out.find("| model"), std::string::npos) << c.args << "\n" << out;  // nothing ran
    }
}

// A missing file is refused before anything runs; a file that fails to load
// ends the run with the rows before it still a complete JSON document.
TEST(BenchCli, BadModelFiles) {
    std::string out;
    EXPECT_EQ(test::run_tern("bench -m " + kGolden + " -m /nonexistent.gguf -p 4 -n 0 -r 1 -t 1", &out, true), 1);
    EXPECT_NE(out.find("-m /nonexistent.gguf: no such file"), std::string::npos) << out;
    EXPECT_EQ(out.find("| model"), std::string::npos) << out;
    const std::string junk = test::temp_path("junk.gguf");
    test::write_file(junk, {'n', 'o', 't', ' ', 'g', 'g', 'u', 'f'});
    EXPECT_EQ(test::run_tern("bench -m " + kGolden + " -m " + junk + " -p 4 -n 0 -r 1 -t 1 -o json", &out), 1);
    const auto j = nlohmann::json::parse(out);
    ASSERT_EQ(j.size(), 1u) << out;
    EXPECT_EQ(j[0]["model_filename"], kGolden);
    std::filesystem::remove(junk);
}

// Ctrl-C during a long test: exit 130 at once, with the finished rows (and a
// complete JSON document).
TEST(BenchCli, InterruptPrintsFinishedRowsAndExits130) {
    test::TernChild child("bench -m " + kGolden + " -p 1 -n 20000 -r 5 -t 1 -o json --progress");
    ASSERT_TRUE(child.wait_for_stderr("tg20000: warm-up")) << child.stderr_text();
    child.interrupt();
    EXPECT_EQ(child.wait(), 130) << child.stderr_text();
    const auto j = nlohmann::json::parse(child.stdout_text());
    ASSERT_EQ(j.size(), 1u) << child.stdout_text();
    EXPECT_EQ(j[0]["test"], "pp1");
    EXPECT_EQ(j[0]["samples_ns"].size(), 5u);
}

}  // namespace
}  // namespace tern
