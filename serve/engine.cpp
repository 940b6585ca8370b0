#include "engine.h"

#include <algorithm>

namespace tern::serve {

namespace {

size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
    const size_t n = std::min(a.size(), b.size());
    size_t i = 0;
    while (i < n && a[i] == b[i]) ++i;
    return i;
}

}  // namespace

Engine::Engine(const Model& model, const Tokenizer& tok, const EngineOptions& opts, Metrics& metrics)
    : tok_(tok),
      opts_(opts),
      metrics_(metrics),
      slots_(size_t(opts.n_seq)) {
    if (model.info().has_output_head)
        batch_.emplace(model, BatchOptions{.n_seq = opts.n_seq, .n_ctx = opts.n_ctx, .n_batch = opts.n_batch,
                                           .n_threads = opts.n_threads, .kv_f16 = opts.kv_f16});
    else  // the file's pooling, euclidean normalisation (as llama-server's OpenAI endpoint)
        embedder_.emplace(model, EmbedOptions{.n_ctx = opts.n_ctx, .n_batch = opts.n_batch,
                                              .n_threads = opts.n_threads, .kv_f16 = opts.kv_f16});
    thread_ = std::thread([this] { loop(); });
}

Engine::~Engine() { drain(std::chrono::milliseconds(0)); }

Engine::Submit Engine::submit(std::shared_ptr<Job> job) {
    {
        std::lock_guard lk(m_);
        if (closed_) return Submit::closed;
        if (queue_.size() >= opts_.max_queue) return Submit::queue_full;
        queue_.push_back(std::move(job));
        ++metrics_.queued;
    }
    cv_.notify_all();
    return Submit::ok;
}

void Engine::drain(std::chrono::milliseconds grace) {
    {
        std::lock_guard lk(m_);
        closed_ = true;
    }
    // In-flight requests get `grace` to finish; the loop keeps stepping meanwhile.
    const auto until = std::chrono::steady_clock::now() + grace;
    while (std::chrono::steady_clock::now() < until && (metrics_.active > 0 || metrics_.queued > 0))
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    {
        std::lock_guard lk(m_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void Engine::loop() {
    for (;;) {
        {
            std::unique_lock lk(m_);
            const auto busy = [&] {
                return std::any_of(slots_.begin(), slots_.end(), [](const Slot& s) { return s.job != nullptr; });
            };
            cv_.wait(lk, [&] { return stopping_ || !queue_.empty() || busy(); });
            if (stopping_) {
                // Whatever is still queued or running is cut off: the server is exiting.
                for (auto& job : queue_)
                    job->out.close("", int64_t(job->req.prompt.size()), 0, "the server is shutting down", true);
                metrics_.queued -= int64_t(queue_.size());
                queue_.clear();
                lk.unlock();
                for (int seq = 0; seq < int(slots_.size()); ++seq)
                    if (slots_[size_t(seq)].job) finish(seq, "length", {}, true);
                return;
            }
        }
        admit();
        step();
    }
}

void Engine::admit() {
    if (embedder_) return;  // step_embeddings() takes its requests itself
    std::lock_guard lk(m_);
    while (!queue_.empty()) {
        std::shared_ptr<Job> job = queue_.front();
        --metrics_.queued;
        queue_.pop_front();
        if (job->out.cancelled()) {
            ++metrics_.cancelled;
            continue;
        }
        const std::vector<int32_t>& prompt = job->req.prompt;
        // The prompt cache: the free slot already holding the longest prefix
        // of this prompt only prefills the rest (the next turn of a chat).
        int best = -1;
        size_t best_len = 0;
        for (int seq = 0; seq < int(slots_.size()); ++seq) {
            if (slots_[size_t(seq)].job) continue;
            const size_t len = common_prefix(batch_->tokens(seq), prompt);
            if (best < 0 || len > best_len) best = seq, best_len = len;
        }
        if (best < 0) {  // no free slot: back to the front of the line
            queue_.push_front(std::move(job));
            ++metrics_.queued;
            return;
        }
        // At least the last prompt token is evaluated again: its logits pick the first token.
        const size_t keep = std::min(best_len, prompt.size() - 1);
        batch_->truncate(best, int64_t(keep));
        Slot& s = slots_[size_t(best)];
        s = Slot{};
        s.job = std::move(job);
        s.n_fed = keep;
        s.sampler.emplace(s.job->req.sampling);
        // As generate() does for a fresh session: the penalty window sees the prompt.
        for (int32_t t : prompt) s.sampler->accept(t);
        s.text.emplace(tok_, s.job->req.stop);
        ++metrics_.active;
        metrics_.prompt_tokens += int64_t(prompt.size());
        metrics_.cached_tokens += int64_t(keep);
        if (s.job->req.max_tokens == 0) finish(best, "length");
    }
}

void Engine::step() {
    if (embedder_) {
        step_embeddings();
        return;
    }
    const auto now = std::chrono::steady_clock::now();
    for (int seq = 0; seq < int(slots_.size()); ++seq) {
        Slot& s = slots_[size_t(seq)];
        if (!s.job) continue;
        if (s.job->out.cancelled()) finish(seq, "stop");  // the client went away: free the slot now
        else if (now >= s.job->deadline) {
            metrics_.count_rejection("timeout");
            finish(seq, "length", {}, true);
        }
        else if (s.generating && batch_->n_past(seq) >= batch_->n_ctx()) finish(seq, "length");  // context full
    }

    // Decode tokens first (one per generating slot), then prompt chunks in the
    // remaining budget, so a long prompt never stalls the running streams.
    std::vector<BatchSession::Item> items;
    int64_t budget = opts_.n_batch;
    for (int seq = 0; seq < int(slots_.size()); ++seq) {
        const Slot& s = slots_[size_t(seq)];
        if (s.job && s.generating) {
            items.push_back({seq, s.next, true});
            --budget;
        }
    }
    for (int seq = 0; seq < int(slots_.size()) && budget > 0; ++seq) {
        Slot& s = slots_[size_t(seq)];
        if (!s.job || s.generating) continue;
        const std::vector<int32_t>& prompt = s.job->req.prompt;
        const size_t n = std::min(prompt.size() - s.n_fed, size_t(budget));
        for (size_t i = 0; i < n; ++i) {
            const size_t pos = s.n_fed + i;
            items.push_back({seq, prompt[pos], pos + 1 == prompt.size()});
        }
        s.n_fed += n;
        budget -= int64_t(n);
    }
    if (items.empty()) return;

    const auto t0 = std::chrono::steady_clock::now();
    try {
        batch_->eval(items);
    } catch (const std::exception& e) {
        // Not the clients' fault (their input was validated): fail the batch's requests.
        for (const auto& it : items)
            if (slots_[size_t(it.seq)].job) {
                finish(it.seq, "", std::string("evaluation failed: ") + e.what());
                batch_->reset(it.seq);
            }
        return;
    }
    metrics_.eval_us +=
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
    for (size_t i = 0; i < items.size(); ++i)
        if (items[i].logits && slots_[size_t(items[i].seq)].job) on_logits(items[i].seq, batch_->logits(i));
}

void Engine::step_embeddings() {
    // Up to one request per slot, all their inputs embedded together.
    std::vector<std::shared_ptr<Job>> jobs;
    {
        std::lock_guard lk(m_);
        const auto now = std::chrono::steady_clock::now();
        while (!queue_.empty() && jobs.size() < slots_.size()) {
            std::shared_ptr<Job> job = std::move(queue_.front());
            queue_.pop_front();
            --metrics_.queued;
            if (job->out.cancelled()) {
                ++metrics_.cancelled;
            } else if (now >= job->deadline) {  // waited in the queue past its timeout
                metrics_.count_rejection("timeout");
                job->out.close("length", job->embed->n_tokens(), 0, {}, true);
            } else {
                jobs.push_back(std::move(job));
            }
        }
    }
    if (jobs.empty()) return;
    std::vector<std::vector<int32_t>> inputs;
    for (const auto& job : jobs) {
        inputs.insert(inputs.end(), job->embed->inputs.begin(), job->embed->inputs.end());
        metrics_.prompt_tokens += job->embed->n_tokens();
    }
    metrics_.active += int64_t(jobs.size());
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::vector<float>> out;
    std::string error;
    try {
        out = embedder_->embed(inputs);
    } catch (const std::exception& e) {
        error = std::string("embedding failed: ") + e.what();  // not the clients' fault: their input was validated
    }
    metrics_.eval_us +=
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
    size_t at = 0;
    for (const auto& job : jobs) {
        const size_t n = job->embed->inputs.size();
        if (error.empty())
            job->embeddings.assign(std::make_move_iterator(out.begin() + long(at)),
                                   std::make_move_iterator(out.begin() + long(at + n)));
        at += n;
        job->out.close(error.empty() ? "stop" : "", job->embed->n_tokens(), 0, error);
        --metrics_.active;
    }
}

void Engine::on_logits(int seq, const float* logits) {
    Slot& s = slots_[size_t(seq)];
    const GenRequest& req = s.job->req;
    s.generating = true;
    const int32_t id = s.sampler->sample(logits, batch_->n_vocab());
    const auto& st = s.job->stop_tokens;
    if ((!req.ignore_eos && tok_.is_eog(id)) || std::find(st.begin(), st.end(), id) != st.end()) {
        finish(seq, "stop");
        return;
    }
    if (s.n_generated == 0)
        metrics_.observe_time_to_first_token(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - s.job->start).count());
    ++s.n_generated;
    ++metrics_.generated_tokens;
    s.sampler->accept(id);
    bool stopped = false;
    s.job->out.push(s.text->push(id, stopped));
    if (stopped) {
        finish(seq, "stop");
        return;
    }
    if (req.max_tokens >= 0 && s.n_generated >= req.max_tokens) {
        finish(seq, "length");
        return;
    }
    s.next = id;
}

void Engine::finish(int seq, const char* reason, const std::string& error, bool cut_short) {
    Slot& s = slots_[size_t(seq)];
    Job& job = *s.job;
    const int64_t n_prompt = int64_t(job.req.prompt.size());
    if (!error.empty()) {
        job.out.close("", n_prompt, s.n_generated, error);
    } else {
        std::string why = reason;
        if (job.out.cancelled()) {
            ++metrics_.cancelled;
        } else {
            // What the decoder and the stop-string filter still hold is final now.
            bool stopped = false;
            job.out.push(s.text->finish(stopped));
            if (stopped) why = "stop";
        }
        job.out.close(why, n_prompt, s.n_generated, {}, cut_short);
    }
    // The slot's tokens stay in the BatchSession: the prompt cache for the next request.
    s = Slot{};
    --metrics_.active;
}

}  // namespace tern::serve
