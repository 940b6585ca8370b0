// A damaged or hostile model file is a clear error, never a crash: every
// metadata value of a real model replaced by values of the wrong type or out
// of range (or removed), every tensor removed, reshaped or retyped, and the
// result loaded and used the way the CLI uses it. Each either works or throws
// tern::Error naming the file; any other exception fails here, and a crash or
// a memory error fails the whole run (the test command runs it under ASan
// and UBSan too).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "test_util.h"
#include "tern/chat.h"
#include "tern/embed.h"
#include "tern/error.h"
#include "tern/gguf.h"
#include "tern/model.h"
#include "tern/session.h"
#include "tern/tokenizer.h"

namespace tern {
namespace {

using gguf::Value;
using gguf::ValueType;

// What `tern run`, `chat` and `embed` do with a loaded model, in small:
// describe, tokenize and detokenize, render the chat template, evaluate.
void use(const Model& m) {
    const ModelInfo info = m.info();
    if (info.has_tokenizer) {
        const Tokenizer tok = Tokenizer::from_model(m);
        const auto ids = tok.encode("Hello <|eot_id|> <s> w\xC3\xB6rld \xE6\x97\xA5 \xFF", true, true);
        (void)tok.decode(ids, true);
        for (int32_t id = 0; id < 300 && id < info.n_vocab; ++id) (void)tok.decode({id}, true);
        const ChatTemplate t = ChatTemplate::for_model(m, tok);
        (void)ChatTemplate::tokenize(tok, t.render({{"user", "hi"}}));
        (void)t.stop_tokens(tok);
    }
    const std::vector<int32_t> tokens = {1, 2, 3};
    if (!info.has_output_head) {
        EmbedOptions eo;
        eo.n_threads = 2;
        eo.n_ctx = 64;
        Embedder e(m, eo);
        const std::vector<std::vector<int32_t>> inputs = {tokens, {2}};
        (void)e.embed(inputs);
        return;
    }
    SessionOptions so;
    so.n_threads = 2;
    so.n_ctx = 64;
    Session s(m, so);
    s.eval(tokens);
    s.eval(std::vector<int32_t>{4});
    (void)s.logits();
}

struct Damage {
    std::string key;  // metadata: replaced by `value`, or removed when `remove`
    bool remove = false;
    Value value;
    std::string tensor;  // tensor: how it is damaged
    enum class How { none, remove, wider, transposed, as_f32, flat } how = How::none;

    std::string describe() const {
        if (!tensor.empty()) {
            const char* names[] = {"", "removed", "one column wider", "transposed", "stored as F32", "flattened"};
            return "tensor '" + tensor + "' " + names[int(how)];
        }
        return "key '" + key + "' " + (remove ? std::string("removed") : "set to a value of type " +
                                                                            std::to_string(uint32_t(value.type)));
    }
};

void write_damaged(const gguf::File& f, const Damage& d, const std::string& out) {
    gguf::Writer w;
    for (const auto& [k, v] : f.metadata()) {
        if (k == "general.alignment") continue;
        if (k == d.key) {
            if (!d.remove) w.set(k, d.value);
        } else {
            w.set(k, v);
        }
    }
    for (const auto& t : f.tensors()) {
        std::vector<int64_t> dims = t.dims;
        uint32_t type = t.type;
        if (t.name == d.tensor) {
            switch (d.how) {
                case Damage::How::remove: continue;
                case Damage::How::wider: dims[0] += 1; break;
                case Damage::How::transposed:
                    if (dims.size() >= 2) std::swap(dims[0], dims[1]);
                    break;
                case Damage::How::as_f32: type = 0; break;  // GGML type 0 is F32
                case Damage::How::flat: dims = {t.n_elements}; break;
                case Damage::How::none: break;
            }
        }
        const auto bytes = gguf::tensor_bytes(type, dims);
        if (!bytes) continue;  // a shape the type cannot hold (I2_S one column wider): left out
        std::vector<uint8_t> data(*bytes, 0);
        std::copy(t.data, t.data + std::min<uint64_t>(t.n_bytes, *bytes), data.begin());
        w.add_tensor(t.name, dims, type, std::move(data));
    }
    w.write(out);
}

std::vector<Damage> damages(const gguf::File& f) {
    const std::vector<Value> hostile = {
        Value::u32(0),        Value::u32(0xFFFFFFFFu), Value::u64(uint64_t(1) << 40), Value::i32(-1),
        Value::f32(NAN),      Value::f32(0.0f),        Value::str(""),                Value::strings({}),
        Value::i32s({-1, 5}),
    };
    std::vector<Damage> out;
    for (const auto& [k, v] : f.metadata()) {
        if (k == "general.alignment") continue;
        Damage removed;
        removed.key = k;
        removed.remove = true;
        out.push_back(removed);
        for (const Value& h : hostile) {
            Damage d;
            d.key = k;
            d.value = h;
            out.push_back(d);
        }
        if (v.type == ValueType::ARRAY && v.items.size() > 1) {  // one element, or half of them
            for (size_t n : {size_t(1), v.items.size() / 2}) {
                Damage d;
                d.key = k;
                d.value = v;
                d.value.items.resize(n);
                out.push_back(d);
            }
        }
    }
    for (const auto& t : f.tensors())
        for (auto how : {Damage::How::remove, Damage::How::wider, Damage::How::transposed, Damage::How::as_f32,
                         Damage::How::flat}) {
            Damage d;
            d.tensor = t.name;
            d.how = how;
            out.push_back(d);
        }
    return out;
}

class HostileModel : public ::testing::TestWithParam<std::string> {};

TEST_P(HostileModel, EveryDamageWorksOrIsAClearError) {
    const std::string src = GetParam();
    const gguf::File f = gguf::File::open(src);
    const std::string path = test::temp_path("damaged.gguf");
    int loaded = 0, refused = 0;
    for (const Damage& d : damages(f)) {
        write_damaged(f, d, path);
        std::optional<Model> m;
        try {
            LoadOptions lo;
            lo.n_threads = 1;
            m = Model::load(path, lo);
        } catch (const Error& e) {
            ++refused;
            const std::string msg = e.what();
            EXPECT_NE(msg.find(path), std::string::npos) << d.describe() << ": the message names no file: " << msg;
            continue;
        } catch (const std::exception& e) {
            ADD_FAILURE() << d.describe() << ": load threw something else than tern::Error: " << e.what();
            continue;
        }
        ++loaded;
        try {
            use(*m);
        } catch (const Error&) {
        } catch (const std::exception& e) {
            ADD_FAILURE() << d.describe() << ": using it threw something else than tern::Error: " << e.what();
        }
    }
    std::filesystem::remove(path);
    // Both outcomes occur: damage the loader must refuse, and damage it can live with
    // (a missing name, an unused key).
    EXPECT_GT(refused, 100);
    EXPECT_GT(loaded, 10);
}

INSTANTIATE_TEST_SUITE_P(Models, HostileModel,
                         ::testing::Values(std::string(TERN_SOURCE_DIR) + "/models/tern-tinystories-4m.gguf",
                                           std::string(TERN_TEST_DATA_DIR) + "/models/llama_i2s_g2.gguf",
                                           std::string(TERN_TEST_DATA_DIR) + "/models/b25_tq1_g2.gguf",
                                           std::string(TERN_TEST_DATA_DIR) + "/models/qwen3_i2s_embd.gguf",
                                           std::string(TERN_TEST_DATA_DIR) + "/models/gemma3_i2s_embd.gguf"),
                         [](const auto& p) {
                             std::string n = std::filesystem::path(p.param).stem().string();
                             for (char& c : n)
                                 if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                             return n;
                         });

}  // namespace
}  // namespace tern
