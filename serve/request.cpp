#include "request.h"

#include <cmath>
#include <limits>

#include "api_error.h"
#include "tern/embed.h"

namespace tern::serve {

namespace {

using nlohmann::json;

// A field that is absent or null counts as not given (OpenAI clients send nulls).
const json* field(const json& body, const char* name) {
    const auto it = body.find(name);
    return it == body.end() || it->is_null() ? nullptr : &*it;
}

double get_number(const json& body, const char* name, double fallback) {
    const json* f = field(body, name);
    if (!f) return fallback;
    if (!f->is_number()) throw bad_request(std::string("'") + name + "' must be a number");
    return f->get<double>();
}

int64_t get_int(const json& body, const char* name, int64_t fallback) {
    const json* f = field(body, name);
    if (!f) return fallback;
    if (!f->is_number_integer()) throw bad_request(std::string("'") + name + "' must be an integer");
    return f->get<int64_t>();
}

bool get_bool(const json& body, const char* name, bool fallback) {
    const json* f = field(body, name);
    if (!f) return fallback;
    if (!f->is_boolean()) throw bad_request(std::string("'") + name + "' must be true or false");
    return f->get<bool>();
}

// A float field through double: out-of-float-range values become inf, which
// validate() then rejects with its own message.
float to_float(double v) { return static_cast<float>(v); }

int32_t to_int32(int64_t v, const char* name) {
    if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())
        throw bad_request(std::string("'") + name + "' is out of range");
    return int32_t(v);
}

// The fields /v1/chat/completions and /v1/completions share.
void parse_common(const json& body, const ParseContext& ctx, GenRequest& r) {
    SamplingParams& s = r.sampling;
    s.temp = to_float(get_number(body, "temperature", s.temp));
    s.top_p = to_float(get_number(body, "top_p", s.top_p));
    s.min_p = to_float(get_number(body, "min_p", s.min_p));
    s.repeat_penalty = to_float(get_number(body, "repeat_penalty", s.repeat_penalty));
    s.top_k = to_int32(get_int(body, "top_k", s.top_k), "top_k");
    s.repeat_last_n = to_int32(get_int(body, "repeat_last_n", s.repeat_last_n), "repeat_last_n");
    const int64_t seed = get_int(body, "seed", -1);
    s.seed = seed < 0 ? ctx.seed : uint64_t(seed);
    try {
        s.validate();
    } catch (const Error& e) {
        throw bad_request(e.what());
    }

    // max_completion_tokens is the newer OpenAI name; either may be given.
    r.max_tokens = get_int(body, "max_tokens", -1);
    r.max_tokens = get_int(body, "max_completion_tokens", r.max_tokens);
    if (r.max_tokens < -1) throw bad_request("'max_tokens' must be >= 0 (or -1: until a stop)");

    if (get_int(body, "n", 1) != 1) throw bad_request("'n' must be 1: this server returns one choice per request");

    if (const json* stop = field(body, "stop")) {
        if (stop->is_string()) {
            r.stop.push_back(stop->get<std::string>());
        } else if (stop->is_array()) {
            for (const json& s1 : *stop) {
                if (!s1.is_string()) throw bad_request("'stop' must be a string or a list of strings");
                r.stop.push_back(s1.get<std::string>());
            }
        } else {
            throw bad_request("'stop' must be a string or a list of strings");
        }
        for (const auto& s1 : r.stop)
            if (s1.empty()) throw bad_request("'stop' strings must not be empty");
    }

    r.stream = get_bool(body, "stream", false);
    r.ignore_eos = get_bool(body, "ignore_eos", false);
    if (const json* so = field(body, "stream_options")) {
        if (!so->is_object()) throw bad_request("'stream_options' must be an object");
        r.include_usage = get_bool(*so, "include_usage", false);
    }
}

void check_fits(const GenRequest& r, const ParseContext& ctx) {
    if (r.prompt.empty()) throw bad_request("the prompt is empty");
    if (int64_t(r.prompt.size()) >= ctx.n_ctx)
        throw bad_request("the prompt has " + std::to_string(r.prompt.size()) +
                          " tokens, which does not fit the context of " + std::to_string(ctx.n_ctx) +
                          " tokens per slot (shorten it, or restart the server with a larger -c)");
}

// content: a string, or a list of {"type": "text", "text": ...} parts.
std::string message_content(const json& m, size_t i) {
    const std::string where = "messages[" + std::to_string(i) + "].content";
    const json* c = field(m, "content");
    if (!c) return "";
    if (c->is_string()) return c->get<std::string>();
    if (!c->is_array()) throw bad_request("'" + where + "' must be a string or a list of text parts");
    std::string out;
    for (const json& part : *c) {
        if (!part.is_object() || part.value("type", json()) != "text" || !part.contains("text") || !part["text"].is_string())
            throw bad_request("'" + where + "' parts must be {\"type\": \"text\", \"text\": string} (only text is supported)");
        out += part["text"].get<std::string>();
    }
    return out;
}

}  // namespace

json parse_body(const std::string& body) {
    json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) throw bad_request("the request body is not valid JSON");
    if (!j.is_object()) throw bad_request("the request body must be a JSON object");
    return j;
}

GenRequest parse_chat_request(const json& body, const ParseContext& ctx) {
    GenRequest r;
    r.endpoint = Endpoint::chat;
    const json* msgs = field(body, "messages");
    if (!msgs) throw bad_request("'messages' is required");
    if (!msgs->is_array() || msgs->empty()) throw bad_request("'messages' must be a non-empty list");
    std::vector<ChatMessage> conv;
    for (size_t i = 0; i < msgs->size(); ++i) {
        const json& m = (*msgs)[i];
        if (!m.is_object()) throw bad_request("'messages[" + std::to_string(i) + "]' must be an object");
        const json* role = field(m, "role");
        if (!role || !role->is_string()) throw bad_request("'messages[" + std::to_string(i) + "].role' must be a string");
        const std::string rs = role->get<std::string>();
        if (rs != "system" && rs != "user" && rs != "assistant")
            throw bad_request("'messages[" + std::to_string(i) + "].role' is '" + rs +
                              "'; supported roles: system, user, assistant");
        conv.push_back({rs, message_content(m, i)});
        r.texts.push_back(conv.back().content);
    }
    // The template renders a generation prompt after a user turn only.
    if (conv.back().role != "user") throw bad_request("the last message must have the role 'user'");
    parse_common(body, ctx, r);
    try {
        r.prompt = ChatTemplate::tokenize(ctx.tok, ctx.chat_template.render(conv));
    } catch (const Error& e) {
        throw bad_request(e.what());  // e.g. a system message that is not the first
    }
    check_fits(r, ctx);
    return r;
}

GenRequest parse_completion_request(const json& body, const ParseContext& ctx) {
    GenRequest r;
    r.endpoint = Endpoint::completion;
    const json* p = field(body, "prompt");
    if (!p) throw bad_request("'prompt' is required");
    if (p->is_string()) {
        // Like `tern run`: text gets the vocabulary's BOS, special-token text stays text.
        r.prompt = ctx.tok.encode(p->get<std::string>(), true, false);
    } else if (p->is_array() && !p->empty() && (*p)[0].is_string()) {
        throw bad_request("'prompt' must be one string or one list of token ids (one prompt per request)");
    } else if (p->is_array()) {
        for (const json& id : *p) {
            if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= ctx.tok.n_vocab())
                throw bad_request("'prompt' token ids must be integers in [0, " + std::to_string(ctx.tok.n_vocab()) + ")");
            r.prompt.push_back(int32_t(id.get<int64_t>()));
        }
    } else {
        throw bad_request("'prompt' must be a string or a list of token ids");
    }
    r.texts.push_back(p->is_string() ? p->get<std::string>() : ctx.tok.decode(r.prompt));
    parse_common(body, ctx, r);
    check_fits(r, ctx);
    return r;
}

int64_t EmbedRequest::n_tokens() const {
    int64_t n = 0;
    for (const auto& in : inputs) n += int64_t(in.size());
    return n;
}

namespace {

// One input of /v1/embeddings, `where` naming it in messages ("input", "input[2]").
std::vector<int32_t> embedding_ids(const json& j, const std::string& where, const Tokenizer& tok) {
    if (j.is_string()) {
        const std::string text = j.get<std::string>();
        if (text.empty()) throw bad_request("'" + where + "' is an empty string: there is nothing to embed");
        return embedding_tokens(tok, text);
    }
    if (!j.is_array()) throw bad_request("'" + where + "' must be a string or a list of token ids");
    if (j.empty()) throw bad_request("'" + where + "' is an empty list of token ids: there is nothing to embed");
    std::vector<int32_t> ids;
    for (size_t i = 0; i < j.size(); ++i) {
        const json& id = j[i];
        if (!id.is_number_integer())
            throw bad_request("'" + where + "[" + std::to_string(i) + "]' must be a token id (an integer)");
        if (id.get<int64_t>() < 0 || id.get<int64_t>() >= tok.n_vocab())
            throw bad_request("'" + where + "[" + std::to_string(i) + "]' is token id " + id.dump() +
                              ", outside the vocabulary [0, " + std::to_string(tok.n_vocab()) + ")");
        ids.push_back(int32_t(id.get<int64_t>()));
    }
    return ids;
}

}  // namespace

EmbedRequest parse_embedding_request(const json& body, const Tokenizer& tok, int64_t n_ctx, int64_t n_embd) {
    EmbedRequest r;
    const json* in = field(body, "input");
    if (!in) throw bad_request("'input' is required: a string, a list of strings or a list of token ids");
    if (in->is_array() && in->empty()) throw bad_request("'input' is an empty list: there is nothing to embed");
    if (in->is_string() || (in->is_array() && (*in)[0].is_number())) {
        r.inputs.push_back(embedding_ids(*in, "input", tok));  // one text, or one list of ids
    } else if (in->is_array()) {
        for (size_t i = 0; i < in->size(); ++i) r.inputs.push_back(embedding_ids((*in)[i], "input[" + std::to_string(i) + "]", tok));
    } else {
        throw bad_request("'input' must be a string, a list of strings, a list of token ids or a list of lists of token ids");
    }
    const bool one = !in->is_array() || (*in)[0].is_number();
    for (size_t i = 0; i < r.inputs.size(); ++i) {
        const std::string where = one ? "input" : "input[" + std::to_string(i) + "]";
        if (int64_t(r.inputs[i].size()) > n_ctx)
            throw bad_request("'" + where + "' has " + std::to_string(r.inputs[i].size()) +
                              " tokens, more than the context of " + std::to_string(n_ctx) +
                              " tokens per slot (shorten it, or restart the server with a larger -c)");
        const json& src = one ? *in : (*in)[i];
        r.texts.push_back(src.is_string() ? src.get<std::string>() : tok.decode(r.inputs[i]));
    }
    if (const json* f = field(body, "encoding_format")) {
        if (!f->is_string() || (*f != "float" && *f != "base64"))
            throw bad_request("'encoding_format' must be \"float\" or \"base64\"");
        r.base64 = *f == "base64";
    }
    if (const json* d = field(body, "dimensions"))
        if (!d->is_number_integer() || d->get<int64_t>() != n_embd)
            throw bad_request("'dimensions' must be " + std::to_string(n_embd) +
                              ": this model's embeddings have that many, and shortening them is not supported");
    return r;
}

std::vector<int32_t> parse_tokenize_request(const json& body, const Tokenizer& tok) {
    const json* c = field(body, "content");
    if (!c || !c->is_string()) throw bad_request("'content' must be a string");
    return tok.encode(c->get<std::string>(), get_bool(body, "add_special", false), false);
}

std::vector<int32_t> parse_detokenize_request(const json& body, const Tokenizer& tok) {
    const json* t = field(body, "tokens");
    if (!t || !t->is_array()) throw bad_request("'tokens' must be a list of token ids");
    std::vector<int32_t> ids;
    for (const json& id : *t) {
        if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= tok.n_vocab())
            throw bad_request("'tokens' must be integers in [0, " + std::to_string(tok.n_vocab()) + ")");
        ids.push_back(int32_t(id.get<int64_t>()));
    }
    return ids;
}

}  // namespace tern::serve
