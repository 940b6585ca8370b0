// The one exception type tern throws for bad input: the message says what is
// wrong, where (file, key, tensor, byte offset) and, where it helps, what to do.
#pragma once

#include <stdexcept>
#include <string>

namespace tern {

class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace tern
