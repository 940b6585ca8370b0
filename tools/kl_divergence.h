// llama-perplexity's KL-divergence base file, and the statistics it prints
// when comparing a model against one, so a base written by llama.cpp,
// bitnet.cpp or tern is read by any of them.
//
// The file (little-endian):
//   "_logits_"                       8 bytes
//   n_ctx, n_vocab, n_chunk          int32 each
//   tokens                           int32 [n_chunk * n_ctx], the text as tokenized
//                                    (each chunk's first token is replaced by BOS
//                                    when evaluated, not in the file)
//   per chunk, per scored position   (positions n_ctx/2 .. n_ctx - 2 of the chunk;
//                                    the token predicted is the next one)
//     scale, min_log_prob            float32 each (4 uint16 slots)
//     q[n_vocab] (+1 pad if odd)     uint16: log p_i = scale * q_i + min_log_prob,
//                                    log-probabilities below max - 16 stored as 0
#pragma once

#include <cstdint>
#include <fstream>
#include <span>
#include <string>
#include <vector>

namespace tern::cli::kld {

// uint16 slots per scored position.
inline int64_t record_size(int64_t n_vocab) { return 2 * ((n_vocab + 1) / 2) + 4; }
// Positions scored per chunk (the second half, as perplexity scores them).
inline int64_t scored_per_chunk(int64_t n_ctx) { return n_ctx - 1 - n_ctx / 2; }

// Quantizes one position's logits into `record` (record_size(n_vocab) slots);
// returns -log p(target).
double encode(const float* logits, int64_t n_vocab, int32_t target, uint16_t* record);

// Writes PATH.tmp and renames it to PATH on commit(); the temporary is removed
// if the writer dies uncommitted (an error, Ctrl-C).
class BaseWriter {
public:
    // Opens PATH.tmp now, so a bad path fails before any work. Throws tern::Error.
    explicit BaseWriter(std::string path);
    ~BaseWriter();
    BaseWriter(const BaseWriter&) = delete;
    BaseWriter& operator=(const BaseWriter&) = delete;

    void header(int32_t n_ctx, int32_t n_vocab, std::span<const int32_t> tokens);
    void records(std::span<const uint16_t> r);
    void commit();
    const std::string& path() const { return path_; }

private:
    std::string path_, tmp_;
    std::ofstream out_;
    bool committed_ = false;
};

class BaseReader {
public:
    // Reads and checks the header and that the file's size matches it. Throws tern::Error.
    explicit BaseReader(const std::string& path);

    int32_t n_ctx() const { return n_ctx_; }
    int32_t n_vocab() const { return n_vocab_; }
    int32_t n_chunk() const { return n_chunk_; }
    const std::vector<int32_t>& tokens() const { return tokens_; }
    // The records of the next chunk: scored_per_chunk(n_ctx) * record_size(n_vocab) slots.
    const std::vector<uint16_t>& next_chunk();

private:
    std::string path_;
    std::ifstream in_;
    int32_t n_ctx_ = 0, n_vocab_ = 0, n_chunk_ = 0;
    std::vector<int32_t> tokens_;
    std::vector<uint16_t> chunk_;
};

// The sums llama-perplexity keeps while comparing, and its report.
class Comparison {
public:
    // One scored position: this model's logits against the base record.
    void add(const float* logits, int64_t n_vocab, const uint16_t* record, int32_t target);

    size_t count() const { return count_; }
    static void print_chunk_header();
    void print_chunk(int64_t chunk) const;  // running values after `chunk` (1-based)
    void print_summary() const;             // perplexity, KL-divergence and token-probability statistics

private:
    double sum_nll_ = 0, sum_nll2_ = 0, sum_nll_base_ = 0, sum_nll_base2_ = 0, sum_nll_nll_base_ = 0;
    double sum_kld_ = 0, sum_kld2_ = 0, sum_p_diff_ = 0, sum_p_diff2_ = 0, sum_p_diff4_ = 0;
    size_t n_same_top_ = 0, count_ = 0;
    std::vector<float> kld_, p_diff_;
};

}  // namespace tern::cli::kld
