#include "runtime/thread_pool.h"

#include <atomic>
#include <chrono>
#include <ctime>
#include <mutex>
#include <thread>
#include <numeric>
#include <set>
#include <stdexcept>

#include <gtest/gtest.h>

namespace tern {
namespace {

TEST(ThreadPool, CoversRangeExactlyOnce) {
    for (int threads : {1, 2, 3, 8}) {
        ThreadPool pool(threads);
        for (int64_t n : {0, 1, 2, 7, 64, 1000, 4097}) {
            for (int64_t grain : {1, 4, 64})
            for (int split : {ThreadPool::kBalanced, ThreadPool::kStreaming, ThreadPool::kAffine}) {
                std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
                pool.parallel_for(n, grain, [&](int t, int64_t b, int64_t e) {
                    EXPECT_GE(t, 0);
                    EXPECT_LT(t, threads);
                    EXPECT_LT(b, e);
                    EXPECT_EQ(b % grain, 0) << "chunks start on a grain boundary";
                    if (e < n) {
                        EXPECT_EQ(e % grain, 0) << "only the last chunk may be partial";
                    }
                    for (int64_t i = b; i < e; ++i) hits[size_t(i)]++;
                }, split);
                for (int64_t i = 0; i < n; ++i)
                    ASSERT_EQ(hits[size_t(i)].load(), 1) << "n=" << n << " i=" << i << " split=" << split;
            }
        }
    }
}

// The workers really run chunks concurrently with the caller: every chunk
// blocks until all threads are inside one, which only completes if each
// thread took one (a pool that ran everything on the caller would time out).
TEST(ThreadPool, WorkersTakeChunks) {
    for (int threads : {2, 3, 4}) {
        ThreadPool pool(threads);
        for (int rep = 0; rep < 50; ++rep) {
            std::atomic<int> arrived{0};
            std::atomic<bool> timed_out{false};
            std::vector<std::atomic<int>> by_thread(static_cast<size_t>(threads));
            pool.parallel_for(threads, 1, [&](int t, int64_t b, int64_t e) {
                by_thread[size_t(t)] += int(e - b);
                arrived++;
                const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(10);
                while (arrived.load() < threads) {
                    if (std::chrono::steady_clock::now() > limit) {
                        timed_out = true;
                        break;
                    }
                    std::this_thread::yield();
                }
            });
            ASSERT_FALSE(timed_out.load()) << "threads=" << threads << ": a worker never took a chunk";
            for (int t = 0; t < threads; ++t) EXPECT_EQ(by_thread[size_t(t)].load(), 1) << "thread " << t;
        }
    }
}

// kAffine: with every thread busy for the same time per chunk, each runs
// its own share (thread t the t-th run of chunks), the same every time; a
// thread that stalls has its chunks taken by the others.
TEST(ThreadPool, AffineSharesGoToTheirOwners) {
    constexpr int kThreads = 3;
    ThreadPool pool(kThreads);
    constexpr int64_t n = 96;  // 12 chunks of 8: 4 per thread
    int own_runs = 0;
    for (int rep = 0; rep < 20; ++rep) {
        std::vector<std::atomic<int>> owner(n);
        std::atomic<int> arrived{0};
        pool.parallel_for(n, 8, [&](int t, int64_t b, int64_t e) {
            // Wait until every thread has started, so no one takes another's share for lack of company.
            arrived++;
            const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(5);
            while (arrived.load() < kThreads && std::chrono::steady_clock::now() < limit) std::this_thread::yield();
            for (int64_t i = b; i < e; ++i) owner[size_t(i)] = t;
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }, ThreadPool::kAffine);
        // Each share's first chunk is its owner's: owners take their chunks from
        // the front, others steal from the back, so a thread that lags (a busy
        // machine, 3 threads on 2 cores) loses its last chunks, not its first.
        // A pool handing chunks out in order would give thread t chunk t instead.
        bool own = true;
        for (int t = 0; t < kThreads; ++t) own = own && owner[size_t(t * n / kThreads)].load() == t;
        own_runs += own;
    }
    EXPECT_GE(own_runs, 10) << "of 20 runs, each thread began its own share in only " << own_runs;

    // The thread running chunk 0 stalls there: the others finish everything else. (Thread 0's
    // own chunk, unless it started late on a loaded machine and another thread took it first.)
    std::vector<std::atomic<int>> owner(n);
    std::atomic<bool> others_done{false};
    std::atomic<int64_t> left{n};
    pool.parallel_for(n, 8, [&](int t, int64_t b, int64_t e) {
        if (b == 0) {
            const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(10);
            while (left.load() > e - b && std::chrono::steady_clock::now() < limit) std::this_thread::yield();
            others_done = left.load() == e - b;
        }
        for (int64_t i = b; i < e; ++i) owner[size_t(i)] = t;
        left -= e - b;
    }, ThreadPool::kAffine);
    EXPECT_TRUE(others_done.load()) << "the other threads did not take the stalled thread's chunks";
}

// A worker that stalls inside a chunk (as one descheduled by the kernel
// would) does not keep the caller polling for the whole stall: after a
// moment the caller sleeps until the worker leaves, its core free meanwhile.
TEST(ThreadPool, CallerSleepsWhileAWorkerStalls) {
    auto thread_cpu_ms = [] {
        timespec ts{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) / 1e6;
    };
    constexpr double kStallMs = 100;
    ThreadPool pool(2);
    int stalls = 0;
    for (int rep = 0; rep < 10 && stalls < 2; ++rep) {
        std::atomic<bool> worker_in{false};
        double caller_done_cpu = 0;
        const auto start = std::chrono::steady_clock::now();
        pool.parallel_for(2, 1, [&](int t, int64_t, int64_t) {
            if (t != 0) {
                worker_in = true;
                std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(kStallMs));
                return;
            }
            // The caller gives the worker up to 2 s to take the other chunk.
            const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(2);
            while (!worker_in.load() && std::chrono::steady_clock::now() < limit) std::this_thread::yield();
            caller_done_cpu = thread_cpu_ms();
        });
        const double wall = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
        if (!worker_in.load()) continue;  // the caller ran both chunks: no stall to wait through
        ++stalls;
        EXPECT_GE(wall, kStallMs) << "parallel_for returned before the stalled worker's chunk was done";
        const double waited_cpu = thread_cpu_ms() - caller_done_cpu;
        EXPECT_LT(waited_cpu, kStallMs / 2) << "the caller burned " << waited_cpu << " ms of CPU waiting " << kStallMs
                                            << " ms for a stalled worker";
    }
    EXPECT_EQ(stalls, 2) << "the worker never took a chunk in 10 tries";
}

// Workers that went to sleep (idle past the spin budget) are woken by the next job.
TEST(ThreadPool, WakesSleepingWorkers) {
    ThreadPool pool(3);
    for (int rep = 0; rep < 3; ++rep) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        std::atomic<int> arrived{0};
        std::atomic<bool> timed_out{false};
        pool.parallel_for(3, 1, [&](int, int64_t, int64_t) {
            arrived++;
            const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(10);
            while (arrived.load() < 3 && !(timed_out = std::chrono::steady_clock::now() > limit)) std::this_thread::yield();
        });
        ASSERT_FALSE(timed_out.load());
    }
}

TEST(ThreadPool, ReusedManyTimes) {
    ThreadPool pool(4);
    std::atomic<int64_t> sum{0};
    for (int rep = 0; rep < 2000; ++rep)
        pool.parallel_for(100, 1, [&](int, int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) sum += i;
        });
    EXPECT_EQ(sum.load(), 2000 * 4950);
}

TEST(ThreadPool, RunsOnEveryThread) {
    ThreadPool pool(3);
    for (int rep = 0; rep < 100; ++rep) {
        std::multiset<int> seen;
        std::mutex mu;
        pool.run_on_all([&](int t) {
            std::lock_guard<std::mutex> lock(mu);
            seen.insert(t);
        });
        ASSERT_EQ(seen, (std::multiset<int>{0, 1, 2})) << "each thread exactly once";
    }
}

TEST(ThreadPool, PropagatesExceptions) {
    ThreadPool pool(3);
    EXPECT_THROW(pool.parallel_for(30, 1,
                                   [&](int, int64_t b, int64_t e) {
                                       if (b <= 17 && 17 < e) throw std::runtime_error("boom");
                                   }),
                 std::runtime_error);
    // Still usable afterwards.
    std::atomic<int> n{0};
    pool.parallel_for(30, 1, [&](int, int64_t b, int64_t e) { n += int(e - b); });
    EXPECT_EQ(n.load(), 30);
}

}  // namespace
}  // namespace tern
