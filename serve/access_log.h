// One line per request on stderr (--log-format text|json): time, method,
// endpoint, status, tokens, duration, and the client as client_hash() of its
// key or address. Never the key; the prompt and the answer only with
// --log-prompts.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace tern::serve {

enum class LogFormat { text, json };

// What is known about one request by the time it ends.
struct RequestRecord {
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    std::string method;
    std::string endpoint;        // the route; "other" for unknown paths
    std::string client;          // client_hash() of its key or address; "" when unknown
    int status = 0;
    int64_t prompt_tokens = -1;  // -1: not a generation (or refused before one)
    int64_t completion_tokens = -1;
    std::string cache;           // "hit" | "miss" | "" (not cacheable, or cache off)
    bool client_gone = false;    // the client hung up before the answer ended
    bool answered_later = false; // a stream: its provider ends the record, not the handler
    std::string prompt;          // --log-prompts only
    std::string answer;          // --log-prompts only
};

class AccessLog {
public:
    AccessLog(LogFormat format, bool with_prompts) : format_(format), with_prompts_(with_prompts) {}
    bool with_prompts() const { return with_prompts_; }
    // The line for `r` (without the newline), at wall time `now`.
    std::string line(const RequestRecord& r, double seconds, std::chrono::system_clock::time_point now) const;
    // Writes line() to stderr, whole.
    void write(const RequestRecord& r, double seconds);

private:
    LogFormat format_;
    bool with_prompts_;
    std::mutex m_;
};

}  // namespace tern::serve
