// The one generation loop: prompt tokens -> prefill -> sample -> stream text.
//
//   tern::Model model = tern::Model::load("model.gguf");
//   tern::Tokenizer tok = tern::Tokenizer::from_model(model);
//   tern::Session session(model);
//   tern::GenerateOptions o;
//   o.n_predict = 64;
//   o.sampling.temp = 0;                                   // greedy
//   auto r = tern::generate(session, &tok, tok.encode("Once upon a time", true, false), o,
//                           [](std::string_view piece, int32_t) { std::fputs(std::string(piece).c_str(), stdout); return true; });
//   // r.reason, r.n_generated, r.tokens_per_second() ...
//
// The prompt is appended to what the session already holds (a chat turn
// continues the conversation in the KV cache), and so is every generated
// token (an end-of-generation token is not): afterwards the session holds
// prompt and reply, and generate() with an empty prompt continues the text. Generation stops at the
// tokenizer's end-of-generation tokens (unless ignore_eos), at extra
// stop_tokens, after n_predict tokens, at a stop string (found across token
// boundaries and never emitted), when the context is full, or when the
// callback returns false. Text is streamed in whole UTF-8 characters.
//
// Thread safety: one call per Session at a time; calls on different Sessions
// may run concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tern/sampler.h"
#include "tern/session.h"
#include "tern/tokenizer.h"

namespace tern {

struct GenerateOptions {
    int64_t n_predict = -1;              // tokens to generate at most; -1: until a stop or a full context
    SamplingParams sampling;             // validated when generate() starts
    std::vector<std::string> stop;       // stop strings (never emitted)
    std::vector<int32_t> stop_tokens;    // more end-of-generation ids (a chat template's)
    bool ignore_eos = false;             // do not stop at end-of-generation tokens (benchmarks)
    bool render_special = false;         // stream special tokens' text too
    // Called with the logits of every prompt position (n rows, when
    // prompt_logits_all) or of the last one, then with each generated
    // token's logits.
    std::function<void(const float* logits, int64_t n_rows)> on_logits;
    bool prompt_logits_all = false;
};

enum class StopReason {
    eos,           // an end-of-generation or stop token was sampled (not emitted)
    length,        // n_predict tokens were generated
    stop_string,   // a stop string appeared (the text ends before it)
    context_full,  // the session's context is full
    cancelled,     // the callback returned false
};
const char* stop_reason_name(StopReason r);  // "eos", "length", "stop_string", "context_full", "cancelled"

struct GenerateResult {
    StopReason reason = StopReason::length;
    std::string text;              // everything streamed (without a stop string and what followed it)
    std::vector<int32_t> tokens;   // the generated ids (the end-of-generation id not included)
    int64_t n_prompt = 0;          // prompt tokens evaluated
    int64_t n_generated = 0;       // = tokens.size()
    double prompt_seconds = 0;     // prefill time
    double generate_seconds = 0;   // sampling + decode time
    double prompt_tokens_per_second() const;
    double tokens_per_second() const;
};

// Generated ids -> the text a user sees: whole UTF-8 characters, with text
// that may begin a stop string held back until it is decided; a stop string
// is never emitted. generate() streams through one; a server runs one per
// request.
class TextStream {
public:
    TextStream(const Tokenizer& tok, std::vector<std::string> stop, bool render_special = false);
    // The text that became final with token `id`. Sets `stopped` when a stop
    // string completed: the text then ends just before it, and the stream is done.
    std::string push(int32_t id, bool& stopped);
    // At the end of generation: what is still pending (the stream may still
    // find a stop string in it: `stopped`).
    std::string finish(bool& stopped);

private:
    std::string filter(const std::string& text, bool& stopped);
    StreamDecoder decoder_;
    std::vector<std::string> stop_;
    std::string held_;
};

// Called once per generated token with the text that became final (empty
// while a character or a possible stop string is pending); return false to
// stop. A last call with token -1 passes what was pending at the end.
using OnPiece = std::function<bool(std::string_view piece, int32_t token)>;

// `tokenizer` may be null (ids in, ids out: no text, no stop strings).
// `sampler` carries its state across calls (the repetition window); when
// null, one is made from options.sampling and fed the session's tokens.
// Throws tern::Error for an empty prompt that leaves nothing to continue, a
// prompt that does not fit the context, or invalid sampling parameters.
GenerateResult generate(Session& session, const Tokenizer* tokenizer, std::span<const int32_t> prompt,
                        const GenerateOptions& options, const OnPiece& on_piece = {}, Sampler* sampler = nullptr);

}  // namespace tern
