// One sequence being evaluated: its KV cache, activations and logits.
//
//   tern::Session s(model, {.n_ctx = 2048, .n_threads = 4});
//   s.eval(tokens);                       // prefill (batched)
//   const float* logits = s.logits(-1);   // [n_vocab] for the last token
//   s.save("chat.session");               // ... later, in another process:
//   s.load("chat.session");               // the same tokens and KV cache again
//
// Thread safety: a Session is used by one thread at a time. Sessions are
// independent: several threads may each evaluate their own Session on the
// same Model at once, and each gets exactly the logits it gets alone. A
// Session keeps its Model's weights alive (it holds a copy of the handle).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tern/model.h"

namespace tern {

class ThreadPool;

struct SessionOptions {
    int64_t n_ctx = 0;      // 0 = the model's training context
    int64_t n_batch = 512;  // tokens per prefill step
    int n_threads = 0;      // 0 = all hardware threads
    bool kv_f16 = false;    // store the KV cache as fp16 (half the memory)
};

class Session {
public:
    explicit Session(Model model, const SessionOptions& opts = {});
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // Appends `tokens` at positions n_past() ... and runs them through the
    // model in batches of n_batch. Logits are kept for every evaluated token
    // when `all_logits`, else only for the last one. Throws tern::Error if the
    // context would overflow or a token id is out of range.
    void eval(std::span<const int32_t> tokens, bool all_logits = false);

    // Logits of evaluated token i of the last eval() call (i < 0 counts from
    // the end; with all_logits = false one row is kept: 0 or -1). [n_vocab] floats.
    const float* logits(int64_t i = -1) const;
    int64_t n_logits() const;

    int64_t n_past() const;
    int64_t n_ctx() const { return n_ctx_; }
    int64_t n_vocab() const;
    // The tokens at positions 0 .. n_past() - 1.
    const std::vector<int32_t>& tokens() const;
    // Forgets positions >= n (n <= n_past): the next eval continues from n.
    void truncate(int64_t n);
    void reset() { truncate(0); }

    // Writes the state (tokens, KV cache of positions 0 .. n_past() - 1, the
    // last logits) to `path`: a small versioned binary format that names the
    // model by its fingerprint. Written to path.tmp and renamed on success.
    void save(const std::string& path) const;
    // Replaces this session's state with one save() wrote. Throws tern::Error
    // (and leaves the session as it was) if the file is not a session file,
    // belongs to another model, holds more positions than n_ctx(), or was
    // saved with another KV cache type.
    void load(const std::string& path);

    const Model& model() const { return model_; }
    int n_threads() const;
    ThreadPool& pool();  // the library's own (src/runtime/thread_pool.h)

private:
    struct State;

    Model model_;
    int64_t n_ctx_ = 0;
    int64_t n_batch_ = 0;
    std::unique_ptr<State> st_;
    std::vector<float> logits_;  // [n_logits, n_vocab]
    int64_t n_logits_ = 0;
};

}  // namespace tern
