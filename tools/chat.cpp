// `tern chat`: an interactive, multi-turn chat in the model's own template.
// The KV cache holds the conversation; each turn prefills only its own tokens.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include <fmt/core.h>

#include "tern/chat.h"
#include "commands.h"
#include "common.h"
#include "tern/generate.h"

namespace tern::cli {

namespace {

struct ChatOpts {
    ModelOpts m;
    std::string system;
    std::string chat_template;
    int64_t n_predict = -1;
    SamplingParams sampling;
    int64_t seed = -1;
    bool no_stats = false;
};

const char* kHelp =
    "commands: /help this text, /reset forget the conversation, /exit quit (or Ctrl-D).\n"
    "end a line with \\ to continue the message on the next line; Ctrl-C stops a reply.\n";

// Reads one message (lines ending in '\' continue it). False at end of input.
bool read_message(std::string& out, bool tty) {
    out.clear();
    std::string line;
    for (;;) {
        if (!std::getline(std::cin, line)) return !out.empty();
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (!line.empty() && line.back() == '\\') {
            line.pop_back();
            out += line + "\n";
            if (tty) {
                fmt::print("... ");
                std::fflush(stdout);
            }
            continue;
        }
        out += line;
        return true;
    }
}

void chat(const ChatOpts& o) {
    install_interrupt_handler();
    const Model model = Model::load(o.m.model, o.m.load_options());
    const std::optional<Tokenizer> tok_opt = load_tokenizer(model);
    if (!tok_opt) throw Error(o.m.model + " has no tokenizer (no tokenizer.ggml.tokens): chat needs one");
    const Tokenizer& tok = *tok_opt;
    std::string why = "set by --chat-template";
    const ChatTemplate tmpl =
        o.chat_template.empty() ? ChatTemplate::for_model(model, tok, &why) : ChatTemplate::by_name(o.chat_template);
    Session session(model, o.m.session_options());
    Sampler sampler(finish_sampling(o.sampling, o.seed));
    GenerateOptions gen;
    gen.n_predict = o.n_predict;
    gen.sampling = sampler.params();
    gen.stop_tokens = tmpl.stop_tokens(tok);
    const bool tty = isatty(STDIN_FILENO) != 0;

    fmt::print(stderr, "tern chat: {} ({}, n_ctx {}), template {} ({})\n", o.m.model, model.info().architecture, session.n_ctx(),
               tmpl.name(), why);
    if (tty) fmt::print(stderr, "{}", kHelp);

    std::vector<ChatMessage> history;  // user/assistant turns since the last reset (for context overflow)
    bool first = true;
    int64_t prompt_tokens = 0, gen_tokens = 0;
    double prompt_s = 0, gen_s = 0;
    std::string msg;
    for (;;) {
        if (tty) {
            fmt::print("> ");
            std::fflush(stdout);
        }
        clear_interrupt();
        if (!read_message(msg, tty)) break;
        if (interrupted()) break;  // Ctrl-C at the prompt
        if (msg == "/exit" || msg == "/quit") break;
        if (msg == "/help") {
            fmt::print("{}", kHelp);
            continue;
        }
        if (msg == "/reset") {
            session.reset();
            sampler.reset();
            history.clear();
            first = true;
            fmt::print(stderr, "[conversation reset]\n");
            continue;
        }
        if (!msg.empty() && msg[0] == '/') {
            fmt::print(stderr, "unknown command {} (try /help)\n", msg);
            continue;
        }
        if (msg.find_first_not_of(" \t\n") == std::string::npos) continue;
        require_utf8(msg, "the message");

        // This turn's tokens; if they do not fit with room for a reply, drop
        // the oldest turns (the system prompt stays) and prefill afresh.
        std::vector<int32_t> ids = ChatTemplate::tokenize(
            tok, first ? [&] {
                auto p = tmpl.begin(o.system);
                auto u = tmpl.user_turn(msg, true);
                p.insert(p.end(), u.begin(), u.end());
                return p;
            }()
                       : tmpl.user_turn(msg, false));
        const int64_t room = std::min<int64_t>(session.n_ctx() / 4, o.n_predict > 0 ? o.n_predict : 256);
        if (session.n_past() + int64_t(ids.size()) + room > session.n_ctx()) {
            size_t dropped = 0;
            for (;;) {
                std::vector<ChatMessage> msgs;
                if (!o.system.empty()) msgs.push_back({"system", o.system});
                msgs.insert(msgs.end(), history.begin() + long(dropped), history.end());
                msgs.push_back({"user", msg});
                ids = ChatTemplate::tokenize(tok, tmpl.render(msgs));
                if (int64_t(ids.size()) + room <= session.n_ctx() || dropped >= history.size()) break;
                dropped += 2;  // a user turn and its reply
            }
            if (int64_t(ids.size()) >= session.n_ctx()) {
                fmt::print(stderr, "[the message needs {} tokens and the context holds {}: not sent; raise -c]\n",
                           ids.size(), session.n_ctx());
                continue;
            }
            history.erase(history.begin(), history.begin() + long(std::min(dropped, history.size())));
            session.reset();
            fmt::print(stderr, "[context full: dropped the {} oldest turn(s), the system prompt is kept]\n", dropped / 2);
        }
        const GenerateResult r = generate(session, &tok, ids, gen, [&](std::string_view piece, int32_t) {
            fmt::print("{}", piece);
            std::fflush(stdout);
            return !interrupted();
        }, &sampler);
        prompt_s += r.prompt_seconds;
        prompt_tokens += r.n_prompt;
        gen_s += r.generate_seconds;
        gen_tokens += r.n_generated;
        if (r.reason == StopReason::cancelled) fmt::print(stderr, "\n[interrupted]");
        if (r.reason == StopReason::context_full)
            fmt::print(stderr, "\n[context full: reply cut; the next message drops the oldest turns]");
        fmt::print("\n");
        std::fflush(stdout);
        const std::string& reply = r.text;
        history.push_back({"user", msg});
        history.push_back({"assistant", reply});
        first = false;
    }
    if (!o.no_stats)
        fmt::print(stderr, "\n[chat ended] prompt: {} tokens, {:.2f} tokens/s; generation: {} tokens, {:.2f} tokens/s\n",
                   prompt_tokens, prompt_tokens / std::max(prompt_s, 1e-9), gen_tokens,
                   gen_tokens / std::max(gen_s, 1e-9));
}

}  // namespace

void register_chat(CLI::App& app) {
    auto o = std::make_shared<ChatOpts>();
    CLI::App* cmd = app.add_subcommand("chat", "Interactive multi-turn chat in the model's chat template");
    o->m.add_to(*cmd);
    cmd->add_option("--system-prompt", o->system, "System prompt (also -sys)");
    cmd->add_option("--chat-template", o->chat_template, "Template: bitnet, llama3, falcon3, llama2 (default: from the model)");
    cmd->add_option("-n,--n-predict", o->n_predict, "Most tokens per reply (-1: until end of turn)")->capture_default_str();
    add_sampling_options(*cmd, o->sampling, o->seed);
    cmd->add_flag("--no-stats", o->no_stats, "Do not print timings at the end");
    cmd->callback([o] { chat(*o); });
}

}  // namespace tern::cli
