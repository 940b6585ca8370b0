// A persistent pool of worker threads with a blocking parallel_for. Threads
// are created once and reused for every call, because a forward pass issues
// hundreds of small parallel regions per token.
//
// Why it spins, and why it is safe on a busy machine:
// - A condition-variable wake-up costs ~25 us here, longer than many regions
//   (a 2560x2560 ternary matrix-vector product takes ~20 us on 2 threads). So
//   an idle worker first spins on the job counter for a short while (with
//   `pause`, yielding now and then) and only then sleeps on a futex.
// - Work is handed out in chunks from a shared counter, and the caller takes
//   chunks too. The caller never waits for a worker that has not started: if
//   the other cores are busy (oversubscription), the caller simply does every
//   chunk itself. It only waits for chunks a worker has already claimed,
//   and if that takes more than a moment (the worker was descheduled), it
//   sleeps instead of polling, leaving its core free.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace tern {

class ThreadPool {
public:
    // n_threads counts the calling thread: n_threads = 1 runs everything inline.
    explicit ThreadPool(int n_threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return n_threads_; }

    // Calls fn(thread_index, begin, end) on disjoint chunks covering [0, n)
    // and returns when all are done. Chunk boundaries are multiples of
    // `grain` (only the last chunk may be shorter); a thread may run several
    // chunks, or none. thread_index < size() identifies the running thread
    // (for per-thread scratch). Exceptions thrown by fn are rethrown here (the
    // first one); the other chunks still run.
    //
    // chunks_per_thread: how finely [0, n) is cut. Several per thread balance
    // uneven work (causal attention, compute-bound prefill); memory-bound
    // matrix-vector products want kStreaming = 1, one long run per thread,
    // because every new chunk restarts the hardware prefetchers (measured on
    // 2B4T decode shapes: 1 chunk per thread read 54-59 GB/s, 4 per thread
    // 40-55 GB/s, out of ~72). kStreaming's long runs cover 7/8 of [0, n);
    // the rest goes in small chunks, so a thread on a core shared with
    // another process does not hold the others up for its whole share.
    //
    // kAffine: every thread owns a share of [0, n) (thread t the t-th of
    // size() equal runs of chunks, the same for the same n and grain every
    // time) and takes its own chunks first, in order; then it takes chunks
    // from the ends of the others' shares. So what a thread wrote in one
    // region (a prefill's token rows) is what it reads in the next, from its
    // own cache, and a thread on a busy core still does not hold the others up.
    static constexpr int kBalanced = 4, kStreaming = 1, kAffine = -1;
    void parallel_for(int64_t n, int64_t grain, const std::function<void(int, int64_t, int64_t)>& fn,
                      int chunks_per_thread = kBalanced);

    // Runs fn(thread_index) exactly once on every thread, concurrently, and
    // waits for all of them (benchmarks that must load every core).
    void run_on_all(const std::function<void(int)>& fn);

private:
    struct Job;
    void worker(int index);
    uint32_t wait_for_change(uint32_t seen);
    void run(Job& job);
    void work(Job& job, int index);
    void wait_for_workers();

    int n_threads_;
    std::vector<std::thread> workers_;
    // Bumped by one to open a job (odd) and by one to close it (even).
    std::atomic<uint32_t> state_{0};
    std::atomic<int> busy_{0};      // workers inside the open job
    std::atomic<int> sleepers_{0};  // workers blocked in state_.wait
    std::atomic<bool> caller_asleep_{false};  // the caller blocked in busy_.wait
    std::atomic<bool> stop_{false};
    Job* job_ = nullptr;  // valid while state_ is odd
    // kAffine: thread t's unclaimed chunks of the open job are [lo, hi),
    // packed as lo << 32 | hi in shares_[t]; its owner claims from lo up, the
    // others from hi down. One per thread, kept with the pool (one job at a time).
    struct alignas(64) Share {
        std::atomic<uint64_t> range{0};
    };
    std::unique_ptr<Share[]> shares_;
};

// Threads to use by default: the machine's hardware threads (at least 1).
int default_thread_count();

}  // namespace tern
