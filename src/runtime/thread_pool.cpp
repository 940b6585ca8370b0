#include "runtime/thread_pool.h"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace tern {

namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

// How long an idle worker polls for the next job before it sleeps. Decode
// issues a region every ~20-100 us, so this keeps workers awake through a
// token; an idle session (waiting for user input) sleeps after it.
constexpr auto kSpinBudget = std::chrono::microseconds(300);
// Spinning threads give the core away this often (in polls), so a spinner
// sharing a core with the thread it waits for does not hold it for a whole
// time slice.
constexpr uint32_t kPollsPerYield = 64;
// How long the caller polls for workers still inside a closed job before it
// sleeps until the last one leaves. A worker normally finishes its last
// chunk within a few microseconds of the caller; one that takes longer has
// usually been descheduled (its core shared with another process) for a
// time slice or more. Polling through that would burn the caller's core for
// nothing and keep it busy, so the kernel could not run the worker there.
// Measured beside a busy loop on one of 2 cores (tg64, -t 2 over -t 1, 18
// alternating rounds): polling 0.95, sleeping after 50 us 0.99; quiet
// decode unchanged. (Polling as long as the caller's own share took, up to
// milliseconds in a prefill, lost the decode gain: 0.97.)
constexpr auto kCloseSpinBudget = std::chrono::microseconds(50);

}  // namespace

struct ThreadPool::Job {
    const std::function<void(int, int64_t, int64_t)>* range_fn = nullptr;  // parallel_for
    const std::function<void(int)>* all_fn = nullptr;                       // run_on_all
    // Chunks [0, n_long) are `long_chunk` each, the rest `chunk` each.
    int64_t n = 0, chunk = 1, n_chunks = 0, n_long = 0, long_chunk = 0;
    std::atomic<int64_t> next{0};   // next unclaimed chunk

    bool affine = false;  // kAffine: chunks claimed through ThreadPool::shares_

    int64_t begin(int64_t c) const { return c < n_long ? c * long_chunk : n_long * long_chunk + (c - n_long) * chunk; }
    int64_t end(int64_t c) const { return std::min(n, c < n_long ? begin(c) + long_chunk : begin(c) + chunk); }
    std::atomic<int> finished{0};   // run_on_all: threads done, the caller's included
    std::mutex mu;
    std::exception_ptr error;

    void fail(std::exception_ptr e) {
        std::lock_guard<std::mutex> lock(mu);
        if (!error) error = e;
    }
};

ThreadPool::ThreadPool(int n_threads)
    : n_threads_(std::max(1, n_threads)), shares_(std::make_unique<Share[]>(size_t(n_threads_))) {
    for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
    stop_.store(true, std::memory_order_seq_cst);
    state_.fetch_add(2, std::memory_order_seq_cst);  // a change every worker sees; stays even
    state_.notify_all();
    for (auto& t : workers_) t.join();
}

void ThreadPool::work(Job& job, int index) {
    if (job.all_fn) {
        try {
            (*job.all_fn)(index);
        } catch (...) {
            job.fail(std::current_exception());
        }
        job.finished.fetch_add(1, std::memory_order_release);
        return;
    }
    auto run_chunk = [&](int64_t c) {
        try {
            (*job.range_fn)(index, job.begin(c), job.end(c));
        } catch (...) {
            job.fail(std::current_exception());
        }
    };
    if (!job.affine) {
        for (int64_t c; (c = job.next.fetch_add(1, std::memory_order_relaxed)) < job.n_chunks;) run_chunk(c);
        return;
    }
    // Claims one chunk of `owner`'s share: the first one (own) or the last.
    auto claim = [&](int owner, bool own) -> int64_t {
        std::atomic<uint64_t>& r = shares_[size_t(owner)].range;
        uint64_t cur = r.load(std::memory_order_relaxed);
        for (;;) {
            const uint64_t lo = cur >> 32, hi = cur & 0xffffffffu;
            if (lo >= hi) return -1;
            const uint64_t next = own ? (lo + 1) << 32 | hi : lo << 32 | (hi - 1);
            if (r.compare_exchange_weak(cur, next, std::memory_order_relaxed)) return int64_t(own ? lo : hi - 1);
        }
    };
    for (int64_t c; (c = claim(index, true)) >= 0;) run_chunk(c);
    for (int k = 1; k < n_threads_; ++k)
        for (int64_t c; (c = claim((index + k) % n_threads_, false)) >= 0;) run_chunk(c);
}

uint32_t ThreadPool::wait_for_change(uint32_t seen) {
    const auto start = std::chrono::steady_clock::now();
    for (uint32_t polls = 1;; ++polls) {
        const uint32_t s = state_.load(std::memory_order_acquire);
        if (s != seen) return s;
        cpu_relax();
        if (polls % kPollsPerYield == 0) {
            if (std::chrono::steady_clock::now() - start > kSpinBudget) break;
            std::this_thread::yield();
        }
    }
    // Sleep. The seq_cst increment pairs with run()'s seq_cst store of state_
    // and load of sleepers_: either run() sees a sleeper and notifies, or
    // this thread sees the new state and does not block.
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    uint32_t s;
    while ((s = state_.load(std::memory_order_seq_cst)) == seen) state_.wait(seen, std::memory_order_seq_cst);
    sleepers_.fetch_sub(1, std::memory_order_relaxed);
    return s;
}

void ThreadPool::worker(int index) {
    uint32_t seen = 0;
    for (;;) {
        const uint32_t s = wait_for_change(seen);
        seen = s;
        if (stop_.load(std::memory_order_acquire)) return;
        if ((s & 1) == 0) continue;  // a job was closed before this thread got to it
        // Enter, then check the job is still open: run() closes the job (a
        // seq_cst store) before reading busy_, so if this load still sees it
        // open, run() will wait for this thread to leave.
        busy_.fetch_add(1, std::memory_order_seq_cst);
        if (state_.load(std::memory_order_seq_cst) == s) work(*job_, index);
        // The last one out wakes a caller that went to sleep waiting for it
        // (the seq_cst pair with wait_for_workers: one of them sees the other).
        if (busy_.fetch_sub(1, std::memory_order_seq_cst) == 1 && caller_asleep_.load(std::memory_order_seq_cst))
            busy_.notify_all();
    }
}

void ThreadPool::wait_for_workers() {
    const auto start = std::chrono::steady_clock::now();
    for (uint32_t polls = 1; busy_.load(std::memory_order_acquire) != 0; ++polls) {
        cpu_relax();
        if (polls % kPollsPerYield == 0 && std::chrono::steady_clock::now() - start > kCloseSpinBudget) {
            caller_asleep_.store(true, std::memory_order_seq_cst);
            for (int b; (b = busy_.load(std::memory_order_seq_cst)) != 0;) busy_.wait(b, std::memory_order_seq_cst);
            caller_asleep_.store(false, std::memory_order_relaxed);
            return;
        }
    }
}

void ThreadPool::run(Job& job) {
    job_ = &job;
    const uint32_t open = state_.load(std::memory_order_relaxed) + 1;
    state_.store(open, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) state_.notify_all();

    work(job, 0);
    auto wait_until = [](auto done) {
        for (uint32_t polls = 1; !done(); ++polls) {
            cpu_relax();
            if (polls % kPollsPerYield == 0) std::this_thread::yield();
        }
    };
    if (job.all_fn)
        wait_until([&] { return job.finished.load(std::memory_order_acquire) == n_threads_; });
    // Close: from here no worker enters; wait for those inside (they hold
    // claimed chunks, or are about to find none left).
    state_.store(open + 1, std::memory_order_seq_cst);
    wait_for_workers();
    job_ = nullptr;
    if (job.error) std::rethrow_exception(job.error);
}

void ThreadPool::run_on_all(const std::function<void(int)>& fn) {
    if (n_threads_ == 1) {
        fn(0);
        return;
    }
    Job job;
    job.all_fn = &fn;
    run(job);
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, const std::function<void(int, int64_t, int64_t)>& fn,
                              int chunks_per_thread) {
    if (n <= 0) return;
    grain = std::max<int64_t>(1, grain);
    const int64_t n_grains = (n + grain - 1) / grain;
    if (n_threads_ == 1 || n_grains == 1) {
        fn(0, 0, n);
        return;
    }
    Job job;
    job.range_fn = &fn;
    job.n = n;
    if (chunks_per_thread == kAffine && n_grains < (int64_t(1) << 31)) {
        job.affine = true;
        job.chunk = std::max<int64_t>(1, n_grains / (int64_t(n_threads_) * kBalanced)) * grain;
        job.n_chunks = (n + job.chunk - 1) / job.chunk;
        for (int t = 0; t < n_threads_; ++t) {
            const uint64_t lo = uint64_t(job.n_chunks * t / n_threads_), hi = uint64_t(job.n_chunks * (t + 1) / n_threads_);
            shares_[size_t(t)].range.store(lo << 32 | hi, std::memory_order_relaxed);
        }
    } else if (chunks_per_thread == kStreaming && n_grains >= 8 * int64_t(n_threads_)) {
        // One long run per thread over 7/8 of the range, then the last 1/8
        // in small chunks: a thread whose core is shared with another
        // process (descheduled for part of the time) no longer holds the
        // others up for its whole share, they take the tail.
        job.n_long = n_threads_;
        job.long_chunk = n_grains * 7 / 8 / n_threads_ * grain;
        const int64_t rest = n - job.n_long * job.long_chunk;
        job.chunk = std::max<int64_t>(1, (rest + grain - 1) / grain / (4 * n_threads_)) * grain;
        job.n_chunks = job.n_long + (rest + job.chunk - 1) / job.chunk;
    } else {
        const int per_thread = chunks_per_thread == kAffine ? kBalanced : std::max(1, chunks_per_thread);
        job.chunk = std::max<int64_t>(1, n_grains / (n_threads_ * per_thread)) * grain;
        job.n_chunks = (n + job.chunk - 1) / job.chunk;
    }
    run(job);
}

int default_thread_count() {
    const unsigned h = std::thread::hardware_concurrency();
    return h == 0 ? 1 : int(h);
}

}  // namespace tern
