#include <detseg/core/parallel.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using detseg::index_t;

namespace {

std::unique_ptr<std::atomic<int>[]> counters(index_t n) {
    auto c = std::make_unique<std::atomic<int>[]>(static_cast<std::size_t>(n > 0 ? n : 1));
    for (index_t i = 0; i < n; ++i)
        c[static_cast<std::size_t>(i)].store(0);
    return c;
}

int visits_not_once(const std::unique_ptr<std::atomic<int>[]>& c, index_t n) {
    int bad = 0;
    for (index_t i = 0; i < n; ++i)
        bad += c[static_cast<std::size_t>(i)].load() != 1;
    return bad;
}

std::vector<std::pair<index_t, index_t>> recorded_chunks(index_t n, index_t grain) {
    std::vector<std::pair<index_t, index_t>> chunks(static_cast<std::size_t>(n > 0 ? n : 0),
                                                    std::pair<index_t, index_t>{-1, -1});
    std::atomic<int> calls{0};
    detseg::parallel_for_chunks(n, grain, [&](index_t begin, index_t end) {
        ++calls;
        chunks[static_cast<std::size_t>(begin)] = {begin, end};
    });
    std::vector<std::pair<index_t, index_t>> out;
    for (const auto& c : chunks)
        if (c.first >= 0)
            out.push_back(c);
    CHECK(static_cast<std::size_t>(calls.load()) == out.size());
    return out;
}

#if DETSEG_HAS_OPENMP
struct thread_count {
    int saved = omp_get_max_threads();
    explicit thread_count(int n) { omp_set_num_threads(n); }
    ~thread_count() { omp_set_num_threads(saved); }
    thread_count(const thread_count&) = delete;
    thread_count& operator=(const thread_count&) = delete;
};
#endif

} // namespace

TEST_CASE("max_threads is at least 1") {
    CHECK(detseg::max_threads() >= 1);
#if DETSEG_HAS_OPENMP
    CHECK(detseg::max_threads() == omp_get_max_threads());
    const thread_count three(3);
    CHECK(detseg::max_threads() == 3);
#else
    CHECK(detseg::max_threads() == 1);
#endif
}

TEST_CASE("parallel_for visits every index exactly once") {
    for (index_t n : {index_t{0}, index_t{1}, index_t{2}, index_t{3}, index_t{1000}}) {
        CAPTURE(n);
        auto c = counters(n);
        detseg::parallel_for(n, [&](index_t i) { c[static_cast<std::size_t>(i)].fetch_add(1); });
        CHECK(visits_not_once(c, n) == 0);

        std::vector<index_t> slot(static_cast<std::size_t>(n), -1);
        detseg::parallel_for(n, [&](index_t i) { slot[static_cast<std::size_t>(i)] = 3 * i + 1; });
        int wrong = 0;
        for (index_t i = 0; i < n; ++i)
            wrong += slot[static_cast<std::size_t>(i)] != 3 * i + 1;
        CHECK(wrong == 0);
    }
}

TEST_CASE("parallel_for with a negative count does nothing") {
    int calls = 0;
    detseg::parallel_for(-5, [&](index_t) { ++calls; });
    detseg::parallel_for_chunks(-5, 4, [&](index_t, index_t) { ++calls; });
    CHECK(calls == 0);
}

TEST_CASE("parallel_for below min_parallel runs serially and in order on the calling thread") {
    std::vector<index_t> order;
    detseg::parallel_for(
        50,
        [&](index_t i) {
#if DETSEG_HAS_OPENMP
            CHECK_FALSE(omp_in_parallel());
#endif
            order.push_back(i);
        },
        51);
    REQUIRE(order.size() == 50);
    CHECK(std::is_sorted(order.begin(), order.end()));
    CHECK(order.front() == 0);
    CHECK(order.back() == 49);
}

TEST_CASE("parallel_for accepts lvalue and mutable function objects") {
    struct summer {
        std::atomic<long long>* total;
        void operator()(index_t i) const { total->fetch_add(i); }
    };
    std::atomic<long long> total{0};
    summer s{&total};
    detseg::parallel_for(100, s);
    CHECK(total.load() == 4950);
    const summer cs{&total};
    detseg::parallel_for(100, cs);
    CHECK(total.load() == 9900);
}

TEST_CASE("nested parallel_for covers every pair once") {
    const index_t n = 37, m = 23;
    auto c = counters(n * m);
    detseg::parallel_for(n, [&](index_t i) {
        detseg::parallel_for(
            m, [&](index_t j) { c[static_cast<std::size_t>(i * m + j)].fetch_add(1); });
    });
    CHECK(visits_not_once(c, n * m) == 0);
}

TEST_CASE("parallel_for_chunks covers [0, n) with contiguous chunks of at most grain") {
    for (index_t n : {index_t{0}, index_t{1}, index_t{2}, index_t{7}, index_t{64}, index_t{1000},
                      index_t{1001}})
        for (index_t grain :
             {index_t{1}, index_t{3}, index_t{8}, index_t{64}, index_t{1000}, index_t{5000}}) {
            CAPTURE(n);
            CAPTURE(grain);
            const auto chunks = recorded_chunks(n, grain);
            CHECK(chunks.size() == static_cast<std::size_t>((n + grain - 1) / grain));
            index_t expected_begin = 0;
            for (std::size_t k = 0; k < chunks.size(); ++k) {
                const auto [b, e] = chunks[k];
                CHECK(b == expected_begin);
                CHECK(e > b);
                CHECK(e - b <= grain);
                if (k + 1 < chunks.size())
                    CHECK(e - b == grain);
                expected_begin = e;
            }
            CHECK(expected_begin == n);

            auto c = counters(n);
            detseg::parallel_for_chunks(n, grain, [&](index_t b, index_t e) {
                for (index_t i = b; i < e; ++i)
                    c[static_cast<std::size_t>(i)].fetch_add(1);
            });
            CHECK(visits_not_once(c, n) == 0);
        }
}

TEST_CASE("parallel_for_chunks treats a grain below 1 as 1") {
    for (index_t grain : {index_t{0}, index_t{-3}}) {
        const auto chunks = recorded_chunks(5, grain);
        REQUIRE(chunks.size() == 5);
        for (index_t k = 0; k < 5; ++k)
            CHECK(chunks[static_cast<std::size_t>(k)] == std::pair<index_t, index_t>{k, k + 1});
    }
}

TEST_CASE("an exception thrown in an iteration is rethrown on the caller") {
    for (index_t n : {index_t{1}, index_t{2}, index_t{1000}}) {
        CAPTURE(n);
        const index_t bad = n / 2;
        try {
            detseg::parallel_for(n, [&](index_t i) {
                if (i == bad)
                    throw std::out_of_range("iteration " + std::to_string(i));
            });
            FAIL("no exception");
        } catch (const std::out_of_range& e) {
            CHECK(std::string(e.what()) == "iteration " + std::to_string(bad));
        }
    }
    CHECK_THROWS_AS(
        detseg::parallel_for(1000, [](index_t) { throw std::runtime_error("every one"); }),
        std::runtime_error);
    CHECK_THROWS_WITH_AS(detseg::parallel_for_chunks(1000, 10,
                                                     [](index_t b, index_t) {
                                                         if (b == 500)
                                                             throw std::logic_error("chunk 500");
                                                     }),
                         "chunk 500", std::logic_error);
    int after = 0;
    detseg::parallel_for(
        10, [&](index_t) { ++after; }, 100);
    CHECK(after == 10);
}

#if DETSEG_HAS_OPENMP
TEST_CASE("results and chunk boundaries do not depend on the thread count") {
    std::vector<std::vector<std::pair<index_t, index_t>>> chunkings;
    std::vector<std::vector<double>> results;
    for (int threads : {1, 2, 3, 4, 7}) {
        const thread_count tc(threads);
        CHECK(detseg::max_threads() == threads);
        chunkings.push_back(recorded_chunks(1003, 17));
        std::vector<double> r(1003);
        detseg::parallel_for(
            1003, [&](index_t i) { r[static_cast<std::size_t>(i)] = 1.0 / double(i + 1); });
        results.push_back(std::move(r));

        auto c = counters(1003);
        detseg::parallel_for(1003, [&](index_t i) { c[static_cast<std::size_t>(i)].fetch_add(1); });
        CHECK(visits_not_once(c, 1003) == 0);
    }
    for (std::size_t k = 1; k < chunkings.size(); ++k) {
        CHECK(chunkings[k] == chunkings[0]);
        CHECK(results[k] == results[0]);
    }
}

TEST_CASE("with OpenMP and two threads the iterations are shared") {
    if (omp_get_dynamic() || omp_get_thread_limit() < 2)
        return;
    const thread_count two(2);
    std::vector<int> owner(1000, -1);
    detseg::parallel_for(
        1000, [&](index_t i) { owner[static_cast<std::size_t>(i)] = omp_get_thread_num(); });
    const std::set<int> ids(owner.begin(), owner.end());
    CHECK(ids == std::set<int>{0, 1});
}

TEST_CASE("an exception from a worker thread reaches the caller") {
    const thread_count four(4);
    std::atomic<int> ran{0};
    try {
        detseg::parallel_for(400, [&](index_t i) {
            ++ran;
            if (i == 399)
                throw std::invalid_argument("last");
        });
        FAIL("no exception");
    } catch (const std::invalid_argument& e) {
        CHECK(std::string(e.what()) == "last");
    }
    CHECK(ran.load() >= 1);
}
#endif
