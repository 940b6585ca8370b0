// Helpers shared by the tests: temporary paths, running the tern binary, and
// small model files built with tern's own GGUF writer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tern::test {

// A fresh path under the system temp dir (removed by the caller if wanted).
std::string temp_path(const std::string& stem);

// Runs a shell command, capturing its stdout (and stderr when `merge_stderr`);
// returns the exit code (128 + the signal when killed).
int run_command(const std::string& cmd, std::string* out, bool merge_stderr = false);

// run_command() of `tern ARGS` (the binary built alongside the tests); ARGS
// may redirect stdout and stdin.
int run_tern(const std::string& args, std::string* out, bool merge_stderr = false);

std::vector<uint8_t> read_file(const std::string& path);

// A little-endian float32 C-order .npy as tools/reference writes it; its
// dimensions go to *shape when given. Throws std::runtime_error otherwise.
std::vector<float> read_npy_f32(const std::string& path, std::vector<int64_t>* shape = nullptr);

// Reference tokenizations (tests/data/tokenizer-tests/NAME): BASE.inp holds the
// strings, each followed by "\n__ggml_vocab_test__\n"; line k of BASE.out the ids of string k.
struct TokenizerCase {
    std::string text;
    std::vector<int32_t> ids;
};
std::vector<TokenizerCase> load_tokenizer_cases(const std::string& base);

// About 100 KB of real English prose for round-trip tests: the license texts
// every Debian system ships in /usr/share/common-licenses (package base-files),
// in name order.
std::string corpus_text();
void write_file(const std::string& path, const std::vector<uint8_t>& bytes);

// Shape of a small BitNet model for file-level tests.
struct TinyShape {
    int64_t vocab = 320, hidden = 256, ffn = 512, layers = 2, heads = 4, kv_heads = 2, context = 256;
    uint32_t embd_type = 1;  // token_embd (tied output): F16 (1), Q8_0 (8), Q4_K (12), Q5_K (13) or Q6_K (14, random valid blocks)
};

// Writes a GGUF laid out as bitnet.cpp's converter writes 2B4T: arch
// `bitnet-25`, F16 (or shape.embd_type) token_embd, F32 norms, I2_S (type 36) linears with random
// codes, a `gpt2` tokenizer without a `pre` key (dummy pieces). Deterministic.
void write_bitnet_cpp_style_gguf(const std::string& path, const TinyShape& shape, uint64_t seed = 1);

// Copies a model file, replacing its vocabulary with a byte-level one: ids
// 0..255 are the 256 bytes (GPT-2's byte alphabet), then
// <|begin_of_text|> (BOS), <|end_of_text|> (EOS), <|eot_id|> (EOT), then
// unused pieces up to the embedding's row count; no merges. With 2B4T's chat
// template text. Any text tokenizes (one token per byte), so CLI tests can
// run text through the small golden models. Returns the new file's path.
std::string write_byte_vocab_model(const std::string& src_gguf);

}  // namespace tern::test
