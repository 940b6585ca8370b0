// One request's mailbox between the engine thread (writer) and the HTTP
// thread that answers it (reader): text pieces and then the end, under a
// mutex + condition variable. Cancelling is the way back: the engine frees the
// slot at its next step.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

namespace tern::serve {

struct Update {
    std::string text;           // new text since the last take()
    bool done = false;
    std::string finish_reason;  // "stop" | "length" (when done without error)
    std::string error;          // non-empty: the engine failed the request
    bool cut_short = false;     // ended by the timeout or shutdown: not the whole answer
    int64_t n_prompt = 0;
    int64_t n_generated = 0;
};

class Channel {
public:
    // Engine side.
    void push(const std::string& text) {
        if (text.empty()) return;
        {
            std::lock_guard lk(m_);
            u_.text += text;
        }
        cv_.notify_all();
    }
    void close(const std::string& finish_reason, int64_t n_prompt, int64_t n_generated, const std::string& error = {},
               bool cut_short = false) {
        {
            std::lock_guard lk(m_);
            u_.done = true;
            u_.finish_reason = finish_reason;
            u_.error = error;
            u_.cut_short = cut_short;
            u_.n_prompt = n_prompt;
            u_.n_generated = n_generated;
        }
        cv_.notify_all();
    }

    // HTTP side: waits up to `wait` for text or the end, and takes what came.
    Update take(std::chrono::milliseconds wait) {
        std::unique_lock lk(m_);
        cv_.wait_for(lk, wait, [&] { return u_.done || !u_.text.empty(); });
        Update out = u_;
        u_.text.clear();
        return out;
    }
    void cancel() { cancelled_ = true; }
    bool cancelled() const { return cancelled_; }

private:
    std::mutex m_;
    std::condition_variable cv_;
    Update u_;
    std::atomic<bool> cancelled_{false};
};

}  // namespace tern::serve
