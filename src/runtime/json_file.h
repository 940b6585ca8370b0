// Reading a JSON file (config.json, tokenizer.json, tokenizer_config.json,
// safetensors indexes) with errors that name the file.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace tern {

// `path` parsed; tern::Error "PATH: cannot open" or "PATH: not valid JSON: ...".
nlohmann::json read_json_file(const std::string& path);

}  // namespace tern
