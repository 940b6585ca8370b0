// Every client-visible failure is an ApiError: an HTTP status plus the
// OpenAI-style body {"error": {"message", "type", "code"}}, and the reason
// tern_rejections_total counts it under ("" for failures that are not a
// refusal, such as a missing API key or a server error).
#pragma once

#include <stdexcept>
#include <string>

namespace tern::serve {

class ApiError : public std::runtime_error {
public:
    ApiError(int status, std::string type, const std::string& message, std::string reason = {})
        : std::runtime_error(message), status_(status), type_(std::move(type)), reason_(std::move(reason)) {}
    int status() const { return status_; }
    const std::string& type() const { return type_; }
    const std::string& reason() const { return reason_; }

private:
    int status_;
    std::string type_;
    std::string reason_;
};

inline ApiError bad_request(const std::string& message) {
    return ApiError(400, "invalid_request_error", message, "bad_request");
}

}  // namespace tern::serve
