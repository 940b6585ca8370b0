// The tern binary as a llama.cpp user drives it: files are never lost
// (convert refuses to overwrite its input, temporaries never outlive a run,
// a failed write is an error), llama.cpp's flag spellings, number checks, and
// run/chat's prompt habits.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <regex>
#include <thread>

#include <gtest/gtest.h>

#include "convert_util.h"
#include "test_util.h"

extern char** environ;

namespace tern {
namespace {

namespace fs = std::filesystem;

const std::string kGolden = std::string(TERN_TEST_DATA_DIR) + "/models/b158_i2s_g4.gguf";

const std::string& byte_model() {
    struct File {
        std::string path = test::write_byte_vocab_model(kGolden);
        ~File() { fs::remove(path); }
    };
    static const File f;
    return f.path;
}

// A temporary folder removed at the end of the test.
struct TempDir {
    std::string path;
    explicit TempDir(const std::string& stem) : path(test::temp_path(stem)) { fs::create_directories(path); }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::string operator/(const std::string& name) const { return path + "/" + name; }
};

// `tern ARGS`, stdout and stderr together in *out.
int tern(const std::string& args, std::string* out) { return test::run_tern(args, out, true); }

bool contains(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

void small_checkpoint(const std::string& dir, int64_t hidden = 64, int64_t layers = 1) {
    test::hf::Spec s;
    s.hidden = hidden, s.ffn = 2 * hidden, s.heads = 2, s.kv_heads = 1, s.vocab = 40, s.layers = layers;
    test::hf::write_checkpoint(dir, s);
}

// ---- Never lose data ----

TEST(CliHabits, ConvertRefusesToOverwriteItsInput) {
    TempDir tmp("habits_convert");
    const std::string ck = tmp / "ck";
    small_checkpoint(ck);
    const auto st_before = test::read_file(ck + "/model.safetensors");
    const auto cfg_before = test::read_file(ck + "/config.json");
    fs::create_hard_link(ck + "/model.safetensors", tmp / "alias.bin");
    fs::create_symlink(ck + "/config.json", tmp / "cfg-link");
    std::string out;
    for (const std::string& target : {ck + "/model.safetensors", ck + "/config.json", ck + "/./config.json", tmp / "alias.bin",
                                      tmp / "cfg-link"}) {
        EXPECT_EQ(tern("convert " + ck + " -o " + target, &out), 1) << target;
        EXPECT_TRUE(contains(out, "the checkpoint's own file")) << out;
    }
    // A directory as the output, and a directory that does not exist.
    EXPECT_EQ(tern("convert " + ck + " -o " + tmp.path, &out), 1);
    EXPECT_TRUE(contains(out, "is a directory")) << out;
    EXPECT_EQ(tern("convert " + ck + " -o " + (tmp / "no/such/dir/m.gguf"), &out), 1);
    EXPECT_TRUE(contains(out, "does not exist")) << out;
    EXPECT_EQ(test::read_file(ck + "/model.safetensors"), st_before);
    EXPECT_EQ(test::read_file(ck + "/config.json"), cfg_before);
    for (const auto& e : fs::directory_iterator(ck)) EXPECT_NE(e.path().extension(), ".tmp") << e.path();
    // An earlier conversion inside the folder may be replaced.
    ASSERT_EQ(tern("convert " + ck + " -q -o " + ck + "/model.gguf", &out), 0) << out;
    ASSERT_EQ(tern("convert " + ck + " -q -o " + ck + "/model.gguf", &out), 0) << out;
}

// Starts `tern ARGS...` without a shell, stdin/stdout on the given
// descriptors (-1: /dev/null), stderr into `err_path` (""; /dev/null).
pid_t spawn_tern(const std::vector<std::string>& args, int in = -1, int out = -1, const std::string& err_path = "") {
    std::vector<std::string> all{TERN_BINARY};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (in >= 0) posix_spawn_file_actions_adddup2(&fa, in, 0);
    else posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (out >= 0) posix_spawn_file_actions_adddup2(&fa, out, 1);
    else posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, err_path.empty() ? "/dev/null" : err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    pid_t pid = -1;
    EXPECT_EQ(posix_spawn(&pid, TERN_BINARY, &fa, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

TEST(CliHabits, ConvertRemovesItsTemporaryFileOnSignals) {
    TempDir tmp("habits_signal");
    const std::string ck = tmp / "ck";
    small_checkpoint(ck, 512, 4);  // tens of MB: the conversion takes a while
    for (int sig : {SIGINT, SIGTERM}) {
        const std::string out = tmp / ("out" + std::to_string(sig) + ".gguf");
        const pid_t pid = spawn_tern({"convert", ck, "-q", "-o", out});
        ASSERT_GT(pid, 0);
        // Signal it once the temporary file exists (it is being written).
        bool seen = false;
        int status = 0;
        for (int k = 0; k < 20000 && !seen; ++k) {
            seen = fs::exists(out + ".tmp");
            if (!seen) {
                if (waitpid(pid, &status, WNOHANG) == pid) break;
                std::this_thread::sleep_for(std::chrono::microseconds(500));
            }
        }
        ASSERT_TRUE(seen) << "the conversion ended before its temporary file was seen";
        kill(pid, sig);
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == sig) << status;
        EXPECT_FALSE(fs::exists(out + ".tmp")) << sig;
        EXPECT_FALSE(fs::exists(out)) << sig;
    }
}

TEST(CliHabits, LogitsOutIsCheckedBeforeGenerating) {
    TempDir tmp("habits_logits");
    std::string out;
    // A directory, and a file in a directory that does not exist: refused at once.
    EXPECT_EQ(tern("run -m " + byte_model() + " -p Hi -n 2 --temp 0 --logits-out " + tmp.path, &out), 1);
    EXPECT_TRUE(contains(out, "--logits-out")) << out;
    EXPECT_TRUE(contains(out, "is a directory")) << out;
    EXPECT_FALSE(contains(out, "tokens/s")) << "generated before failing:\n" << out;
    EXPECT_FALSE(fs::exists(tmp.path + ".tmp"));
    EXPECT_EQ(tern("run -m " + byte_model() + " -p Hi -n 2 --temp 0 --logits-out " + (tmp / "none/x.npy"), &out), 1);
    EXPECT_TRUE(contains(out, "does not exist")) << out;
    EXPECT_FALSE(contains(out, "tokens/s")) << out;
    ASSERT_EQ(tern("run -m " + byte_model() + " -p Hi -n 2 --temp 0 --no-stats --logits-out " + (tmp / "l.npy"), &out), 0)
        << out;
    EXPECT_TRUE(fs::exists(tmp / "l.npy"));
    EXPECT_FALSE(fs::exists(tmp / "l.npy.tmp"));
}

TEST(CliHabits, AFailedWriteToStdoutIsAnError) {
    std::string out;
    EXPECT_EQ(tern("run -m " + byte_model() + " -p Hello -n 8 --temp 0 > /dev/full", &out), 1);
    EXPECT_TRUE(contains(out, "No space left on device")) << out;
    EXPECT_EQ(tern("tokenize -m " + byte_model() + " -p Hello > /dev/full", &out), 1);
    EXPECT_TRUE(contains(out, "No space left on device")) << out;
    EXPECT_EQ(tern("info > /dev/full", &out), 1);
}

// ---- Their flags ----

TEST(CliHabits, LlamaCppSpellingsAreTranslatedIgnoredOrRefused) {
    const std::string run = "run -m " + byte_model() + " -p Hello -n 6 --temp 0 --no-stats --print-ids";
    std::string plain, out;
    ASSERT_EQ(tern(run + " 2>/dev/null", &plain), 0) << plain;
    // GPU-only options: a note each, the values consumed, the same output.
    ASSERT_EQ(tern(run + " -ngl 99 -fa on -ub 256 -nkvo 2>/dev/null", &out), 0) << out;
    EXPECT_EQ(out, plain);
    ASSERT_EQ(tern(run + " -ngl 99 -fa on", &out), 0) << out;
    EXPECT_TRUE(contains(out, "-ngl ignored")) << out;
    EXPECT_TRUE(contains(out, "-fa ignored")) << out;
    // -fa without a value (older llama.cpp) does not swallow the next option.
    ASSERT_EQ(tern(run + " -fa -tb 2 -ctk f16 -ctv f16 2>/dev/null", &out), 0) << out;
    EXPECT_EQ(std::count(out.begin(), out.end(), ','), 5) << out;
    // -hf: tern never downloads, and says how to get the file.
    EXPECT_EQ(tern(run + " -hf microsoft/bitnet-b1.58-2B-4T-gguf", &out), 1);
    EXPECT_TRUE(contains(out, "never downloads")) << out;
    EXPECT_TRUE(contains(out, "-m FILE.gguf")) << out;
    // A quantized KV cache is refused by name.
    EXPECT_NE(tern(run + " -ctk q8_0", &out), 0);
    EXPECT_TRUE(contains(out, "q8_0")) << out;
    // Unknown single-dash words are errors naming them, never bundles of short options.
    EXPECT_EQ(tern(run + " -xyz 3", &out), 1);
    EXPECT_TRUE(contains(out, "unknown option -xyz")) << out;
    EXPECT_EQ(tern(run + " -nfoo", &out), 1);
    EXPECT_TRUE(contains(out, "-nfoo")) << out;
    // An attached number still works (-n6), and a value is never translated.
    ASSERT_EQ(tern("run -m " + byte_model() + " -p Hello -n6 --temp 0 --no-stats --print-ids 2>/dev/null", &out), 0);
    EXPECT_EQ(out, plain);
    ASSERT_EQ(tern("tokenize -m " + byte_model() + " --no-bos -p -ngl", &out), 0) << out;
    EXPECT_EQ(out, "45,110,103,108\n");
    // -sp: special-token text in the prompt is that token.
    ASSERT_EQ(tern("run -m " + byte_model() + " -p '<|eot_id|>' --no-bos -sp -n 0 --verbose-prompt --no-stats", &out), 0);
    EXPECT_TRUE(contains(out, "number of tokens in prompt = 1")) << out;
    EXPECT_TRUE(contains(out, "   258 -> '<|eot_id|>'")) << out;
    // -cnv on run is chat; -no-cnv on run changes nothing; -i, -if, -mli, -st, -co on chat are accepted.
    const std::string hi = test::temp_path("hi.txt");
    test::write_file(hi, {'H', 'i', '\n', 'A', 'g', 'a', 'i', 'n', '\n'});
    ASSERT_EQ(tern("run -m " + byte_model() + " -cnv --temp 0 -n 3 < " + hi, &out), 0) << out;
    EXPECT_TRUE(contains(out, "conversation mode is `tern chat`")) << out;
    EXPECT_TRUE(contains(out, "template bitnet")) << out;
    ASSERT_EQ(tern(run + " -no-cnv 2>/dev/null", &out), 0);
    EXPECT_EQ(out, plain);
    ASSERT_EQ(tern("chat -m " + byte_model() + " -i -if -cnv -co off -st --temp 0 -n 3 -sys S < " + hi, &out), 0) << out;
    EXPECT_TRUE(contains(out, "[chat ended]")) << out;
    EXPECT_EQ(tern("chat -m " + byte_model() + " -no-cnv < " + hi, &out), 1);
    EXPECT_TRUE(contains(out, "tern run")) << out;
    fs::remove(hi);
}

TEST(CliHabits, TheLastOfARepeatedOptionWins) {
    std::string a, b;
    ASSERT_EQ(tern("run -m " + byte_model() + " -p Hello -n 2 -n 4 --temp 1 --temp 0 --no-stats --print-ids 2>/dev/null", &a), 0)
        << a;
    ASSERT_EQ(tern("run -m " + byte_model() + " -p Hello -n 4 --temp 0 --no-stats --print-ids 2>/dev/null", &b), 0);
    EXPECT_EQ(a, b);
    EXPECT_EQ(std::count(a.begin(), a.end(), ','), 3) << a;
}

TEST(CliHabits, UnknownCommandListsTheRealOnesAndHelpShowsExamples) {
    std::string out;
    EXPECT_NE(tern("frobnicate", &out), 0);
    EXPECT_TRUE(contains(out, "unknown command 'frobnicate'")) << out;
    for (const char* c : {"run", "chat", "convert", "bench", "perplexity", "tokenize", "info", "serve"})
        EXPECT_TRUE(contains(out, c)) << c << "\n" << out;
    ASSERT_EQ(tern("--help", &out), 0);
    EXPECT_TRUE(contains(out, "Examples:")) << out;
    EXPECT_TRUE(contains(out, "tern run  -m model.gguf")) << out;
    EXPECT_TRUE(contains(out, "TERN_ISA")) << out;
}

TEST(CliHabits, NumbersAreCheckedWithTheFlagAndTheRange) {
    struct Case {
        std::string args, flag, range;
    };
    const Case cases[] = {
        {"--temp nan", "--temp", ">= 0"},
        {"--temp inf", "--temp", ">= 0"},
        {"--temp -1", "--temp", ">= 0"},
        {"--top-p 2", "--top-p", "from 0 to 1"},
        {"--min-p -1", "--min-p", "from 0 to 1"},
        {"--repeat-penalty 0", "--repeat-penalty", "> 0"},
        {"--repeat-penalty -2", "--repeat-penalty", "> 0"},
        {"--repeat-last-n -5", "--repeat-last-n", "0 (off) or more"},
        {"-n -5", "--n-predict", "-1 for no limit"},
        {"-t 0", "--threads", "give 1 to"},
        {"-t -1", "--threads", "give 1 to"},
        {"-b 0", "--batch-size", "1 or more"},
        {"-c -3", "--ctx-size", "a number of tokens"},
    };
    for (const auto& c : cases) {
        std::string out;
        EXPECT_NE(tern("run -m " + byte_model() + " -p Hi " + c.args, &out), 0) << c.args << "\n" << out;
        EXPECT_TRUE(contains(out, c.flag)) << c.args << "\n" << out;
        EXPECT_TRUE(contains(out, c.range)) << c.args << "\n" << out;
        EXPECT_LT(out.size(), 300u) << out;
    }
    std::string out;
    // More threads than cores: a warning, and it runs on what there is.
    ASSERT_EQ(tern("run -m " + byte_model() + " -p Hi -n 1 --temp 0 --no-stats -t 1000", &out), 0) << out;
    EXPECT_TRUE(contains(out, "1000 threads asked for")) << out;
    // A context beyond the training length: a warning; beyond memory: what it would take.
    ASSERT_EQ(tern("run -m " + byte_model() + " -p Hi -n 1 --temp 0 --no-stats -c 100000", &out), 0) << out;
    EXPECT_TRUE(contains(out, "warning: -c 100000: the model was trained on")) << out;
    EXPECT_EQ(tern("run -m " + byte_model() + " -p Hi -n 1 -c 99999999999", &out), 1) << out;
    EXPECT_TRUE(contains(out, "the KV cache alone would need")) << out;
    EXPECT_FALSE(contains(out, "bad_alloc")) << out;
}

// ---- run and chat ----

TEST(CliHabits, RunPromptHabits) {
    const std::string m = "run -m " + byte_model() + " --temp 0 --no-stats ";
    std::string out;
    // An empty prompt generates from BOS.
    ASSERT_EQ(tern(m + "-p '' -n 3 --verbose-prompt", &out), 0) << out;
    EXPECT_TRUE(contains(out, "number of tokens in prompt = 1")) << out;
    EXPECT_TRUE(contains(out, "   256 -> '<|begin_of_text|>'")) << out;
    // Escapes, on by default; --no-escape keeps the backslash.
    ASSERT_EQ(tern(m + "-p 'a\\nb\\t\\\\' --no-bos -n 0 --verbose-prompt", &out), 0) << out;
    EXPECT_TRUE(contains(out, "number of tokens in prompt = 5")) << out;  // a \n b \t backslash
    EXPECT_TRUE(contains(out, "    10 -> '")) << out;
    ASSERT_EQ(tern(m + "-p 'a\\nb' --no-bos -n 0 --verbose-prompt --no-escape", &out), 0) << out;
    EXPECT_TRUE(contains(out, "number of tokens in prompt = 4")) << out;
    EXPECT_TRUE(contains(out, "    92 -> '\\'")) << out;
    // -p and -f together, and a directory as -f.
    EXPECT_NE(tern(m + "-p Hi -f /etc/hostname", &out), 0);
    EXPECT_TRUE(contains(out, "excludes")) << out;
    EXPECT_EQ(tern(m + "-f /tmp", &out), 1);
    EXPECT_TRUE(contains(out, "is a directory")) << out;
}

TEST(CliHabits, RunReversePromptSeedAndIgnoreEos) {
    const std::string m = "run -m " + byte_model() + " -p Hello --no-display-prompt ";
    std::string full, out;
    ASSERT_EQ(tern(m + "-n 16 --temp 0 --no-stats 2>/dev/null", &full), 0);
    ASSERT_GT(full.size(), 8u) << full;
    // Stop at text from the middle of that continuation: printed up to it.
    const std::string stop = full.substr(5, 2);
    ASSERT_EQ(stop.find('\''), std::string::npos);
    ASSERT_EQ(tern(m + "-n 16 --temp 0 -r '" + stop + "'", &out), 0) << out;
    EXPECT_TRUE(contains(out, "[stopped: stop string]")) << out;
    EXPECT_EQ(out.substr(0, full.find(stop)), full.substr(0, full.find(stop)));
    // The seed actually used is printed, and reproduces the sample.
    ASSERT_EQ(tern(m + "-n 12 --temp 1.5 --top-k 0 --min-p 0 --print-ids 2>&1 >/dev/null", &out), 0) << out;
    std::smatch seed;
    ASSERT_TRUE(std::regex_search(out, seed, std::regex("seed: +([0-9]+)"))) << out;
    std::string a, b;
    ASSERT_EQ(tern(m + "-n 12 --temp 1.5 --top-k 0 --min-p 0 --print-ids --no-stats -s " + seed[1].str(), &a), 0);
    ASSERT_EQ(tern(m + "-n 12 --temp 1.5 --top-k 0 --min-p 0 --print-ids --no-stats -s " + seed[1].str(), &b), 0);
    EXPECT_EQ(a, b);
    // --ignore-eos: generation goes on to n_predict.
    ASSERT_EQ(tern(m + "-n 20 --temp 0 --ignore-eos --print-ids", &out), 0) << out;
    EXPECT_TRUE(contains(out, "[stopped: n_predict reached]")) << out;
}

std::string read_all(const std::string& path) {
    const auto b = test::read_file(path);
    return {b.begin(), b.end()};
}

TEST(CliHabits, CtrlCStopsRunWithStatus130) {
    const std::string err = test::temp_path("ctrlc.err");
    // While generating: stdout is a full pipe, so tern is held at its first
    // write, after the Ctrl-C handler is in place.
    {
        int fds[2];
        ASSERT_EQ(pipe(fds), 0);
        fcntl(fds[1], F_SETFL, O_NONBLOCK);
        const std::string fill(4096, 'x');
        while (write(fds[1], fill.data(), fill.size()) > 0) {
        }
        fcntl(fds[1], F_SETFL, 0);
        const pid_t pid = spawn_tern({"run", "-m", byte_model(), "-p", "Hello", "-n", "64"}, -1, fds[1], err);
        close(fds[1]);
        std::this_thread::sleep_for(std::chrono::milliseconds(1000));
        kill(pid, SIGINT);
        char buf[4096];
        while (read(fds[0], buf, sizeof buf) > 0) {
        }
        close(fds[0]);
        int status = 0;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status)) << status;
        EXPECT_EQ(WEXITSTATUS(status), 130);
        EXPECT_TRUE(contains(read_all(err), "[stopped: interrupted]")) << read_all(err);
    }
    // While reading the prompt from stdin (held open, never ended).
    {
        int fds[2];
        ASSERT_EQ(pipe(fds), 0);
        ASSERT_EQ(write(fds[1], "Hello", 5), 5);
        const pid_t pid = spawn_tern({"run", "-m", byte_model(), "-p", "-", "-n", "4"}, fds[0], -1, err);
        close(fds[0]);
        std::this_thread::sleep_for(std::chrono::milliseconds(1000));
        kill(pid, SIGINT);
        int status = 0;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        close(fds[1]);
        ASSERT_TRUE(WIFEXITED(status)) << status;
        EXPECT_EQ(WEXITSTATUS(status), 130);
        EXPECT_TRUE(contains(read_all(err), "interrupted while reading the prompt")) << read_all(err);
    }
    fs::remove(err);
}

TEST(CliHabits, ChatFirstMessageStopStringsAndColor) {
    const std::string none = test::temp_path("empty.txt");
    test::write_file(none, {});
    std::string out;
    // -p is the first message; -st ends after its reply; piped: no colour.
    ASSERT_EQ(tern("chat -m " + byte_model() + " --temp 0 -n 4 -p Hi -st --verbose-prompt < " + none, &out), 0) << out;
    EXPECT_TRUE(contains(out, "number of tokens in prompt")) << out;
    EXPECT_TRUE(contains(out, "<|begin_of_text|>")) << out;
    EXPECT_FALSE(contains(out, "\033[")) << out;
    EXPECT_TRUE(contains(out, "seed")) << out;
    ASSERT_EQ(tern("chat -m " + byte_model() + " --temp 0 -n 4 -p Hi --color < " + none, &out), 0) << out;
    EXPECT_TRUE(contains(out, "\033[32mHi\033[0m")) << out;
    ASSERT_EQ(tern("chat -m " + byte_model() + " --temp 0 -n 4 -p Hi --color off < " + none, &out), 0) << out;
    EXPECT_FALSE(contains(out, "\033[")) << out;
    fs::remove(none);
}

// On a terminal (script(1) gives chat a pseudo-terminal): libedit's history
// brings back the last message with the up arrow, and the user's text is in
// colour unless NO_COLOR is set.
TEST(CliHabits, ChatOnATerminalHasHistoryAndColour) {
    if (std::system("command -v script > /dev/null") != 0) GTEST_SKIP() << "needs script (bsdutils)";
    const std::string keys = test::temp_path("keys.txt");
    const std::string typed = "Hi\n\033[A\n";  // a message, then up-arrow and Enter
    test::write_file(keys, std::vector<uint8_t>(typed.begin(), typed.end()));
    auto on_tty = [&](const std::string& env) {
        const std::string cmd = "timeout 60 script -qec \"" + env + std::string(TERN_BINARY) + " chat -m " + byte_model() +
                                " --temp 0 -n 2 --verbose-prompt\" /dev/null < " + keys;
        std::string out;
        FILE* p = popen(cmd.c_str(), "r");
        char buf[4096];
        size_t n;
        while (p && (n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
        if (p) pclose(p);
        return out;
    };
    const std::string out = on_tty("");
    // Both turns sent "Hi": the second was recalled from history, not typed as an escape sequence.
    std::string::size_type first = out.find("User: Hi<|eot_id|>"), second = out.rfind("User: Hi<|eot_id|>");
    EXPECT_NE(first, std::string::npos) << out;
    EXPECT_NE(first, second) << out;
    EXPECT_TRUE(contains(out, "\033[32m")) << out;
    EXPECT_FALSE(contains(on_tty("NO_COLOR=1 "), "\033[32m"));
    fs::remove(keys);
}

}  // namespace
}  // namespace tern
