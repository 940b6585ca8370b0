#include "tern/chat.h"

#include "tern/model.h"

#include "tern/gguf.h"

namespace tern {

namespace {

using Kind = ChatPiece::Kind;

ChatPiece text(std::string s) { return {Kind::text, std::move(s)}; }
ChatPiece special(std::string s) { return {Kind::special, std::move(s)}; }
ChatPiece bos() { return {Kind::bos, ""}; }
ChatPiece eos() { return {Kind::eos, ""}; }

// Jinja's `| trim`, which the 2B4T and LLaMA-3 templates apply to content.
std::string trim(const std::string& s) {
    const char* ws = " \t\n\r\f\v";
    const size_t b = s.find_first_not_of(ws);
    if (b == std::string::npos) return "";
    return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

void append(std::vector<ChatPiece>& out, std::vector<ChatPiece> more) {
    out.insert(out.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
}

std::vector<ChatPiece> llama3_header(const std::string& role) {
    return {special("<|start_header_id|>"), text(role), special("<|end_header_id|>"), text("\n\n")};
}

constexpr int64_t kLlama3Vocab = 128256;

}  // namespace

std::vector<std::string> ChatTemplate::names() { return {"bitnet", "llama3", "falcon3", "llama2"}; }

std::string ChatTemplate::name() const { return names()[size_t(kind_)]; }

ChatTemplate ChatTemplate::by_name(const std::string& name) {
    const auto all = names();
    for (size_t k = 0; k < all.size(); ++k)
        if (all[k] == name) return ChatTemplate(ChatTemplateKind(k));
    throw Error("unknown chat template '" + name + "'; built-in templates: bitnet, llama3, falcon3, llama2");
}

ChatTemplate ChatTemplate::detect(const gguf::File& f, const Tokenizer& tok, std::string* why) {
    auto say = [&](ChatTemplateKind k, const std::string& reason) {
        if (why) *why = reason;
        return ChatTemplate(k);
    };
    const std::string arch = f.get_optional<std::string>("general.architecture").value_or("");
    const bool llama3_vocab = tok.n_vocab() == kLlama3Vocab && tok.token_id("<|eot_id|>").has_value();
    if (llama3_vocab && arch.rfind("bitnet", 0) == 0)
        return say(ChatTemplateKind::bitnet, "BitNet b1.58 2B4T (bitnet architecture with the LLaMA-3 vocabulary)");
    const std::string tmpl = f.get_optional<std::string>("tokenizer.chat_template").value_or("");
    if (tmpl.find("<|start_header_id|>") != std::string::npos)
        return say(ChatTemplateKind::llama3, "the file's chat template uses <|start_header_id|>");
    if (tmpl.find("<|assistant|>") != std::string::npos)
        return say(ChatTemplateKind::falcon3, "the file's chat template uses <|assistant|>");
    if (tmpl.find("[INST]") != std::string::npos)
        return say(ChatTemplateKind::llama2, "the file's chat template uses [INST]");
    if (tmpl.find("'Assistant: '") != std::string::npos)
        return say(ChatTemplateKind::bitnet, "the file's chat template uses 'Role: ' prefixes");
    if (llama3_vocab) return say(ChatTemplateKind::llama3, "LLaMA-3 vocabulary, no recognised template in the file");
    if (tok.kind() == Tokenizer::Kind::SPM)
        return say(ChatTemplateKind::llama2, "SentencePiece vocabulary, no recognised template in the file");
    return say(ChatTemplateKind::bitnet, "no recognised template; plain 'User:'/'Assistant:' turns");
}

ChatTemplate ChatTemplate::for_model(const Model& model, const Tokenizer& tok, std::string* why) {
    return detect(model.file(), tok, why);
}

std::vector<ChatPiece> ChatTemplate::begin(const std::string& system) const {
    std::vector<ChatPiece> out{bos()};
    switch (kind_) {
        case ChatTemplateKind::bitnet:
            if (!system.empty()) append(out, {text("System: " + trim(system)), special("<|eot_id|>")});
            break;
        case ChatTemplateKind::llama3:
            if (!system.empty()) {
                append(out, llama3_header("system"));
                append(out, {text(trim(system)), special("<|eot_id|>")});
            }
            break;
        case ChatTemplateKind::falcon3:
            if (!system.empty()) out.push_back(text("<|system|>\n" + system + "\n"));
            break;
        case ChatTemplateKind::llama2:
            // The system prompt lives inside the first [INST] block.
            out.push_back(text(system.empty() ? "[INST] " : "[INST] <<SYS>>\n" + system + "\n<</SYS>>\n\n"));
            break;
    }
    return out;
}

std::vector<ChatPiece> ChatTemplate::user_turn(const std::string& content, bool first) const {
    std::vector<ChatPiece> out;
    if (!first) out = close_reply();
    switch (kind_) {
        case ChatTemplateKind::bitnet:
            append(out, {text("User: " + trim(content)), special("<|eot_id|>"), text("Assistant: ")});
            break;
        case ChatTemplateKind::llama3:
            append(out, llama3_header("user"));
            append(out, {text(trim(content)), special("<|eot_id|>")});
            append(out, llama3_header("assistant"));
            break;
        case ChatTemplateKind::falcon3:
            out.push_back(text("<|user|>\n" + content + "\n<|assistant|>\n"));
            break;
        case ChatTemplateKind::llama2:
            if (!first) append(out, {bos(), text("[INST] ")});
            out.push_back(text(content + " [/INST]"));
            break;
    }
    return out;
}

std::vector<ChatPiece> ChatTemplate::close_reply() const {
    switch (kind_) {
        case ChatTemplateKind::bitnet:
        case ChatTemplateKind::llama3:
            return {special("<|eot_id|>")};
        case ChatTemplateKind::falcon3:
            return {eos(), text("\n")};
        case ChatTemplateKind::llama2:
            return {eos()};
    }
    return {};
}

std::vector<ChatPiece> ChatTemplate::render(const std::vector<ChatMessage>& messages) const {
    size_t k = 0;
    std::string system;
    if (!messages.empty() && messages[0].role == "system") system = messages[k++].content;
    std::vector<ChatPiece> out = begin(system);
    bool first = true;
    for (; k < messages.size(); ++k) {
        const ChatMessage& m = messages[k];
        if (m.role == "user") {
            append(out, user_turn(m.content, first));
            first = false;
        } else if (m.role == "assistant") {
            if (first) throw Error("chat: an assistant message must follow a user message");
            // As the models' own templates write a past reply (llama2 puts
            // one space after [/INST]; a reply the model generates carries
            // it in its first token).
            out.push_back(text(kind_ == ChatTemplateKind::llama2    ? std::string(" ").append(trim(m.content))
                               : kind_ == ChatTemplateKind::falcon3 ? m.content
                                                                    : trim(m.content)));
        } else {
            throw Error("chat: unknown role '" + m.role + "' (use system, user, assistant; system only first)");
        }
    }
    return out;
}

std::vector<int32_t> ChatTemplate::tokenize(const Tokenizer& tok, const std::vector<ChatPiece>& pieces) {
    std::vector<int32_t> ids;
    std::string pending;
    auto flush = [&] {
        if (pending.empty()) return;
        const auto t = tok.encode(pending, false, false);
        ids.insert(ids.end(), t.begin(), t.end());
        pending.clear();
    };
    for (const ChatPiece& p : pieces) {
        switch (p.kind) {
            case Kind::text:
                pending += p.text;
                break;
            case Kind::special: {
                flush();
                const auto id = tok.token_id(p.text);
                if (!id)
                    throw Error("the chat template needs the token " + p.text +
                                ", which this vocabulary lacks; pick another with --chat-template");
                ids.push_back(*id);
                break;
            }
            case Kind::bos:
                flush();
                if (tok.bos() >= 0 && tok.adds_bos()) ids.push_back(tok.bos());
                break;
            case Kind::eos:
                flush();
                if (tok.eos() < 0) throw Error("the chat template needs an end-of-sequence token; this vocabulary has none");
                ids.push_back(tok.eos());
                break;
        }
    }
    flush();
    return ids;
}

std::vector<int32_t> ChatTemplate::stop_tokens(const Tokenizer& tok) const {
    std::vector<int32_t> out;
    for (const char* s : {"<|eot_id|>", "<|end_of_text|>", "<|endoftext|>"})
        if (auto id = tok.token_id(s)) out.push_back(*id);
    if (tok.eos() >= 0) out.push_back(tok.eos());
    if (tok.eot() >= 0) out.push_back(tok.eot());
    return out;
}

}  // namespace tern
