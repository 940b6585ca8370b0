// The public library API from a user's side (include/tern only): the Model
// handle outliving its caller, sessions on several threads at once, session
// files, sampler validation, the generation loop's stops, and the bundled
// model's golden transcript through generate().
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <optional>
#include <thread>

#include "tern/batch.h"
#include "tern/chat.h"
#include "tern/generate.h"
#include "tern/gguf.h"
#include "tern/model.h"
#include "tern/sampler.h"
#include "tern/session.h"
#include "tern/tokenizer.h"
#include "test_util.h"

namespace tern {
namespace {

const std::string kModel = std::string(TERN_SOURCE_DIR) + "/models/tern-tinystories-4m.gguf";
const std::string kGolden = std::string(TERN_TEST_DATA_DIR) + "/tinystories_greedy48.txt";
const std::string kPrompt = "Once upon a time";

std::string golden_continuation() {
    const auto b = test::read_file(kGolden);
    std::string s(b.begin(), b.end());
    EXPECT_EQ(s.rfind(kPrompt, 0), 0u);
    EXPECT_EQ(s.back(), '\n');
    return s.substr(kPrompt.size(), s.size() - kPrompt.size() - 1);
}

GenerateOptions greedy(int64_t n) {
    GenerateOptions o;
    o.n_predict = n;
    o.sampling.temp = 0;
    return o;
}

std::vector<float> last_logits(Session& s) { return {s.logits(-1), s.logits(-1) + s.n_vocab()}; }

TEST(Library, GreedyGenerationIsTheGoldenTranscript) {
    const Model model = Model::load(kModel);
    const Tokenizer tok = Tokenizer::from_model(model);
    Session s(model, {.n_ctx = 256, .n_threads = 2});
    std::string streamed;
    int calls = 0;
    const GenerateResult r = generate(s, &tok, tok.encode(kPrompt, true, false), greedy(48), [&](std::string_view p, int32_t) {
        streamed += p;
        ++calls;
        return true;
    });
    EXPECT_EQ(r.text, golden_continuation());
    EXPECT_EQ(streamed, r.text);
    EXPECT_EQ(r.reason, StopReason::length);
    EXPECT_EQ(r.n_generated, 48);
    EXPECT_GE(calls, 48);
    EXPECT_EQ(r.n_prompt, int64_t(tok.encode(kPrompt, true, false).size()));
    EXPECT_EQ(s.n_past(), r.n_prompt + 48);  // the session holds prompt and reply
}

TEST(Library, ModelInfo) {
    const Model model = Model::load(kModel);
    const ModelInfo& i = model.info();
    EXPECT_EQ(i.architecture, "bitnet-b1.58");
    EXPECT_EQ(i.n_vocab, 4096);
    EXPECT_EQ(i.n_embd, 256);
    EXPECT_EQ(i.n_layer, 4);
    EXPECT_EQ(i.n_head, 4);
    EXPECT_EQ(i.n_head_kv, 2);
    EXPECT_EQ(i.n_ctx_train, 256);
    EXPECT_EQ(i.ffn_act, FfnAct::relu2);
    EXPECT_EQ(i.n_params, 4200704);
    EXPECT_TRUE(i.has_tokenizer);
    EXPECT_FALSE(i.kernel_table.empty());
    EXPECT_NE(i.fingerprint, 0u);
}

// What one token costs, counted from the file's own tensor table: the
// projections' ternary multiply-adds, and the bytes a generated token reads —
// ternary projections at 2 bits a weight as packed, float ones as stored, the
// output matrix, every norm gain; never the embedding table (unless it is the
// output matrix). Packing pads tiny shapes (columns to a multiple of 256,
// rows to a tile), so those only bound the bytes; the others must match.
TEST(Library, ModelInfoCountsWhatATokenReads) {
    const std::string data = std::string(TERN_TEST_DATA_DIR) + "/models/";
    struct Case {
        std::string path;
        bool ternary;  // projections ternary in memory (F16 masters of a bitnet file are ternarized at load)
        bool exact;    // shapes the packing does not pad
    };
    const auto up = [](int64_t v, int64_t m) { return (v + m - 1) / m * m; };
    for (const Case& c : {Case{kModel, true, true}, Case{data + "b25_tq1_g2.gguf", true, true},
                          Case{data + "b158_f16_g2.gguf", true, false}, Case{data + "gemma3_i2s_embd.gguf", true, false},
                          Case{data + "gemma3_f16_embd.gguf", false, true}}) {
        SCOPED_TRACE(c.path);
        const Model model = Model::load(c.path);
        const gguf::File& f = model.file();
        int64_t macs = 0;
        uint64_t lo = 0, hi = 0;  // the bytes unpadded, and with the most padding
        bool has_output = false;
        for (const auto& t : f.tensors()) {
            const std::string& n = t.name;
            const bool projection = n.rfind("blk.", 0) == 0 && n.find("_norm") == std::string::npos &&
                                    (n.find("attn_") != std::string::npos || n.find("ffn_") != std::string::npos);
            uint64_t b = 0, b_hi = 0;
            if (projection && c.ternary) {
                macs += t.n_elements;
                b = uint64_t(t.n_elements / 4);
                b_hi = uint64_t(up(t.dims[1], 64) * up(t.dims[0], 256) / 4);
            } else if (projection) {
                b = t.n_bytes;
            } else if (n.find("norm") != std::string::npos) {
                b = uint64_t(t.n_elements) * 4;  // gains as f32
            } else if (n == "output.weight") {
                b = t.n_bytes;
                has_output = true;
            }
            lo += b;
            hi += std::max(b, b_hi);
        }
        if (!has_output && model.info().has_output_head) {  // tied: the embedding table is the output matrix
            lo += f.tensor("token_embd.weight").n_bytes;
            hi += f.tensor("token_embd.weight").n_bytes;
        }
        EXPECT_EQ(model.info().ternary_macs_per_token, macs);
        if (c.exact) {
            EXPECT_EQ(model.info().bytes_per_token, lo);
        } else {
            EXPECT_GT(model.info().bytes_per_token, lo);  // these shapes are padded
            EXPECT_LE(model.info().bytes_per_token, hi);
        }
        EXPECT_GT(lo, 0u);
    }
}

// --output-type: the output matrix requantized at load. The file's own type
// changes nothing; Q8_0, Q6_K, Q5_K and Q4_K move the logits a little, never the argmax
// of a clear winner; names the loader does not write, and a model without an
// output matrix, are errors.
TEST(Library, OutputTypeRequantizesTheOutputMatrix) {
    const Model file = Model::load(kModel);
    ASSERT_EQ(file.info().output_type, "F16");
    const Tokenizer tok = Tokenizer::from_model(file);
    const std::vector<int32_t> tokens = tok.encode(kPrompt, true, false);
    auto logits = [&](const Model& m) {
        Session s(m, {.n_ctx = 256, .n_threads = 2});
        s.eval(tokens, true);
        std::vector<float> all;
        for (int64_t i = 0; i < int64_t(tokens.size()); ++i)
            all.insert(all.end(), s.logits(int(i)), s.logits(int(i)) + s.n_vocab());
        return all;
    };
    const std::vector<float> want = logits(file);
    EXPECT_EQ(logits(Model::load(kModel, {.output_type = "f16"})), want);  // the file's type: untouched
    // Worst logit error allowed, as a share of the largest logit: each format's resolution.
    for (const auto& [type, share] : {std::pair{"q8_0", 0.01f}, {"Q6_K", 0.03f}, {"q5_k", 0.06f}, {"Q4_K", 0.1f}}) {
        const Model m = Model::load(kModel, {.output_type = type});
        std::string upper = type;
        for (char& ch : upper) ch = char(std::toupper(static_cast<unsigned char>(ch)));
        EXPECT_EQ(m.info().output_type, upper);
        const std::vector<float> got = logits(m);
        ASSERT_EQ(got.size(), want.size());
        const int64_t V = file.info().n_vocab;
        float worst = 0, top = 0;
        int agree = 0, rows = 0;
        for (size_t r = 0; r < want.size() / size_t(V); ++r) {
            const float* a = &want[r * size_t(V)];
            const float* b = &got[r * size_t(V)];
            for (int64_t j = 0; j < V; ++j) worst = std::max(worst, std::fabs(a[j] - b[j])), top = std::max(top, std::fabs(a[j]));
            agree += int(std::max_element(a, a + V) - a == std::max_element(b, b + V) - b);
            ++rows;
        }
        EXPECT_GT(worst, 0.0f) << type;           // requantized, not the file's matrix
        EXPECT_LT(worst, share * top) << type;   // and close to it
        EXPECT_GE(agree, rows - 1) << type;
    }
    try {
        Model::load(kModel, {.output_type = "q4_0"});
        ADD_FAILURE() << "q4_0 loaded";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("f32, f16, q8_0, q4_k, q5_k or q6_k"), std::string::npos) << e.what();
    }
    EXPECT_THROW(Model::load(std::string(TERN_TEST_DATA_DIR) + "/models/qwen3_i2s_embd.gguf", {.output_type = "q8_0"}), Error);
}

// The session keeps the weights alive: the caller's Model may be moved away
// and destroyed while the session runs (run under ASan in CI).
TEST(Library, SessionOutlivesTheCallersModel) {
    const std::vector<int32_t> tokens = {1, 200, 300, 400, 500};
    std::vector<float> want;
    {
        const Model m = Model::load(kModel);
        Session s(m, {.n_ctx = 64, .n_threads = 1});
        s.eval(tokens);
        want = last_logits(s);
    }
    std::optional<Model> m = Model::load(kModel);
    Session s(*m, {.n_ctx = 64, .n_threads = 1});
    Model moved = std::move(*m);
    m.reset();
    { const Model gone = std::move(moved); }
    s.eval(tokens);
    EXPECT_EQ(last_logits(s), want);
    EXPECT_EQ(s.model().info().n_vocab, 4096);
}

// One Model, several Sessions evaluating on their own threads at once: each
// gets exactly the logits it gets alone (run under TSan in CI).
TEST(Library, ConcurrentSessionsOnOneModel) {
    const Model model = Model::load(kModel);
    const Tokenizer tok = Tokenizer::from_model(model);
    const std::vector<std::string> prompts = {"Once upon a time", "The dog ran to the park and", "Lily had a red ball.",
                                              "Tom was sad because"};
    auto run = [&](const std::string& p, std::vector<float>& out) {
        Session s(model, {.n_ctx = 128, .n_threads = 1});
        s.eval(tok.encode(p, true, false));
        for (int k = 0; k < 8; ++k) {  // a few decode steps too
            const int32_t id = int32_t(std::max_element(s.logits(-1), s.logits(-1) + s.n_vocab()) - s.logits(-1));
            s.eval(std::span<const int32_t>(&id, 1));
        }
        out = last_logits(s);
    };
    std::vector<std::vector<float>> alone(prompts.size()), together(prompts.size());
    for (size_t i = 0; i < prompts.size(); ++i) run(prompts[i], alone[i]);
    std::vector<std::thread> threads;
    for (size_t i = 0; i < prompts.size(); ++i) threads.emplace_back([&, i] { run(prompts[i], together[i]); });
    for (auto& t : threads) t.join();
    for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(together[i], alone[i]) << prompts[i];
    EXPECT_NE(alone[0], alone[1]);
}

TEST(Library, SessionFileRoundTrip) {
    const Model model = Model::load(kModel);
    const Tokenizer tok = Tokenizer::from_model(model);
    const std::string path = test::temp_path("tern.session");
    // Continuing after save/load gives the same text as continuing at once.
    Session a(model, {.n_ctx = 200, .n_threads = 2});
    const auto first = generate(a, &tok, tok.encode(kPrompt, true, false), greedy(20));
    a.save(path);
    const auto rest_a = generate(a, &tok, {}, greedy(28));

    Session b(model, {.n_ctx = 100, .n_threads = 1});  // another n_ctx: the file does not depend on it
    b.load(path);
    EXPECT_EQ(b.tokens(), std::vector<int32_t>(a.tokens().begin(), a.tokens().begin() + b.n_past()));
    const auto rest_b = generate(b, &tok, {}, greedy(28));
    EXPECT_EQ(rest_b.text, rest_a.text);
    EXPECT_EQ(first.text + rest_b.text, golden_continuation());

    // fp16 KV cache: a clear error, and the session is left as it was.
    Session f16(model, {.n_ctx = 100, .n_threads = 1, .kv_f16 = true});
    try {
        f16.load(path);
        ADD_FAILURE() << "loaded an f32 session into an fp16 one";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("kv_f16"), std::string::npos) << e.what();
    }
    EXPECT_EQ(f16.n_past(), 0);
    // Too small a context.
    Session tiny(model, {.n_ctx = 8, .n_threads = 1});
    EXPECT_THROW(tiny.load(path), Error);
    // Truncated files, and a file that is not a session.
    const auto bytes = test::read_file(path);
    for (size_t n : {size_t(0), size_t(7), size_t(12), size_t(40), bytes.size() / 2, bytes.size() - 1}) {
        test::write_file(path + ".cut", std::vector<uint8_t>(bytes.begin(), bytes.begin() + long(n)));
        Session c(model, {.n_ctx = 100, .n_threads = 1});
        EXPECT_THROW(c.load(path + ".cut"), Error) << n;
        EXPECT_EQ(c.n_past(), 0);
    }
    EXPECT_THROW(b.load(kModel), Error);
    std::remove((path + ".cut").c_str());
    std::remove(path.c_str());
}

TEST(Library, SessionFileIsRefusedForAnotherModel) {
    const std::string other = test::temp_path("other.gguf");
    test::TinyShape shape;
    test::write_bitnet_cpp_style_gguf(other, shape, 5);
    const Model a = Model::load(other);
    Session s(a, {.n_ctx = 32, .n_threads = 1});
    s.eval(std::vector<int32_t>{1, 2, 3});
    const std::string path = test::temp_path("other.session");
    s.save(path);
    // Same shapes, other weights: still another model.
    const std::string twin = test::temp_path("twin.gguf");
    test::write_bitnet_cpp_style_gguf(twin, shape, 6);
    Session t(Model::load(twin), {.n_ctx = 32, .n_threads = 1});
    try {
        t.load(path);
        ADD_FAILURE() << "loaded another model's session";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("another model"), std::string::npos) << e.what();
    }
    Session u(Model::load(other), {.n_ctx = 32, .n_threads = 1});
    u.load(path);
    EXPECT_EQ(u.tokens(), (std::vector<int32_t>{1, 2, 3}));
    for (const auto& p : {other, twin, path}) std::remove(p.c_str());
}

TEST(Library, SamplerRejectsInvalidParameters) {
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    struct Case {
        SamplingParams p;
        const char* name;
    };
    std::vector<Case> cases;
    auto add = [&](auto set, const char* name) {
        SamplingParams p;
        set(p);
        cases.push_back({p, name});
    };
    add([&](SamplingParams& p) { p.temp = nan; }, "temp");
    add([&](SamplingParams& p) { p.temp = inf; }, "temp");
    add([&](SamplingParams& p) { p.temp = -1; }, "temp");
    add([&](SamplingParams& p) { p.top_k = -1; }, "top_k");
    add([&](SamplingParams& p) { p.top_p = 2; }, "top_p");
    add([&](SamplingParams& p) { p.top_p = nan; }, "top_p");
    add([&](SamplingParams& p) { p.min_p = -0.5f; }, "min_p");
    add([&](SamplingParams& p) { p.repeat_penalty = 0; }, "repeat_penalty");
    add([&](SamplingParams& p) { p.repeat_penalty = -inf; }, "repeat_penalty");
    add([&](SamplingParams& p) { p.repeat_last_n = -5; }, "repeat_last_n");
    for (const Case& c : cases) {
        try {
            Sampler s(c.p);
            ADD_FAILURE() << c.name << " accepted";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(c.name), std::string::npos) << e.what();
        }
    }
    EXPECT_NO_THROW(Sampler(SamplingParams{}));
}

TEST(Library, GenerateStops) {
    const Model model = Model::load(kModel);
    const Tokenizer tok = Tokenizer::from_model(model);
    const auto prompt = tok.encode(kPrompt, true, false);
    const std::string golden = golden_continuation();

    // A stop string that spans tokens: the text ends just before it, and it
    // is never streamed.
    const std::string stop = "little girl";
    ASSERT_FALSE(tok.token_id(stop).has_value());
    GenerateOptions o = greedy(48);
    o.stop = {"zebra", stop};
    Session s(model, {.n_ctx = 256, .n_threads = 2});
    std::string streamed;
    auto r = generate(s, &tok, prompt, o, [&](std::string_view p, int32_t) {
        streamed += p;
        return true;
    });
    EXPECT_EQ(r.reason, StopReason::stop_string);
    EXPECT_EQ(r.text, golden.substr(0, golden.find(stop)));
    EXPECT_EQ(streamed, r.text);

    // The callback stops it.
    s.reset();
    int n = 0;
    r = generate(s, &tok, prompt, greedy(48), [&](std::string_view, int32_t) { return ++n < 5; });
    EXPECT_EQ(r.reason, StopReason::cancelled);
    EXPECT_EQ(r.n_generated, 5);

    // A full context.
    Session small(model, {.n_ctx = int64_t(prompt.size()) + 3, .n_threads = 1});
    r = generate(small, &tok, prompt, greedy(-1));
    EXPECT_EQ(r.reason, StopReason::context_full);
    EXPECT_EQ(r.n_generated, 4);

    // An extra stop token: the model's first generated token.
    s.reset();
    o = greedy(48);
    o.stop_tokens = {generate(s, &tok, prompt, greedy(1)).tokens.at(0)};
    s.reset();
    r = generate(s, &tok, prompt, o);
    EXPECT_EQ(r.reason, StopReason::eos);
    EXPECT_EQ(r.n_generated, 0);
    EXPECT_EQ(r.text, "");

    // Bad input: a prompt that does not fit, an empty prompt with nothing to continue.
    Session fresh(model, {.n_ctx = 8, .n_threads = 1});
    EXPECT_THROW(generate(fresh, &tok, std::vector<int32_t>(9, 5), greedy(1)), Error);
    EXPECT_THROW(generate(fresh, &tok, {}, greedy(1)), Error);
    GenerateOptions bad = greedy(1);
    bad.sampling.top_p = 7;
    EXPECT_THROW(generate(fresh, &tok, prompt, bad), Error);
}

TEST(Library, ChatTemplateForModel) {
    const Model model = Model::load(kModel);
    const Tokenizer tok = Tokenizer::from_model(model);
    std::string why;
    const ChatTemplate t = ChatTemplate::for_model(model, tok, &why);
    EXPECT_EQ(t.name(), "llama2");
    EXPECT_FALSE(why.empty());
    const auto ids = ChatTemplate::tokenize(tok, t.render({{"user", "Hi"}}));
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(ids[0], tok.bos());
}

TEST(Library, TokenizerFromAModelWithoutOne) {
    // The golden model without its tokenizer.ggml.* keys.
    const gguf::File src = gguf::File::open(std::string(TERN_TEST_DATA_DIR) + "/models/b158_i2s_g4.gguf");
    gguf::Writer w;
    for (const auto& [key, v] : src.metadata())
        if (key.rfind("tokenizer.", 0) != 0) w.set(key, v);
    for (const auto& t : src.tensors())
        w.add_tensor(t.name, t.dims, t.type, std::vector<uint8_t>(t.data, t.data + t.n_bytes));
    const std::string path = test::temp_path("novocab.gguf");
    w.write(path);
    const Model m = Model::load(path);
    EXPECT_FALSE(m.info().has_tokenizer);
    try {
        (void)Tokenizer::from_model(m);
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("has no tokenizer"), std::string::npos) << e.what();
    }
    std::remove(path.c_str());
}

}  // namespace
}  // namespace tern

namespace tern {
namespace {

// Continuous batching: sequences evaluated together — prompts as chunks in
// the same pass as other sequences' decode steps, joining at different times,
// split across passes — get bit for bit the logits each gets alone.
TEST(Batch, EverySequenceGetsItsSoloLogits) {
    const Model model = Model::load(kModel);
    const Tokenizer tok = Tokenizer::from_model(model);
    const std::vector<std::string> prompts = {"Once upon a time", "The dog ran to the park and", "Lily had a red ball.",
                                              "Tom was sad because"};
    const int steps = 12;
    auto argmax = [&](const float* l) { return int32_t(std::max_element(l, l + model.info().n_vocab) - l); };
    // Alone: greedy, recording every step's logits.
    std::vector<std::vector<std::vector<float>>> solo(prompts.size());
    for (size_t i = 0; i < prompts.size(); ++i) {
        Session s(model, {.n_ctx = 128, .n_threads = 2});
        s.eval(tok.encode(prompts[i], true, false));
        for (int k = 0; k < steps; ++k) {
            solo[i].push_back(last_logits(s));
            const int32_t id = argmax(s.logits(-1));
            s.eval(std::span<const int32_t>(&id, 1));
        }
    }
    // Together: sequence i joins at step 2 * i; n_batch 16 splits the first passes.
    BatchSession b(model, {.n_seq = 4, .n_ctx = 128, .n_batch = 16, .n_threads = 2});
    std::vector<int> done(prompts.size(), 0);
    std::vector<int32_t> next(prompts.size(), -1);
    for (int step = 0; step < 2 * int(prompts.size()) + steps; ++step) {
        std::vector<BatchSession::Item> items;
        for (size_t i = 0; i < prompts.size(); ++i) {
            if (step < 2 * int(i) || done[i] == steps) continue;
            if (step == 2 * int(i)) {
                const auto ids = tok.encode(prompts[i], true, false);
                for (size_t k = 0; k < ids.size(); ++k) items.push_back({int(i), ids[k], k + 1 == ids.size()});
            } else {
                items.push_back({int(i), next[i], true});
            }
        }
        if (items.empty()) continue;
        b.eval(items);
        for (size_t j = 0; j < items.size(); ++j) {
            if (!items[j].logits) continue;
            const size_t i = size_t(items[j].seq);
            const float* l = b.logits(j);
            ASSERT_EQ(std::vector<float>(l, l + model.info().n_vocab), solo[i][size_t(done[i])])
                << "sequence " << i << " step " << done[i];
            next[i] = argmax(l);
            ++done[i];
        }
    }
    for (int d : done) EXPECT_EQ(d, steps);
    EXPECT_EQ(b.n_past(0), int64_t(tok.encode(prompts[0], true, false).size()) + steps - 1);
}

TEST(Batch, BadInputEvaluatesNothing) {
    const Model model = Model::load(kModel);
    BatchSession b(model, {.n_seq = 2, .n_ctx = 8, .n_threads = 1});
    using I = BatchSession::Item;
    EXPECT_THROW(b.eval(std::vector<I>{{2, 5}}), Error);                      // no such sequence
    EXPECT_THROW(b.eval(std::vector<I>{{0, 5}, {0, 99999}}), Error);          // token id
    EXPECT_THROW(b.eval(std::vector<I>{{0, 5}, {1, 6}, {0, 7}}), Error);      // sequence 0 split
    EXPECT_THROW(b.eval(std::vector<I>(9, I{1, 5})), Error);                  // context full
    EXPECT_EQ(b.n_past(0), 0);
    EXPECT_EQ(b.n_past(1), 0);
    b.eval(std::vector<I>{{1, 5}, {1, 6, true}});
    EXPECT_EQ(b.tokens(1), (std::vector<int32_t>{5, 6}));
    EXPECT_THROW(b.logits(0), Error);  // did not ask for logits
    EXPECT_NO_THROW(b.logits(1));
    b.truncate(1, 1);
    EXPECT_EQ(b.n_past(1), 1);
}

}  // namespace
}  // namespace tern
