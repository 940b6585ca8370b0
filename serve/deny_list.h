// --deny-regex FILE: PCRE2 patterns, one per line; a prompt or message that
// matches any of them is refused (400, type content_filter). No list is built
// in: what to refuse is the operator's policy.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace tern::serve {

class DenyList {
public:
    DenyList() = default;
    // Blank lines are skipped. Throws tern::Error "FILE:LINE: ..." naming the
    // first pattern PCRE2 cannot compile, and the reason.
    static DenyList load(const std::string& path);

    bool empty() const { return patterns_.empty(); }
    // The 1-based line of the first pattern found anywhere in `text`, or 0.
    int match(const std::string& text) const;

private:
    struct Pattern;
    std::vector<std::shared_ptr<const Pattern>> patterns_;
};

}  // namespace tern::serve
