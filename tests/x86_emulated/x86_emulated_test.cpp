// Every x86 kernel table against the scalar reference, bit for bit: the
// conformance cases (kernels/conformance.h) at full size, on a build where
// the AVX-512 and AVX-VNNI tables run on SIMDe (CMakeLists.txt here), so an
// AVX2-only host checks code it cannot execute natively. What a host with
// the instructions runs in tests/kernels_x86_test.cpp.
// Prints "x86 emulated tables: N passed, M failed"; exit status 1 on failure.
#include <cstdio>
#include <exception>
#include <string>

#include "kernels/conformance.h"
#include "kernels/dispatch.h"

namespace tk = tern::kernels;

int main() {
    int passed = 0, failed = 0;
    const auto fail = [&](const std::string& what) {
        ++failed;
        std::fprintf(stderr, "FAIL: %s\n", what.c_str());
    };
    // Every table must run here, or this build tests less than it claims.
    const char* const kTables[] = {"avx512vnni", "avx512", "avxvnni", "avx2"};
    for (const char* name : kTables) {
        const tk::KernelTable* table = nullptr;
        try {
            table = &tk::table_by_name(name);
        } catch (const std::exception& e) {
            fail(std::string(name) + ": " + e.what());
            continue;
        }
        int64_t comparisons = 0;
        int cases_failed = 0;
        for (const auto& c : tk::conformance_cases()) {
            const tk::CaseResult r = tk::run_case(c, *table, tk::CaseSize::full);
            comparisons += r.passed + r.failed;
            if (r.failed == 0 && r.passed > 0) {
                ++passed;
                continue;
            }
            ++cases_failed;
            fail(std::string(name) + " " + c.kernel + " " + c.name + ": " + std::to_string(r.failed) + " of " +
                 std::to_string(r.passed + r.failed) + " comparisons differ");
            for (const auto& f : r.failures) std::fprintf(stderr, "  %s\n", f.c_str());
        }
        std::printf("%-11s %zu cases, %d failed, %lld comparisons\n", name, tk::conformance_cases().size(),
                    cases_failed, static_cast<long long>(comparisons));
    }
    std::printf("x86 emulated tables: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
