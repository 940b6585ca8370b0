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
    // start on a 2 MB boundary and ask for transparent huge pages: in a VM
    // every TLB miss is a two-level page walk, and on this machine streaming
    // a matrix from 4 KB pages was both slower and far less steady (single
    // runs at 2-8 GB/s instead of 64).
    static constexpr size_t kHugePage = size_t(2) << 20;

    AlignedBuffer() = default;
    explicit AlignedBuffer(size_t bytes) : size_(bytes) {
        if (bytes == 0) return;
        const bool huge = bytes >= kHugePage;
        const size_t align = huge ? kHugePage : kAlign;
        const size_t rounded = (bytes + align - 1) / align * align;  // aligned_alloc wants a multiple
        data_ = static_cast<uint8_t*>(std::aligned_alloc(align, rounded));
        if (!data_) throw std::bad_alloc();
#if defined(__linux__)
        // Only the whole 2 MB pages inside the buffer: advising the rounded-up
        // tail would back it with a huge page too (up to 2 MB unused).
        if (huge) madvise(data_, bytes / kHugePage * kHugePage, MADV_HUGEPAGE);  // advice: failure is harmless
#endif
        std::memset(data_, 0, bytes);
    }
    AlignedBuffer(const AlignedBuffer&) = delete;
    AlignedBuffer& operator=(const AlignedBuffer&) = delete;
    AlignedBuffer(AlignedBuffer&& o) noexcept : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
    AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
        if (this != &o) {
            std::free(data_);
            data_ = std::exchange(o.data_, nullptr);
            size_ = std::exchange(o.size_, 0);
        }
        return *this;
    }
    ~AlignedBuffer() { std::free(data_); }

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
    uint8_t* data_ = nullptr;
    size_t size_ = 0;
};

}  // namespace tern
