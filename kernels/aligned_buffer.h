// A move-only, 64-byte aligned, zero-initialised byte buffer: the storage for
// repacked weights and activations, so SIMD loads never straddle a cache line
// for lack of alignment.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace tern {

class AlignedBuffer {
public:
    static constexpr size_t kAlign = 64;

    // Buffers of 2 MB and more (weights, the KV cache, batch activations)
    // are their own anonymous mapping: zero by definition (no memset), backed
    // only where touched (a 4096-token KV cache costs nothing until used),
    // and starting on a 2 MB boundary with transparent huge pages asked for:
    // in a VM every TLB miss is a two-level page walk, and on this machine
    // streaming a matrix from 4 KB pages was both slower and far less steady
    // (single passes at 2-8 GB/s instead of 64).
    static constexpr size_t kHugePage = size_t(2) << 20;

    // For a caller that writes every byte itself (a repacked matrix): small
    // buffers skip the memset, a pass over memory that is overwritten at once.
    struct Uninitialized {};
    static constexpr Uninitialized kUninitialized{};

    AlignedBuffer() = default;
    explicit AlignedBuffer(size_t bytes) : AlignedBuffer(bytes, kUninitialized) {
        if (!map_ && bytes) std::memset(data_, 0, bytes);
    }
    AlignedBuffer(size_t bytes, Uninitialized) : size_(bytes) {
        if (bytes == 0) return;
#if defined(__linux__)
        if (bytes >= kHugePage) {
            map_len_ = bytes + kHugePage;
            map_ = mmap(nullptr, map_len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (map_ == MAP_FAILED) {
                map_ = nullptr;
                throw std::bad_alloc();
            }
            const uintptr_t base = reinterpret_cast<uintptr_t>(map_);
            data_ = reinterpret_cast<uint8_t*>((base + kHugePage - 1) & ~uintptr_t(kHugePage - 1));
            // Only the whole 2 MB pages inside the buffer: advising the tail
            // would back it with a huge page too (up to 2 MB unused).
            madvise(data_, bytes / kHugePage * kHugePage, MADV_HUGEPAGE);  // advice: failure is harmless
            return;
        }
#endif
        const size_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;  // aligned_alloc wants a multiple
        data_ = static_cast<uint8_t*>(std::aligned_alloc(kAlign, rounded));
        if (!data_) throw std::bad_alloc();
    }
    AlignedBuffer(const AlignedBuffer&) = delete;
    AlignedBuffer& operator=(const AlignedBuffer&) = delete;
    AlignedBuffer(AlignedBuffer&& o) noexcept
        : data_(std::exchange(o.data_, nullptr)),
          size_(std::exchange(o.size_, 0)),
          map_(std::exchange(o.map_, nullptr)),
          map_len_(std::exchange(o.map_len_, 0)) {}
    AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
        if (this != &o) {
            release();
            data_ = std::exchange(o.data_, nullptr);
            size_ = std::exchange(o.size_, 0);
            map_ = std::exchange(o.map_, nullptr);
            map_len_ = std::exchange(o.map_len_, 0);
        }
        return *this;
    }
    ~AlignedBuffer() { release(); }

    uint8_t* data() { return data_; }
    const uint8_t* data() const { return data_; }
    size_t size() const { return size_; }
    template <class T>
    T* as() {
        return reinterpret_cast<T*>(data_);
    }
    template <class T>
    const T* as() const {
        return reinterpret_cast<const T*>(data_);
    }

private:
    void release() {
#if defined(__linux__)
        if (map_) {
            munmap(map_, map_len_);
            return;
        }
#endif
        std::free(data_);
    }

    uint8_t* data_ = nullptr;
    size_t size_ = 0;
    void* map_ = nullptr;  // the mapping of a large buffer (data_ lies inside it)
    size_t map_len_ = 0;
};

}  // namespace tern
