// Many sequences evaluated together (continuous batching): one eval() runs a
// token — or a prompt chunk — of every active sequence through ONE forward
// pass, so each weight matrix is read once per step for all of them. Decode
// is memory-bound: N sequences cost little more than one.
//
//   tern::BatchSession b(model, {.n_seq = 8, .n_ctx = 2048});
//   std::vector<tern::BatchSession::Item> items = {{0, 1, false}, {0, 450, true},   // seq 0: a prompt chunk
//                                                  {1, 791, true}};                  // seq 1: one decode token
//   b.eval(items);
//   const float* l0 = b.logits(1);   // the logits of items[1] (seq 0's last token)
//   const float* l1 = b.logits(2);   // ... and of items[2]
//
// A sequence's result does not depend on what else is in the batch: every
// token's logits are bit for bit those a Session computes for it alone.
//
// Thread safety: a BatchSession is used by one thread at a time (a server
// runs one engine thread over it); it shares its Model like a Session does.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "tern/model.h"

namespace tern {

struct BatchOptions {
    int n_seq = 8;          // sequences (slots)
    int64_t n_ctx = 0;      // positions per sequence; 0 = the model's training context
    int64_t n_batch = 512;  // tokens per forward pass (an eval() of more runs several)
    int n_threads = 0;      // 0 = all hardware threads
    bool kv_f16 = false;
};

class BatchSession {
public:
    struct Item {
        int seq;             // 0 .. n_seq() - 1
        int32_t token;
        bool logits = false;  // keep this token's logits
    };

    explicit BatchSession(Model model, const BatchOptions& opts = {});
    ~BatchSession();
    BatchSession(const BatchSession&) = delete;
    BatchSession& operator=(const BatchSession&) = delete;

    // Appends each item's token to its sequence and evaluates them. A
    // sequence's items must be consecutive in `items` (in position order).
    // Throws tern::Error (evaluating nothing) for a bad sequence index or
    // token id, a sequence split across the batch, or a full context.
    void eval(std::span<const Item> items);
    // The logits of items[i] of the last eval() (it must have asked for them). [n_vocab] floats.
    const float* logits(size_t i) const;

    int n_seq() const;
    int64_t n_ctx() const { return n_ctx_; }
    int64_t n_vocab() const;
    int64_t n_past(int seq) const;
    const std::vector<int32_t>& tokens(int seq) const;
    // Forgets positions >= n of `seq` (a new request in a slot keeps the
    // prefix it shares with the old one).
    void truncate(int seq, int64_t n);
    void reset(int seq) { truncate(seq, 0); }

    const Model& model() const { return model_; }

private:
    struct State;
    Model model_;
    int64_t n_ctx_ = 0;
    std::unique_ptr<State> st_;
};

}  // namespace tern
