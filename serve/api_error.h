// Every client-visible failure is an ApiError: an HTTP status plus the
// OpenAI-style body {"error": {"message", "type", "code"}}.
#pragma once

#include <stdexcept>
#include <string>

namespace tern::serve {

class ApiError : public std::runtime_error {
public:
    ApiError(int status, std::string type, const std::string& message)
        : std::runtime_error(message), status_(status), type_(std::move(type)) {}
    int status() const { return status_; }
    const std::string& type() const { return type_; }

private:
    int status_;
    std::string type_;
};

inline ApiError bad_request(const std::string& message) { return ApiError(400, "invalid_request_error", message); }

}  // namespace tern::serve
