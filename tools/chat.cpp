// `tern chat`: an interactive, multi-turn chat in the model's own template.
// The KV cache holds the conversation; each turn prefills only its own tokens.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstdio>
#include <iostream>

#include <fmt/core.h>

#ifdef TERN_HAVE_LIBEDIT
#include <editline/readline.h>
#endif

#include "tern/chat.h"
#include "commands.h"
#include "common.h"
#include "tern/generate.h"

namespace tern::cli {

namespace {

struct ChatOpts {
    ModelOpts m;
    std::string system;
    std::string system_file;
    std::string chat_template;
    std::string first_message;  // -p: sent before reading any input, as llama.cpp's conversation mode does
    std::vector<std::string> reverse_prompts;
    int64_t n_predict = -1;
    SamplingParams sampling;
    int64_t seed = -1;
    std::string color = "auto";
    bool no_stats = false;
    bool single_turn = false;
    bool multiline = false;
    bool escape = true;
    bool special = false;
    bool ignore_eos = false;
    bool verbose_prompt = false;
    bool interactive = true;  // llama.cpp's -i/-if/-cnv: chat always is
};

// --color: on a terminal (stdout), unless NO_COLOR is set (https://no-color.org).
bool use_color(const std::string& mode) {
    if (mode == "on") return true;
    if (mode == "off") return false;
    const char* no = std::getenv("NO_COLOR");
    return isatty(STDOUT_FILENO) && !(no && *no);
}
constexpr const char* kUserColor = "\033[32m";  // the user's text in green, the model's in the default colour
constexpr const char* kReset = "\033[0m";

const char* kHelp =
    "commands: /help this text, /reset forget the conversation, /exit quit (or Ctrl-D).\n"
    "end a line with \\ to continue the message on the next line; Ctrl-C stops a reply.\n";

// One line of input: on a terminal through libedit (line editing, history),
// else plain std::getline. False at end of input.
bool read_line(std::string& line, const std::string& prompt, bool tty) {
#ifdef TERN_HAVE_LIBEDIT
    if (tty) {
        char* s = readline(prompt.c_str());
        if (!s) return false;
        line = s;
        std::free(s);
        return true;
    }
#endif
    if (tty) {
        fmt::print("{}", prompt);
        std::fflush(stdout);
    }
    return bool(std::getline(std::cin, line));
}

// Reads one message (lines ending in '\' continue it; with `multiline`, every
// line does until an empty one). False at end of input.
bool read_message(std::string& out, bool tty, bool multiline, bool color) {
    out.clear();
    std::string line;
    for (bool first_line = true;; first_line = false) {
        // The colour starts before the prompt: libedit would not pass it on inside one.
        if (color && tty) fmt::print("{}", kUserColor);
        const bool got = read_line(line, first_line ? "> " : "... ", tty);
        if (color && tty) {
            fmt::print("{}", kReset);
            std::fflush(stdout);
        }
        if (!got) return !out.empty();
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (multiline && !line.empty()) line += '\\';
        if (!line.empty() && line.back() == '\\') {
            line.pop_back();
            out += line + "\n";
            continue;
        }
        out += line;
        if (multiline && !out.empty() && out.back() == '\n') out.pop_back();
#ifdef TERN_HAVE_LIBEDIT
        if (tty && !out.empty()) add_history(out.c_str());
#endif
        return true;
    }
}

void chat(const ChatOpts& o_in) {
    ChatOpts o = o_in;
    if (!o.system_file.empty()) {
        o.system = read_text_file(o.system_file);
        while (!o.system.empty() && o.system.back() == '\n') o.system.pop_back();
    } else if (o.escape) {
        o.system = process_escapes(o.system);
    }
    if (o.escape) o.first_message = process_escapes(o.first_message);
    require_utf8(o.system, "the system prompt");
    install_interrupt_handler();
    const Model model = Model::load(o.m.model, o.m.load_options());
    const std::optional<Tokenizer> tok_opt = load_tokenizer(model);
    if (!tok_opt) throw Error(o.m.model + " has no tokenizer (no tokenizer.ggml.tokens): chat needs one");
    const Tokenizer& tok = *tok_opt;
    std::string why = "set by --chat-template";
    const ChatTemplate tmpl =
        o.chat_template.empty() ? ChatTemplate::for_model(model, tok, &why) : ChatTemplate::by_name(o.chat_template);
    Session session(model, o.m.session_options(model.info()));
    Sampler sampler(finish_sampling(o.sampling, o.seed));
    GenerateOptions gen;
    gen.n_predict = o.n_predict;
    gen.sampling = sampler.params();
    gen.stop_tokens = tmpl.stop_tokens(tok);
    gen.render_special = o.special;
    gen.ignore_eos = o.ignore_eos;
    for (const std::string& r : o.reverse_prompts) gen.stop.push_back(o.escape ? process_escapes(r) : r);
    const bool tty = isatty(STDIN_FILENO) != 0;
    const bool color = use_color(o.color);

    fmt::print(stderr, "tern chat: {} ({}, n_ctx {}), template {} ({})\n", o.m.model, model.info().architecture, session.n_ctx(),
               tmpl.name(), why);
    if (tty) fmt::print(stderr, "{}", kHelp);

    std::vector<ChatMessage> history;  // user/assistant turns since the last reset (for context overflow)
    bool first = true;
    int64_t prompt_tokens = 0, gen_tokens = 0;
    double prompt_s = 0, gen_s = 0;
    std::string msg;
    bool pending_first = !o.first_message.empty();
    for (;;) {
        clear_interrupt();
        if (pending_first) {
            msg = o.first_message;
            pending_first = false;
            if (tty || color) fmt::print("> {}{}{}\n", color ? kUserColor : "", msg, color ? kReset : "");
        } else {
            if (o.single_turn && !first) break;
            if (!read_message(msg, tty, o.multiline, color)) break;
        }
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
        if (o.verbose_prompt) print_prompt_tokens(tok, tok.decode(ids, true), ids);
        const GenerateResult r = generate(session, &tok, ids, gen, [&](std::string_view piece, int32_t) {
            fmt::print("{}", piece);
            return flush_stdout() && !interrupted();
        }, &sampler);
        prompt_s += r.prompt_seconds;
        prompt_tokens += r.n_prompt;
        gen_s += r.generate_seconds;
        gen_tokens += r.n_generated;
        if (r.reason == StopReason::cancelled) fmt::print(stderr, "\n[interrupted]");
        if (r.reason == StopReason::context_full)
            fmt::print(stderr, "\n[context full: reply cut; the next message drops the oldest turns]");
        fmt::print("\n");
        if (!interrupted()) check_stdout();
        const std::string& reply = r.text;
        history.push_back({"user", msg});
        history.push_back({"assistant", reply});
        first = false;
    }
    if (!o.no_stats)
        fmt::print(stderr, "\n[chat ended] prompt: {} tokens, {:.2f} tokens/s; generation: {} tokens, {:.2f} tokens/s; seed {}\n",
                   prompt_tokens, prompt_tokens / std::max(prompt_s, 1e-9), gen_tokens,
                   gen_tokens / std::max(gen_s, 1e-9), sampler.params().seed);
}

}  // namespace

void register_chat(CLI::App& app) {
    auto o = std::make_shared<ChatOpts>();
    CLI::App* cmd = app.add_subcommand("chat", "Interactive multi-turn chat in the model's chat template");
    o->m.add_to(*cmd);
    CLI::Option* sys = cmd->add_option("--system-prompt", o->system, "System prompt (also -sys)");
    cmd->add_option("--system-prompt-file", o->system_file, "Read the system prompt from a file (also -sysf)")->excludes(sys);
    cmd->add_option("-p,--prompt", o->first_message, "First message, sent before reading input (as llama.cpp's -cnv -p)");
    cmd->add_option("--chat-template", o->chat_template, "Template: bitnet, llama3, falcon3, llama2 (default: from the model)");
    add_n_predict(*cmd, o->n_predict, "Most tokens per reply (-1: until end of turn)");
    add_sampling_options(*cmd, o->sampling, o->seed);
    add_reverse_prompts(*cmd, o->reverse_prompts, "End a reply when this text appears (repeatable; not printed)");
    cmd->add_flag("-e,--escape,!--no-escape", o->escape, "Process \\n \\t \\\\ \\' \\\" \\xHH in -sys, -p and -r (default: on)");
    cmd->add_flag("--special", o->special, "Print special tokens' text in replies (also -sp)");
    cmd->add_flag("--ignore-eos", o->ignore_eos, "Do not end a reply at end-of-text tokens (the template's end of turn still does)");
    cmd->add_flag("--verbose-prompt", o->verbose_prompt, "Print each turn's rendered prompt and its tokens to stderr");
    cmd->add_flag("--single-turn", o->single_turn, "Exit after the first reply (also -st)");
    cmd->add_flag("--multiline-input", o->multiline, "A message ends at an empty line, not at each line (also -mli)");
    // A bare --color means on (the "=on" help shows); without --color: auto.
    cmd->add_option("--color", o->color, "Colour the user's text: on, off, or auto (the default without --color: on a "
                                          "terminal without NO_COLOR); also -co")
        ->expected(0, 1)
        ->default_str("on")
        ->check(CLI::IsMember({"on", "off", "auto"}));
    cmd->add_flag("-i,--interactive,--interactive-first,--conversation", o->interactive,
                  "Accepted: chat is always interactive (llama.cpp's -i, -if, -cnv)");
    cmd->add_flag("--no-stats", o->no_stats, "Do not print timings at the end");
    cmd->callback([o] { chat(*o); });
}

}  // namespace tern::cli
