// A persistent pool of worker threads with a blocking parallel_for. Threads
// are created once and reused for every call, because a forward pass issues
// hundreds of small parallel regions per token.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
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

    // Calls fn(thread_index, begin, end) on disjoint chunks covering [0, n),
    // one chunk per thread (thread_index < size()), and returns when all are
    // done. Chunks are multiples of `grain` except the last. Exceptions thrown
    // by fn are rethrown here (the first one).
    void parallel_for(int64_t n, int64_t grain, const std::function<void(int, int64_t, int64_t)>& fn);

    // Runs fn(thread_index) once on every thread.
    void run_on_all(const std::function<void(int)>& fn);

private:
    void worker(int index);

    int n_threads_;
    std::vector<std::thread> workers_;
    std::mutex mu_;
    std::condition_variable start_cv_, done_cv_;
    const std::function<void(int)>* job_ = nullptr;
    uint64_t generation_ = 0;
    int pending_ = 0;
    bool stop_ = false;
    std::exception_ptr error_;
};

// Threads to use by default: the machine's hardware threads (at least 1).
int default_thread_count();

}  // namespace tern
