// Chat templates: how a conversation becomes tokens for each model family.
//
// A template renders to pieces: plain text (tokenized as text, so special
// token text typed by a user stays text) and special tokens (placed only
// where the template puts them). Rendering is incremental — the first turn
// opens the conversation, each later turn first closes the previous reply —
// so a chat prefills only the new turn's tokens; the incremental pieces
// concatenate to exactly the full rendering.
//
//   tern::ChatTemplate t = tern::ChatTemplate::for_model(model, tok);
//   auto ids = tern::ChatTemplate::tokenize(tok, t.render({{"user", "Hi"}}));
//
// Thread safety: a ChatTemplate is immutable; share it freely.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tern/tokenizer.h"

namespace tern {

class Model;
namespace gguf {
class File;
}

struct ChatMessage {
    std::string role;  // "system", "user", "assistant"
    std::string content;
};

enum class ChatTemplateKind { bitnet, llama3, falcon3, llama2 };

struct ChatPiece {
    enum class Kind { text, special, bos, eos } kind = Kind::text;
    std::string text;  // text, or the special token's text
};

class ChatTemplate {
public:
    explicit ChatTemplate(ChatTemplateKind kind) : kind_(kind) {}

    // "bitnet", "llama3", "falcon3", "llama2" -> template; throws tern::Error listing the names.
    static ChatTemplate by_name(const std::string& name);
    static std::vector<std::string> names();

    // Picks the template for a model: the vocabulary and architecture first
    // (bitnet.cpp writes a template into 2B4T files that is wrong for it),
    // then the template text in the file. `why` says what decided.
    static ChatTemplate detect(const gguf::File& f, const Tokenizer& tok, std::string* why = nullptr);
    static ChatTemplate for_model(const Model& model, const Tokenizer& tok, std::string* why = nullptr);

    ChatTemplateKind kind() const { return kind_; }
    std::string name() const;

    // The conversation start: BOS and the system message (if not empty).
    std::vector<ChatPiece> begin(const std::string& system) const;
    // A user turn followed by the prompt for the assistant's reply. `first`:
    // no reply precedes it (no close of a previous reply).
    std::vector<ChatPiece> user_turn(const std::string& content, bool first) const;
    // Closes an assistant reply whose text is already in the context (the
    // model's end-of-turn token is not evaluated when it is sampled).
    std::vector<ChatPiece> close_reply() const;
    // The whole conversation (ending in a user turn) with the generation prompt.
    std::vector<ChatPiece> render(const std::vector<ChatMessage>& messages) const;

    // Pieces -> ids: adjacent text pieces are joined and tokenized together
    // (no special-token parsing); special pieces must be single tokens.
    static std::vector<int32_t> tokenize(const Tokenizer& tok, const std::vector<ChatPiece>& pieces);

    // Token ids that end a reply for this template (besides the tokenizer's
    // own end-of-generation ids).
    std::vector<int32_t> stop_tokens(const Tokenizer& tok) const;

private:
    ChatTemplateKind kind_;
};

}  // namespace tern
