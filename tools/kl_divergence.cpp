#include "kl_divergence.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>

#include <fmt/core.h>

#include "common.h"
#include "tern/error.h"

namespace tern::cli::kld {

namespace {

constexpr char kMagic[8] = {'_', 'l', 'o', 'g', 'i', 't', 's', '_'};
constexpr float kRange = 16.0f;  // log-probabilities kept: the top 16 nats below the maximum

struct Softmax {
    float max_logit;
    int64_t argmax;
    float log_sum_exp;  // of logits - max_logit
};

Softmax softmax_of(const float* logits, int64_t n_vocab) {
    Softmax s{logits[0], 0, 0.0f};
    for (int64_t i = 1; i < n_vocab; ++i)
        if (logits[i] > s.max_logit) {
            s.max_logit = logits[i];
            s.argmax = i;
        }
    double sum = 0;
    for (int64_t i = 0; i < n_vocab; ++i) sum += std::exp(logits[i] - s.max_logit);
    s.log_sum_exp = float(std::log(sum));
    return s;
}

std::pair<double, double> mean_and_uncertainty(double sum, double sum2, size_t count) {
    if (count < 1) return {0.0, 0.0};
    const double f = sum / double(count);
    const double var = sum2 / double(count) - f * f;
    return {f, var > 0 && count > 10 ? std::sqrt(var / double(count - 1)) : 0.0};
}

double covariance(double sum_a, double sum_b, double sum_ab, size_t count) {
    if (count < 10) return 0.0;
    const double n = double(count);
    return (sum_ab / n - (sum_a / n) * (sum_b / n)) / (n - 1);
}

double sqrt0(double v) { return v > 0 ? std::sqrt(v) : 0.0; }

// Linear interpolation between the sorted values around fraction * (n - 1).
float percentile(const std::vector<float>& sorted, float fraction) {
    if (fraction <= 0) return sorted.front();
    if (fraction >= 1) return sorted.back();
    float p = fraction * float(sorted.size() - 1);
    const size_t i = size_t(p);
    p -= float(i);
    return (1 - p) * sorted[i] + p * sorted[std::min(i + 1, sorted.size() - 1)];
}

float median(const std::vector<float>& sorted) {
    const size_t n = sorted.size();
    return n % 2 == 0 ? 0.5f * (sorted[n / 2] + sorted[n / 2 - 1]) : sorted[n / 2];
}

}  // namespace

double encode(const float* logits, int64_t n_vocab, int32_t target, uint16_t* record) {
    const Softmax s = softmax_of(logits, n_vocab);
    float min_logit = logits[0];
    for (int64_t i = 1; i < n_vocab; ++i) min_logit = std::min(min_logit, logits[i]);
    min_logit = std::max(min_logit, s.max_logit - kRange);
    const float min_log_prob = min_logit - s.max_logit - s.log_sum_exp;
    const float scale = (s.max_logit - min_logit) / 65535.0f;
    std::memcpy(record, &scale, 4);
    std::memcpy(record + 2, &min_log_prob, 4);
    uint16_t* q = record + 4;
    std::fill(q, q + (record_size(n_vocab) - 4), uint16_t(0));
    if (scale > 0) {
        const float inv = 1 / scale;
        for (int64_t i = 0; i < n_vocab; ++i)
            q[i] = logits[i] > min_logit ? uint16_t(std::nearbyint(inv * (logits[i] - min_logit))) : 0;
    }
    return double(s.max_logit) + double(s.log_sum_exp) - double(logits[target]);
}

// ---- BaseWriter ----------------------------------------------------------

BaseWriter::BaseWriter(std::string path) : path_(std::move(path)), tmp_(path_ + ".tmp") {
    if (std::filesystem::is_directory(path_))
        throw Error(path_ + " is a directory: --kl-divergence-base needs a file name to write the base to");
    out_.open(tmp_, std::ios::binary | std::ios::trunc);
    if (!out_) throw Error(tmp_ + ": cannot create the KL-divergence base file (" + std::strerror(errno) + ")");
    remove_on_signal(tmp_);  // a second Ctrl-C or a SIGTERM exits at once: the handler unlinks it
}

BaseWriter::~BaseWriter() {
    remove_on_signal("");
    if (!committed_) {
        out_.close();
        std::error_code ec;
        std::filesystem::remove(tmp_, ec);
    }
}

void BaseWriter::header(int32_t n_ctx, int32_t n_vocab, std::span<const int32_t> tokens) {
    const int32_t n_chunk = int32_t(int64_t(tokens.size()) / n_ctx);
    out_.write(kMagic, sizeof kMagic);
    for (int32_t v : {n_ctx, n_vocab, n_chunk}) out_.write(reinterpret_cast<const char*>(&v), 4);
    out_.write(reinterpret_cast<const char*>(tokens.data()), std::streamsize(tokens.size() * 4));
}

void BaseWriter::records(std::span<const uint16_t> r) {
    out_.write(reinterpret_cast<const char*>(r.data()), std::streamsize(r.size() * 2));
}

void BaseWriter::commit() {
    out_.flush();
    if (!out_) throw Error(tmp_ + ": write failed (disk full?); " + path_ + " was not written");
    out_.close();
    std::error_code ec;
    std::filesystem::rename(tmp_, path_, ec);
    if (ec) throw Error("cannot rename " + tmp_ + " to " + path_ + ": " + ec.message());
    committed_ = true;
}

// ---- BaseReader ----------------------------------------------------------

BaseReader::BaseReader(const std::string& path) : path_(path), in_(path, std::ios::binary) {
    if (!in_) throw Error(path + ": cannot open the KL-divergence base file (" + std::strerror(errno) + ")");
    char magic[8];
    int32_t hdr[3];
    in_.read(magic, 8);
    in_.read(reinterpret_cast<char*>(hdr), sizeof hdr);
    if (!in_ || std::memcmp(magic, kMagic, 8) != 0)
        throw Error(path + " is not a KL-divergence base file (no \"_logits_\" header): write one with "
                           "--kl-divergence-base FILE (without --kl-divergence), here or with llama-perplexity");
    n_ctx_ = hdr[0];
    n_vocab_ = hdr[1];
    n_chunk_ = hdr[2];
    if (n_ctx_ < 4 || n_ctx_ > (1 << 24) || n_vocab_ < 1 || n_vocab_ > (1 << 24) || n_chunk_ < 1)
        throw Error(fmt::format("{}: implausible header (n_ctx {}, n_vocab {}, n_chunk {})", path, n_ctx_, n_vocab_, n_chunk_));
    const uint64_t expected = 20 + 4 * uint64_t(n_ctx_) * uint64_t(n_chunk_) +
                              2 * uint64_t(n_chunk_) * uint64_t(scored_per_chunk(n_ctx_)) * uint64_t(record_size(n_vocab_));
    const uint64_t actual = std::filesystem::file_size(path);
    if (actual != expected)
        throw Error(fmt::format("{}: {} bytes, but its header (n_ctx {}, n_vocab {}, n_chunk {}) needs {}: the file is "
                                "truncated or damaged",
                                path, actual, n_ctx_, n_vocab_, n_chunk_, expected));
    tokens_.resize(size_t(n_ctx_) * size_t(n_chunk_));
    in_.read(reinterpret_cast<char*>(tokens_.data()), std::streamsize(tokens_.size() * 4));
    if (!in_) throw Error(path + ": cannot read the tokens");
    for (int32_t t : tokens_)
        if (t < 0 || t >= n_vocab_)
            throw Error(fmt::format("{}: token id {} is outside its vocabulary of {}", path, t, n_vocab_));
}

const std::vector<uint16_t>& BaseReader::next_chunk() {
    chunk_.resize(size_t(scored_per_chunk(n_ctx_) * record_size(n_vocab_)));
    in_.read(reinterpret_cast<char*>(chunk_.data()), std::streamsize(chunk_.size() * 2));
    if (!in_) throw Error(path_ + ": cannot read the log-probabilities of the next chunk");
    return chunk_;
}

// ---- Comparison ----------------------------------------------------------

void Comparison::add(const float* logits, int64_t n_vocab, const uint16_t* record, int32_t target) {
    const Softmax s = softmax_of(logits, n_vocab);
    float scale, min_log_prob;
    std::memcpy(&scale, record, 4);
    std::memcpy(&min_log_prob, record + 2, 4);
    const uint16_t* q = record + 4;

    const double nll = double(s.max_logit) + s.log_sum_exp - logits[target];
    const double nll_base = -(double(scale) * q[target] + min_log_prob);
    sum_nll_ += nll;
    sum_nll2_ += nll * nll;
    sum_nll_base_ += nll_base;
    sum_nll_base2_ += nll_base * nll_base;
    sum_nll_nll_base_ += nll * nll_base;

    // KL(base || this) over the tokens the base kept.
    const float log_norm = s.max_logit + s.log_sum_exp;
    double kl = 0;
    int64_t argmax_base = 0;
    float best = 0;
    for (int64_t i = 0; i < n_vocab; ++i) {
        const float lp_base = scale * q[i] + min_log_prob;
        if (i == 0 || lp_base > best) {
            best = lp_base;
            argmax_base = i;
        }
        if (lp_base > -kRange) kl += double(std::exp(lp_base)) * (lp_base - (logits[i] - log_norm));
    }
    sum_kld_ += kl;
    sum_kld2_ += kl * kl;
    kld_.push_back(float(kl));
    if (argmax_base == s.argmax) ++n_same_top_;

    const double p_diff = std::exp(-nll) - std::exp(-nll_base);
    sum_p_diff_ += p_diff;
    sum_p_diff2_ += p_diff * p_diff;
    sum_p_diff4_ += p_diff * p_diff * p_diff * p_diff;
    p_diff_.push_back(float(p_diff));
    ++count_;
}

void Comparison::print_chunk_header() {
    fmt::print("\nchunk             PPL               ln(PPL(Q)/PPL(base))          KL Divergence              Δp RMS"
               "            Same top p\n");
}

void Comparison::print_chunk(int64_t chunk) const {
    const auto lp = mean_and_uncertainty(sum_nll_, sum_nll2_, count_);
    const auto lp_base = mean_and_uncertainty(sum_nll_base_, sum_nll_base2_, count_);
    const double cov = covariance(sum_nll_, sum_nll_base_, sum_nll_nll_base_, count_);
    const auto kl = mean_and_uncertainty(sum_kld_, sum_kld2_, count_);
    const auto mse = mean_and_uncertainty(sum_p_diff2_, sum_p_diff4_, count_);
    const double rms = std::sqrt(mse.first);
    const double top = double(n_same_top_) / double(count_);
    fmt::print("{:4d}    {:9.4f} ± {:9.4f}    {:10.5f} ± {:10.5f}    {:10.5f} ± {:10.5f}    {:6.3f} ± {:6.3f} %    "
               "{:6.3f} ± {:6.3f} %\n",
               chunk, std::exp(lp.first), std::exp(lp.first) * lp.second, lp.first - lp_base.first,
               sqrt0(lp.second * lp.second + lp_base.second * lp_base.second - 2 * cov), kl.first, kl.second,
               100 * rms, rms > 0 ? 100 * 0.5 / rms * mse.second : 0.0, 100 * top,
               count_ > 1 ? 100 * sqrt0(top * (1 - top) / double(count_ - 1)) : 0.0);
    std::fflush(stdout);
}

void Comparison::print_summary() const {
    if (count_ == 0) return;
    std::vector<float> kld = kld_, p_diff = p_diff_;
    std::sort(kld.begin(), kld.end());
    std::sort(p_diff.begin(), p_diff.end());

    const auto lp = mean_and_uncertainty(sum_nll_, sum_nll2_, count_);
    const auto lp_base = mean_and_uncertainty(sum_nll_base_, sum_nll_base2_, count_);
    const double cov = covariance(sum_nll_, sum_nll_base_, sum_nll_nll_base_, count_);
    const double ppl = std::exp(lp.first), ppl_unc = ppl * lp.second;
    const double ppl_base = std::exp(lp_base.first), ppl_base_unc = ppl_base * lp_base.second;
    const double ratio_log = lp.first - lp_base.first;
    const double ratio_log_unc = sqrt0(lp.second * lp.second + lp_base.second * lp_base.second - 2 * cov);
    const double den = lp.second * lp_base.second;

    fmt::print("\n====== Perplexity statistics ======\n");
    fmt::print("Mean PPL(Q)                   : {:10.6f} ± {:10.6f}\n", ppl, ppl_unc);
    fmt::print("Mean PPL(base)                : {:10.6f} ± {:10.6f}\n", ppl_base, ppl_base_unc);
    fmt::print("Cor(ln(PPL(Q)), ln(PPL(base))): {:6.2f}%\n", den > 0 ? 100 * cov / den : 0.0);
    fmt::print("Mean ln(PPL(Q)/PPL(base))     : {:10.6f} ± {:10.6f}\n", ratio_log, ratio_log_unc);
    fmt::print("Mean PPL(Q)/PPL(base)         : {:10.6f} ± {:10.6f}\n", std::exp(ratio_log), std::exp(ratio_log) * ratio_log_unc);
    fmt::print("Mean PPL(Q)-PPL(base)         : {:10.6f} ± {:10.6f}\n", ppl - ppl_base,
               sqrt0(ppl_unc * ppl_unc + ppl_base_unc * ppl_base_unc - 2 * ppl * ppl_base * cov));

    fmt::print("\n====== KL divergence statistics ======\n");
    const auto kl = mean_and_uncertainty(sum_kld_, sum_kld2_, count_);
    fmt::print("Mean    KLD: {:10.6f} ± {:10.6f}\n", kl.first, kl.second);
    fmt::print("Maximum KLD: {:10.6f}\n", kld.back());
    for (const auto& [label, f] : std::initializer_list<std::pair<const char*, float>>{
             {"99.9%", 0.999f}, {"99.0%", 0.990f}, {"95.0%", 0.950f}, {"90.0%", 0.900f}})
        fmt::print("{}   KLD: {:10.6f}\n", label, percentile(kld, f));
    fmt::print("Median  KLD: {:10.6f}\n", median(kld));
    for (const auto& [label, f] : std::initializer_list<std::pair<const char*, float>>{
             {"10.0%", 0.100f}, {" 5.0%", 0.050f}, {" 1.0%", 0.010f}, {" 0.1%", 0.001f}})
        fmt::print("{}   KLD: {:10.6f}\n", label, percentile(kld, f));
    fmt::print("Minimum KLD: {:10.6f}\n", kld.front());

    fmt::print("\n====== Token probability statistics ======\n");
    const auto pd = mean_and_uncertainty(sum_p_diff_, sum_p_diff2_, count_);
    fmt::print("Mean    Δp: {:6.3f} ± {:5.3f} %\n", 100 * pd.first, 100 * pd.second);
    fmt::print("Maximum Δp: {:6.3f}%\n", 100 * p_diff.back());
    for (const auto& [label, f] : std::initializer_list<std::pair<const char*, float>>{
             {"99.9%", 0.999f}, {"99.0%", 0.990f}, {"95.0%", 0.950f}, {"90.0%", 0.900f}, {"75.0%", 0.750f}})
        fmt::print("{}   Δp: {:6.3f}%\n", label, 100 * percentile(p_diff, f));
    fmt::print("Median  Δp: {:6.3f}%\n", 100 * median(p_diff));
    for (const auto& [label, f] : std::initializer_list<std::pair<const char*, float>>{
             {"25.0%", 0.250f}, {"10.0%", 0.100f}, {" 5.0%", 0.050f}, {" 1.0%", 0.010f}, {" 0.1%", 0.001f}})
        fmt::print("{}   Δp: {:6.3f}%\n", label, 100 * percentile(p_diff, f));
    fmt::print("Minimum Δp: {:6.3f}%\n", 100 * p_diff.front());
    const auto mse = mean_and_uncertainty(sum_p_diff2_, sum_p_diff4_, count_);
    const double rms = std::sqrt(mse.first);
    fmt::print("RMS Δp    : {:6.3f} ± {:5.3f} %\n", 100 * rms, rms > 0 ? 100 * 0.5 / rms * mse.second : 0.0);
    const double top = double(n_same_top_) / double(count_);
    fmt::print("Same top p: {:6.3f} ± {:5.3f} %\n", 100 * top, count_ > 1 ? 100 * sqrt0(top * (1 - top) / double(count_ - 1)) : 0.0);
    std::fflush(stdout);
}

}  // namespace tern::cli::kld
