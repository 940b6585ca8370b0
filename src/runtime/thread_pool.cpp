#include "runtime/thread_pool.h"

#include <algorithm>

namespace tern {

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
    for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
    }
    start_cv_.notify_all();
    for (auto& t : workers_) t.join();
}

void ThreadPool::worker(int index) {
    uint64_t seen = 0;
    for (;;) {
        const std::function<void(int)>* job;
        {
            std::unique_lock<std::mutex> lock(mu_);
            start_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
            if (stop_) return;
            seen = generation_;
            job = job_;
        }
        try {
            (*job)(index);
        } catch (...) {
            std::lock_guard<std::mutex> lock(mu_);
            if (!error_) error_ = std::current_exception();
        }
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (--pending_ == 0) done_cv_.notify_one();
        }
    }
}

void ThreadPool::run_on_all(const std::function<void(int)>& fn) {
    if (n_threads_ == 1) {
        fn(0);
        return;
    }
    {
        std::lock_guard<std::mutex> lock(mu_);
        job_ = &fn;
        pending_ = n_threads_ - 1;
        error_ = nullptr;
        ++generation_;
    }
    start_cv_.notify_all();
    std::exception_ptr mine;
    try {
        fn(0);
    } catch (...) {
        mine = std::current_exception();
    }
    std::exception_ptr theirs;
    {
        std::unique_lock<std::mutex> lock(mu_);
        done_cv_.wait(lock, [&] { return pending_ == 0; });
        job_ = nullptr;
        theirs = error_;
        error_ = nullptr;
    }
    if (mine) std::rethrow_exception(mine);
    if (theirs) std::rethrow_exception(theirs);
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, const std::function<void(int, int64_t, int64_t)>& fn) {
    if (n <= 0) return;
    grain = std::max<int64_t>(1, grain);
    const int64_t n_grains = (n + grain - 1) / grain;
    const int used = int(std::min<int64_t>(n_threads_, n_grains));
    if (used == 1) {
        fn(0, 0, n);
        return;
    }
    run_on_all([&](int t) {
        if (t >= used) return;
        // Even split of grains: the first (n_grains % used) threads get one more.
        const int64_t base = n_grains / used, extra = n_grains % used;
        const int64_t g0 = t * base + std::min<int64_t>(t, extra);
        const int64_t g1 = g0 + base + (t < extra ? 1 : 0);
        const int64_t b = g0 * grain, e = std::min(n, g1 * grain);
        if (b < e) fn(t, b, e);
    });
}

int default_thread_count() {
    const unsigned h = std::thread::hardware_concurrency();
    return h == 0 ? 1 : int(h);
}

}  // namespace tern
