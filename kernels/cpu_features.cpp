#include "kernels/cpu_features.h"

#include <cstring>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#elif defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace tern::kernels {

namespace {

#if defined(__x86_64__) || defined(_M_X64)
struct Regs {
    unsigned a = 0, b = 0, c = 0, d = 0;
};

Regs cpuid(unsigned leaf, unsigned sub) {
    Regs r;
    __cpuid_count(leaf, sub, r.a, r.b, r.c, r.d);
    return r;
}

// XCR0: which register states the OS saves on context switch.
unsigned long long xgetbv0() {
    unsigned lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (static_cast<unsigned long long>(hi) << 32) | lo;
}

bool bit(unsigned v, int b) { return (v >> b) & 1u; }

void detect(CpuFeatures& f) {
    f.arch = "x86_64";
    const unsigned max_leaf = cpuid(0, 0).a;
    const Regs l1 = cpuid(1, 0);
    f.sse42 = bit(l1.c, 20);
    const bool osxsave = bit(l1.c, 27);
    const unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
    const bool ymm_ok = (xcr0 & 0x6) == 0x6;            // XMM + YMM state
    const bool zmm_ok = ymm_ok && (xcr0 & 0xe0) == 0xe0;  // opmask + ZMM_Hi256 + Hi16_ZMM
    f.avx = bit(l1.c, 28) && ymm_ok;
    f.fma = bit(l1.c, 12) && f.avx;
    f.f16c = bit(l1.c, 29) && f.avx;
    if (max_leaf >= 7) {
        const Regs l7 = cpuid(7, 0);
        f.avx2 = bit(l7.b, 5) && f.avx;
        f.avx512f = bit(l7.b, 16) && zmm_ok;
        f.avx512bw = bit(l7.b, 30) && f.avx512f;
        f.avx512vl = bit(l7.b, 31) && f.avx512f;
        f.avx512vnni = bit(l7.c, 11) && f.avx512f;
        const Regs l71 = cpuid(7, 1);
        f.avxvnni = bit(l71.a, 4) && f.avx2;
    }
#if defined(TERN_EMULATE_AVX512)
    // tests/x86_emulated: the AVX-512 and AVX-VNNI tables run on SIMDe there.
    f.avx512f = f.avx512bw = f.avx512vl = f.avx512vnni = f.avxvnni = f.avx2;
#endif
    char brand[49] = {};
    if (cpuid(0x80000000u, 0).a >= 0x80000004u) {
        for (unsigned i = 0; i < 3; ++i) {
            const Regs r = cpuid(0x80000002u + i, 0);
            std::memcpy(brand + 16 * i, &r.a, 4);
            std::memcpy(brand + 16 * i + 4, &r.b, 4);
            std::memcpy(brand + 16 * i + 8, &r.c, 4);
            std::memcpy(brand + 16 * i + 12, &r.d, 4);
        }
    }
    f.model = brand;
    while (!f.model.empty() && f.model.back() == ' ') f.model.pop_back();
    while (!f.model.empty() && f.model.front() == ' ') f.model.erase(f.model.begin());
}
#elif defined(__aarch64__)
void detect(CpuFeatures& f) {
    f.arch = "aarch64";
    f.neon = true;  // ASIMD is mandatory on armv8-a
#if defined(__linux__)
    const unsigned long hw = getauxval(AT_HWCAP);
    const unsigned long hw2 = getauxval(AT_HWCAP2);
    f.neon = (hw & HWCAP_ASIMD) != 0;
    f.dotprod = (hw & HWCAP_ASIMDDP) != 0;
#ifdef HWCAP2_I8MM
    f.i8mm = (hw2 & HWCAP2_I8MM) != 0;
#else
    (void)hw2;
#endif
#endif
}
#else
void detect(CpuFeatures& f) { f.arch = "other"; }
#endif

}  // namespace

std::vector<std::string> CpuFeatures::names() const {
    std::vector<std::string> out;
    const std::pair<bool, const char*> all[] = {
        {sse42, "sse4.2"},       {avx, "avx"},           {avx2, "avx2"},           {fma, "fma"},
        {f16c, "f16c"},          {avx512f, "avx512f"},   {avx512bw, "avx512bw"},   {avx512vl, "avx512vl"},
        {avx512vnni, "avx512vnni"}, {avxvnni, "avxvnni"}, {neon, "neon"},          {dotprod, "dotprod"},
        {i8mm, "i8mm"},
    };
    for (const auto& [on, name] : all)
        if (on) out.emplace_back(name);
    return out;
}

const CpuFeatures& cpu_features() {
    static const CpuFeatures f = [] {
        CpuFeatures c;
        detect(c);
        return c;
    }();
    return f;
}

}  // namespace tern::kernels
