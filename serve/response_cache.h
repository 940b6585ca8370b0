// --cache-responses N: the answers to the last N distinct deterministic
// requests (temperature 0, or a fixed seed), least recently used evicted.
// A hit is answered without a forward pass. The key is the endpoint plus the
// request body with its keys sorted and the delivery fields (stream,
// stream_options) removed: the same question asked streaming or not gets the
// same answer.
#pragma once

#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "request.h"

namespace tern::serve {

struct CachedAnswer {
    std::string text;
    std::string finish_reason;
    int64_t n_prompt = 0;
    int64_t n_generated = 0;
};

class ResponseCache {
public:
    explicit ResponseCache(size_t capacity) : capacity_(capacity) {}
    bool enabled() const { return capacity_ > 0; }

    // The key for a request that may be cached, or "" (cache off, or the
    // request samples with a fresh seed).
    std::string key(Endpoint endpoint, const nlohmann::json& body, const GenRequest& req) const;

    std::optional<CachedAnswer> find(const std::string& key);
    void put(const std::string& key, CachedAnswer answer);

private:
    using Entry = std::pair<std::string, CachedAnswer>;
    size_t capacity_;
    std::mutex m_;
    std::list<Entry> lru_;  // most recent first
    std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

}  // namespace tern::serve
