// The one generation loop (tern/generate.h): `tern run`, `tern chat` and the
// library's users all stream through here.
#include "tern/generate.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <utility>

namespace tern {

namespace {

double since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TextStream::TextStream(const Tokenizer& tok, std::vector<std::string> stop, bool render_special)
    : decoder_(tok, render_special, false), stop_(std::move(stop)) {}

std::string TextStream::push(int32_t id, bool& stopped) { return filter(decoder_.push(id), stopped); }

std::string TextStream::finish(bool& stopped) {
    std::string out = filter(decoder_.flush(), stopped);
    if (!stopped) out += std::exchange(held_, std::string());
    return out;
}

// Adds text; returns what is now safe to emit.
std::string TextStream::filter(const std::string& text, bool& stopped) {
    held_ += text;
    size_t first = std::string::npos;
    for (const auto& s : stop_)
        if (!s.empty()) first = std::min(first, held_.find(s));
    if (first != std::string::npos) {
        stopped = true;
        std::string out = held_.substr(0, first);
        held_.clear();
        return out;
    }
    // Keep the longest tail of held_ that is a proper prefix of a stop string.
    size_t keep = 0;
    for (const auto& s : stop_)
        for (size_t n = std::min(s.size() - (s.empty() ? 0 : 1), held_.size()); n > keep; --n)
            if (held_.compare(held_.size() - n, n, s, 0, n) == 0) {
                keep = n;
                break;
            }
    std::string out = held_.substr(0, held_.size() - keep);
    held_.erase(0, held_.size() - keep);
    return out;
}

const char* stop_reason_name(StopReason r) {
    switch (r) {
        case StopReason::eos: return "eos";
        case StopReason::length: return "length";
        case StopReason::stop_string: return "stop_string";
        case StopReason::context_full: return "context_full";
        case StopReason::cancelled: return "cancelled";
    }
    return "?";
}

double GenerateResult::prompt_tokens_per_second() const {
    return prompt_seconds > 0 ? double(n_prompt) / prompt_seconds : 0.0;
}
double GenerateResult::tokens_per_second() const {
    return generate_seconds > 0 && n_generated > 0 ? double(n_generated) / generate_seconds : 0.0;
}

GenerateResult generate(Session& session, const Tokenizer* tok, std::span<const int32_t> prompt,
                        const GenerateOptions& o, const OnPiece& on_piece, Sampler* sampler) {
    o.sampling.validate();
    if (o.n_predict < -1) throw Error("n_predict must be -1 (until a stop) or >= 0, not " + std::to_string(o.n_predict));
    if (!o.stop.empty() && !tok) throw Error("stop strings need a tokenizer");
    if (prompt.empty() && session.n_logits() == 0)
        throw Error("the prompt is empty and the session has nothing to continue from");
    if (session.n_past() + int64_t(prompt.size()) > session.n_ctx())
        throw Error("the prompt has " + std::to_string(prompt.size()) + " tokens, which does not fit the context of " +
                    std::to_string(session.n_ctx()) + " (" + std::to_string(session.n_past()) +
                    " already used; raise -c or shorten the prompt)");
    const int64_t V = session.n_vocab();
    GenerateResult r;

    // Prefill.
    const auto t_prompt = std::chrono::steady_clock::now();
    if (!prompt.empty()) {
        session.eval(prompt, o.on_logits && o.prompt_logits_all);
        r.n_prompt = int64_t(prompt.size());
        if (o.on_logits) o.on_logits(session.logits(0), session.n_logits());
    }
    r.prompt_seconds = since(t_prompt);

    std::optional<Sampler> own;
    if (!sampler) {
        own.emplace(o.sampling);
        sampler = &*own;
        for (int32_t t : session.tokens()) sampler->accept(t);
    } else {
        for (int32_t t : prompt) sampler->accept(t);
    }
    std::optional<TextStream> stream;
    if (tok) stream.emplace(*tok, o.stop, o.render_special);
    bool stop_string = false;

    const auto t_gen = std::chrono::steady_clock::now();
    const int64_t limit = o.n_predict < 0 ? INT64_MAX : o.n_predict;
    std::vector<float> last(session.logits(-1), session.logits(-1) + V);
    r.reason = StopReason::length;
    while (int64_t(r.tokens.size()) < limit) {
        const int32_t id = sampler->sample(last.data(), V);
        const bool eog = tok && !o.ignore_eos && tok->is_eog(id);
        if (eog || std::find(o.stop_tokens.begin(), o.stop_tokens.end(), id) != o.stop_tokens.end()) {
            r.reason = StopReason::eos;
            break;
        }
        r.tokens.push_back(id);
        sampler->accept(id);
        const std::string piece = stream ? stream->push(id, stop_string) : std::string();
        r.text += piece;
        const bool go_on = on_piece ? on_piece(piece, id) : true;
        // Every emitted token goes into the session, so it holds the prompt and
        // the whole reply: a later call (or a chat turn) continues from there.
        if (session.n_past() >= session.n_ctx()) {
            r.reason = StopReason::context_full;
            break;
        }
        session.eval(std::span<const int32_t>(&id, 1), false);
        last.assign(session.logits(-1), session.logits(-1) + V);
        if (o.on_logits) o.on_logits(last.data(), 1);
        if (stop_string) {
            r.reason = StopReason::stop_string;
            break;
        }
        if (!go_on) {
            r.reason = StopReason::cancelled;
            break;
        }
    }
    // What the decoder and the stop filter still hold is final now (unless a
    // stop string ended the text).
    if (!stop_string && stream) {
        const std::string rest = stream->finish(stop_string);
        if (stop_string) r.reason = StopReason::stop_string;
        r.text += rest;
        if (on_piece && !rest.empty()) on_piece(rest, -1);
    }
    r.n_generated = int64_t(r.tokens.size());
    r.generate_seconds = since(t_gen);
    return r;
}

}  // namespace tern
