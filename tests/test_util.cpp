#include "test_util.h"

#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include "kernels/formats.h"
#include "kernels/ternary_formats.h"
#include "tern/gguf.h"

namespace tern::test {

std::string temp_path(const std::string& stem) {
    static std::atomic<int> counter{0};
    const auto dir = std::filesystem::temp_directory_path();
    return (dir / ("tern_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" + stem)).string();
}

int run_tern(const std::string& args, std::string* out, bool merge_stderr) {
    // In parentheses, so ARGS may redirect stdout (> /dev/full) and stderr still comes here.
    return run_command("(" + std::string(TERN_BINARY) + " " + args + ")", out, merge_stderr);
}

int run_command(const std::string& command, std::string* out, bool merge_stderr) {
    const std::string cmd = command + (merge_stderr ? " 2>&1" : " 2>/dev/null");
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) throw std::runtime_error("popen failed: " + cmd);
    std::array<char, 4096> buf{};
    std::string text;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) text.append(buf.data(), n);
    const int status = pclose(p);
    if (out) *out = text;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::vector<uint8_t> read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("cannot read " + path);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

std::vector<TokenizerCase> load_tokenizer_cases(const std::string& base) {
    const auto inp_bytes = read_file(base + ".inp"), out_bytes = read_file(base + ".out");
    const std::string inp(inp_bytes.begin(), inp_bytes.end()), sep = "\n__ggml_vocab_test__\n";
    std::vector<TokenizerCase> cases;
    for (size_t pos = 0; pos < inp.size();) {
        size_t end = inp.find(sep, pos);
        if (end == std::string::npos) end = inp.size();
        cases.push_back({inp.substr(pos, end - pos), {}});
        pos = end + sep.size();
    }
    std::istringstream out(std::string(out_bytes.begin(), out_bytes.end()));
    std::string line;
    for (size_t k = 0; k < cases.size() && std::getline(out, line); ++k) {
        std::istringstream ls(line);
        for (int32_t id; ls >> id;) cases[k].ids.push_back(id);
    }
    return cases;
}

std::string corpus_text() {
    std::string text;
    for (const char* name : {"Apache-2.0", "Artistic", "BSD", "GFDL-1.3", "GPL-2", "GPL-3", "LGPL-2.1", "MPL-2.0"}) {
        const auto bytes = read_file(std::string("/usr/share/common-licenses/") + name);
        text.append(bytes.begin(), bytes.end());
    }
    return text;
}

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    if (!f) throw std::runtime_error("cannot write " + path);
}

namespace {

std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
    std::vector<uint8_t> b(v.size() * 4);
    std::memcpy(b.data(), v.data(), b.size());
    return b;
}

// I2_S bytes (SPEC §5) of random ternary codes: code values 0..2 in every
// 2-bit slot, then the f32 scale and padding to 32 bytes.
std::vector<uint8_t> random_i2s(int64_t n, float scale, std::mt19937_64& rng) {
    std::vector<uint8_t> b(size_t(n / 4 + kI2STrailerBytes), 0);
    std::uniform_int_distribution<int> code(0, 2);
    for (int64_t k = 0; k < n / 4; ++k) {
        uint8_t v = 0;
        for (int g = 0; g < 4; ++g) v = uint8_t(v | (code(rng) << (2 * g)));
        b[size_t(k)] = v;
    }
    std::memcpy(&b[size_t(n / 4)], &scale, 4);
    return b;
}

}  // namespace

void write_bitnet_cpp_style_gguf(const std::string& path, const TinyShape& s, uint64_t seed) {
    using gguf::Value;
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    const std::string a = "bitnet-25";
    gguf::Writer w;
    w.set("general.architecture", Value::str(a));
    w.set("general.name", Value::str("bitnet_b1_58-tiny-test"));
    w.set(a + ".vocab_size", Value::u32(uint32_t(s.vocab)));
    w.set(a + ".context_length", Value::u32(uint32_t(s.context)));
    w.set(a + ".embedding_length", Value::u32(uint32_t(s.hidden)));
    w.set(a + ".block_count", Value::u32(uint32_t(s.layers)));
    w.set(a + ".feed_forward_length", Value::u32(uint32_t(s.ffn)));
    w.set(a + ".rope.dimension_count", Value::u32(uint32_t(s.hidden / s.heads)));
    w.set(a + ".attention.head_count", Value::u32(uint32_t(s.heads)));
    w.set(a + ".attention.head_count_kv", Value::u32(uint32_t(s.kv_heads)));
    w.set(a + ".rope.freq_base", Value::f32(500000.0f));
    w.set(a + ".attention.layer_norm_rms_epsilon", Value::f32(1e-5f));
    w.set("general.file_type", Value::u32(40));
    w.set("tokenizer.ggml.model", Value::str("gpt2"));
    std::vector<std::string> tokens;
    for (int64_t k = 0; k < s.vocab; ++k) tokens.push_back(std::string("t").append(std::to_string(k)));
    w.set("tokenizer.ggml.tokens", Value::strings(tokens));
    w.set("tokenizer.ggml.token_type", Value::i32s(std::vector<int32_t>(size_t(s.vocab), 1)));
    w.set("tokenizer.ggml.merges", Value::strings({"t 0", "t 1"}));
    w.set("tokenizer.ggml.bos_token_id", Value::u32(1));
    w.set("tokenizer.ggml.eos_token_id", Value::u32(2));
    w.set("tokenizer.chat_template", Value::str("{% for message in messages %}{{ message['content'] }}{% endfor %}"));

    auto f16_tensor = [&](int64_t n) {
        std::vector<uint8_t> b(size_t(n * 2));
        for (int64_t k = 0; k < n; ++k) {
            const uint16_t h = f32_to_fp16(0.02f * normal(rng));
            std::memcpy(&b[size_t(2 * k)], &h, 2);
        }
        return b;
    };
    auto norm = [&](int64_t n) {
        std::vector<float> v(static_cast<size_t>(n));
        for (auto& x : v) x = 1.0f + 0.1f * normal(rng);
        return f32_bytes(v);
    };
    const auto I2S = uint32_t(GgmlType::I2_S), F32 = uint32_t(GgmlType::F32);
    const int64_t H = s.hidden, I = s.ffn, kv = s.hidden / s.heads * s.kv_heads;
    std::vector<uint8_t> embd;
    if (s.embd_type == uint32_t(GgmlType::Q8_0)) {
        std::vector<float> row(static_cast<size_t>(H));
        embd.resize(size_t(s.vocab * H / 32 * 34));
        for (int64_t r = 0; r < s.vocab; ++r) {
            for (auto& v : row) v = 0.02f * normal(rng);
            kernels::quantize_row_q8_0(row.data(), reinterpret_cast<BlockQ8_0*>(embd.data() + r * (H / 32 * 34)), H);
        }
    } else if (s.embd_type == uint32_t(GgmlType::Q6_K)) {
        // Random codes, scales in [16, 127], d so that values are ~0.02 like the F16 ones.
        embd.resize(size_t(s.vocab * H / 256 * 210));
        for (size_t b = 0; b < embd.size(); b += 210) {
            for (size_t k = 0; k < 192; ++k) embd[b + k] = uint8_t(rng());
            for (size_t k = 192; k < 208; ++k) embd[b + k] = uint8_t(16 + rng() % 112);
            const uint16_t d = f32_to_fp16(2.5e-5f);
            std::memcpy(&embd[b + 208], &d, 2);
        }
    } else if (s.embd_type == uint32_t(GgmlType::Q4_K) || s.embd_type == uint32_t(GgmlType::Q5_K)) {
        // Gaussian rows through tern's own quantizer (every sub-block has a min and a scale).
        const kernels::FormatCodec* codec = kernels::format_codec(s.embd_type);
        const int64_t row_bytes = H / 256 * (s.embd_type == uint32_t(GgmlType::Q4_K) ? 144 : 176);
        std::vector<float> row(static_cast<size_t>(H));
        embd.resize(size_t(s.vocab * row_bytes));
        for (int64_t r = 0; r < s.vocab; ++r) {
            for (auto& v : row) v = 0.02f * normal(rng);
            codec->encode_row(row.data(), embd.data() + r * row_bytes, H);
        }
    } else if (s.embd_type == uint32_t(GgmlType::F16)) {
        embd = f16_tensor(H * s.vocab);
    } else {
        throw std::invalid_argument("write_bitnet_cpp_style_gguf: embd_type must be F16, Q8_0, Q4_K, Q5_K or Q6_K");
    }
    w.add_tensor("token_embd.weight", {H, s.vocab}, s.embd_type, std::move(embd));
    w.add_tensor("output_norm.weight", {H}, F32, norm(H));
    for (int64_t l = 0; l < s.layers; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        w.add_tensor(p + "attn_norm.weight", {H}, F32, norm(H));
        w.add_tensor(p + "attn_q.weight", {H, H}, I2S, random_i2s(H * H, 0.9f, rng));
        w.add_tensor(p + "attn_k.weight", {H, kv}, I2S, random_i2s(H * kv, 1.1f, rng));
        w.add_tensor(p + "attn_v.weight", {H, kv}, I2S, random_i2s(H * kv, 0.7f, rng));
        w.add_tensor(p + "attn_sub_norm.weight", {H}, F32, norm(H));
        w.add_tensor(p + "attn_output.weight", {H, H}, I2S, random_i2s(H * H, 1.3f, rng));
        w.add_tensor(p + "ffn_norm.weight", {H}, F32, norm(H));
        w.add_tensor(p + "ffn_gate.weight", {H, I}, I2S, random_i2s(H * I, 0.8f, rng));
        w.add_tensor(p + "ffn_up.weight", {H, I}, I2S, random_i2s(H * I, 0.6f, rng));
        w.add_tensor(p + "ffn_sub_norm.weight", {I}, F32, norm(I));
        w.add_tensor(p + "ffn_down.weight", {I, H}, I2S, random_i2s(I * H, 1.2f, rng));
    }
    w.write(path);
}

std::string write_byte_vocab_model(const std::string& src) {
    using gguf::Value;
    const gguf::File f = gguf::File::open(src);
    const int64_t n_vocab = f.tensor("token_embd.weight").dims[1];
    // GPT-2's byte -> unicode alphabet: printable bytes stand for themselves,
    // the rest map to U+0100 upwards in byte order.
    std::vector<std::string> tokens;
    int next = 256;
    for (int b = 0; b < 256; ++b) {
        const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
        const int cp = printable ? b : next++;
        std::string u;
        if (cp < 0x80) {
            u += char(cp);
        } else {
            u += char(0xC0 | (cp >> 6));
            u += char(0x80 | (cp & 0x3F));
        }
        tokens.push_back(u);
    }
    std::vector<int32_t> types(256, 1);
    for (const char* sp : {"<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"}) {
        tokens.push_back(sp);
        types.push_back(3);
    }
    while (int64_t(tokens.size()) < n_vocab) {
        tokens.push_back("<|unused_" + std::to_string(tokens.size()) + "|>");
        types.push_back(5);
    }
    if (int64_t(tokens.size()) != n_vocab) throw std::runtime_error("vocabulary too small for a byte vocabulary");
    gguf::Writer w;
    for (const auto& [k, v] : f.metadata())
        if (k.rfind("tokenizer.", 0) != 0) w.set(k, v);
    w.set("tokenizer.ggml.model", Value::str("gpt2"));
    w.set("tokenizer.ggml.pre", Value::str("gpt-2"));
    w.set("tokenizer.ggml.tokens", Value::strings(tokens));
    w.set("tokenizer.ggml.token_type", Value::i32s(types));
    w.set("tokenizer.ggml.merges", Value::strings({}));
    w.set("tokenizer.ggml.bos_token_id", Value::u32(256));
    w.set("tokenizer.ggml.eos_token_id", Value::u32(257));
    w.set("tokenizer.ggml.eot_token_id", Value::u32(258));
    w.set("tokenizer.ggml.add_bos_token", Value::boolean(true));
    w.set("tokenizer.chat_template",
          Value::str("{% for message in messages %}{{ message['role'] | capitalize + ': ' + message['content'] | trim + "
                     "'<|eot_id|>' }}{% endfor %}{% if add_generation_prompt %}{{ 'Assistant: ' }}{% endif %}"));
    for (const auto& t : f.tensors()) w.add_tensor(t.name, t.dims, t.type, std::vector<uint8_t>(t.data, t.data + t.n_bytes));
    const std::string out = temp_path("bytevocab.gguf");
    w.write(out);
    return out;
}

std::vector<float> read_npy_f32(const std::string& path, std::vector<int64_t>* shape) {
    const auto b = read_file(path);
    if (b.size() < 10 || std::memcmp(b.data(), "\x93NUMPY", 6) != 0) throw std::runtime_error(path + ": not .npy");
    size_t hlen, hstart;
    if (b[6] == 1) {
        hlen = size_t(b[8]) | (size_t(b[9]) << 8);
        hstart = 10;
    } else {
        hlen = size_t(b[8]) | (size_t(b[9]) << 8) | (size_t(b[10]) << 16) | (size_t(b[11]) << 24);
        hstart = 12;
    }
    const std::string header(reinterpret_cast<const char*>(&b[hstart]), hlen);
    if (header.find("'<f4'") == std::string::npos || header.find("'fortran_order': False") == std::string::npos)
        throw std::runtime_error(path + ": expected little-endian float32 C order");
    const size_t lp = header.find("'shape': (") + 10, rp = header.find(')', lp);
    std::vector<int64_t> local;
    if (!shape) shape = &local;
    shape->clear();
    std::string dims = header.substr(lp, rp - lp);
    for (size_t p = 0; p < dims.size();) {
        size_t q = dims.find(',', p);
        if (q == std::string::npos) q = dims.size();
        const std::string d = dims.substr(p, q - p);
        if (d.find_first_not_of(' ') != std::string::npos) shape->push_back(std::stoll(d));
        p = q + 1;
    }
    std::vector<float> out((b.size() - hstart - hlen) / 4);
    std::memcpy(out.data(), &b[hstart + hlen], out.size() * 4);
    return out;
}

}  // namespace tern::test
