#include "runtime/thread_pool.h"

#include <atomic>
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
            for (int64_t grain : {1, 4, 64}) {
                std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
                std::atomic<int> max_thread{-1};
                pool.parallel_for(n, grain, [&](int t, int64_t b, int64_t e) {
                    EXPECT_LT(t, threads);
                    EXPECT_LE(b, e);
                    if (e < n) {
                        EXPECT_EQ((e - b) % grain, 0) << "only the last chunk may be partial";
                    }
                    for (int64_t i = b; i < e; ++i) hits[size_t(i)]++;
                    int prev = max_thread.load();
                    while (t > prev && !max_thread.compare_exchange_weak(prev, t)) {
                    }
                });
                for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[size_t(i)].load(), 1) << "n=" << n << " i=" << i;
                if (n >= grain * threads) {
                    EXPECT_EQ(max_thread.load(), threads - 1) << "every thread got work";
                }
            }
        }
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
    std::set<int> seen;
    std::mutex mu;
    pool.run_on_all([&](int t) {
        std::lock_guard<std::mutex> lock(mu);
        seen.insert(t);
    });
    EXPECT_EQ(seen, (std::set<int>{0, 1, 2}));
}

TEST(ThreadPool, PropagatesExceptions) {
    ThreadPool pool(3);
    EXPECT_THROW(pool.parallel_for(30, 1,
                                   [&](int t, int64_t, int64_t) {
                                       if (t == 2) throw std::runtime_error("boom");
                                   }),
                 std::runtime_error);
    // Still usable afterwards.
    std::atomic<int> n{0};
    pool.parallel_for(30, 1, [&](int, int64_t b, int64_t e) { n += int(e - b); });
    EXPECT_EQ(n.load(), 30);
}

}  // namespace
}  // namespace tern
