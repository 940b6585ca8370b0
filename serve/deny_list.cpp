#include "deny_list.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <fstream>

#include "tern/error.h"

namespace tern::serve {

struct DenyList::Pattern {
    int line = 0;
    pcre2_code* code = nullptr;
    ~Pattern() { pcre2_code_free(code); }
};

DenyList DenyList::load(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw Error("--deny-regex " + path + ": cannot open the file");
    DenyList out;
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        int err = 0;
        PCRE2_SIZE at = 0;
        // UTF mode that tolerates invalid UTF-8 in the subject: a client's
        // text is matched as it came, never an error.
        pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(line.data()), line.size(),
                                         PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &err, &at, nullptr);
        if (!code) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof msg);
            throw Error("--deny-regex " + path + ":" + std::to_string(n) + ": invalid pattern at offset " +
                        std::to_string(at) + ": " + reinterpret_cast<const char*>(msg) + " (fix or remove line " +
                        std::to_string(n) + ")");
        }
        pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // faster when available; matching works without it
        auto p = std::make_shared<Pattern>();
        p->line = n;
        p->code = code;
        out.patterns_.push_back(std::move(p));
    }
    return out;
}

int DenyList::match(const std::string& text) const {
    for (const auto& p : patterns_) {
        pcre2_match_data* md = pcre2_match_data_create_from_pattern(p->code, nullptr);
        const int rc = pcre2_match(p->code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0, 0, md, nullptr);
        pcre2_match_data_free(md);
        // rc < 0 is "no match" or a matching limit hit (a pathological pattern):
        // either way this pattern does not refuse the text.
        if (rc >= 0) return p->line;
    }
    return 0;
}

}  // namespace tern::serve
