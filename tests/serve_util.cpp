#include "serve_util.h"

namespace tern::serve_client {

const std::string kModel = std::string(TERN_SOURCE_DIR) + "/models/tern-tinystories-4m.gguf";
const std::string kEmbedModel = std::string(TERN_TEST_DATA_DIR) + "/models/qwen3_i2s_embd.gguf";

httplib::Client client_for(int port) {
    httplib::Client c("127.0.0.1", port);
    c.set_connection_timeout(5);
    c.set_read_timeout(60);
    c.set_write_timeout(10);
    return c;
}

Sse post_stream(int port, const std::string& path, const json& body, size_t stop_after,
                const std::string& auth) {
    httplib::Client c = client_for(port);
    httplib::Request req;
    req.method = "POST";
    req.path = path;
    req.body = body.dump();
    req.set_header("Content-Type", "application/json");
    if (!auth.empty()) req.set_header("Authorization", auth);
    Sse out;
    std::string buf;
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
        buf.append(data, n);
        size_t end;
        while ((stop_after == 0 || out.chunks.size() < stop_after) && (end = buf.find("\n\n")) != std::string::npos) {
            const std::string event = buf.substr(0, end);
            buf.erase(0, end + 2);
            if (event.rfind("data: ", 0) != 0) continue;
            const std::string payload = event.substr(6);
            if (payload == "[DONE]") out.done = true;
            else out.chunks.push_back(json::parse(payload));
        }
        return stop_after == 0 || out.chunks.size() < stop_after;
    };
    httplib::Response res;
    httplib::Error err = httplib::Error::Success;
    c.send(req, res, err);
    out.status = res.status;
    return out;
}

Reply post_json(int port, const std::string& path, const std::string& body, const std::string& auth) {
    httplib::Client c = client_for(port);
    httplib::Headers h;
    if (!auth.empty()) h.emplace("Authorization", auth);
    auto r = c.Post(path.c_str(), h, body, "application/json");
    if (!r) return {};
    Reply out{r->status, json::parse(r->body, nullptr, false)};
    return out;
}
Reply post_json(int port, const std::string& path, const json& body) { return post_json(port, path, body.dump()); }

Reply get(int port, const std::string& path, const std::string& auth) {
    httplib::Client c = client_for(port);
    httplib::Headers h;
    if (!auth.empty()) h.emplace("Authorization", auth);
    auto r = c.Get(path.c_str(), h);
    if (!r) return {};
    return {r->status, json::parse(r->body, nullptr, false)};
}

std::string get_text(int port, const std::string& path, const std::string& auth) {
    httplib::Client c = client_for(port);
    httplib::Headers h;
    if (!auth.empty()) h.emplace("Authorization", auth);
    auto r = c.Get(path.c_str(), h);
    return r ? r->body : std::string();
}

double metric(const std::string& text, const std::string& name) {
    std::smatch m;
    if (!std::regex_search(text, m, std::regex("\n" + std::regex_replace(name, std::regex(R"([{}"/.+*?()\[\]|^$\\])"), "\\$&") + " ([0-9.e+-]+)")))
        return -1;
    return std::stod(m[1]);
}

json greedy_completion(const std::string& prompt, int max_tokens) {
    return {{"prompt", prompt}, {"max_tokens", max_tokens}, {"temperature", 0}};
}

}  // namespace tern::serve_client
