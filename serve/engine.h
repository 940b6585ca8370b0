// The scheduler: ONE thread owns a BatchSession with a slot per parallel
// request. Each step it admits queued requests into free slots, evaluates one
// batch (a decode token of every generating slot plus prompt chunks), samples
// per slot and streams text to each request's Channel.
//
// On an embedding model (no output head) it owns an Embedder instead: each
// step takes up to one embedding request per slot from the queue and embeds
// all their inputs together (packed into as few forward passes as fit -b).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "channel.h"
#include "metrics.h"
#include "request.h"
#include "tern/batch.h"
#include "tern/embed.h"
#include "tern/generate.h"

namespace tern::serve {

struct Job {
    GenRequest req;                    // a generation request (unused for embeddings)
    std::optional<EmbedRequest> embed; // set: an embedding request
    // The answer to `embed`, one vector per input; written by the engine
    // before it closes `out` (the channel's mutex orders it for the reader).
    std::vector<std::vector<float>> embeddings;
    std::vector<int32_t> stop_tokens;  // the chat template's (chat requests)
    std::chrono::steady_clock::time_point start;     // when the HTTP request arrived (time to first token)
    std::chrono::steady_clock::time_point deadline;
    Channel out;
};

struct EngineOptions {
    int n_seq = 4;
    int64_t n_ctx = 0;
    int64_t n_batch = 512;   // tokens per step: decode tokens first, prompt chunks fill the rest
    int n_threads = 0;
    bool kv_f16 = false;
    size_t max_queue = 64;
};

class Engine {
public:
    Engine(const Model& model, const Tokenizer& tok, const EngineOptions& opts, Metrics& metrics);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    enum class Submit { ok, queue_full, closed };
    Submit submit(std::shared_ptr<Job> job);

    // Stops accepting, lets in-flight requests finish for up to `grace`,
    // cancels what is left, and joins the thread.
    void drain(std::chrono::milliseconds grace);

    // Positions per slot: the longest prompt (generation) or input (embeddings).
    int64_t n_ctx() const { return batch_ ? batch_->n_ctx() : embedder_->n_ctx(); }
    bool embedding() const { return embedder_.has_value(); }
    int64_t n_embd() const { return embedder_ ? embedder_->n_embd() : 0; }
    // The embedder's pooling (the file's); none: one vector per token.
    Pooling pooling() const { return embedder_ ? embedder_->pooling() : Pooling::none; }

private:
    struct Slot {
        std::shared_ptr<Job> job;     // null: free
        size_t n_fed = 0;             // prompt tokens evaluated (or cached)
        bool generating = false;      // prompt done; `next` is to be evaluated
        int32_t next = -1;
        int64_t n_generated = 0;
        std::optional<Sampler> sampler;
        std::optional<TextStream> text;
    };

    void loop();
    void admit();
    void step();
    void step_embeddings();
    // Reacts to the logits of a slot's last evaluated token.
    void on_logits(int seq, const float* logits);
    // `cut_short`: ended by the timeout or shutdown, not by the request's own limits.
    void finish(int seq, const char* reason, const std::string& error = {}, bool cut_short = false);

    Tokenizer tok_;
    EngineOptions opts_;
    Metrics& metrics_;
    std::optional<BatchSession> batch_;  // a generation model
    std::optional<Embedder> embedder_;   // an embedding model
    std::vector<Slot> slots_;

    std::mutex m_;
    std::condition_variable cv_;
    std::deque<std::shared_ptr<Job>> queue_;
    bool closed_ = false;     // no more submissions
    bool stopping_ = false;   // the loop exits once idle
    std::thread thread_;
};

}  // namespace tern::serve
