#include "response_cache.h"

namespace tern::serve {

std::string ResponseCache::key(Endpoint endpoint, const nlohmann::json& body, const GenRequest& req) const {
    if (!enabled()) return "";
    const auto seed = body.find("seed");
    const bool fixed_seed = seed != body.end() && seed->is_number_integer() && seed->get<int64_t>() >= 0;
    if (req.sampling.temp > 0 && !fixed_seed) return "";
    nlohmann::json k = body;
    k.erase("stream");
    k.erase("stream_options");
    // nlohmann's objects keep their keys sorted: equal bodies dump equal.
    return (endpoint == Endpoint::chat ? "chat " : "completion ") +
           k.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<CachedAnswer> ResponseCache::find(const std::string& key) {
    std::lock_guard lk(m_);
    const auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->second;
}

void ResponseCache::put(const std::string& key, CachedAnswer answer) {
    std::lock_guard lk(m_);
    if (const auto it = index_.find(key); it != index_.end()) {
        it->second->second = std::move(answer);
        lru_.splice(lru_.begin(), lru_, it->second);
        return;
    }
    lru_.emplace_front(key, std::move(answer));
    index_[key] = lru_.begin();
    if (lru_.size() > capacity_) {
        index_.erase(lru_.back().first);
        lru_.pop_back();
    }
}

}  // namespace tern::serve
